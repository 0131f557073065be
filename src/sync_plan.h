/*
 * sync_plan.h - what "zktls sync" does next for one dataset, decided from
 * the two sides' listings alone (no zfs, no network): the pure part of
 * cmd_sync.c, where the unit tests can reach it.
 *
 * Listings are LISTING entries (struct proto_entry), oldest first by
 * createtxg, snapshots ("@s") and bookmarks ("#b") mixed.  "src" is the
 * side that sends (ours on a push, the server's on a pull), "dst" the
 * side that receives; snapshots are matched by GUID, never by name.
 */
#ifndef ZKTLS_SYNC_PLAN_H
#define ZKTLS_SYNC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct zfs_token;

/* The next step of a plan: send snap, from base ("" full), -I when
 * incr_all; it brings count snapshots. */
struct sync_step {
	char snap[2 * PROTO_NAME_LEN], base[2 * PROTO_NAME_LEN];
	int incr_all;
	unsigned count;
	const struct proto_entry *from;   /* its base in src, NULL full */
	const struct proto_entry *last;   /* the newest snapshot it sends */
};

enum { STEP_SEND, STEP_DONE, STEP_EMPTY, STEP_DIVERGED, STEP_UNRELATED };

/* The entry of e (n entries) with guid: a snapshot, or with !snap_only a
 * bookmark when no snapshot has it.  NULL when none. */
const struct proto_entry *sync_find_guid(const struct proto_entry *e, int n,
					 uint64_t guid, int snap_only);
/* The newest snapshot of e (n entries, oldest first), or NULL. */
const struct proto_entry *sync_newest_snap(const struct proto_entry *e,
					   int n);

/*
 * What brings dst (nd entries) closer to src's newest snapshot: STEP_SEND
 * with *st, STEP_DONE (dst has it, or the bookmark of a newer one src
 * destroyed), STEP_EMPTY (src has no snapshot),
 * STEP_DIVERGED (dst has *div, newer than the common *basep),
 * STEP_UNRELATED (dst has snapshots, none in common).  src_ds prefixes
 * the names in *st; each: one -i per snapshot instead of one -I.
 */
int sync_next_step(int each, const char *src_ds,
		   const struct proto_entry *src, int ns,
		   const struct proto_entry *dst, int nd, struct sync_step *st,
		   const struct proto_entry **basep,
		   const struct proto_entry **div);

/* The dry run's view of dst (nd entries, room for PROTO_MAX_ENTRIES)
 * after st: the snapshots it sends appended, newer than everything dst
 * had.  The new count. */
int sync_simulate(const struct proto_entry *src, int ns,
		  struct proto_entry *dst, int nd, const struct sync_step *st);

enum { RESUME_OK, RESUME_NOT_OURS, RESUME_BASE_GONE };

/*
 * A partial receive's token t, checked against src_ds and its listing
 * (ns entries): RESUME_OK with the snapshot it continues in snap and its
 * base in base ("" for a full send; a bookmark's name with src_ds before
 * it, as zfs send -i takes it) and *from (NULL full);  RESUME_NOT_OURS
 * when it continues no snapshot of src_ds; RESUME_BASE_GONE when src no
 * longer has its base (by GUID).
 */
int sync_resume_check(const char *src_ds, const struct proto_entry *src,
		      int ns, const struct zfs_token *t, char *snap,
		      size_t snap_cap, char *base, size_t base_cap,
		      const struct proto_entry **from);

/*
 * sync_filter.c: the datasets sync leaves alone.  The first of pats (n
 * shell globs, fnmatch(3) without FNM_PATHNAME: '*' also matches '/')
 * that matches the whole dataset name, or -1.
 */
int sync_exclude_match(const char *name, char *const *pats, int n);
/* Does a zktls:sync value turn sync off: "off", "false" or "no", in any
 * case?  Anything else ("-" for unset, "on", "true") syncs. */
bool sync_prop_off(const char *value);

#endif
