/*
 * plane_direct.c - the "direct" plane: zfs itself reads (zfs receive) or
 * writes (zfs send) the kernel-TLS socket, handed to it as stdin or
 * stdout.  zktls cannot count the bytes; it watches the child and TCP's
 * counters for a stalled peer, and after a failure finds out from the
 * socket whether the connection or zfs was the cause.  Without a zfs
 * child (pipe mode) it splices.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktls.h"
#include "plane.h"

/*
 * zfs owns the socket (direct plane): is the peer stalled?  Sending: the
 * peer acknowledged nothing for the idle timeout while data waits for it.
 * Receiving: nothing arrived for the idle timeout and at most part of one
 * record waits (a full queue means zfs, not the peer, is the slow one).
 * Once TCP has closed the connection the queues say nothing more.
 */
struct stall {
	int sending;
	pid_t reader;   /* receiving: zfs, when ours to watch (else 0) */
	uint64_t moved;
	double since;   /* when the counter last moved (0: not yet looked) */
	double stuck_s; /* how long it had been stuck at the last look */
	double heard;   /* when the counter last moved (quiet peers too) */
};

/* Receiving, TCP's queue empty: is the peer quiet between records?  Not
 * when kernel TLS holds part of one (kplane_rx_partial(), with what zfs
 * has read); yes when zfs has something to read (it is behind, not the
 * peer), or when zktls cannot tell. */
static int rx_between_records(struct chan *c, struct stall *st)
{
	uint64_t zread;

	if (kplane_peer_spoke(c->fd) || st->reader <= 0 ||
	    os_proc_read(st->reader, &zread) < 0)
		return 1;
	return !kplane_rx_partial(&c->rx, c->fd, zread);
}

static int stalled(struct chan *c, struct stall *st)
{
	uint64_t moved, zread;
	int queued, closed;
	double now = now_s();

	if (c->timeout_ms <= 0 ||
	    ktls_tcp_progress(c->fd, st->sending, &moved, &queued, &closed) < 0)
		return 0;
	if (moved != st->moved || st->heard == 0)
		st->heard = now;
	/* the level between records, while the stream flows (zfs's bytes
	 * read first: see ktls_rx_balance()) */
	if (!st->sending && c->quiet_ok && st->reader > 0 &&
	    os_proc_read(st->reader, &zread) == 0)
		kplane_rx_sample(&c->rx, c->fd, zread);
	/* Not stuck: the counter moved; a sender with nothing unacked (its
	 * zfs is quiet); a receiver whose zfs is behind (more queued than a
	 * record, a whole record ready to read, or zfs busy, not asleep on
	 * the socket: a zfs waiting for its disk closes the window on the
	 * rest of a record, which then looks stalled), or whose peer is
	 * quiet between records (chan.quiet_ok: TCP keepalive watches it). */
	if (moved != st->moved || st->since == 0 ||
	    (!closed &&
	     (st->sending ? queued == 0
			  : queued > TLS_RECORD_MAX ||
				    ktls_rx_record_ready(c->fd) ||
				    (st->reader > 0 && os_proc_busy(st->reader)) ||
				    (c->quiet_ok && queued == 0 &&
				     rx_between_records(c, st))))) {
		st->moved = moved;
		st->since = now;
		st->stuck_s = 0;
		return 0;
	}
	st->stuck_s = now - st->since;
	return st->stuck_s * 1000 >= c->timeout_ms;
}

/* The connection failed, or zfs did: had the peer been stalled for about
 * the idle timeout?  TCP's user timeout (the same length, see net_tune())
 * may abort the connection a tick before our own check; zfs may then have
 * taken the socket's ETIMEDOUT already. */
static int stalled_out(struct chan *c, struct stall *st)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err == ETIMEDOUT)
		return 1;
	(void)stalled(c, st);
	return c->timeout_ms > 0 && st->stuck_s * 1000 + 2000 >= c->timeout_ms;
}

/* zfs failed on a connection that TCP itself aborted (state CLOSE: a
 * reset or the keepalive's timeout, not the peer's FIN) after the stream
 * had been silent for the idle timeout: the peer vanished while its zfs
 * was quiet, and zfs took the socket's ETIMEDOUT. */
static int lost_quiet(struct chan *c, struct stall *st)
{
	uint64_t moved;
	int queued, closed;

	if (c->timeout_ms <= 0 || st->heard == 0 ||
	    ktls_tcp_progress(c->fd, st->sending, &moved, &queued, &closed) < 0)
		return 0;
	return closed && moved == st->moved &&
	       (now_s() - st->heard) * 1000 >= c->timeout_ms;
}

/*
 * Wait for e's child, which owns the socket, to exit without reaping it
 * (finish() does that).  Fails with a timeout when the peer stalls, and
 * when sending, with -ZK_EEARLY as soon as the socket is readable (the
 * receiver spoke).  Uses a pidfd where the kernel has one, else a 100 ms
 * tick; a 1 s tick while watching for stalls (100 ms receiving, where the
 * level between records is sampled).
 */
static int wait_child(struct chan *c, struct endpoint *e, struct stall *st,
		      struct xfer *x)
{
	int pidfd = -1, r = 0, tick, queued, closed;
	uint64_t base = 0, moved;
	siginfo_t si;

#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, e->pid, 0);
#endif
	tick = pidfd >= 0 ? -1 : 100;
	if (c->timeout_ms > 0) {
		tick = c->timeout_ms < 1000 ? c->timeout_ms : 1000;
		/* receiving: the level between records wants many samples */
		if (st->reader > 0 && c->quiet_ok)
			tick = 100;
		(void)stalled(c, st);
	}
	/* Progress, estimated: TCP's count of bytes acknowledged (sending)
	 * or received, TLS framing included, since zfs took the socket. */
	if ((x->progress || x->tick) &&
	    ktls_tcp_progress(c->fd, st->sending, &base, &queued, &closed) == 0) {
		x->estimated = 1;
		tick = tick < 0 || tick > 1000 ? 1000 : tick;
	}
	while (!endpoint_exited(e, &si)) {
		struct pollfd p[2] = {
			{ .fd = st->sending ? c->fd : -1, .events = POLLIN },
			{ .fd = pidfd, .events = POLLIN },
		};

		if (poll(p, 2, tick) < 0) {
			if (errno == EINTR)
				continue;
			r = zk_fail_errno(ZK_ESYS, "poll");
			break;
		}
		if (p[0].revents) {
			r = stalled_out(c, st) ? kplane_timeout_fail(c) : kplane_early_fail();
			break;
		}
		if (stalled(c, st)) {
			r = kplane_timeout_fail(c);
			break;
		}
		if (x->estimated && ktls_tcp_progress(c->fd, st->sending, &moved,
						      &queued, &closed) == 0) {
			x->bytes = moved > base ? moved - base : 0;
			xfer_progress(x, 0);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	/* the estimate is for the eye only: the session counts nothing */
	x->bytes = 0;
	x->estimated = 0;
	return r;
}

/*
 * Run e's zfs child on the socket (direct plane) until it exits.  0: it
 * succeeded; 1: it failed, and the caller looks at the connection for the
 * cause; negative: the peer stalled (or, sending, spoke), zfs is killed.
 */
static int direct_run(struct chan *c, struct endpoint *e, int sending,
		      struct xfer *x)
{
	struct stall st = { .sending = sending };
	int r = e->start(e, c->fd);

	if (r < 0)
		return r;
	/* zfs reads the stream now; serve's monitor runs it, and there it
	 * is not ours to watch */
	if (!sending) {
		c->rx.exact = 0;
		st.reader = e->remote ? 0 : e->pid;
	}
	r = wait_child(c, e, &st, x);
	if (r < 0) {
		e->kill(e);
		return r;
	}
	if (endpoint_ok(e))
		return 0;
	if (stalled_out(c, &st))
		return kplane_timeout_fail(c);
	/* TCP gave up (its user timeout is ours, net_tune()): sending, the
	 * peer took nothing for that long, alive (a zero window) or not */
	if (lost_quiet(c, &st))
		return sending ? kplane_timeout_fail(c)
			       : ktls_sock_fail(ETIMEDOUT, "receive from the peer");
	return 1;
}

/*
 * zfs failed while it owned the socket (direct receive).  zfs reports a
 * broken connection in its own words ("incomplete stream", or it aborts on
 * EBADMSG); what the socket holds now tells whether the connection was the
 * cause.  The kernel keeps a record that failed authentication queued, so
 * reading it again fails again.  Returns a negative ZK_E* with the network
 * cause, or 0 when the connection is fine and zfs failed on its own.
 */
static int net_cause(struct chan *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char buf[4096];
	ssize_t n;
	int type;

	if (c->peer_closed || poll(&p, 1, 100) <= 0)
		return 0; /* nothing pending: zfs stopped on its own */
	n = ktls_recv_once(c->fd, buf, sizeof(buf), MSG_DONTWAIT, &type);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
			       ? 0
			       : ktls_sock_fail(errno, "receive from the peer");
	if (type < 0)
		return n == 0 ? zk_fail(ZK_ENET, "connection closed by peer "
					"without close_notify (truncated stream)")
			      : 0;
	if (type == REC_DATA)
		return 0; /* the stream still flows: zfs gave up */
	n = kplane_control_record(c, type, (const uint8_t *)buf, (size_t)n,
			   sizeof(buf));
	return n < 0 ? (int)n : 0; /* close_notify: the stream was whole */
}

/* direct send: zfs writes the KTLS socket itself.  The session's
 * close_notify afterwards pushes the record zfs's SPLICE_F_MORE left open. */
static int direct_send(struct chan *c, struct endpoint *src, struct xfer *x)
{
	int r;

	if (!src->start)
		return plane_splice->send_stream(c, src, x);
	/* The bytes bypass us; exactly counting them from TCP_INFO and the
	 * record sequence is impossible before close_notify pushes the record
	 * zfs left open. */
	x->uncounted = 1;
	r = direct_run(c, src, 1, x);
	if (r < 0)
		return r;
	/* zfs fails with EPIPE when the receiver stopped early or the
	 * connection broke: the receiver's RESULT, or the broken connection,
	 * is the cause. */
	if (r > 0 && kplane_peer_spoke(c->fd))
		return kplane_early_fail();
	return src->finish(src);
}

/* direct receive: zfs reads the KTLS socket itself.  It reads exact sizes,
 * so after it exits the next record must be the sender's close_notify. */
static int direct_recv(struct chan *c, struct endpoint *dst, struct xfer *x)
{
	char buf[256];
	ssize_t n;
	int r;

	if (!dst->start)
		return plane_splice->recv_stream(c, dst, x);
	x->uncounted = 1; /* zfs reads the stream; we never see it */
	r = direct_run(c, dst, 0, x);
	if (r < 0)
		return r;
	if (r > 0 && (r = net_cause(c)) < 0)
		return r;
	if ((r = dst->finish(dst)) < 0)
		return r;
	n = kplane_recv(c, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (n > 0)
		return zk_fail(ZK_EPROTO, "unexpected data after the end of the "
			       "stream");
	return 0;
}

static const struct plane direct = {
	.name = "direct",
	.kernel = 1,
	.read = kplane_read,
	.write = kplane_write,
	.send_stream = direct_send,
	.recv_stream = direct_recv,
	.close_notify = kplane_close_notify,
	.abort = kplane_abort,
};

const struct plane *const plane_direct = &direct;
