/*
 * fuzz_monitor.c - libFuzzer target for serve's monitor: the decoder of
 * the typed zfs requests the network-facing process sends it, and the
 * policy that judges them.
 *
 * Any bytes either fail to decode or decode to a request that encodes
 * back to the very same bytes (one encoding per request); a decoded
 * request is spelled by zfs_argv() (or refused) and judged by
 * policy_zfs() for a fixed client.  zfs itself is a runner that answers
 * every read with a failure: the judge must fail closed then.  A receive
 * it lets through carries everything the client's policy promises.  No
 * request of a session destroys a snapshot, rolls back, holds or
 * releases, though the client has a keep grid (retention is serve's
 * pruner's), and policy_prune() without a listing lets nothing go.
 *
 *   make fuzz && build/fuzz/fuzz_monitor -max_total_time=60 CORPUS_DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
no_zfs(const struct zfs_req *r, char *out, size_t cap, bool with_err)
{
	(void)r;
	(void)with_err;
	if (cap)
		out[0] = '\0';
	return ZFS_FAILED;
}

static const struct zfs_runner runner = { .capture = no_zfs };
static struct conf_client cl;
static uint8_t again[1 << 15];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct zfs_req r;
	const char *argv[ZFS_ARGV_MAX];
	char why[600];
	int n, verdict;

	if (cl.id[0] == '\0') {
		snprintf(cl.id, sizeof(cl.id), "alpha");
		snprintf(cl.push, sizeof(cl.push), "backup/alpha");
		snprintf(cl.pull[0], sizeof(cl.pull[0]), "tank/exp");
		cl.npull = 1;
		cl.resumable = 1;
		snprintf(cl.set[0], sizeof(cl.set[0]), "mountpoint=/srv/alpha");
		snprintf(cl.set[1], sizeof(cl.set[1]), "readonly=on");
		cl.nset = 2;
		snprintf(cl.exclude[0], sizeof(cl.exclude[0]), "atime");
		cl.nexclude = 1;
		if (retain_grid_parse("newest=1", &cl.keep, why,
				      sizeof(why)) < 0)
			abort();
		zfs_use_runner(&runner);
	}
	if (zfs_req_decode(data, size, &r) < 0)
		return 0;
	n = zfs_req_encode(&r, again, sizeof(again));
	if (n < 0 || (size_t)n != size || memcmp(again, data, size) != 0)
		abort();
	n = zfs_argv(&r, argv, ZFS_ARGV_MAX);
	why[0] = '\0';
	verdict = policy_zfs(&cl, &r, why, sizeof(why));
	if ((verdict != 0 && verdict != -1) || (verdict == -1 && !why[0]))
		abort();
	/* nothing zfs could not confirm passes: a send needs the origins */
	if (verdict == 0 && (r.op == ZOP_SEND || r.op == ZOP_ESTIMATE ||
			     r.op == ZOP_DESCRIBE))
		abort();
	if (verdict == 0 && ((r.op == ZOP_DESTROY && strchr(r.name, '@')) ||
			     r.op == ZOP_ROLLBACK || r.op == ZOP_HOLD ||
			     r.op == ZOP_RELEASE))
		abort();
	why[0] = '\0';
	if (policy_prune(cl.push, &cl.keep, &r, NULL, 0, 0, why,
			 sizeof(why)) != -1 || !why[0])
		abort();
	/* a receive that passes carries all the policy promises: -u, each
	 * of its -o and -x, and -x for the mount properties it does not set */
	if (verdict == 0 && r.op == ZOP_RECV) {
		static const char *const need[] = {
			"-u", "mountpoint=/srv/alpha", "readonly=on", "atime",
			"canmount", "sharenfs", "sharesmb", "overlay", NULL,
		};

		if (n < 0)
			abort();
		for (const char *const *w = need; *w; w++) {
			bool found = false;

			for (int i = 0; i < n && !found; i++)
				found = strcmp(argv[i], *w) == 0;
			if (!found)
				abort();
		}
	}
	zk_clear();
	return 0;
}
