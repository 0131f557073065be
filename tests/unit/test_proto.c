/*
 * test_proto.c - the session-message wire format against proto.h: round
 * trips, the exact byte layout, and every rejection with its reason.
 *
 * Decoders are always run on a heap copy of exactly the bytes they are
 * given, so that ASan or valgrind catch any read past the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "t.h"

/* Body offsets, written out from the layouts in proto.h rather than taken
 * from proto.c, so a layout change in the code shows up here. */
#define RQ_OP		0
#define RQ_RSV		1
#define RQ_ZFLAGS	4
#define RQ_DATASET	8
#define RQ_SNAPSHOT	264
#define RQ_TOKEN	520
#define RQ_NGUIDS	1544
#define RQ_GUIDS	1548

#define RP_STATUS	0
#define RP_RSV		1
#define RP_MESSAGE	4
#define RP_DATASET	260
#define RP_TOKEN	516
#define RP_NGUIDS	1540
#define RP_GUIDS	1544

#define RS_STATUS	0
#define RS_RSV		1
#define RS_EXIT		4
#define RS_BYTES	8
#define RS_GUID		16
#define RS_MESSAGE	24
#define RS_LEN		536

#define FRAME_MAX	(PROTO_HDR_LEN + PROTO_MAX_BODY)

/* Large structs live here, not on the stack. */
static struct proto_request rq, rq2;
static struct proto_reply rp, rp2;
static struct proto_result rs, rs2;
static uint8_t frame[FRAME_MAX];
static uint8_t work[FRAME_MAX];

enum which { REQ, REP, RES };

/* Decode len bytes of body as the given type from an exact-size heap copy;
 * returns NULL on success, else the reason. */
static const char *
decode(enum which w, const uint8_t *body, size_t len)
{
	uint8_t *copy;
	const char *why = NULL;
	int rc = -1;

	/* malloc(0) may return NULL; decoders must cope with len 0 anyway. */
	copy = malloc(len ? len : 1);
	if (copy == NULL) {
		perror("malloc");
		exit(2);
	}
	if (len)
		memcpy(copy, body, len);
	switch (w) {
	case REQ:
		rc = proto_decode_request(copy, len, &rq2, &why);
		break;
	case REP:
		rc = proto_decode_reply(copy, len, &rp2, &why);
		break;
	case RES:
		rc = proto_decode_result(copy, len, &rs2, &why);
		break;
	}
	free(copy);
	if (rc == 0)
		return NULL;
	/* A failure must always explain itself. */
	return why != NULL ? why : "(why not set)";
}

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void
fill_str(char *dst, size_t width, char c, size_t n)
{
	memset(dst, 0, width);
	memset(dst, c, n);
}

/* Checks the header of an encoded frame and returns its body length. */
static uint32_t
check_header(const uint8_t *f, long n, uint8_t want_type)
{
	uint8_t type = 0;
	uint32_t blen = 0;
	const char *why = NULL;

	CHECK(n >= PROTO_HDR_LEN);
	CHECK(memcmp(f, "ZKT1", 4) == 0);
	CHECK(f[4] == PROTO_VERSION);
	CHECK(f[5] == want_type);
	CHECK(f[6] == 0 && f[7] == 0);
	CHECK(proto_parse_header(f, (size_t)n, &type, &blen, &why) == 0);
	CHECK(type == want_type);
	CHECK(blen == (uint32_t)(n - PROTO_HDR_LEN));
	CHECK(be32(f + 8) == blen);
	return blen;
}

static int
request_eq(const struct proto_request *a, const struct proto_request *b)
{
	return a->op == b->op && a->caps == b->caps &&
	    a->zflags == b->zflags && strcmp(a->dataset, b->dataset) == 0 &&
	    strcmp(a->snapshot, b->snapshot) == 0 &&
	    strcmp(a->token, b->token) == 0 && a->nguids == b->nguids &&
	    memcmp(a->guids, b->guids, a->nguids * sizeof(a->guids[0])) == 0;
}

static int
reply_eq(const struct proto_reply *a, const struct proto_reply *b)
{
	return a->status == b->status && a->caps == b->caps &&
	    strcmp(a->message, b->message) == 0 &&
	    strcmp(a->dataset, b->dataset) == 0 &&
	    strcmp(a->token, b->token) == 0 && a->nguids == b->nguids &&
	    memcmp(a->guids, b->guids, a->nguids * sizeof(a->guids[0])) == 0;
}

static int
result_eq(const struct proto_result *a, const struct proto_result *b)
{
	return a->status == b->status && a->exit_status == b->exit_status &&
	    a->bytes == b->bytes && a->guid == b->guid &&
	    strcmp(a->message, b->message) == 0;
}

/* ------------------------------------------------------------ header */

static void
test_header(void)
{
	uint8_t h[PROTO_HDR_LEN], type;
	uint32_t blen;
	const char *why;
	size_t i;

	memcpy(h, "ZKT1\x01\x02\x00\x00\x00\x01\x00\x00", PROTO_HDR_LEN);
	why = NULL;
	CHECK(proto_parse_header(h, sizeof(h), &type, &blen, &why) == 0);
	CHECK(type == PROTO_REPLY);
	CHECK(blen == PROTO_MAX_BODY);
	CHECK(why == NULL);

	/* Only the first 12 bytes matter; more may follow. */
	memcpy(work, h, sizeof(h));
	memset(work + sizeof(h), 0xff, 100);
	CHECK(proto_parse_header(work, sizeof(h) + 100, &type, &blen,
	    &why) == 0);

	for (i = 0; i < PROTO_HDR_LEN; i++) {
		uint8_t *copy = malloc(i ? i : 1);

		memcpy(copy, h, i);
		why = NULL;
		CHECK(proto_parse_header(copy, i, &type, &blen, &why) == -1);
		CHECK_STR(why, "truncated");
		free(copy);
	}

	for (i = 0; i < 4; i++) {
		memcpy(work, h, sizeof(h));
		work[i] ^= 0x20;
		CHECK(proto_parse_header(work, sizeof(h), &type, &blen,
		    &why) == -1);
		CHECK_STR(why, "bad magic");
	}

	memcpy(work, h, sizeof(h));
	work[4] = 0;
	CHECK(proto_parse_header(work, sizeof(h), &type, &blen, &why) == -1);
	CHECK_STR(why, "unsupported protocol version");
	work[4] = 3;
	CHECK(proto_parse_header(work, sizeof(h), &type, &blen, &why) == -1);
	CHECK_STR(why, "unsupported protocol version");
	/* a version-1 type in a version-2 frame, and the other way round */
	work[4] = 2;
	CHECK(proto_parse_header(work, sizeof(h), &type, &blen, &why) == -1);
	CHECK_STR(why, "message type not of its protocol version");
	work[4] = 1;
	work[5] = PROTO_LIST;
	CHECK(proto_parse_header(work, sizeof(h), &type, &blen, &why) == -1);
	CHECK_STR(why, "message type not of its protocol version");
	work[4] = 2;
	CHECK(proto_parse_header(work, sizeof(h), &type, &blen, &why) == 0);
	CHECK(type == PROTO_LIST);

	memcpy(work, h, sizeof(h));
	work[5] = 0;
	CHECK(proto_parse_header(work, sizeof(h), &type, &blen, &why) == -1);
	CHECK_STR(why, "unknown message type");
	work[5] = 8;
	CHECK(proto_parse_header(work, sizeof(h), &type, &blen, &why) == -1);
	CHECK_STR(why, "unknown message type");
	work[5] = 0xff;
	CHECK(proto_parse_header(work, sizeof(h), &type, &blen, &why) == -1);
	CHECK_STR(why, "unknown message type");
	for (i = 1; i <= 3; i++) {
		work[5] = (uint8_t)i;
		CHECK(proto_parse_header(work, sizeof(h), &type, &blen,
		    &why) == 0);
		CHECK(type == i);
	}

	for (i = 6; i <= 7; i++) {
		memcpy(work, h, sizeof(h));
		work[i] = 1;
		CHECK(proto_parse_header(work, sizeof(h), &type, &blen,
		    &why) == -1);
		CHECK_STR(why, "reserved bytes not zero");
		work[i] = 0x80;
		CHECK(proto_parse_header(work, sizeof(h), &type, &blen,
		    &why) == -1);
		CHECK_STR(why, "reserved bytes not zero");
	}

	memcpy(work, h, sizeof(h));
	put_be32(work + 8, PROTO_MAX_BODY + 1);
	CHECK(proto_parse_header(work, sizeof(h), &type, &blen, &why) == -1);
	CHECK_STR(why, "body length out of range");
	put_be32(work + 8, 0xffffffffu);
	CHECK(proto_parse_header(work, sizeof(h), &type, &blen, &why) == -1);
	CHECK_STR(why, "body length out of range");
	put_be32(work + 8, 0);
	CHECK(proto_parse_header(work, sizeof(h), &type, &blen, &why) == 0);
	CHECK(blen == 0);

	/* A NULL why must not crash. */
	CHECK(proto_parse_header(h, 3, &type, &blen, NULL) == -1);
}

/* ----------------------------------------------------------- request */

static void
set_request_push(void)
{
	memset(&rq, 0, sizeof(rq));
	rq.op = PROTO_OP_PUSH;
	rq.zflags = PROTO_ZF_RAW | PROTO_ZF_INCR;
	strcpy(rq.dataset, "tank/backup/host1");
	strcpy(rq.snapshot, "pool/data@2024-01-01");
}

static void
set_request_pull(uint32_t nguids)
{
	uint32_t i;

	memset(&rq, 0, sizeof(rq));
	rq.op = PROTO_OP_PULL;
	rq.zflags = PROTO_ZF_ALL;
	strcpy(rq.dataset, "rpool/recv");
	strcpy(rq.token, "1-abc-def-789");
	rq.nguids = nguids;
	for (i = 0; i < nguids && i < PROTO_MAX_GUIDS; i++)
		rq.guids[i] = 0x0102030405060708ULL * (i + 1) ^ (uint64_t)i;
}

/* Encodes rq into frame, checks it decodes back to rq; returns length. */
static long
roundtrip_request(void)
{
	long n;

	n = proto_encode_request(&rq, frame, sizeof(frame));
	CHECK(n > 0);
	if (n <= 0)
		return n;
	CHECK((size_t)n == proto_request_size(&rq));
	CHECK(check_header(frame, n, PROTO_REQUEST) ==
	    (uint32_t)(n - PROTO_HDR_LEN));
	CHECK(decode(REQ, frame + PROTO_HDR_LEN,
	    (size_t)n - PROTO_HDR_LEN) == NULL);
	CHECK(request_eq(&rq, &rq2));
	return n;
}

static void
test_request_roundtrip(void)
{
	const uint8_t *b = frame + PROTO_HDR_LEN;
	uint32_t i;
	long n;

	set_request_push();
	n = roundtrip_request();
	CHECK(n == PROTO_HDR_LEN + RQ_GUIDS);
	CHECK(b[RQ_OP] == PROTO_OP_PUSH);
	CHECK(all_zero(b + RQ_RSV, 3));
	CHECK(be32(b + RQ_ZFLAGS) == (PROTO_ZF_RAW | PROTO_ZF_INCR));
	CHECK(memcmp(b + RQ_DATASET, "tank/backup/host1", 18) == 0);
	CHECK(all_zero(b + RQ_DATASET + 17, PROTO_NAME_LEN - 17));
	CHECK(memcmp(b + RQ_SNAPSHOT, "pool/data@2024-01-01", 21) == 0);
	CHECK(all_zero(b + RQ_TOKEN, PROTO_TOKEN_LEN));
	CHECK(be32(b + RQ_NGUIDS) == 0);

	/* The capabilities byte follows op. */
	rq.caps = PROTO_CAP_KEY_UPDATE;
	n = roundtrip_request();
	CHECK(b[RQ_RSV] == PROTO_CAP_KEY_UPDATE && all_zero(b + RQ_RSV + 1, 2));
	rq.caps = PROTO_CAP_ALL + 1;
	CHECK(proto_encode_request(&rq, frame, sizeof(frame)) == -1);

	/* Empty strings everywhere. */
	memset(&rq, 0, sizeof(rq));
	rq.op = PROTO_OP_PULL;
	n = roundtrip_request();
	CHECK(n == PROTO_HDR_LEN + RQ_GUIDS);
	CHECK(all_zero(b + RQ_DATASET, RQ_NGUIDS - RQ_DATASET));

	/* Longest strings: 255-char names, 1023-char token. */
	set_request_pull(3);
	fill_str(rq.dataset, sizeof(rq.dataset), 'd', PROTO_NAME_LEN - 1);
	fill_str(rq.snapshot, sizeof(rq.snapshot), 's', PROTO_NAME_LEN - 1);
	fill_str(rq.token, sizeof(rq.token), 't', PROTO_TOKEN_LEN - 1);
	n = roundtrip_request();
	CHECK(n == PROTO_HDR_LEN + RQ_GUIDS + 3 * 8);
	CHECK(strlen(rq2.dataset) == PROTO_NAME_LEN - 1);
	CHECK(strlen(rq2.token) == PROTO_TOKEN_LEN - 1);
	CHECK(b[RQ_SNAPSHOT - 1] == 0 && b[RQ_SNAPSHOT - 2] == 'd');
	CHECK(be32(b + RQ_NGUIDS) == 3);
	CHECK(be64(b + RQ_GUIDS) == rq.guids[0]);
	CHECK(be64(b + RQ_GUIDS + 16) == rq.guids[2]);
	CHECK(be64(b + RQ_GUIDS) == 0x0102030405060708ULL);
	CHECK(b[RQ_GUIDS] == 0x01 && b[RQ_GUIDS + 7] == 0x08);

	/* Bytes >= 0x80 (UTF-8) are not control characters. */
	set_request_push();
	strcpy(rq.dataset, "tank/caf\xc3\xa9");
	roundtrip_request();

	/* Most GUIDs allowed; the frame still fits PROTO_MAX_BODY. */
	set_request_pull(PROTO_MAX_GUIDS);
	n = roundtrip_request();
	CHECK(n == PROTO_HDR_LEN + RQ_GUIDS + PROTO_MAX_GUIDS * 8);
	CHECK(n - PROTO_HDR_LEN <= PROTO_MAX_BODY);
	CHECK(rq2.guids[PROTO_MAX_GUIDS - 1] == rq.guids[PROTO_MAX_GUIDS - 1]);

	/* Every zflag alone, every op. */
	for (i = 0; i < 9; i++) {
		set_request_push();
		rq.zflags = 1u << i;
		roundtrip_request();
	}

	/* Junk after the NUL in the caller's struct is not sent. */
	set_request_push();
	memset(rq.dataset, 'x', sizeof(rq.dataset));
	memcpy(rq.dataset, "ab", 3);
	n = roundtrip_request();
	CHECK(all_zero(b + RQ_DATASET + 2, PROTO_NAME_LEN - 2));
	CHECK_STR(rq2.dataset, "ab");

	/* The decoder clears guid slots the message does not carry. */
	set_request_pull(2);
	n = proto_encode_request(&rq, frame, sizeof(frame));
	memset(&rq2, 0xaa, sizeof(rq2));
	CHECK(proto_decode_request(b, (size_t)n - PROTO_HDR_LEN, &rq2,
	    NULL) == 0);
	CHECK(rq2.guids[2] == 0 && rq2.guids[PROTO_MAX_GUIDS - 1] == 0);
}

static void
test_request_encode_reject(void)
{
	long n;

	set_request_push();
	n = proto_encode_request(&rq, frame, sizeof(frame));
	CHECK(n == PROTO_HDR_LEN + RQ_GUIDS);
	/* Exact cap is enough; one byte less is not. */
	CHECK(proto_encode_request(&rq, frame, (size_t)n) == n);
	CHECK(proto_encode_request(&rq, frame, (size_t)n - 1) == -1);
	CHECK(proto_encode_request(&rq, frame, PROTO_HDR_LEN) == -1);
	CHECK(proto_encode_request(&rq, NULL, 0) == -1);

	set_request_push();
	memset(rq.dataset, 'a', sizeof(rq.dataset));
	CHECK(proto_encode_request(&rq, frame, sizeof(frame)) == -1);
	set_request_push();
	memset(rq.snapshot, 'a', sizeof(rq.snapshot));
	CHECK(proto_encode_request(&rq, frame, sizeof(frame)) == -1);
	set_request_push();
	memset(rq.token, 'a', sizeof(rq.token));
	CHECK(proto_encode_request(&rq, frame, sizeof(frame)) == -1);

	set_request_push();
	strcpy(rq.snapshot, "pool@a\nb");
	CHECK(proto_encode_request(&rq, frame, sizeof(frame)) == -1);
	set_request_push();
	strcpy(rq.token, "\x7f");
	CHECK(proto_encode_request(&rq, frame, sizeof(frame)) == -1);

	set_request_pull(PROTO_MAX_GUIDS + 1);
	CHECK(proto_request_size(&rq) == 0);
	CHECK(proto_encode_request(&rq, frame, sizeof(frame)) == -1);
	rq.nguids = 0xffffffffu;
	CHECK(proto_request_size(&rq) == 0);
	CHECK(proto_encode_request(&rq, frame, sizeof(frame)) == -1);

	set_request_push();
	rq.op = 0;
	CHECK(proto_encode_request(&rq, frame, sizeof(frame)) == -1);
	rq.op = 3;
	CHECK(proto_encode_request(&rq, frame, sizeof(frame)) == -1);
	set_request_push();
	rq.zflags = PROTO_ZF_ALL + 1;
	CHECK(proto_encode_request(&rq, frame, sizeof(frame)) == -1);
}

/* Checks the three string rejections on the string field at off in a
 * valid body b of length len. */
static void
check_string_field(enum which w, const uint8_t *b, size_t len, size_t off,
    size_t width)
{
	memcpy(work, b, len);
	memset(work + off, 'a', width);
	CHECK_STR(decode(w, work, len), "string not terminated");

	/* NUL in the last byte is the longest valid string. */
	work[off + width - 1] = 0;
	CHECK(decode(w, work, len) == NULL);

	memcpy(work, b, len);
	memset(work + off, 0, width);
	memcpy(work + off, "ok\nno", 5);
	CHECK_STR(decode(w, work, len), "string has control characters");
	work[off + 2] = 0x01;
	CHECK_STR(decode(w, work, len), "string has control characters");
	work[off + 2] = 0x1f;
	CHECK_STR(decode(w, work, len), "string has control characters");
	work[off + 2] = 0x7f;
	CHECK_STR(decode(w, work, len), "string has control characters");
	work[off] = '\t';
	work[off + 2] = 'x';
	CHECK_STR(decode(w, work, len), "string has control characters");
	work[off] = 0x80;
	CHECK(decode(w, work, len) == NULL);
	work[off] = 0xff;
	CHECK(decode(w, work, len) == NULL);
	work[off] = 0x20;
	CHECK(decode(w, work, len) == NULL);

	memcpy(work, b, len);
	memset(work + off, 0, width);
	memcpy(work + off, "ab", 2);
	work[off + 3] = 'x';
	CHECK_STR(decode(w, work, len), "bad padding after string");
	work[off + 3] = 0;
	work[off + width - 1] = 1;
	CHECK_STR(decode(w, work, len), "bad padding after string");
	/* Empty string, junk later. */
	memset(work + off, 0, width);
	work[off + 1] = 'z';
	CHECK_STR(decode(w, work, len), "bad padding after string");
}

/* Truncation at every length: before the GUID count the body is merely
 * short; after it, the count and length disagree. */
static void
check_truncation(enum which w, const uint8_t *b, size_t len, size_t guids_at)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < len; i++) {
		const char *why = decode(w, b, i);
		const char *want = (guids_at == 0 || i < guids_at) ?
		    "truncated" : "guid count does not match length";

		if (why == NULL || strcmp(why, want) != 0) {
			if (bad++ < 5)
				fprintf(stderr, "length %zu: %s, want %s\n",
				    i, why ? why : "accepted", want);
		}
	}
	CHECK(bad == 0);
	CHECK(decode(w, b, len) == NULL);
}

static void
test_request_decode_reject(void)
{
	uint8_t *b = frame + PROTO_HDR_LEN;
	size_t len, i;
	long n;

	set_request_pull(3);
	n = proto_encode_request(&rq, frame, sizeof(frame));
	CHECK(n > 0);
	len = (size_t)n - PROTO_HDR_LEN;
	CHECK(decode(REQ, b, len) == NULL);

	memcpy(work, b, len);
	work[RQ_OP] = 0;
	CHECK_STR(decode(REQ, work, len), "unknown operation");
	work[RQ_OP] = 3;
	CHECK_STR(decode(REQ, work, len), "unknown operation");
	work[RQ_OP] = 0xff;
	CHECK_STR(decode(REQ, work, len), "unknown operation");

	/* caps (the first byte after op): known bits only */
	memcpy(work, b, len);
	work[RQ_RSV] = PROTO_CAP_KEY_UPDATE;
	CHECK(decode(REQ, work, len) == NULL);
	work[RQ_RSV] = PROTO_CAP_ALL + 1;
	CHECK_STR(decode(REQ, work, len), "unknown capabilities");
	work[RQ_RSV] = 0x80;
	CHECK_STR(decode(REQ, work, len), "unknown capabilities");
	for (i = 1; i < 3; i++) {
		memcpy(work, b, len);
		work[RQ_RSV + i] = 1;
		CHECK_STR(decode(REQ, work, len), "reserved bytes not zero");
	}

	memcpy(work, b, len);
	put_be32(work + RQ_ZFLAGS, PROTO_ZF_ALL + 1);
	CHECK_STR(decode(REQ, work, len), "unknown zfs flags");
	put_be32(work + RQ_ZFLAGS, 0x80000000u);
	CHECK_STR(decode(REQ, work, len), "unknown zfs flags");
	put_be32(work + RQ_ZFLAGS, 0xffffffffu);
	CHECK_STR(decode(REQ, work, len), "unknown zfs flags");
	put_be32(work + RQ_ZFLAGS, 0);
	CHECK(decode(REQ, work, len) == NULL);

	check_string_field(REQ, b, len, RQ_DATASET, PROTO_NAME_LEN);
	check_string_field(REQ, b, len, RQ_SNAPSHOT, PROTO_NAME_LEN);
	check_string_field(REQ, b, len, RQ_TOKEN, PROTO_TOKEN_LEN);

	memcpy(work, b, len);
	put_be32(work + RQ_NGUIDS, PROTO_MAX_GUIDS + 1);
	CHECK_STR(decode(REQ, work, len), "too many guids");
	put_be32(work + RQ_NGUIDS, 0xffffffffu);
	CHECK_STR(decode(REQ, work, len), "too many guids");
	put_be32(work + RQ_NGUIDS, 2);
	CHECK_STR(decode(REQ, work, len), "guid count does not match length");
	put_be32(work + RQ_NGUIDS, 4);
	CHECK_STR(decode(REQ, work, len), "guid count does not match length");
	put_be32(work + RQ_NGUIDS, 0);
	CHECK_STR(decode(REQ, work, len), "guid count does not match length");
	CHECK(decode(REQ, work, RQ_GUIDS) == NULL);
	put_be32(work + RQ_NGUIDS, 3);
	work[len] = 0;
	CHECK_STR(decode(REQ, work, len + 1),
	    "guid count does not match length");
	CHECK_STR(decode(REQ, work, len + 8),
	    "guid count does not match length");

	check_truncation(REQ, b, len, RQ_GUIDS);

	/* The first fault in wire order is the one reported. */
	memcpy(work, b, len);
	work[RQ_OP] = 9;
	work[RQ_RSV] = 1;
	CHECK_STR(decode(REQ, work, len), "unknown operation");
	CHECK_STR(decode(REQ, work, 1), "unknown operation");
}

/* ------------------------------------------------------------- reply */

static void
set_reply(uint8_t status, uint32_t nguids)
{
	uint32_t i;

	memset(&rp, 0, sizeof(rp));
	rp.status = status;
	if (status != PROTO_ST_OK)
		strcpy(rp.message, "dataset is busy: receive in progress");
	strcpy(rp.dataset, "tank/backup/host1");
	strcpy(rp.token, "1-resume-token");
	rp.nguids = nguids;
	for (i = 0; i < nguids && i < PROTO_MAX_GUIDS; i++)
		rp.guids[i] = ~(uint64_t)i * 0x9e3779b97f4a7c15ULL;
}

static long
roundtrip_reply(void)
{
	long n;

	n = proto_encode_reply(&rp, frame, sizeof(frame));
	CHECK(n > 0);
	if (n <= 0)
		return n;
	CHECK((size_t)n == proto_reply_size(&rp));
	CHECK(check_header(frame, n, PROTO_REPLY) ==
	    (uint32_t)(n - PROTO_HDR_LEN));
	CHECK(decode(REP, frame + PROTO_HDR_LEN,
	    (size_t)n - PROTO_HDR_LEN) == NULL);
	CHECK(reply_eq(&rp, &rp2));
	return n;
}

static void
test_reply_roundtrip(void)
{
	const uint8_t *b = frame + PROTO_HDR_LEN;
	uint8_t st;
	long n;

	for (st = 0; st <= PROTO_ST_MAX; st++) {
		set_reply(st, st);
		n = roundtrip_reply();
		CHECK(n == PROTO_HDR_LEN + RP_GUIDS + st * 8);
		CHECK(b[RP_STATUS] == st);
	}

	set_reply(PROTO_ST_DENIED, 2);
	n = roundtrip_reply();
	CHECK(all_zero(b + RP_RSV, 3));
	CHECK(memcmp(b + RP_MESSAGE, "dataset is busy", 15) == 0);
	CHECK(memcmp(b + RP_DATASET, "tank/backup/host1", 18) == 0);
	CHECK(memcmp(b + RP_TOKEN, "1-resume-token", 15) == 0);
	CHECK(be32(b + RP_NGUIDS) == 2);
	CHECK(be64(b + RP_GUIDS + 8) == rp.guids[1]);

	memset(&rp, 0, sizeof(rp));
	n = roundtrip_reply();
	CHECK(n == PROTO_HDR_LEN + RP_GUIDS);
	CHECK(all_zero(b, RP_GUIDS));

	set_reply(PROTO_ST_ERROR, 0);
	fill_str(rp.message, sizeof(rp.message), 'm', PROTO_MSG_LEN - 1);
	fill_str(rp.dataset, sizeof(rp.dataset), 'd', PROTO_NAME_LEN - 1);
	fill_str(rp.token, sizeof(rp.token), 't', PROTO_TOKEN_LEN - 1);
	roundtrip_reply();

	set_reply(PROTO_ST_OK, PROTO_MAX_GUIDS);
	n = roundtrip_reply();
	CHECK(n == PROTO_HDR_LEN + RP_GUIDS + PROTO_MAX_GUIDS * 8);
}

static void
test_reply_encode_reject(void)
{
	long n;

	set_reply(PROTO_ST_OK, 1);
	n = proto_encode_reply(&rp, frame, sizeof(frame));
	CHECK(n == PROTO_HDR_LEN + RP_GUIDS + 8);
	CHECK(proto_encode_reply(&rp, frame, (size_t)n - 1) == -1);

	set_reply(PROTO_ST_OK, 0);
	memset(rp.message, 'a', sizeof(rp.message));
	CHECK(proto_encode_reply(&rp, frame, sizeof(frame)) == -1);
	set_reply(PROTO_ST_OK, 0);
	memset(rp.dataset, 'a', sizeof(rp.dataset));
	CHECK(proto_encode_reply(&rp, frame, sizeof(frame)) == -1);
	set_reply(PROTO_ST_OK, 0);
	memset(rp.token, 'a', sizeof(rp.token));
	CHECK(proto_encode_reply(&rp, frame, sizeof(frame)) == -1);
	set_reply(PROTO_ST_OK, 0);
	strcpy(rp.message, "cannot open 'x': dataset does not exist\n");
	CHECK(proto_encode_reply(&rp, frame, sizeof(frame)) == -1);

	set_reply(PROTO_ST_OK, PROTO_MAX_GUIDS + 1);
	CHECK(proto_reply_size(&rp) == 0);
	CHECK(proto_encode_reply(&rp, frame, sizeof(frame)) == -1);

	set_reply(PROTO_ST_MAX + 1, 0);
	CHECK(proto_encode_reply(&rp, frame, sizeof(frame)) == -1);
}

static void
test_reply_decode_reject(void)
{
	uint8_t *b = frame + PROTO_HDR_LEN;
	size_t len, i;
	long n;

	set_reply(PROTO_ST_BUSY, 2);
	n = proto_encode_reply(&rp, frame, sizeof(frame));
	CHECK(n > 0);
	len = (size_t)n - PROTO_HDR_LEN;

	memcpy(work, b, len);
	work[RP_STATUS] = PROTO_ST_MAX + 1;
	CHECK_STR(decode(REP, work, len), "unknown status");
	work[RP_STATUS] = 0xff;
	CHECK_STR(decode(REP, work, len), "unknown status");

	memcpy(work, b, len);
	work[RP_RSV] = PROTO_CAP_KEY_UPDATE;
	CHECK(decode(REP, work, len) == NULL);
	work[RP_RSV] = 0x40;
	CHECK_STR(decode(REP, work, len), "unknown capabilities");
	for (i = 1; i < 3; i++) {
		memcpy(work, b, len);
		work[RP_RSV + i] = 0x40;
		CHECK_STR(decode(REP, work, len), "reserved bytes not zero");
	}

	check_string_field(REP, b, len, RP_MESSAGE, PROTO_MSG_LEN);
	check_string_field(REP, b, len, RP_DATASET, PROTO_NAME_LEN);
	check_string_field(REP, b, len, RP_TOKEN, PROTO_TOKEN_LEN);

	memcpy(work, b, len);
	put_be32(work + RP_NGUIDS, PROTO_MAX_GUIDS + 1);
	CHECK_STR(decode(REP, work, len), "too many guids");
	put_be32(work + RP_NGUIDS, 1);
	CHECK_STR(decode(REP, work, len), "guid count does not match length");
	put_be32(work + RP_NGUIDS, 2);
	work[len] = 0;
	CHECK_STR(decode(REP, work, len + 1),
	    "guid count does not match length");

	check_truncation(REP, b, len, RP_GUIDS);
}

/* ------------------------------------------------------------ result */

static long
roundtrip_result(void)
{
	long n;

	n = proto_encode_result(&rs, frame, sizeof(frame));
	CHECK(n == (long)proto_result_size());
	if (n <= 0)
		return n;
	CHECK(check_header(frame, n, PROTO_RESULT) == RS_LEN);
	CHECK(decode(RES, frame + PROTO_HDR_LEN, RS_LEN) == NULL);
	CHECK(result_eq(&rs, &rs2));
	return n;
}

static void
test_result_roundtrip(void)
{
	const uint8_t *b = frame + PROTO_HDR_LEN;
	static const int32_t exits[] = {
		0, 1, -1, 255, INT32_MAX, INT32_MIN, INT32_MIN + 1
	};
	size_t i;
	uint8_t st;

	CHECK(proto_result_size() == PROTO_HDR_LEN + RS_LEN);

	memset(&rs, 0, sizeof(rs));
	roundtrip_result();
	CHECK(all_zero(b, RS_LEN));

	rs.status = PROTO_ST_ERROR;
	rs.exit_status = -1;
	rs.bytes = 0x0102030405060708ULL;
	rs.guid = UINT64_MAX;
	strcpy(rs.message, "cannot receive: destination exists");
	roundtrip_result();
	CHECK(b[RS_STATUS] == PROTO_ST_ERROR);
	CHECK(all_zero(b + RS_RSV, 3));
	CHECK(be32(b + RS_EXIT) == 0xffffffffu);
	CHECK(b[RS_BYTES] == 0x01 && b[RS_BYTES + 7] == 0x08);
	CHECK(be64(b + RS_GUID) == UINT64_MAX);
	CHECK(memcmp(b + RS_MESSAGE, "cannot receive", 14) == 0);

	for (i = 0; i < sizeof(exits) / sizeof(exits[0]); i++) {
		rs.exit_status = exits[i];
		roundtrip_result();
		CHECK(be32(b + RS_EXIT) == (uint32_t)exits[i]);
	}

	/* a RESULT never sends anyone away (PROTO_ST_CIPHER: REPLY only) */
	for (st = 0; st <= PROTO_ST_ERROR; st++) {
		rs.status = st;
		roundtrip_result();
	}
	rs.status = PROTO_ST_CIPHER;
	CHECK(proto_encode_result(&rs, frame, sizeof(frame)) < 0);
	rs.status = PROTO_ST_OK;

	fill_str(rs.message, sizeof(rs.message), 'e',
	    PROTO_RESULT_MSG_LEN - 1);
	roundtrip_result();
	CHECK(strlen(rs2.message) == PROTO_RESULT_MSG_LEN - 1);
	CHECK(b[RS_LEN - 1] == 0);
}

static void
test_result_encode_reject(void)
{
	memset(&rs, 0, sizeof(rs));
	CHECK(proto_encode_result(&rs, frame, proto_result_size()) ==
	    (long)proto_result_size());
	CHECK(proto_encode_result(&rs, frame, proto_result_size() - 1) == -1);
	memset(rs.message, 'a', sizeof(rs.message));
	CHECK(proto_encode_result(&rs, frame, sizeof(frame)) == -1);
	memset(&rs, 0, sizeof(rs));
	strcpy(rs.message, "a\r\n");
	CHECK(proto_encode_result(&rs, frame, sizeof(frame)) == -1);
	memset(&rs, 0, sizeof(rs));
	rs.status = PROTO_ST_MAX + 1;
	CHECK(proto_encode_result(&rs, frame, sizeof(frame)) == -1);
}

static void
test_result_decode_reject(void)
{
	uint8_t *b = frame + PROTO_HDR_LEN;
	size_t i;

	memset(&rs, 0, sizeof(rs));
	rs.status = PROTO_ST_OK;
	rs.bytes = 12345;
	strcpy(rs.message, "ok");
	CHECK(proto_encode_result(&rs, frame, sizeof(frame)) > 0);

	memcpy(work, b, RS_LEN);
	work[RS_STATUS] = 5;
	CHECK_STR(decode(RES, work, RS_LEN), "unknown status");
	work[RS_STATUS] = 0x80;
	CHECK_STR(decode(RES, work, RS_LEN), "unknown status");

	for (i = 0; i < 3; i++) {
		memcpy(work, b, RS_LEN);
		work[RS_RSV + i] = 0xff;
		CHECK_STR(decode(RES, work, RS_LEN), "reserved bytes not zero");
	}

	check_string_field(RES, b, RS_LEN, RS_MESSAGE, PROTO_RESULT_MSG_LEN);

	/* Exactly the fixed length: shorter is truncated, longer is not a
	 * RESULT. */
	check_truncation(RES, b, RS_LEN, 0);
	memcpy(work, b, RS_LEN);
	work[RS_LEN] = 0;
	CHECK_STR(decode(RES, work, RS_LEN + 1), "body length out of range");
	CHECK_STR(decode(RES, work, RS_LEN + 64), "body length out of range");
}

/* ------------------------------------------------------------ frames */

/* A frame whose header promises more than the buffer holds: the header
 * alone is valid, and a decoder given only what is there refuses it. */
static void
test_short_frame(void)
{
	uint8_t type;
	uint32_t blen;
	const char *why;
	size_t avail;
	long n;

	set_request_pull(4);
	n = proto_encode_request(&rq, frame, sizeof(frame));
	CHECK(n > 0);
	avail = (size_t)n - PROTO_HDR_LEN;
	/* The header claims 8 bytes more than the message has; what the
	 * reader then pulls in after it (zeros here) is not a GUID. */
	put_be32(frame + 8, (uint32_t)(avail + 8));
	memset(frame + n, 0, 8);
	CHECK(proto_parse_header(frame, (size_t)n, &type, &blen, &why) == 0);
	CHECK(blen == avail + 8);
	CHECK_STR(decode(REQ, frame + PROTO_HDR_LEN, blen),
	    "guid count does not match length");
	/* The body alone is complete, so only the caller can notice that
	 * fewer than body_len bytes arrived: it must read all of them. */
	CHECK(decode(REQ, frame + PROTO_HDR_LEN, avail) == NULL);

	/* Lost the tail of a frame in transit. */
	put_be32(frame + 8, (uint32_t)(n - PROTO_HDR_LEN));
	CHECK_STR(decode(REQ, frame + PROTO_HDR_LEN, avail - 1),
	    "guid count does not match length");

	set_reply(PROTO_ST_OK, 0);
	n = proto_encode_reply(&rp, frame, sizeof(frame));
	CHECK(n > 0);
	put_be32(frame + 8, PROTO_MAX_BODY);
	CHECK(proto_parse_header(frame, (size_t)n, &type, &blen, &why) == 0);
	CHECK_STR(decode(REP, frame + PROTO_HDR_LEN, 100), "truncated");

	memset(&rs, 0, sizeof(rs));
	n = proto_encode_result(&rs, frame, sizeof(frame));
	CHECK(n > 0);
	CHECK(proto_parse_header(frame, (size_t)n, &type, &blen, &why) == 0);
	CHECK(blen == RS_LEN);
	CHECK_STR(decode(RES, frame + PROTO_HDR_LEN, 500), "truncated");

	/* A header of one type with the body of another. */
	CHECK(decode(REQ, frame + PROTO_HDR_LEN, RS_LEN) != NULL);
	CHECK(decode(REP, frame + PROTO_HDR_LEN, RS_LEN) != NULL);
}

static void
test_status_name(void)
{
	CHECK_STR(proto_status_name(PROTO_ST_OK), "ok");
	CHECK_STR(proto_status_name(PROTO_ST_DENIED), "denied");
	CHECK_STR(proto_status_name(PROTO_ST_NOTFOUND), "not found");
	CHECK_STR(proto_status_name(PROTO_ST_BUSY), "busy");
	CHECK_STR(proto_status_name(PROTO_ST_ERROR), "error");
	CHECK_STR(proto_status_name(PROTO_ST_MAX + 1), "unknown");
	CHECK_STR(proto_status_name(255), "unknown");
}

/* Version 2: LIST, LISTING (split across frames), HAVE, HAVING. */
static void
test_v2(void)
{
	static struct proto_listing l, d;
	static struct proto_have hv, hv2;
	static struct proto_having hg, hg2;
	static uint8_t buf[PROTO_HDR_LEN + PROTO_MAX_BODY];
	struct proto_list ls, ls2;
	const char *why = NULL;
	uint32_t taken = 0, blen, total = 0;
	uint8_t type;
	long n;

	memset(&ls, 0, sizeof(ls));
	ls.how = PROTO_LIST_PUSH;
	snprintf(ls.dataset, sizeof(ls.dataset), "backup/alpha/home");
	n = proto_encode_list(&ls, buf, sizeof(buf));
	CHECK(n == PROTO_HDR_LEN + 4 + PROTO_NAME_LEN && buf[4] == PROTO_VERSION2);
	CHECK(proto_parse_header(buf, (size_t)n, &type, &blen, &why) == 0 &&
	      type == PROTO_LIST);
	CHECK(proto_decode_list(buf + PROTO_HDR_LEN, blen, &ls2, &why) == 0);
	CHECK_STR(ls2.dataset, "backup/alpha/home");
	CHECK(ls2.how == PROTO_LIST_PUSH);
	buf[PROTO_HDR_LEN] = PROTO_LIST_PUSH_ALL + 1;   /* no such LIST */
	CHECK(proto_decode_list(buf + PROTO_HDR_LEN, blen, &ls2, &why) == -1);
	CHECK_STR(why, "unknown LIST kind");
	buf[PROTO_HDR_LEN] = PROTO_LIST_TREE;
	buf[PROTO_HDR_LEN + 2] = 1;     /* reserved */
	CHECK(proto_decode_list(buf + PROTO_HDR_LEN, blen, &ls2, &why) == -1);
	ls.how = PROTO_LIST_PUSH_ALL + 1;
	CHECK(proto_encode_list(&ls, buf, sizeof(buf)) == -1);

	/* a tree: datasets named "/path" below the one listed */
	memset(&l, 0, sizeof(l));
	snprintf(l.dataset, sizeof(l.dataset), "tank/home");
	l.n = 2;
	l.e[0] = (struct proto_entry){ 21, 5, PROTO_KIND_DATASET, "/a" };
	l.e[1] = (struct proto_entry){ 22, 6, PROTO_KIND_DATASET, "/a/b c" };
	n = proto_encode_listing(&l, 0, &taken, buf, sizeof(buf));
	CHECK(n > 0 && taken == 2);
	CHECK(proto_decode_listing(buf + PROTO_HDR_LEN, (size_t)n - PROTO_HDR_LEN,
				   &d, &why) == 0);
	CHECK(d.n == 2 && d.e[1].kind == PROTO_KIND_DATASET);
	CHECK_STR(d.e[1].name, "/a/b c");
	CHECK_STR(d.dataset, "tank/home");
	{
		static const char *const bad[] = { "/", "//a", "/a/", "/a//b",
						   "a/b", "/a@b", "/a#b" };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			l.n = 1;
			l.e[0] = (struct proto_entry){ 1, 1, PROTO_KIND_DATASET,
						       "" };
			snprintf(l.e[0].name, sizeof(l.e[0].name), "%s", bad[i]);
			CHECK(proto_encode_listing(&l, 0, &taken, buf,
						   sizeof(buf)) == -1);
		}
	}
	l.e[0] = (struct proto_entry){ 1, 1, PROTO_KIND_SNAPSHOT, "/a" };
	CHECK(proto_encode_listing(&l, 0, &taken, buf, sizeof(buf)) == -1);

	memset(&l, 0, sizeof(l));
	snprintf(l.token, sizeof(l.token), "1-abc-def-012");
	l.n = 3;
	l.e[0] = (struct proto_entry){ 11, 100, PROTO_KIND_SNAPSHOT, "@a" };
	l.e[1] = (struct proto_entry){ 12, 101, PROTO_KIND_BOOKMARK, "#b" };
	l.e[2] = (struct proto_entry){ 13, 102, PROTO_KIND_SNAPSHOT, "@c d:e" };
	n = proto_encode_listing(&l, 0, &taken, buf, sizeof(buf));
	CHECK(n > 0 && taken == 3);
	CHECK(proto_parse_header(buf, (size_t)n, &type, &blen, &why) == 0 &&
	      type == PROTO_LISTING);
	CHECK(proto_decode_listing(buf + PROTO_HDR_LEN, blen, &d, &why) == 0);
	CHECK(d.n == 3 && d.e[1].guid == 12 && d.e[1].kind == PROTO_KIND_BOOKMARK &&
	      d.e[2].createtxg == 102);
	CHECK_STR(d.e[2].name, "@c d:e");
	CHECK_STR(d.token, "1-abc-def-012");

	/* a listing longer than a frame: taken entries per frame, all of
	 * them after a few frames */
	l.n = PROTO_MAX_ENTRIES;
	for (uint32_t i = 0; i < l.n; i++) {
		l.e[i].guid = i + 1;
		l.e[i].createtxg = i;
		l.e[i].kind = PROTO_KIND_SNAPSHOT;
		snprintf(l.e[i].name, sizeof(l.e[i].name),
			 "@zfs-auto-snap_frequent-2026-12-01-%05u", i);
	}
	for (uint32_t first = 0; first < l.n; first += taken) {
		n = proto_encode_listing(&l, first, &taken, buf, sizeof(buf));
		CHECK(n > 0 && taken > 0);
		if (n <= 0 || taken == 0)
			break;
		CHECK(proto_parse_header(buf, (size_t)n, &type, &blen, &why) == 0);
		CHECK(proto_decode_listing(buf + PROTO_HDR_LEN, blen, &d, &why) == 0);
		CHECK(d.n == taken && d.e[0].guid == first + 1);
		total += taken;
	}
	CHECK(total == PROTO_MAX_ENTRIES);

	/* bad listings */
	l.n = 1;
	l.e[0] = (struct proto_entry){ 1, 1, PROTO_KIND_BOOKMARK, "@x" };
	CHECK(proto_encode_listing(&l, 0, &taken, buf, sizeof(buf)) == -1);
	l.e[0] = (struct proto_entry){ 1, 1, PROTO_KIND_SNAPSHOT, "@a/b" };
	CHECK(proto_encode_listing(&l, 0, &taken, buf, sizeof(buf)) == -1);
	l.e[0] = (struct proto_entry){ 1, 1, PROTO_KIND_SNAPSHOT, "@ok" };
	n = proto_encode_listing(&l, 0, &taken, buf, sizeof(buf));
	CHECK(n > 0);
	buf[n - 2] = '/';   /* "@/k" */
	CHECK(proto_decode_listing(buf + PROTO_HDR_LEN, (size_t)n - PROTO_HDR_LEN,
				   &d, &why) == -1);
	CHECK_STR(why, "bad entry name");
	buf[n - 2] = 'o';
	buf[n - 5] = 9;     /* kind */
	CHECK(proto_decode_listing(buf + PROTO_HDR_LEN, (size_t)n - PROTO_HDR_LEN,
				   &d, &why) == -1);
	CHECK_STR(why, "unknown entry kind");
	buf[n - 5] = PROTO_KIND_SNAPSHOT;
	CHECK(proto_decode_listing(buf + PROTO_HDR_LEN,
				   (size_t)n - PROTO_HDR_LEN - 1, &d, &why) == -1);
	CHECK(proto_decode_listing(buf + PROTO_HDR_LEN, (size_t)n - PROTO_HDR_LEN,
				   &d, &why) == 0);

	/* HAVE / HAVING */
	memset(&hv, 0, sizeof(hv));
	snprintf(hv.dataset, sizeof(hv.dataset), "tank/x");
	hv.n = 2;
	hv.guids[0] = 7;
	hv.guids[1] = 8;
	n = proto_encode_have(&hv, buf, sizeof(buf));
	CHECK(n == PROTO_HDR_LEN + PROTO_NAME_LEN + 4 + 16);
	CHECK(proto_decode_have(buf + PROTO_HDR_LEN, (size_t)n - PROTO_HDR_LEN,
				&hv2, &why) == 0 && hv2.n == 2 && hv2.guids[1] == 8);
	memset(&hg, 0, sizeof(hg));
	hg.n = 2;
	hg.have[1] = 1;
	n = proto_encode_having(&hg, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(proto_decode_having(buf + PROTO_HDR_LEN, (size_t)n - PROTO_HDR_LEN,
				  &hg2, &why) == 0 && hg2.n == 2 &&
	      hg2.have[0] == 0 && hg2.have[1] == 1);
	buf[n - 1] = 2;
	CHECK(proto_decode_having(buf + PROTO_HDR_LEN, (size_t)n - PROTO_HDR_LEN,
				  &hg2, &why) == -1);
	CHECK_STR(why, "have is 0 or 1");
	hg.have[0] = 5;
	CHECK(proto_encode_having(&hg, buf, sizeof(buf)) == -1);
}

int
main(void)
{
	test_header();
	test_request_roundtrip();
	test_request_encode_reject();
	test_request_decode_reject();
	test_reply_roundtrip();
	test_reply_encode_reject();
	test_reply_decode_reject();
	test_result_roundtrip();
	test_result_encode_reject();
	test_result_decode_reject();
	test_short_frame();
	test_status_name();
	test_v2();
	T_DONE("test_proto");
}
