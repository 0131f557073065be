/*
 * test_privsep.c - the monitor's check of what the network-facing process
 * asks it to run: every shape a session uses passes for the client's own
 * datasets, and anything else is refused.
 */
#include "t.h"
#include "conf.h"
#include "proto.h"

static struct conf_client cl;

/* Split a command line on blanks into argv (argv[0] = "zfs"). */
static int
run(const char *line)
{
	static char buf[1024];
	const char *argv[64];
	char why[256], *save = NULL, *w;
	int n = 0;

	snprintf(buf, sizeof(buf), "zfs %s", line);
	for (w = strtok_r(buf, " ", &save); w && n < 63;
	     w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	return privsep_allowed(&cl, argv, n, why, sizeof(why));
}

#define OK(line) CHECK(run(line) == 0)
#define NO(line) CHECK(run(line) == -1)

int
main(void)
{
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

	/* what sessions run, on the client's datasets */
	OK("get -H -p -o value guid backup/alpha/home@a");
	OK("get -H -p -o value guid tank/exp/x@a");
	OK("get -H -p -o value guid tank/exp#bm");
	OK("get -H -p -o value receive_resume_token backup/alpha/home");
	OK("list -H -p -o guid -t snapshot -d 1 backup/alpha/home");
	OK("list -H -p -o name,guid -t snapshot,bookmark -d 1 tank/exp");
	OK("list -H -p -o name,guid -t snapshot -s createtxg -d 1 tank/exp/a");
	/* the base of alpha's next pull: its own bookmark, and only that */
	OK("bookmark tank/exp/x@a tank/exp/x#zktls:5:alpha:a");
	OK("destroy tank/exp/x#zktls:5:alpha:a");
	OK("destroy tank/exp/x#zktls:5:alpha:a:b_c");
	NO("bookmark tank/exp/x@a tank/exp/x#zktls_alpha_a");  /* old format */
	NO("bookmark tank/exp/x@a tank/exp/x#zktls:4:beta:a");
	NO("bookmark tank/exp/x@a tank/exp/x#zktls:5:alpha:b");
	NO("bookmark tank/exp/x@a tank/exp/y#zktls:5:alpha:a");
	NO("bookmark other/x@a other/x#zktls:5:alpha:a");
	NO("bookmark -r tank/exp/x@a tank/exp/x#zktls:5:alpha:a");
	NO("destroy tank/exp/x#zktls:4:beta:a");
	NO("destroy tank/exp/x#zktls:7:alpha_2:a");   /* another client's */
	NO("destroy tank/exp/x#zktls:05:alpha:a");
	NO("destroy tank/exp/x#zktls:5:alpha:");
	NO("destroy tank/exp/x#zktls:5:alpha");
	NO("destroy tank/exp/x#zktls:6:alpha:a");
	NO("destroy tank/exp/x@zktls:5:alpha:a");
	NO("destroy tank/exp/x");
	NO("destroy tank/exp/x#bm");
	NO("destroy -r tank/exp/x#zktls:5:alpha:a");
	NO("destroy other/x#zktls:5:alpha:a");
	NO("destroy tank/exp/x#zktls:5:alpha:a tank/exp/x#zktls:5:alpha:b");
	/* the previous format: alpha's where nobody else's can read so */
	OK("destroy tank/exp/x#zktls_alpha_a");
	NO("destroy tank/exp/x#zktls_alpha_2_a");  /* no listing proves it */
	NO("destroy tank/exp/x#zktls_beta_a");
	NO("destroy tank/exp/x#zktls_alpha");
	NO("destroy tank/exp/x#zktls_alpha_");
	/* a dataset's tree (zktls list --tree, sync -r) */
	OK("list -H -p -o name,guid,createtxg -t filesystem,volume -r tank/exp");
	OK("send -nP tank/exp/a@b");
	OK("send -nP -w -c -i @a tank/exp/a@b");
	OK("send -w -L -e -p -R -I @a tank/exp/a@b");
	OK("send -i tank/exp/a@a tank/exp/a@b");
	OK("receive -s -u -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha/home");
	OK("receive -u -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha");

	/* other datasets */
	NO("get -H -p -o value guid backup/beta/home@a");
	NO("get -H -p -o value guid backup/alphax@a");
	NO("get -H -p -o value guid tank/exported@a");
	NO("list -H -p -o guid -t snapshot -d 1 backup");
	NO("send -nP tank/other@b");
	NO("send backup/alpha/home@b");          /* push dataset, not pull */
	NO("send -i other/x@a tank/exp/a@b");
	NO("receive -u backup/beta");
	NO("receive -u tank/exp/a");             /* pull dataset, not push */

	/* shapes sessions never use */
	NO("destroy -r backup/alpha");
	NO("get -H -p -o value all backup/alpha");
	NO("get -o value guid backup/alpha@a");
	NO("set mountpoint=/etc backup/alpha");
	NO("receive -F backup/alpha/home");
	NO("receive -o mountpoint=/etc backup/alpha/home");
	NO("receive -x atime backup/alpha/home");
	OK("receive -s -d -u -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha");
	/* what the policy promises must be there: -u, and -x for each mount
	 * and share property (a network process taken over would leave them
	 * out and have a stream mount itself over a system path) */
	NO("receive -d backup/alpha");
	NO("receive -s -d -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha");
	NO("receive -s -d -u -x mountpoint -x canmount -x sharenfs -x sharesmb backup/alpha");
	NO("receive -u -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha");
	NO("send -D tank/exp/a@b");
	NO("send -i @a -i @b tank/exp/a@b");
	NO("send tank/exp/a@b tank/exp/a@c");
	NO("send -t 1-bad-token");
	NO("list -H -p -o name,guid -t snapshot -r -d 1 tank/exp");
	NO("list -H -p -o guid -t filesystem -d 1 tank/exp");
	NO("list -H -p -o name,guid,createtxg -t filesystem,volume -r tank");
	NO("list -H -p -o name,guid,createtxg -t filesystem,volume tank/exp");
	NO("list -H -p -o name,guid,createtxg -t filesystem,volume -r -d 1 tank/exp");
	NO("send -- tank/exp/a@b");
	NO("get -H -p -o value guid -backup/alpha@a");

	/* -s only when the client is resumable */
	cl.resumable = 0;
	NO("receive -s -u backup/alpha/home");

	/* what the policy forces: rollback, -o and -x exactly as listed */
	cl.rollback = 1;
	snprintf(cl.set[0], sizeof(cl.set[0]), "compression=zstd");
	snprintf(cl.set[1], sizeof(cl.set[1]), "readonly=on");
	cl.nset = 2;
	snprintf(cl.exclude[0], sizeof(cl.exclude[0]), "atime");
	cl.nexclude = 1;
	OK("receive -F -u -o compression=zstd -o readonly=on -x atime -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha/home");
	OK("receive -d -F -o compression=zstd -o readonly=on -x atime -u -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha");
	/* a mount property the policy sets is not excluded as well */
	snprintf(cl.set[2], sizeof(cl.set[2]), "mountpoint=none");
	cl.nset = 3;
	OK("receive -u -o compression=zstd -o readonly=on -o mountpoint=none -x atime -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha/home");
	NO("receive -u -o compression=zstd -o readonly=on -x atime -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha/home");
	cl.nset = 2;
	/* each of the policy's -o and -x is required too */
	NO("receive -d -F -o compression=zstd -x atime -u -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha");
	NO("receive -d -F -o compression=zstd -o readonly=on -u -x mountpoint -x canmount -x sharenfs -x sharesmb -x overlay backup/alpha");
	NO("receive -o compression=off backup/alpha/home");
	NO("receive -o readonly backup/alpha/home");
	NO("receive -x compression backup/alpha/home");
	NO("receive -o atime backup/alpha/home");
	NO("receive -o mountpoint=/etc backup/alpha/home");
	cl.rollback = 0;
	NO("receive -F backup/alpha/home");

	/* raw yes: every send that moves data is -w (a dry run need not be) */
	cl.raw = 1;
	OK("send -w tank/exp/a@b");
	OK("send -w -i @a tank/exp/a@b");
	OK("send -nP tank/exp/a@b");
	NO("send tank/exp/a@b");
	NO("send -c -i @a tank/exp/a@b");

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
	T_DONE("test_privsep");
}
