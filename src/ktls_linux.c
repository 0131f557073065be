/*
 * ktls_linux.c - Linux kernel TLS: the runtime probe, the switch of a
 * handshaken socket to the kernel, TLS control records, the TCP facts the
 * planes watch, and splice.  The only file that touches SOL_TLS,
 * TLS_TX/TLS_RX, the record-type cmsgs, TCP_INFO and splice; the planes
 * (plane_rw.c, plane_splice.c, plane_direct.c) reach them through ktls.h.
 *
 * Kernel behaviours built around here and in the planes (measured on
 * 6.12, reproduced by tests/vm/ktls_selftest.c, written up in the README):
 *  - recvmsg() without cmsg space fails with EIO at a non-data record, so
 *    every receive passes a cmsg buffer;
 *  - a record left open by MSG_MORE / SPLICE_F_MORE is discarded by close();
 *    sending a control record (close_notify) pushes it first;
 *  - tls_sw_splice_read() consumes a whole record even when the pipe took
 *    only part of it (plane_splice.c's never-short splice), and returns 0
 *    for an empty data record as for EOF;
 *  - a process killed while blocked writing the socket leaves -ERESTARTSYS
 *    as its error for everybody sharing it (ktls_sock_fail());
 *  - Linux 6.14 and later change a TLS 1.3 key on a second TLS_TX/TLS_RX
 *    (ktls_rekey(), ktls_can_rekey()); after the peer's KeyUpdate, reads
 *    fail with EKEYEXPIRED until TLS_RX is set again.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h> /* struct tcp_info with the byte counters */
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ktls.h"
#include "ktls_linux.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

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
 * the reason in why.  can_rekey (may be NULL): can the kernel change the
 * key (1) or not (0)? */
static int probe_suite(const struct sockaddr_in *sa, uint16_t suite,
		       char *why, size_t whylen, int *can_rekey)
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
	/* Linux 6.14 and later take a second TLS_TX on a TLS 1.3 socket
	 * (rekey); earlier kernels refuse it with EBUSY.  Asked here, on
	 * the probe's own socket, so that it costs no extra connection. */
	if (can_rekey != NULL) {
		info.aes128.key[0] ^= 1; /* (AES-128-GCM, the first suite) */
		*can_rekey = setsockopt(fd, SOL_TLS, TLS_TX, &info, len) == 0;
	}
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

/* A loopback listener for the probes, its address in *sa; -1 with errno. */
static int loopback_listener(struct sockaddr_in *sa)
{
	socklen_t salen = sizeof(*sa);
	int lfd;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* The probe connections are never accepted: an established socket in
	 * the listen queue is enough, and closing the listener resets them. */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -1;
	if (bind(lfd, (struct sockaddr *)sa, sizeof(*sa)) < 0 ||
	    listen(lfd, 8) < 0 ||
	    getsockname(lfd, (struct sockaddr *)sa, &salen) < 0) {
		int e = errno;

		close(lfd);
		errno = e;
		return -1;
	}
	return lfd;
}

/* What the last probe found: -1 no kernel TLS, 0 no rekey, 1 rekey. */
static int probed_rekey = -2;

int ktls_probe(char *why, size_t whylen)
{
	static const uint16_t suites[] = { SUITE_AES_128_GCM, SUITE_AES_256_GCM,
					   SUITE_CHACHA20_POLY1305 };
	struct sockaddr_in sa;
	size_t i;
	int lfd, r = -ZK_ENOKTLS, can = 0;

	if (why && whylen)
		why[0] = '\0';
	probed_rekey = -1;
	if ((lfd = loopback_listener(&sa)) < 0) {
		if (why && whylen)
			snprintf(why, whylen,
				 "kernel TLS probe failed: loopback listener: %s",
				 strerror(errno));
		return r;
	}
	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (probe_suite(&sa, suites[i], why, whylen,
				i == 0 ? &can : NULL) < 0)
			goto out;
	probed_rekey = can;
	r = 0;
out:
	close(lfd);
	return r;
}

int ktls_can_rekey(void)
{
	if (probed_rekey == -2)
		(void)ktls_probe(NULL, 0);
	return probed_rekey;
}

/* The record sequence number of one direction's current key (TLS_TX or
 * TLS_RX): records the kernel has sent, or decrypted. */
static int rec_seq(int fd, int opt, uint64_t *n)
{
	union ktls_crypto_info info;
	socklen_t len = sizeof(info);
	const unsigned char *seq;
	int i;

	*n = 0;
	memset(&info, 0, sizeof(info));
	/* The kernel hands back the whole crypto_info, key included: only
	 * the record sequence is kept. */
	if (getsockopt(fd, SOL_TLS, opt, &info, &len) < 0)
		return -1;
	switch (info.base.cipher_type) {
	case TLS_CIPHER_AES_GCM_128:
		seq = info.aes128.rec_seq;
		break;
	case TLS_CIPHER_AES_GCM_256:
		seq = info.aes256.rec_seq;
		break;
	case TLS_CIPHER_CHACHA20_POLY1305:
		seq = info.chacha.rec_seq;
		break;
	default:
		zk_wipe(&info, sizeof(info));
		return -1;
	}
	for (i = 0; i < 8; i++)
		*n = *n << 8 | seq[i];
	zk_wipe(&info, sizeof(info));
	return 0;
}

int ktls_tx_records(int fd, uint64_t *n)
{
	return rec_seq(fd, TLS_TX, n);
}

int ktls_rx_records(int fd, uint64_t *n)
{
	return rec_seq(fd, TLS_RX, n);
}

int ktls_rx_balance(int fd, int64_t *bal)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	uint64_t recs;
	int inq;

	/* Records first, TCP's counters last: a record decrypted or bytes
	 * arriving between the calls can only raise the balance. */
	if (rec_seq(fd, TLS_RX, &recs) < 0 || ioctl(fd, SIOCINQ, &inq) < 0)
		return -1;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) +
			  sizeof(ti.tcpi_bytes_received))
		return -1;
	*bal = (int64_t)(ti.tcpi_bytes_received - (uint64_t)inq) -
	       (int64_t)(recs * TLS13_FRAMING);
	return 0;
}

/*
 * Kernel TLS's poll (tls_sk_poll) says readable only when a whole record
 * is ready: decrypted records waiting (rx_list) or the parser's record
 * complete (tls_strp_msg_ready); part of a record, in TCP's queue or in
 * the parser's copy, is not readable.  Asked with a zero timeout while
 * another process (zfs) owns the reading.
 */
int ktls_rx_record_ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
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
	/* zktls never pads its records: the kernel may decrypt straight into
	 * the reader's buffer (Linux 6.0; a padded record from another peer
	 * is decrypted again and counted as TlsRxNoPadViolation).  Best
	 * effort: older kernels lack it, and nothing depends on it. */
#ifdef TLS_RX_EXPECT_NO_PAD
	{
		int one = 1;

		(void)setsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one,
				 sizeof(one));
	}
#endif
	r = 0;
out:
	zk_wipe(&tx, sizeof(tx));
	zk_wipe(&rx, sizeof(rx));
	return r;
}

int ktls_rekey(int fd, int tx, const struct tls_dir_keys *k)
{
	union ktls_crypto_info info;
	socklen_t len = 0;
	int r, e;

	memset(&info, 0, sizeof(info));
	if ((r = ktls_fill_info(k, &info, &len)) < 0)
		return r;
	/* Linux 6.14 added TLS 1.3 rekey (software path only): the same
	 * cipher, a new key.  Before, a second key fails with EBUSY. */
	r = setsockopt(fd, SOL_TLS, tx ? TLS_TX : TLS_RX, &info, len);
	e = errno;
	zk_wipe(&info, sizeof(info));
	if (r < 0) {
		r = zk_fail(e == EBUSY ? ZK_ENOKTLS : ZK_ESYS,
			    "kernel TLS: new %s key: %s%s", tx ? "TLS_TX" : "TLS_RX",
			    strerror(e), e == EBUSY ? " (this kernel cannot "
			    "change keys; Linux 6.14 can)" : "");
		errno = e;
		return r;
	}
	return 0;
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
	case EHOSTUNREACH:
	case ENETUNREACH:
		/* (a keepalive probe found no route: the peer's host or link
		 * went away) */
		return zk_fail(ZK_ENET, "connection lost (peer unreachable: %s)",
			       strerror(e));
	case EMSGSIZE:
		return zk_fail(ZK_EPROTO, "peer sent an oversized TLS record");
	case EKEYEXPIRED:
		return zk_fail(ZK_EPROTO, "peer updated its TLS keys (KeyUpdate) "
			       "while the kernel owned the connection");
	}
	errno = e;
	return zk_fail_errno(ZK_ENET, "%s", what);
}

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
ssize_t ktls_recv_once(int fd, void *buf, size_t len, int flags, int *type)
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

/*
 * How far TCP has moved the connection: bytes the peer acknowledged
 * (sending) or bytes that arrived (receiving), how many wait in our
 * socket's queue (unacknowledged, or unread), and whether TCP has closed
 * it.  -1 where the kernel does not say.
 */
enum { TCPS_CLOSE = 7 }; /* TCP_CLOSE in the kernel's state numbering */

int ktls_tcp_progress(int fd, int sending, uint64_t *moved, int *queued,
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

void ktls_send_fatal(int fd, uint8_t desc)
{
	const uint8_t fatal[2] = { 2, desc };
	struct tls_crypto_info ci;
	socklen_t len = sizeof(ci);

	/* Only once TLS_TX is set (a switch may have failed before it):
	 * without it the cmsg is ignored and the alert would go out as two
	 * plaintext bytes.  This getsockopt size returns no key material. */
	if (getsockopt(fd, SOL_TLS, TLS_TX, &ci, &len) < 0)
		return;
	/* Best effort and never blocking: the connection is dead anyway. */
	(void)send_record(fd, REC_ALERT, fatal, sizeof(fatal), MSG_DONTWAIT);
}

/* ------------------------------------------------------------- zero copy */

ssize_t ktls_splice_recv(int sock, int pipe_w, size_t len, int nonblock)
{
	return splice(sock, NULL, pipe_w, NULL, len,
		      nonblock ? SPLICE_F_NONBLOCK : 0);
}

ssize_t ktls_splice_send(int fd, int sock, size_t len, int file)
{
	/* SPLICE_F_MORE leaves the last record open; the close_notify (or
	 * abort alert) that follows pushes it. */
	if (file)
		return sendfile(sock, fd, NULL, len);
	return splice(fd, NULL, sock, NULL, len, SPLICE_F_MORE);
}

ssize_t ktls_pipe_move(int pipe_r, int fd, size_t len)
{
	return splice(pipe_r, NULL, fd, NULL, len, SPLICE_F_MOVE);
}

long ktls_pipe_grow(int pipe_fd, long size)
{
	return fcntl(pipe_fd, F_SETPIPE_SZ, size);
}
