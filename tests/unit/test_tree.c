/*
 * test_tree.c - a whole tree's listing (tree.c): built from zfs's lines
 * in any order, grouped by dataset and ordered; as a PROTO_LIST_ALL
 * listing and back; and every way a peer's listing can be out of shape.
 */
#include <stdint.h>

#include "t.h"
#include "tree.h"

static struct proto_listing w, w2;

static struct proto_entry
ent(const char *name, uint8_t kind, uint64_t guid, uint64_t txg)
{
	struct proto_entry e;

	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "%s", name);
	e.kind = kind;
	e.guid = guid;
	e.createtxg = txg;
	return e;
}

static int
add(struct tree *t, const char *name, uint8_t kind, uint64_t guid,
    uint64_t txg)
{
	struct proto_entry e = ent(name, kind, guid, txg);
	const char *why = NULL;

	return tree_add_entry(t, &e, &why);
}

/* zfs's lines in another order than zktls wants them */
static void
test_build(struct tree *t)
{
	const char *why = NULL;
	const struct tree_ds *d;

	t->ne = t->nds = 0;
	CHECK(tree_add_dataset(t, "/b", false, &why) == 0);
	CHECK(tree_add_dataset(t, "/a/x", true, &why) == 0);
	CHECK(tree_add_dataset(t, "", false, &why) == 0);
	CHECK(tree_add_dataset(t, "/a", false, &why) == 0);
	CHECK(tree_add_dataset(t, "/a-b", false, &why) == 0);
	CHECK(add(t, "/a@s2", PROTO_KIND_SNAPSHOT, 12, 20) == 0);
	CHECK(add(t, "@r1", PROTO_KIND_SNAPSHOT, 1, 5) == 0);
	CHECK(add(t, "/a#m1", PROTO_KIND_BOOKMARK, 11, 10) == 0);
	CHECK(add(t, "/a@s1", PROTO_KIND_SNAPSHOT, 11, 10) == 0);
	CHECK(add(t, "/a/x@y", PROTO_KIND_SNAPSHOT, 31, 7) == 0);
	CHECK(tree_finish(t, &why) == 0);
	CHECK(t->nds == 5);
	CHECK_STR(t->ds[0].rel, "");
	CHECK_STR(t->ds[1].rel, "/a");
	CHECK_STR(t->ds[2].rel, "/a-b");  /* strcmp: '-' before '/' */
	CHECK_STR(t->ds[3].rel, "/a/x");
	CHECK_STR(t->ds[4].rel, "/b");
	CHECK(t->ds[3].partial && !t->ds[1].partial);
	d = tree_find(t, "/a");
	CHECK(d != NULL && d->n == 3);
	if (d && d->n == 3) {
		/* oldest first, a snapshot before its bookmark */
		CHECK_STR(t->e[d->first].name, "@s1");
		CHECK_STR(t->e[d->first + 1].name, "#m1");
		CHECK_STR(t->e[d->first + 2].name, "@s2");
	}
	d = tree_find(t, "");
	CHECK(d != NULL && d->n == 1 && strcmp(t->e[d->first].name, "@r1") == 0);
	d = tree_find(t, "/a-b");
	CHECK(d != NULL && d->n == 0);
	CHECK(tree_find(t, "/c") == NULL);
	CHECK(tree_find(t, "/a/") == NULL);
	CHECK(tree_find(t, "/a/x/z") == NULL);
}

static void
test_build_bad(struct tree *t)
{
	const char *why = NULL;

	/* no root */
	t->ne = t->nds = 0;
	CHECK(tree_add_dataset(t, "/a", false, &why) == 0);
	CHECK(tree_finish(t, &why) < 0);
	/* a dataset twice */
	t->ne = t->nds = 0;
	CHECK(tree_add_dataset(t, "", false, &why) == 0);
	CHECK(tree_add_dataset(t, "/a", false, &why) == 0);
	CHECK(tree_add_dataset(t, "/a", false, &why) == 0);
	CHECK(tree_finish(t, &why) < 0);
	/* a snapshot of a dataset not listed */
	t->ne = t->nds = 0;
	CHECK(tree_add_dataset(t, "", false, &why) == 0);
	CHECK(add(t, "/z@s", PROTO_KIND_SNAPSHOT, 1, 1) == 0);
	CHECK(tree_finish(t, &why) < 0);
	/* too many in all */
	t->ne = t->nds = 0;
	CHECK(tree_add_dataset(t, "", false, &why) == 0);
	for (int i = 0; i < PROTO_MAX_TREE_ENTRIES; i++)
		t->e[t->ne++] = ent("@x", PROTO_KIND_SNAPSHOT, 1, 1);
	CHECK(add(t, "@y", PROTO_KIND_SNAPSHOT, 1, 1) < 0);
	/* too many of one dataset */
	t->ne = t->nds = 0;
	CHECK(tree_add_dataset(t, "", false, &why) == 0);
	for (int i = 0; i <= PROTO_MAX_ENTRIES; i++)
		CHECK(add(t, "@x", PROTO_KIND_SNAPSHOT, 1, 1) == 0);
	CHECK(tree_finish(t, &why) < 0);
}

/* what tree_to_wire makes, tree_from_wire reads back */
static void
test_wire(struct tree *t, struct tree *u)
{
	const char *why = NULL;

	test_build(t);
	t->ds[4].off = true;    /* /b: zktls:sync is off */
	memset(&w, 0, sizeof(w));
	CHECK(tree_to_wire(t, &w) == 0);
	CHECK(w.n == 4 + 5);
	CHECK_STR(w.e[8].name, "/b");
	CHECK(w.e[8].kind == PROTO_KIND_EXCLUDED);
	CHECK_STR(w.e[0].name, "@r1");
	CHECK_STR(w.e[1].name, "/a");
	CHECK(w.e[1].kind == PROTO_KIND_DATASET);
	CHECK_STR(w.e[2].name, "/a@s1");
	CHECK_STR(w.e[3].name, "/a#m1");
	CHECK_STR(w.e[6].name, "/a/x");
	CHECK(w.e[6].kind == PROTO_KIND_PARTIAL);
	CHECK_STR(w.e[7].name, "/a/x@y");
	CHECK(tree_from_wire(&w, u, &why) == 0);
	CHECK(u->nds == t->nds && u->ne == t->ne);
	for (int i = 0; i < t->nds && i < u->nds; i++) {
		CHECK_STR(u->ds[i].rel, t->ds[i].rel);
		CHECK(u->ds[i].partial == t->ds[i].partial);
		CHECK(u->ds[i].off == t->ds[i].off);
		CHECK(u->ds[i].n == t->ds[i].n);
		for (int k = 0; k < t->ds[i].n && k < u->ds[i].n; k++) {
			const struct proto_entry *a = &t->e[t->ds[i].first + k],
						 *b = &u->e[u->ds[i].first + k];
			CHECK_STR(a->name, b->name);
			CHECK(a->guid == b->guid && a->kind == b->kind &&
			      a->createtxg == b->createtxg);
		}
	}
	/* the root's partial receive is the listing's token */
	CHECK(!u->ds[0].partial);
	snprintf(w.token, sizeof(w.token), "1-abc");
	CHECK(tree_from_wire(&w, u, &why) == 0 && u->ds[0].partial);
	w.token[0] = '\0';
}

/* a peer's listing out of shape: each refused */
static void
test_wire_bad(struct tree *t, struct tree *u)
{
	static const struct {
		int at;
		const char *name;
		uint8_t kind;
		uint64_t txg;
	} bad[] = {
		{ 1, "/b", PROTO_KIND_DATASET, 0 },        /* out of order */
		{ 6, "/a", PROTO_KIND_DATASET, 0 },        /* twice */
		{ 2, "/b@s1", PROTO_KIND_SNAPSHOT, 10 },   /* another's */
		{ 2, "@s1", PROTO_KIND_SNAPSHOT, 10 },     /* the root's */
		{ 0, "/a@r1", PROTO_KIND_SNAPSHOT, 5 },    /* before /a */
		{ 3, "/a@m1", PROTO_KIND_BOOKMARK, 10 },   /* '@' bookmark */
		{ 3, "/a#s2", PROTO_KIND_SNAPSHOT, 10 },   /* '#' snapshot */
		{ 4, "/a@s2", PROTO_KIND_SNAPSHOT, 1 },    /* older */
		{ 6, "/q/x", PROTO_KIND_DATASET, 0 },      /* no parent */
		{ 2, "/ab@s1", PROTO_KIND_SNAPSHOT, 10 },  /* prefix only */
	};
	const char *why = NULL;

	test_build(t);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&w2, 0, sizeof(w2));
		CHECK(tree_to_wire(t, &w2) == 0);
		w2.e[bad[i].at] = ent(bad[i].name, bad[i].kind,
				      w2.e[bad[i].at].guid, bad[i].txg);
		why = NULL;
		if (tree_from_wire(&w2, u, &why) == 0) {
			fprintf(stderr, "accepted bad listing %zu\n", i);
			CHECK(0);
		}
		CHECK(why != NULL);
	}
}

/* proto.c: the names a listing may carry, and which fit what was asked */
static void
test_fits(void)
{
	const char *why = NULL;

	memset(&w, 0, sizeof(w));
	w.n = 2;
	w.e[0] = ent("@a", PROTO_KIND_SNAPSHOT, 1, 1);
	w.e[1] = ent("#b", PROTO_KIND_BOOKMARK, 1, 1);
	CHECK(proto_listing_fits(PROTO_LIST_DATASET, &w, &why) == 0);
	CHECK(proto_listing_fits(PROTO_LIST_PUSH, &w, &why) == 0);
	CHECK(proto_listing_fits(PROTO_LIST_TREE, &w, &why) < 0);
	CHECK(proto_listing_fits(PROTO_LIST_ALL, &w, &why) == 0);
	/* a snapshot of another dataset in a one-dataset listing */
	w.e[1] = ent("/x@b", PROTO_KIND_SNAPSHOT, 1, 1);
	CHECK(proto_listing_fits(PROTO_LIST_DATASET, &w, &why) < 0);
	CHECK(proto_listing_fits(PROTO_LIST_PUSH, &w, &why) < 0);
	CHECK(proto_listing_fits(PROTO_LIST_PUSH_ALL, &w, &why) == 0);
	w.e[1] = ent("/x", PROTO_KIND_DATASET, 0, 0);
	CHECK(proto_listing_fits(PROTO_LIST_DATASET, &w, &why) < 0);
	w.n = 1;
	w.e[0] = ent("/x", PROTO_KIND_DATASET, 0, 0);
	CHECK(proto_listing_fits(PROTO_LIST_TREE, &w, &why) == 0);
	w.e[0] = ent("/x", PROTO_KIND_PARTIAL, 0, 0);
	CHECK(proto_listing_fits(PROTO_LIST_TREE, &w, &why) < 0);
	CHECK(proto_listing_fits(9, &w, &why) < 0);
}

/* proto.c: a snapshot or bookmark of a dataset below, on the wire */
static void
test_names(void)
{
	static uint8_t buf[PROTO_MAX_BODY + PROTO_HDR_LEN];
	static const char *const good[] = { "/x@s", "/x/y@s", "/x#b",
					    "/a-b.c:d_e f@s 1" };
	static const char *const badn[] = { "/@s", "//x@s", "/x/@s", "/x@",
					    "/x@s/t", "/x@s@t", "/x#s#t",
					    "x@s", "/x y/z\001@s", "/x" };
	const char *why = NULL;
	uint32_t taken;
	long n;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&w, 0, sizeof(w));
		w.n = 1;
		w.e[0] = ent(good[i], good[i][strcspn(good[i], "@#")] == '@'
					      ? PROTO_KIND_SNAPSHOT
					      : PROTO_KIND_BOOKMARK, 7, 8);
		n = proto_encode_listing(&w, 0, &taken, buf, sizeof(buf));
		CHECK(n > 0 && taken == 1);
		CHECK(n > 0 && proto_decode_listing(buf + PROTO_HDR_LEN,
						    (size_t)n - PROTO_HDR_LEN,
						    &w2, &why) == 0 &&
		      w2.n == 1 && strcmp(w2.e[0].name, good[i]) == 0);
	}
	for (size_t i = 0; i < sizeof(badn) / sizeof(badn[0]); i++) {
		memset(&w, 0, sizeof(w));
		w.n = 1;
		w.e[0] = ent(badn[i], PROTO_KIND_SNAPSHOT, 7, 8);
		if (proto_encode_listing(&w, 0, &taken, buf, sizeof(buf)) >= 0) {
			fprintf(stderr, "encoded bad name '%s'\n", badn[i]);
			CHECK(0);
		}
	}
	/* a dataset holding a partial receive: kind 4, a '/' name */
	memset(&w, 0, sizeof(w));
	w.n = 1;
	w.e[0] = ent("/x", PROTO_KIND_PARTIAL, 0, 0);
	n = proto_encode_listing(&w, 0, &taken, buf, sizeof(buf));
	CHECK(n > 0 && proto_decode_listing(buf + PROTO_HDR_LEN,
					    (size_t)n - PROTO_HDR_LEN, &w2,
					    &why) == 0 &&
	      w2.e[0].kind == PROTO_KIND_PARTIAL);
	/* kind 6: unknown */
	buf[PROTO_HDR_LEN + (n - PROTO_HDR_LEN) - 2 - 1 - 1] = 6;
	CHECK(proto_decode_listing(buf + PROTO_HDR_LEN, (size_t)n - PROTO_HDR_LEN,
				   &w2, &why) < 0);
}

int
main(void)
{
	struct tree t, u;

	if (tree_alloc(&t) < 0 || tree_alloc(&u) < 0)
		return 1;
	test_build(&t);
	test_build_bad(&t);
	test_wire(&t, &u);
	test_wire_bad(&t, &u);
	test_fits();
	test_names();
	tree_free(&t);
	tree_free(&u);
	T_DONE("test_tree");
}
