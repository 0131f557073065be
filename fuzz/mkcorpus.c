/*
 * mkcorpus.c - writes the seed frames in fuzz/corpus/proto/.
 *
 * The seeds are checked in; this program is how they were made, so they
 * can be remade after a format change:
 *
 *   cc -std=c11 -D_GNU_SOURCE -Isrc fuzz/mkcorpus.c src/proto.c \
 *       -o /tmp/mkcorpus && /tmp/mkcorpus fuzz/corpus/proto
 *
 * One valid frame per file, covering each type, both ops, every status,
 * empty and full-width strings, and GUID lists.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static struct proto_request rq;
static struct proto_reply rp;
static struct proto_result rs;
static uint8_t frame[PROTO_HDR_LEN + PROTO_MAX_BODY];

static int
save(const char *dir, const char *name, long n)
{
	char path[4096];
	FILE *f;
	int r = -1;

	if (n < 0) {
		fprintf(stderr, "%s: encode failed\n", name);
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path)) {
		fprintf(stderr, "%s/%s: path too long\n", dir, name);
		return -1;
	}
	if ((f = fopen(path, "wb")) == NULL) {
		perror(path);
		return -1;
	}
	if (fwrite(frame, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		goto out;
	}
	r = 0;
 out:
	if (fclose(f) != 0) {
		perror(path);
		r = -1;
	}
	return r;
}

int
main(int argc, char **argv)
{
	const char *dir;
	uint32_t i;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus dir\n");
		return 2;
	}
	dir = argv[1];

	memset(&rq, 0, sizeof(rq));
	rq.op = PROTO_OP_PUSH;
	rq.zflags = PROTO_ZF_RAW | PROTO_ZF_COMPRESSED | PROTO_ZF_INCR;
	strcpy(rq.dataset, "tank/backup/host1");
	strcpy(rq.snapshot, "pool/data@2024-01-02");
	rc |= save(dir, "request-push", proto_encode_request(&rq, frame,
	    sizeof(frame)));

	memset(&rq, 0, sizeof(rq));
	rq.op = PROTO_OP_PULL;
	rq.zflags = PROTO_ZF_RESUME | PROTO_ZF_RECURSIVE | PROTO_ZF_PROPS;
	strcpy(rq.dataset, "rpool/recv/host2");
	strcpy(rq.token, "1-e604ea4bf-e0-789c636064000310a500c4ec50360710e72"
	    "765a526973030c4a0b0e5d4");
	rq.nguids = 4;
	for (i = 0; i < rq.nguids; i++)
		rq.guids[i] = 0x1122334455667788ULL + i * 0x0101010101010101ULL;
	rc |= save(dir, "request-pull-guids", proto_encode_request(&rq, frame,
	    sizeof(frame)));

	memset(&rq, 0, sizeof(rq));
	rq.op = PROTO_OP_PUSH;
	rq.zflags = PROTO_ZF_ALL;
	memset(rq.dataset, 'd', PROTO_NAME_LEN - 1);
	memset(rq.snapshot, 's', PROTO_NAME_LEN - 1);
	rc |= save(dir, "request-full-names", proto_encode_request(&rq, frame,
	    sizeof(frame)));

	memset(&rp, 0, sizeof(rp));
	rp.status = PROTO_ST_OK;
	strcpy(rp.dataset, "tank/backup/host1");
	rp.nguids = 2;
	rp.guids[0] = 0xdeadbeefcafef00dULL;
	rp.guids[1] = 1;
	rc |= save(dir, "reply-ok", proto_encode_reply(&rp, frame,
	    sizeof(frame)));

	memset(&rp, 0, sizeof(rp));
	rp.status = PROTO_ST_DENIED;
	strcpy(rp.message, "dataset not allowed for this client");
	rc |= save(dir, "reply-denied", proto_encode_reply(&rp, frame,
	    sizeof(frame)));

	memset(&rp, 0, sizeof(rp));
	rp.status = PROTO_ST_BUSY;
	strcpy(rp.message, "receive in progress");
	strcpy(rp.dataset, "tank/x");
	strcpy(rp.token, "1-abc");
	rc |= save(dir, "reply-busy-token", proto_encode_reply(&rp, frame,
	    sizeof(frame)));

	memset(&rs, 0, sizeof(rs));
	rs.status = PROTO_ST_OK;
	rs.exit_status = 0;
	rs.bytes = 123456789;
	rs.guid = 0x0123456789abcdefULL;
	rc |= save(dir, "result-ok", proto_encode_result(&rs, frame,
	    sizeof(frame)));

	memset(&rs, 0, sizeof(rs));
	rs.status = PROTO_ST_ERROR;
	rs.exit_status = -1;
	rs.bytes = 4096;
	strcpy(rs.message, "cannot receive new filesystem stream: "
	    "destination 'tank/x' exists");
	rc |= save(dir, "result-error", proto_encode_result(&rs, frame,
	    sizeof(frame)));

	return rc ? 1 : 0;
}
