/*
 * plane_user.c - the "user" data plane: TLS records sealed and opened in
 * this process (tlsrec.c), for hosts without kernel TLS.
 *
 * Both sides are pipelined (upipe.c): this thread does the reads and the
 * crypto; a batch of about 1 MiB goes out from here as far as the sink
 * takes it at once, and a thread of the pipeline writes what would wait
 * (UPIPE_SLOTS batches at most), so that sealing or opening the next
 * batch overlaps a slow sink.  The record layer and its keys stay in
 * this thread: records are sealed and sequenced here, KeyUpdates go
 * between records in stream order, and the writer only moves bytes.
 *
 * Send side: RECS_PER_WRITE record slots lie back to back in a batch.
 * One readv() fills their content areas straight from the producer; every
 * slot but the last filled one is full, so after sealing in place the
 * records are contiguous and leave in one writev() (a KeyUpdate due
 * between two records is an iovec of its own between them).
 * Receive side: large reads of ciphertext into a batch, records opened in
 * place, their contents handed to the consumer with one writev() per
 * batch.  A buffer is compacted only when no pointer into it is pending
 * (tlsrec.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tlsrec.h"
#include "upipe.h"
#include "zktls.h"

#define REC_SLOT (TLSREC_MAX_PLAIN + TLSREC_OVERHEAD)
#define RECS_PER_WRITE 64
/* A send slot: RECS_PER_WRITE record slots, then room for a KeyUpdate
 * before each record. */
#define SEND_KU_OFF ((size_t)REC_SLOT * RECS_PER_WRITE)
#define SEND_SLOT (SEND_KU_OFF + (size_t)TLSREC_KEY_UPDATE_LEN * RECS_PER_WRITE)
#define RX_BUF (1u << 20)
#define RECV_SLOT (1u << 20)
/* How long opened records wait for more before they go to the consumer
 * (while the stream flows, a slot fills first: fewer, larger writes). */
#define RX_HOLD_MS 1
/* While this thread waits for the pipeline's writer (a slow peer or
 * consumer) or a batch is in flight, it counts what was written this
 * often: the stream's bytes (progress, serve's status) do not stand still
 * for the batches of the ring. */
#define PROGRESS_MS 250
#define IOV_BATCH 128
/* A pipe given as the stream grows to this (as endpoint.c's own). */
#define PIPE_GROW (1 << 20)

struct user_state {
	struct tlsrec *rec;
	int warned;             /* past the key limit, the peer cannot follow */
	int rx_err;             /* a read error fill_now() met, for user_fill */
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

/* A read of the peer's records returned n (0: end of file, < 0: errno). */
static int
fill_failed(ssize_t n)
{
	if (n < 0 && errno == ECONNRESET)
		return zk_fail(ZK_ENET, "connection reset by peer");
	if (n < 0 && errno == ETIMEDOUT)
		return zk_fail(ZK_ENET, "the peer stopped answering "
			       "(TCP keepalive timed out)");
	if (n < 0)
		return zk_fail_errno(ZK_ENET, "reading from the peer");
	return zk_fail(ZK_ENET, "connection closed by peer "
		       "without close_notify (truncated stream)");
}

/* Read more ciphertext (the caller holds no pointer into the buffer). */
static int
user_fill(struct chan *c)
{
	struct user_state *u = c->user;
	struct tlsrec_rx *rx = &u->rx;

	tlsrec_rx_compact(rx);
	if (u->rx_err != 0) {
		/* what fill_now() met: the socket reports it once */
		errno = u->rx_err;
		u->rx_err = 0;
		return fill_failed(-1);
	}
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
		if (n <= 0)
			return fill_failed(n);
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

/* A pipe given as the stream (pipe mode's stdin or stdout) grows to
 * PIPE_GROW, as endpoint.c's own pipes: a batch then fits, and both sides
 * wake less often.  Best effort (pipe-max-size, the user's pipe quota). */
static void
pipe_grow(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    fcntl(fd, F_GETPIPE_SZ) < PIPE_GROW)
		(void)fcntl(fd, F_SETPIPE_SZ, PIPE_GROW);
}

/* The send pipeline failed to write (upipe_errno): say so. */
static int
send_failed(struct upipe *pp)
{
	int e = upipe_errno(pp);

	if (e == EPIPE || e == ECONNRESET)
		return zk_fail(ZK_ENET, "connection closed by peer during the "
			       "stream");
	errno = e;
	return zk_fail_errno(ZK_ENET, "sending to the peer");
}

/* The stream's bytes as far as the pipeline has written them, and a
 * progress line (or serve's report) where one is due.  None before its
 * first batch is written: xfer_progress() reports at most once a second,
 * and a report of nothing yet would hold back the first real one (a
 * stream that the socket's buffer takes whole would show none). */
static void
pipe_progress(struct upipe *pp, struct xfer *x, uint64_t bytes0,
	      uint64_t user0)
{
	uint64_t d = upipe_done(pp);

	if (d == 0)
		return;
	x->bytes = bytes0 + d;
	x->user_bytes = user0 + d;
	xfer_progress(x, 0);
}

/* Wait for a free slot (all: for everything queued to be written),
 * counting the bytes written every PROGRESS_MS meanwhile: 0, or -1 after
 * a failed write. */
static int
pipe_wait(struct upipe *pp, int all, struct xfer *x, uint64_t bytes0,
	  uint64_t user0)
{
	int r;

	while ((r = upipe_wait(pp, all, PROGRESS_MS)) == 0)
		pipe_progress(pp, x, bytes0, user0);
	return r < 0 ? -1 : 0;
}

/* Seal the n bytes read into s's record slots in place.  Every slot but
 * the last filled one is full, so the records lie back to back; a
 * KeyUpdate that falls due between two of them goes out between them,
 * from the slot's KeyUpdate area. */
static int
seal_batch(struct user_state *u, struct upipe_slot *s, size_t n)
{
	uint8_t *ku = s->buf + SEND_KU_OFF;
	size_t out = 0, start = 0, left = n;
	int k = 0, e;

	while (left > 0) {
		size_t m = left < TLSREC_MAX_PLAIN ? left : TLSREC_MAX_PLAIN;

		if (tlsrec_key_update_due(u->rec)) {
			if (out > start) {
				s->iov[k].iov_base = s->buf + start;
				s->iov[k++].iov_len = out - start;
			}
			if ((e = tlsrec_seal_key_update(u->rec, ku, 0)) < 0)
				return e;
			s->iov[k].iov_base = ku;
			s->iov[k++].iov_len = (size_t)e;
			ku += TLSREC_KEY_UPDATE_LEN;
			start = out;
		}
		out += tlsrec_seal(u->rec, TLSREC_DATA, s->buf + out, m, 0);
		left -= m;
	}
	if (out > start) {
		s->iov[k].iov_base = s->buf + start;
		s->iov[k++].iov_len = out - start;
	}
	s->n = k;
	s->bytes = n;
	return 0;
}

/*
 * Read, seal, write, pipelined: this thread reads the producer into a
 * slot's record areas and seals them in place while the pipeline's
 * thread writes the slots sealed before (upipe.c, UPIPE_SLOTS of them).
 */
static int
user_send_stream(struct chan *c, struct endpoint *src, struct xfer *x)
{
	struct user_state *u = c->user;
	struct upipe *pp = NULL;
	struct iovec iov[RECS_PER_WRITE];
	uint64_t bytes0 = x->bytes, user0 = x->user_bytes, put = 0;
	int fd = -1, owned = 0, r;

	if ((r = endpoint_fd(src, 1, &fd, &owned)) < 0)
		return r;
	pipe_grow(fd);
	if ((pp = upipe_new(c->fd, SEND_SLOT, 2 * RECS_PER_WRITE)) == NULL) {
		r = -zk_errcode();
		goto out;
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = c->fd, .events = POLLIN } };
		struct upipe_slot *s;
		ssize_t n;

		/* The producer may pause as long as it likes; the receiver
		 * must not speak until the stream ends.  While a batch is
		 * being written, its bytes are counted as they go. */
		if ((n = poll(p, 2, upipe_done(pp) < put ? PROGRESS_MS
							  : -1)) < 0) {
			if (errno == EINTR)
				continue;
			r = zk_fail_errno(ZK_ESYS, "poll");
			goto out;
		}
		if (n == 0) {
			if (upipe_errno(pp) != 0) {
				r = send_failed(pp);
				goto out;
			}
			pipe_progress(pp, x, bytes0, user0);
			continue;
		}
		if (p[1].revents && (r = user_peer_spoke(c)) < 0)
			goto out;
		if (!p[0].revents)
			continue;
		if (pipe_wait(pp, 0, x, bytes0, user0) < 0 ||
		    (s = upipe_slot(pp)) == NULL) {
			r = send_failed(pp);
			goto out;
		}
		for (int i = 0; i < RECS_PER_WRITE; i++) {
			iov[i].iov_base = s->buf + (size_t)i * REC_SLOT +
					  TLSREC_HDR;
			iov[i].iov_len = TLSREC_MAX_PLAIN;
		}
		n = readv(fd, iov, RECS_PER_WRITE);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			r = zk_fail_errno(ZK_EZFS, "reading the stream");
			goto out;
		}
		if (n == 0)
			break;
		if ((r = seal_batch(u, s, (size_t)n)) < 0)
			goto out;
		if (upipe_put(pp, s) < 0) {
			r = send_failed(pp);
			goto out;
		}
		put += s->bytes;
		pipe_progress(pp, x, bytes0, user0);
	}
	r = pipe_wait(pp, 1, x, bytes0, user0) < 0 || upipe_finish(pp) < 0
		    ? send_failed(pp) : 0;
out:
	if (pp != NULL) {
		/* After a failure the stream ends at a batch boundary: the
		 * batch being written goes out whole, as before. */
		upipe_cancel(pp);
		x->bytes = bytes0 + upipe_done(pp);
		x->user_bytes = user0 + upipe_done(pp);
		upipe_free(pp);
	}
	if (owned && fd >= 0)
		close(fd);
	return r;
}

/* The receive pipeline failed to write (upipe_errno): say so. */
static int
recv_failed(struct upipe *pp)
{
	errno = upipe_errno(pp);
	return zk_fail_errno(ZK_EZFS, "writing the stream to the consumer");
}

/* Read what the socket has now into rx, once poll() said it is readable
 * (this thread is its only reader, so the read does not wait): more than
 * 0 when it got some.  An error is kept for user_fill to report (the
 * socket reports it only once).  read(), as user_fill's: the bytes count
 * in the process's I/O accounting (rchar), where recv()'s do not. */
static ssize_t
fill_now(struct chan *c, struct tlsrec_rx *rx)
{
	struct user_state *u = c->user;
	ssize_t n;

	do
		n = read(c->fd, rx->buf + rx->end, rx->cap - rx->end);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		rx->end += (size_t)n;
	else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		u->rx_err = errno;
	return n;
}

/* Point rx at buf (cap bytes), its unread bytes moved along. */
static void
rx_move(struct tlsrec_rx *rx, uint8_t *buf, size_t cap)
{
	size_t have = rx->end - rx->off;

	if (rx->buf == buf)
		return;
	memcpy(buf, rx->buf + rx->off, have);
	rx->buf = buf;
	rx->cap = cap;
	rx->off = 0;
	rx->end = have;
}

/*
 * Read, open, write, pipelined: this thread reads ciphertext into a
 * slot's buffer and opens the records in place; the pipeline's thread
 * hands the contents of the slots opened before to the consumer.  A
 * slot goes to the writer once its buffer is full or the peer has sent
 * nothing more for RX_HOLD_MS (never held back longer, whatever the
 * timeout); the unread rest (part of a record) moves to the next free
 * slot, so no buffer is compacted under a pending pointer (tlsrec.h).
 */
static int
user_recv_stream(struct chan *c, struct endpoint *dst, struct xfer *x)
{
	struct user_state *u = c->user;
	struct tlsrec_rx *rx = &u->rx;
	struct upipe *pp = NULL;
	uint64_t bytes0 = x->bytes, user0 = x->user_bytes, put = 0;
	int fd = -1, owned = 0, r = 0;

	if ((r = endpoint_fd(dst, 0, &fd, &owned)) < 0)
		return r;
	pipe_grow(fd);
	if ((pp = upipe_new(fd, RECV_SLOT, IOV_BATCH)) == NULL) {
		r = -zk_errcode();
		goto out;
	}
	for (;;) {
		struct upipe_slot *s = pipe_wait(pp, 0, x, bytes0, user0) < 0
					       ? NULL : upipe_slot(pp);
		uint64_t total = 0;
		int k = 0;

		if (s == NULL) {
			r = recv_failed(pp);
			break;
		}
		rx_move(rx, s->buf, RECV_SLOT);
		/* Data left over from user_read() first (it stays in the
		 * plane's own buffer until the end), then every record
		 * buffered. */
		if (u->pt_len > 0) {
			s->iov[k].iov_base = (void *)u->pt;
			s->iov[k++].iov_len = u->pt_len;
			total += u->pt_len;
			u->pt_len = 0;
		}
		for (;;) {
			const uint8_t *p;
			size_t n;

			if (k == IOV_BATCH)
				break;
			r = tlsrec_next(u->rec, rx, &p, &n);
			if (r == TLSREC_GOT_DATA) {
				s->iov[k].iov_base = (void *)p;
				s->iov[k++].iov_len = n;
				total += n;
				continue;
			}
			if (r != TLSREC_NEED)
				break;
			/* Nothing pending: wait for the peer (the buffer
			 * may be compacted), counting a batch in flight
			 * as it goes. */
			if (k == 0) {
				if (upipe_errno(pp) != 0) {
					r = recv_failed(pp);
					break;
				}
				if (upipe_done(pp) < put &&
				    poll(&(struct pollfd){ .fd = c->fd,
							   .events = POLLIN },
					 1, PROGRESS_MS) == 0) {
					pipe_progress(pp, x, bytes0, user0);
					continue;
				}
				if ((r = user_fill(c)) < 0)
					break;
				continue;
			}
			/* Pending contents: more if there is room for the
			 * record under way and the peer sends it within
			 * RX_HOLD_MS, else they go. */
			if (rx->cap - rx->off < TLSREC_MAX ||
			    poll(&(struct pollfd){ .fd = c->fd,
						   .events = POLLIN },
				 1, RX_HOLD_MS) <= 0 ||
			    fill_now(c, rx) <= 0)
				break;
		}
		/* What authenticated before a failure still goes out (pipe
		 * mode documents that the output's prefix may be there). */
		if (k > 0) {
			s->n = k;
			s->bytes = total;
			if (upipe_put(pp, s) < 0) {
				r = recv_failed(pp);
				break;
			}
			put += total;
			pipe_progress(pp, x, bytes0, user0);
		}
		if (r < 0)
			break;
		if (r == TLSREC_GOT_CLOSE) {
			c->peer_closed = 1;
			r = 0;
			break;
		}
	}
	if ((pipe_wait(pp, 1, x, bytes0, user0) < 0 || upipe_finish(pp) < 0) &&
	    r >= 0)
		r = recv_failed(pp);
out:
	if (pp != NULL) {
		upipe_cancel(pp);
		x->bytes = bytes0 + upipe_done(pp);
		x->user_bytes = user0 + upipe_done(pp);
		/* The unread rest back to the plane's own buffer, for
		 * user_read (a receiver that failed drains the stream). */
		rx_move(rx, u->buf, RX_BUF);
		u->pt_len = 0;
		upipe_free(pp);
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
