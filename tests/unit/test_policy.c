/*
 * test_policy.c - what a serve session may ask of zfs.  Requests are
 * typed (struct zfs_req): zfs.c alone spells them as an argument vector
 * (zfs_argv), serve's monitor decodes them (zfs_req_decode, strict) and
 * policy_zfs() judges each by its fields against the client's datasets
 * and policy.  Every request a session makes passes for the client's own
 * datasets; anything else is refused.
 */
#include <stdint.h>

#include "t.h"
#include "conf.h"
#include "proto.h"

static struct conf_client cl;
static struct zfs_req q;

static int
judge(void)
{
	char why[300];
	int r = policy_zfs(&cl, &q, why, sizeof(why));

	if (getenv("T_VERBOSE"))
		fprintf(stderr, "  %s\n", r == 0 ? "ok" : why);
	return r;
}

/* The argument vector of q, its words after "zfs" joined by blanks. */
static const char *
spelled(void)
{
	static char line[4096];
	const char *argv[ZFS_ARGV_MAX];
	int n = zfs_argv(&q, argv, ZFS_ARGV_MAX);

	line[0] = '\0';
	if (n < 0)
		return "(none)";
	for (int i = 1; i < n; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s",
			 i > 1 ? " " : "", argv[i]);
	return line;
}

static void
get(int prop, const char *name)
{
	zfs_req(&q, ZOP_GET, prop, name);
}

static void
list(int kind, const char *name)
{
	zfs_req(&q, ZOP_LIST, kind, name);
}

static void
mark(const char *snap, const char *bm)
{
	zfs_req(&q, ZOP_MARK, 0, snap);
	snprintf(q.name2, sizeof(q.name2), "%s", bm);
}

static void
destroy(const char *name)
{
	zfs_req(&q, ZOP_DESTROY, 0, name);
}

static void
send(enum zfs_op op, uint32_t flags, const char *base, bool incr_all,
     const char *snap)
{
	zfs_req(&q, op, 0, NULL);
	q.send.flags = flags;
	snprintf(q.send.base, sizeof(q.send.base), "%s", base);
	q.send.incr_all = incr_all;
	snprintf(q.send.snap, sizeof(q.send.snap), "%s", snap);
}

/* A receive as serve makes it for cl (below: -d), into target. */
static void
recv(bool below, const char *target)
{
	zfs_req(&q, ZOP_RECV, 0, NULL);
	policy_serve_recv(&cl, below, &q.recv);
	snprintf(q.recv.target, sizeof(q.recv.target), "%s", target);
}

/* q through the monitor's wire and back: what the monitor judges. */
static int
wire(void)
{
	static uint8_t buf[16384];
	struct zfs_req back;
	int n = zfs_req_encode(&q, buf, sizeof(buf));

	if (n < 0 || zfs_req_decode(buf, (size_t)n, &back) < 0)
		return -1;
	return memcmp(&back, &q, sizeof(q)) == 0 ? 0 : -2;
}

#define OK() CHECK(judge() == 0 && wire() == 0)
#define NO() CHECK(judge() == -1)
#define SPELLED(s) CHECK_STR(spelled(), s)

static void
codec(void)
{
	static uint8_t buf[16384], bad[16384];
	struct zfs_req r;
	int n;

	recv(true, "backup/alpha");
	q.recv.nexclude = 3;
	memset(q.recv.exclude[3], 0, 2 * sizeof(q.recv.exclude[0]));
	n = zfs_req_encode(&q, buf, sizeof(buf));
	CHECK(n > 10);
	CHECK(zfs_req_decode(buf, (size_t)n, &r) == 0);
	CHECK(memcmp(&r, &q, sizeof(q)) == 0);
	/* nothing but exactly what encode makes */
	for (int cut = 0; cut < n; cut++)
		CHECK(zfs_req_decode(buf, (size_t)cut, &r) == -1);
	memcpy(bad, buf, (size_t)n);
	bad[n] = 0;
	CHECK(zfs_req_decode(bad, (size_t)n + 1, &r) == -1);  /* trailing */
	bad[0] = 2;
	CHECK(zfs_req_decode(bad, (size_t)n, &r) == -1);      /* version */
	memcpy(bad, buf, (size_t)n);
	bad[1] = ZOP_END;
	CHECK(zfs_req_decode(bad, (size_t)n, &r) == -1);      /* op */
	memcpy(bad, buf, (size_t)n);
	bad[8] = ZFS_MAX_PROPS + 1;
	CHECK(zfs_req_decode(bad, (size_t)n, &r) == -1);      /* count */
	memcpy(bad, buf, (size_t)n);
	bad[3] = 0x80;
	CHECK(zfs_req_decode(bad, (size_t)n, &r) == -1);      /* flag bits */
	/* a NUL inside a string: the name would end early */
	zfs_req(&q, ZOP_GET, ZP_GUID, "backup/alpha@a");
	n = zfs_req_encode(&q, buf, sizeof(buf));
	CHECK(n > 0 && zfs_req_decode(buf, (size_t)n, &r) == 0);
	buf[12 + 6] = '\0';
	CHECK(zfs_req_decode(buf, (size_t)n, &r) == -1);
	/* a length past its field */
	zfs_req(&q, ZOP_GET, ZP_GUID, "x");
	n = zfs_req_encode(&q, buf, sizeof(buf));
	buf[10] = 0x01;   /* name length 257 */
	CHECK(zfs_req_decode(buf, (size_t)n, &r) == -1);
	/* a name too long for a request is no request */
	{
		char longname[300];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		CHECK(zfs_req(&q, ZOP_GET, ZP_GUID, longname) == -1);
	}
}

int
main(void)
{
	/* zfs for the checks' own reads: a stand-in that lists nothing */
	setenv("ZKTLS_ZFS", "/bin/true", 1);
	CHECK(zfs_init() == 0);

	/* the one "at or below" */
	CHECK(zfs_name_within("backup/alpha", "backup/alpha", false));
	CHECK(zfs_name_within("backup/alpha/x/y", "backup/alpha", false));
	CHECK(!zfs_name_within("backup/alphabet", "backup/alpha", false));
	CHECK(!zfs_name_within("backup", "backup/alpha", false));
	CHECK(!zfs_name_within("backup/alpha@s", "backup/alpha", false));
	CHECK(!zfs_name_within("backup/alpha#b", "backup/alpha", false));
	CHECK(zfs_name_within("backup/alpha@s", "backup/alpha", true));
	CHECK(zfs_name_within("backup/alpha/x#b", "backup/alpha", true));
	CHECK(!zfs_name_within("backup/alphabet@s", "backup/alpha", true));
	CHECK(!zfs_name_within("backup@alpha/x", "backup/alpha", true));
	CHECK(!zfs_name_within("backup/alpha", "", true));

	snprintf(cl.id, sizeof(cl.id), "alpha");
	snprintf(cl.push, sizeof(cl.push), "backup/alpha");
	snprintf(cl.pull[0], sizeof(cl.pull[0]), "tank/exp");
	cl.npull = 1;
	cl.resumable = 1;

	/* how zfs.c spells each request */
	get(ZP_GUID, "backup/alpha/home@a");
	SPELLED("get -H -p -o value guid backup/alpha/home@a");
	get(ZP_RESUME_TOKEN, "backup/alpha/home");
	SPELLED("get -H -p -o value receive_resume_token backup/alpha/home");
	list(ZL_SNAP_GUIDS, "backup/alpha/home");
	SPELLED("list -H -p -o guid -t snapshot -d 1 backup/alpha/home");
	list(ZL_GUIDS, "tank/exp");
	SPELLED("list -H -p -o name,guid -t snapshot,bookmark -d 1 tank/exp");
	list(ZL_SNAPS, "tank/exp/a");
	SPELLED("list -H -p -o name,guid -t snapshot -s createtxg -d 1 tank/exp/a");
	list(ZL_ENTRIES, "tank/exp/a");
	SPELLED("list -H -p -o name,guid,createtxg -t snapshot,bookmark -s createtxg -d 1 tank/exp/a");
	list(ZL_TREE, "tank/exp");
	SPELLED("list -H -p -o name,guid,createtxg -t filesystem,volume -r tank/exp");
	list(ZL_SYNC, "tank/exp");
	SPELLED("list -H -p -o name,zktls:sync -t filesystem,volume -r tank/exp");
	mark("tank/exp/x@a", "tank/exp/x#zktls:5:alpha:a");
	SPELLED("bookmark tank/exp/x@a tank/exp/x#zktls:5:alpha:a");
	destroy("tank/exp/x#zktls:5:alpha:a");
	SPELLED("destroy tank/exp/x#zktls:5:alpha:a");
	send(ZOP_SEND, PROTO_ZF_RAW | PROTO_ZF_LARGE | PROTO_ZF_EMBED |
	     PROTO_ZF_PROPS | PROTO_ZF_RECURSIVE, "@a", true, "tank/exp/a@b");
	SPELLED("send -w -L -e -p -R -I @a tank/exp/a@b");
	send(ZOP_ESTIMATE, PROTO_ZF_RAW | PROTO_ZF_COMPRESSED, "@a", false,
	     "tank/exp/a@b");
	SPELLED("send -nP -w -c -i @a tank/exp/a@b");
	send(ZOP_SEND, PROTO_ZF_RAW | PROTO_ZF_PROPS, "", false, "");
	snprintf(q.send.token, sizeof(q.send.token), "1-ab-cd-ef");
	SPELLED("send -w -t 1-ab-cd-ef");   /* -p does not go with -t */
	zfs_req(&q, ZOP_DESCRIBE, 0, NULL);
	snprintf(q.send.token, sizeof(q.send.token), "1-ab-cd-ef");
	SPELLED("send -nv -t 1-ab-cd-ef");
	recv(true, "backup/alpha");
	SPELLED("receive -s -d -u -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha");
	zfs_req(&q, ZOP_ROLLBACK, 1, "pool/a@s");
	SPELLED("rollback -r pool/a@s");
	zfs_req(&q, ZOP_HOLD, 0, "pool/a@s");
	snprintf(q.name2, sizeof(q.name2), "zktls_h");
	SPELLED("hold zktls_h pool/a@s");
	zfs_req(&q, ZOP_ORIGINS, 1, "tank/exp");
	SPELLED("list -H -o name,origin -t filesystem,volume -r tank/exp");
	zfs_req(&q, ZOP_END, 0, "x");
	SPELLED("(none)");
	zfs_req(&q, ZOP_GET, ZP_END, "x");
	SPELLED("(none)");

	/* the largest receive there can be fits ZFS_ARGV_MAX */
	zfs_req(&q, ZOP_RECV, 0, NULL);
	q.recv.resumable = q.recv.rollback = q.recv.nomount = true;
	q.recv.below = q.recv.below_last = true;
	for (int i = 0; i < ZFS_MAX_PROPS; i++) {
		snprintf(q.recv.set[i], sizeof(q.recv.set[i]), "p%d=v", i);
		snprintf(q.recv.exclude[i], sizeof(q.recv.exclude[i]), "x%d", i);
	}
	q.recv.nset = q.recv.nexclude = ZFS_MAX_PROPS;
	snprintf(q.recv.target, sizeof(q.recv.target), "backup/alpha");
	{
		const char *argv[ZFS_ARGV_MAX];

		CHECK(zfs_argv(&q, argv, ZFS_ARGV_MAX) == 2 + 5 +
		      4 * ZFS_MAX_PROPS + 1);
		CHECK(zfs_argv(&q, argv, 20) == -1);
	}

	/* a receive made safe: the mount properties need room */
	{
		struct zfs_recv_req v;

		memset(&v, 0, sizeof(v));
		CHECK(zfs_recv_safe(&v, false, false) == 0);
		CHECK(v.nomount && v.nexclude == ZFS_MOUNT_PROPS);
		memset(&v, 0, sizeof(v));
		v.nexclude = ZFS_MAX_PROPS - 1;
		CHECK(zfs_recv_safe(&v, false, false) == -1);
		memset(&v, 0, sizeof(v));
		v.nexclude = ZFS_MAX_PROPS;
		CHECK(zfs_recv_safe(&v, true, true) == 0 && !v.nomount);
	}

	codec();

	/* what sessions ask, about the client's datasets */
	get(ZP_GUID, "backup/alpha/home@a"); OK();
	get(ZP_GUID, "tank/exp/x@a"); OK();
	get(ZP_GUID, "tank/exp#bm"); OK();
	get(ZP_RESUME_TOKEN, "backup/alpha/home"); OK();
	list(ZL_SNAP_GUIDS, "backup/alpha/home"); OK();
	list(ZL_GUIDS, "tank/exp"); OK();
	list(ZL_SNAPS, "tank/exp/a"); OK();
	list(ZL_ENTRIES, "tank/exp/a"); OK();
	list(ZL_TREE, "tank/exp"); OK();
	/* the base of alpha's next pull: its own bookmark, and only that */
	mark("tank/exp/x@a", "tank/exp/x#zktls:5:alpha:a"); OK();
	destroy("tank/exp/x#zktls:5:alpha:a"); OK();
	destroy("tank/exp/x#zktls:5:alpha:a:b_c"); OK();
	mark("tank/exp/x@a", "tank/exp/x#zktls_alpha_a"); NO();  /* old format */
	mark("tank/exp/x@a", "tank/exp/x#zktls:4:beta:a"); NO();
	mark("tank/exp/x@a", "tank/exp/x#zktls:5:alpha:b"); NO();
	mark("tank/exp/x@a", "tank/exp/y#zktls:5:alpha:a"); NO();
	mark("other/x@a", "other/x#zktls:5:alpha:a"); NO();
	mark("tank/exp/x", "tank/exp/x#zktls:5:alpha:a"); NO();
	destroy("tank/exp/x#zktls:4:beta:a"); NO();
	destroy("tank/exp/x#zktls:7:alpha_2:a"); NO();   /* another client's */
	destroy("tank/exp/x#zktls:05:alpha:a"); NO();
	destroy("tank/exp/x#zktls:5:alpha:"); NO();
	destroy("tank/exp/x#zktls:5:alpha"); NO();
	destroy("tank/exp/x#zktls:6:alpha:a"); NO();
	destroy("tank/exp/x@zktls:5:alpha:a"); NO();
	destroy("tank/exp/x"); NO();
	destroy("tank/exp/x#bm"); NO();
	destroy("other/x#zktls:5:alpha:a"); NO();
	destroy("tank/exp/x#zktls:5:alpha:a tank/exp/x#zktls:5:alpha:b"); NO();
	/* the previous format: alpha's where nobody else's can read so */
	destroy("tank/exp/x#zktls_alpha_a"); OK();
	destroy("tank/exp/x#zktls_alpha_2_a"); NO();  /* no listing proves it */
	destroy("tank/exp/x#zktls_beta_a"); NO();
	destroy("tank/exp/x#zktls_alpha"); NO();
	destroy("tank/exp/x#zktls_alpha_"); NO();
	/* a session never destroys a snapshot, not even one of its own
	 * pushes with a keep grid (retention is serve's: policy_prune()),
	 * nor rolls back, nor holds or releases: a client taken over cannot
	 * delete its own backups */
	{
		char why[200];
		CHECK(retain_grid_parse("newest=1", &cl.keep, why,
					sizeof(why)) == 0);
	}
	destroy("backup/alpha/home@old"); NO();
	destroy("backup/alpha@old"); NO();
	destroy("backup/alpha/home"); NO();
	destroy("backup/alpha"); NO();
	destroy("backup/alpha/home#old"); NO();
	destroy("backup/alpha/home@a%b"); NO();
	destroy("tank/exp/x@a"); NO();
	zfs_req(&q, ZOP_ROLLBACK, 0, "backup/alpha/home@old"); NO();
	zfs_req(&q, ZOP_ROLLBACK, 1, "backup/alpha/home@old"); NO();
	zfs_req(&q, ZOP_HOLD, 0, "backup/alpha/home@old");
	snprintf(q.name2, sizeof(q.name2), "zktls_alpha"); NO();
	zfs_req(&q, ZOP_RELEASE, 0, "backup/alpha/home@old");
	snprintf(q.name2, sizeof(q.name2), "zktls_alpha"); NO();
	{
		char why[300];
		destroy("backup/alpha/home@old");
		CHECK(policy_zfs(&cl, &q, why, sizeof(why)) == -1);
		CHECK_STR(why, "destroy backup/alpha/home@old");
	}
	/* what retention lists, a session may list too (read only) */
	list(ZL_RETAIN, "backup/alpha/home"); OK();
	SPELLED("list -H -p -o name,guid,creation,userrefs -t snapshot -s "
		"createtxg -d 1 backup/alpha/home");
	memset(&cl.keep, 0, sizeof(cl.keep));
	send(ZOP_ESTIMATE, 0, "", false, "tank/exp/a@b"); OK();
	send(ZOP_ESTIMATE, PROTO_ZF_RAW | PROTO_ZF_COMPRESSED, "@a", false,
	     "tank/exp/a@b"); OK();
	send(ZOP_SEND, PROTO_ZF_RAW | PROTO_ZF_LARGE | PROTO_ZF_EMBED |
	     PROTO_ZF_PROPS | PROTO_ZF_RECURSIVE, "@a", true, "tank/exp/a@b");
	OK();
	send(ZOP_SEND, 0, "tank/exp/a@a", false, "tank/exp/a@b"); OK();
	send(ZOP_SEND, 0, "tank/exp/a#zktls:5:alpha:a", false, "tank/exp/a@b");
	OK();
	recv(false, "backup/alpha/home"); OK();
	recv(true, "backup/alpha"); OK();

	/* other datasets */
	get(ZP_GUID, "backup/beta/home@a"); NO();
	get(ZP_GUID, "backup/alphax@a"); NO();
	get(ZP_GUID, "tank/exported@a"); NO();
	get(ZP_GUID, "-backup/alpha@a"); NO();
	list(ZL_SNAP_GUIDS, "backup"); NO();
	list(ZL_TREE, "tank"); NO();
	list(ZL_ENTRIES, "tank/exp@a"); NO();
	send(ZOP_ESTIMATE, 0, "", false, "tank/other@b"); NO();
	send(ZOP_SEND, 0, "", false, "backup/alpha/home@b"); NO(); /* push, not pull */
	send(ZOP_SEND, 0, "other/x@a", false, "tank/exp/a@b"); NO();
	send(ZOP_SEND, 0, "tank/exp/b@a", false, "tank/exp/a@b"); NO();
	send(ZOP_SEND, 0, "", false, "tank/exp/a"); NO();  /* not a snapshot */
	recv(false, "backup/beta"); NO();
	recv(false, "tank/exp/a"); NO();               /* pull, not push */
	recv(false, "backup/alphax"); NO();

	/* requests sessions never make */
	get(ZP_WRITTEN, "backup/alpha"); NO();
	zfs_req(&q, ZOP_ROLLBACK, 1, "backup/alpha/home@a"); NO();
	zfs_req(&q, ZOP_HOLD, 0, "tank/exp/a@b"); NO();
	zfs_req(&q, ZOP_RELEASE, 0, "tank/exp/a@b"); NO();
	zfs_req(&q, ZOP_ORIGINS, 1, "tank/exp"); NO();
	list(ZL_END, "tank/exp"); NO();
	send(ZOP_SEND, 0, "", false, "tank/exp/a@b");
	q.send.backup = true;
	NO();                                           /* -b */
	send(ZOP_SEND, 1u << 9, "", false, "tank/exp/a@b"); NO();
	send(ZOP_SEND, 0, "", false, "");
	snprintf(q.send.token, sizeof(q.send.token), "1-bad-token");
	NO();                                           /* not a token */
	send(ZOP_SEND, 0, "", false, "tank/exp/a@b");
	snprintf(q.send.token, sizeof(q.send.token), "1-ab-cd-ef");
	NO();                                           /* both */
	/* what the policy promises must be there: -u, and -x for each mount
	 * and share property (a network process taken over would leave them
	 * out and have a stream mount itself over a system path) */
	recv(true, "backup/alpha");
	q.recv.nomount = false;
	NO();
	for (int drop = 0; drop < 5; drop++) {
		recv(true, "backup/alpha");
		q.recv.nexclude = 4;
		if (drop < 4)
			memcpy(q.recv.exclude[drop], q.recv.exclude[4],
			       sizeof(q.recv.exclude[0]));
		NO();
	}
	recv(true, "backup/alpha");
	q.recv.below_last = true;
	NO();
	recv(true, "backup/alpha");
	q.recv.rollback = true;
	NO();
	recv(true, "backup/alpha");
	snprintf(q.recv.set[q.recv.nset++], sizeof(q.recv.set[0]),
		 "mountpoint=/etc");
	NO();
	recv(true, "backup/alpha");
	snprintf(q.recv.exclude[q.recv.nexclude++], sizeof(q.recv.exclude[0]),
		 "atime");
	NO();

	/* -s only when the client is resumable */
	cl.resumable = 0;
	recv(false, "backup/alpha/home");
	CHECK(!q.recv.resumable);
	OK();
	q.recv.resumable = true;
	NO();

	/* what the policy forces: rollback, -o and -x exactly as listed */
	cl.rollback = 1;
	snprintf(cl.set[0], sizeof(cl.set[0]), "compression=zstd");
	snprintf(cl.set[1], sizeof(cl.set[1]), "readonly=on");
	cl.nset = 2;
	snprintf(cl.exclude[0], sizeof(cl.exclude[0]), "atime");
	cl.nexclude = 1;
	recv(false, "backup/alpha/home");
	SPELLED("receive -F -u -o compression=zstd -o readonly=on -x atime -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha/home");
	OK();
	/* a mount property the policy sets is not excluded as well */
	snprintf(cl.set[2], sizeof(cl.set[2]), "mountpoint=none");
	cl.nset = 3;
	recv(false, "backup/alpha/home");
	SPELLED("receive -F -u -o compression=zstd -o readonly=on -o mountpoint=none -x atime -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha/home");
	OK();
	q.recv.nset = 2;
	NO();
	cl.nset = 2;
	/* each of the policy's -o and -x is required too */
	recv(false, "backup/alpha/home");
	q.recv.nset = 1;
	NO();
	recv(false, "backup/alpha/home");
	snprintf(q.recv.set[1], sizeof(q.recv.set[1]), "readonly=off");
	NO();
	recv(false, "backup/alpha/home");
	memcpy(q.recv.exclude[0], q.recv.exclude[1], sizeof(q.recv.exclude[0]));
	NO();                                           /* no -x atime */
	/* one -o twice in the place of another: readonly=on left out */
	recv(false, "backup/alpha/home");
	memcpy(q.recv.set[1], q.recv.set[0], sizeof(q.recv.set[0]));
	NO();
	/* the policy's -o in another order */
	recv(false, "backup/alpha/home");
	memcpy(q.recv.set[1], q.recv.set[0], sizeof(q.recv.set[0]));
	snprintf(q.recv.set[0], sizeof(q.recv.set[0]), "readonly=on");
	NO();
	/* one -x twice in the place of another */
	recv(false, "backup/alpha/home");
	memcpy(q.recv.exclude[1], q.recv.exclude[0], sizeof(q.recv.exclude[0]));
	NO();
	/* the policy's mountpoint left out: the stream's would apply */
	snprintf(cl.set[2], sizeof(cl.set[2]), "mountpoint=/srv/alpha");
	cl.nset = 3;
	recv(false, "backup/alpha/home");
	OK();
	memcpy(q.recv.set[2], q.recv.set[0], sizeof(q.recv.set[0]));
	NO();
	cl.nset = 2;
	cl.rollback = 0;
	recv(false, "backup/alpha/home");
	OK();
	q.recv.rollback = true;
	NO();

	/* raw yes: every send that moves data is -w (an estimate need not be) */
	cl.raw = 1;
	send(ZOP_SEND, PROTO_ZF_RAW, "", false, "tank/exp/a@b"); OK();
	send(ZOP_SEND, PROTO_ZF_RAW, "@a", false, "tank/exp/a@b"); OK();
	send(ZOP_ESTIMATE, 0, "", false, "tank/exp/a@b"); OK();
	send(ZOP_SEND, 0, "", false, "tank/exp/a@b"); NO();
	send(ZOP_SEND, PROTO_ZF_COMPRESSED, "@a", false, "tank/exp/a@b"); NO();

	/* no client yet: nothing */
	{
		struct conf_client keep = cl;
		char why[100];

		get(ZP_GUID, "backup/alpha/home@a");
		CHECK(policy_zfs(NULL, &q, why, sizeof(why)) == -1);
		cl = keep;
	}

	/* marks: names, and whose they are (an exact parse) */
	{
		struct proto_entry e[3];
		char name[300];

		CHECK(zfs_mark_name("web", "daily_1", name, sizeof(name)) == 0);
		CHECK_STR(name, "zktls:3:web:daily_1");
		CHECK(zfs_mark_name("[::1]:9000", "a", name, sizeof(name)) == 0);
		CHECK_STR(name, "zktls:10:_::1_:9000:a");
		CHECK(zfs_mark_name("web", "a", name, 10) == -1);
		CHECK(zfs_mark_mine("zktls:3:web:a", 0, "web", NULL, 0));
		CHECK(zfs_mark_mine("zktls:3:web:a:b", 0, "web", NULL, 0));
		CHECK(!zfs_mark_mine("zktls:5:web_2:a", 0, "web", NULL, 0));
		CHECK(!zfs_mark_mine("zktls:3:web:a", 0, "web_2", NULL, 0));
		CHECK(!zfs_mark_mine("zktls:3:web_2:a", 0, "web", NULL, 0));
		CHECK(zfs_mark_mine("zktls:11:backup:9000:x", 0, "backup:9000",
				    NULL, 0));
		CHECK(!zfs_mark_mine("zktls:11:backup:9000:x", 0, "backup:900",
				     NULL, 0));
		CHECK(zfs_mark_any("zktls:3:web:a") && zfs_mark_any("zktls_web_a"));
		CHECK(!zfs_mark_any("zktlsweb") && !zfs_mark_any("daily"));
		/* the previous format: web_2's mark of @x is not web's (no
		 * @2_x), web's own of @a_b is (@a_b holds its guid) */
		memset(e, 0, sizeof(e));
		snprintf(e[0].name, sizeof(e[0].name), "@x");
		e[0].guid = 7;
		e[0].kind = PROTO_KIND_SNAPSHOT;
		snprintf(e[1].name, sizeof(e[1].name), "@a_b");
		e[1].guid = 8;
		e[1].kind = PROTO_KIND_SNAPSHOT;
		snprintf(e[2].name, sizeof(e[2].name), "@2_x");
		e[2].guid = 9;
		e[2].kind = PROTO_KIND_SNAPSHOT;
		CHECK(!zfs_mark_mine("zktls_web_2_x", 7, "web", e, 3));
		CHECK(zfs_mark_mine("zktls_web_2_x", 7, "web_2", e, 3));
		CHECK(zfs_mark_mine("zktls_web_2_x", 9, "web", e, 3));
		CHECK(!zfs_mark_mine("zktls_web_2_x", 9, "web_2", e, 3));
		CHECK(zfs_mark_mine("zktls_web_a_b", 8, "web", e, 3));
		CHECK(!zfs_mark_mine("zktls_web_a_b", 8, "web_a", e, 3));
		CHECK(!zfs_mark_mine("zktls_web_a_b", 0, "web", NULL, 0));
		CHECK(zfs_mark_mine("zktls_web_a", 0, "web", NULL, 0));
		CHECK(!zfs_mark_mine("zktls_web_2_x", 0, "web_2", NULL, 0));
	}
	T_DONE("test_policy");
}
