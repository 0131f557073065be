/*
 * conn.c - connection setup: connect and authenticate, or listen and
 * accept until a peer that passes authentication arrives.  Shared by the
 * one-shot commands and serve; a session starts only on what this returns.
 *
 * A listener is exposed to anybody who can reach its port: port scanners,
 * clients that connect and say nothing, peers with the wrong certificate.
 * None of them may end it or hold it up: handshakes run concurrently with
 * accepting (one process, non-blocking), each under its own deadline, at
 * most CONN_PENDING at a time (the oldest is dropped for a newcomer), and
 * each failure is one log line.  The first peer to authenticate wins.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zktls.h"

#define CONN_PENDING 32
#define DRAIN_MS 1000   /* after a refusal: let the peer read our alert */

struct pending {
	int fd;
	struct tls *tls;        /* NULL once draining */
	double deadline;
	short events;
	char addr[300];
};

int
conn_connect(const char *hostport, struct tls_ctx *ctx, int timeout_s,
	     struct conn *c)
{
	for (;;) {
		memset(c, 0, sizeof(*c));
		snprintf(c->addr, sizeof(c->addr), "%s", hostport);
		if ((c->fd = net_connect(hostport, timeout_s)) < 0)
			return c->fd;
		if ((c->tls = tls_handshake(ctx, c->fd, timeout_s)) != NULL)
			return 0;
		/* the server needs ChaCha20 where we offered only AES-GCM:
		 * once more, with what we fall back to */
		if (!tls_ctx_refused_cipher(ctx) || !tls_ctx_fall_back(ctx))
			return -zk_errcode();
		close(c->fd);
		zk_clear();
	}
}

void
conn_close(struct conn *c)
{
	tls_free(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void
drop(struct pending *p)
{
	tls_free(p->tls);
	p->tls = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

/* A refused peer: half-close and read what it still sends for a moment,
 * so that it reads our alert rather than a reset. */
static void
start_drain(struct pending *p)
{
	tls_free(p->tls);
	p->tls = NULL;
	shutdown(p->fd, SHUT_WR);
	p->events = POLLIN;
	p->deadline = now_s() + DRAIN_MS / 1000.0;
}

static void
refused(struct pending *p)
{
	log_warn("refused %s: %s", p->addr, zk_errmsg());
	zk_clear();
}

/* One new connection on the listener, into a free slot (or the oldest's). */
static void
take(int lfd, struct tls_ctx *ctx, int timeout_s, struct pending *pend)
{
	struct pending *slot = NULL, *oldest = NULL;
	char addr[300];
	int fd;

	if ((fd = net_accept(lfd, addr, sizeof(addr))) < 0) {
		zk_clear(); /* the client went away first, or EAGAIN */
		return;
	}
	for (int i = 0; i < CONN_PENDING; i++) {
		if (pend[i].fd < 0) {
			slot = &pend[i];
			break;
		}
		if (oldest == NULL || pend[i].deadline < oldest->deadline)
			oldest = &pend[i];
	}
	if (slot == NULL) {
		log_warn("dropped %s: more than %d connections waiting to "
			 "authenticate", oldest->addr, CONN_PENDING);
		drop(oldest);
		slot = oldest;
	}
	net_tune(fd, timeout_s);
	slot->fd = fd;
	snprintf(slot->addr, sizeof(slot->addr), "%s", addr);
	slot->deadline = now_s() + timeout_s;
	slot->events = POLLIN;
	if ((slot->tls = tls_start(ctx, fd)) == NULL) {
		refused(slot);
		drop(slot);
	}
}

int
conn_accept(int lfd, struct tls_ctx *ctx, int timeout_s, int wait_s,
	    struct conn *c)
{
	struct pending pend[CONN_PENDING];
	double until = wait_s > 0 ? now_s() + wait_s : 0;
	int r = 0;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	memset(pend, 0, sizeof(pend));
	for (int i = 0; i < CONN_PENDING; i++)
		pend[i].fd = -1;
	if (fd_set_nonblock(lfd, 1) < 0)
		return zk_fail_errno(ZK_ESYS, "fcntl");
	while (c->fd < 0) {
		struct pollfd pf[CONN_PENDING + 1];
		double now = now_s(), next = until;
		int n, ms;

		pf[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < CONN_PENDING; i++) {
			pf[i + 1] = (struct pollfd){ .fd = pend[i].fd,
						     .events = pend[i].events };
			if (pend[i].fd >= 0 &&
			    (next == 0 || pend[i].deadline < next))
				next = pend[i].deadline;
		}
		ms = next == 0 ? -1 : next <= now ? 0
				   : (int)((next - now) * 1000) + 1;
		n = poll(pf, CONN_PENDING + 1, ms);
		if (n < 0 && errno != EINTR) {
			r = zk_fail_errno(ZK_ESYS, "poll");
			break;
		}
		now = now_s();
		if (until > 0 && now >= until) {
			r = zk_fail(ZK_ENET, "no peer authenticated within %d s "
				    "(--listen-timeout)", wait_s);
			break;
		}
		for (int i = 0; i < CONN_PENDING && c->fd < 0; i++) {
			struct pending *p = &pend[i];
			short ev = n > 0 ? pf[i + 1].revents : 0;

			if (p->fd < 0)
				continue;
			if (p->tls == NULL) { /* draining */
				char buf[4096];
				if (now >= p->deadline ||
				    (ev && read(p->fd, buf, sizeof(buf)) <= 0 &&
				     errno != EAGAIN))
					drop(p);
				continue;
			}
			if (!ev && now >= p->deadline) {
				zk_fail(ZK_ETLS, "TLS handshake timed out after "
					"%d s", timeout_s);
				refused(p);
				drop(p);
				continue;
			}
			if (!ev)
				continue;
			r = tls_step(p->tls, &p->events);
			if (r == 1) {
				c->fd = p->fd;
				c->tls = p->tls;
				snprintf(c->addr, sizeof(c->addr), "%s", p->addr);
				p->fd = -1;
				p->tls = NULL;
				r = 0;
			} else if (r < 0) {
				if (tls_sent_away(p->tls)) {
					/* a step of the cipher choice, not
					 * a refusal: it connects again */
					log_verbose("%s: %s", p->addr,
						    zk_errmsg());
					zk_clear();
				} else {
					refused(p);
				}
				start_drain(p);
				r = 0;
			}
		}
		if (c->fd < 0 && n > 0 && (pf[0].revents & POLLIN))
			take(lfd, ctx, timeout_s, pend);
	}
	for (int i = 0; i < CONN_PENDING; i++)
		drop(&pend[i]);
	return c->fd >= 0 ? 0 : r;
}
