/*
 * retain.h - retention: which snapshots of a dataset a keep grid lets go.
 *
 * A grid ("hourly=24 daily=30 weekly=4 monthly=12 yearly=1 newest=3")
 * keeps, for each period, the newest snapshot of each of the last K
 * periods (hours, days, ISO weeks, months, years in local time) that have
 * a snapshot, and always the newest N snapshots.  Periods without a
 * snapshot do not count: a dataset that receives nothing for a while
 * loses nothing as time passes, only as newer snapshots arrive.
 *
 * The planner is pure: it reads the snapshots (oldest first, as zfs lists
 * them by createtxg), their creation times, holds and what the caller
 * protects, and `now`.  It never lets go of the newest snapshot, of one
 * whose creation lies after now (a clock ahead: its period is unknown),
 * of a held one, or of a protected one (the base of a next incremental).
 * Bookmarks are not its business: they are never listed, never destroyed.
 * Used by serve (a client's pushes, zktls.conf's keep) and by sync --keep
 * (a pull's target); the destroys themselves are policy_prune()'s to
 * allow.
 */
#ifndef ZKTLS_RETAIN_H
#define ZKTLS_RETAIN_H

#include <stdint.h>
#include <time.h>

enum retain_period {
	RP_HOURLY, RP_DAILY, RP_WEEKLY, RP_MONTHLY, RP_YEARLY, RP_END
};

#define RETAIN_MAX_COUNT 100000

struct retain_grid {
	int count[RP_END];  /* 0: that period keeps nothing */
	int newest;         /* the newest N always */
	int set;            /* a grid was given (none: keep everything) */
};

/* One snapshot of a dataset, as the caller lists it; keep and why are
 * the planner's answer. */
struct retain_snap {
	char name[256];        /* DS@SNAP */
	uint64_t guid;
	int64_t creation;      /* seconds since the epoch */
	int held;              /* zfs holds on it (userrefs > 0) */
	const char *protect;   /* why the caller keeps it, or NULL */
	int keep;
	char why[80];          /* "daily 2026-03-29", "newest", ... */
};

/* Parse words like "hourly=24 daily=30 newest=2" (blanks or commas between
 * them; each period once): 0, or -1 with why. */
int retain_grid_parse(const char *text, struct retain_grid *g, char *why,
		      size_t wl);
/* The grid as retain_grid_parse() reads it back ("" for none). */
void retain_grid_print(const struct retain_grid *g, char *out, size_t cap);
/* Decide keep and why for each of s[0..n-1] (oldest first).  The number
 * to destroy.  An unset grid keeps all. */
int retain_plan(const struct retain_grid *g, struct retain_snap *s, int n,
		time_t now);
/* Now for the planner: time(NULL), or $ZKTLS_NOW (seconds since the
 * epoch), a test hook that moves nothing but the planner's clock. */
time_t retain_now(void);
/* The snapshots of dataset, oldest first, from zfs (at most max): how
 * many, or -1.  (zfs list -t snapshot -d 1 -o name,guid,creation,userrefs) */
int retain_list(const char *dataset, struct retain_snap *s, int max);

#endif
