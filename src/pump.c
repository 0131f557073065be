/*
 * pump.c - data planes: choosing one, switching to it, and what planes
 * share (endpoint pipes, progress).
 *
 * The user plane lives in plane_user.c, the kernel planes (rw, splice,
 * direct) in ktls_<os>.c.
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
	if (r == 0 && !c->plane->kernel)
		r = user_setup(c, &k);
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
