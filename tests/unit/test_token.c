/*
 * test_token.c - resume tokens: the shape zfs_token_valid() lets reach a
 * zfs command line, and zfs_token_parse(), which reads what `zfs send -nv
 * -t TOKEN` prints: real outputs, and a forged token's attempts (nested
 * lists, keys twice, names smuggled in a string value) to make zktls read
 * other values than zfs uses.
 */
#include "t.h"
#include "zktls.h"

#define HEAD "resume token contents:\nnvlist version: 0\n"
#define FULL                                                                \
	HEAD "\tobject = 0x1\n\toffset = 0x20000\n\tbytes = 0x5a300\n"      \
	     "\ttoguid = 0x3f2d6d8e1c0b9a77\n\ttoname = tank/fs@b\n"        \
	     "\tcompressok = 1\n"

static struct zfs_token t;

static void
test_valid(void)
{
	static char big[4096];

	CHECK(zfs_token_valid("1-e604ea4bf-e0-789c63a2"));
	CHECK(zfs_token_valid("1-0-0-0"));
	/* the prefix */
	CHECK(!zfs_token_valid(""));
	CHECK(!zfs_token_valid("1-"));
	CHECK(!zfs_token_valid("2-e604ea4bf-e0-789c63a2"));
	CHECK(!zfs_token_valid("1e604ea4bf-e0-789c63a2"));
	CHECK(!zfs_token_valid("-1-e604ea4bf-e0-789c63a2"));
	CHECK(!zfs_token_valid("11-e604ea4bf-e0-789c63a2"));
	CHECK(!zfs_token_valid(" 1-e604ea4bf-e0-789c63a2"));
	/* hex, lower case, as zfs writes it */
	CHECK(!zfs_token_valid("1-e604ea4bg-e0-789c63a2"));
	CHECK(!zfs_token_valid("1-E604EA4BF-E0-789C63A2"));
	CHECK(!zfs_token_valid("1-0x604ea4bf-e0-789c63a2"));
	/* three fields, none empty */
	CHECK(!zfs_token_valid("1-e604ea4bf-e0"));
	CHECK(!zfs_token_valid("1-e604ea4bf-e0-789c63a2-00"));
	CHECK(!zfs_token_valid("1--e0-789c63a2"));
	CHECK(!zfs_token_valid("1-e604ea4bf--789c63a2"));
	/* nothing a command line or a log line could split at */
	CHECK(!zfs_token_valid("1-e604ea4bf-e0-789c63a2\n"));
	CHECK(!zfs_token_valid("1-e604ea4bf-e0\n-789c63a2"));
	CHECK(!zfs_token_valid("1-e604ea4bf-e0-789c 63a2"));
	CHECK(!zfs_token_valid("1-e604ea4bf-e0-789c63a2 "));
	CHECK(!zfs_token_valid("1-e604ea4bf-e0-789c63a2\t"));
	CHECK(!zfs_token_valid("1-e604ea4bf-e0-789c63a2;rm"));
	/* long: every character is looked at, the last one too */
	memcpy(big, "1-e604ea4bf-e0-", 15);
	memset(big + 15, 'a', sizeof(big) - 16);
	CHECK(zfs_token_valid(big));
	big[sizeof(big) - 2] = 'z';
	CHECK(!zfs_token_valid(big));
	big[sizeof(big) - 2] = '\n';
	CHECK(!zfs_token_valid(big));
}

static void
test_parse(void)
{
	/* a full send's token, not raw */
	CHECK(zfs_token_parse(FULL, &t) == 0);
	CHECK_STR(t.toname, "tank/fs@b");
	CHECK(t.toguid == 0x3f2d6d8e1c0b9a77ULL && t.fromguid == 0 &&
	      !t.rawok);
	/* an incremental's, raw: the flag is there or not (= 1 when it is,
	 * and zfs looks only at whether it is there) */
	CHECK(zfs_token_parse(FULL "\tfromguid = 0xc29ab1e6d5bcf52f\n"
				   "\trawok = 1\n", &t) == 0);
	CHECK(t.fromguid == 0xc29ab1e6d5bcf52fULL && t.rawok);
	CHECK(zfs_token_parse(FULL "\trawok = 0\n", &t) == 0 && t.rawok);
	/* a name with a space, as zfs allows */
	CHECK(zfs_token_parse(HEAD "\ttoguid = 0x5\n\ttoname = tank/my fs@a b\n",
			      &t) == 0);
	CHECK_STR(t.toname, "tank/my fs@a b");
	/* other lines around it (2.3 prints more; zfs's words on stderr) */
	CHECK(zfs_token_parse("send from tank/fs@a estimated size is 1M\n"
			      FULL "total estimated size is 1M\n", &t) == 0);
	CHECK_STR(t.toname, "tank/fs@b");
	/* a parse starts from nothing */
	t.fromguid = 7;
	t.rawok = 1;
	CHECK(zfs_token_parse(FULL, &t) == 0 && t.fromguid == 0 && !t.rawok);

	/* zfs could not read it, or the contents lack what we need */
	CHECK(zfs_token_parse("", &t) == -1);
	CHECK(zfs_token_parse("cannot resume send: kernel modules must be "
			      "upgraded\n", &t) == -1);
	CHECK(zfs_token_parse("\ttoguid = 0x5\n\ttoname = tank/fs@b\n", &t) ==
	      -1);
	CHECK(zfs_token_parse(HEAD "\ttoguid = 0x5\n", &t) == -1);
	CHECK(zfs_token_parse(HEAD "\ttoname = tank/fs@b\n", &t) == -1);
	CHECK(zfs_token_parse(HEAD "\ttoguid = 0x0\n\ttoname = tank/fs@b\n",
			      &t) == -1);
	CHECK(zfs_token_parse(HEAD "\ttoguid = junk\n\ttoname = tank/fs@b\n",
			      &t) == -1);
	CHECK(zfs_token_parse(HEAD "\ttoguid = 0x5\n\ttoname = \n", &t) == -1);
}

/* A forged token: what zfs prints must read one way only. */
static void
test_hostile(void)
{
	/* a nested list's lines come with two tabs (or a tab and spaces) */
	CHECK(zfs_token_parse(FULL "\tx = (embedded nvlist)\n"
				   "\t\ttoname = tank/other@x\n", &t) == -2);
	CHECK(zfs_token_parse(HEAD "\tx = (embedded nvlist)\n"
				   "\t\ttoguid = 0x9\n\t\ttoname = a@b\n"
				   "\ttoguid = 0x5\n\ttoname = tank/fs@b\n",
			      &t) == -2);
	CHECK(zfs_token_parse(FULL "\t    fromguid = 0x1\n", &t) == -2);
	/* ... even a key the top level lacks (a full send's fromguid) */
	CHECK(zfs_token_parse(FULL "\tx = (embedded nvlist)\n"
				   "\t\tfromguid = 0x1\n\t\trawok = 1\n",
			      &t) == -2);
	/* a key twice: a string value with a newline and a tab in it, or
	 * the list itself with the key twice */
	CHECK(zfs_token_parse(HEAD "\ttoguid = 0x5\n\ttoname = tank/fs@b\n"
				   "\ttoname = tank/other@x\n", &t) == -2);
	CHECK(zfs_token_parse(HEAD "\ttoname = tank/other@x\n"
				   "\ttoguid = 0x5\n\ttoname = tank/fs@b\n",
			      &t) == -2);
	CHECK(zfs_token_parse(FULL "\ttoguid = 0x3f2d6d8e1c0b9a78\n", &t) ==
	      -2);
	CHECK(zfs_token_parse(FULL "\tfromguid = 0x1\n\tfromguid = 0x2\n",
			      &t) == -2);
	CHECK(zfs_token_parse(FULL "\trawok = 1\n\trawok = 1\n", &t) == -2);
	/* a newline in a value without a tab after it: not a key of the
	 * list, read as nothing */
	CHECK(zfs_token_parse(FULL "\tx = y\ntoname = tank/other@x\n"
				   "fromguid = 0x77\n", &t) == 0);
	CHECK_STR(t.toname, "tank/fs@b");
	CHECK(t.fromguid == 0);
	/* keys that only look like ours */
	CHECK(zfs_token_parse(FULL "\ttoname_x = tank/other@x\n"
				   "\tfromguidx = 0x77\n\trawokay = 1\n"
				   "\ttoname=tank/other@y\n", &t) == 0);
	CHECK_STR(t.toname, "tank/fs@b");
	CHECK(t.fromguid == 0 && !t.rawok);
	/* a value with " = " in it is the value, whole */
	CHECK(zfs_token_parse(HEAD "\ttoguid = 0x5\n"
				   "\ttoname = tank/fs@b = toname = x\n",
			      &t) == 0);
	CHECK_STR(t.toname, "tank/fs@b = toname = x");
}

int
main(void)
{
	test_valid();
	test_parse();
	test_hostile();
	T_DONE("test_token");
}
