/*
 * tree.c - a tree of datasets with their snapshots and bookmarks, built
 * from zfs's lines or from a PROTO_LIST_ALL listing (tree.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"
#include "zktls.h"

int
tree_alloc(struct tree *t)
{
	memset(t, 0, sizeof(*t));
	t->e = calloc(PROTO_MAX_TREE_ENTRIES, sizeof(*t->e));
	t->ds = calloc(TREE_MAX_DATASETS, sizeof(*t->ds));
	if (t->e == NULL || t->ds == NULL) {
		tree_free(t);
		return zk_fail_errno(ZK_ESYS, "calloc");
	}
	return 0;
}

void
tree_free(struct tree *t)
{
	free(t->e);
	free(t->ds);
	memset(t, 0, sizeof(*t));
}

static int
fail(const char **why, const char *msg)
{
	*why = msg;
	return -1;
}

int
tree_add_dataset(struct tree *t, const char *rel, bool partial,
		 const char **why)
{
	struct tree_ds *d;

	if (t->nds == TREE_MAX_DATASETS)
		return fail(why, "more datasets than a tree's listing holds");
	if (strlen(rel) >= sizeof(d->rel))
		return fail(why, "a dataset name too long");
	d = &t->ds[t->nds++];
	memset(d, 0, sizeof(*d));
	strcpy(d->rel, rel);
	d->partial = partial;
	return 0;
}

int
tree_add_entry(struct tree *t, const struct proto_entry *e, const char **why)
{
	if (t->ne == PROTO_MAX_TREE_ENTRIES)
		return fail(why, "more snapshots and bookmarks than a tree's "
			    "listing holds");
	t->e[t->ne++] = *e;
	return 0;
}

/* name without its first len bytes (the dataset's rel), the rest of the
 * field zero as a decoded one's */
static void
strip(char *name, size_t cap, size_t len)
{
	size_t rest = strlen(name + len);

	memmove(name, name + len, rest + 1);
	memset(name + rest, 0, cap - rest);
}

static int
by_rel(const void *a, const void *b)
{
	return strcmp(((const struct tree_ds *)a)->rel,
		      ((const struct tree_ds *)b)->rel);
}

/* The index of dataset rel (its first len bytes) in t's sorted ds, or -1. */
static int
find(const struct tree *t, const char *rel, size_t len)
{
	int lo = 0, hi = t->nds - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strncmp(t->ds[mid].rel, rel, len);

		if (c == 0 && t->ds[mid].rel[len] != '\0')
			c = 1;
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

const struct tree_ds *
tree_find(const struct tree *t, const char *rel)
{
	int i = find(t, rel, strlen(rel));

	return i < 0 ? NULL : &t->ds[i];
}

struct order {
	int ds, seq;
	uint64_t txg;
	uint8_t kind;
};

static int
by_place(const void *a, const void *b)
{
	const struct order *x = a, *y = b;

	if (x->ds != y->ds)
		return x->ds < y->ds ? -1 : 1;
	if (x->txg != y->txg)
		return x->txg < y->txg ? -1 : 1;
	if (x->kind != y->kind)  /* a snapshot before its bookmarks */
		return x->kind < y->kind ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
tree_finish(struct tree *t, const char **why)
{
	struct order *o = NULL;
	struct proto_entry *e = NULL;
	int r = -1;

	qsort(t->ds, (size_t)t->nds, sizeof(t->ds[0]), by_rel);
	if (t->nds == 0 || t->ds[0].rel[0] != '\0')
		return fail(why, "the tree's own dataset is not listed");
	for (int i = 1; i < t->nds; i++)
		if (strcmp(t->ds[i - 1].rel, t->ds[i].rel) == 0)
			return fail(why, "a dataset listed twice");
	if (t->ne > 0 &&
	    ((o = calloc((size_t)t->ne, sizeof(*o))) == NULL ||
	     (e = calloc((size_t)t->ne, sizeof(*e))) == NULL)) {
		*why = "out of memory";
		goto out;
	}
	for (int i = 0; i < t->ne; i++) {
		const char *name = t->e[i].name;
		size_t len = strcspn(name, "@#");

		o[i].seq = i;
		o[i].txg = t->e[i].createtxg;
		o[i].kind = t->e[i].kind;
		if (name[len] == '\0' || (o[i].ds = find(t, name, len)) < 0) {
			*why = "a snapshot or bookmark of a dataset not listed";
			goto out;
		}
	}
	if (t->ne > 0)
		qsort(o, (size_t)t->ne, sizeof(o[0]), by_place);
	for (int i = 0; i < t->nds; i++)
		t->ds[i].first = t->ds[i].n = 0;
	for (int i = 0; i < t->ne; i++) {
		struct tree_ds *d = &t->ds[o[i].ds];
		size_t len = strlen(d->rel);

		e[i] = t->e[o[i].seq];
		strip(e[i].name, sizeof(e[i].name), len);
		if (d->n++ == 0)
			d->first = i;
		if (d->n > PROTO_MAX_ENTRIES) {
			*why = "a dataset with more snapshots and bookmarks "
			       "than a listing holds";
			goto out;
		}
	}
	for (int i = 0; i < t->ne; i++)
		t->e[i] = e[i];
	r = 0;
out:
	free(o);
	free(e);
	return r;
}

int
tree_to_wire(const struct tree *t, struct proto_listing *out)
{
	uint32_t n = 0;

	for (int i = 0; i < t->nds; i++) {
		const struct tree_ds *d = &t->ds[i];

		if (i > 0) {
			struct proto_entry *w = &out->e[n];

			if (n == PROTO_MAX_TREE_ENTRIES)
				return -1;
			memset(w, 0, sizeof(*w));
			w->kind = d->off       ? PROTO_KIND_EXCLUDED
				  : d->partial ? PROTO_KIND_PARTIAL
					       : PROTO_KIND_DATASET;
			snprintf(w->name, sizeof(w->name), "%s", d->rel);
			n++;
		}
		for (int k = 0; k < d->n; k++) {
			const struct proto_entry *e = &t->e[d->first + k];
			struct proto_entry *w = &out->e[n];

			if (n == PROTO_MAX_TREE_ENTRIES ||
			    strlen(d->rel) + strlen(e->name) >= sizeof(w->name))
				return -1;
			*w = *e;
			memcpy(w->name, d->rel, strlen(d->rel));
			memcpy(w->name + strlen(d->rel), e->name,
			       strlen(e->name) + 1);
			n++;
		}
	}
	out->n = n;
	return 0;
}

int
tree_from_wire(const struct proto_listing *m, struct tree *t,
	       const char **why)
{
	struct tree_ds *cur;

	t->ne = t->nds = 0;
	if (tree_add_dataset(t, "", m->token[0] != '\0', why) < 0)
		return -1;
	cur = &t->ds[0];
	for (uint32_t i = 0; i < m->n; i++) {
		const struct proto_entry *w = &m->e[i];
		size_t len = strlen(cur->rel);

		if (w->kind == PROTO_KIND_DATASET ||
		    w->kind == PROTO_KIND_PARTIAL ||
		    w->kind == PROTO_KIND_EXCLUDED) {
			const char *slash = strrchr(w->name, '/');

			/* in order (parents first), and the parent listed;
			 * nothing but the name (one encoding of a tree) */
			if (w->guid != 0 || w->createtxg != 0)
				return fail(why, "a dataset entry with a guid");
			if (w->name[0] != '/' || slash == NULL ||
			    (cur != &t->ds[0] &&
			     strcmp(cur->rel, w->name) >= 0))
				return fail(why, "datasets out of order");
			if (slash != w->name &&
			    find(t, w->name, (size_t)(slash - w->name)) < 0)
				return fail(why, "a dataset listed before its "
					    "parent");
			if (tree_add_dataset(t, w->name, w->kind ==
					     PROTO_KIND_PARTIAL, why) < 0)
				return -1;
			cur = &t->ds[t->nds - 1];
			cur->first = t->ne;
			cur->off = w->kind == PROTO_KIND_EXCLUDED;
			continue;
		}
		/* the current dataset's own, oldest first */
		if (strncmp(w->name, cur->rel, len) != 0 ||
		    w->name[len] != (w->kind == PROTO_KIND_SNAPSHOT ? '@'
								    : '#'))
			return fail(why, "a snapshot or bookmark out of its "
				    "dataset's place");
		if (cur->n > 0 && t->e[t->ne - 1].createtxg > w->createtxg)
			return fail(why, "snapshots out of order");
		if (cur->n == PROTO_MAX_ENTRIES)
			return fail(why, "a dataset with more snapshots and "
				    "bookmarks than a listing holds");
		if (tree_add_entry(t, w, why) < 0)
			return -1;
		strip(t->e[t->ne - 1].name, sizeof(w->name), len);
		if (cur->n++ == 0)
			cur->first = t->ne - 1;
	}
	return 0;
}
