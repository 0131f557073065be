/*
 * proto.c - encode and decode the zktls session messages (see proto.h).
 *
 * The decoders see bytes from a peer that has authenticated but is not
 * otherwise trusted, so they are strict: every message has exactly one
 * valid encoding and anything else is rejected with a static reason the
 * caller can log.  The encoders refuse to build a frame that the peer's
 * decoder would reject, so a local mistake fails here rather than there.
 * Nothing allocates; callers own every buffer.
 */
#include <stddef.h>
#include <string.h>

#include "proto.h"

/* Fixed part of each body, in wire bytes; see the layouts in proto.h. */
#define REQUEST_FIXED	(1 + 3 + 4 + PROTO_NAME_LEN + PROTO_NAME_LEN + \
			 PROTO_TOKEN_LEN + 4)
#define REPLY_FIXED	(1 + 3 + PROTO_MSG_LEN + PROTO_NAME_LEN + \
			 PROTO_TOKEN_LEN + 4)
#define RESULT_FIXED	(1 + 3 + 4 + 8 + 8 + PROTO_RESULT_MSG_LEN)

/* A largest valid message must still fit a frame, or it could not be sent. */
_Static_assert(REQUEST_FIXED + 8 * PROTO_MAX_GUIDS <= PROTO_MAX_BODY,
    "request with PROTO_MAX_GUIDS exceeds PROTO_MAX_BODY");
_Static_assert(REPLY_FIXED + 8 * PROTO_MAX_GUIDS <= PROTO_MAX_BODY,
    "reply with PROTO_MAX_GUIDS exceeds PROTO_MAX_BODY");

static int
fail(const char **why, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return -1;
}

/* Printable means no C0 control and no DEL; bytes >= 0x80 pass (UTF-8). */
static int
is_control(uint8_t c)
{
	return c < 0x20 || c == 0x7f;
}

/*
 * Bounded reader.  Each helper checks that its field is wholly present
 * before touching it, consumes it, and only then is the value inspected,
 * so no check can look past len.
 */
struct rd {
	const uint8_t	 *p;
	size_t		  len;
	size_t		  pos;
	const char	**why;
};

static int
rd_bytes(struct rd *r, void *dst, size_t n)
{
	if (r->len - r->pos < n)
		return fail(r->why, "truncated");
	memcpy(dst, r->p + r->pos, n);
	r->pos += n;
	return 0;
}

static int
rd_u8(struct rd *r, uint8_t *v)
{
	return rd_bytes(r, v, 1);
}

static int
rd_u16(struct rd *r, uint16_t *v)
{
	uint8_t b[2];

	if (rd_bytes(r, b, sizeof(b)) == -1)
		return -1;
	*v = (uint16_t)((uint16_t)b[0] << 8 | b[1]);
	return 0;
}

static int
rd_u32(struct rd *r, uint32_t *v)
{
	uint8_t b[4];

	if (rd_bytes(r, b, sizeof(b)) == -1)
		return -1;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	return 0;
}

static int
rd_u64(struct rd *r, uint64_t *v)
{
	uint32_t hi, lo;

	if (rd_u32(r, &hi) == -1 || rd_u32(r, &lo) == -1)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

/* Reserved bytes must be zero so that they can be given a meaning later. */
static int
rd_reserved(struct rd *r, size_t n)
{
	size_t i;

	if (r->len - r->pos < n)
		return fail(r->why, "truncated");
	for (i = 0; i < n; i++)
		if (r->p[r->pos + i] != 0)
			return fail(r->why, "reserved bytes not zero");
	r->pos += n;
	return 0;
}

/*
 * A fixed-width string field.  Checked in place, then copied whole: the
 * padding is known to be zero by then, so dst is a NUL-terminated string
 * with nothing hidden after it.  Control characters are refused because
 * these strings end up in logs, terminals and zfs command lines.
 */
static int
rd_str(struct rd *r, char *dst, size_t width)
{
	const uint8_t *s, *nul;
	size_t i, n;

	if (r->len - r->pos < width)
		return fail(r->why, "truncated");
	s = r->p + r->pos;
	if ((nul = memchr(s, '\0', width)) == NULL)
		return fail(r->why, "string not terminated");
	n = (size_t)(nul - s);
	for (i = 0; i < n; i++)
		if (is_control(s[i]))
			return fail(r->why, "string has control characters");
	for (i = n + 1; i < width; i++)
		if (s[i] != 0)
			return fail(r->why, "bad padding after string");
	memcpy(dst, s, width);
	r->pos += width;
	return 0;
}

/* The GUID list ends the body, so its count fixes the body length. */
static int
rd_guids(struct rd *r, uint64_t *guids, uint32_t *nguids)
{
	uint32_t i, n;

	if (rd_u32(r, &n) == -1)
		return -1;
	if (n > PROTO_MAX_GUIDS)
		return fail(r->why, "too many guids");
	if (r->len - r->pos != (size_t)n * 8)
		return fail(r->why, "guid count does not match length");
	for (i = 0; i < n; i++)
		if (rd_u64(r, &guids[i]) == -1)
			return -1;
	*nguids = n;
	return 0;
}

/*
 * Bounded writer.  The first write that would pass cap marks it failed and
 * every later write is dropped, so an encoder checks once at the end.
 */
struct wr {
	uint8_t	*p;
	size_t	 cap;
	size_t	 pos;
	int	 err;
};

static void
wr_bytes(struct wr *w, const void *src, size_t n)
{
	if (w->err || w->cap - w->pos < n) {
		w->err = 1;
		return;
	}
	memcpy(w->p + w->pos, src, n);
	w->pos += n;
}

static void
wr_zero(struct wr *w, size_t n)
{
	if (w->err || w->cap - w->pos < n) {
		w->err = 1;
		return;
	}
	memset(w->p + w->pos, 0, n);
	w->pos += n;
}

static void
wr_u8(struct wr *w, uint8_t v)
{
	wr_bytes(w, &v, 1);
}

static void
wr_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	wr_bytes(w, b, sizeof(b));
}

static void
wr_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4] = {
		(uint8_t)(v >> 24), (uint8_t)(v >> 16),
		(uint8_t)(v >> 8), (uint8_t)v
	};

	wr_bytes(w, b, sizeof(b));
}

static void
wr_u64(struct wr *w, uint64_t v)
{
	wr_u32(w, (uint32_t)(v >> 32));
	wr_u32(w, (uint32_t)v);
}

/*
 * Only the bytes up to the NUL are sent and the rest is zeroed: whatever a
 * caller left after the string in its struct stays local.
 */
static void
wr_str(struct wr *w, const char *s, size_t width)
{
	size_t i, n;

	n = strnlen(s, width);
	if (n == width) {
		w->err = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		if (is_control((uint8_t)s[i])) {
			w->err = 1;
			return;
		}
	}
	wr_bytes(w, s, n);
	wr_zero(w, width - n);
}

static void
wr_header(struct wr *w, uint8_t type, size_t body_len)
{
	wr_bytes(w, PROTO_MAGIC, 4);
	wr_u8(w, type >= PROTO_LIST ? PROTO_VERSION2 : PROTO_VERSION);
	wr_u8(w, type);
	wr_u16(w, 0);
	wr_u32(w, (uint32_t)body_len);
}

static int
valid_op(uint8_t op)
{
	return op == PROTO_OP_PUSH || op == PROTO_OP_PULL;
}

static int
valid_caps(uint8_t caps)
{
	return (caps & ~(unsigned)PROTO_CAP_ALL) == 0;
}

static int
valid_zflags(uint32_t zflags)
{
	return (zflags & ~(uint32_t)PROTO_ZF_ALL) == 0;
}

static int
valid_status(uint8_t status)
{
	return status <= PROTO_ST_ERROR;
}

/* A REPLY may also send the client away (PROTO_ST_CIPHER). */
static int
valid_reply_status(uint8_t status)
{
	return status <= PROTO_ST_MAX;
}

/* 0 for a count no frame can carry; the encoder refuses it anyway. */
size_t
proto_request_size(const struct proto_request *m)
{
	if (m->nguids > PROTO_MAX_GUIDS)
		return 0;
	return PROTO_HDR_LEN + REQUEST_FIXED + (size_t)m->nguids * 8;
}

size_t
proto_reply_size(const struct proto_reply *m)
{
	if (m->nguids > PROTO_MAX_GUIDS)
		return 0;
	return PROTO_HDR_LEN + REPLY_FIXED + (size_t)m->nguids * 8;
}

size_t
proto_result_size(void)
{
	return PROTO_HDR_LEN + RESULT_FIXED;
}

long
proto_encode_request(const struct proto_request *m, uint8_t *buf, size_t cap)
{
	struct wr w = { buf, cap, 0, 0 };
	uint32_t i;

	if (!valid_op(m->op) || !valid_zflags(m->zflags) ||
	    !valid_caps(m->caps) || m->nguids > PROTO_MAX_GUIDS)
		return -1;
	wr_header(&w, PROTO_REQUEST, proto_request_size(m) - PROTO_HDR_LEN);
	wr_u8(&w, m->op);
	wr_u8(&w, m->caps);
	wr_zero(&w, 2);
	wr_u32(&w, m->zflags);
	wr_str(&w, m->dataset, sizeof(m->dataset));
	wr_str(&w, m->snapshot, sizeof(m->snapshot));
	wr_str(&w, m->token, sizeof(m->token));
	wr_u32(&w, m->nguids);
	for (i = 0; i < m->nguids; i++)
		wr_u64(&w, m->guids[i]);
	if (w.err)
		return -1;
	return (long)w.pos;
}

long
proto_encode_reply(const struct proto_reply *m, uint8_t *buf, size_t cap)
{
	struct wr w = { buf, cap, 0, 0 };
	uint32_t i;

	if (!valid_reply_status(m->status) || !valid_caps(m->caps) ||
	    m->nguids > PROTO_MAX_GUIDS)
		return -1;
	wr_header(&w, PROTO_REPLY, proto_reply_size(m) - PROTO_HDR_LEN);
	wr_u8(&w, m->status);
	wr_u8(&w, m->caps);
	wr_zero(&w, 2);
	wr_str(&w, m->message, sizeof(m->message));
	wr_str(&w, m->dataset, sizeof(m->dataset));
	wr_str(&w, m->token, sizeof(m->token));
	wr_u32(&w, m->nguids);
	for (i = 0; i < m->nguids; i++)
		wr_u64(&w, m->guids[i]);
	if (w.err)
		return -1;
	return (long)w.pos;
}

long
proto_encode_result(const struct proto_result *m, uint8_t *buf, size_t cap)
{
	struct wr w = { buf, cap, 0, 0 };

	if (!valid_status(m->status))
		return -1;
	wr_header(&w, PROTO_RESULT, RESULT_FIXED);
	wr_u8(&w, m->status);
	wr_zero(&w, 3);
	wr_u32(&w, (uint32_t)m->exit_status);
	wr_u64(&w, m->bytes);
	wr_u64(&w, m->guid);
	wr_str(&w, m->message, sizeof(m->message));
	if (w.err)
		return -1;
	return (long)w.pos;
}

/*
 * Only the first PROTO_HDR_LEN bytes are looked at: the caller reads the
 * header, then exactly body_len more bytes for the body.
 */
int
proto_parse_header(const uint8_t *hdr, size_t len, uint8_t *type,
    uint32_t *body_len, const char **why)
{
	struct rd r = { hdr, len, 0, why };
	uint8_t magic[4], version, t;
	uint16_t reserved;
	uint32_t blen;

	if (rd_bytes(&r, magic, sizeof(magic)) == -1)
		return -1;
	if (memcmp(magic, PROTO_MAGIC, sizeof(magic)) != 0)
		return fail(why, "bad magic");
	if (rd_u8(&r, &version) == -1)
		return -1;
	if (version != PROTO_VERSION && version != PROTO_VERSION2)
		return fail(why, "unsupported protocol version");
	if (rd_u8(&r, &t) == -1)
		return -1;
	if (t < PROTO_REQUEST || t > PROTO_HAVING)
		return fail(why, "unknown message type");
	/* Each type has one version: the first three 1, the others 2. */
	if (version != (t >= PROTO_LIST ? PROTO_VERSION2 : PROTO_VERSION))
		return fail(why, "message type not of its protocol version");
	if (rd_u16(&r, &reserved) == -1)
		return -1;
	if (reserved != 0)
		return fail(why, "reserved bytes not zero");
	if (rd_u32(&r, &blen) == -1)
		return -1;
	if (blen > PROTO_MAX_BODY)
		return fail(why, "body length out of range");
	*type = t;
	*body_len = blen;
	return 0;
}

/*
 * The decoders clear *m first, so fields a message does not carry (the
 * GUID slots past nguids) are zero rather than stale.  On failure *m holds
 * a partial decode and must not be used.
 */
int
proto_decode_request(const uint8_t *body, size_t len,
    struct proto_request *m, const char **why)
{
	struct rd r = { body, len, 0, why };

	memset(m, 0, sizeof(*m));
	if (rd_u8(&r, &m->op) == -1)
		return -1;
	if (!valid_op(m->op))
		return fail(why, "unknown operation");
	if (rd_u8(&r, &m->caps) == -1)
		return -1;
	if (!valid_caps(m->caps))
		return fail(why, "unknown capabilities");
	if (rd_reserved(&r, 2) == -1 || rd_u32(&r, &m->zflags) == -1)
		return -1;
	if (!valid_zflags(m->zflags))
		return fail(why, "unknown zfs flags");
	if (rd_str(&r, m->dataset, sizeof(m->dataset)) == -1 ||
	    rd_str(&r, m->snapshot, sizeof(m->snapshot)) == -1 ||
	    rd_str(&r, m->token, sizeof(m->token)) == -1)
		return -1;
	return rd_guids(&r, m->guids, &m->nguids);
}

int
proto_decode_reply(const uint8_t *body, size_t len, struct proto_reply *m,
    const char **why)
{
	struct rd r = { body, len, 0, why };

	memset(m, 0, sizeof(*m));
	if (rd_u8(&r, &m->status) == -1)
		return -1;
	if (!valid_reply_status(m->status))
		return fail(why, "unknown status");
	if (rd_u8(&r, &m->caps) == -1)
		return -1;
	if (!valid_caps(m->caps))
		return fail(why, "unknown capabilities");
	if (rd_reserved(&r, 2) == -1 ||
	    rd_str(&r, m->message, sizeof(m->message)) == -1 ||
	    rd_str(&r, m->dataset, sizeof(m->dataset)) == -1 ||
	    rd_str(&r, m->token, sizeof(m->token)) == -1)
		return -1;
	return rd_guids(&r, m->guids, &m->nguids);
}

int
proto_decode_result(const uint8_t *body, size_t len,
    struct proto_result *m, const char **why)
{
	struct rd r = { body, len, 0, why };
	uint32_t exit_status;

	memset(m, 0, sizeof(*m));
	if (rd_u8(&r, &m->status) == -1)
		return -1;
	if (!valid_status(m->status))
		return fail(why, "unknown status");
	if (rd_reserved(&r, 3) == -1 ||
	    rd_u32(&r, &exit_status) == -1 ||
	    rd_u64(&r, &m->bytes) == -1 ||
	    rd_u64(&r, &m->guid) == -1 ||
	    rd_str(&r, m->message, sizeof(m->message)) == -1)
		return -1;
	/* Two's complement on the wire; the conversion back is explicit. */
	m->exit_status = exit_status > INT32_MAX ?
	    (int32_t)(exit_status - (uint32_t)INT32_MAX - 1) + INT32_MIN :
	    (int32_t)exit_status;
	if (r.pos != r.len)
		return fail(why, "body length out of range");
	return 0;
}

/* ------------------------------------------------------------ version 2 */

#define LIST_FIXED	(1 + 3 + PROTO_NAME_LEN)
#define LISTING_FIXED	(1 + 1 + 2 + PROTO_MSG_LEN + PROTO_TOKEN_LEN + \
			 PROTO_NAME_LEN + 4)
#define HAVE_FIXED	(PROTO_NAME_LEN + 4)
#define HAVING_FIXED	(1 + 3 + PROTO_MSG_LEN + 4)
#define ENTRY_FIXED	(8 + 8 + 1 + 1)

_Static_assert(HAVE_FIXED + 8 * PROTO_MAX_GUIDS <= PROTO_MAX_BODY,
    "have with PROTO_MAX_GUIDS exceeds PROTO_MAX_BODY");
_Static_assert(HAVING_FIXED + PROTO_MAX_GUIDS <= PROTO_MAX_BODY,
    "having with PROTO_MAX_GUIDS exceeds PROTO_MAX_BODY");
_Static_assert(LISTING_FIXED + (ENTRY_FIXED + 2) * PROTO_MAX_ENTRIES >
    PROTO_MAX_BODY, "PROTO_MAX_ENTRIES is not the frame's limit");

/* A listing entry's name, by its kind: '@' (snapshot) or '#' (bookmark)
 * and ZFS component characters; a dataset: "/" and components separated
 * by single '/'. */
static int
entry_name_ok(const char *s, size_t n, uint8_t kind)
{
	char lead = kind == PROTO_KIND_SNAPSHOT ? '@'
		    : kind == PROTO_KIND_BOOKMARK ? '#'
		    : kind == PROTO_KIND_DATASET || kind == PROTO_KIND_PARTIAL ||
				      kind == PROTO_KIND_EXCLUDED
			    ? '/' : 0;
	size_t path = 0;

	if (lead == 0 || n < 2)
		return 0;
	/* a snapshot or bookmark of a dataset below: "/path" first */
	if (lead != '/' && s[0] == '/') {
		const char *at = memchr(s, lead, n);

		if (at == NULL || at == s + 1 || at[-1] == '/' ||
		    !entry_name_ok(s, (size_t)(at - s), PROTO_KIND_DATASET))
			return 0;
		path = (size_t)(at - s);
	}
	if (n - path < 2 || s[path] != lead)
		return 0;
	for (size_t i = path + 1; i < n; i++) {
		char c = s[i];
		if (c == '/' && lead == '/' && s[i - 1] != '/' && i + 1 < n)
			continue;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == ':' || c == ' '))
			return 0;
	}
	return 1;
}

long
proto_encode_list(const struct proto_list *m, uint8_t *buf, size_t cap)
{
	struct wr w = { buf, cap, 0, 0 };

	if (m->how > PROTO_LIST_PUSH_ALL)
		return -1;
	wr_header(&w, PROTO_LIST, LIST_FIXED);
	wr_u8(&w, m->how);
	wr_zero(&w, 3);
	wr_str(&w, m->dataset, sizeof(m->dataset));
	if (w.err)
		return -1;
	return (long)w.pos;
}

long
proto_encode_listing(const struct proto_listing *m, uint32_t first,
    uint32_t *taken, uint8_t *buf, size_t cap)
{
	struct wr w = { buf, cap, 0, 0 };
	size_t body = LISTING_FIXED;
	uint32_t n = 0, i;

	if (!valid_status(m->status) || m->more > 1 || first > m->n)
		return -1;
	/* as many entries as fit one frame */
	while (first + n < m->n && n < PROTO_MAX_ENTRIES) {
		const struct proto_entry *e = &m->e[first + n];
		size_t nl = strnlen(e->name, sizeof(e->name));
		if (!entry_name_ok(e->name, nl, e->kind) || nl > 255)
			return -1;
		if (body + ENTRY_FIXED + nl > PROTO_MAX_BODY ||
		    PROTO_HDR_LEN + body + ENTRY_FIXED + nl > cap)
			break;
		body += ENTRY_FIXED + nl;
		n++;
	}
	wr_header(&w, PROTO_LISTING, body);
	wr_u8(&w, m->status);
	wr_u8(&w, m->more);
	wr_zero(&w, 2);
	wr_str(&w, m->message, sizeof(m->message));
	wr_str(&w, m->token, sizeof(m->token));
	wr_str(&w, m->dataset, sizeof(m->dataset));
	wr_u32(&w, n);
	for (i = 0; i < n; i++) {
		const struct proto_entry *e = &m->e[first + i];
		size_t nl = strlen(e->name);
		wr_u64(&w, e->guid);
		wr_u64(&w, e->createtxg);
		wr_u8(&w, e->kind);
		wr_u8(&w, (uint8_t)nl);
		wr_bytes(&w, e->name, nl);
	}
	if (w.err)
		return -1;
	*taken = n;
	return (long)w.pos;
}

long
proto_encode_have(const struct proto_have *m, uint8_t *buf, size_t cap)
{
	struct wr w = { buf, cap, 0, 0 };

	if (m->n > PROTO_MAX_GUIDS)
		return -1;
	wr_header(&w, PROTO_HAVE, HAVE_FIXED + (size_t)m->n * 8);
	wr_str(&w, m->dataset, sizeof(m->dataset));
	wr_u32(&w, m->n);
	for (uint32_t i = 0; i < m->n; i++)
		wr_u64(&w, m->guids[i]);
	if (w.err)
		return -1;
	return (long)w.pos;
}

long
proto_encode_having(const struct proto_having *m, uint8_t *buf, size_t cap)
{
	struct wr w = { buf, cap, 0, 0 };

	if (!valid_status(m->status) || m->n > PROTO_MAX_GUIDS)
		return -1;
	for (uint32_t i = 0; i < m->n; i++)
		if (m->have[i] > 1)
			return -1;
	wr_header(&w, PROTO_HAVING, HAVING_FIXED + (size_t)m->n);
	wr_u8(&w, m->status);
	wr_zero(&w, 3);
	wr_str(&w, m->message, sizeof(m->message));
	wr_u32(&w, m->n);
	wr_bytes(&w, m->have, m->n);
	if (w.err)
		return -1;
	return (long)w.pos;
}

int
proto_decode_list(const uint8_t *body, size_t len, struct proto_list *m,
    const char **why)
{
	struct rd r = { body, len, 0, why };

	memset(m, 0, sizeof(*m));
	if (rd_u8(&r, &m->how) == -1)
		return -1;
	if (m->how > PROTO_LIST_PUSH_ALL)
		return fail(why, "unknown LIST kind");
	if (rd_reserved(&r, 3) == -1 ||
	    rd_str(&r, m->dataset, sizeof(m->dataset)) == -1)
		return -1;
	if (r.pos != r.len)
		return fail(why, "body length out of range");
	return 0;
}

int
proto_decode_listing(const uint8_t *body, size_t len,
    struct proto_listing *m, const char **why)
{
	struct rd r = { body, len, 0, why };
	uint32_t n;

	memset(m, 0, offsetof(struct proto_listing, e));
	if (rd_u8(&r, &m->status) == -1 || rd_u8(&r, &m->more) == -1)
		return -1;
	if (!valid_status(m->status))
		return fail(why, "unknown status");
	if (m->more > 1)
		return fail(why, "bad continuation flag");
	if (rd_reserved(&r, 2) == -1 ||
	    rd_str(&r, m->message, sizeof(m->message)) == -1 ||
	    rd_str(&r, m->token, sizeof(m->token)) == -1 ||
	    rd_str(&r, m->dataset, sizeof(m->dataset)) == -1 ||
	    rd_u32(&r, &n) == -1)
		return -1;
	if (n > PROTO_MAX_ENTRIES)
		return fail(why, "too many entries");
	for (uint32_t i = 0; i < n; i++) {
		struct proto_entry *e = &m->e[i];
		uint8_t nl;

		memset(e, 0, sizeof(*e));
		if (rd_u64(&r, &e->guid) == -1 ||
		    rd_u64(&r, &e->createtxg) == -1 ||
		    rd_u8(&r, &e->kind) == -1 || rd_u8(&r, &nl) == -1 ||
		    rd_bytes(&r, e->name, nl) == -1)
			return -1;
		if (e->kind < PROTO_KIND_SNAPSHOT ||
		    e->kind > PROTO_KIND_EXCLUDED)
			return fail(why, "unknown entry kind");
		if (!entry_name_ok(e->name, nl, e->kind))
			return fail(why, "bad entry name");
	}
	m->n = n;
	if (r.pos != r.len)
		return fail(why, "entry count does not match length");
	return 0;
}

int
proto_decode_have(const uint8_t *body, size_t len, struct proto_have *m,
    const char **why)
{
	struct rd r = { body, len, 0, why };

	memset(m, 0, sizeof(*m));
	if (rd_str(&r, m->dataset, sizeof(m->dataset)) == -1)
		return -1;
	return rd_guids(&r, m->guids, &m->n);
}

int
proto_decode_having(const uint8_t *body, size_t len, struct proto_having *m,
    const char **why)
{
	struct rd r = { body, len, 0, why };
	uint32_t n;

	memset(m, 0, sizeof(*m));
	if (rd_u8(&r, &m->status) == -1)
		return -1;
	if (!valid_status(m->status))
		return fail(why, "unknown status");
	if (rd_reserved(&r, 3) == -1 ||
	    rd_str(&r, m->message, sizeof(m->message)) == -1 ||
	    rd_u32(&r, &n) == -1)
		return -1;
	if (n > PROTO_MAX_GUIDS)
		return fail(why, "too many guids");
	if (r.len - r.pos != n)
		return fail(why, "count does not match length");
	for (uint32_t i = 0; i < n; i++) {
		if (rd_u8(&r, &m->have[i]) == -1)
			return -1;
		if (m->have[i] > 1)
			return fail(why, "have is 0 or 1");
	}
	m->n = n;
	return 0;
}

int
proto_listing_fits(uint8_t how, const struct proto_listing *m,
		   const char **why)
{
	for (uint32_t i = 0; i < m->n; i++) {
		const struct proto_entry *e = &m->e[i];

		switch (how) {
		case PROTO_LIST_DATASET:
		case PROTO_LIST_PUSH:
			if ((e->kind != PROTO_KIND_SNAPSHOT &&
			     e->kind != PROTO_KIND_BOOKMARK) ||
			    e->name[0] == '/')
				return fail(why, "an entry that is not the "
					    "dataset's own snapshot or bookmark");
			break;
		case PROTO_LIST_TREE:
			if (e->kind != PROTO_KIND_DATASET)
				return fail(why, "an entry that is not a "
					    "dataset in a tree's listing");
			break;
		case PROTO_LIST_ALL:
		case PROTO_LIST_PUSH_ALL:
			break;
		default:
			return fail(why, "unknown LIST kind");
		}
	}
	return 0;
}

const char *
proto_status_name(uint8_t status)
{
	switch (status) {
	case PROTO_ST_OK:
		return "ok";
	case PROTO_ST_DENIED:
		return "denied";
	case PROTO_ST_NOTFOUND:
		return "not found";
	case PROTO_ST_BUSY:
		return "busy";
	case PROTO_ST_ERROR:
		return "error";
	case PROTO_ST_CIPHER:
		return "needs ChaCha20-Poly1305";
	default:
		return "unknown";
	}
}
