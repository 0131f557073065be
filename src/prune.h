/*
 * prune.h - retention applied: a dataset's snapshots listed, planned
 * (retain.c), each destroy judged by policy_prune() and made.  serve
 * prunes a client's pushes (zktls.conf's keep) after each of its good
 * pushes and every prune-interval, in a process of its own; sync --keep
 * prunes a pull's target.
 */
#ifndef ZKTLS_PRUNE_H
#define ZKTLS_PRUNE_H

#include "conf.h"
#include "retain.h"

/* What to spare beyond the planner's own rules. */
struct prune_opts {
	const char *who;         /* for the log lines: "client alpha" */
	int dry;                 /* say what would go, destroy nothing */
	int verbose;             /* also say what stays, and why */
	uint64_t base_guid;      /* a snapshot to keep as the base of the
				    next incremental (0: none) */
};

/* Apply g to dataset ds (at or below root): its snapshots listed, the
 * plan made, each destroy judged by policy_prune() and made (dry: only
 * said).  Snapshots that a zktls mark (a pull's base bookmark) shares a
 * guid with are kept.  The number destroyed (or that would be), or -1
 * (what failed logged). */
int prune_dataset(const char *root, const struct retain_grid *g,
		  const char *ds, const struct prune_opts *o, time_t now);
/* Apply a client's keep (cl, of c) to its push dataset and every dataset
 * below it but those in another client's push dataset nested in it: the
 * number destroyed, or -1 when some dataset could not be pruned. */
int prune_client(const struct serve_conf *c, const struct conf_client *cl,
		 int dry, int verbose, time_t now);

/* serve's master: who is due.  Small and self-contained: the master
 * calls prune_note() when a client's session ended well (a push: what
 * it names lies in the client's push dataset) and prune_tick()
 * each time round its loop; prune_tick() starts one process at a time
 * that prunes the clients due (the master never waits on zfs). */
#define PRUNE_PENDING 32
struct prune_timer {
	double next;             /* when every client is due (0: at once) */
	int fd;                  /* the running pruner's pipe, or 0/-1 */
	int running;
	int all;                 /* every client is due */
	int npending;
	char pending[PRUNE_PENDING][CONF_ID_LEN];
};
void prune_note(struct prune_timer *t, const struct serve_conf *c,
		const char *client, const char *dataset);
/* Start the pruner if some client is due and none runs (never while
 * stopping); the poll timeout the master should use, ms (-1 none), the
 * smaller of its own and when the timer is due next. */
int prune_tick(struct prune_timer *t, const struct serve_conf *c, int ms,
	       int stopping);

#endif
