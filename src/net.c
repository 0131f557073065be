/*
 * net.c - TCP sockets: connect, listen, accept, tuning, waiting.
 *
 * Sockets stay blocking: a zfs process may be handed the socket itself and
 * libzfs does not retry EAGAIN.  Timeouts are applied with poll().
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zktls.h"

/* Connections the kernel completes before serve accepts them: room for a
 * burst of clients (timers firing on the hour); a flood is refused by the
 * master at accept speed (cmd_serve.c make_room()). */
#define LISTEN_BACKLOG 512

int
net_parse_addr(const char *s, char *host, size_t hostlen, char *port,
	       size_t portlen)
{
	const char *colon, *h = s;
	size_t hl;

	if (s == NULL || *s == '\0')
		return zk_fail(ZK_EUSAGE, "empty address");
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return zk_fail(ZK_EUSAGE,
				       "bad address '%s' (want [ADDR]:PORT)", s);
		h = s + 1;
		hl = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return zk_fail(ZK_EUSAGE,
				       "bad address '%s' (want HOST:PORT)", s);
		hl = (size_t)(colon - s);
		if (memchr(s, ':', hl) != NULL)
			return zk_fail(ZK_EUSAGE,
				       "bad address '%s' (write IPv6 as [ADDR]:PORT)",
				       s);
	}
	if (hl >= hostlen || strlen(colon + 1) >= portlen ||
	    colon[1] == '\0')
		return zk_fail(ZK_EUSAGE, "bad address '%s'", s);
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return zk_fail(ZK_EUSAGE, "bad port in '%s'", s);
	if (strlen(colon + 1) > 5 || atoi(colon + 1) > 65535)
		return zk_fail(ZK_EUSAGE, "bad port in '%s'", s);
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

int
net_wait(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return zk_fail_errno(ZK_ESYS, "poll");
	return r;
}

int
net_inq(int fd)
{
	int n;

	return ioctl(fd, FIONREAD, &n) < 0 ? -1 : n;
}

void
net_tune(int fd, int timeout_s)
{
	int t = timeout_s > 0 ? timeout_s : 60;
	int one = 1, idle = t < 30 ? t : 30, intvl = idle >= 3 ? idle / 3 : 1;
	int cnt = 6;
	/* A live peer gets at least three probe intervals to answer. */
	unsigned int uto = (unsigned int)(t > idle + 3 * intvl ? t
							: idle + 3 * intvl) *
			   1000u;

	/* Dead-peer detection without application pings: the stream may
	 * legitimately pause while zfs works, so rely on TCP itself.  A
	 * silent connection is probed after min(timeout, 30 s); with the
	 * user timeout set, the kernel gives up once nothing has come back
	 * for the timeout (at least three probe intervals after the first
	 * probe) and a probe went unanswered.  The user timeout
	 * also ends a send blocked on a peer that stopped reading (splice,
	 * and zfs's own writes on the direct plane). */
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	net_nodelay(fd, true);
#ifdef TCP_KEEPIDLE
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
#endif
#ifdef TCP_USER_TIMEOUT
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
#endif
	(void)uto;
	(void)idle;
	(void)intvl;
	(void)cnt;
}

void
net_nodelay(int fd, bool off)
{
	int v = off;

	/* best effort: a socket that refuses is only slower */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v));
}

/* connect() with a deadline, leaving the socket blocking. */
static int
connect_timeout(int fd, const struct sockaddr *sa, socklen_t len,
		int timeout_s)
{
	int err = 0, r;
	socklen_t el = sizeof(err);

	if (fd_set_nonblock(fd, 1) < 0)
		return -1;
	r = connect(fd, sa, len);
	if (r < 0 && errno != EINPROGRESS)
		return -1;
	if (r < 0) {
		r = net_wait(fd, POLLOUT, timeout_s * 1000);
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (r < 0)
			return -1;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			return -1;
		if (err != 0) {
			errno = err;
			return -1;
		}
	}
	return fd_set_nonblock(fd, 0);
}

int
net_connect(const char *hostport, int timeout_s)
{
	char host[256], port[16];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL, *ai;
	int fd = -1, r, saved = 0;

	if ((r = net_parse_addr(hostport, host, sizeof(host), port,
				sizeof(port))) < 0)
		return r;
	if (atoi(port) == 0)
		return zk_fail(ZK_EUSAGE, "bad port in '%s'", hostport);
	/* An address as such is taken as it is: AI_ADDRCONFIG would refuse
	 * 127.0.0.1 on a host whose only IPv4 address is its loopback (an
	 * IPv6-only host, a container), and ::1 likewise. */
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		hints.ai_flags = AI_ADDRCONFIG;
		res = NULL;
		if ((r = getaddrinfo(host, port, &hints, &res)) != 0)
			return zk_fail(ZK_ENET, "cannot resolve %s: %s", host,
				       gai_strerror(r));
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect_timeout(fd, ai->ai_addr, ai->ai_addrlen,
				    timeout_s) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = saved;
		return zk_fail_errno(ZK_ENET, "cannot connect to %s", hostport);
	}
	net_tune(fd, timeout_s);
	return fd;
}

void
net_source_group(const char *source, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	struct in6_addr v6;
	size_t n = strlen(source);

	if (n < 3 || source[0] != '[' || source[n - 1] != ']' ||
	    n - 2 >= sizeof(a)) {
		snprintf(out, cap, "%s", source);
		return;
	}
	memcpy(a, source + 1, n - 2);
	a[n - 2] = '\0';
	if (inet_pton(AF_INET6, a, &v6) != 1) {
		snprintf(out, cap, "%s", source);
		return;
	}
	/* mapped (::ffff:0:0/96), or translated by NAT64's well-known
	 * prefix (64:ff9b::/96, RFC 6052): an IPv4 host's */
	if (IN6_IS_ADDR_V4MAPPED(&v6) ||
	    memcmp(v6.s6_addr, "\x00\x64\xff\x9b\0\0\0\0\0\0\0\0", 12) == 0) {
		inet_ntop(AF_INET, &v6.s6_addr[12], a, sizeof(a));
		snprintf(out, cap, "%s", a);
		return;
	}
	memset(&v6.s6_addr[8], 0, 8);
	inet_ntop(AF_INET6, &v6, a, sizeof(a));
	snprintf(out, cap, "%s/64", a);
}

static void
format_sockaddr(const struct sockaddr *sa, socklen_t len, char *out,
		size_t cap)
{
	char h[NI_MAXHOST], p[NI_MAXSERV];

	if (getnameinfo(sa, len, h, sizeof(h), p, sizeof(p),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, cap, "?");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(out, cap, "[%s]:%s", h, p);
	else
		snprintf(out, cap, "%s:%s", h, p);
}

/* Where a listener on addrport binds (the first address it resolves to):
 * 0 with *res (freeaddrinfo it), or a negative error. */
static int
listen_addr(const char *addrport, struct addrinfo **res)
{
	char host[256], port[16];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	int r;

	*res = NULL;
	if ((r = net_parse_addr(addrport, host, sizeof(host), port,
				sizeof(port))) < 0)
		return r;
	if ((r = getaddrinfo(host[0] ? host : NULL, port, &hints, res)) != 0)
		return zk_fail(ZK_EUSAGE, "cannot resolve listen address %s: %s",
			       addrport, gai_strerror(r));
	return 0;
}

/* The port of a listen address (IPv4 or IPv6), whether it is a wildcard,
 * and whether a and b, of one family, are the same address. */
static unsigned
sa_port(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6
		       ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port)
		       : ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

static int
sa_any(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6
		       ? IN6_IS_ADDR_UNSPECIFIED(
				 &((const struct sockaddr_in6 *)sa)->sin6_addr)
		       : ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
				 htonl(INADDR_ANY);
}

static int
sa_same(const struct sockaddr *a, const struct sockaddr *b)
{
	return a->sa_family == AF_INET6
		       ? memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
				&((const struct sockaddr_in6 *)b)->sin6_addr,
				sizeof(struct in6_addr)) == 0
		       : ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
				 ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

int
net_listen_plan(const char *const *addrs, int n, int *v6only, int clash[2])
{
	struct addrinfo *res[64] = { NULL };

	clash[0] = clash[1] = -1;
	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++) {
		v6only[i] = 0;
		if (listen_addr(addrs[i], &res[i]) < 0) {
			zk_clear();
			res[i] = NULL;
		}
	}
	for (int i = 0; i < n; i++) {
		const struct sockaddr *a = res[i] ? res[i]->ai_addr : NULL;

		if (a == NULL || (a->sa_family != AF_INET &&
				  a->sa_family != AF_INET6) || sa_port(a) == 0)
			continue;
		for (int k = 0; k < n; k++) {
			const struct sockaddr *b = res[k] ? res[k]->ai_addr
							  : NULL;

			if (k == i || b == NULL || sa_port(b) != sa_port(a) ||
			    (b->sa_family != AF_INET &&
			     b->sa_family != AF_INET6))
				continue;
			if (a->sa_family == AF_INET6 && b->sa_family == AF_INET)
				v6only[i] = 1;
			if (k < i && a->sa_family == b->sa_family &&
			    (sa_any(a) || sa_any(b) || sa_same(a, b)) &&
			    clash[0] < 0) {
				clash[0] = k;
				clash[1] = i;
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (res[i])
			freeaddrinfo(res[i]);
	return clash[0] < 0 ? 0 : -1;
}

int
net_listen(const char *addrport, int v6only)
{
	char shown[300];
	struct addrinfo *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = -1, one = 1, r;

	if ((r = listen_addr(addrport, &res)) < 0)
		return r;
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
		    res->ai_protocol);
	if (fd < 0) {
		r = zk_fail_errno(ZK_ENET, "socket");
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6 && v6only &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		r = zk_fail_errno(ZK_ENET, "IPV6_V6ONLY on %s", addrport);
		goto out;
	}
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
		r = zk_fail_errno(ZK_ENET, "cannot listen on %s", addrport);
		goto out;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = zk_fail_errno(ZK_ENET, "cannot listen on %s", addrport);
		goto out;
	}
	format_sockaddr((struct sockaddr *)&ss, sl, shown, sizeof(shown));
	/* Always printed, even with -q: scripts read the port from it. */
	log_listening(shown);
	r = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return r;
}

void
net_drain_close(int fd, int ms)
{
	char buf[4096];
	double end = now_s() + ms / 1000.0;

	shutdown(fd, SHUT_WR);
	while (now_s() < end &&
	       net_wait(fd, POLLIN, (int)((end - now_s()) * 1000) + 1) > 0 &&
	       read(fd, buf, sizeof(buf)) > 0)
		;
}

int
net_accept(int lfd, char *peer, size_t peerlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd;

	do {
		/* Blocking like the listener's socket was before. */
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd >= 0 && fd_set_nonblock(fd, 0) < 0) {
		close(fd);
		return zk_fail_errno(ZK_ESYS, "fcntl");
	}
	if (fd < 0)
		return zk_fail_errno(ZK_ENET, "accept");
	format_sockaddr((struct sockaddr *)&ss, sl, peer, peerlen);
	return fd;
}
