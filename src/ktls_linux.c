/*
 * ktls_linux.c - Linux kernel TLS: the runtime probe, the switch of a
 * handshaken socket to the kernel, TLS control records, and the three
 * kernel data planes (rw, splice, direct).  The only file that touches
 * SOL_TLS, TLS_TX/TLS_RX and the record-type cmsgs, and the home of splice.
 *
 * Kernel behaviours this file is built around (measured on 6.12, see
 * shared/notes/test-vm.md; tests/vm/ktls_selftest.c reproduces them):
 *  - recvmsg() without cmsg space fails with EIO at a non-data record, so
 *    every receive here passes a cmsg buffer;
 *  - a record left open by MSG_MORE / SPLICE_F_MORE is discarded by close();
 *    sending a control record (close_notify) pushes it first;
 *  - tls_sw_splice_read() consumes a whole record even when the pipe took
 *    only part of it, so a splice from the socket always goes into a private
 *    pipe that is empty and can hold any record ("never-short" splice).
 *
 * The socket stays blocking (zfs reads and writes it directly in direct
 * mode and does not retry EAGAIN); our idle timeouts come from poll(), and
 * while a zfs child owns the socket, from watching TCP's byte counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h> /* struct tcp_info with the byte counters */
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktls.h"
#include "zktls.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

enum { REC_ALERT = 21, REC_HANDSHAKE = 22, REC_DATA = 23 };
enum { ALERT_CLOSE_NOTIFY = 0, ALERT_INTERNAL_ERROR = 80 };

#define COPY_BUF (1 << 20)     /* rw plane: one read/write chunk */
#define SEND_CHUNK (256 << 10) /* most one blocking send() may take */
#define SPLICE_CHUNK (1 << 20) /* most one send splice may move */
#define RX_PIPE_SIZE (1 << 20) /* private pipe: holds any record */
#define TLS_RECORD_MAX (5 + 16384 + 256) /* TLS 1.3 ciphertext record */

/* ------------------------------------------------------------ key setup */

static const char *suite_name(uint16_t suite)
{
	switch (suite) {
	case SUITE_AES_128_GCM: return "AES-128-GCM";
	case SUITE_AES_256_GCM: return "AES-256-GCM";
	case SUITE_CHACHA20_POLY1305: return "ChaCha20-Poly1305";
	}
	return "unknown cipher";
}

int ktls_fill_info(const struct tls_dir_keys *k, union ktls_crypto_info *info,
		   socklen_t *len)
{
	unsigned char seq[8];
	size_t want;
	int i;

	for (i = 0; i < 8; i++)
		seq[i] = (unsigned char)(k->seq >> (56 - 8 * i));
	memset(info, 0, sizeof(*info));
	switch (k->suite) {
	case SUITE_AES_128_GCM:
		want = TLS_CIPHER_AES_GCM_128_KEY_SIZE;
		if (k->key_len != want)
			break;
		info->aes128.info.version = TLS_1_3_VERSION;
		info->aes128.info.cipher_type = TLS_CIPHER_AES_GCM_128;
		memcpy(info->aes128.key, k->key, want);
		memcpy(info->aes128.salt, k->iv, TLS_CIPHER_AES_GCM_128_SALT_SIZE);
		memcpy(info->aes128.iv, k->iv + TLS_CIPHER_AES_GCM_128_SALT_SIZE,
		       TLS_CIPHER_AES_GCM_128_IV_SIZE);
		memcpy(info->aes128.rec_seq, seq, sizeof(seq));
		*len = sizeof(info->aes128);
		return 0;
	case SUITE_AES_256_GCM:
		want = TLS_CIPHER_AES_GCM_256_KEY_SIZE;
		if (k->key_len != want)
			break;
		info->aes256.info.version = TLS_1_3_VERSION;
		info->aes256.info.cipher_type = TLS_CIPHER_AES_GCM_256;
		memcpy(info->aes256.key, k->key, want);
		memcpy(info->aes256.salt, k->iv, TLS_CIPHER_AES_GCM_256_SALT_SIZE);
		memcpy(info->aes256.iv, k->iv + TLS_CIPHER_AES_GCM_256_SALT_SIZE,
		       TLS_CIPHER_AES_GCM_256_IV_SIZE);
		memcpy(info->aes256.rec_seq, seq, sizeof(seq));
		*len = sizeof(info->aes256);
		return 0;
	case SUITE_CHACHA20_POLY1305:
		want = TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE;
		if (k->key_len != want)
			break;
		info->chacha.info.version = TLS_1_3_VERSION;
		info->chacha.info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		memcpy(info->chacha.key, k->key, want);
		memcpy(info->chacha.iv, k->iv, TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE);
		memcpy(info->chacha.rec_seq, seq, sizeof(seq));
		*len = sizeof(info->chacha);
		return 0;
	default:
		return zk_fail(ZK_ENOKTLS,
			       "kernel TLS cannot take cipher suite 0x%04x",
			       k->suite);
	}
	return zk_fail(ZK_ENOKTLS, "kernel TLS: %s wants a %zu-byte key, got %zu",
		       suite_name(k->suite), want, k->key_len);
}

static int set_ulp(int fd)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls"));
}

/* Program one loopback connection with dummy keys for suite; 0 or -1 with
 * the reason in why. */
static int probe_suite(const struct sockaddr_in *sa, uint16_t suite,
		       char *why, size_t whylen)
{
	struct tls_dir_keys k;
	union ktls_crypto_info info;
	socklen_t len = 0;
	const char *step = "connect over loopback";
	int fd, r = -1;

	memset(&k, 0, sizeof(k));
	k.suite = suite;
	k.key_len = suite == SUITE_AES_128_GCM ? 16 : 32;
	if (ktls_fill_info(&k, &info, &len) < 0)
		return -1; /* cannot happen: the suites are ours */

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		goto out;
	step = "TCP_ULP tls";
	if (set_ulp(fd) < 0)
		goto out;
	step = "TLS_TX";
	if (setsockopt(fd, SOL_TLS, TLS_TX, &info, len) < 0)
		goto out;
	step = "TLS_RX";
	if (setsockopt(fd, SOL_TLS, TLS_RX, &info, len) < 0)
		goto out;
	r = 0;
out:
	if (r < 0 && why && whylen) {
		int e = errno;

		if (fd < 0 || !strcmp(step, "connect over loopback"))
			snprintf(why, whylen, "kernel TLS probe failed: %s: %s",
				 step, strerror(e));
		else if (!strcmp(step, "TCP_ULP tls"))
			snprintf(why, whylen,
				 "kernel TLS unavailable: TCP_ULP tls: %s%s",
				 strerror(e), e == ENOENT ?
				 " (load the tls module: modprobe tls)" : "");
		else
			snprintf(why, whylen,
				 "kernel TLS unavailable: %s for TLS 1.3 %s: %s",
				 step, suite_name(suite), strerror(e));
	}
	if (fd >= 0)
		close(fd);
	zk_wipe(&info, sizeof(info));
	return r;
}

int ktls_probe(char *why, size_t whylen)
{
	static const uint16_t suites[] = { SUITE_AES_128_GCM, SUITE_AES_256_GCM,
					   SUITE_CHACHA20_POLY1305 };
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	size_t i;
	int lfd, r = -ZK_ENOKTLS;

	if (why && whylen)
		why[0] = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* The probe connections are never accepted: an established socket in
	 * the listen queue is enough, and closing the listener resets them. */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 8) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
		if (why && whylen)
			snprintf(why, whylen,
				 "kernel TLS probe failed: loopback listener: %s",
				 strerror(errno));
		goto out;
	}
	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (probe_suite(&sa, suites[i], why, whylen) < 0)
			goto out;
	r = 0;
out:
	if (lfd >= 0)
		close(lfd);
	return r;
}

int ktls_switch(int fd, const struct tls_keys *k)
{
	union ktls_crypto_info tx, rx;
	socklen_t txlen = 0, rxlen = 0;
	int r, e;

	memset(&tx, 0, sizeof(tx));
	memset(&rx, 0, sizeof(rx));
	r = ktls_fill_info(&k->tx, &tx, &txlen);
	if (r == 0)
		r = ktls_fill_info(&k->rx, &rx, &rxlen);
	if (r < 0)
		goto out;
	/* Up to a failed TLS_TX no key is programmed: the socket still
	 * carries plain TCP (-ZK_ENOKTLS).  After it, a failure leaves the
	 * connection half-switched (-ZK_ESYS): it can only be aborted. */
	if (set_ulp(fd) < 0) {
		e = errno;
		r = zk_fail(ZK_ENOKTLS, "kernel TLS unavailable: TCP_ULP tls: %s%s",
			    strerror(e), e == ENOENT ?
			    " (load the tls module: modprobe tls)" : "");
		goto out;
	}
	if (setsockopt(fd, SOL_TLS, TLS_TX, &tx, txlen) < 0) {
		r = zk_fail(ZK_ENOKTLS, "kernel TLS: TLS_TX for TLS 1.3 %s: %s",
			    suite_name(k->tx.suite), strerror(errno));
		goto out;
	}
	if (setsockopt(fd, SOL_TLS, TLS_RX, &rx, rxlen) < 0) {
		r = zk_fail(ZK_ESYS,
			    "kernel TLS: TLS_RX for TLS 1.3 %s failed (%s) after "
			    "TLS_TX was set; the connection is half-switched and "
			    "must be aborted", suite_name(k->rx.suite),
			    strerror(errno));
		goto out;
	}
	r = 0;
out:
	zk_wipe(&tx, sizeof(tx));
	zk_wipe(&rx, sizeof(rx));
	return r;
}

/* ------------------------------------------------------- socket errors */

/* Linux's internal "restart the system call", which a kernel-TLS socket
 * can keep as its error (see ktls_sock_fail). */
#define KERNEL_ERESTARTSYS 512

/* Record a failed socket operation with the text users should see. */
int ktls_sock_fail(int e, const char *what)
{
	switch (e) {
	case KERNEL_ERESTARTSYS:
		/* A process sharing the socket (zfs send on the direct plane)
		 * was killed while blocked in a write to it: the kernel stored
		 * that write's -ERESTARTSYS as the socket's error (6.12.10 and
		 * later), and every later call on it fails with it. */
		return zk_fail(ZK_ENET, "connection aborted: a write to it was "
			       "interrupted (kernel TLS error ERESTARTSYS)");
	case EBADMSG:
		return zk_fail(ZK_ENET, "TLS record authentication failed "
			       "(corrupted or tampered stream)");
	case ECONNRESET:
		return zk_fail(ZK_ENET, "connection reset by peer");
	case EPIPE:
		return zk_fail(ZK_ENET, "connection closed by peer");
	case ETIMEDOUT:
		return zk_fail(ZK_ENET, "connection timed out (peer unreachable)");
	case EMSGSIZE:
		return zk_fail(ZK_EPROTO, "peer sent an oversized TLS record");
	case EKEYEXPIRED:
		return zk_fail(ZK_EPROTO, "peer updated its TLS keys (KeyUpdate) "
			       "while the kernel owned the connection");
	}
	errno = e;
	return zk_fail_errno(ZK_ENET, "%s", what);
}

static int timeout_fail(const struct chan *c)
{
	return zk_fail(ZK_ENET, "timed out after %d s waiting for the peer",
		       (c->timeout_ms + 999) / 1000);
}

/* Wait up to c->timeout_ms for the socket to become readable (or fail). */
static int wait_peer(struct chan *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int n;

	for (;;) {
		n = poll(&p, 1, c->timeout_ms > 0 ? c->timeout_ms : -1);
		if (n > 0)
			return 0;
		if (n == 0)
			return timeout_fail(c);
		if (errno != EINTR)
			return zk_fail_errno(ZK_ESYS, "poll");
	}
}

/* Is there something to read (or an error) on the socket right now? */
static int peer_spoke(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* The receiver spoke while we were still sending: its RESULT says why
 * (the session clears this text and reads it). */
static int early_fail(void)
{
	return zk_fail(ZK_EEARLY, "receiver ended the session during the "
		       "stream");
}

/* ------------------------------------------------------- control records */

/* sendmsg() one record of the given type; returns 0 or -errno. */
static int send_record(int fd, uint8_t type, const void *data, size_t len,
		       int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(unsigned char))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg;
	struct cmsghdr *cmsg;
	ssize_t n;

	memset(&cm, 0, sizeof(cm));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_TLS;
	cmsg->cmsg_type = TLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(sizeof(unsigned char));
	*CMSG_DATA(cmsg) = type;
	msg.msg_controllen = cmsg->cmsg_len;
	do
		n = sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int ktls_send_control(int fd, uint8_t type, const void *data, size_t len)
{
	int e = send_record(fd, type, data, len, 0);

	return e ? ktls_sock_fail(-e, "send a TLS control record") : 0;
}

/* One recvmsg() with room for the record-type cmsg.  *type: the record's
 * type, or -1 when the kernel reported none (TCP EOF).  -1 and errno on
 * failure. */
static ssize_t recv_once(int fd, void *buf, size_t len, int flags, int *type)
{
	union {
		char buf[CMSG_SPACE(sizeof(unsigned char))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg;
	struct cmsghdr *cmsg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	n = recvmsg(fd, &msg, flags);
	if (n < 0)
		return n;
	*type = -1;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
		if (cmsg->cmsg_level == SOL_TLS &&
		    cmsg->cmsg_type == TLS_GET_RECORD_TYPE)
			*type = *CMSG_DATA(cmsg);
	return n;
}

/* recv_once() that honours the idle timeout; returns the byte count or a
 * negative ZK_E*. */
static ssize_t recv_record(struct chan *c, void *buf, size_t len, int *type)
{
	int flags = c->timeout_ms > 0 ? MSG_DONTWAIT : 0;

	for (;;) {
		ssize_t n = recv_once(c->fd, buf, len, flags, type);
		int r;

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return ktls_sock_fail(errno, "receive from the peer");
		r = wait_peer(c);
		if (r < 0)
			return r;
		/* Ready: block for the rest of a record, never spin. */
		flags = 0;
	}
}

/* A non-data record arrived; body holds its first n bytes (n <= len). */
static ssize_t control_record(struct chan *c, int type, const uint8_t *body,
			      size_t n, size_t len)
{
	uint8_t a[2] = { 0, 0 };
	size_t have = n < 2 ? n : 2;

	if (type == REC_HANDSHAKE)
		return tls_handshake_msg_fail(body, n);
	if (type != REC_ALERT)
		return zk_fail(ZK_EPROTO, "unexpected TLS record type %d from "
			       "the peer", type);
	memcpy(a, body, have);
	/* The caller's buffer cut the alert short: the rest stays queued. */
	while (have < 2 && n == len) {
		int t;
		ssize_t m = recv_record(c, a + have, 2 - have, &t);

		if (m < 0)
			return m;
		if (m == 0 || t != REC_ALERT)
			break;
		have += (size_t)m;
	}
	if (have != 2 || n > 2)
		return zk_fail(ZK_EPEER, "peer sent TLS alert: malformed alert");
	/* TLS 1.3 (RFC 8446 section 6): the level is implied by the alert. */
	if (a[1] == ALERT_CLOSE_NOTIFY) {
		c->peer_closed = 1;
		return 0;
	}
	return zk_alert_fail(a[1]);
}

ssize_t ktls_recv(struct chan *c, void *buf, size_t len)
{
	ssize_t n;
	int type;

	if (c->peer_closed)
		return 0;
	if (len == 0)
		return zk_fail(ZK_ESYS, "ktls_recv: empty buffer");
	for (;;) {
		n = recv_record(c, buf, len, &type);
		if (n < 0)
			return n;
		/* No record type at all: TCP's EOF (or, with bytes, a socket
		 * the kernel does not decrypt; pass them on). */
		if (n > 0 && (type == REC_DATA || type < 0))
			return n;
		if (type < 0)
			return zk_fail(ZK_ENET, "connection closed by peer without "
				       "close_notify (truncated stream)");
		if (type != REC_DATA)
			return control_record(c, type, buf, (size_t)n, len);
		/* an empty data record: keep waiting */
	}
}

/* ---------------------------------------------------------- local helpers */

/* Send all of buf as application data.  early: a readable socket means the
 * receiver spoke (its RESULT) mid-stream: stop with -ZK_EEARLY. */
static int sock_send(struct chan *c, const void *buf, size_t len, int early)
{
	const char *p = buf;
	struct pollfd pfd = { .fd = c->fd };
	ssize_t n;
	int r;

	pfd.events = POLLOUT | (early ? POLLIN : 0);
	while (len > 0) {
		r = poll(&pfd, 1, c->timeout_ms > 0 ? c->timeout_ms : -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return zk_fail_errno(ZK_ESYS, "poll");
		}
		if (r == 0)
			return timeout_fail(c);
		if (early && (pfd.revents & (POLLIN | POLLERR | POLLHUP)))
			return early_fail();
		n = send(c->fd, p, len < SEND_CHUNK ? len : SEND_CHUNK,
			 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (early && (errno == EPIPE || errno == ECONNRESET) &&
			    peer_spoke(c->fd))
				return early_fail();
			return ktls_sock_fail(errno, "send to the peer");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write all of buf to the local consumer. */
static int out_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };

				(void)poll(&pfd, 1, -1);
				continue;
			}
			return zk_fail_errno(ZK_EZFS, "write to the consumer");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Wait until the producer fd is readable, or fail with -ZK_EEARLY when the
 * receiver spoke (its RESULT) or the connection broke first.  The producer
 * may pause as long as it likes: no timeout here. */
static int wait_producer(struct chan *c, int fd)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = c->fd, .events = POLLIN },
			{ .fd = fd, .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return zk_fail_errno(ZK_ESYS, "poll");
		}
		if (p[0].revents)
			return early_fail();
		if (p[1].revents)
			return 0;
	}
}

/*
 * How far TCP has moved the connection: bytes the peer acknowledged
 * (sending) or bytes that arrived (receiving), how many wait in our
 * socket's queue (unacknowledged, or unread), and whether TCP has closed
 * it.  -1 where the kernel does not say.
 */
enum { TCPS_CLOSE = 7 }; /* TCP_CLOSE in the kernel's state numbering */

static int tcp_moved(int fd, int sending, uint64_t *moved, int *queued,
		     int *closed)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) +
			  sizeof(ti.tcpi_bytes_received))
		return -1;
	*moved = sending ? ti.tcpi_bytes_acked : ti.tcpi_bytes_received;
	*closed = ti.tcpi_state == TCPS_CLOSE;
	if (ioctl(fd, sending ? SIOCOUTQ : SIOCINQ, queued) < 0)
		*queued = 0;
	return 0;
}

/*
 * zfs owns the socket (direct plane): is the peer stalled?  Sending: the
 * peer acknowledged nothing for the idle timeout while data waits for it.
 * Receiving: nothing arrived for the idle timeout and at most part of one
 * record waits (a full queue means zfs, not the peer, is the slow one).
 * Once TCP has closed the connection the queues say nothing more.
 */
struct stall {
	int sending;
	uint64_t moved;
	double since;   /* when the counter last moved (0: not yet looked) */
	double stuck_s; /* how long it had been stuck at the last look */
};

static int stalled(struct chan *c, struct stall *st)
{
	uint64_t moved;
	int queued, closed;
	double now = now_s();

	if (c->timeout_ms <= 0 ||
	    tcp_moved(c->fd, st->sending, &moved, &queued, &closed) < 0)
		return 0;
	if (moved != st->moved || st->since == 0 ||
	    (!closed &&
	     (st->sending ? queued == 0 : queued > TLS_RECORD_MAX))) {
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

/* Has e's child exited (or been reaped)?  Does not reap it; *si tells how
 * it ended where it has not been reaped yet. */
static int child_exited(const struct endpoint *e, siginfo_t *si)
{
	memset(si, 0, sizeof(*si));
	return e->finished ||
	       waitid(P_PID, (id_t)e->pid, si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	       si->si_pid == e->pid;
}

/* Did e's child, which has exited, succeed?  Unknown counts as yes:
 * finish() judges. */
static int child_ok(const struct endpoint *e)
{
	siginfo_t si;

	if (e->finished)
		return WIFEXITED(e->status) && WEXITSTATUS(e->status) == 0;
	if (!child_exited(e, &si) || si.si_pid != e->pid)
		return 1;
	return si.si_code == CLD_EXITED && si.si_status == 0;
}

/*
 * Wait for e's child, which owns the socket, to exit without reaping it
 * (finish() does that).  Fails with a timeout when the peer stalls, and
 * when sending, with -ZK_EEARLY as soon as the socket is readable (the
 * receiver spoke).  Uses a pidfd where the kernel has one, else a 100 ms
 * tick; a 1 s tick while watching for stalls.
 */
static int wait_child(struct chan *c, struct endpoint *e, struct stall *st)
{
	int pidfd = -1, r = 0, tick;
	siginfo_t si;

#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, e->pid, 0);
#endif
	tick = pidfd >= 0 ? -1 : 100;
	if (c->timeout_ms > 0) {
		tick = c->timeout_ms < 1000 ? c->timeout_ms : 1000;
		(void)stalled(c, st);
	}
	while (!child_exited(e, &si)) {
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
			r = stalled_out(c, st) ? timeout_fail(c) : early_fail();
			break;
		}
		if (stalled(c, st)) {
			r = timeout_fail(c);
			break;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return r;
}

/*
 * Run e's zfs child on the socket (direct plane) until it exits.  0: it
 * succeeded; 1: it failed, and the caller looks at the connection for the
 * cause; negative: the peer stalled (or, sending, spoke), zfs is killed.
 */
static int direct_run(struct chan *c, struct endpoint *e, int sending)
{
	struct stall st = { .sending = sending };
	int r = e->start(e, c->fd);

	if (r < 0)
		return r;
	r = wait_child(c, e, &st);
	if (r < 0) {
		e->kill(e);
		return r;
	}
	if (child_ok(e))
		return 0;
	return stalled_out(c, &st) ? timeout_fail(c) : 1;
}

/* ------------------------------------------------------------- the planes */

static ssize_t k_read(struct chan *c, void *buf, size_t len)
{
	ssize_t n = ktls_recv(c, buf, len);

	if (n > 0)
		c->app_bytes_in += (uint64_t)n;
	return n;
}

static int k_write(struct chan *c, const void *buf, size_t len)
{
	int r = sock_send(c, buf, len, 0);

	if (r == 0)
		c->app_bytes_out += len;
	return r;
}

static int k_close_notify(struct chan *c)
{
	static const uint8_t cn[2] = { 1, ALERT_CLOSE_NOTIFY };

	return ktls_send_control(c->fd, REC_ALERT, cn, sizeof(cn));
}

static void k_abort(struct chan *c)
{
	static const uint8_t fatal[2] = { 2, ALERT_INTERNAL_ERROR };
	struct tls_crypto_info ci;
	socklen_t len = sizeof(ci);

	/* Only once TLS_TX is set (a switch may have failed before it):
	 * without it the cmsg is ignored and the alert would go out as two
	 * plaintext bytes.  This getsockopt size returns no key material. */
	if (getsockopt(c->fd, SOL_TLS, TLS_TX, &ci, &len) < 0)
		return;
	/* Best effort and never blocking: the connection is dead anyway. */
	(void)send_record(c->fd, REC_ALERT, fatal, sizeof(fatal), MSG_DONTWAIT);
}

/* rw core: producer fd -> read() -> KTLS socket. */
static int copy_out(struct chan *c, int fd, struct xfer *x)
{
	char *buf = malloc(COPY_BUF);
	ssize_t n;
	int r;

	if (!buf)
		return zk_fail(ZK_ESYS, "out of memory");
	for (;;) {
		r = wait_producer(c, fd);
		if (r < 0)
			break;
		n = read(fd, buf, COPY_BUF);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = zk_fail_errno(ZK_EZFS, "read from the producer");
			break;
		}
		if (n == 0)
			break; /* producer's EOF; r == 0 */
		r = sock_send(c, buf, (size_t)n, 1);
		if (r < 0)
			break;
		x->bytes += (uint64_t)n;
		x->user_bytes += (uint64_t)n;
		xfer_progress(x, 0);
	}
	free(buf);
	return r;
}

/* rw core: KTLS socket -> recv -> consumer fd, until close_notify. */
static int copy_in(struct chan *c, int fd, struct xfer *x)
{
	char *buf = malloc(COPY_BUF);
	ssize_t n;
	int r;

	if (!buf)
		return zk_fail(ZK_ESYS, "out of memory");
	for (;;) {
		n = ktls_recv(c, buf, COPY_BUF);
		if (n <= 0) {
			r = (int)n; /* 0: close_notify */
			break;
		}
		r = out_write(fd, buf, (size_t)n);
		if (r < 0)
			break;
		x->bytes += (uint64_t)n;
		x->user_bytes += (uint64_t)n;
		xfer_progress(x, 0);
	}
	free(buf);
	return r;
}

static int rw_send(struct chan *c, struct endpoint *src, struct xfer *x)
{
	int fd, own, r;

	r = endpoint_fd(src, 1, &fd, &own);
	if (r < 0)
		return r;
	r = copy_out(c, fd, x);
	if (own)
		close(fd);
	return r;
}

static int rw_recv(struct chan *c, struct endpoint *dst, struct xfer *x)
{
	int fd, own, r;

	r = endpoint_fd(dst, 0, &fd, &own);
	if (r < 0)
		return r;
	r = copy_in(c, fd, x);
	if (own)
		close(fd);
	return r;
}

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
		r = copy_out(c, fd, x); /* tty, socket, device */
		goto out;
	}
	for (;;) {
		r = wait_producer(c, fd);
		if (r < 0)
			goto out;
		if (S_ISREG(st.st_mode))
			n = sendfile(c->fd, fd, NULL, SPLICE_CHUNK);
		else
			n = splice(fd, NULL, c->fd, NULL, SPLICE_CHUNK,
				   SPLICE_F_MORE);
		if (n == 0)
			break;
		if (n < 0) {
			int e = errno;

			if (e == EINTR || e == EAGAIN)
				continue;
			if (e == EINVAL && moved == 0) {
				log_info("splice: the kernel cannot splice this "
					 "input; copying through userspace");
				r = copy_out(c, fd, x);
				goto out;
			}
			if ((e == EPIPE || e == ECONNRESET) && peer_spoke(c->fd))
				r = early_fail();
			else
				r = ktls_sock_fail(e, "splice to the peer");
			goto out;
		}
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
		m = splice(pin, NULL, fd, NULL, n, SPLICE_F_MOVE);
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
	n = recv_once(c->fd, buf, sizeof(buf), MSG_DONTWAIT, &type);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 1;
	if (n < 0)
		return ktls_sock_fail(errno, "receive from the peer");
	if (type < 0)
		return zk_fail(ZK_ENET, "connection closed by peer without "
			       "close_notify (truncated stream)");
	if (type != REC_DATA) {
		n = control_record(c, type, (const uint8_t *)buf, (size_t)n,
				   sizeof(buf));
		return n < 0 ? (int)n : 0;
	}
	if (n > 0) { /* the next record's data: pass it on */
		if ((r = out_write(fd, buf, (size_t)n)) < 0)
			return r;
		x->bytes += (uint64_t)n;
		x->user_bytes += (uint64_t)n;
		*empties = 0;
	}
	return 1;
}

/*
 * splice receive, never short: socket -> private pipe (empty, 1 MiB) ->
 * consumer.  splice() returns EINVAL at a non-data record; ktls_recv
 * fetches it (close_notify ends the stream).
 */
static int splice_recv(struct chan *c, struct endpoint *dst, struct xfer *x)
{
	struct stat st;
	int fd, own, r, e = 0, p[2] = { -1, -1 };
	int nonblock = c->timeout_ms > 0 ? SPLICE_F_NONBLOCK : 0;
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
	psz = fcntl(p[1], F_SETPIPE_SZ, RX_PIPE_SIZE);
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
		r = copy_in(c, fd, x);
		goto out;
	}
	for (;;) {
		n = splice(c->fd, NULL, p[1], NULL, (size_t)psz, flags);
		if (n > 0) {
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
			r = wait_peer(c);
			if (r < 0)
				goto out;
			flags = 0; /* ready: block for the rest of a record */
			continue;
		}
		if (errno == EINVAL) {
			char buf[4096];

			n = ktls_recv(c, buf, sizeof(buf));
			if (n <= 0) {
				r = (int)n; /* 0: close_notify */
				goto out;
			}
			/* Data after all (should not happen): pass it on. */
			r = out_write(fd, buf, (size_t)n);
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
	n = recv_once(c->fd, buf, sizeof(buf), MSG_DONTWAIT, &type);
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
	n = control_record(c, type, (const uint8_t *)buf, (size_t)n,
			   sizeof(buf));
	return n < 0 ? (int)n : 0; /* close_notify: the stream was whole */
}

/* direct send: zfs writes the KTLS socket itself.  The session's
 * close_notify afterwards pushes the record zfs's SPLICE_F_MORE left open. */
static int direct_send(struct chan *c, struct endpoint *src, struct xfer *x)
{
	int r;

	if (!src->start)
		return splice_send(c, src, x);
	/* The bytes bypass us; exactly counting them from TCP_INFO and the
	 * record sequence is impossible before close_notify pushes the record
	 * zfs left open. */
	x->uncounted = 1;
	r = direct_run(c, src, 1);
	if (r < 0)
		return r;
	/* zfs fails with EPIPE when the receiver stopped early or the
	 * connection broke: the receiver's RESULT, or the broken connection,
	 * is the cause. */
	if (r > 0 && peer_spoke(c->fd))
		return early_fail();
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
		return splice_recv(c, dst, x);
	x->uncounted = 1; /* zfs reads the stream; we never see it */
	r = direct_run(c, dst, 0);
	if (r < 0)
		return r;
	if (r > 0 && (r = net_cause(c)) < 0)
		return r;
	if ((r = dst->finish(dst)) < 0)
		return r;
	n = ktls_recv(c, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (n > 0)
		return zk_fail(ZK_EPROTO, "unexpected data after the end of the "
			       "stream");
	return 0;
}

static const struct plane rw = {
	.name = "rw",
	.kernel = 1,
	.read = k_read,
	.write = k_write,
	.send_stream = rw_send,
	.recv_stream = rw_recv,
	.close_notify = k_close_notify,
	.abort = k_abort,
};

static const struct plane splice_plane = {
	.name = "splice",
	.kernel = 1,
	.read = k_read,
	.write = k_write,
	.send_stream = splice_send,
	.recv_stream = splice_recv,
	.close_notify = k_close_notify,
	.abort = k_abort,
};

static const struct plane direct = {
	.name = "direct",
	.kernel = 1,
	.read = k_read,
	.write = k_write,
	.send_stream = direct_send,
	.recv_stream = direct_recv,
	.close_notify = k_close_notify,
	.abort = k_abort,
};

const struct plane *const plane_rw = &rw;
const struct plane *const plane_splice = &splice_plane;
const struct plane *const plane_direct = &direct;
