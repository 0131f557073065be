/*
 * tree.h - a tree of datasets with the snapshots and bookmarks of each,
 * listed at once: sync -r learns a whole tree in one zfs list here and
 * one LIST (PROTO_LIST_ALL) there, instead of a query per dataset.
 *
 * In memory a tree is grouped by dataset: tree.ds[0] is the root (rel
 * ""), then the datasets below it in strcmp order of rel ("/a/b"), which
 * puts parents before children; each one's entries, named as in a
 * one-dataset listing ("@s", "#b"), oldest first, are
 * e[first .. first + n).  Pure: no zfs, no network.
 */
#ifndef ZKTLS_TREE_H
#define ZKTLS_TREE_H

#include <stdbool.h>

#include "proto.h"

/* datasets of a tree, at most (the root among them) */
#define TREE_MAX_DATASETS 4096

struct tree_ds {
	char rel[PROTO_NAME_LEN];   /* "" the root, "/a/b" below it */
	bool partial;               /* it holds a partial receive */
	bool off;                   /* its zktls:sync is off (the source's
				       word: sync -r leaves it alone) */
	int first, n;               /* its entries in the tree's e[] */
};

struct tree {
	struct proto_entry *e;      /* PROTO_MAX_TREE_ENTRIES */
	struct tree_ds *ds;         /* TREE_MAX_DATASETS */
	int ne, nds;
};

/* A tree with room, empty; 0, or -ZK_ESYS.  tree_free frees it. */
int tree_alloc(struct tree *t);
void tree_free(struct tree *t);

/*
 * Building one from lines in any order: tree_add_dataset for each
 * dataset (rel "" the root), tree_add_entry for each snapshot or bookmark
 * (name "@s", "/a/b#m": the dataset's rel, then its own name), then
 * tree_finish sorts and groups them.  0, or -1 with *why: the tree is
 * too big, a dataset comes twice, or an entry's dataset is not listed.
 */
int tree_add_dataset(struct tree *t, const char *rel, bool partial,
		     const char **why);
int tree_add_entry(struct tree *t, const struct proto_entry *e,
		   const char **why);
int tree_finish(struct tree *t, const char **why);

/* The dataset rel of t, or NULL. */
const struct tree_ds *tree_find(const struct tree *t, const char *rel);

/* t as a PROTO_LIST_ALL listing's entries (out->n, out->e; the root's
 * partial receive is the listing's token, not here): 0, or -1 when it
 * has more than PROTO_MAX_TREE_ENTRIES. */
int tree_to_wire(const struct tree *t, struct proto_listing *out);

/* A PROTO_LIST_ALL listing m as a tree, checked: every name in its
 * place, datasets in order and each one's parent before it, no dataset
 * twice, each one's entries oldest first.  0, or -1 with *why. */
int tree_from_wire(const struct proto_listing *m, struct tree *t,
		   const char **why);

#endif
