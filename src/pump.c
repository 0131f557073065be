/*
 * pump.c - data planes: choosing one, switching to it, and the "user" plane.
 *
 * The user plane keeps the session in OpenSSL: stream bytes are read from
 * the producer into one large buffer and written with SSL_write, or read
 * with SSL_read (read-ahead on, so many records arrive per syscall) and
 * written to the consumer in large chunks.  It is what runs on hosts
 * without kernel TLS, so it avoids small buffers and needless syscalls.
 *
 * The kernel planes (rw, splice, direct) live in ktls_<os>.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zktls.h"

#define USER_BUF (1u << 20)
#define PIPE_SIZE (1 << 20)

void
xfer_progress(struct xfer *x, int final)
{
	double t = now_s(), dt;
	char b[32], r[32];

	if (!x->progress || (!final && t - x->t_last_progress < 1.0))
		return;
	x->t_last_progress = t;
	dt = t - x->t_start;
	human_bytes(x->bytes, b, sizeof(b));
	human_bytes(dt > 0 ? (uint64_t)((double)x->bytes / dt) : 0, r,
		    sizeof(r));
	if (x->total_hint > 0 && x->bytes > 0 && x->bytes < x->total_hint) {
		double eta = dt * (double)(x->total_hint - x->bytes) /
			     (double)x->bytes;
		fprintf(stderr, "zktls: %s  %s/s  %3.0f%%  ETA %.0f s\n", b, r,
			100.0 * (double)x->bytes / (double)x->total_hint, eta);
	} else {
		fprintf(stderr, "zktls: %s  %s/s\n", b, r);
	}
}

int
endpoint_pipe(struct endpoint *e, int dir_out, int *fd)
{
	int p[2], child, mine, r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return zk_fail_errno(ZK_ESYS, "pipe");
	/* Larger pipes mean fewer wakeups on both sides; best effort. */
	(void)fcntl(p[0], F_SETPIPE_SZ, PIPE_SIZE);
	child = dir_out ? p[1] : p[0];
	mine = dir_out ? p[0] : p[1];
	r = e->start(e, child);
	close(child);
	if (r < 0) {
		close(mine);
		return r;
	}
	*fd = mine;
	return 0;
}

/* The producer's or consumer's fd for a copying plane; *owned tells
 * whether the caller must close it. */
int
endpoint_fd(struct endpoint *e, int dir_out, int *fd, int *owned)
{
	if (e->start == NULL) {
		*fd = e->fd;
		*owned = 0;
		return 0;
	}
	*owned = 1;
	return endpoint_pipe(e, dir_out, fd);
}

/* ------------------------------------------------------------ user plane */

static ssize_t
user_read(struct chan *c, void *buf, size_t len)
{
	ssize_t n;

	if (!tls_pending(c->tls) && c->timeout_ms >= 0) {
		int r = net_wait(c->fd, POLLIN, c->timeout_ms);
		if (r == 0)
			return zk_fail(ZK_ENET, "timed out after %d s waiting "
				       "for the peer", c->timeout_ms / 1000);
		if (r < 0)
			return r;
	}
	n = tls_read(c->tls, buf, len);
	if (n == 0)
		c->peer_closed = 1;
	else if (n > 0)
		c->app_bytes_in += (uint64_t)n;
	return n;
}

static int
user_write(struct chan *c, const void *buf, size_t len)
{
	int r = tls_write(c->tls, buf, len);

	if (r == 0)
		c->app_bytes_out += len;
	return r;
}

static int
user_send_stream(struct chan *c, struct endpoint *src, struct xfer *x)
{
	uint8_t *buf = NULL;
	int fd = -1, owned = 0, r;

	if ((buf = malloc(USER_BUF)) == NULL)
		return zk_fail_errno(ZK_ESYS, "malloc");
	if ((r = endpoint_fd(src, 1, &fd, &owned)) < 0)
		goto out;
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = c->fd, .events = POLLIN } };
		ssize_t n;

		/* The producer may pause as long as it likes; the receiver
		 * must not speak until the stream ends. */
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = zk_fail_errno(ZK_ESYS, "poll");
			goto out;
		}
		if (p[1].revents) {
			r = zk_fail(ZK_EEARLY, "receiver ended the session "
				    "during the stream");
			goto out;
		}
		n = read(fd, buf, USER_BUF);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			r = zk_fail_errno(ZK_EZFS, "reading the stream");
			goto out;
		}
		if (n == 0)
			break;
		if ((r = user_write(c, buf, (size_t)n)) < 0)
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

static int
user_recv_stream(struct chan *c, struct endpoint *dst, struct xfer *x)
{
	uint8_t *buf = NULL;
	int fd = -1, owned = 0, r;

	if ((buf = malloc(USER_BUF)) == NULL)
		return zk_fail_errno(ZK_ESYS, "malloc");
	if ((r = endpoint_fd(dst, 0, &fd, &owned)) < 0)
		goto out;
	for (;;) {
		size_t fill = 0;
		ssize_t n;

		/* Gather what OpenSSL already has before one big write. */
		do {
			n = user_read(c, buf + fill, USER_BUF - fill);
			if (n < 0) {
				r = (int)n;
				goto out;
			}
			fill += (size_t)n;
		} while (n > 0 && fill < USER_BUF - 16384 &&
			 tls_pending(c->tls));
		if (fill > 0 && write_all(fd, buf, fill) < 0) {
			r = zk_fail_errno(ZK_EZFS, "writing the stream to the "
					  "consumer");
			goto out;
		}
		x->bytes += fill;
		x->user_bytes += fill;
		xfer_progress(x, 0);
		if (n == 0)
			break;
	}
	r = 0;
out:
	if (owned && fd >= 0)
		close(fd);
	free(buf);
	return r;
}

static int
user_close_notify(struct chan *c)
{
	return tls_close_notify(c->tls);
}

static void
user_abort(struct chan *c)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	/* OpenSSL offers no way to send a chosen alert; a reset without
	 * close_notify is what the peer must treat as failure anyway. */
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
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

/* ------------------------------------------------------------ selection */

static const char *mode_names[] = {
	[MODE_AUTO] = "auto", [MODE_USER] = "user", [MODE_RW] = "rw",
	[MODE_SPLICE] = "splice", [MODE_DIRECT] = "direct",
};

const char *
plane_mode_name(enum plane_mode m)
{
	return mode_names[m];
}

int
plane_mode_parse(const char *s, enum plane_mode *out)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum plane_mode)i;
			return 0;
		}
	return zk_fail(ZK_EUSAGE, "unknown --mode '%s' (auto, user, rw, "
		       "splice, direct)", s);
}

const struct plane *
plane_pick(enum plane_mode mode, enum role role, int have_child, char *why,
	   size_t whylen)
{
	const struct plane *p;
	char probe[256];

	why[0] = '\0';
	if (mode == MODE_USER)
		return &plane_user;
	if (ktls_probe(probe, sizeof(probe)) < 0) {
		if (mode != MODE_AUTO) {
			zk_fail(ZK_EUSAGE, "--mode %s needs kernel TLS: %s",
				plane_mode_name(mode), probe);
			return NULL;
		}
		snprintf(why, whylen, "%s; using the user plane", probe);
		return &plane_user;
	}
	switch (mode) {
	case MODE_RW:
		return plane_rw;
	case MODE_SPLICE:
		return plane_splice;
	case MODE_DIRECT:
		/* Without a zfs child there is nobody to hand the socket to;
		 * the direct plane then splices. */
		return plane_direct;
	default:
		break;
	}
	/* auto: the fastest plane the stress tests found reliable (see
	 * README, "Data planes"). */
	(void)have_child;
	p = role == ROLE_SENDER ? plane_splice : plane_splice;
	return p;
}

int
chan_switch(struct chan *c)
{
	struct tls_keys k;
	int r;

	if (!c->plane->kernel)
		return 0;
	if ((r = tls_export_keys(c->tls, &k)) < 0)
		return r;
	r = ktls_switch(c->fd, &k);
	tls_keys_wipe(&k);
	return r;
}

int
chan_read_full(struct chan *c, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = c->plane->read(c, p, len);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return zk_fail(ZK_EPROTO, "peer closed the session in "
				       "the middle of a message");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
