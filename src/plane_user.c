/*
 * plane_user.c - the "user" data plane: TLS records sealed and opened in
 * this process (tlsrec.c), for hosts without kernel TLS.
 *
 * Send side: RECS_PER_WRITE record slots lie back to back in one buffer.
 * One readv() fills their content areas straight from the producer; every
 * slot but the last filled one is full, so after sealing in place the
 * records are contiguous and leave in one write().
 * Receive side: one large read() of ciphertext, records opened in place,
 * their contents handed to the consumer with one writev().  The buffer is
 * compacted only when no pointer into it is pending (tlsrec.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tlsrec.h"
#include "zktls.h"

#define REC_SLOT (TLSREC_MAX_PLAIN + TLSREC_OVERHEAD)
#define RECS_PER_WRITE 32
#define RX_BUF (1u << 20)
#define IOV_BATCH 64

struct user_state {
	struct tlsrec *rec;
	int warned;             /* past the key limit, the peer cannot follow */
	struct tlsrec_rx rx;
	const uint8_t *pt;      /* data not yet handed out (user_read) */
	size_t pt_len;
	uint8_t buf[];          /* the receive buffer, RX_BUF bytes */
};

int
user_setup(struct chan *c, const struct tls_keys *k)
{
	struct user_state *u = calloc(1, sizeof(*u) + RX_BUF);

	if (u == NULL)
		return zk_fail_errno(ZK_ESYS, "cannot set up the user plane");
	if ((u->rec = tlsrec_new(k)) == NULL) {
		free(u);
		return -zk_errcode();
	}
	tlsrec_set_key_limit(u->rec, c->key_limit);
	u->rx.buf = u->buf;
	u->rx.cap = RX_BUF;
	c->user = u;
	return 0;
}

void
user_peer_follows(struct chan *c, int yes)
{
	struct user_state *u = c->user;

	if (u != NULL)
		tlsrec_allow_key_update(u->rec, yes);
}

void
user_key_updates(const struct chan *c, unsigned *sent, unsigned *received)
{
	const struct user_state *u = c->user;

	*sent = *received = 0;
	if (u != NULL)
		tlsrec_key_updates(u->rec, sent, received);
}

/* Before sealing a record: a KeyUpdate first when one is due (the sending
 * key's record limit, or the peer's request). */
static int
user_key_update(struct chan *c)
{
	struct user_state *u = c->user;
	uint8_t rec[TLSREC_KEY_UPDATE_LEN];
	int n;

	if (!tlsrec_key_update_due(u->rec)) {
		if (tlsrec_past_limit(u->rec) && !u->warned) {
			u->warned = 1;
			log_warn("the peer cannot follow TLS KeyUpdate on its "
				 "data plane: this session keeps its key past "
				 "the record limit (RFC 8446 5.5)");
		}
		return 0;
	}
	if ((n = tlsrec_seal_key_update(u->rec, rec, 0)) < 0)
		return n;
	if (write_all(c->fd, rec, (size_t)n) < 0)
		return zk_fail_errno(ZK_ENET, "sending a TLS KeyUpdate");
	return 0;
}

void
user_free(struct chan *c)
{
	struct user_state *u = c->user;

	if (u == NULL)
		return;
	tlsrec_free(u->rec);
	free(u);
	c->user = NULL;
}

static int
user_send_alert(struct chan *c, uint8_t level, uint8_t desc)
{
	struct user_state *u = c->user;
	uint8_t rec[TLSREC_HDR + 2 + 1 + TLSREC_TAG];
	size_t n;
	int r = user_key_update(c);

	if (r < 0)
		return r;
	rec[TLSREC_HDR] = level;
	rec[TLSREC_HDR + 1] = desc;
	n = tlsrec_seal(u->rec, TLSREC_ALERT, rec, 2, 0);
	if (write_all(c->fd, rec, n) < 0)
		return zk_fail_errno(ZK_ENET, "sending TLS alert");
	return 0;
}

/* Read more ciphertext (the caller holds no pointer into the buffer). */
static int
user_fill(struct chan *c)
{
	struct tlsrec_rx *rx = &((struct user_state *)c->user)->rx;

	tlsrec_rx_compact(rx);
	for (;;) {
		ssize_t n;

		if (c->timeout_ms >= 0) {
			int r = net_wait(c->fd, POLLIN, c->timeout_ms);
			/* A quiet peer between records: see chan.quiet_ok. */
			if (r == 0 && c->quiet_ok && rx->end == rx->off)
				continue;
			if (r == 0)
				return zk_fail(ZK_ENET, "timed out after %d s "
					       "waiting for the peer",
					       c->timeout_ms / 1000);
			if (r < 0)
				return r;
		}
		n = read(c->fd, rx->buf + rx->end, rx->cap - rx->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET)
			return zk_fail(ZK_ENET, "connection reset by peer");
		if (n < 0 && errno == ETIMEDOUT)
			return zk_fail(ZK_ENET, "the peer stopped answering "
				       "(TCP keepalive timed out)");
		if (n < 0)
			return zk_fail_errno(ZK_ENET, "reading from the peer");
		if (n == 0)
			return zk_fail(ZK_ENET, "connection closed by peer "
				       "without close_notify (truncated stream)");
		rx->end += (size_t)n;
		return 0;
	}
}

static ssize_t
user_read(struct chan *c, void *buf, size_t len)
{
	struct user_state *u = c->user;
	size_t n;

	while (u->pt_len == 0) {
		int r = tlsrec_next(u->rec, &u->rx, &u->pt, &u->pt_len);

		if (r == TLSREC_GOT_CLOSE) {
			c->peer_closed = 1;
			return 0;
		}
		if (r < 0)
			return r;
		if (r == TLSREC_NEED && (r = user_fill(c)) < 0)
			return r;
	}
	n = len < u->pt_len ? len : u->pt_len;
	memcpy(buf, u->pt, n);
	u->pt += n;
	u->pt_len -= n;
	c->app_bytes_in += n;
	return (ssize_t)n;
}

static int
user_write(struct chan *c, const void *buf, size_t len)
{
	struct user_state *u = c->user;
	uint8_t *rec = malloc(REC_SLOT);
	const uint8_t *p = buf;
	int r = 0;

	if (rec == NULL)
		return zk_fail_errno(ZK_ESYS, "malloc");
	while (len > 0 && r == 0) {
		size_t n = len < TLSREC_MAX_PLAIN ? len : TLSREC_MAX_PLAIN;

		if ((r = user_key_update(c)) < 0)
			break;
		memcpy(rec + TLSREC_HDR, p, n);
		if (write_all(c->fd, rec,
			      tlsrec_seal(u->rec, TLSREC_DATA, rec, n, 0)) < 0)
			r = zk_fail_errno(ZK_ENET, "sending to the peer");
		p += n;
		len -= n;
		c->app_bytes_out += n;
	}
	free(rec);
	return r;
}

/*
 * The receiver's socket is readable while we send the stream.  Its
 * KeyUpdate is followed (and a request answered before our next record);
 * anything else means it ended the session: its data (the RESULT) stays
 * buffered for the session to read, and we stop with -ZK_EEARLY.
 */
static int
user_peer_spoke(struct chan *c)
{
	struct user_state *u = c->user;
	struct tlsrec_rx *rx = &u->rx;
	ssize_t n;
	int r;

	if (u->pt_len == 0)
		tlsrec_rx_compact(rx);
	n = recv(c->fd, rx->buf + rx->end, rx->cap - rx->end, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n > 0)
		rx->end += (size_t)n;
	while (u->pt_len == 0) {
		r = tlsrec_next(u->rec, rx, &u->pt, &u->pt_len);
		if (r == TLSREC_NEED && n > 0)
			return 0; /* the rest of a record: later */
		if (r == TLSREC_NEED)
			break; /* closed or broken: the session finds out */
		if (r < 0)
			return r;
		if (r == TLSREC_GOT_CLOSE) {
			c->peer_closed = 1;
			break;
		}
	}
	return zk_fail(ZK_EEARLY, "receiver ended the session during the "
		       "stream");
}

/* Sealed records to the peer, all of them. */
static int
send_records(struct chan *c, const uint8_t *p, size_t len)
{
	if (len > 0 && write_all(c->fd, p, len) < 0)
		return errno == EPIPE || errno == ECONNRESET
			       ? zk_fail(ZK_ENET, "connection closed by peer "
					 "during the stream")
			       : zk_fail_errno(ZK_ENET, "sending to the peer");
	return 0;
}

static int
user_send_stream(struct chan *c, struct endpoint *src, struct xfer *x)
{
	struct user_state *u = c->user;
	uint8_t *buf = NULL;
	struct iovec iov[RECS_PER_WRITE];
	int fd = -1, owned = 0, r;

	if ((buf = malloc(REC_SLOT * RECS_PER_WRITE)) == NULL)
		return zk_fail_errno(ZK_ESYS, "malloc");
	for (int i = 0; i < RECS_PER_WRITE; i++) {
		iov[i].iov_base = buf + (size_t)i * REC_SLOT + TLSREC_HDR;
		iov[i].iov_len = TLSREC_MAX_PLAIN;
	}
	if ((r = endpoint_fd(src, 1, &fd, &owned)) < 0)
		goto out;
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = c->fd, .events = POLLIN } };
		size_t out = 0, left, start;
		ssize_t n;

		/* The producer may pause as long as it likes; the receiver
		 * must not speak until the stream ends. */
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = zk_fail_errno(ZK_ESYS, "poll");
			goto out;
		}
		if (p[1].revents && (r = user_peer_spoke(c)) < 0)
			goto out;
		if (!p[0].revents)
			continue;
		n = readv(fd, iov, RECS_PER_WRITE);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			r = zk_fail_errno(ZK_EZFS, "reading the stream");
			goto out;
		}
		if (n == 0)
			break;
		/* Records sealed in their slots go out together; a KeyUpdate
		 * that falls due between two of them goes out between them. */
		for (left = (size_t)n, start = 0; left > 0;) {
			size_t k = left < TLSREC_MAX_PLAIN ? left
							   : TLSREC_MAX_PLAIN;

			if (tlsrec_key_update_due(u->rec)) {
				if ((r = send_records(c, buf + start,
						      out - start)) < 0 ||
				    (r = user_key_update(c)) < 0)
					goto out;
				start = out;
			}
			out += tlsrec_seal(u->rec, TLSREC_DATA, buf + out, k, 0);
			left -= k;
		}
		if ((r = send_records(c, buf + start, out - start)) < 0)
			goto out;
		x->bytes += (uint64_t)n;
		x->user_bytes += (uint64_t)n;
		xfer_progress(x, 0);
	}
	r = 0;
out:
	if (owned && fd >= 0)
		close(fd);
	free(buf);
	return r;
}

/* Hand iov[0, k) to the consumer, all of it. */
static int
write_iov(int fd, struct iovec *v, int k)
{
	while (k > 0) {
		ssize_t n = writev(fd, v, k);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return zk_fail_errno(ZK_EZFS, "writing the stream to "
					     "the consumer");
		while (k > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			k--;
		}
		if (k > 0) {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int
user_recv_stream(struct chan *c, struct endpoint *dst, struct xfer *x)
{
	struct user_state *u = c->user;
	struct iovec iov[IOV_BATCH];
	int fd = -1, owned = 0, r = 0;

	if ((r = endpoint_fd(dst, 0, &fd, &owned)) < 0)
		return r;
	for (;;) {
		size_t total = 0;
		int k = 0, w;

		/* Data left over from user_read() first, then every record
		 * already buffered; the pointers stay valid until the buffer
		 * is compacted, which happens only after the writev. */
		if (u->pt_len > 0) {
			iov[k].iov_base = (void *)u->pt;
			iov[k++].iov_len = u->pt_len;
			total += u->pt_len;
			u->pt_len = 0;
		}
		while (k < IOV_BATCH) {
			const uint8_t *p;
			size_t n;

			r = tlsrec_next(u->rec, &u->rx, &p, &n);
			if (r != TLSREC_GOT_DATA)
				break;
			iov[k].iov_base = (void *)p;
			iov[k++].iov_len = n;
			total += n;
		}
		/* What authenticated before a failure still goes out (pipe
		 * mode documents that the output's prefix may be there). */
		if (total > 0) {
			if ((w = write_iov(fd, iov, k)) < 0) {
				r = w;
				break;
			}
			x->bytes += total;
			x->user_bytes += total;
			xfer_progress(x, 0);
		}
		if (r < 0)
			break;
		if (r == TLSREC_GOT_CLOSE) {
			c->peer_closed = 1;
			r = 0;
			break;
		}
		if (r == TLSREC_NEED && (r = user_fill(c)) < 0)
			break;
	}
	if (owned && fd >= 0)
		close(fd);
	return r < 0 ? r : 0;
}

static int
user_close_notify(struct chan *c)
{
	return user_send_alert(c, 1, 0);
}

static void
user_abort(struct chan *c)
{
	(void)user_send_alert(c, 2, 80); /* internal_error */
	shutdown(c->fd, SHUT_RDWR);
}

const struct plane plane_user = {
	.name = "user",
	.kernel = 0,
	.read = user_read,
	.write = user_write,
	.send_stream = user_send_stream,
	.recv_stream = user_recv_stream,
	.close_notify = user_close_notify,
	.abort = user_abort,
};
