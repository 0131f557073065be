/*
 * test_sessmsg.c - the lines a session process says to serve's master
 * (sessmsg.c): each kind as the session writes it parses to its fields;
 * a line bent in any one way (a field missing, too long, out of form, a
 * second space, something after the last field, a number out of range)
 * is refused whole, but for an END's dataset, which is "-" when it is no
 * valid name; an END's dataset is within its REQ's or not.
 */
#include "sessmsg.h"
#include "t.h"

static void
good(void)
{
	struct sessmsg m;

	CHECK(sessmsg_parse("ID alpha", &m) == SESSMSG_ID);
	CHECK_STR(m.client, "alpha");
	CHECK(sessmsg_parse("REQ push backup/alpha/data", &m) == SESSMSG_REQ);
	CHECK_STR(m.direction, "push");
	CHECK_STR(m.dataset, "backup/alpha/data");
	CHECK(sessmsg_parse("REQ pull tank/my data@snap 1", &m) ==
	      SESSMSG_REQ);
	CHECK_STR(m.direction, "pull");
	CHECK_STR(m.dataset, "tank/my data@snap 1");
	CHECK(sessmsg_parse("PROG splice 1048576 1", &m) == SESSMSG_PROG);
	CHECK_STR(m.plane, "splice");
	CHECK(m.bytes == 1048576 && m.estimated == 1);
	CHECK(sessmsg_parse("PROG user 18446744073709551615 0", &m) ==
	      SESSMSG_PROG);
	CHECK(m.bytes == 18446744073709551615ull && m.estimated == 0);
	CHECK(sessmsg_parse("WHY zfs receive failed: \x1b[31mred\n", &m) ==
	      SESSMSG_WHY);
	CHECK_STR(m.why, "zfs receive failed: ?[31mred?");
	CHECK(sessmsg_parse("END alpha ok splice 5242880 0.731 "
			    "backup/alpha/data", &m) == SESSMSG_END);
	CHECK_STR(m.client, "alpha");
	CHECK_STR(m.result, "ok");
	CHECK_STR(m.plane, "splice");
	CHECK(m.bytes == 5242880);
	CHECK(m.seconds > 0.730 && m.seconds < 0.732);
	CHECK_STR(m.dataset, "backup/alpha/data");
	CHECK(sessmsg_parse("END b-2_x.y failed none 0 0.000 -", &m) ==
	      SESSMSG_END);
	CHECK_STR(m.dataset, "-");
	CHECK(sessmsg_parse("END alpha query none 0 12 tank/a b@s 2", &m) ==
	      SESSMSG_END);
	CHECK_STR(m.dataset, "tank/a b@s 2");
	/* an END about no valid dataset still counts, about none */
	{
		static const char *const nodata[] = {
			"tank//a", "tank/a/", "--", "tank/\x01", "tank/a#b",
			"-tank", "tank/a@b@c",
		};
		char line[600];

		for (size_t i = 0; i < sizeof(nodata) / sizeof(*nodata); i++) {
			snprintf(line, sizeof(line), "END alpha failed user 5 "
				 "0.5 %s", nodata[i]);
			CHECK(sessmsg_parse(line, &m) == SESSMSG_END);
			CHECK_STR(m.dataset, "-");
			CHECK(m.bytes == 5);
		}
	}
}

/* 255 characters is the longest ZFS name: taken; 256 is not one. */
static void
lengths(void)
{
	char name[300], line[400];
	struct sessmsg m;

	memset(name, 'a', sizeof(name));
	name[255] = '\0';
	snprintf(line, sizeof(line), "REQ push %s", name);
	CHECK(sessmsg_parse(line, &m) == SESSMSG_REQ);
	CHECK(strlen(m.dataset) == 255);
	snprintf(line, sizeof(line), "END alpha ok user 1 1.0 %s", name);
	CHECK(sessmsg_parse(line, &m) == SESSMSG_END);
	CHECK(strlen(m.dataset) == 255);
	name[255] = 'a';
	name[256] = '\0';
	snprintf(line, sizeof(line), "REQ push %s", name);
	CHECK(sessmsg_parse(line, &m) == SESSMSG_BAD);
	snprintf(line, sizeof(line), "END alpha ok user 1 1.0 %s", name);
	CHECK(sessmsg_parse(line, &m) == SESSMSG_END);
	CHECK_STR(m.dataset, "-");
	memset(name, 'b', 63);
	name[63] = '\0';
	snprintf(line, sizeof(line), "ID %s", name);
	CHECK(sessmsg_parse(line, &m) == SESSMSG_ID);
	name[63] = 'b';
	name[64] = '\0';
	snprintf(line, sizeof(line), "ID %s", name);
	CHECK(sessmsg_parse(line, &m) == SESSMSG_BAD);
}

static void
bad(void)
{
	static const char *const lines[] = {
		"", "ID", "ID ", "ID  alpha", "ID alpha ", "ID al pha",
		"ID al/pha", "ID alpha\t",
		"ID 0123456789012345678901234567890123456789012345678901234567890123",
		"id alpha", "REQ", "REQ push", "REQ push ", "REQ send tank/a",
		"REQ push  tank/a", "REQ push /tank", "REQ push tank/a/",
		"REQ push tank/../etc", "REQ push tank/a#bm", "REQ push -tank",
		"REQ push tank/a@b@c", "REQ pull tank/a@", "PROG user 5",
		"PROG user 5 1 ", "PROG user 5 2", "PROG user -5 1",
		"PROG user +5 1", "PROG user 5 -1", "PROG bogus 5 1",
		"PROG user 5  1", "PROG user 18446744073709551616 0",
		"PROG user 0x10 1", "PROG user 5 10", "END",
		"END alpha ok splice 5 0.5", "END alpha ok splice 5 0.5 ",
		"END alpha ok splice 5 -0.5 tank/a",
		"END alpha ok splice -5 0.5 tank/a",
		"END alpha ok splice 5 nan tank/a",
		"END alpha ok splice 5 inf tank/a",
		"END alpha ok splice 5 1e9 tank/a",
		"END alpha ok splice 5 100000001 tank/a",
		"END alpha ok splice 5 0.5.5 tank/a",
		"END alpha ok bogus 5 0.5 tank/a",
		"END alpha OK splice 5 0.5 tank/a",
		"END alpha ok splice 5 0.5  tank/a",
		"END alpha  ok splice 5 0.5 tank/a",
		"END al;pha ok splice 5 0.5 tank/a",
		"END alpha okokokokokokokokok splice 5 0.5 tank/a",
		"ENDalpha ok splice 5 0.5 tank/a", "BUSY x", "OK",
	};
	struct sessmsg m;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		int k = sessmsg_parse(lines[i], &m);

		CHECK(k == SESSMSG_BAD);
		if (k != SESSMSG_BAD)
			fprintf(stderr, "  taken: \"%s\"\n", lines[i]);
		CHECK(m.kind == SESSMSG_BAD && m.client[0] == '\0' &&
		      m.dataset[0] == '\0' && m.bytes == 0);
	}
}

static void
within(void)
{
	CHECK(sessmsg_within("tank/a", "tank/a"));
	CHECK(sessmsg_within("tank/a@s1", "tank/a"));
	CHECK(sessmsg_within("tank/a/b", "tank/a"));
	CHECK(sessmsg_within("tank/a", "tank/a@s1"));
	CHECK(sessmsg_within("tank/a@s2", "tank/a@s1"));
	CHECK(!sessmsg_within("tank/ab", "tank/a"));
	CHECK(!sessmsg_within("tank/ab", "tank/a@s1"));
	CHECK(!sessmsg_within("tank", "tank/a"));
	CHECK(!sessmsg_within("tank/b", "tank/a"));
	CHECK(!sessmsg_within("tank/a", ""));
	CHECK(!sessmsg_within("", ""));
}

int
main(void)
{
	good();
	lengths();
	bad();
	within();
	T_DONE("test_sessmsg");
}
