/*
 * test_retain.c - the retention planner (retain.c) on a simulated
 * calendar in Europe/Berlin: the grid's syntax, each period, both DST
 * changes (a 23- and a 25-hour day are one day each; the hour repeated in
 * October is one local hour), gaps (periods without snapshots take no
 * slot), snapshots in the future (a clock ahead), newest, holds and what
 * the caller protects; and policy_prune(), the judge of every destroy
 * that retention makes.
 */
#include <stdint.h>
#include <time.h>

#include "t.h"
#include "retain.h"
#include "zktls.h"

static struct retain_snap s[64];
static int n;
static struct retain_grid g;

/* Local time "YYYY-MM-DD HH:MM" in the test's zone; isdst picks which of
 * a repeated hour (-1: whichever mktime takes). */
static time_t
at(const char *text, int isdst)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(text, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min) != 5)
		abort();
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = isdst;
	return mktime(&tm);
}

static void
reset(void)
{
	memset(s, 0, sizeof(s));
	n = 0;
}

/* A snapshot pool/fs@NAME created at t (oldest first). */
static struct retain_snap *
snap(const char *name, time_t t)
{
	struct retain_snap *x = &s[n++];

	snprintf(x->name, sizeof(x->name), "pool/fs@%s", name);
	x->guid = 1000 + (uint64_t)n;
	x->creation = (int64_t)t;
	return x;
}

static void
grid(const char *text)
{
	char why[200];

	if (retain_grid_parse(text, &g, why, sizeof(why)) < 0) {
		fprintf(stderr, "grid %s: %s\n", text, why);
		abort();
	}
}

/* Plan at now: the names kept, blank-separated ("a b c"), and the
 * number let go in *gone. */
static const char *
kept(time_t now, int *gone)
{
	static char out[2048];
	int k = retain_plan(&g, s, n, now);

	out[0] = '\0';
	for (int i = 0; i < n; i++)
		if (s[i].keep)
			snprintf(out + strlen(out), sizeof(out) - strlen(out),
				 "%s%s", out[0] ? " " : "",
				 strchr(s[i].name, '@') + 1);
	if (gone)
		*gone = k;
	if (getenv("T_VERBOSE"))
		for (int i = 0; i < n; i++)
			fprintf(stderr, "  %s %s (%s)\n",
				s[i].keep ? "keep" : "drop", s[i].name, s[i].why);
	return out;
}

static const char *
why_of(const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(strchr(s[i].name, '@') + 1, name) == 0)
			return s[i].why;
	return "(none)";
}

static void
syntax(void)
{
	char why[200], text[200];
	struct retain_grid x;

	CHECK(retain_grid_parse("hourly=24 daily=30 weekly=4 monthly=12 "
				"yearly=1 newest=3", &x, why, sizeof(why)) == 0);
	CHECK(x.set && x.count[RP_HOURLY] == 24 && x.count[RP_DAILY] == 30 &&
	      x.count[RP_WEEKLY] == 4 && x.count[RP_MONTHLY] == 12 &&
	      x.count[RP_YEARLY] == 1 && x.newest == 3);
	retain_grid_print(&x, text, sizeof(text));
	CHECK_STR(text, "hourly=24 daily=30 weekly=4 monthly=12 yearly=1 "
			"newest=3");
	CHECK(retain_grid_parse("newest=2,daily=7", &x, why, sizeof(why)) == 0);
	retain_grid_print(&x, text, sizeof(text));
	CHECK_STR(text, "daily=7 newest=2");
	CHECK(retain_grid_parse("daily=0", &x, why, sizeof(why)) == 0);
	retain_grid_print(&x, text, sizeof(text));
	CHECK_STR(text, "newest=0");

	CHECK(retain_grid_parse("", &x, why, sizeof(why)) == -1);
	CHECK_STR(why, "keep: an empty grid (want e.g. \"daily=30 newest=2\")");
	CHECK(retain_grid_parse("daily", &x, why, sizeof(why)) == -1);
	CHECK_STR(why, "keep: 'daily' is not PERIOD=COUNT");
	CHECK(retain_grid_parse("fortnightly=2", &x, why, sizeof(why)) == -1);
	CHECK_STR(why, "keep: unknown period 'fortnightly' (hourly, daily, "
		       "weekly, monthly, yearly, newest)");
	CHECK(retain_grid_parse("daily=x", &x, why, sizeof(why)) == -1);
	CHECK_STR(why, "keep: bad count 'x' for daily (0 to 100000)");
	CHECK(retain_grid_parse("daily=-1", &x, why, sizeof(why)) == -1);
	CHECK(retain_grid_parse("daily=+1", &x, why, sizeof(why)) == -1);
	CHECK(retain_grid_parse("daily=", &x, why, sizeof(why)) == -1);
	CHECK(retain_grid_parse("daily=100001", &x, why, sizeof(why)) == -1);
	CHECK(retain_grid_parse("daily=99999999999999999999", &x, why,
				sizeof(why)) == -1);
	CHECK(retain_grid_parse("daily=1 daily=2", &x, why, sizeof(why)) == -1);
	CHECK_STR(why, "keep: daily given twice");
	CHECK(retain_grid_parse("newest=1 newest=1", &x, why, sizeof(why)) == -1);
}

/* No grid: everything stays; a grid with nothing in it: the newest. */
static void
nogrid(void)
{
	int gone = -1;

	reset();
	memset(&g, 0, sizeof(g));
	snap("a", 1000);
	snap("b", 2000);
	snap("c", 3000);
	CHECK_STR(kept(5000, &gone), "a b c");
	CHECK(gone == 0);
	grid("daily=0");
	CHECK_STR(kept(5000, &gone), "c");
	CHECK(gone == 2);
	CHECK_STR(why_of("c"), "newest");
	CHECK_STR(why_of("a"), "outside keep grid");
	reset();
	CHECK_STR(kept(5000, &gone), "");
	CHECK(gone == 0);
}

static void
newest(void)
{
	int gone;

	reset();
	grid("newest=2");
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", i);
		snap(name, 1000 + i);
	}
	CHECK_STR(kept(9999, &gone), "s3 s4");
	CHECK(gone == 3);
	CHECK_STR(why_of("s4"), "newest");
	CHECK_STR(why_of("s3"), "newest 2");
	grid("newest=9");
	CHECK_STR(kept(9999, &gone), "s0 s1 s2 s3 s4");
	CHECK(gone == 0);
}

/* 2026-03-29: 02:00 CET -> 03:00 CEST, a 23-hour day.  00:30 local is
 * still 28 March in UTC: a day of 86400 s from midnight UTC would split
 * the local day. */
static void
dst_spring(void)
{
	int gone;

	reset();
	grid("daily=2");
	snap("mar28-1200", at("2026-03-28 12:00", -1));
	snap("mar29-0030", at("2026-03-29 00:30", -1));
	snap("mar29-2330", at("2026-03-29 23:30", -1));
	CHECK(s[2].creation - s[1].creation == 22 * 3600); /* 23 h day */
	CHECK_STR(kept(at("2026-04-01 00:00", -1), &gone),
		  "mar28-1200 mar29-2330");
	CHECK(gone == 1);
	CHECK_STR(why_of("mar29-2330"), "newest");
	CHECK_STR(why_of("mar28-1200"), "daily 2026-03-28");
	/* the missing hour: 01:30 and 03:30 are two hours (an hour apart) */
	reset();
	grid("hourly=2");
	snap("h0130", at("2026-03-29 01:30", -1));
	snap("h0330", at("2026-03-29 03:30", -1));
	snap("h0345", at("2026-03-29 03:45", -1));
	CHECK(s[1].creation - s[0].creation == 3600);
	CHECK_STR(kept(at("2026-03-30 00:00", -1), &gone), "h0130 h0345");
	CHECK_STR(why_of("h0130"), "hourly 2026-03-29 01:00");
}

/* 2026-10-25: 03:00 CEST -> 02:00 CET, a 25-hour day; 02:30 happens
 * twice, one local hour. */
static void
dst_autumn(void)
{
	int gone;

	reset();
	grid("daily=2");
	snap("oct24-1200", at("2026-10-24 12:00", -1));
	snap("oct25-0030", at("2026-10-25 00:30", -1));
	snap("oct25-2330", at("2026-10-25 23:30", -1));
	CHECK(s[2].creation - s[1].creation == 24 * 3600); /* 25 h day */
	CHECK_STR(kept(at("2026-10-27 00:00", -1), &gone),
		  "oct24-1200 oct25-2330");
	CHECK(gone == 1);
	reset();
	grid("hourly=2");
	snap("h0130", at("2026-10-25 01:30", -1));
	snap("h0230cest", at("2026-10-25 02:30", 1));
	snap("h0230cet", at("2026-10-25 02:30", 0));
	snap("h0300", at("2026-10-25 03:00", -1));
	CHECK(s[2].creation - s[1].creation == 3600);
	/* 02:30 CEST and 02:30 CET: one local hour, its newest kept */
	CHECK_STR(kept(at("2026-10-26 00:00", -1), &gone), "h0230cet h0300");
	CHECK(gone == 2);
	CHECK_STR(why_of("h0230cet"), "hourly 2026-10-25 02:00");
}

/* Days without snapshots take no slot: daily=3 keeps three days that
 * have snapshots, however far apart. */
static void
gaps(void)
{
	int gone;

	reset();
	grid("daily=3");
	snap("d01a", at("2026-06-01 08:00", -1));
	snap("d01b", at("2026-06-01 20:00", -1));
	snap("d02", at("2026-06-02 08:00", -1));
	snap("d05", at("2026-06-05 08:00", -1));
	snap("d09a", at("2026-06-09 08:00", -1));
	snap("d09b", at("2026-06-09 09:00", -1));
	CHECK_STR(kept(at("2026-07-30 00:00", -1), &gone), "d02 d05 d09b");
	CHECK(gone == 3);
	/* time passing with nothing new lets nothing more go */
	CHECK_STR(kept(at("2030-01-01 00:00", -1), &gone), "d02 d05 d09b");
	/* the periods together: a snapshot is kept by the first rule */
	reset();
	grid("daily=2 weekly=2 monthly=3 yearly=2");
	snap("y2024", at("2024-12-31 12:00", -1));
	snap("jan", at("2026-01-15 12:00", -1));
	snap("feb-w7", at("2026-02-10 12:00", -1));
	snap("feb-w8", at("2026-02-17 12:00", -1));
	snap("feb-w9", at("2026-02-24 12:00", -1));
	snap("mar02", at("2026-03-02 12:00", -1));
	snap("mar03", at("2026-03-03 12:00", -1));
	CHECK_STR(kept(at("2026-03-04 00:00", -1), &gone),
		  "y2024 jan feb-w9 mar02 mar03");
	CHECK_STR(why_of("mar02"), "daily 2026-03-02");
	CHECK_STR(why_of("feb-w9"), "weekly 2026-W09");
	CHECK_STR(why_of("jan"), "monthly 2026-01");
	CHECK_STR(why_of("y2024"), "yearly 2024");
	CHECK_STR(why_of("feb-w8"), "outside keep grid");
	CHECK(gone == 2);
}

/* ISO weeks: 31 Dec 2026 (Thursday) and 1 Jan 2027 are 2026-W53. */
static void
weeks(void)
{
	int gone;

	reset();
	grid("weekly=2");
	snap("dec21", at("2026-12-21 12:00", -1));
	snap("dec24", at("2026-12-24 12:00", -1));
	snap("dec31", at("2026-12-31 12:00", -1));
	snap("jan01", at("2027-01-01 12:00", -1));
	CHECK_STR(kept(at("2027-01-02 00:00", -1), &gone), "dec24 jan01");
	CHECK_STR(why_of("dec24"), "weekly 2026-W52");
	CHECK(gone == 2);
}

/* A clock ahead: what was created after now is kept and takes no slot;
 * the newest is kept even in the past of all. */
static void
skew(void)
{
	int gone;

	reset();
	grid("daily=1");
	snap("d1", at("2026-05-01 12:00", -1));
	snap("d2", at("2026-05-02 12:00", -1));
	snap("d3", at("2026-05-03 12:00", -1));
	CHECK_STR(kept(at("2026-05-02 18:00", -1), &gone), "d2 d3");
	CHECK_STR(why_of("d3"), "newest");
	CHECK_STR(why_of("d2"), "daily 2026-05-02");
	CHECK(gone == 1);
	/* every one in the future: nothing goes */
	CHECK_STR(kept(at("2026-01-01 00:00", -1), &gone), "d1 d2 d3");
	CHECK_STR(why_of("d1"), "in the future (clock skew)");
	CHECK(gone == 0);
}

static void
protections(void)
{
	int gone;

	reset();
	grid("newest=1");
	snap("a", 1000)->held = 1;
	snap("b", 2000)->protect = "base of the next incremental";
	snap("c", 3000);
	snap("d", 4000);
	CHECK_STR(kept(9999, &gone), "a b d");
	CHECK_STR(why_of("a"), "held");
	CHECK_STR(why_of("b"), "base of the next incremental");
	CHECK_STR(why_of("c"), "outside keep grid");
	CHECK(gone == 1);
}

/* The judge: a destroy of what the plan lets go, nothing else. */
static void
judge(void)
{
	struct zfs_req r;
	char why[600];
	static struct retain_snap other[4];

	reset();
	grid("newest=1");
	snap("a", 1000)->held = 1;
	snap("b", 2000);
	snap("c", 3000);
	snap("d", 9000);
#define J(op, name, root, list, cnt, now)                                     \
	(zfs_req(&r, op, 0, name),                                           \
	 policy_prune(root, &g, &r, list, cnt, now, why, sizeof(why)))
	CHECK(J(ZOP_DESTROY, "pool/fs@b", "pool", s, n, 9999) == 0);
	CHECK(J(ZOP_DESTROY, "pool/fs@c", "pool/fs", s, n, 9999) == 0);
	/* the newest, a held one, one in the future (now before d and c) */
	CHECK(J(ZOP_DESTROY, "pool/fs@d", "pool", s, n, 9999) == -1);
	CHECK_STR(why, "destroy pool/fs@d: kept (newest)");
	CHECK(J(ZOP_DESTROY, "pool/fs@a", "pool", s, n, 9999) == -1);
	CHECK_STR(why, "destroy pool/fs@a: kept (held)");
	CHECK(J(ZOP_DESTROY, "pool/fs@c", "pool", s, n, 2500) == -1);
	CHECK_STR(why, "destroy pool/fs@c: kept (in the future (clock skew))");
	/* what the caller marked as kept does not matter: re-planned */
	s[1].keep = 1;
	CHECK(J(ZOP_DESTROY, "pool/fs@b", "pool", s, n, 9999) == 0);
	s[1].protect = "base of the next incremental";
	CHECK(J(ZOP_DESTROY, "pool/fs@b", "pool", s, n, 9999) == -1);
	s[1].protect = NULL;
	/* outside the root, a look-alike root, a bookmark, a dataset */
	CHECK(J(ZOP_DESTROY, "pool/fs@b", "pool/other", s, n, 9999) == -1);
	CHECK_STR(why, "destroy pool/fs@b: not a snapshot at or below "
		       "pool/other");
	CHECK(J(ZOP_DESTROY, "pool/fs@b", "pool/f", s, n, 9999) == -1);
	CHECK(J(ZOP_DESTROY, "pool/fs#b", "pool", s, n, 9999) == -1);
	CHECK(J(ZOP_DESTROY, "pool/fs", "pool", s, n, 9999) == -1);
	CHECK(J(ZOP_DESTROY, "pool/fs@b", "", s, n, 9999) == -1);
	/* not in the listing, or a listing of another dataset */
	CHECK(J(ZOP_DESTROY, "pool/fs@zz", "pool", s, n, 9999) == -1);
	CHECK_STR(why, "destroy pool/fs@zz: not in its dataset's listing");
	memcpy(other, s, sizeof(other));
	snprintf(other[0].name, sizeof(other[0].name), "pool/x@a");
	CHECK(J(ZOP_DESTROY, "pool/fs@b", "pool", other, 4, 9999) == -1);
	CHECK_STR(why, "destroy pool/fs@b: a listing of another dataset");
	CHECK(J(ZOP_DESTROY, "pool/fs@b", "pool", s, 0, 9999) == -1);
	/* other ops, other fields */
	CHECK(J(ZOP_ROLLBACK, "pool/fs@b", "pool", s, n, 9999) == -1);
	CHECK_STR(why, "not a destroy retention makes: zfs rollback");
	CHECK(J(ZOP_RELEASE, "pool/fs@a", "pool", s, n, 9999) == -1);
	zfs_req(&r, ZOP_DESTROY, 1, "pool/fs@b");
	CHECK(policy_prune("pool", &g, &r, s, n, 9999, why, sizeof(why)) == -1);
	/* no grid: nothing goes */
	memset(&g, 0, sizeof(g));
	CHECK(J(ZOP_DESTROY, "pool/fs@b", "pool", s, n, 9999) == -1);
	CHECK_STR(why, "destroy pool/fs@b: no keep grid");
#undef J
}

int
main(void)
{
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	syntax();
	nogrid();
	newest();
	dst_spring();
	dst_autumn();
	gaps();
	weeks();
	skew();
	protections();
	judge();
	T_DONE("test_retain");
}
