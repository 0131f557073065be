/*
 * test_sync_plan.c - zktls sync's planner (sync_plan.c) on listings built
 * here: each verdict (full, -I, -i from a bookmark, --each, up to date,
 * empty, diverged, unrelated), the pull direction, the dry run's whole
 * plan, and what a resume token continues.  Matches are by GUID only.
 */
#include "t.h"
#include "sync_plan.h"
#include "zktls.h"

#define DS "pool/fs"

struct side {
	struct proto_entry e[32];
	int n;
};

static void
add(struct side *s, int kind, const char *name, uint64_t guid, uint64_t txg)
{
	struct proto_entry *e = &s->e[s->n++];

	memset(e, 0, sizeof(*e));
	e->kind = (uint8_t)kind;
	e->guid = guid;
	e->createtxg = txg;
	snprintf(e->name, sizeof(e->name), "%s", name);
}

#define SNAP(s, name, guid, txg) add(s, PROTO_KIND_SNAPSHOT, name, guid, txg)
#define BOOK(s, name, guid, txg) add(s, PROTO_KIND_BOOKMARK, name, guid, txg)

static struct sync_step st;
static const struct proto_entry *base, *dv;

static int
plan(int each, const char *ds, const struct side *src, const struct side *dst)
{
	base = dv = NULL;
	return sync_next_step(each, ds, src->e, src->n, dst->e, dst->n, &st,
			      &base, &dv);
}

/* The dry run's whole plan from dst: its steps as "full X; -I B X; ...",
 * and the verdict it ends on in *end. */
static const char *
whole(int each, const struct side *src, const struct side *dst, int *end)
{
	static struct proto_entry sim[PROTO_MAX_ENTRIES];
	static char text[2048];
	int n = dst->n, k, steps = 0;
	size_t l = 0;

	text[0] = '\0';
	memcpy(sim, dst->e, sizeof(sim[0]) * (size_t)n);
	for (;;) {
		base = dv = NULL;
		k = sync_next_step(each, DS, src->e, src->n, sim, n, &st, &base,
				   &dv);
		if (k != STEP_SEND || steps++ == 16)
			break;
		l += (size_t)snprintf(text + l, sizeof(text) - l, "%s%s%s%s%s",
				      l ? "; " : "",
				      st.base[0] ? (st.incr_all ? "-I " : "-i ")
						 : "full ",
				      st.base, st.base[0] ? " " : "", st.snap);
		n = sync_simulate(src->e, src->n, sim, n, &st);
	}
	*end = k;
	return text;
}

static void
test_verdicts(void)
{
	struct side src = { .n = 0 }, dst = { .n = 0 };

	/* full send of the oldest when the target has nothing */
	SNAP(&src, "@a", 11, 10);
	SNAP(&src, "@b", 12, 20);
	SNAP(&src, "@c", 13, 30);
	CHECK(plan(0, DS, &src, &dst) == STEP_SEND);
	CHECK_STR(st.snap, DS "@a");
	CHECK_STR(st.base, "");
	CHECK(st.from == NULL && st.last == &src.e[0] && st.count == 1 &&
	      !st.incr_all);

	/* -I from the newest common snapshot to the source's newest */
	SNAP(&dst, "@a", 11, 100);
	SNAP(&dst, "@b", 12, 200);
	CHECK(plan(0, DS, &src, &dst) == STEP_SEND);
	CHECK_STR(st.base, "@b");
	CHECK_STR(st.snap, DS "@c");
	CHECK(st.incr_all && st.count == 1 && st.from == &src.e[1] &&
	      base == &src.e[1] && dv == NULL);
	SNAP(&src, "@d", 14, 40);
	CHECK(plan(0, DS, &src, &dst) == STEP_SEND);
	CHECK_STR(st.base, "@b");
	CHECK_STR(st.snap, DS "@d");
	CHECK(st.incr_all && st.count == 2 && st.last == &src.e[3]);

	/* --each: -i to the next snapshot only */
	CHECK(plan(1, DS, &src, &dst) == STEP_SEND);
	CHECK_STR(st.base, "@b");
	CHECK_STR(st.snap, DS "@c");
	CHECK(!st.incr_all && st.count == 1);

	/* up to date: the target has the source's newest */
	SNAP(&dst, "@c", 13, 300);
	SNAP(&dst, "@d", 14, 400);
	CHECK(plan(0, DS, &src, &dst) == STEP_DONE);

	/* an empty source, or one with only bookmarks: nothing to send */
	{
		struct side none = { .n = 0 }, marks = { .n = 0 };

		CHECK(plan(0, DS, &none, &dst) == STEP_EMPTY);
		CHECK(plan(0, DS, &none, &none) == STEP_EMPTY);
		BOOK(&marks, "#a", 11, 10);
		CHECK(plan(0, DS, &marks, &dst) == STEP_EMPTY);
	}
}

/* The common snapshot was pruned on the source: its bookmark starts a -i
 * to the next snapshot (-I cannot start at a bookmark), named in full. */
static void
test_bookmark_base(void)
{
	struct side src = { .n = 0 }, dst = { .n = 0 };
	int end;

	BOOK(&src, "#zktls:b", 12, 20);
	SNAP(&src, "@c", 13, 30);
	SNAP(&src, "@d", 14, 40);
	SNAP(&dst, "@a", 11, 100);
	SNAP(&dst, "@b", 12, 200);
	CHECK(plan(0, DS, &src, &dst) == STEP_SEND);
	CHECK_STR(st.base, DS "#zktls:b");
	CHECK_STR(st.snap, DS "@c");
	CHECK(!st.incr_all && st.count == 1 && st.from == &src.e[0] &&
	      st.from->kind == PROTO_KIND_BOOKMARK);
	CHECK_STR(whole(0, &src, &dst, &end),
		  "-i " DS "#zktls:b " DS "@c; -I @c " DS "@d");
	CHECK(end == STEP_DONE);

	/* the snapshot and its bookmark both there: the snapshot (-I) */
	{
		struct side both = { .n = 0 };

		BOOK(&both, "#zktls:b", 12, 20);
		SNAP(&both, "@b", 12, 20);
		SNAP(&both, "@c", 13, 30);
		SNAP(&both, "@d", 14, 40);
		CHECK(plan(0, DS, &both, &dst) == STEP_SEND);
		CHECK_STR(st.base, "@b");
		CHECK_STR(st.snap, DS "@d");
		CHECK(st.incr_all && st.count == 2 && st.from == &both.e[1]);
		CHECK(sync_find_guid(both.e, both.n, 12, 0) == &both.e[1]);
		CHECK(sync_find_guid(both.e, 1, 12, 0) == &both.e[0]);
		CHECK(sync_find_guid(both.e, 1, 12, 1) == NULL);
	}
}

/* GUIDs decide, names do not. */
static void
test_guids_not_names(void)
{
	struct side src = { .n = 0 }, dst = { .n = 0 };

	/* the same snapshot under another name on the target */
	SNAP(&src, "@a", 11, 10);
	SNAP(&src, "@b", 12, 20);
	SNAP(&dst, "@renamed", 11, 500);
	CHECK(plan(0, DS, &src, &dst) == STEP_SEND);
	CHECK_STR(st.base, "@a");
	CHECK_STR(st.snap, DS "@b");
	CHECK(st.incr_all && st.count == 1);
	SNAP(&dst, "@also-renamed", 12, 600);
	CHECK(plan(0, DS, &src, &dst) == STEP_DONE);

	/* the same names, other GUIDs: unrelated, never replaced */
	{
		struct side other = { .n = 0 };

		SNAP(&other, "@a", 91, 10);
		SNAP(&other, "@b", 92, 20);
		CHECK(plan(0, DS, &src, &other) == STEP_UNRELATED);
		CHECK(base == NULL);
	}
}

/* The target has snapshots newer than the common one. */
static void
test_diverged(void)
{
	struct side src = { .n = 0 }, dst = { .n = 0 };
	const struct proto_entry *mine;

	SNAP(&src, "@a", 11, 10);
	SNAP(&src, "@b", 12, 20);
	SNAP(&src, "@c", 13, 30);
	SNAP(&dst, "@a-there", 11, 100);
	SNAP(&dst, "@x", 81, 150);
	SNAP(&dst, "@y", 82, 160);
	CHECK(plan(0, DS, &src, &dst) == STEP_DIVERGED);
	CHECK(base == &src.e[0] && dv == &dst.e[2]);
	/* the rollback's point: the target's own copy of the common one */
	mine = sync_find_guid(dst.e, dst.n, base->guid, 1);
	CHECK(mine == &dst.e[0]);
	CHECK_STR(mine->name, "@a-there");
	/* a newer bookmark on the target is not a divergence */
	{
		struct side d2 = { .n = 0 };

		SNAP(&d2, "@a", 11, 100);
		BOOK(&d2, "#x", 81, 150);
		CHECK(plan(0, DS, &src, &d2) == STEP_SEND);
		CHECK_STR(st.base, "@a");
		CHECK_STR(st.snap, DS "@c");
	}
	/* the source's newest is the common one: up to date, whatever the
	 * target has after it (nothing to send, nothing refused) */
	{
		struct side s2 = { .n = 0 };

		SNAP(&s2, "@a", 11, 10);
		CHECK(plan(0, DS, &s2, &dst) == STEP_DONE);
	}
	/* listed out of createtxg order: newer is by createtxg, not by
	 * place in the listing */
	{
		struct side d3 = { .n = 0 };

		SNAP(&d3, "@x", 81, 150);
		SNAP(&d3, "@b", 12, 120);
		SNAP(&d3, "@a", 11, 100);
		CHECK(plan(0, DS, &src, &d3) == STEP_DIVERGED);
		CHECK(base == &src.e[1] && dv == &d3.e[0]);
		d3.e[0].createtxg = 110;   /* now older than the common @b */
		CHECK(plan(0, DS, &src, &d3) == STEP_SEND);
		CHECK_STR(st.base, "@b");
		CHECK_STR(st.snap, DS "@c");
	}
}

/* A target with only bookmarks has no snapshot to receive onto: a full
 * send (a bookmark is never a common point on the receiving side). */
static void
test_target_bookmarks_only(void)
{
	struct side src = { .n = 0 }, dst = { .n = 0 };

	SNAP(&src, "@a", 11, 10);
	SNAP(&src, "@b", 12, 20);
	BOOK(&dst, "#a", 11, 100);
	BOOK(&dst, "#b", 12, 200);
	CHECK(plan(0, DS, &src, &dst) == STEP_SEND);
	CHECK_STR(st.base, "");
	CHECK_STR(st.snap, DS "@a");
	CHECK(st.from == NULL && st.count == 1);
	SNAP(&src, "@c", 13, 30);
	CHECK(plan(0, DS, &src, &dst) == STEP_SEND);
	CHECK_STR(st.base, "");
	CHECK_STR(st.snap, DS "@a");
	CHECK(base == NULL && st.from == NULL);
}

/* A pull: the server's listing sends, ours receives, under its name. */
static void
test_pull(void)
{
	struct side ours = { .n = 0 }, theirs = { .n = 0 };

	SNAP(&ours, "@a", 11, 10);
	SNAP(&ours, "@b", 12, 20);
	SNAP(&theirs, "@a", 11, 300);
	SNAP(&theirs, "@b", 12, 310);
	SNAP(&theirs, "@c", 13, 320);
	SNAP(&theirs, "@d", 14, 330);
	/* as a push, ours is older: the source's newest is there already */
	CHECK(plan(0, "pool/fs", &ours, &theirs) == STEP_DONE);
	CHECK(plan(0, "tank/remote", &theirs, &ours) == STEP_SEND);
	CHECK_STR(st.base, "@b");
	CHECK_STR(st.snap, "tank/remote@d");
	CHECK(st.incr_all && st.count == 2 && st.from == &theirs.e[1]);
}

/* The dry run's plan from start to end. */
static void
test_whole_plan(void)
{
	struct side src = { .n = 0 }, dst = { .n = 0 };
	int end;

	SNAP(&src, "@a", 11, 10);
	BOOK(&src, "#m", 11, 10);
	SNAP(&src, "@b", 12, 20);
	SNAP(&src, "@c", 13, 30);
	CHECK_STR(whole(0, &src, &dst, &end),
		  "full " DS "@a; -I @a " DS "@c");
	CHECK(end == STEP_DONE);
	CHECK_STR(whole(1, &src, &dst, &end),
		  "full " DS "@a; -i @a " DS "@b; -i @b " DS "@c");
	CHECK(end == STEP_DONE);
	SNAP(&dst, "@b", 12, 7);
	CHECK_STR(whole(0, &src, &dst, &end), "-I @b " DS "@c");
	CHECK(end == STEP_DONE);
	/* the simulated target got @c as its newest, by createtxg */
	{
		static struct proto_entry sim[PROTO_MAX_ENTRIES];
		int n;

		memcpy(sim, dst.e, sizeof(sim[0]) * (size_t)dst.n);
		CHECK(plan(0, DS, &src, &dst) == STEP_SEND);
		n = sync_simulate(src.e, src.n, sim, dst.n, &st);
		CHECK(n == 2 && sim[1].guid == 13 && sim[1].createtxg == 8);
	}
}

static int
resume(const struct side *src, const char *toname, uint64_t fromguid,
       char *snap, char *b, const struct proto_entry **from)
{
	struct zfs_token t;

	memset(&t, 0, sizeof(t));
	snprintf(t.toname, sizeof(t.toname), "%s", toname);
	t.toguid = 99;
	t.fromguid = fromguid;
	return sync_resume_check(DS, src->e, src->n, &t, snap, 256, b, 600,
				 from);
}

static void
test_resume(void)
{
	struct side src = { .n = 0 };
	const struct proto_entry *from;
	char snap[256], b[600];

	SNAP(&src, "@a", 11, 10);
	BOOK(&src, "#kept", 12, 20);
	SNAP(&src, "@c", 13, 30);
	/* a full send's token */
	CHECK(resume(&src, DS "@a", 0, snap, b, &from) == RESUME_OK);
	CHECK_STR(snap, DS "@a");
	CHECK_STR(b, "");
	CHECK(from == NULL);
	/* an incremental from a snapshot, and from a bookmark (full name) */
	CHECK(resume(&src, DS "@c", 11, snap, b, &from) == RESUME_OK);
	CHECK_STR(b, "@a");
	CHECK(from == &src.e[0]);
	CHECK(resume(&src, DS "@c", 12, snap, b, &from) == RESUME_OK);
	CHECK_STR(b, DS "#kept");
	CHECK(from == &src.e[1]);
	/* its base is gone from the source */
	CHECK(resume(&src, DS "@c", 77, snap, b, &from) == RESUME_BASE_GONE);
	CHECK(from == NULL);
	/* another dataset's snapshot: refused, whatever it shares */
	CHECK(resume(&src, "pool/fsx@c", 0, snap, b, &from) ==
	      RESUME_NOT_OURS);
	CHECK(resume(&src, DS "/child@c", 0, snap, b, &from) ==
	      RESUME_NOT_OURS);
	CHECK(resume(&src, DS, 0, snap, b, &from) == RESUME_NOT_OURS);
	CHECK(resume(&src, "pool/f@c", 0, snap, b, &from) == RESUME_NOT_OURS);
	CHECK(resume(&src, "tank/fs@c", 11, snap, b, &from) ==
	      RESUME_NOT_OURS);
	CHECK_STR(snap, "tank/fs@c");   /* for the error message */
}

/* The source's newest snapshot @b destroyed, sync's bookmark of it kept
 * (zfs destroy fs@b; a rollback would have taken the bookmark too), and
 * the target has @b: the source's data still descends from @b and has no
 * newer snapshot, so the target is up to date.  (This crashed: no
 * snapshot after the base to send.  A hostile server's listing on a pull
 * reaches the same place.)  A new snapshot then goes -i from the
 * bookmark. */
static void
test_newest_destroyed(void)
{
	struct side src = { .n = 0 }, dst = { .n = 0 };
	int end;

	SNAP(&src, "@a", 11, 10);
	BOOK(&src, "#b", 12, 20);
	SNAP(&dst, "@a", 11, 100);
	SNAP(&dst, "@b", 12, 110);
	CHECK(plan(0, DS, &src, &dst) == STEP_DONE);
	dst.n = 0;
	SNAP(&dst, "@b", 12, 110);
	CHECK(plan(0, DS, &src, &dst) == STEP_DONE);
	CHECK_STR(whole(0, &src, &dst, &end), "");
	CHECK(end == STEP_DONE);
	SNAP(&src, "@c", 13, 30);
	CHECK(plan(0, DS, &src, &dst) == STEP_SEND);
	CHECK_STR(st.base, DS "#b");
	CHECK_STR(st.snap, DS "@c");
	CHECK(!st.incr_all && st.count == 1);
}

int
main(void)
{
	test_verdicts();
	test_bookmark_base();
	test_guids_not_names();
	test_diverged();
	test_target_bookmarks_only();
	test_pull();
	test_whole_plan();
	test_resume();
	test_newest_destroyed();
	T_DONE("test_sync_plan");
}
