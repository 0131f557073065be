/*
 * plane_kernel.c - what the kernel planes (rw, splice, direct) share: the
 * protocol messages over a kernel-TLS socket, control records as they
 * arrive, waiting for the peer or the producer, and the failure texts all
 * of them use.  OS-neutral: the kernel itself is reached through ktls.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ktls.h"
#include "plane.h"

#define SEND_CHUNK (256 << 10) /* most one blocking send() may take */
#define COPY_BUF (1 << 20)     /* rw: one read/write chunk */

enum { ALERT_CLOSE_NOTIFY = 0, ALERT_INTERNAL_ERROR = 80 };

int kplane_timeout_fail(const struct chan *c)
{
	return zk_fail(ZK_ENET, "timed out after %d s waiting for the peer",
		       (c->timeout_ms + 999) / 1000);
}

/* ----------------------------------------------- a silent peer, receiving */

/*
 * Nothing readable for the idle timeout and TCP's queue empty: the peer
 * may be quiet between records (its zfs is thinking; TCP keepalive watches
 * it), or stalled inside a record whose start kernel TLS has already
 * copied out of TCP's queue (its parser does that when the receive window
 * or buffer runs short), where SIOCINQ cannot see it.  The bytes tell them
 * apart: what TCP handed to kernel TLS, less the framing of the records it
 * decrypted, less the plaintext read out of them (ktls_rx_balance()), is
 * the same between any two records and grows by what the kernel holds of
 * an unfinished one.
 *
 * On rw and splice zktls reads every byte itself, so that level is known
 * from the switch on (base, chan_switch()).  On direct zfs reads the stream, and what it
 * reads from other files counts too: the level is the lowest value seen
 * while the stream flows, sampled often (it can only err towards waiting).
 * Where the bytes cannot add up (a peer that pads its records, a reader
 * zktls cannot see) the difference outgrows any record, and the watch
 * does not judge.
 */

/* The balance bal less the plaintext read (more: read by zfs) and the
 * base. */
static int64_t rx_held(const struct rx_watch *w, int64_t bal, uint64_t more)
{
	return bal - (int64_t)(w->plain + more) - w->base;
}

void rx_watch_sample(struct rx_watch *w, int64_t bal, uint64_t more)
{
	int64_t h;

	/* (on direct the level also moves with zfs's reads of other files,
	 * and rises while one of zfs's reads is still copying records) */
	if (w->exact || w->off)
		return;
	h = rx_held(w, bal, more);
	if (!w->have || h < w->floor) {
		w->floor = h;
		w->have = 1;
	}
}

int rx_watch_partial(struct rx_watch *w, int64_t bal1, int64_t bal2,
		     uint64_t more)
{
	int64_t a, b, d;

	if (w->off)
		return 0;
	a = rx_held(w, bal1, more);
	b = rx_held(w, bal2, more);
	/* twice, the same: nothing moved while we looked */
	if (a != b || (!w->exact && !w->have))
		return 0;
	d = w->exact ? b : b - w->floor;
	/* Part of one record is all the kernel can hold.  More, or less than
	 * nothing, where every byte is counted: the bytes do not add up (a
	 * padding peer), stop judging.  More on direct: something else read
	 * for zfs (a wrapper); cannot tell. */
	if (w->exact && (d < 0 || d > TLS_RECORD_MAX))
		w->off = 1;
	return d > 0 && d <= TLS_RECORD_MAX && !w->off;
}

void kplane_rx_sample(struct rx_watch *w, int fd, uint64_t more)
{
	int64_t b;

	if (w->exact || w->off || ktls_rx_balance(fd, &b) < 0)
		return;
	rx_watch_sample(w, b, more);
}

int kplane_rx_partial(struct rx_watch *w, int fd, uint64_t more)
{
	int64_t a, b;

	if (w->off || ktls_rx_balance(fd, &a) < 0 ||
	    ktls_rx_balance(fd, &b) < 0)
		return 0;
	return rx_watch_partial(w, a, b, more);
}

/* Wait up to c->timeout_ms for the socket to become readable (or fail). */
int kplane_wait_peer(struct chan *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int n;

	for (;;) {
		n = poll(&p, 1, c->timeout_ms > 0 ? c->timeout_ms : -1);
		if (n > 0)
			return 0;
		/* Nothing readable for the idle timeout.  While receiving the
		 * stream, a peer whose last record is complete may just have a
		 * quiet zfs (TCP keepalive watches it); a record partly here,
		 * in TCP's queue or in kernel TLS, means the path stalled. */
		if (n == 0 && c->quiet_ok && net_inq(c->fd) == 0 &&
		    !kplane_rx_partial(&c->rx, c->fd, 0))
			continue;
		if (n == 0)
			return kplane_timeout_fail(c);
		if (errno != EINTR)
			return zk_fail_errno(ZK_ESYS, "poll");
	}
}

/* Is there something to read (or an error) on the socket right now? */
int kplane_peer_spoke(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* The receiver spoke while we were still sending: its RESULT says why
 * (the session clears this text and reads it). */
int kplane_early_fail(void)
{
	return zk_fail(ZK_EEARLY, "receiver ended the session during the "
		       "stream");
}

/* ktls_recv_once() that honours the idle timeout; returns the byte count or a
 * negative ZK_E*. */
static ssize_t recv_record(struct chan *c, void *buf, size_t len, int *type)
{
	int flags = c->timeout_ms > 0 ? MSG_DONTWAIT : 0;

	for (;;) {
		ssize_t n = ktls_recv_once(c->fd, buf, len, flags, type);
		int r;

		if (n >= 0) {
			c->rx.plain += (uint64_t)n;
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return ktls_sock_fail(errno, "receive from the peer");
		r = kplane_wait_peer(c);
		if (r < 0)
			return r;
		/* Ready: block for the rest of a record, never spin. */
		flags = 0;
	}
}

/* ------------------------------------------------------- key changes */

enum { HS_KEY_UPDATE = 24, KEY_UPDATE_LEN = 5 };
#define REC_PLAIN 16384 /* the most a TLS record carries */

/* Send our KeyUpdate and program the next sending key.  The handshake
 * record goes out under the old key and pushes any record left open
 * before it (ktls_send_control). */
static int send_key_update(struct chan *c)
{
	static const uint8_t ku[KEY_UPDATE_LEN] = { HS_KEY_UPDATE, 0, 0, 1, 0 };
	struct kern_keys *kk = c->kern;
	int r;

	if ((r = ktls_send_control(c->fd, REC_HANDSHAKE, ku, sizeof(ku))) < 0)
		return r;
	/* Past this point the peer expects the next key: a failure leaves
	 * the connection unusable, and the session aborts it. */
	if ((r = tls13_update_keys(&kk->k.tx)) < 0 ||
	    (r = ktls_rekey(c->fd, 1, &kk->k.tx)) < 0)
		return r;
	kk->answer = 0;
	kk->guess = 0;
	kk->open = 0;
	kk->sent++;
	return 0;
}

int kplane_tx_keys(struct chan *c, size_t *len)
{
	struct kern_keys *kk = c->kern;
	uint64_t used, recs;
	int r;

	if (kk == NULL)
		return 0;
	if (kk->answer) {
		/* RFC 8446 4.6.3: answered before our next record. */
		if ((r = send_key_update(c)) < 0)
			return r;
	}
	if (ktls_tx_records(c->fd, &used) < 0)
		used = kk->guess;
	/* The bytes may first fill a record left open, then start new ones
	 * of up to 16 KiB each.  A send the kernel cuts into smaller records
	 * than its size needs is caught by the next call's count: the
	 * overshoot is one send's records at most, far inside RFC 8446's
	 * margin. */
	recs = (*len + REC_PLAIN - 1) / REC_PLAIN;
	if (used + recs + (unsigned)kk->open > kk->limit) {
		uint64_t room = used + (unsigned)kk->open < kk->limit ?
					kk->limit - used - (unsigned)kk->open : 0;

		if (room > 0) {
			/* fill this key first; the KeyUpdate comes next time */
			*len = (size_t)room * REC_PLAIN;
			recs = room;
		} else if (!kk->peer_follows) {
			/* (before the peer's REPLY its capabilities are not
			 * known: only a key truly past the limit warns) */
			if (used >= kk->limit && !kk->warned) {
				kk->warned = 1;
				log_warn("the peer cannot follow TLS KeyUpdate: "
					 "this session keeps its key past the "
					 "record limit (RFC 8446 5.5)");
			}
		} else {
			if ((r = send_key_update(c)) < 0)
				return r;
			used = 0;
			/* a fresh key, no record open */
			if (recs > kk->limit) {
				*len = (size_t)kk->limit * REC_PLAIN;
				recs = kk->limit;
			}
		}
	}
	kk->guess = used + recs + (unsigned)kk->open;
	return 0;
}

void kplane_tx_sent(struct chan *c, int open)
{
	if (c->kern != NULL)
		c->kern->open = open;
}

/* The first want bytes of a control record of this type, whose first n
 * bytes (of a buffer of len) the caller read into body: a buffer that
 * filled up may have cut the record short, and the rest is still queued.
 * How many of want there are (fewer: the record was shorter), or a
 * negative ZK_E*. */
static ssize_t control_head(struct chan *c, int type, const uint8_t *body,
			    size_t n, size_t len, uint8_t *out, size_t want)
{
	size_t have = n < want ? n : want;
	int more = n == len, t;
	ssize_t k;

	memcpy(out, body, have);
	while (more && have < want) {
		k = recv_record(c, out + have, want - have, &t);
		if (k < 0)
			return k;
		if (k == 0 || t != type)
			break;
		more = (size_t)k == want - have;
		have += (size_t)k;
	}
	return (ssize_t)have;
}

/* The peer's KeyUpdate; body holds the record's first n bytes (of a
 * buffer of len).  Its next records come under its next key: derive it
 * and set TLS_RX again (the kernel returns EKEYEXPIRED until then). */
static ssize_t peer_key_update(struct chan *c, const uint8_t *body, size_t n,
			       size_t len)
{
	struct kern_keys *kk = c->kern;
	uint8_t m[KEY_UPDATE_LEN];
	uint64_t recs;
	ssize_t have, r;
	int request;

	if (n > KEY_UPDATE_LEN) /* longer than one KeyUpdate: refused */
		return tls13_key_update_parse(body, n);
	if ((have = control_head(c, REC_HANDSHAKE, body, n, len, m,
				 sizeof(m))) < 0)
		return have;
	if ((request = tls13_key_update_parse(m, (size_t)have)) < 0)
		return request;
	/* records count from 0 under the new key: the old key's framing
	 * moves into the base */
	if (ktls_rx_records(c->fd, &recs) < 0)
		c->rx.off = 1;
	if ((r = tls13_update_keys(&kk->k.rx)) < 0 ||
	    (r = ktls_rekey(c->fd, 0, &kk->k.rx)) < 0)
		return r;
	c->rx.base += (int64_t)(recs * TLS13_FRAMING);
	if (request)
		kk->answer = 1;
	kk->received++;
	return KPLANE_KEYS_FOLLOWED;
}

/* A non-data record arrived; body holds its first n bytes (n <= len). */
ssize_t kplane_control_record(struct chan *c, int type, const uint8_t *body,
			      size_t n, size_t len)
{
	uint8_t a[2];
	ssize_t have;

	if (type == REC_HANDSHAKE && c->kern && n > 0 &&
	    body[0] == HS_KEY_UPDATE)
		return peer_key_update(c, body, n, len);
	if (type == REC_HANDSHAKE)
		return tls_handshake_msg_fail(body, n);
	if (type != REC_ALERT)
		return zk_fail(ZK_EPROTO, "unexpected TLS record type %d from "
			       "the peer", type);
	if (n <= 2 &&
	    (have = control_head(c, REC_ALERT, body, n, len, a, 2)) < 0)
		return have;
	if (n > 2 || have != 2)
		return zk_fail(ZK_EPEER, "peer sent TLS alert: malformed alert");
	/* TLS 1.3 (RFC 8446 section 6): the level is implied by the alert. */
	if (a[1] == ALERT_CLOSE_NOTIFY) {
		c->peer_closed = 1;
		return 0;
	}
	return zk_alert_fail(a[1]);
}

ssize_t kplane_recv(struct chan *c, void *buf, size_t len)
{
	unsigned updates = 0;
	ssize_t n;
	int type;

	if (c->peer_closed)
		return 0;
	if (len == 0)
		return zk_fail(ZK_ESYS, "ktls_recv: empty buffer");
	for (;;) {
		n = recv_record(c, buf, len, &type);
		if (n < 0)
			return n;
		/* No record type at all: TCP's EOF (or, with bytes, a socket
		 * the kernel does not decrypt; pass them on). */
		if (n > 0 && (type == REC_DATA || type < 0))
			return n;
		if (type < 0)
			return zk_fail(ZK_ENET, "connection closed by peer without "
				       "close_notify (truncated stream)");
		if (type != REC_DATA) {
			n = kplane_control_record(c, type, buf, (size_t)n, len);
			if (n != KPLANE_KEYS_FOLLOWED)
				return n;
			/* as on the user plane: no endless run without data */
			if (++updates > 1024)
				return zk_fail(ZK_EPROTO, "protocol violation by "
					       "peer: more than 1024 TLS records "
					       "in a row without data");
		}
		/* an empty data record (or a KeyUpdate): keep waiting */
	}
}

/* The socket turned readable while we send: the peer's KeyUpdate is
 * followed (1); anything else (its RESULT, an alert, EOF) means the
 * receiver ended the stream (0); negative on failure. */
static int sender_peer_spoke(struct chan *c)
{
	uint8_t buf[64];
	ssize_t n;
	int type;

	if (c->kern == NULL)
		return 0;
	n = ktls_recv_once(c->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT,
			   &type);
	if (n <= 0 || type != REC_HANDSHAKE)
		return 0;
	if ((n = recv_record(c, buf, sizeof(buf), &type)) < 0)
		return (int)n;
	n = kplane_control_record(c, type, buf, (size_t)n, sizeof(buf));
	return n == KPLANE_KEYS_FOLLOWED ? 1 : n < 0 ? (int)n : 0;
}

/* Send all of buf as application data.  early: a readable socket means the
 * receiver spoke (its RESULT) mid-stream: stop with -ZK_EEARLY. */
int kplane_send(struct chan *c, const void *buf, size_t len, int early)
{
	const char *p = buf;
	struct pollfd pfd = { .fd = c->fd };
	size_t chunk;
	ssize_t n;
	int r;

	pfd.events = POLLOUT | (early ? POLLIN : 0);
	while (len > 0) {
		r = poll(&pfd, 1, c->timeout_ms > 0 ? c->timeout_ms : -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return zk_fail_errno(ZK_ESYS, "poll");
		}
		if (r == 0)
			return kplane_timeout_fail(c);
		if (early && (pfd.revents & (POLLIN | POLLERR | POLLHUP))) {
			r = sender_peer_spoke(c);
			if (r == 1)
				continue;
			return r < 0 ? r : kplane_early_fail();
		}
		chunk = len < SEND_CHUNK ? len : SEND_CHUNK;
		if ((r = kplane_tx_keys(c, &chunk)) < 0)
			return r;
		n = send(c->fd, p, chunk, MSG_NOSIGNAL);
		/* without MSG_MORE a whole send leaves no record open */
		kplane_tx_sent(c, n >= 0 && (size_t)n < chunk);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (early && (errno == EPIPE || errno == ECONNRESET) &&
			    kplane_peer_spoke(c->fd))
				return kplane_early_fail();
			return ktls_sock_fail(errno, "send to the peer");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write all of buf to the local consumer. */
int kplane_out_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };

				(void)poll(&pfd, 1, -1);
				continue;
			}
			return zk_fail_errno(ZK_EZFS, "write to the consumer");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Wait until the producer fd is readable, or fail with -ZK_EEARLY when the
 * receiver spoke (its RESULT) or the connection broke first.  The producer
 * may pause as long as it likes: no timeout here. */
int kplane_wait_producer(struct chan *c, int fd)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = c->fd, .events = POLLIN },
			{ .fd = fd, .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return zk_fail_errno(ZK_ESYS, "poll");
		}
		if (p[0].revents) {
			int r = sender_peer_spoke(c);

			if (r == 1)
				continue;
			return r < 0 ? r : kplane_early_fail();
		}
		if (p[1].revents)
			return 0;
	}
}

/* ------------------------------------------------ plane operations */

ssize_t kplane_read(struct chan *c, void *buf, size_t len)
{
	ssize_t n = kplane_recv(c, buf, len);

	if (n > 0)
		c->app_bytes_in += (uint64_t)n;
	return n;
}

int kplane_write(struct chan *c, const void *buf, size_t len)
{
	int r = kplane_send(c, buf, len, 0);

	if (r == 0)
		c->app_bytes_out += len;
	return r;
}

int kplane_close_notify(struct chan *c)
{
	static const uint8_t cn[2] = { 1, ALERT_CLOSE_NOTIFY };
	size_t len = sizeof(cn);
	int r = kplane_tx_keys(c, &len);

	if (r == 0 && (r = ktls_send_control(c->fd, REC_ALERT, cn,
					     sizeof(cn))) == 0)
		kplane_tx_sent(c, 0);
	return r;
}

void kplane_abort(struct chan *c)
{
	ktls_send_fatal(c->fd, ALERT_INTERNAL_ERROR);
}

/* rw core: producer fd -> read() -> KTLS socket. */
int kplane_copy_out(struct chan *c, int fd, struct xfer *x)
{
	char *buf = malloc(COPY_BUF);
	ssize_t n;
	int r;

	if (!buf)
		return zk_fail(ZK_ESYS, "out of memory");
	for (;;) {
		r = kplane_wait_producer(c, fd);
		if (r < 0)
			break;
		n = read(fd, buf, COPY_BUF);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = zk_fail_errno(ZK_EZFS, "read from the producer");
			break;
		}
		if (n == 0)
			break; /* producer's EOF; r == 0 */
		r = kplane_send(c, buf, (size_t)n, 1);
		if (r < 0)
			break;
		x->bytes += (uint64_t)n;
		x->user_bytes += (uint64_t)n;
		xfer_progress(x, 0);
	}
	free(buf);
	return r;
}

/* rw core: KTLS socket -> recv -> consumer fd, until close_notify. */
int kplane_copy_in(struct chan *c, int fd, struct xfer *x)
{
	char *buf = malloc(COPY_BUF);
	ssize_t n;
	int r;

	if (!buf)
		return zk_fail(ZK_ESYS, "out of memory");
	for (;;) {
		n = kplane_recv(c, buf, COPY_BUF);
		if (n <= 0) {
			r = (int)n; /* 0: close_notify */
			break;
		}
		r = kplane_out_write(fd, buf, (size_t)n);
		if (r < 0)
			break;
		x->bytes += (uint64_t)n;
		x->user_bytes += (uint64_t)n;
		xfer_progress(x, 0);
	}
	free(buf);
	return r;
}
