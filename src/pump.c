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
#include <sys/uio.h>
#include <unistd.h>

#include "zktls.h"

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

/*
 * Send side: RECS_PER_WRITE record slots lie back to back in one buffer.
 * One readv() fills their payload areas straight from the producer; every
 * slot but the last filled one is full, so after sealing in place the
 * records are contiguous and leave in one write().
 * Receive side: one large read() of ciphertext, records opened in place,
 * their payloads handed to the consumer with one writev().
 */
#define REC_SLOT (TLS_REC_MAX_PLAIN + TLS_REC_OVERHEAD)
#define RECS_PER_WRITE 32
#define RX_BUF (1u << 20)

static int
user_send_alert(struct chan *c, uint8_t level, uint8_t desc)
{
	uint8_t rec[TLS_REC_HDR + 2 + 1 + TLS_REC_TAG];
	size_t n;

	rec[TLS_REC_HDR] = level;
	rec[TLS_REC_HDR + 1] = desc;
	n = tls_rec_seal(c->rec, 21, rec, 2);
	if (write_all(c->fd, rec, n) < 0)
		return zk_fail_errno(ZK_ENET, "sending TLS alert");
	return 0;
}

/* Make the next whole record available at c->rx + c->rx_off; returns its
 * length, or a negative error (EOF without close_notify included). */
static long
user_fill_record(struct chan *c)
{
	for (;;) {
		size_t have = c->rx_end - c->rx_off, need;
		ssize_t n;

		if (have >= TLS_REC_HDR) {
			const uint8_t *h = c->rx + c->rx_off;
			need = TLS_REC_HDR + ((size_t)h[3] << 8 | h[4]);
			if (h[0] != 23 || h[1] != 3 || h[2] != 3)
				return zk_fail(ZK_EPROTO, "protocol violation by "
					       "peer: not a TLS 1.3 record");
			if (need > TLS_REC_HDR + TLS_REC_MAX_CIPHER)
				return zk_fail(ZK_EPROTO, "protocol violation by "
					       "peer: TLS record too long");
			if (have >= need)
				return (long)need;
		}
		if (c->rx_off > 0 && c->rx_end + TLS_REC_HDR +
		    TLS_REC_MAX_CIPHER > RX_BUF) {
			memmove(c->rx, c->rx + c->rx_off, have);
			c->rx_off = 0;
			c->rx_end = have;
		}
		if (c->timeout_ms >= 0) {
			int r = net_wait(c->fd, POLLIN, c->timeout_ms);
			if (r == 0)
				return zk_fail(ZK_ENET, "timed out after %d s "
					       "waiting for the peer",
					       c->timeout_ms / 1000);
			if (r < 0)
				return r;
		}
		n = read(c->fd, c->rx + c->rx_end, RX_BUF - c->rx_end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET)
			return zk_fail(ZK_ENET, "connection reset by peer");
		if (n < 0)
			return zk_fail_errno(ZK_ENET, "reading from the peer");
		if (n == 0)
			return zk_fail(ZK_ENET, "connection closed by peer "
				       "without close_notify (truncated stream)");
		c->rx_end += (size_t)n;
	}
}

/* Open the next record; 1 with its payload at c->pt_off/pt_len for data,
 * 0 for close_notify, negative for anything else. */
static int
user_next_record(struct chan *c)
{
	uint8_t type;
	size_t plen;
	long len = user_fill_record(c);
	uint8_t *rec;

	if (len < 0)
		return (int)len;
	rec = c->rx + c->rx_off;
	c->rx_off += (size_t)len;
	if (tls_rec_open(c->rec, rec, (size_t)len, &type, &plen) < 0)
		return zk_fail(ZK_ENET, "TLS record authentication failed "
			       "(corrupted or tampered stream)");
	if (plen > TLS_REC_MAX_PLAIN)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: TLS "
			       "record too long");
	switch (type) {
	case 23:
		c->pt_off = (size_t)(rec + TLS_REC_HDR - c->rx);
		c->pt_len = plen;
		return 1;
	case 21:
		if (plen == 2 && rec[TLS_REC_HDR + 1] == 0) {
			c->peer_closed = 1;
			return 0;
		}
		if (plen != 2)
			return zk_fail(ZK_EPEER, "peer sent TLS alert: "
				       "malformed alert");
		return zk_alert_fail(rec[TLS_REC_HDR + 1]);
	case 22:
		if (tls_only_tickets(rec + TLS_REC_HDR, plen))
			return user_next_record(c); /* never resumed: drop */
		return zk_fail(ZK_EPROTO, "unexpected TLS handshake message "
			       "after the handshake (KeyUpdate)");
	default:
		return zk_fail(ZK_EPROTO, "protocol violation by peer: TLS "
			       "record of type %u", type);
	}
}

static ssize_t
user_read(struct chan *c, void *buf, size_t len)
{
	size_t n;

	while (c->pt_len == 0) {
		int r;
		if (c->peer_closed)
			return 0;
		if ((r = user_next_record(c)) <= 0)
			return r;
	}
	n = len < c->pt_len ? len : c->pt_len;
	memcpy(buf, c->rx + c->pt_off, n);
	c->pt_off += n;
	c->pt_len -= n;
	c->app_bytes_in += n;
	return (ssize_t)n;
}

static int
user_write(struct chan *c, const void *buf, size_t len)
{
	uint8_t *rec = malloc(REC_SLOT);
	const uint8_t *p = buf;
	int r = 0;

	if (rec == NULL)
		return zk_fail_errno(ZK_ESYS, "malloc");
	while (len > 0 && r == 0) {
		size_t n = len < TLS_REC_MAX_PLAIN ? len : TLS_REC_MAX_PLAIN;
		memcpy(rec + TLS_REC_HDR, p, n);
		if (write_all(c->fd, rec, tls_rec_seal(c->rec, 23, rec, n)) < 0)
			r = zk_fail_errno(ZK_ENET, "sending to the peer");
		p += n;
		len -= n;
		c->app_bytes_out += n;
	}
	free(rec);
	return r;
}

static int
user_send_stream(struct chan *c, struct endpoint *src, struct xfer *x)
{
	uint8_t *buf = NULL;
	struct iovec iov[RECS_PER_WRITE];
	int fd = -1, owned = 0, r;

	if ((buf = malloc(REC_SLOT * RECS_PER_WRITE)) == NULL)
		return zk_fail_errno(ZK_ESYS, "malloc");
	for (int i = 0; i < RECS_PER_WRITE; i++) {
		iov[i].iov_base = buf + (size_t)i * REC_SLOT + TLS_REC_HDR;
		iov[i].iov_len = TLS_REC_MAX_PLAIN;
	}
	if ((r = endpoint_fd(src, 1, &fd, &owned)) < 0)
		goto out;
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = c->fd, .events = POLLIN } };
		size_t out = 0, left;
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
		for (left = (size_t)n; left > 0;) {
			size_t k = left < TLS_REC_MAX_PLAIN ? left
							    : TLS_REC_MAX_PLAIN;
			out += tls_rec_seal(c->rec, 23, buf + out, k);
			left -= k;
		}
		if (write_all(c->fd, buf, out) < 0) {
			r = errno == EPIPE || errno == ECONNRESET
				    ? zk_fail(ZK_ENET, "connection closed by "
					      "peer during the stream")
				    : zk_fail_errno(ZK_ENET, "sending to the "
						    "peer");
			goto out;
		}
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
	struct iovec iov[64];
	int fd = -1, owned = 0, r = 0;

	if ((r = endpoint_fd(dst, 0, &fd, &owned)) < 0)
		return r;
	while (r == 0) {
		int k = 0;
		size_t total = 0;

		/* Open every record already buffered, then one writev. The
		 * buffer is not compacted while iov points into it: a refill
		 * happens only when nothing whole is left. */
		do {
			if (c->pt_len == 0) {
				size_t have = c->rx_end - c->rx_off;
				if (k > 0 && (have < TLS_REC_HDR ||
					      have < TLS_REC_HDR +
					      ((size_t)c->rx[c->rx_off + 3] << 8 |
					       c->rx[c->rx_off + 4])))
					break;
				r = user_next_record(c);
				if (r <= 0)
					break;
				r = 0;
			}
			iov[k].iov_base = c->rx + c->pt_off;
			iov[k].iov_len = c->pt_len;
			total += c->pt_len;
			c->pt_len = 0;
			k++;
		} while (k < 64);
		if (r < 0)
			goto out;
		if (total > 0) {
			struct iovec *v = iov;
			size_t left = total;
			while (left > 0) {
				ssize_t n = writev(fd, v, k);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0) {
					r = zk_fail_errno(ZK_EZFS, "writing the "
							  "stream to the consumer");
					goto out;
				}
				left -= (size_t)n;
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
			x->bytes += total;
			x->user_bytes += total;
			xfer_progress(x, 0);
		}
		if (c->peer_closed)
			break;
	}
out:
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

void
chan_free_user(struct chan *c)
{
	tls_rec_free(c->rec);
	c->rec = NULL;
	free(c->rx);
	c->rx = NULL;
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
plane_pick(enum plane_mode mode, char *why, size_t whylen)
{
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
	/* auto: splice on both sides.  direct is as reliable in the stress
	 * runs but reports network failures as zfs failures when receiving
	 * (see README, "Data planes"). */
	return plane_splice;
}

int
chan_switch(struct chan *c)
{
	struct tls_keys k;
	int r = 0;

	/* From here on OpenSSL does no I/O: the keys go to the kernel or to
	 * our record layer, and the traffic secrets are wiped. */
	if ((r = tls_export_keys(c->tls, &k)) < 0)
		return r;
	if (c->plane->kernel) {
		r = ktls_switch(c->fd, &k);
		if (r == -ZK_ENOKTLS) {
			/* Refused before any key was set: the socket is plain
			 * TCP still, and the user plane can take over. */
			log_warn("%s; using the user plane", zk_errmsg());
			zk_clear();
			c->plane = &plane_user;
			r = 0;
		}
	}
	if (r == 0 && !c->plane->kernel &&
	    ((c->rec = tls_rec_new(&k)) == NULL ||
	     (c->rx = malloc(RX_BUF)) == NULL))
		r = zk_fail_errno(ZK_ESYS, "cannot set up the user plane");
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
