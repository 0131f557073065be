/*
 * plane.c - data planes: choosing one for this side (mode and a runtime
 * probe), switching a handshaken connection to it (keys to the kernel or
 * to the user plane's record layer), and reading whole protocol messages.
 *
 * The planes: plane_user.c (records in this process), plane_rw.c,
 * plane_splice.c, plane_direct.c (kernel TLS, sharing plane_kernel.c).
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

#include "ktls.h"
#include "proto.h"
#include "zktls.h"

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

unsigned
chan_caps(const struct chan *c)
{
	/* The kernel planes cannot change keys yet (Linux 6.12 cannot at
	 * all; on direct, zfs owns the socket). */
	return c->plane == &plane_user ? PROTO_CAP_KEY_UPDATE : 0;
}

void
chan_peer_caps(struct chan *c, unsigned caps)
{
	if (c->plane == &plane_user)
		user_peer_follows(c, (caps & PROTO_CAP_KEY_UPDATE) != 0);
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
