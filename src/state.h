/*
 * state.h - what zktls serve remembers across restarts (state.c): per
 * client and dataset, the last success and the last failure; and how it
 * shows them: zktls status (JSON or a table) and the metrics file.
 *
 * The file, STATE-DIR/state, is text, one record a line, fields
 * separated by tabs, each field's bytes outside '!'..'~' and '%' written
 * as %XX:
 *
 *   zktls-state 1
 *   since TIME
 *   E CLIENT DATASET DIRECTION OK_TIME OK_BYTES OK_SNAP FAIL_TIME FAIL_WHY
 *     OKS FAILS
 *
 * It is read as hostile input (whoever could write it could only have
 * been root, but a torn disk or an editor is enough): every field is
 * checked, a bad file is refused whole with its line, and serve starts
 * afresh with a warning.
 */
#ifndef ZKTLS_STATE_H
#define ZKTLS_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"

#define STATE_MAX_ENTRIES 8192
#define STATE_PER_CLIENT 512     /* entries of one client at most */
#define STATE_WHY_LEN 256

struct state_entry {
	char client[CONF_ID_LEN];
	char dataset[256];        /* a filesystem or volume, or "-" */
	char direction[8];        /* "push", "pull" or "-" */
	int64_t ok_time;          /* 0: never */
	uint64_t ok_bytes;
	char ok_snap[256];        /* the snapshot's name after '@', or "" */
	int64_t fail_time;        /* 0: never */
	char fail_why[STATE_WHY_LEN];
	uint64_t oks, fails;
};

struct state {
	int64_t since;            /* when this history began */
	struct state_entry *e;
	int n;
};

/* A session running now, as the master knows it (zktls status). */
struct state_active {
	char client[CONF_ID_LEN];
	char source[64];
	char dataset[256];        /* "" until its request is known */
	char direction[8];
	char plane[16];
	uint64_t bytes;
	int estimated;            /* bytes estimated from TCP (direct) */
	double started, seconds;  /* since the connection; its transfer's */
};

/* Parse the file's text: 0, or -1 with "line N: what" in err.  *st is
 * filled afresh (state_free it) and left empty on failure. */
int state_parse(const char *text, size_t len, struct state *st, char *err,
		size_t errlen);
/* Write st as the file's text. */
int state_format(const struct state *st, FILE *f);
/* STATE-DIR/state through the directory's fd dfd: 0 loaded; 1 there is
 * none (st fresh, since now); -1 it is unreadable or bad, reason in err
 * (st fresh; the bad file is kept as state.bad). */
int state_load(int dfd, struct state *st, int64_t now, char *err,
	       size_t errlen);
/* Atomically: state.tmp created afresh (no link followed), written,
 * fsync'd, renamed over state, the directory fsync'd.  0 or -1 (errno). */
int state_save(int dfd, const struct state *st);
/* Record a session's end: dataset may be a snapshot (split at '@'),
 * "-" when the session named none; why is peer text, cleaned here. */
void state_note(struct state *st, const char *client, const char *dataset,
		const char *direction, bool ok, int64_t when, uint64_t bytes,
		const char *why);
/* Forget every entry of client: how many there were. */
int state_forget(struct state *st, const char *client);
/* Is e stale, given its client's expect (0: never)? */
bool state_stale(const struct state_entry *e, int64_t expect, int64_t now);
/* Does client (with expect) have no success at all, for longer than
 * expect since the history began? */
bool state_client_silent(const struct state *st, const char *client,
			 int64_t expect, int64_t now);
/* Printable ASCII only, others '?', at most cap - 1 bytes. */
void state_clean(char *dst, size_t cap, const char *src);
void state_free(struct state *st);

/* What the metrics file adds from the state and the certificates. */
/* A Prometheus label's value on f: backslash, quote and newline escaped
 * (the exposition format's rule; sync --metrics uses it too). */
void metrics_label(FILE *f, const char *s);
void state_metrics(FILE *f, const struct state *st,
		   const struct serve_conf *c, int64_t now);
/* zktls status's answer: one JSON document, or a table. */
void state_status(FILE *f, int json, const struct state *st,
		  const struct serve_conf *c, const struct state_active *a,
		  int na, int64_t now, double started);

/* ------------------------------------------------------------ control.c */

#include <sys/types.h>

/* The status socket at path, 0660 root:group (0600 for group ""),
 * replacing a socket left there (nothing else): the listening fd
 * (non-blocking, owned by the caller), *gid the group's or -1; or a
 * negative ZK_E*. */
int control_listen(const char *path, const char *group, gid_t *gid);
/* May the peer on fd read the status: root, this process's user, or a
 * member of gid (by its primary group or the group database)? */
bool control_peer_ok(int fd, gid_t gid, uid_t *uid);
/* zktls status's side: send request, read the answer to its end (at
 * most 64 MiB, timeout_s for each wait): 0 with *out malloc'd and
 * NUL-terminated, or a negative ZK_E*. */
int control_ask(const char *path, const char *request, int timeout_s,
		char **out, size_t *outlen);

#endif
