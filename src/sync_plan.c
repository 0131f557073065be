/*
 * sync_plan.c - "zktls sync"'s planning (sync_plan.h): the common
 * snapshot of two listings by GUID, the next send (full, -I, -i from a
 * bookmark), the verdicts that refuse one (diverged, unrelated), the dry
 * run's simulation, and what a resume token continues.  Pure: no I/O.
 */
#include <stdio.h>
#include <string.h>

#include "sync_plan.h"
#include "zktls.h"

const struct proto_entry *
sync_find_guid(const struct proto_entry *e, int n, uint64_t guid,
	       int snap_only)
{
	const struct proto_entry *found = NULL;

	for (int i = 0; i < n; i++)
		if (e[i].guid == guid &&
		    (e[i].kind == PROTO_KIND_SNAPSHOT ||
		     (!snap_only && e[i].kind == PROTO_KIND_BOOKMARK)) &&
		    (found == NULL || e[i].kind == PROTO_KIND_SNAPSHOT))
			found = &e[i];
	return found;
}

const struct proto_entry *
sync_newest_snap(const struct proto_entry *e, int n)
{
	for (int i = n - 1; i >= 0; i--)
		if (e[i].kind == PROTO_KIND_SNAPSHOT)
			return &e[i];
	return NULL;
}

static const struct proto_entry *
oldest_snap(const struct proto_entry *e, int n)
{
	for (int i = 0; i < n; i++)
		if (e[i].kind == PROTO_KIND_SNAPSHOT)
			return &e[i];
	return NULL;
}

/*
 * The common point of src (the side that sends) and dst: the newest entry
 * of src (a snapshot, or a bookmark when its snapshot is gone: sends may
 * start from it) whose GUID is a snapshot of dst.  NULL when none.  When
 * dst has snapshots newer than that one, *diverged is the newest of them.
 */
static const struct proto_entry *
common_base(const struct proto_entry *src, int ns,
	    const struct proto_entry *dst, int nd,
	    const struct proto_entry **diverged)
{
	const struct proto_entry *base = NULL, *d = NULL;

	*diverged = NULL;
	for (int i = ns - 1; i >= 0 && base == NULL; i--)
		if ((d = sync_find_guid(dst, nd, src[i].guid, 1)) != NULL)
			base = sync_find_guid(src, ns, src[i].guid, 0);
	if (base == NULL)
		return NULL;
	for (int i = nd - 1; i >= 0; i--)
		if (dst[i].kind == PROTO_KIND_SNAPSHOT &&
		    dst[i].createtxg > d->createtxg) {
			*diverged = &dst[i];
			break;
		}
	return base;
}

int
sync_next_step(int each, const char *src_ds, const struct proto_entry *src,
	       int ns, const struct proto_entry *dst, int nd,
	       struct sync_step *st, const struct proto_entry **basep,
	       const struct proto_entry **div)
{
	const struct proto_entry *newest = sync_newest_snap(src, ns), *base;
	int bookmark;

	memset(st, 0, sizeof(*st));
	if (newest == NULL)
		return STEP_EMPTY;
	if (sync_find_guid(dst, nd, newest->guid, 1))
		return STEP_DONE;
	*basep = base = common_base(src, ns, dst, nd, div);
	if (base == NULL && sync_newest_snap(dst, nd) != NULL)
		return STEP_UNRELATED;
	if (*div != NULL)
		return STEP_DIVERGED;
	if (base == NULL) {
		st->last = oldest_snap(src, ns);
		snprintf(st->snap, sizeof(st->snap), "%s%s", src_ds,
			 st->last->name);
		st->count = 1;
		return STEP_SEND;
	}
	/* -I cannot start at a bookmark: -i to the next snapshot first */
	st->from = base;
	bookmark = base->kind == PROTO_KIND_BOOKMARK;
	snprintf(st->base, sizeof(st->base), "%s%s", bookmark ? src_ds : "",
		 base->name);
	for (int i = 0; i < ns; i++) {
		if (src[i].kind != PROTO_KIND_SNAPSHOT ||
		    src[i].createtxg <= base->createtxg)
			continue;
		st->count++;
		st->last = &src[i];
		if (bookmark || each)
			break;
	}
	/* No snapshot after the base: the base is a bookmark of a snapshot
	 * the source destroyed (a rollback takes the bookmarks too), which
	 * the target has: nothing newer to send. */
	if (st->last == NULL) {
		memset(st, 0, sizeof(*st));
		return STEP_DONE;
	}
	st->incr_all = !(bookmark || each);
	snprintf(st->snap, sizeof(st->snap), "%s%s", src_ds, st->last->name);
	return STEP_SEND;
}

int
sync_simulate(const struct proto_entry *src, int ns, struct proto_entry *dst,
	      int nd, const struct sync_step *st)
{
	uint64_t txg = 0;

	for (int i = 0; i < nd; i++)
		txg = dst[i].createtxg > txg ? dst[i].createtxg : txg;
	for (int i = 0; i < ns && nd < PROTO_MAX_ENTRIES; i++)
		if (src[i].kind == PROTO_KIND_SNAPSHOT &&
		    src[i].createtxg <= st->last->createtxg &&
		    (st->from == NULL ? &src[i] == st->last
				      : src[i].createtxg > st->from->createtxg)) {
			dst[nd] = src[i];
			dst[nd++].createtxg = ++txg;
		}
	return nd;
}

int
sync_resume_check(const char *src_ds, const struct proto_entry *src, int ns,
		  const struct zfs_token *t, char *snap, size_t snap_cap,
		  char *base, size_t base_cap, const struct proto_entry **from)
{
	size_t sl = strlen(src_ds);

	*from = NULL;
	base[0] = '\0';
	snprintf(snap, snap_cap, "%s", t->toname);
	if (strncmp(snap, src_ds, sl) != 0 || snap[sl] != '@')
		return RESUME_NOT_OURS;
	if (t->fromguid &&
	    (*from = sync_find_guid(src, ns, t->fromguid, 0)) == NULL)
		return RESUME_BASE_GONE;
	if (*from)
		snprintf(base, base_cap, "%s%s",
			 (*from)->kind == PROTO_KIND_BOOKMARK ? src_ds : "",
			 (*from)->name);
	return RESUME_OK;
}
