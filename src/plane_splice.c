/*
 * plane_splice.c - the "splice" plane: the kernel encrypts and decrypts,
 * and the stream moves between the socket and the local producer or
 * consumer by splice(), never through this process's memory (ktls.h's
 * zero-copy calls; where the OS has none this plane is never picked).
 *
 * Receiving never splices short: Linux 6.12's tls_sw_splice_read() drops
 * the rest of a record when the pipe takes less than all of it, so the
 * socket is spliced into a private pipe that is empty and can hold any
 * record, then that pipe into the consumer's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ktls.h"
#include "plane.h"

#define SPLICE_CHUNK (1 << 20) /* most one send splice may move */
#define RX_PIPE_SIZE (1 << 20) /* private pipe: holds any record */

/*
 * splice send: producer pipe -> splice -> socket (sendfile for a regular
 * file).  SPLICE_F_MORE leaves the last record open; the session's
 * close_notify (or abort alert) that follows pushes it.
 */
static int splice_send(struct chan *c, struct endpoint *src, struct xfer *x)
{
	struct stat st;
	uint64_t moved = 0;
	int fd, own, r;
	ssize_t n;

	r = endpoint_fd(src, 1, &fd, &own);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0) {
		r = zk_fail_errno(ZK_ESYS, "fstat the producer");
		goto out;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISREG(st.st_mode)) {
		log_info("splice: the input is not a pipe or a file; copying "
			 "through userspace");
		r = kplane_copy_out(c, fd, x); /* tty, socket, device */
		goto out;
	}
	for (;;) {
		size_t chunk = SPLICE_CHUNK;

		r = kplane_wait_producer(c, fd);
		if (r < 0)
			goto out;
		if ((r = kplane_tx_keys(c, &chunk)) < 0)
			goto out;
		n = ktls_splice_send(fd, c->fd, chunk, S_ISREG(st.st_mode));
		if (n == 0)
			break;
		if (n < 0) {
			int e = errno;

			if (e == EINTR || e == EAGAIN)
				continue;
			if (e == EINVAL && moved == 0) {
				log_info("splice: the kernel cannot splice this "
					 "input; copying through userspace");
				r = kplane_copy_out(c, fd, x);
				goto out;
			}
			if ((e == EPIPE || e == ECONNRESET) && kplane_peer_spoke(c->fd))
				r = kplane_early_fail();
			else
				r = ktls_sock_fail(e, "splice to the peer");
			goto out;
		}
		kplane_tx_sent(c, 1); /* SPLICE_F_MORE: the last record waits */
		moved += (uint64_t)n;
		x->bytes += (uint64_t)n;
		xfer_progress(x, 0);
	}
	r = 0;
out:
	if (own)
		close(fd);
	return r;
}

/* Move exactly n bytes from the private pipe into the consumer. */
static int drain_pipe(int pin, int fd, size_t n)
{
	ssize_t m;

	while (n > 0) {
		m = ktls_pipe_move(pin, fd, n);
		if (m < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };

				(void)poll(&p, 1, -1);
				continue;
			}
			return zk_fail_errno(ZK_EZFS, "splice to the consumer");
		}
		if (m == 0)
			return zk_fail(ZK_ESYS, "splice to the consumer moved "
				       "nothing");
		n -= (size_t)m;
	}
	return 0;
}

/*
 * splice() from the socket returned 0.  Linux returns that for the peer's
 * EOF and also for a zero-length data record, which it consumes (TLS 1.3
 * allows them, RFC 8446 5.1).  A non-blocking recvmsg tells them apart
 * without losing anything: nothing more yet (EAGAIN), data or a control
 * record (handled here), or 0 without a record type (EOF).  1: go on
 * splicing; 0: close_notify; negative: failure.  Empty records in a row
 * are bounded as on the user plane.
 */
static int splice_zero(struct chan *c, int fd, struct xfer *x,
		       unsigned *empties)
{
	char buf[4096];
	ssize_t n;
	int type, r;

	if (++*empties > 1024)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: more "
			       "than 1024 TLS records in a row without data");
	n = ktls_recv_once(c->fd, buf, sizeof(buf), MSG_DONTWAIT, &type);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 1;
	if (n < 0)
		return ktls_sock_fail(errno, "receive from the peer");
	if (type < 0)
		return zk_fail(ZK_ENET, "connection closed by peer without "
			       "close_notify (truncated stream)");
	if (type != REC_DATA) {
		n = kplane_control_record(c, type, (const uint8_t *)buf, (size_t)n,
				   sizeof(buf));
		/* 0: close_notify; a KeyUpdate followed: splice on */
		return n == KPLANE_KEYS_FOLLOWED ? 1 : (int)n;
	}
	if (n > 0) { /* the next record's data: pass it on */
		if ((r = kplane_out_write(fd, buf, (size_t)n)) < 0)
			return r;
		x->bytes += (uint64_t)n;
		x->user_bytes += (uint64_t)n;
		*empties = 0;
	}
	return 1;
}

/*
 * splice receive, never short: socket -> private pipe (empty, 1 MiB) ->
 * consumer.  splice() returns EINVAL at a non-data record; kplane_recv
 * fetches it (close_notify ends the stream).
 */
static int splice_recv(struct chan *c, struct endpoint *dst, struct xfer *x)
{
	struct stat st;
	int fd, own, r, e = 0, p[2] = { -1, -1 };
	/* With an idle timeout: splice without blocking, poll for the peer. */
	int nonblock = c->timeout_ms > 0;
	int flags = nonblock;
	long psz = -1;
	unsigned empties = 0;
	ssize_t n;

	r = endpoint_fd(dst, 0, &fd, &own);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0) {
		r = zk_fail_errno(ZK_ESYS, "fstat the consumer");
		goto out;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = zk_fail_errno(ZK_ESYS, "pipe");
		goto out;
	}
	psz = ktls_pipe_grow(p[1], RX_PIPE_SIZE);
	e = errno;
	/* splice() cannot write a tty, a socket or an O_APPEND file, and a
	 * smaller private pipe might not hold a whole record. */
	if ((!S_ISFIFO(st.st_mode) && !S_ISREG(st.st_mode)) ||
	    (fcntl(fd, F_GETFL) & O_APPEND) || psz < RX_PIPE_SIZE) {
		if (psz < RX_PIPE_SIZE)
			log_info("splice: no %d KiB pipe (%s); copying "
				 "through userspace", RX_PIPE_SIZE >> 10,
				 strerror(e));
		else
			log_info("splice: the output is not a pipe or a "
				 "plain file opened without O_APPEND; copying "
				 "through userspace");
		r = kplane_copy_in(c, fd, x);
		goto out;
	}
	for (;;) {
		n = ktls_splice_recv(c->fd, p[1], (size_t)psz, flags);
		if (n > 0) {
			c->rx.plain += (uint64_t)n;
			r = drain_pipe(p[0], fd, (size_t)n);
			if (r < 0)
				goto out;
			x->bytes += (uint64_t)n;
			xfer_progress(x, 0);
			flags = nonblock;
			empties = 0;
			continue;
		}
		if (n == 0) {
			/* The peer's EOF, or an empty data record. */
			r = splice_zero(c, fd, x, &empties);
			if (r <= 0)
				goto out; /* 0: close_notify */
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			r = kplane_wait_peer(c);
			if (r < 0)
				goto out;
			flags = 0; /* ready: block for the rest of a record */
			continue;
		}
		if (errno == EINVAL) {
			char buf[4096];

			/* A control record: close_notify ends the stream, and
			 * past the peer's KeyUpdate kplane_recv reads on. */
			n = kplane_recv(c, buf, sizeof(buf));
			if (n <= 0) {
				r = (int)n; /* 0: close_notify */
				goto out;
			}
			/* Data (after a KeyUpdate): pass it on. */
			r = kplane_out_write(fd, buf, (size_t)n);
			if (r < 0)
				goto out;
			x->bytes += (uint64_t)n;
			x->user_bytes += (uint64_t)n;
			continue;
		}
		r = ktls_sock_fail(errno, "splice from the peer");
		goto out;
	}
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (own)
		close(fd);
	return r;
}

static const struct plane splice_plane = {
	.name = "splice",
	.kernel = 1,
	.read = kplane_read,
	.write = kplane_write,
	.send_stream = splice_send,
	.recv_stream = splice_recv,
	.close_notify = kplane_close_notify,
	.abort = kplane_abort,
};

const struct plane *const plane_splice = &splice_plane;
