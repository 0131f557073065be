/*
 * fuzz_proto.c - libFuzzer target for the session-message decoders.
 *
 * An input that starts with a valid header is taken as a frame: the
 * header's type picks the decoder and the body is what follows (at most
 * body_len bytes).  Any other input is a bare body, its first byte picking
 * the type, so the body decoders are reached without the fuzzer first
 * having to discover the magic.
 *
 * Beyond not crashing, a decoded message must re-encode, and because the
 * format has exactly one encoding per message the result must be the very
 * same bytes, and must decode to the same message.  Any difference aborts.
 * A LISTING that tree_from_wire takes as a whole tree's must come back
 * from tree_to_wire entry for entry.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *       fuzz/fuzz_proto.c src/proto.c src/tree.c src/err.c -o /tmp/fuzz_proto
 *   mkdir -p /tmp/fuzz_proto_corpus
 *   /tmp/fuzz_proto -max_len=34400 -max_total_time=60 \
 *       /tmp/fuzz_proto_corpus fuzz/corpus/proto
 * (-max_len lets a request carry PROTO_MAX_GUIDS; new inputs go to the
 * first directory, so the checked-in seeds stay as they are.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Static: the structs are ~34 KiB each, and libFuzzer is single-threaded. */
static struct proto_request rq1, rq2;
static struct proto_reply rp1, rp2;
static struct proto_result rs1, rs2;
static struct proto_list ls1, ls2;
static struct proto_listing lg1, lg2, lg3;
static struct tree tr;
static struct proto_have hv1, hv2;
static struct proto_having hg1, hg2;
static uint8_t out[PROTO_HDR_LEN + PROTO_MAX_BODY];

/* A rejection must come with a reason. */
static void
check_why(const char *why)
{
	if (why == NULL || *why == '\0')
		abort();
}

/* The strings compare whole: a decoder leaves zero padding after the NUL,
 * and a mismatch there would be a difference the encoder could not see. */
static int
request_eq(const struct proto_request *a, const struct proto_request *b)
{
	return a->op == b->op && a->zflags == b->zflags &&
	    memcmp(a->dataset, b->dataset, sizeof(a->dataset)) == 0 &&
	    memcmp(a->snapshot, b->snapshot, sizeof(a->snapshot)) == 0 &&
	    memcmp(a->token, b->token, sizeof(a->token)) == 0 &&
	    a->nguids == b->nguids && a->nguids <= PROTO_MAX_GUIDS &&
	    memcmp(a->guids, b->guids, a->nguids * sizeof(a->guids[0])) == 0;
}

static int
reply_eq(const struct proto_reply *a, const struct proto_reply *b)
{
	return a->status == b->status &&
	    memcmp(a->message, b->message, sizeof(a->message)) == 0 &&
	    memcmp(a->dataset, b->dataset, sizeof(a->dataset)) == 0 &&
	    memcmp(a->token, b->token, sizeof(a->token)) == 0 &&
	    a->nguids == b->nguids && a->nguids <= PROTO_MAX_GUIDS &&
	    memcmp(a->guids, b->guids, a->nguids * sizeof(a->guids[0])) == 0;
}

static int
result_eq(const struct proto_result *a, const struct proto_result *b)
{
	return a->status == b->status && a->exit_status == b->exit_status &&
	    a->bytes == b->bytes && a->guid == b->guid &&
	    memcmp(a->message, b->message, sizeof(a->message)) == 0;
}

/*
 * The re-encoded frame: its header must parse as this type and length, its
 * body must equal the input body, and, when the input was a whole frame,
 * its header must equal the input header too.
 */
static const uint8_t *
check_frame(long n, uint8_t type, const uint8_t *hdr, const uint8_t *body,
    size_t len)
{
	uint8_t t;
	uint32_t blen;
	const char *why = NULL;

	if (n < 0 || (size_t)n != PROTO_HDR_LEN + len)
		abort();
	if (proto_parse_header(out, (size_t)n, &t, &blen, &why) != 0)
		abort();
	if (t != type || blen != len)
		abort();
	if (hdr != NULL && memcmp(out, hdr, PROTO_HDR_LEN) != 0)
		abort();
	if (memcmp(out + PROTO_HDR_LEN, body, len) != 0)
		abort();
	return out + PROTO_HDR_LEN;
}

static void
fuzz_body(uint8_t type, const uint8_t *hdr, const uint8_t *body, size_t len)
{
	const uint8_t *b;
	const char *why = NULL;
	long n;

	switch (type) {
	case PROTO_REQUEST:
		if (proto_decode_request(body, len, &rq1, &why) != 0) {
			check_why(why);
			return;
		}
		n = proto_encode_request(&rq1, out, sizeof(out));
		if ((size_t)n != proto_request_size(&rq1))
			abort();
		b = check_frame(n, type, hdr, body, len);
		if (proto_decode_request(b, len, &rq2, &why) != 0 ||
		    !request_eq(&rq1, &rq2))
			abort();
		break;
	case PROTO_REPLY:
		if (proto_decode_reply(body, len, &rp1, &why) != 0) {
			check_why(why);
			return;
		}
		n = proto_encode_reply(&rp1, out, sizeof(out));
		if ((size_t)n != proto_reply_size(&rp1))
			abort();
		b = check_frame(n, type, hdr, body, len);
		if (proto_decode_reply(b, len, &rp2, &why) != 0 ||
		    !reply_eq(&rp1, &rp2))
			abort();
		break;
	case PROTO_RESULT:
		if (proto_decode_result(body, len, &rs1, &why) != 0) {
			check_why(why);
			return;
		}
		n = proto_encode_result(&rs1, out, sizeof(out));
		if ((size_t)n != proto_result_size())
			abort();
		b = check_frame(n, type, hdr, body, len);
		if (proto_decode_result(b, len, &rs2, &why) != 0 ||
		    !result_eq(&rs1, &rs2))
			abort();
		/* Exercised for its bounds, not its answer. */
		if (proto_status_name(rs1.status) == NULL)
			abort();
		break;
	case PROTO_LIST:
		if (proto_decode_list(body, len, &ls1, &why) != 0) {
			check_why(why);
			return;
		}
		n = proto_encode_list(&ls1, out, sizeof(out));
		b = check_frame(n, type, hdr, body, len);
		if (proto_decode_list(b, len, &ls2, &why) != 0 ||
		    memcmp(&ls1, &ls2, sizeof(ls1)) != 0)
			abort();
		break;
	case PROTO_LISTING: {
		uint32_t taken = 0;

		if (proto_decode_listing(body, len, &lg1, &why) != 0) {
			check_why(why);
			return;
		}
		/* a decoded frame re-encodes whole, into one frame */
		n = proto_encode_listing(&lg1, 0, &taken, out, sizeof(out));
		if (taken != lg1.n)
			abort();
		b = check_frame(n, type, hdr, body, len);
		if (proto_decode_listing(b, len, &lg2, &why) != 0 ||
		    lg2.n != lg1.n || lg2.status != lg1.status ||
		    lg2.more != lg1.more ||
		    memcmp(lg1.e, lg2.e, lg1.n * sizeof(lg1.e[0])) != 0)
			abort();
		/* as a whole tree's listing (PROTO_LIST_ALL) */
		if (tr.e == NULL && tree_alloc(&tr) < 0)
			abort();
		why = NULL;
		if (tree_from_wire(&lg1, &tr, &why) != 0) {
			check_why(why);
			return;
		}
		if (tree_to_wire(&tr, &lg3) != 0 || lg3.n != lg1.n ||
		    memcmp(lg1.e, lg3.e, lg1.n * sizeof(lg1.e[0])) != 0)
			abort();
		break;
	}
	case PROTO_HAVE:
		if (proto_decode_have(body, len, &hv1, &why) != 0) {
			check_why(why);
			return;
		}
		n = proto_encode_have(&hv1, out, sizeof(out));
		b = check_frame(n, type, hdr, body, len);
		if (proto_decode_have(b, len, &hv2, &why) != 0 ||
		    hv2.n != hv1.n ||
		    memcmp(hv1.guids, hv2.guids, hv1.n * 8) != 0)
			abort();
		break;
	case PROTO_HAVING:
		if (proto_decode_having(body, len, &hg1, &why) != 0) {
			check_why(why);
			return;
		}
		n = proto_encode_having(&hg1, out, sizeof(out));
		b = check_frame(n, type, hdr, body, len);
		if (proto_decode_having(b, len, &hg2, &why) != 0 ||
		    hg2.n != hg1.n || memcmp(hg1.have, hg2.have, hg1.n) != 0)
			abort();
		break;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t type;
	uint32_t blen;
	size_t len;
	const char *why = NULL;

	if (proto_parse_header(data, size, &type, &blen, &why) == 0) {
		len = size - PROTO_HDR_LEN;
		if (len > blen)
			len = blen;
		/* A short frame's header cannot match a re-encoding. */
		fuzz_body(type, len == blen ? data : NULL,
		    data + PROTO_HDR_LEN, len);
		return 0;
	}
	check_why(why);
	if (size == 0)
		return 0;
	type = (uint8_t)(PROTO_REQUEST + data[0] % 7);
	fuzz_body(type, NULL, data + 1, size - 1);
	return 0;
}
