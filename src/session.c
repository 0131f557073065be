/*
 * session.c - one transfer, end to end: connect or accept, handshake,
 * kernel switch, REQUEST/REPLY, STREAM, close_notify, RESULT.
 *
 * The state machine is drawn in zktls.h.  Both roles and both directions
 * of connection run through here; the plane does the moving and this file
 * never asks which plane it drives.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"
#include "zktls.h"

struct session {
	const struct conf *cf;
	const struct policy *pol;
	int server;
	struct chan c;
	struct endpoint ep;
	struct xfer x;
	char addr[300];
	struct proto_request *req;
	struct proto_reply *rep;
	struct proto_result res;
	int have_result;
	struct zfs_req zreq;       /* the zfs request the endpoint runs */
	char target[PROTO_NAME_LEN];    /* receiver: where zfs receives */
	char snapname[PROTO_NAME_LEN];  /* the source snapshot's full name */
	char token[PROTO_TOKEN_LEN];    /* resume token in use, or "" */
	char plane_why[300];
	uint64_t guid;                  /* sent / received snapshot guid */
	uint8_t *msgbuf;
	double t0;                      /* when the session was prepared */
	const struct session_serve *serve; /* serve: decides per REQUEST */
	uint8_t last_type;              /* of the frame recv_frame read */
	int attached;                   /* the connection is switched */
	int queries;                    /* LIST/HAVE answered (server) */
	int denied;                     /* of them, refused by policy */
	int last_denied;                /* the last one was refused */
	int queries_only;               /* the client asked, then closed */
	int cipher_retry;               /* REPLY said PROTO_ST_CIPHER */
	int sent_away;                  /* we answered PROTO_ST_CIPHER */
	struct session_result result;
};

#define MSGBUF_LEN (PROTO_HDR_LEN + PROTO_MAX_BODY)

/* ------------------------------------------------------------ messages */

/* Copy text into a protocol string field: no control characters (the
 * peer's parser rejects them), truncated to fit. */
static void
set_text(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src && src[i] && i + 1 < cap; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f)
				 ? ' ' : src[i];
	dst[i] = '\0';
}

static int
send_frame(struct session *s, long len)
{
	if (len < 0)
		return zk_fail(ZK_ESYS, "message does not fit its fields");
	return s->c.plane->write(&s->c, s->msgbuf, (size_t)len);
}

/* Read one frame of the wanted type into s->msgbuf; returns body length. */
static long
recv_frame(struct session *s, uint8_t want)
{
	uint8_t type;
	uint32_t len;
	const char *why = NULL;
	int r;

	if ((r = chan_read_full(&s->c, s->msgbuf, PROTO_HDR_LEN)) < 0)
		return r;
	if (proto_parse_header(s->msgbuf, PROTO_HDR_LEN, &type, &len, &why) < 0)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: %s", why);
	s->last_type = type;
	if (want != 0 && type != want)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: message "
			       "type %u where %u was expected", type, want);
	if ((r = chan_read_full(&s->c, s->msgbuf + PROTO_HDR_LEN, len)) < 0)
		return r;
	return (long)len;
}

static int
recv_reply(struct session *s)
{
	const char *why = NULL;
	long n = recv_frame(s, PROTO_REPLY);

	if (n < 0)
		return (int)n;
	if (proto_decode_reply(s->msgbuf + PROTO_HDR_LEN, (size_t)n, s->rep,
			       &why) < 0)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: bad "
			       "REPLY: %s", why);
	chan_peer_caps(&s->c, s->rep->caps);
	return 0;
}

static int
recv_result(struct session *s)
{
	const char *why = NULL;
	long n = recv_frame(s, PROTO_RESULT);

	if (n < 0)
		return (int)n;
	if (proto_decode_result(s->msgbuf + PROTO_HDR_LEN, (size_t)n, &s->res,
				&why) < 0)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: bad "
			       "RESULT: %s", why);
	s->have_result = 1;
	return 0;
}

/* Expect the peer's close_notify and nothing else. */
static int
expect_close_notify(struct session *s)
{
	uint8_t b;
	ssize_t n;

	if (s->c.peer_closed)
		return 0;
	n = s->c.plane->read(&s->c, &b, 1);
	if (n < 0)
		return (int)n;
	if (n > 0)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: data "
			       "after its last message");
	return 0;
}

/* Wait (bounded) for the peer to close TCP, so that nothing we sent is
 * discarded by closing first (see notes on KTLS close). */
static void
linger_close(struct session *s)
{
	if (s->c.fd >= 0)
		(void)net_wait(s->c.fd, POLLIN,
			       s->c.timeout_ms > 0 ? s->c.timeout_ms : 60000);
}

/* ------------------------------------------------------------ zfs facts */

/* The send this session makes: the flags and base it was given, the
 * snapshot, or (resuming) the token and the flags that go along with it. */
static void
send_req(struct session *s, enum zfs_op op)
{
	struct zfs_req *r = &s->zreq;

	zfs_req(r, op, 0, NULL);
	r->send = s->cf->send;
	if (s->token[0]) {
		r->send.snap[0] = '\0';
		r->send.base[0] = '\0';
		r->send.incr_all = false;
		r->send.backup = false;
		r->send.flags &= PROTO_ZF_RAW | PROTO_ZF_COMPRESSED |
				 PROTO_ZF_LARGE | PROTO_ZF_EMBED;
		snprintf(r->send.token, sizeof(r->send.token), "%s", s->token);
	} else {
		snprintf(r->send.snap, sizeof(r->send.snap), "%s", s->snapname);
	}
}

/* zfs send -nP: validates the snapshot and flags, gives the size. */
static int
sender_dry_run(struct session *s)
{
	char out[8192];
	uint64_t size;
	int rc;

	send_req(s, ZOP_ESTIMATE);
	rc = zfs_estimate(&s->zreq.send, &size, out, sizeof(out));
	if (rc < 0)
		return rc;
	s->x.total_hint = size;
	/* OpenZFS 2.3 exits non-zero from a dry run with -t after printing
	 * the estimate: the estimate decides there. */
	if (rc != 0 && !(s->token[0] && size)) {
		/* Run it as a child of ours, for zfs's own words on stderr. */
		struct endpoint e;
		int fd, r;

		zfs_endpoint(&e, &s->zreq);
		r = endpoint_pipe(&e, 1, &fd);
		if (r < 0)
			return r;
		close(fd);
		r = e.finish(&e);
		return r < 0 ? r : zk_fail(ZK_EZFS, "zfs send -nP failed");
	}
	if (!s->token[0] && (s->guid = zfs_guid_of(s->snapname)) == 0)
		return zk_fail(ZK_EZFS, "cannot read the guid of %s",
			       s->snapname);
	return 0;
}

/*
 * A resume token from the peer is unauthenticated (zfs only checksums
 * it): it could have been forged to name another snapshot, or to drop
 * -w so that a raw send goes out decrypted.  It is used only when zfs's
 * own reading of it matches what we were asked to send exactly: the
 * snapshot by name and by guid (zfs picks it by guid), the incremental
 * base (none for a full send), and raw exactly when -w was asked.
 * Returns 0 to resume, or a failure naming why the token was refused.
 */
static int
token_check(struct session *s, const char *token)
{
	const struct conf *cf = s->cf;
	struct zfs_token t;
	const char *base = cf->send.base;
	char from[2 * PROTO_NAME_LEN] = "", ds[PROTO_NAME_LEN];
	uint64_t want_from = 0;
	int r;

	if ((cf->send.flags & (PROTO_ZF_RECURSIVE | PROTO_ZF_PROPS)) ||
	    cf->send.backup || (cf->send.base[0] && cf->send.incr_all))
		return zk_fail(ZK_EPROTO, "the receiver holds a partial receive "
			       "that zfs cannot resume with -R, -p, -b or -I "
			       "(zfs send -t continues one snapshot): finish it "
			       "with a plain zktls send of the snapshot it names, "
			       "or abort it on the receiver (zfs receive -A)");
	if ((r = zfs_token_describe(token, &t)) == -2)
		return zk_fail(ZK_EPROTO, "resume token refused: zfs describes "
			       "it ambiguously (a key twice, or a nested list): "
			       "a forged token");
	if (r < 0)
		return zk_fail(ZK_EPROTO, "resume token refused: zfs cannot "
			       "read it (not a token for this pool)");
	if (strcmp(t.toname, s->snapname) != 0)
		return zk_fail(ZK_EPROTO, "resume token refused: it continues "
			       "%s, not %s", t.toname, s->snapname);
	if (t.toguid != s->guid)
		return zk_fail(ZK_EPROTO, "resume token refused: it names %s "
			       "with guid %" PRIu64 ", but %s here has guid %"
			       PRIu64, t.toname, t.toguid, s->snapname, s->guid);
	snprintf(ds, sizeof(ds), "%.*s", (int)strcspn(s->snapname, "@"),
		 s->snapname);
	if (base[0]) {
		if (base[0] == '@' || base[0] == '#')
			snprintf(from, sizeof(from), "%s%s", ds, base);
		else
			snprintf(from, sizeof(from), "%s", base);
		if ((want_from = zfs_guid_of(from)) == 0)
			return zk_fail(ZK_EZFS, "cannot read the guid of %s",
				       from);
	}
	if (t.fromguid != want_from) {
		char have[PROTO_NAME_LEN];

		if (t.fromguid == 0)
			return zk_fail(ZK_EPROTO, "resume token refused: it "
				       "continues a full send of %s, not one "
				       "from %s", s->snapname, from);
		if (zfs_guid_name(ds, t.fromguid, have, sizeof(have)) < 0)
			snprintf(have, sizeof(have), "guid %" PRIu64,
				 t.fromguid);
		return zk_fail(ZK_EPROTO, "resume token refused: it continues "
			       "an incremental send from %s%s%s (zktls send -i "
			       "%s %s finishes it)", have, from[0] ? ", not " : "",
			       from, have, s->snapname);
	}
	if (t.rawok != ((cf->send.flags & PROTO_ZF_RAW) != 0))
		return zk_fail(ZK_EPROTO, "resume token refused: it continues "
			       "a %s send of %s, but %s was asked",
			       t.rawok ? "raw (-w)" : "non-raw", s->snapname,
			       t.rawok ? "no -w" : "-w");
	snprintf(s->token, sizeof(s->token), "%s", token);
	return 0;
}

/*
 * Where zfs receive puts the snapshot the sender named (`zfs receive`'s own
 * rules): TARGET@snap; with -d the sent name without its pool below
 * TARGET; with -e only its last element below TARGET.  out gets the
 * dataset, or with_snap the snapshot.
 */
static void
received_name(struct session *s, int with_snap, char *out, size_t cap)
{
	const char *snap = s->snapname, *at = strchr(snap, '@');
	size_t dl = at ? (size_t)(at - snap) : strlen(snap);
	const char *slash = memchr(snap, '/', dl), *last = snap;
	char tail[PROTO_NAME_LEN] = "";

	for (const char *p = snap; p < snap + dl; p++)
		if (*p == '/')
			last = p + 1;
	if (s->cf->recv.below && slash)
		snprintf(tail, sizeof(tail), "/%.*s", (int)(snap + dl - slash - 1),
			 slash + 1);
	else if (s->cf->recv.below_last)
		snprintf(tail, sizeof(tail), "/%.*s", (int)(snap + dl - last),
			 last);
	snprintf(out, cap, "%s%s%s", s->target, tail,
		 with_snap && at ? at : "");
}

/* What a receiver tells the sender: the resume token of the dataset the
 * stream will land in, and the snapshot GUIDs of its target. */
static void
receiver_facts(struct session *s, char *token, uint32_t *nguids,
	       uint64_t *guids)
{
	char ds[2 * PROTO_NAME_LEN];
	int n;

	*nguids = 0;
	token[0] = '\0';
	if (!s->cf->zfs)
		return;
	if (s->snapname[0])
		received_name(s, 0, ds, sizeof(ds));
	else
		snprintf(ds, sizeof(ds), "%s", s->target);
	zfs_resume_token(ds, token, PROTO_TOKEN_LEN);
	if ((n = zfs_snap_guids(ds, guids, PROTO_MAX_GUIDS)) > 0)
		*nguids = (uint32_t)n;
}

/* ------------------------------------------------------------ negotiate */

static int
send_reply(struct session *s, uint8_t status, const char *msg)
{
	struct proto_reply *m = s->rep;
	int r;

	m->status = status;
	m->caps = (uint8_t)chan_caps(&s->c);
	set_text(m->message, sizeof(m->message), msg);
	r = send_frame(s, proto_encode_reply(m, s->msgbuf, MSGBUF_LEN));
	if (r == 0 && status != PROTO_ST_OK) {
		(void)s->c.plane->close_notify(&s->c);
		linger_close(s);
	}
	return r;
}

/* A LIST or HAVE before the REQUEST (serve answers them; a one-shot
 * listener says it does not), then the next frame.  A "busy" answer ends
 * the connection (the error stays set): a client over its limits must
 * not keep a process of the server by asking again. */
static int
answer_query(struct session *s, size_t len)
{
	static struct proto_listing l;
	static struct proto_have hv;
	static struct proto_having hg;
	struct proto_list ls;
	const char *why = NULL;
	const uint8_t *body = s->msgbuf + PROTO_HDR_LEN;
	int r, busy = 0;

	if (s->last_type == PROTO_LIST) {
		if (proto_decode_list(body, len, &ls, &why) < 0)
			return zk_fail(ZK_EPROTO, "protocol violation by peer: "
				       "bad LIST: %s", why);
		memset(&l, 0, offsetof(struct proto_listing, e));
		if (s->serve == NULL || s->serve->on_list == NULL) {
			l.status = PROTO_ST_ERROR;
			set_text(l.message, sizeof(l.message), "only zktls "
				 "serve answers LIST");
		} else if (s->serve->on_list(s->serve->arg, s->c.tls, &ls,
					     &l) < 0 &&
			   !(busy = l.status == PROTO_ST_BUSY)) {
			log_warn("%s", zk_errmsg());
			zk_clear();
		}
		s->last_denied = l.status == PROTO_ST_DENIED;
		for (uint32_t first = 0, taken = 0;; first += taken) {
			long n;

			l.more = 0;
			n = proto_encode_listing(&l, first, &taken, s->msgbuf,
						 MSGBUF_LEN);
			if (n > 0 && first + taken < l.n) {
				l.more = 1;
				n = proto_encode_listing(&l, first, &taken,
							 s->msgbuf, MSGBUF_LEN);
			}
			if ((r = send_frame(s, n)) < 0)
				return r;
			if (!l.more)
				break;
		}
	} else {
		if (proto_decode_have(body, len, &hv, &why) < 0)
			return zk_fail(ZK_EPROTO, "protocol violation by peer: "
				       "bad HAVE: %s", why);
		memset(&hg, 0, sizeof(hg));
		if (s->serve == NULL || s->serve->on_have == NULL) {
			hg.status = PROTO_ST_ERROR;
			set_text(hg.message, sizeof(hg.message), "only zktls "
				 "serve answers HAVE");
		} else if (s->serve->on_have(s->serve->arg, s->c.tls, &hv,
					     &hg) < 0 &&
			   !(busy = hg.status == PROTO_ST_BUSY)) {
			log_warn("%s", zk_errmsg());
			zk_clear();
		}
		s->last_denied = hg.status == PROTO_ST_DENIED;
		if ((r = send_frame(s, proto_encode_having(&hg, s->msgbuf,
							   MSGBUF_LEN))) < 0)
			return r;
	}
	s->queries++;
	s->denied += s->last_denied;
	if (busy) {
		(void)s->c.plane->close_notify(&s->c);
		return -ZK_EDENIED;
	}
	return 0;
}

#define SERVE_QUERIES 16

/* 1: a REQUEST is in s->req; 0: the client closed after its queries.
 * The queries before the REQUEST are bounded in number (SERVE_QUERIES)
 * and, with the REQUEST, in time (the timeout, counted from the first):
 * a connection cannot keep its process by asking again and again. */
static int
recv_request_or_queries(struct session *s)
{
	const char *why = NULL;
	int keep_ms = s->c.timeout_ms, r = 0;
	double t0 = now_s(), until = t0 + (keep_ms > 0 ? keep_ms / 1000.0 : 120);
	long n = 0;

	for (;;) {
		double left = until - now_s();

		if (left <= 0 || s->queries >= SERVE_QUERIES) {
			r = zk_fail(ZK_EPROTO, "%s: %d queries in %.0f s and "
				    "no REQUEST: connection closed",
				    tls_peer(s->c.tls), s->queries, now_s() - t0);
			break;
		}
		s->c.timeout_ms = (int)(left * 1000) + 1;
		/* A client that only asked questions ends with close_notify
		 * where the next frame would begin. */
		if ((n = recv_frame(s, 0)) < 0) {
			r = (int)n;
			/* A client whose query was refused may hang up
			 * without close_notify (zktls list exits at once):
			 * its refusal, one line already, is the whole story.
			 * A frame it got wrong stays a violation. */
			if ((s->queries > 0 && s->c.peer_closed &&
			     zk_errcode() == ZK_EPROTO) ||
			    (s->last_denied && zk_errcode() == ZK_ENET)) {
				zk_clear();
				r = 0;
			}
			break;
		}
		if (s->last_type == PROTO_REQUEST) {
			r = 1;
			break;
		}
		if (s->last_type != PROTO_LIST && s->last_type != PROTO_HAVE) {
			r = zk_fail(ZK_EPROTO, "protocol violation by peer: "
				    "message type %u where a REQUEST was "
				    "expected", s->last_type);
			break;
		}
		if ((r = answer_query(s, (size_t)n)) < 0)
			break;
	}
	s->c.timeout_ms = keep_ms;
	if (r <= 0)
		return r;
	if (proto_decode_request(s->msgbuf + PROTO_HDR_LEN, (size_t)n, s->req,
				 &why) < 0)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: bad "
			       "REQUEST: %s", why);
	chan_peer_caps(&s->c, s->req->caps);
	return 1;
}

/* Both sides can change keys on this connection. */
static bool
both_rekey(const struct session *s)
{
	return (chan_caps(&s->c) & s->c.peer_caps & PROTO_CAP_KEY_UPDATE) != 0;
}

/* A sender that learnt its stream only from the REQUEST (serve) and got
 * AES-GCM from a client that offered nothing else: may it send under one
 * key?  (The stream's estimate fits, or both sides change keys.) */
static bool
cipher_ok(const struct session *s)
{
	return tls_is_chacha(s->c.tls) || both_rekey(s) ||
	       (s->x.total_hint > 0 &&
		cipher_fits(s->x.total_hint, s->c.key_limit));
}

/* Why the session runs the cipher it does, for the session line. */
static enum cipher_why
cipher_why(const struct session *s)
{
	enum cipher_why mine = tls_ctx_why(tls_ctx_of(s->c.tls));

	if (tls_is_chacha(s->c.tls))
		return mine == CW_NO_AES || mine == CW_MAY_EXCEED ? mine
								  : CW_PEER;
	if (both_rekey(s))
		return CW_KEY_UPDATE;
	if (s->cf->role == ROLE_SENDER && s->x.total_hint > 0 &&
	    cipher_fits(s->x.total_hint, s->c.key_limit))
		return CW_FITS;
	if (s->cf->role == ROLE_RECEIVER && s->cf->zfs)
		return CW_FITS_THEIRS;
	return CW_PEER;
}

/* The transfer's progress, for serve's master (struct session_serve). */
static void
serve_tick(void *arg, const struct xfer *x)
{
	struct session *s = arg;

	s->serve->on_progress(s->serve->arg,
			      s->c.plane ? s->c.plane->name : "none", x->bytes,
			      x->estimated);
}

static int
negotiate_server(struct session *s)
{
	struct proto_request *q = s->req;
	char why[700];
	int r;

	if ((r = recv_request_or_queries(s)) < 0)
		return r;
	if (r == 0) {
		s->queries_only = 1;
		return 0;
	}
	memset(s->rep, 0, sizeof(*s->rep));
	if (s->serve != NULL) {
		/* serve: who the client is and what it may do decide this
		 * side's role, dataset and zfs flags. */
		const struct conf *cf = NULL;
		const struct policy *pol = NULL;
		uint8_t status = PROTO_ST_DENIED;

		why[0] = '\0';
		if ((r = s->serve->on_request(s->serve->arg, s->c.tls, q, &cf,
					      &pol, &status, why,
					      sizeof(why))) < 0) {
			(void)send_reply(s, status, why);
			return r;
		}
		s->cf = cf;
		s->pol = pol;
		s->x.progress = 0;
		if (s->serve->on_progress) {
			s->x.tick = serve_tick;
			s->x.tick_arg = s;
		}
		if (cf->role == ROLE_SENDER) {
			snprintf(s->snapname, sizeof(s->snapname), "%s",
				 cf->dataset);
			if ((r = sender_dry_run(s)) < 0) {
				(void)send_reply(s, PROTO_ST_ERROR, zk_errmsg());
				return r;
			}
		}
	}
	if (s->cf->role == ROLE_RECEIVER && q->op != PROTO_OP_PUSH) {
		(void)send_reply(s, PROTO_ST_ERROR, "both sides want to receive");
		return zk_fail(ZK_EPROTO, "peer wants to receive too (run "
			       "zktls send or pipe send on one side)");
	}
	if (s->cf->role == ROLE_SENDER && q->op != PROTO_OP_PULL) {
		(void)send_reply(s, PROTO_ST_ERROR, "both sides want to send");
		return zk_fail(ZK_EPROTO, "peer wants to send too (run "
			       "zktls recv or pipe recv on one side)");
	}
	if (s->cf->role == ROLE_RECEIVER) {
		if (s->cf->zfs && !zfs_name_valid(q->snapshot, 's')) {
			snprintf(why, sizeof(why), "invalid snapshot name "
				 "'%s'", q->snapshot);
			(void)send_reply(s, PROTO_ST_ERROR, why);
			return zk_fail(ZK_EPROTO, "protocol violation by peer: "
				       "%s", why);
		}
		snprintf(s->snapname, sizeof(s->snapname), "%s", q->snapshot);
		if (s->cf->zfs &&
		    policy_push_target(s->pol, q->dataset, s->target,
				       sizeof(s->target), why, sizeof(why)) < 0) {
			(void)send_reply(s, PROTO_ST_DENIED, why);
			return zk_fail(ZK_EDENIED, "refused %s: %s",
				       tls_peer(s->c.tls), why);
		}
		/* where it lands (below the target with -d or -e) */
		received_name(s, 0, why, sizeof(why));
		snprintf(s->rep->dataset, sizeof(s->rep->dataset), "%.*s",
			 (int)sizeof(s->rep->dataset) - 1, why);
		receiver_facts(s, s->rep->token, &s->rep->nguids,
			       s->rep->guids);
		return send_reply(s, PROTO_ST_OK, NULL);
	}
	/* We send; the client receives.  It may name what it wants (to pull
	 * from serve); a one-shot sender has only its own snapshot. */
	if (q->snapshot[0] && strcmp(q->snapshot, s->snapname) != 0) {
		snprintf(why, sizeof(why), "this sender sends %s, not %s",
			 s->snapname, q->snapshot);
		(void)send_reply(s, PROTO_ST_NOTFOUND, why);
		return zk_fail(ZK_EDENIED, "refused %s: %s", tls_peer(s->c.tls),
			       why);
	}
	if (s->cf->zfs && q->token[0] &&
	    ((r = token_check(s, q->token)) < 0 ||
	     (r = sender_dry_run(s)) < 0)) {
		(void)send_reply(s, PROTO_ST_ERROR, zk_errmsg());
		return r;
	}
	if (!cipher_ok(s)) {
		/* AES-GCM, from an offer of it alone or first; now we know
		 * the client cannot change keys, or it can but we cannot */
		s->sent_away = 1;
		(void)send_reply(s, PROTO_ST_CIPHER, "this stream may exceed "
				 "one AES-GCM key: connect again offering "
				 "ChaCha20-Poly1305");
		return zk_fail(ZK_EDENIED, "sent %s away: %s may exceed one "
			       "AES-GCM key, and not both sides can change "
			       "keys", tls_peer(s->c.tls),
			       s->snapname[0] ? s->snapname : "stream");
	}
	snprintf(s->rep->dataset, sizeof(s->rep->dataset), "%s", s->snapname);
	return send_reply(s, PROTO_ST_OK, NULL);
}

static int
negotiate_client(struct session *s)
{
	struct proto_request *q = s->req;
	int r;

	memset(q, 0, sizeof(*q));
	q->caps = (uint8_t)chan_caps(&s->c);
	if (s->cf->role == ROLE_SENDER) {
		q->op = PROTO_OP_PUSH;
		q->zflags = s->cf->zflags;
		snprintf(q->snapshot, sizeof(q->snapshot), "%s", s->snapname);
		snprintf(q->dataset, sizeof(q->dataset), "%s",
			 s->cf->target ? s->cf->target : "");
	} else {
		q->op = PROTO_OP_PULL;
		q->zflags = s->cf->source_zflags;
		snprintf(q->snapshot, sizeof(q->snapshot), "%s",
			 s->cf->source ? s->cf->source : "");
		snprintf(s->target, sizeof(s->target), "%s",
			 s->cf->zfs ? s->cf->dataset : "");
		snprintf(q->dataset, sizeof(q->dataset), "%s", s->target);
		receiver_facts(s, q->token, &q->nguids, q->guids);
	}
	if ((r = send_frame(s, proto_encode_request(q, s->msgbuf,
						    MSGBUF_LEN))) < 0)
		return r;
	if ((r = recv_reply(s)) < 0)
		return r;
	if (s->rep->status == PROTO_ST_CIPHER)
		s->cipher_retry = 1;
	if (s->rep->status != PROTO_ST_OK) {
		int code = s->rep->status == PROTO_ST_DENIED ? ZK_EDENIED
							      : ZK_EPEER;
		return zk_fail(code, "peer refused the request (%s): %s",
			       proto_status_name(s->rep->status),
			       s->rep->message);
	}
	if (s->cf->role == ROLE_RECEIVER) {
		if (s->cf->zfs && !zfs_name_valid(s->rep->dataset, 's'))
			return zk_fail(ZK_EPROTO, "protocol violation by peer: "
				       "invalid snapshot name '%s'",
				       s->rep->dataset);
		snprintf(s->snapname, sizeof(s->snapname), "%s",
			 s->rep->dataset);
	} else if (s->cf->zfs && s->rep->dataset[0] &&
		   zfs_name_valid(s->rep->dataset, 'f')) {
		/* where the receiver says it lands, for our session line */
		snprintf(s->target, sizeof(s->target), "%s", s->rep->dataset);
	}
	if (s->cf->role == ROLE_SENDER && s->cf->zfs && s->rep->token[0] &&
		   ((r = token_check(s, s->rep->token)) < 0 ||
		    (r = sender_dry_run(s)) < 0)) {
		/* Nothing was sent: tell the receiver we gave up, and why
		 * only we can say (the TLS alert carries no text). */
		s->c.plane->abort(&s->c);
		return r;
	}
	return 0;
}

/* ------------------------------------------------------------ stream */

/* The receive this session makes: its flags, -o and -x as given (made
 * safe when the command line was parsed), into its target. */
static void
recv_req(struct session *s)
{
	zfs_req(&s->zreq, ZOP_RECV, 0, NULL);
	s->zreq.recv = s->cf->recv;
	snprintf(s->zreq.recv.target, sizeof(s->zreq.recv.target), "%s",
		 s->target);
}

static int
do_send(struct session *s)
{
	const struct plane *p = s->c.plane;
	int r, fr;

	if (s->cf->zfs) {
		send_req(s, ZOP_SEND);
		zfs_endpoint(&s->ep, &s->zreq);
		if (s->token[0])
			log_info("resuming an interrupted transfer of %s",
				 s->snapname);
	} else {
		fd_endpoint(&s->ep, 0);
	}
	s->x.t_start = now_s();
	net_nodelay(s->c.fd, false);
	r = p->send_stream(&s->c, &s->ep, &s->x);
	net_nodelay(s->c.fd, true);
	if (r == -ZK_EEARLY) {
		/* The receiver gave up: its RESULT says why. */
		s->ep.kill(&s->ep);
		(void)s->ep.finish(&s->ep);
		zk_clear();
		if ((r = recv_result(s)) < 0)
			return r;
		/* Best effort: killing a zfs that was itself writing to the
		 * socket (direct) can leave the connection aborted (Linux
		 * stores the killed write's -ERESTARTSYS as the socket's
		 * error), and RESULT is all this side still needs. */
		(void)p->close_notify(&s->c);
		(void)expect_close_notify(s);
		zk_clear();
	} else if (r < 0) {
		s->ep.kill(&s->ep);
		(void)s->ep.finish(&s->ep);
		p->abort(&s->c);
		return r;
	} else {
		if ((fr = s->ep.finish(&s->ep)) < 0) {
			/* A short stream must never look complete. */
			p->abort(&s->c);
			return fr;
		}
		if ((r = p->close_notify(&s->c)) < 0)
			return r;
		s->c.timeout_ms = -1; /* zfs recv may take long to commit */
		if ((r = recv_result(s)) < 0)
			return r;
		s->c.timeout_ms = s->cf->timeout_s * 1000;
		if ((r = expect_close_notify(s)) < 0)
			return r;
	}
	xfer_progress(&s->x, 1);
	if (s->res.status != PROTO_ST_OK) {
		if (s->res.exit_status != 0)
			return zk_fail(ZK_EPEERZFS, "receiver: %s",
				       s->res.message);
		return zk_fail(ZK_EPEER, "receiver: %s", s->res.message);
	}
	if (!s->x.uncounted && s->res.bytes != PROTO_BYTES_UNKNOWN &&
	    s->res.bytes != s->x.bytes)
		return zk_fail(ZK_EPROTO, "receiver took %" PRIu64 " bytes, we "
			       "sent %" PRIu64, s->res.bytes, s->x.bytes);
	/* What was committed is checked by its guid, always: a receiver
	 * that cannot say what it committed has not confirmed anything. */
	if (s->cf->zfs && s->res.guid == 0)
		return zk_fail(ZK_EPROTO, "the receiver did not report the guid "
			       "of what it committed");
	if (s->cf->zfs && s->guid != s->res.guid)
		return zk_fail(ZK_EPROTO, "received snapshot guid %" PRIu64
			       " differs from the sent %" PRIu64, s->res.guid,
			       s->guid);
	return 0;
}

/* Discard what the sender still sends after we failed, until its
 * close_notify, so that it reads our RESULT instead of a reset. */
static void
drain(struct session *s)
{
	static uint8_t buf[65536];
	ssize_t n;

	while (!s->c.peer_closed &&
	       (n = s->c.plane->read(&s->c, buf, sizeof(buf))) > 0)
		;
}

static int
do_recv(struct session *s)
{
	const struct plane *p = s->c.plane;
	struct proto_result *m = &s->res;
	int r, fr;

	if (s->cf->zfs) {
		recv_req(s);
		zfs_endpoint(&s->ep, &s->zreq);
	} else {
		fd_endpoint(&s->ep, 1);
	}
	s->x.t_start = now_s();
	s->c.quiet_ok = 1;
	r = p->recv_stream(&s->c, &s->ep, &s->x);
	s->c.quiet_ok = 0;
	if (r == -ZK_EZFS) {
		/* The consumer stopped reading: its own words say why. */
		zk_clear();
		fr = s->ep.finish(&s->ep);
		r = fr < 0 ? fr : zk_fail(ZK_EZFS, "the consumer stopped "
					  "reading the stream");
	} else {
		fr = s->ep.finish(&s->ep);
		if (r == 0)
			r = fr;
	}
	/* zfs receive exited 0: it committed what it read.  Say what that
	 * is (by guid) whatever happened to the session: zfs commits at
	 * the stream's END record, before the sender's close_notify, and
	 * at a boundary between the snapshots of a -I stream even when the
	 * rest never came. */
	if (s->cf->zfs && endpoint_child(&s->ep) && s->ep.finished &&
	    WIFEXITED(s->ep.status) && WEXITSTATUS(s->ep.status) == 0) {
		char name[2 * PROTO_NAME_LEN];

		received_name(s, 1, name, sizeof(name));
		s->guid = zfs_guid_of(name);
		if (r < 0 && s->guid)
			zk_append("; zfs receive had already committed %s "
				  "(guid %" PRIu64 "): check it before relying "
				  "on it", name, s->guid);
		else if (r < 0)
			zk_append("; zfs receive exited 0 without %s: it may "
				  "have committed part of the stream", name);
		else if (s->guid == 0)
			r = zk_fail(ZK_EPROTO, "zfs receive succeeded, but %s "
				    "does not exist: the stream did not hold "
				    "the snapshot the sender named", name);
	}
	if (r < 0 && zk_errcode() == ZK_EPEER && s->x.bytes == 0 &&
	    !s->x.uncounted)
		zk_append("; the sender ended the session before sending "
			  "anything (its log says why)");
	if (r < 0 && !s->c.peer_closed && zk_errcode() != ZK_EZFS) {
		/* The connection itself failed: no RESULT can be trusted to
		 * arrive; the sender sees the broken connection. */
		p->abort(&s->c);
		return r;
	}
	memset(m, 0, sizeof(*m));
	m->status = r == 0 ? PROTO_ST_OK : PROTO_ST_ERROR;
	m->exit_status = endpoint_child(&s->ep) && WIFEXITED(s->ep.status)
				 ? WEXITSTATUS(s->ep.status)
				 : (endpoint_child(&s->ep) ? -1 : 0);
	m->bytes = s->x.uncounted ? PROTO_BYTES_UNKNOWN : s->x.bytes;
	m->guid = r == 0 ? s->guid : 0;
	if (r < 0)
		set_text(m->message, sizeof(m->message), zk_errmsg());
	fr = send_frame(s, proto_encode_result(m, s->msgbuf, MSGBUF_LEN));
	if (fr == 0)
		fr = p->close_notify(&s->c);
	if (r < 0) {
		drain(s);
		linger_close(s);
		return r;
	}
	if (fr < 0) {
		/* The stream is committed; only the sender's confirmation is
		 * lost, and the sender fails for want of it. */
		log_warn("received and committed, but could not tell the "
			 "sender: %s", zk_errmsg());
		zk_clear();
		return 0;
	}
	linger_close(s);
	xfer_progress(&s->x, 1);
	return 0;
}

/* In TLS 1.3 the server checks our certificate after our handshake has
 * completed: its verdict (an alert) may sit behind the reset our REQUEST
 * caused.  Look for it so the error names the real cause. */
static int
salvage_alert(struct session *s, int r)
{
	char saved[1024];
	int code = zk_errcode();
	uint8_t b;

	snprintf(saved, sizeof(saved), "%s", zk_errmsg());
	zk_clear();
	s->c.timeout_ms = 1000;
	(void)s->c.plane->read(&s->c, &b, 1);
	if (zk_errcode() == ZK_ETLS)
		return -ZK_ETLS;
	zk_clear();
	zk_fail(code, "%s", saved);
	return r;
}

/* ------------------------------------------------------------ main flow */

static void
log_session(struct session *s, int r, double secs)
{
	const struct conf *cf = s->cf;
	char b[48], rate[32];
	double mibs = secs > 0 ? (double)s->x.bytes / secs / 1048576.0 : 0;
	const char *what = cf->zfs ? (s->snapname[0] ? s->snapname : "?")
				   : "stream";
	const char *dir = cf->role == ROLE_SENDER ? "sent" : "received";
	const char *peer = s->c.tls ? tls_peer(s->c.tls) : "?";
	char landed[2 * PROTO_NAME_LEN];
	unsigned ku_sent, ku_recv;

	chan_key_updates(&s->c, &ku_sent, &ku_recv);
	/* a receiver names where it lands (below the target with -d/-e) */
	snprintf(landed, sizeof(landed), "%s", s->target);
	if (cf->zfs && cf->role == ROLE_RECEIVER && s->snapname[0] &&
	    s->target[0])
		received_name(s, 0, landed, sizeof(landed));
	if (s->x.uncounted)
		snprintf(b, sizeof(b), "? bytes (moved by zfs itself)");
	else
		human_bytes(s->x.bytes, b, sizeof(b));
	snprintf(rate, sizeof(rate), "%.1f MiB/s", mibs);
	if (s->queries_only && r == 0) {
		/* no stream: not a session line (a refused query has had
		 * its own) */
		log_verbose("answered %d queries from %s (%s), %d refused",
			    s->queries, peer, s->addr, s->denied);
		return;
	}
	if (log_json()) {
		char jp[700], ja[700], jw[700], jt[700], jb[24], jr[24];

		/* A plane that cannot count (direct) says so: null, never 0. */
		snprintf(jb, sizeof(jb), "%" PRIu64, s->x.bytes);
		snprintf(jr, sizeof(jr), "%.1f", mibs);
		if (s->x.uncounted) {
			strcpy(jb, "null");
			strcpy(jr, "null");
		}
		json_escape(peer, jp, sizeof(jp));
		json_escape(s->addr, ja, sizeof(ja));
		json_escape(what, jw, sizeof(jw));
		json_escape(landed, jt, sizeof(jt));
		fprintf(stderr,
			"{\"event\":\"session\",\"role\":\"%s\",\"peer\":\"%s\","
			"\"address\":\"%s\",\"what\":\"%s\",\"target\":\"%s\","
			"\"bytes\":%s,\"seconds\":%.3f,"
			"\"mib_per_s\":%s,\"plane\":\"%s\",\"cipher\":\"%s\","
			"\"user_bytes\":%" PRIu64 ",\"guid\":\"%" PRIu64 "\","
			"\"key_updates_sent\":%u,\"key_updates_received\":%u,"
			"\"key_strategy\":\"%s\",\"cipher_why\":\"%s\","
			"\"result\":\"%s\",\"exit\":%d}\n",
			cf->role == ROLE_SENDER ? "sender" : "receiver", jp, ja,
			jw, jt, jb, secs, jr,
			s->c.plane ? s->c.plane->name : "none",
			s->c.tls ? tls_cipher(s->c.tls) : "none", s->x.user_bytes,
			s->guid, ku_sent, ku_recv, chan_key_strategy(&s->c, 1),
			cipher_why_name(s->c.tls ? cipher_why(s) : CW_NONE, true),
			r == 0 ? "ok" : "failed",
			zk_exit_code(r));
		return;
	}
	if (log_level() < LOG_NORMAL && r == 0)
		return;
	{
		/* Names may come from the peer: nothing but printable text
		 * reaches the terminal. */
		char sp[700], sw[700], st[700];

		text_safe(peer, sp, sizeof(sp));
		text_safe(what, sw, sizeof(sw));
		text_safe(landed, st, sizeof(st));
		char ku[160];
		const char *ks = chan_key_strategy(&s->c, 1);

		/* How the session keeps within the key limit, and why its
		 * cipher, named. */
		if (ku_sent || ku_recv)
			snprintf(ku, sizeof(ku), ", KeyUpdates %u sent %u "
				 "received", ku_sent, ku_recv);
		else if (s->c.tls && strcmp(ks, "chacha20") == 0)
			snprintf(ku, sizeof(ku), ", no key limit (ChaCha20: "
				 "%s)", cipher_why_name(cipher_why(s), false));
		else if (s->c.tls && strcmp(ks, "one_key") == 0)
			snprintf(ku, sizeof(ku), ", one key per direction (%s)",
				 cipher_why_name(cipher_why(s), false));
		else
			snprintf(ku, sizeof(ku), ", %s",
				 chan_key_strategy(&s->c, 0));
		fprintf(stderr, "%szktls: %s %s%s%s %s %s (%s): %s in %.2f s, "
			"%s, plane %s, %s%s, %s\n",
			log_pri(r == 0 ? LOG_PRI_INFO : LOG_PRI_ERR), dir, sw,
			st[0] ? " into " : "", st,
			cf->role == ROLE_SENDER ? "to" : "from", sp, s->addr, b, secs, rate,
			s->c.plane ? s->c.plane->name : "none",
			s->c.tls ? tls_cipher(s->c.tls) : "no TLS", ku,
			r == 0 ? "ok" : "FAILED");
	}
}

int
session_new(const struct conf *cf, const struct policy *pol,
	    struct session **out, const char **note)
{
	struct session *s;
	int r;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->req = calloc(1, sizeof(*s->req))) == NULL ||
	    (s->rep = calloc(1, sizeof(*s->rep))) == NULL ||
	    (s->msgbuf = malloc(MSGBUF_LEN)) == NULL) {
		session_free(s);
		return zk_fail_errno(ZK_ESYS, "out of memory");
	}
	s->cf = cf;
	s->pol = pol;
	s->c.fd = -1;
	s->c.timeout_ms = cf->timeout_s * 1000;
	s->c.key_limit = cf->key_limit;
	s->x.progress = cf->progress;
	s->x.label = cf->progress_label;
	s->t0 = now_s();
	*out = s;
	*note = s->plane_why;
	if (cf->zfs && cf->role == ROLE_SENDER)
		snprintf(s->snapname, sizeof(s->snapname), "%s", cf->dataset);
	if (cf->zfs && (r = zfs_init()) < 0)
		return r;
	s->c.plane = plane_pick(cf->mode, s->plane_why, sizeof(s->plane_why));
	if (s->c.plane == NULL)
		return -zk_errcode();
	/* A sender checks its snapshot before anyone connects. */
	if (cf->zfs && cf->role == ROLE_SENDER && (r = sender_dry_run(s)) < 0)
		return r;
	return 0;
}

int
session_run(struct session *s, struct conn *c, int server)
{
	int r;

	s->server = server;
	s->c.fd = c->fd;
	s->c.tls = c->tls;
	snprintf(s->addr, sizeof(s->addr), "%s", c->addr);
	c->fd = -1;
	c->tls = NULL;
	log_verbose("authenticated %s (%s), %s, plane %s", tls_peer(s->c.tls),
		    s->addr, tls_cipher(s->c.tls), s->c.plane->name);
	if ((r = chan_switch(&s->c)) < 0) {
		s->c.plane->abort(&s->c);
		goto out;
	}
	r = s->server ? negotiate_server(s) : negotiate_client(s);
	if (r < 0 && !s->server && zk_errcode() == ZK_ENET)
		r = salvage_alert(s, r);
	if (r < 0)
		goto out;
	if (s->queries_only) {
		r = s->c.plane->close_notify(&s->c);
		linger_close(s);
		goto out;
	}
	r = s->cf->role == ROLE_SENDER ? do_send(s) : do_recv(s);
out:
	/* sent away to offer ChaCha20: a step of the choice, not a session */
	if (!(r < 0 && s->cf->busy_quiet && session_busy(s)) && !s->sent_away &&
	    !(r < 0 && s->cipher_retry))
		log_session(s, r,
			    now_s() - (s->x.t_start > 0 ? s->x.t_start : s->t0));
	return r;
}

bool
session_cipher_retry(const struct session *s)
{
	return s->cipher_retry != 0;
}

bool
session_sent_away(const struct session *s)
{
	return s->sent_away != 0;
}

void
session_cipher(const struct session *s, struct tls_ctx *ctx, bool server,
	       bool queries)
{
	const struct plane *p = s->c.plane;
	struct cipher_facts f = {
		.server = server,
		.sender = s->cf->role == ROLE_SENDER,
		.queries = queries,
		.size_known = s->cf->zfs && s->cf->role == ROLE_SENDER &&
			      s->x.total_hint > 0,
		.size = s->x.total_hint,
		.key_limit = s->c.key_limit,
		.can_rekey = plane_rekeys(p),
		.aes_hw = os_cpu_aes(),
	};
	enum tls_want want, fallback;
	enum cipher_why why;

	want = cipher_want(&f, &fallback, &why);
	tls_ctx_want(ctx, want, fallback, why);
}

int
session_busy(const struct session *s)
{
	return s->rep != NULL && s->rep->status == PROTO_ST_BUSY;
}

const struct session_result *
session_result(struct session *s)
{
	static struct session_result none = { "none", 0, 0, "-", 0, 0 };

	if (s == NULL)
		return &none;
	s->result.plane = s->c.plane ? s->c.plane->name : "none";
	if (s->cf->role == ROLE_RECEIVER && s->target[0] && s->snapname[0])
		received_name(s, 1, s->result.dataset,
			      sizeof(s->result.dataset));
	else
		snprintf(s->result.dataset, sizeof(s->result.dataset), "%s",
			 s->cf->role == ROLE_SENDER ? s->snapname : s->target);
	s->result.bytes = s->x.uncounted ? 0 : s->x.bytes;
	s->result.denied = s->queries_only && s->denied > 0;
	s->result.queries = s->queries_only;
	s->result.seconds = now_s() - (s->x.t_start > 0 ? s->x.t_start : s->t0);
	return &s->result;
}

/* ------------------------------------------------------------ queries */

int
session_attach(struct session *s, struct conn *c)
{
	int r;

	s->server = 0;
	s->c.fd = c->fd;
	s->c.tls = c->tls;
	snprintf(s->addr, sizeof(s->addr), "%s", c->addr);
	c->fd = -1;
	c->tls = NULL;
	if ((r = chan_switch(&s->c)) < 0) {
		s->c.plane->abort(&s->c);
		return r;
	}
	s->attached = 1;
	return 0;
}

static int
query_refused(uint8_t status, const char *message)
{
	return zk_fail(status == PROTO_ST_DENIED ? ZK_EDENIED : ZK_EPEER,
		       "peer refused the request (%s): %s",
		       proto_status_name(status), message);
}

int
session_list(struct session *s, uint8_t how, const char *dataset,
	     struct proto_listing *out)
{
	static struct proto_listing part;
	struct proto_list q;
	const char *why = NULL;
	uint32_t max;
	long n;
	int r;

	memset(&q, 0, sizeof(q));
	memset(out, 0, offsetof(struct proto_listing, e));
	max = how == PROTO_LIST_ALL || how == PROTO_LIST_PUSH_ALL
		      ? PROTO_MAX_TREE_ENTRIES : PROTO_MAX_ENTRIES;
	q.how = how;
	snprintf(q.dataset, sizeof(q.dataset), "%s", dataset);
	if ((r = send_frame(s, proto_encode_list(&q, s->msgbuf,
						 MSGBUF_LEN))) < 0)
		return r;
	do {
		if ((n = recv_frame(s, PROTO_LISTING)) < 0)
			return (int)n;
		if (proto_decode_listing(s->msgbuf + PROTO_HDR_LEN, (size_t)n,
					 &part, &why) < 0)
			return zk_fail(ZK_EPROTO, "protocol violation by peer: "
				       "bad LISTING: %s", why);
		if (part.status != PROTO_ST_OK) {
			out->status = part.status;
			memcpy(out->message, part.message, sizeof(out->message));
			return query_refused(part.status, part.message);
		}
		if (out->n + part.n > max)
			return zk_fail(ZK_EPROTO, "the listing of %s has more "
				       "than %u entries", dataset, max);
		memcpy(&out->e[out->n], part.e, part.n * sizeof(part.e[0]));
		out->n += part.n;
		memcpy(out->token, part.token, sizeof(out->token));
		memcpy(out->dataset, part.dataset, sizeof(out->dataset));
	} while (part.more);
	/* what the server says it listed: a dataset name, or nothing */
	if (out->dataset[0] && !zfs_name_valid(out->dataset, 'f'))
		return zk_fail(ZK_EPROTO, "protocol violation by peer: LISTING "
			       "of an invalid dataset name");
	if (proto_listing_fits(how, out, &why) < 0)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: LISTING "
			       "of %s: %s", dataset, why);
	return 0;
}

int
session_have(struct session *s, const char *dataset, const uint64_t *guids,
	     uint32_t n, struct proto_having *out)
{
	static struct proto_have q;
	const char *why = NULL;
	long len;
	int r;

	if (n > PROTO_MAX_GUIDS)
		return zk_fail(ZK_EUSAGE, "at most %d guids", PROTO_MAX_GUIDS);
	memset(&q, 0, sizeof(q));
	snprintf(q.dataset, sizeof(q.dataset), "%s", dataset);
	memcpy(q.guids, guids, n * sizeof(guids[0]));
	q.n = n;
	if ((r = send_frame(s, proto_encode_have(&q, s->msgbuf,
						 MSGBUF_LEN))) < 0)
		return r;
	if ((len = recv_frame(s, PROTO_HAVING)) < 0)
		return (int)len;
	if (proto_decode_having(s->msgbuf + PROTO_HDR_LEN, (size_t)len, out,
				&why) < 0)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: bad "
			       "HAVING: %s", why);
	if (out->status != PROTO_ST_OK)
		return query_refused(out->status, out->message);
	if (out->n != n)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: %u "
			       "answers to %u guids", out->n, n);
	return 0;
}

int
session_end(struct session *s)
{
	int r;

	if ((r = s->c.plane->close_notify(&s->c)) < 0)
		return r;
	return expect_close_notify(s);
}

void
session_set_serve(struct session *s, const struct session_serve *sv)
{
	s->serve = sv;
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	if (endpoint_child(&s->ep) && !s->ep.finished) {
		s->ep.kill(&s->ep);
		(void)s->ep.finish(&s->ep);
	}
	chan_release(&s->c);
	tls_free(s->c.tls);
	if (s->c.fd >= 0)
		close(s->c.fd);
	free(s->req);
	free(s->rep);
	free(s->msgbuf);
	free(s);
}
