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
#include "plane.h"
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

/* rw and splice keep the secrets where the kernel can change keys; on
 * direct zfs owns the socket during the stream, so it never can. */
static int
kern_keys_keep(struct chan *c, const struct tls_keys *k)
{
	struct kern_keys *kk;

	if (c->plane == plane_direct || ktls_can_rekey() != 1)
		return 0;
	if ((kk = calloc(1, sizeof(*kk))) == NULL)
		return zk_fail_errno(ZK_ESYS, "out of memory");
	kk->k = *k;
	kk->limit = tls_key_limit(k->tx.suite, c->key_limit);
	c->kern = kk;
	return 0;
}

/* Kernel TLS has the socket: what it has taken from TCP so far is the
 * level between records (see plane_kernel.c, kplane_rx_partial()); zktls
 * reads every byte until a direct zfs receive starts. */
static void
rx_watch_start(struct chan *c)
{
	int64_t b;

	memset(&c->rx, 0, sizeof(c->rx));
	if (ktls_rx_balance(c->fd, &b) == 0) {
		c->rx.base = b;
		c->rx.exact = 1;
	} else {
		c->rx.off = 1;
	}
}

int
chan_switch(struct chan *c)
{
	struct tls_keys k;
	int r = 0;

	/* From here on OpenSSL does no I/O: the keys go to the kernel or to
	 * our record layer, and the traffic secrets are wiped (kept only
	 * where KeyUpdate needs them: the user plane, and rw/splice on a
	 * kernel that can change keys). */
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
		} else if (r == 0) {
			rx_watch_start(c);
			r = kern_keys_keep(c, &k);
		}
	}
	if (r == 0 && !c->plane->kernel)
		r = user_setup(c, &k);
	tls_keys_wipe(&k);
	return r;
}

void
chan_release(struct chan *c)
{
	user_free(c);
	if (c->kern != NULL) {
		zk_wipe(c->kern, sizeof(*c->kern));
		free(c->kern);
		c->kern = NULL;
	}
}

int
plane_mode_rekeys(enum plane_mode mode)
{
	int can;

	switch (mode) {
	case MODE_USER:
		return 1;
	case MODE_DIRECT:
		return 0;
	default:
		/* no kernel TLS: auto runs the user plane, which can */
		can = ktls_can_rekey();
		return can < 0 ? mode == MODE_AUTO : can;
	}
}

bool
plane_rekeys(const struct plane *p)
{
	return p == &plane_user || (p != plane_direct && ktls_can_rekey() == 1);
}

unsigned
chan_caps(const struct chan *c)
{
	return c->plane == &plane_user || c->kern != NULL ?
		       PROTO_CAP_KEY_UPDATE : 0;
}

void
chan_peer_caps(struct chan *c, unsigned caps)
{
	int yes = (caps & PROTO_CAP_KEY_UPDATE) != 0;

	c->peer_caps = caps;
	if (c->plane == &plane_user)
		user_peer_follows(c, yes);
	else if (c->kern != NULL)
		c->kern->peer_follows = yes;
}

void
chan_key_updates(const struct chan *c, unsigned *sent, unsigned *received)
{
	if (c->kern != NULL) {
		*sent = c->kern->sent;
		*received = c->kern->received;
		return;
	}
	user_key_updates(c, sent, received);
}

const char *
chan_key_strategy(const struct chan *c, int json)
{
	if (c->tls != NULL && tls_is_chacha(c->tls))
		return json ? "chacha20" : "no key limit (ChaCha20)";
	if (chan_caps(c) & c->peer_caps & PROTO_CAP_KEY_UPDATE)
		return json ? "key_update" : "KeyUpdate at the key limit";
	return json ? "one_key" : "one key per direction";
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
