/*
 * test_sync_filter.c - which datasets zktls sync leaves alone
 * (sync_filter.c): --exclude globs on whole names ('*' across '/'), and
 * the zktls:sync values that turn sync off.
 */
#include "t.h"
#include "sync_plan.h"

static void
test_exclude(void)
{
	char *pats[] = { "*/tmp", "tank/home/cache", "tank/vm/[ab]?" };

	CHECK(sync_exclude_match("tank/tmp", pats, 3) == 0);
	CHECK(sync_exclude_match("tank/a/b/tmp", pats, 3) == 0);
	CHECK(sync_exclude_match("tank/tmpx", pats, 3) == -1);
	CHECK(sync_exclude_match("tank/tmp/x", pats, 3) == -1); /* whole name */
	CHECK(sync_exclude_match("tank/home/cache", pats, 3) == 1);
	CHECK(sync_exclude_match("tank/home/cache2", pats, 3) == -1);
	CHECK(sync_exclude_match("tank/home", pats, 3) == -1);
	CHECK(sync_exclude_match("tank/vm/a1", pats, 3) == 2);
	CHECK(sync_exclude_match("tank/vm/c1", pats, 3) == -1);
	CHECK(sync_exclude_match("tank/tmp", pats, 0) == -1);
}

static void
test_prop(void)
{
	CHECK(sync_prop_off("off"));
	CHECK(sync_prop_off("false"));
	CHECK(sync_prop_off("no"));
	CHECK(sync_prop_off("OFF"));
	CHECK(sync_prop_off("False"));
	CHECK(!sync_prop_off("-"));
	CHECK(!sync_prop_off("on"));
	CHECK(!sync_prop_off("true"));
	CHECK(!sync_prop_off(""));
	CHECK(!sync_prop_off("off "));
	CHECK(!sync_prop_off("offline"));
}

int
main(void)
{
	test_exclude();
	test_prop();
	T_DONE("test_sync_filter");
}
