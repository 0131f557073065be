/*
 * fuzz_monitor.c - libFuzzer target for serve's monitor: the decoder of
 * the typed zfs requests the network-facing process sends it, and the
 * policy that judges them.
 *
 * Any bytes either fail to decode or decode to a request that encodes
 * back to the very same bytes (one encoding per request); a decoded
 * request is spelled by zfs_argv() (or refused) and judged by
 * policy_zfs() for a fixed client.  zfs itself is a runner that answers
 * every read with a failure: the judge must fail closed then.
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
	const char *argv[64];
	char why[600];
	int n, verdict;

	if (cl.id[0] == '\0') {
		snprintf(cl.id, sizeof(cl.id), "alpha");
		snprintf(cl.push, sizeof(cl.push), "backup/alpha");
		snprintf(cl.pull[0], sizeof(cl.pull[0]), "tank/exp");
		cl.npull = 1;
		cl.resumable = 1;
		zfs_use_runner(&runner);
	}
	if (zfs_req_decode(data, size, &r) < 0)
		return 0;
	n = zfs_req_encode(&r, again, sizeof(again));
	if (n < 0 || (size_t)n != size || memcmp(again, data, size) != 0)
		abort();
	(void)zfs_argv(&r, argv, 64);
	why[0] = '\0';
	verdict = policy_zfs(&cl, &r, why, sizeof(why));
	if ((verdict != 0 && verdict != -1) || (verdict == -1 && !why[0]))
		abort();
	/* nothing zfs could not confirm passes: a send needs the origins */
	if (verdict == 0 && (r.op == ZOP_SEND || r.op == ZOP_ESTIMATE ||
			     r.op == ZOP_DESCRIBE))
		abort();
	zk_clear();
	return 0;
}
