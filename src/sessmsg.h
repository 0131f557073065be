/*
 * sessmsg.h - the lines a session process of zktls serve says to its
 * master, parsed (sessmsg.c).  The session process faces the network and
 * has dropped root: the master takes nothing it says on trust.  A line
 * is taken whole or not at all: every field has its form and its length,
 * single spaces between them, nothing after the last.  What a line that
 * parses claims is then checked against what the master knows (the
 * client the session authenticated as, the dataset its REQ named, that
 * client's rules) in cmd_serve.c.
 *
 *   ID CLIENT                       authenticated as CLIENT
 *   REQ push|pull DATASET           what it was asked for (and allowed)
 *   PROG PLANE BYTES EST            bytes so far; EST 1: from TCP's count
 *   WHY TEXT                        why it failed (printable ASCII kept)
 *   END CLIENT RESULT PLANE BYTES SECONDS DATASET|-
 *
 * A DATASET (a ZFS name, which may hold spaces) is the rest of its line;
 * an END's that is no valid name is taken as "-" (the end still counts).
 */
#ifndef ZKTLS_SESSMSG_H
#define ZKTLS_SESSMSG_H

#include <stdbool.h>

#include "state.h"
#include "zktls.h"

enum sessmsg_kind {
	SESSMSG_BAD,            /* not a line of any kind, or malformed */
	SESSMSG_ID,
	SESSMSG_REQ,
	SESSMSG_PROG,
	SESSMSG_WHY,
	SESSMSG_END,
};

struct sessmsg {
	enum sessmsg_kind kind;
	char client[CONF_ID_LEN];   /* ID, END */
	char direction[8];          /* REQ: push or pull */
	char dataset[ZFS_NAME_LEN]; /* REQ: a valid name; END: one, or "-" */
	char result[16];            /* END: ok, failed, denied, query, retry */
	char plane[16];             /* PROG, END: a data plane's name */
	unsigned long long bytes;   /* PROG, END */
	int estimated;              /* PROG: 0 or 1 */
	double seconds;             /* END: finite, 0 to 1e8 */
	char why[STATE_WHY_LEN];    /* WHY */
};

/* Parse one line (without its newline) into m: its kind, SESSMSG_BAD
 * when it is none or malformed (m then holds nothing of it). */
enum sessmsg_kind sessmsg_parse(const char *line, struct sessmsg *m);

/* Does ds (an END's dataset) lie within req (its REQ's dataset; "" when
 * it named none): the dataset req names, one beneath it, or a snapshot
 * of those? */
bool sessmsg_within(const char *ds, const char *req);

#endif
