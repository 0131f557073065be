/*
 * ktls_selftest.c - src/ktls_linux.c against a real kernel with tls.ko.
 *
 * Runs in the test VM (built statically on the host by `make
 * build/vm/ktls_selftest`: the guest has no compiler; tests/vm/suite.sh
 * runs it briefly, tests/vm/ktls_selftest.sh at length).  Everything happens over loopback
 * TCP pairs inside one guest:
 *
 *   - RFC 8448 section 3 records decrypt (TLS_RX, rec_seq 1) and encrypt
 *     (TLS_TX) byte for byte with the keys zktls programs: proves the
 *     salt/iv split and the big-endian record sequence number;
 *   - for AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305: data both ways,
 *     close_notify, named alerts, a handshake record, a flipped ciphertext
 *     byte (EBADMSG), a truncated stream, a reset, the idle timeout;
 *   - every plane pair (rw, splice, direct) moving a stream, with pipe,
 *     regular-file and child endpoints, plus the receiver's early RESULT
 *     and data after the end of a direct stream;
 *   - the two kernel behaviours that lose data, reproduced raw and counted:
 *     a record left open by MSG_MORE/SPLICE_F_MORE discarded by close(), and
 *     a short receive splice into a slow consumer (a pipe read 312 bytes at
 *     a time), against the never-short splice and rw;
 *   - a writer killed while blocked writing the socket (as zfs send is on
 *     the direct plane) leaving errno 512 (ERESTARTSYS) on it for the
 *     process that shares it, and the text zktls makes of that.
 *
 *   - measurements for docs/kernel-tls-notes.md: whether a kernel-TLS
 *     sender can send an empty data record, and the TLS 1.3 rekey flow
 *     (Linux >= 6.14; EBUSY before).
 *
 * Usage: ktls_selftest [RUNS [PART...]]   (RUNS of each stress method,
 * default 50; PARTs: rfc8448 suites empty-send rekey timeout early
 * direct-trailer open-record slow-consumer killed-writer, default all)
 * Exit status 0 when every check passed; the loss counts are reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktls.h"
#include "ktls_linux.h"
#include "plane.h"
#include "t.h"
#include "zktls.h"

/* ------------------------------------------------------------- helpers */

/* The selftest links no OpenSSL: its channels never keep keys (c->kern is
 * NULL), so the kernel planes never derive a next secret here. */
int
tls13_update_keys(struct tls_dir_keys *k)
{
	(void)k;
	return zk_fail(ZK_ESYS, "tls13_update_keys: not in the selftest");
}

static const uint16_t suites[] = { SUITE_AES_128_GCM, SUITE_AES_256_GCM,
				   SUITE_CHACHA20_POLY1305 };
static const char *const suite_names[] = { "AES-128-GCM", "AES-256-GCM",
					   "ChaCha20-Poly1305" };

#define CHECK_ERR(expr, code, msg)                                          \
	do {                                                                \
		long t_r = (long)(expr);                                    \
		CHECK(t_r == -(long)(code));                                \
		CHECK_STR(zk_errcode() ? zk_errmsg() : "(no error)", msg);  \
		zk_clear();                                                 \
	} while (0)

static void
die(const char *what)
{
	fprintf(stderr, "ktls_selftest: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* In a forked child that does not exec: drop every inherited fd but two,
 * so pipes see EOF and sockets close when their owner closes them. */
static void
close_others(int keep1, int keep2)
{
	for (int fd = 3; fd < 1024; fd++)
		if (fd != keep1 && fd != keep2)
			close(fd);
}

/* What runs now, for the watchdog: a hang names itself and fails. */
static const char *volatile cur_step = "start";

static void
step(const char *name)
{
	cur_step = name;
	if (getenv("SELFTEST_VERBOSE"))
		fprintf(stderr, "  . %s\n", name);
	alarm(120);
}

static void
on_alarm(int sig)
{
	static const char msg[] = "ktls_selftest: watchdog: stuck in ";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, cur_step, strlen(cur_step));
	(void)!write(2, "\n", 1);
	_exit(3);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The stream's content: every byte depends on its offset, so a lost or
 * repeated piece shows up as a mismatch right where it happened. */
static uint8_t
pat(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 8) * 7 + (i >> 16) * 3 + 1);
}

static void
fill_pat(uint8_t *b, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(off + i);
}

static void
tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int l;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &sl) < 0)
		die("listener");
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*a < 0 || connect(*a, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	*b = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (*b < 0)
		die("accept");
	close(l);
}

static void
rand_dir(struct tls_dir_keys *d, uint16_t suite)
{
	memset(d, 0, sizeof(*d));
	if (getrandom(d->key, sizeof(d->key), 0) != sizeof(d->key) ||
	    getrandom(d->iv, sizeof(d->iv), 0) != sizeof(d->iv) ||
	    getrandom(&d->seq, sizeof(d->seq), 0) != sizeof(d->seq))
		die("getrandom");
	d->suite = suite;
	d->key_len = suite == SUITE_AES_128_GCM ? 16 : 32;
	d->seq &= 0xffffffffffull; /* nonzero high bytes, far from wrapping */
}

/* Keys for two ends of one connection: a's tx is b's rx and back. */
static void
mirror_keys(uint16_t suite, struct tls_keys *ka, struct tls_keys *kb)
{
	rand_dir(&ka->tx, suite);
	rand_dir(&ka->rx, suite);
	kb->tx = ka->rx;
	kb->rx = ka->tx;
}

static void
ktls_pair(uint16_t suite, int *a, int *b)
{
	struct tls_keys ka, kb;

	tcp_pair(a, b);
	mirror_keys(suite, &ka, &kb);
	if (ktls_switch(*a, &ka) < 0 || ktls_switch(*b, &kb) < 0) {
		fprintf(stderr, "ktls_selftest: %s\n", zk_errmsg());
		exit(2);
	}
}

static void
chan_init(struct chan *c, int fd, const struct plane *p)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->plane = p;
	c->timeout_ms = 30000;
}

static ssize_t
read_full_fd(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Application data until len bytes or close_notify; returns bytes or <0. */
static ssize_t
recv_full(struct chan *c, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = kplane_recv(c, (char *)buf + got, len - got);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Wait (bounded) for the peer's FIN before closing: closing a KTLS socket
 * early can discard records not yet handed to TCP (notes/test-vm.md). */
static void
close_after_peer(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[256];
	ssize_t n;

	for (int i = 0; i < 100; i++) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break; /* EOF, or an error (EIO: a record left unread) */
	}
	close(fd);
}

static void
tls_stat(long *tx, long *rx, long *decerr)
{
	FILE *f = fopen("/proc/net/tls_stat", "r");
	char name[64];
	long v;

	*tx = *rx = *decerr = -1;
	if (!f)
		return;
	while (fscanf(f, "%63s %ld", name, &v) == 2) {
		if (!strcmp(name, "TlsTxSw"))
			*tx = v;
		else if (!strcmp(name, "TlsRxSw"))
			*rx = v;
		else if (!strcmp(name, "TlsDecryptError"))
			*decerr = v;
	}
	fclose(f);
}

/* ---------------------------------------------------- child endpoints */

/* Producer/consumer children stand in for zfs send / zfs recv. */
struct ep_arg {
	uint64_t n;  /* stream length; UINT64_MAX: produce until EPIPE */
};

static void
produce(int fd, uint64_t n)
{
	static uint8_t buf[200000];
	uint64_t off = 0;

	while (off < n) {
		size_t want = 4096 * (1 + (off / 4096) % 37) + 123;
		ssize_t w;

		if (want > sizeof(buf))
			want = sizeof(buf);
		if (n - off < want)
			want = (size_t)(n - off);
		fill_pat(buf, off, want);
		w = write(fd, buf, want);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(3);
		off += (uint64_t)w;
	}
}

/* zfs send: on a pipe it writes; on anything else OpenZFS >= 2.2 puts its
 * own pipe in between and a thread splices with SPLICE_F_MORE. */
static int
ep_start_send(struct endpoint *e, int child_fd)
{
	const struct ep_arg *a = e->arg;
	struct stat st;
	pid_t pid = fork();

	if (pid < 0)
		return zk_fail_errno(ZK_ESYS, "fork");
	if (pid > 0) {
		e->pid = pid;
		return 0;
	}
	signal(SIGPIPE, SIG_DFL);
	close_others(child_fd, -1);
	if (fstat(child_fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
		produce(child_fd, a->n);
		_exit(0);
	} else {
		int p[2];
		pid_t w;
		ssize_t n;

		if (pipe(p) < 0)
			_exit(4);
		w = fork();
		if (w == 0) {
			close_others(p[1], -1);
			produce(p[1], a->n);
			_exit(0);
		}
		close(p[1]);
		do
			n = splice(p[0], NULL, child_fd, NULL, 1 << 20,
				   SPLICE_F_MOVE | SPLICE_F_MORE);
		while (n > 0 || (n < 0 && errno == EINTR));
		_exit(n == 0 ? 0 : 5);
	}
}

/* zfs recv: a 312-byte read, then larger reads of exact sizes; nothing
 * past the stream's end.  Exit 0 when all n bytes matched. */
static int
ep_start_recv(struct endpoint *e, int child_fd)
{
	const struct ep_arg *a = e->arg;
	pid_t pid = fork();

	if (pid < 0)
		return zk_fail_errno(ZK_ESYS, "fork");
	if (pid > 0) {
		e->pid = pid;
		return 0;
	}
	{
		static uint8_t buf[1 << 17], want[1 << 17];
		uint64_t off = 0;
		struct stat st;
		size_t chunk = 312;

		close_others(child_fd, -1);
		while (off < a->n) {
			size_t len = chunk;
			ssize_t n;

			if (a->n - off < len)
				len = (size_t)(a->n - off);
			n = read_full_fd(child_fd, buf, len);
			if (n != (ssize_t)len)
				_exit(6);
			fill_pat(want, off, len);
			if (memcmp(buf, want, len))
				_exit(7);
			off += len;
			chunk = sizeof(buf);
		}
		if (fstat(child_fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
		    read(child_fd, buf, 1) != 0)
			_exit(8);
		_exit(0);
	}
}

static int
ep_finish(struct endpoint *e)
{
	if (e->pid <= 0)
		return 0;
	if (!e->finished) {
		while (waitpid(e->pid, &e->status, 0) < 0)
			if (errno != EINTR)
				return zk_fail_errno(ZK_ESYS, "waitpid");
		e->finished = 1;
	}
	if (WIFEXITED(e->status) && WEXITSTATUS(e->status) == 0)
		return 0;
	return zk_fail(ZK_EZFS, "child failed (status 0x%x)", e->status);
}

static void
ep_kill(struct endpoint *e)
{
	if (e->pid > 0 && !e->finished)
		kill(e->pid, SIGTERM);
}

static void
ep_init(struct endpoint *e, int fd, struct ep_arg *a, int child, int send)
{
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->errfd = -1;
	e->arg = a;
	e->finish = ep_finish;
	e->kill = ep_kill;
	if (child)
		e->start = send ? ep_start_send : ep_start_recv;
}

/* A pipe consumer that checks the pattern; reports on resfd.  slow: sleep
 * 1 ms every 16 reads (with 312-byte reads: about 5 MB/s, slower than
 * kernel TLS here, so the pipe is full whenever the receiver splices). */
struct verdict {
	uint64_t total;
	int64_t first_bad; /* offset of the first wrong byte, or -1 */
};

static pid_t
spawn_consumer(int rfd, size_t chunk, int resfd, int slow)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	{
		static uint8_t buf[1 << 17];
		struct verdict v = { 0, -1 };
		ssize_t n;

		close_others(rfd, resfd);
		for (unsigned reads = 1;; reads++) {
			n = read(rfd, buf, chunk);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (slow && reads % 16 == 0)
				usleep(1000);
			for (ssize_t i = 0; i < n && v.first_bad < 0; i++)
				if (buf[i] != pat(v.total + (uint64_t)i))
					v.first_bad = (int64_t)(v.total + (uint64_t)i);
			v.total += (uint64_t)n;
		}
		if (write(resfd, &v, sizeof(v)) != sizeof(v))
			_exit(1);
		_exit(0);
	}
}

static pid_t
spawn_producer(int wfd, uint64_t n)
{
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		close_others(wfd, -1);
		produce(wfd, n);
		_exit(0);
	}
	return pid;
}

static int
tmpfile_fd(void)
{
	char t[] = "/tmp/ktls-selftest.XXXXXX";
	int fd = mkostemp(t, O_CLOEXEC);

	if (fd < 0)
		die("mkostemp");
	unlink(t);
	return fd;
}

static int
check_file(int fd, uint64_t n)
{
	static uint8_t buf[1 << 16], want[1 << 16];
	uint64_t off = 0;
	ssize_t r;

	while ((r = pread(fd, buf, sizeof(buf), (off_t)off)) > 0) {
		fill_pat(want, off, (size_t)r);
		if (memcmp(buf, want, (size_t)r))
			return -1;
		off += (uint64_t)r;
	}
	return off == n ? 0 : -1;
}

/* --------------------------------------------------------- RFC 8448 */

static const char rfc_s_key[] = "9f02283b6c9c07efc26bb9f2ac92e356";
static const char rfc_s_iv[] = "cf782b88dd83549aadf1e984";
static const char rfc_c_key[] = "17422dda596ed5d9acd890e3c63f5051";
static const char rfc_c_iv[] = "5b78923dee08579033e523d9";
/* {server} send application_data record (seq 1): 50 bytes 00..31 */
static const char rfc_s_rec[] =
	"1703030043"
	"2e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d"
	"90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167"
	"c2955d";
/* {client} send application_data record (seq 0): the same 50 bytes */
static const char rfc_c_rec[] =
	"1703030043"
	"a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5"
	"b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb2169"
	"4915e4";

static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (; s[0] && s[1] && n < cap; s += 2) {
		unsigned v;
		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void
rfc_dir(struct tls_dir_keys *d, const char *key, const char *iv, uint64_t seq)
{
	memset(d, 0, sizeof(*d));
	d->suite = SUITE_AES_128_GCM;
	d->key_len = unhex(key, d->key, sizeof(d->key));
	unhex(iv, d->iv, sizeof(d->iv));
	d->seq = seq;
}

static void
t_rfc8448(void)
{
	struct tls_keys k;
	struct chan c;
	uint8_t rec[128], plain[50], buf[128];
	size_t rlen;
	int r, x;

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)i;

	/* RX: the server's record at sequence number 1 decrypts. */
	tcp_pair(&r, &x);
	rfc_dir(&k.rx, rfc_s_key, rfc_s_iv, 1);
	rfc_dir(&k.tx, rfc_c_key, rfc_c_iv, 0);
	CHECK(ktls_switch(x, &k) == 0);
	rlen = unhex(rfc_s_rec, rec, sizeof(rec));
	CHECK(rlen == 72);
	CHECK(write(r, rec, rlen) == (ssize_t)rlen);
	chan_init(&c, x, plane_rw);
	CHECK(kplane_recv(&c, buf, sizeof(buf)) == 50);
	CHECK(memcmp(buf, plain, 50) == 0);

	/* TX: the client's record at sequence number 0, byte for byte. */
	CHECK(plane_rw->write(&c, plain, sizeof(plain)) == 0);
	CHECK(read_full_fd(r, buf, 72) == 72);
	rlen = unhex(rfc_c_rec, rec, sizeof(rec));
	CHECK(memcmp(buf, rec, rlen) == 0);
	close(r);
	close(x);

	/* TX as the server at sequence number 1. */
	tcp_pair(&r, &x);
	rfc_dir(&k.tx, rfc_s_key, rfc_s_iv, 1);
	rfc_dir(&k.rx, rfc_c_key, rfc_c_iv, 0);
	CHECK(ktls_switch(x, &k) == 0);
	chan_init(&c, x, plane_rw);
	CHECK(plane_rw->write(&c, plain, sizeof(plain)) == 0);
	CHECK(read_full_fd(r, buf, 72) == 72);
	rlen = unhex(rfc_s_rec, rec, sizeof(rec));
	CHECK(memcmp(buf, rec, rlen) == 0);
	close(r);
	close(x);
	printf("PASS-CHECKED rfc8448 records (rx seq 1, tx seq 0 and 1)\n");
}

/* ------------------------------------------------ records and errors */

static void
t_data(uint16_t suite)
{
	const size_t n = (1 << 20) + 7, m = 100003;
	uint8_t *buf = malloc(n), *want = malloc(n);
	struct chan c;
	int a, b, st;
	pid_t pid;

	fill_pat(want, 0, n);
	ktls_pair(suite, &a, &b);
	pid = fork();
	if (pid == 0) {
		close(b);
		chan_init(&c, a, plane_rw);
		if (plane_rw->write(&c, want, n) < 0 ||
		    plane_rw->close_notify(&c) < 0 ||
		    recv_full(&c, buf, m + 1) != (ssize_t)m ||
		    memcmp(buf, want + 5, m) || !c.peer_closed)
			_exit(1);
		_exit(0);
	}
	close(a);
	chan_init(&c, b, plane_rw);
	CHECK(recv_full(&c, buf, n + 1) == (ssize_t)n);
	CHECK(memcmp(buf, want, n) == 0);
	CHECK(c.peer_closed == 1);
	CHECK(kplane_recv(&c, buf, 1) == 0); /* stays closed */
	CHECK(plane_rw->write(&c, want + 5, m) == 0);
	CHECK(plane_rw->close_notify(&c) == 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	      WEXITSTATUS(st) == 0);
	close(b);
	free(buf);
	free(want);
}

static void
t_controls(uint16_t suite)
{
	static const uint8_t bad_mac[2] = { 2, 20 }, cancel[2] = { 2, 90 },
			     odd[2] = { 2, 200 }, cn[2] = { 1, 0 },
			     key_update[5] = { 24, 0, 0, 1, 0 };
	struct chan c;
	char buf[64];
	int a, b;

	ktls_pair(suite, &a, &b);
	chan_init(&c, b, plane_rw);
	CHECK(ktls_send_control(a, 21, bad_mac, 2) == 0);
	CHECK_ERR(kplane_recv(&c, buf, sizeof(buf)), ZK_EPEER,
		  "peer sent TLS alert: bad_record_mac");
	CHECK(ktls_send_control(a, 21, cancel, 2) == 0);
	CHECK_ERR(kplane_recv(&c, buf, sizeof(buf)), ZK_EPEER,
		  "peer sent TLS alert: user_canceled");
	CHECK(ktls_send_control(a, 21, odd, 2) == 0);
	CHECK_ERR(kplane_recv(&c, buf, sizeof(buf)), ZK_EPEER,
		  "peer sent TLS alert: unknown alert");
	/* A read stops at a record-type boundary: data, then close_notify,
	 * read one byte at a time (the alert split across two reads). */
	CHECK(send(a, "hello", 5, 0) == 5);
	CHECK(ktls_send_control(a, 21, cn, 2) == 0);
	CHECK(kplane_recv(&c, buf, sizeof(buf)) == 5);
	CHECK(c.peer_closed == 0);
	CHECK(kplane_recv(&c, buf, 1) == 0);
	CHECK(c.peer_closed == 1);
	close(a);
	close(b);

	ktls_pair(suite, &a, &b);
	chan_init(&c, b, plane_rw);
	CHECK(ktls_send_control(a, 22, key_update, sizeof(key_update)) == 0);
	CHECK_ERR(kplane_recv(&c, buf, sizeof(buf)), ZK_EPROTO,
		  "unexpected TLS handshake message after the handshake "
		  "(KeyUpdate)");
	close(a);
	close(b);
}

/*
 * Measurement (not a check): can a kernel-TLS sender put an empty
 * application-data record on the wire, as a heartbeat while its producer
 * is quiet?  Tried: send() of 0 bytes, and a 0-byte record of type 23
 * through TLS_SET_RECORD_TYPE.  TCP's bytes_sent tells whether a record
 * left; the receiver's recv(MSG_DONTWAIT) and poll tell what it saw.
 */
static void
t_empty_send(uint16_t suite)
{
	static const char *const how[] = { "send(0 bytes)",
					   "record type 23, 0 bytes" };
	char buf[64];

	for (int k = 0; k < 2; k++) {
		uint64_t before = 0, after = 0;
		struct pollfd p;
		ssize_t r, got;
		int a, b, pr, err, q, cl;

		ktls_pair(suite, &a, &b);
		(void)ktls_tcp_progress(a, 1, &before, &q, &cl);
		r = k == 0 ? send(a, "", 0, 0)
			   : (ktls_send_control(a, 23, "", 0) == 0 ? 0 : -1);
		err = errno;
		usleep(100000);
		(void)ktls_tcp_progress(a, 1, &after, &q, &cl);
		p = (struct pollfd){ .fd = b, .events = POLLIN };
		pr = poll(&p, 1, 0);
		got = recv(b, buf, sizeof(buf), MSG_DONTWAIT);
		printf("  empty record by %s: returned %zd (%s), %llu bytes "
		       "acknowledged, receiver poll %d, recv %zd (%s)\n", how[k],
		       r, r < 0 ? strerror(err) : "ok",
		       (unsigned long long)(after - before), pr, got,
		       got < 0 ? strerror(errno) : "ok");
		/* data after it still arrives */
		CHECK(send(a, "x", 1, 0) == 1);
		p = (struct pollfd){ .fd = b, .events = POLLIN };
		CHECK(poll(&p, 1, 2000) == 1);
		got = recv(b, buf, sizeof(buf), 0);
		printf("  then 1 byte of data: receiver recv %zd\n", got);
		close(a);
		close(b);
	}
}

/*
 * The kernel's TLS 1.3 rekey flow (Linux >= 6.14, software path), as a
 * measurement on kernels without it: a sends a KeyUpdate record and sets
 * TLS_TX again; b reads the KeyUpdate (type 22), then EKEYEXPIRED and no
 * POLLIN until it sets TLS_RX again; data under the new keys arrives.
 * Returns 1 when the kernel can rekey, 0 when it cannot (EBUSY), after
 * checking what it did either way.
 */
static int
t_rekey(uint16_t suite)
{
	static const uint8_t key_update[5] = { 24, 0, 0, 1, 0 };
	struct tls_dir_keys next;
	struct pollfd p;
	char buf[64];
	ssize_t n;
	int a, b, type = -1, can, e, pr;

	ktls_pair(suite, &a, &b);
	CHECK(send(a, "before", 6, 0) == 6);
	CHECK(ktls_recv_once(b, buf, sizeof(buf), 0, &type) == 6 &&
	      type == REC_DATA && memcmp(buf, "before", 6) == 0);
	rand_dir(&next, suite);
	next.seq = 0;
	CHECK(ktls_send_control(a, REC_HANDSHAKE, key_update,
				sizeof(key_update)) == 0);
	can = ktls_rekey(a, 1, &next) == 0;
	e = errno;
	if (!can) {
		/* The one answer a kernel without rekey may give. */
		CHECK(e == EBUSY && zk_errcode() == ZK_ENOKTLS);
		printf("  rekey (%s): second TLS_TX: %s: this kernel cannot "
		       "change keys\n", suite_names[suite - SUITE_AES_128_GCM],
		       strerror(e));
		zk_clear();
		close(a);
		close(b);
		return 0;
	}
	CHECK(send(a, "after", 5, 0) == 5);
	n = ktls_recv_once(b, buf, sizeof(buf), 0, &type);
	CHECK(n == 5 && type == REC_HANDSHAKE && buf[0] == 24);
	n = recv(b, buf, sizeof(buf), MSG_DONTWAIT);
	e = errno;
	p = (struct pollfd){ .fd = b, .events = POLLIN };
	pr = poll(&p, 1, 200);
	CHECK(n < 0 && e == EKEYEXPIRED);
	CHECK(ktls_rekey(b, 0, &next) == 0);
	n = ktls_recv_once(b, buf, sizeof(buf), 0, &type);
	CHECK(n == 5 && type == REC_DATA && memcmp(buf, "after", 5) == 0);
	printf("  rekey (%s): KeyUpdate sent, second TLS_TX ok; receiver: "
	       "the KeyUpdate record, then %s and poll %d until TLS_RX, then "
	       "data under the new key: %s\n",
	       suite_names[suite - SUITE_AES_128_GCM], strerror(e), pr,
	       n == 5 ? "ok" : "lost");
	close(a);
	close(b);
	return 1;
}

/* a (KTLS tx) -> r1 ... our relay ... r2 -> b (KTLS rx) */
static void
t_tamper(uint16_t suite)
{
	struct tls_keys ka, kb;
	struct chan ca, cb;
	uint8_t data[1000], rec[1100], buf[1100];
	const size_t rlen = 5 + sizeof(data) + 1 + 16;
	int a, r1, r2, b, f;

	fill_pat(data, 0, sizeof(data));
	for (int splice_path = 0; splice_path < 2; splice_path++) {
		struct endpoint e;
		struct xfer x;

		tcp_pair(&a, &r1);
		tcp_pair(&r2, &b);
		mirror_keys(suite, &ka, &kb);
		CHECK(ktls_switch(a, &ka) == 0);
		CHECK(ktls_switch(b, &kb) == 0);
		chan_init(&ca, a, plane_rw);
		chan_init(&cb, b, plane_rw);
		/* one record through intact, then one with a flipped bit */
		CHECK(plane_rw->write(&ca, data, sizeof(data)) == 0);
		CHECK(read_full_fd(r1, rec, rlen) == (ssize_t)rlen);
		CHECK(write(r2, rec, rlen) == (ssize_t)rlen);
		CHECK(plane_rw->write(&ca, data, sizeof(data)) == 0);
		CHECK(read_full_fd(r1, rec, rlen) == (ssize_t)rlen);
		rec[100] ^= 0x01;
		CHECK(write(r2, rec, rlen) == (ssize_t)rlen);
		if (!splice_path) {
			CHECK(kplane_recv(&cb, buf, sizeof(buf)) ==
			      (ssize_t)sizeof(data));
			CHECK(memcmp(buf, data, sizeof(data)) == 0);
			CHECK_ERR(kplane_recv(&cb, buf, sizeof(buf)), ZK_ENET,
				  "TLS record authentication failed "
				  "(corrupted or tampered stream)");
		} else {
			f = tmpfile_fd();
			ep_init(&e, f, NULL, 0, 0);
			memset(&x, 0, sizeof(x));
			CHECK_ERR(plane_splice->recv_stream(&cb, &e, &x), ZK_ENET,
				  "TLS record authentication failed "
				  "(corrupted or tampered stream)");
			CHECK(x.bytes == sizeof(data));
			close(f);
		}
		close(a);
		close(r1);
		close(r2);
		close(b);
	}
}

static void
t_truncated_reset(uint16_t suite)
{
	struct tls_keys ka, kb;
	struct linger lg = { 1, 0 };
	struct chan c;
	struct endpoint e;
	struct xfer x;
	char buf[64];
	int r, b, f;

	/* FIN without close_notify, through recv and through splice */
	for (int splice_path = 0; splice_path < 2; splice_path++) {
		tcp_pair(&r, &b);
		mirror_keys(suite, &ka, &kb);
		CHECK(ktls_switch(b, &kb) == 0);
		chan_init(&c, b, plane_splice);
		shutdown(r, SHUT_WR);
		if (!splice_path) {
			CHECK_ERR(kplane_recv(&c, buf, sizeof(buf)), ZK_ENET,
				  "connection closed by peer without "
				  "close_notify (truncated stream)");
		} else {
			f = tmpfile_fd();
			ep_init(&e, f, NULL, 0, 0);
			memset(&x, 0, sizeof(x));
			CHECK_ERR(plane_splice->recv_stream(&c, &e, &x), ZK_ENET,
				  "connection closed by peer without "
				  "close_notify (truncated stream)");
			close(f);
		}
		close(r);
		close(b);
	}

	/* RST */
	tcp_pair(&r, &b);
	mirror_keys(suite, &ka, &kb);
	CHECK(ktls_switch(b, &kb) == 0);
	chan_init(&c, b, plane_rw);
	setsockopt(r, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(r);
	CHECK_ERR(kplane_recv(&c, buf, sizeof(buf)), ZK_ENET,
		  "connection reset by peer");
	close(b);
}

static void
t_timeout(void)
{
	struct chan c;
	char buf[16];
	double t0, dt;
	int a, b;

	ktls_pair(SUITE_AES_128_GCM, &a, &b);
	chan_init(&c, b, plane_rw);
	c.timeout_ms = 1000;
	t0 = now();
	CHECK_ERR(kplane_recv(&c, buf, sizeof(buf)), ZK_ENET,
		  "timed out after 1 s waiting for the peer");
	dt = now() - t0;
	CHECK(dt > 0.9 && dt < 5);
	close(a);
	close(b);
}

/* ------------------------------------------------------------ planes */

enum ep_kind { EP_PIPE, EP_FILE, EP_CHILD };
static const char *const ep_names[] = { "pipe", "file", "child" };

struct result_msg {
	uint64_t bytes;
	uint8_t ok;
};

/* The sending side, in a child process: stream, close_notify, RESULT. */
static int
sender_main(int fd, const struct plane *p, enum ep_kind k, uint64_t n)
{
	struct ep_arg arg = { n };
	struct result_msg res;
	struct endpoint e;
	struct chan c;
	struct xfer x;
	pid_t prod = -1;
	int r, pfd[2], src = -1;
	char end;

	chan_init(&c, fd, p);
	memset(&x, 0, sizeof(x));
	if (k == EP_PIPE) {
		if (pipe2(pfd, O_CLOEXEC) < 0)
			die("pipe");
		prod = spawn_producer(pfd[1], n);
		close(pfd[1]);
		src = pfd[0];
	} else if (k == EP_FILE) {
		static uint8_t buf[1 << 16];
		src = tmpfile_fd();
		for (uint64_t off = 0; off < n; off += sizeof(buf)) {
			size_t len = n - off < sizeof(buf) ? (size_t)(n - off)
							   : sizeof(buf);
			fill_pat(buf, off, len);
			if (write(src, buf, len) != (ssize_t)len)
				die("write");
		}
		lseek(src, 0, SEEK_SET);
	}
	ep_init(&e, src, &arg, k == EP_CHILD, 1);
	r = p->send_stream(&c, &e, &x);
	if (r == 0)
		r = e.finish(&e); /* the session's order */
	if (r == 0)
		r = p->close_notify(&c);
	if (r == 0 && recv_full(&c, &res, sizeof(res)) != sizeof(res))
		r = -1;
	if (r == 0 && (kplane_recv(&c, &end, 1) != 0 || !c.peer_closed))
		r = -1;
	if (r < 0)
		fprintf(stderr, "  sender (%s, %s): %s\n", p->name, ep_names[k],
			zk_errmsg());
	if (prod > 0)
		waitpid(prod, NULL, 0);
	close(fd); /* after the receiver's close_notify, as the session does */
	if (r < 0 || !res.ok || res.bytes != n)
		return 1;
	/* direct with a child: the bytes never pass through us */
	if (p == plane_direct && k == EP_CHILD ? !x.uncounted || x.bytes != 0
					       : x.uncounted || x.bytes != n)
		return 1;
	return 0;
}

static int
run_transfer(uint16_t suite, const struct plane *sp, enum ep_kind sk,
	     const struct plane *rp, enum ep_kind rk, uint64_t n)
{
	struct ep_arg arg = { n };
	struct result_msg res = { 0, 0 };
	struct endpoint e;
	struct verdict v = { 0, -1 };
	struct chan c;
	struct xfer x;
	int a, b, r, st, cpipe[2] = { -1, -1 }, rpipe[2] = { -1, -1 }, dst = -1;
	pid_t sender, cons = -1;

	ktls_pair(suite, &a, &b);
	sender = fork();
	if (sender == 0) {
		close(b);
		_exit(sender_main(a, sp, sk, n));
	}
	close(a);
	chan_init(&c, b, rp);
	memset(&x, 0, sizeof(x));
	if (rk == EP_PIPE) {
		if (pipe2(cpipe, O_CLOEXEC) < 0 || pipe2(rpipe, O_CLOEXEC) < 0)
			die("pipe");
		cons = spawn_consumer(cpipe[0], 1 << 17, rpipe[1], 0);
		close(cpipe[0]);
		close(rpipe[1]);
		dst = cpipe[1];
	} else if (rk == EP_FILE) {
		dst = tmpfile_fd();
	}
	ep_init(&e, dst, &arg, rk == EP_CHILD, 0);
	r = rp->recv_stream(&c, &e, &x);
	if (r == 0)
		r = e.finish(&e);
	if (r < 0)
		fprintf(stderr, "  receiver (%s, %s): %s\n", rp->name,
			ep_names[rk], zk_errmsg());
	zk_clear();
	res.ok = r == 0;
	if (rk == EP_PIPE) {
		close(dst);
		if (read(rpipe[0], &v, sizeof(v)) != sizeof(v))
			v.total = 0;
		close(rpipe[0]);
		waitpid(cons, NULL, 0);
		res.ok = res.ok && v.total == n && v.first_bad < 0;
	} else if (rk == EP_FILE) {
		res.ok = res.ok && check_file(dst, n) == 0;
		close(dst);
	}
	if (rp == plane_direct && rk == EP_CHILD) {
		res.ok = res.ok && x.uncounted && x.bytes == 0;
		res.bytes = n; /* the child checked all n bytes */
	} else {
		res.ok = res.ok && !x.uncounted;
		res.bytes = x.bytes;
	}
	if (plane_rw->write(&c, &res, sizeof(res)) < 0 ||
	    plane_rw->close_notify(&c) < 0)
		res.ok = 0;
	close_after_peer(b);
	waitpid(sender, &st, 0);
	zk_clear();
	return res.ok && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

struct side {
	const struct plane *const *p;
	enum ep_kind k;
};

static void
t_planes(uint16_t suite, int full)
{
	const struct side send_sides[] = {
		{ &plane_rw, EP_PIPE },	    { &plane_rw, EP_CHILD },
		{ &plane_splice, EP_PIPE }, { &plane_splice, EP_FILE },
		{ &plane_splice, EP_CHILD }, { &plane_direct, EP_PIPE },
		{ &plane_direct, EP_CHILD },
	};
	const struct side recv_sides[] = {
		{ &plane_rw, EP_PIPE },	    { &plane_rw, EP_CHILD },
		{ &plane_splice, EP_PIPE }, { &plane_splice, EP_FILE },
		{ &plane_splice, EP_CHILD }, { &plane_direct, EP_PIPE },
		{ &plane_direct, EP_CHILD },
	};
	const size_t ns = sizeof(send_sides) / sizeof(send_sides[0]);
	const uint64_t n = (2u << 20) + 12345;
	int ok = 0, all = 0;

	for (size_t i = 0; i < ns; i++)
		for (size_t j = 0; j < ns; j++) {
			const struct side *s = &send_sides[i], *d = &recv_sides[j];
			int r;

			if (!full && i != j)
				continue;
			step("transfer");
			r = run_transfer(suite, *s->p, s->k, *d->p, d->k, n);
			CHECK(r == 0);
			if (r != 0)
				printf("FAIL transfer %s/%s -> %s/%s\n",
				       (*s->p)->name, ep_names[s->k],
				       (*d->p)->name, ep_names[d->k]);
			ok += r == 0;
			all++;
		}
	printf("       transfers ok: %d of %d\n", ok, all);
}

/* The receiver sends its RESULT while the sender still streams. */
static void
t_early(void)
{
	const struct plane *const *ps[] = { &plane_rw, &plane_splice,
					    &plane_direct };

	for (size_t i = 0; i < 3; i++) {
		const struct plane *p = *ps[i];
		static uint8_t buf[1 << 16];
		struct result_msg res = { 0, 0 };
		int a, b, st;
		pid_t pid;
		struct chan c;

		ktls_pair(SUITE_AES_128_GCM, &a, &b);
		pid = fork();
		if (pid == 0) {
			struct ep_arg arg = { UINT64_MAX };
			struct endpoint e;
			struct xfer x;
			int pfd[2], r, rr;
			pid_t prod = -1;

			close(b);
			chan_init(&c, a, p);
			memset(&x, 0, sizeof(x));
			if (p == plane_direct) {
				ep_init(&e, -1, &arg, 1, 1);
			} else {
				if (pipe2(pfd, O_CLOEXEC) < 0)
					die("pipe");
				prod = spawn_producer(pfd[1], UINT64_MAX);
				close(pfd[1]);
				ep_init(&e, pfd[0], &arg, 0, 1);
			}
			r = p->send_stream(&c, &e, &x);
			rr = r == -ZK_EEARLY &&
			     !strcmp(zk_errmsg(), "receiver ended the session "
				     "during the stream");
			if (!rr)
				fprintf(stderr, "  early %s: r=%d %s\n", p->name,
					r, zk_errmsg());
			zk_clear();
			e.kill(&e);
			(void)e.finish(&e);
			if (prod > 0) {
				close(pfd[0]);
				kill(prod, SIGTERM);
				waitpid(prod, NULL, 0);
			}
			rr = rr && recv_full(&c, &res, sizeof(res)) ==
					   sizeof(res) && res.bytes == 4242;
			(void)p->close_notify(&c);
			rr = rr && kplane_recv(&c, buf, 1) == 0;
			close(a);
			_exit(rr ? 0 : 1);
		}
		close(a);
		chan_init(&c, b, plane_rw);
		CHECK(recv_full(&c, buf, sizeof(buf)) == sizeof(buf));
		res.bytes = 4242;
		CHECK(plane_rw->write(&c, &res, sizeof(res)) == 0);
		CHECK(plane_rw->close_notify(&c) == 0);
		while (kplane_recv(&c, buf, sizeof(buf)) > 0)
			; /* drain until the sender's close_notify */
		zk_clear();
		close_after_peer(b);
		CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		      WEXITSTATUS(st) == 0);
		printf("       early RESULT stops %s send: %s\n", p->name,
		       WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "NO");
	}
}

/* direct receive: whatever follows the stream must be close_notify. */
static void
t_direct_trailer(void)
{
	const uint64_t n = 100000;
	struct ep_arg arg = { n };
	static uint8_t buf[100010];
	struct endpoint e;
	struct chan c;
	struct xfer x;
	int a, b;

	fill_pat(buf, 0, sizeof(buf));
	ktls_pair(SUITE_AES_128_GCM, &a, &b);
	chan_init(&c, a, plane_rw);
	if (fork() == 0) {
		close(b);
		(void)plane_rw->write(&c, buf, sizeof(buf)); /* n + 10 */
		(void)plane_rw->close_notify(&c);
		close_after_peer(a);
		_exit(0);
	}
	close(a);
	chan_init(&c, b, plane_direct);
	ep_init(&e, -1, &arg, 1, 0);
	memset(&x, 0, sizeof(x));
	CHECK_ERR(plane_direct->recv_stream(&c, &e, &x), ZK_EPROTO,
		  "unexpected data after the end of the stream");
	close(b);
	wait(NULL);
}

/* -------------------------------------------- raw kernel behaviours */

/* 1. A record left open by MSG_MORE / SPLICE_F_MORE, then close(). */
enum close_way { CW_MORE_CLOSE, CW_SPLICE_MORE_CLOSE, CW_MORE_SEND0_CLOSE,
		 CW_MORE_SHUTDOWN_CLOSE, CW_MORE_CN_CLOSE, CW_MORE_CN_WAIT };
static const char *const cw_names[] = {
	"MSG_MORE, close",
	"SPLICE_F_MORE, close",
	"MSG_MORE, send(0), close",
	"MSG_MORE, shutdown(WR), close",
	"MSG_MORE, close_notify, close",
	"MSG_MORE, close_notify, wait for peer, close (zktls)",
};

static uint64_t
open_record_run(enum close_way w)
{
	static const uint8_t cn[2] = { 1, 0 };
	uint8_t data[1000], buf[2048];
	struct chan c;
	uint64_t got = 0;
	int a, b;

	fill_pat(data, 0, sizeof(data));
	ktls_pair(SUITE_AES_128_GCM, &a, &b);
	if (w == CW_SPLICE_MORE_CLOSE) {
		int p[2];
		if (pipe(p) < 0 || write(p[1], data, sizeof(data)) != sizeof(data))
			die("pipe");
		(void)splice(p[0], NULL, a, NULL, sizeof(data), SPLICE_F_MORE);
		close(p[0]);
		close(p[1]);
	} else {
		(void)send(a, data, sizeof(data), MSG_MORE);
	}
	if (w == CW_MORE_SEND0_CLOSE)
		(void)send(a, data, 0, 0);
	if (w == CW_MORE_SHUTDOWN_CLOSE)
		shutdown(a, SHUT_WR);
	if (w == CW_MORE_CN_CLOSE || w == CW_MORE_CN_WAIT)
		(void)ktls_send_control(a, 21, cn, 2);
	if (w != CW_MORE_CN_WAIT)
		close(a);
	chan_init(&c, b, plane_rw);
	c.timeout_ms = 3000;
	for (;;) {
		ssize_t n = kplane_recv(&c, buf, sizeof(buf));
		if (n <= 0)
			break;
		got += (uint64_t)n;
	}
	zk_clear();
	close(b);
	if (w == CW_MORE_CN_WAIT)
		close_after_peer(a);
	return got;
}

/*
 * A writer killed while blocked in a write to a kernel-TLS socket poisons
 * it for everybody who shares it: tls_tx_records() stores the write's
 * -ERESTARTSYS as the socket's error (tls_err_abort(sk, rc), 6.12.10 and
 * later; EBADMSG before), and the next sendmsg() of any process on the
 * same socket fails with errno 512, a kernel-internal code.  That is what
 * a direct sender meets when it kills its zfs send (which writes the
 * socket itself) after the receiver gave up.  One run: a child fills the
 * socket while the peer reads nothing, is SIGTERMed while blocked, and
 * the parent then sends close_notify.  Returns that errno (0: it worked).
 */
/* sendmsg() close_notify as a TLS control record: 0 or the errno. */
static int
send_control_errno(int fd, const uint8_t cn[2])
{
	union {
		char buf[CMSG_SPACE(sizeof(unsigned char))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = (void *)cn, .iov_len = 2 };
	struct msghdr msg;
	struct cmsghdr *cmsg;

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
	*CMSG_DATA(cmsg) = 21;
	return sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == 2 ? 0 : errno;
}

static int
killed_writer_run(int use_splice)
{
	static const uint8_t cn[2] = { 1, 0 };
	int a, b, small = 16384, st, e;
	pid_t pid;

	ktls_pair(SUITE_AES_128_GCM, &a, &b);
	(void)setsockopt(a, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	(void)setsockopt(b, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		static uint8_t chunk[65536];
		int p[2];

		signal(SIGTERM, SIG_DFL);
		alarm(20);
		if (!use_splice)
			for (;;)
				if (write(a, chunk, sizeof(chunk)) < 0)
					_exit(1);
		/* as OpenZFS's lzc_send_wrapper: a pipe spliced into the
		 * socket with SPLICE_F_MORE, fed by another process */
		if (pipe(p) < 0)
			_exit(1);
		if (fork() == 0) {
			close(p[0]);
			while (write(p[1], chunk, sizeof(chunk)) > 0)
				;
			_exit(0);
		}
		close(p[1]);
		for (;;)
			if (splice(p[0], NULL, a, NULL, sizeof(chunk),
				   SPLICE_F_MORE) < 0)
				_exit(1);
	}
	/* until the child is blocked: the send queue stops growing */
	for (int prev = -1, i = 0; i < 200; i++) {
		int q = 0;
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		(void)ioctl(a, SIOCOUTQ, &q);
		if (q > 0 && q == prev)
			break;
		prev = q;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGTERM);
	(void)waitpid(pid, &st, 0);
	e = send_control_errno(a, cn);
	/* The peer first: on Linux 7.2 (no error left on the socket) close(a)
	 * pushes what the killed writer left and waits for room that a peer
	 * that never reads does not make; b's reset ends that wait. */
	close(b);
	close(a);
	return e;
}

static void
t_killed_writer(int runs)
{
	static const char *const how[] = { "write()", "splice(SPLICE_F_MORE)" };
	int a, b;

	printf("\n  a writer killed while blocked writing, then close_notify "
	       "from the process sharing the socket (%d runs each):\n", runs);
	for (int m = 0; m < 2; m++) {
		int n512 = 0, nbad = 0, nagain = 0, nok = 0, other = 0;

		for (int i = 0; i < runs; i++) {
			int e = killed_writer_run(m);
			n512 += e == 512;
			nbad += e == EBADMSG;
			nagain += e == EAGAIN;
			nok += e == 0;
			other += e != 0 && e != 512 && e != EBADMSG &&
				 e != EAGAIN;
		}
		printf("    %-24s sendmsg: errno 512 (ERESTARTSYS) in %2d, "
		       "EBADMSG %d, EAGAIN (not poisoned) %d, ok %d, other %d\n",
		       how[m], n512, nbad, nagain, nok, other);
	}
	/* What zktls makes of it: a named cause, never "Unknown error 512". */
	ktls_pair(SUITE_AES_128_GCM, &a, &b);
	CHECK_ERR(ktls_sock_fail(512, "send a TLS control record"), ZK_ENET,
		  "connection aborted: a write to it was interrupted "
		  "(kernel TLS error ERESTARTSYS)");
	close(a);
	close(b);
}

static void
t_open_record(int runs)
{
	printf("\n  open record at close (1000 bytes sent per run, %d runs):\n",
	       runs);
	for (int w = CW_MORE_CLOSE; w <= CW_MORE_CN_WAIT; w++) {
		int lossy = 0;
		uint64_t lost = 0;

		for (int i = 0; i < runs; i++) {
			uint64_t got = open_record_run((enum close_way)w);
			lossy += got != 1000;
			lost += 1000 - got;
		}
		printf("    %-55s lost in %2d of %d runs, %llu bytes\n",
		       cw_names[w], lossy, runs, (unsigned long long)lost);
		if (w == CW_MORE_CN_WAIT)
			CHECK(lossy == 0);
	}
}

/* 2. Receive into a slow consumer: a pipe read 312 bytes at a time. */
enum rx_way { RX_RAW, RX_RAW_1M, RX_NEVER_SHORT, RX_RW };
static const char *const rx_names[] = {
	"raw splice(socket -> consumer pipe 64 KiB)",
	"raw splice(socket -> consumer pipe 1 MiB)",
	"never-short splice (plane splice)",
	"rw (plane rw)",
};

static struct verdict
slow_run(enum rx_way w, uint64_t n)
{
	struct verdict v = { 0, -1 };
	int a, b, cp[2], rp[2], st;
	pid_t snd, cons;
	struct chan c;

	ktls_pair(SUITE_AES_128_GCM, &a, &b);
	snd = fork();
	if (snd == 0) {
		static uint8_t buf[1 << 16];
		close(b);
		chan_init(&c, a, plane_rw);
		for (uint64_t off = 0; off < n; off += sizeof(buf)) {
			size_t len = n - off < sizeof(buf) ? (size_t)(n - off)
							   : sizeof(buf);
			fill_pat(buf, off, len);
			if (plane_rw->write(&c, buf, len) < 0)
				_exit(1);
		}
		(void)plane_rw->close_notify(&c);
		close_after_peer(a);
		_exit(0);
	}
	close(a);
	if (pipe2(cp, O_CLOEXEC) < 0 || pipe2(rp, O_CLOEXEC) < 0)
		die("pipe");
	if (w == RX_RAW_1M)
		(void)fcntl(cp[1], F_SETPIPE_SZ, 1 << 20);
	cons = spawn_consumer(cp[0], 312, rp[1], 1);
	close(cp[0]);
	close(rp[1]);
	chan_init(&c, b, plane_splice);
	if (w == RX_RAW || w == RX_RAW_1M) {
		char small[64];
		for (;;) {
			ssize_t k = splice(b, NULL, cp[1], NULL, 1 << 16, 0);
			if (k > 0)
				continue;
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0 && errno == EINVAL &&
			    kplane_recv(&c, small, sizeof(small)) == 0)
				break; /* close_notify */
			break;
		}
	} else {
		struct endpoint e;
		struct xfer x;

		memset(&x, 0, sizeof(x));
		ep_init(&e, cp[1], NULL, 0, 0);
		(void)(w == RX_RW ? plane_rw : plane_splice)
			->recv_stream(&c, &e, &x);
	}
	zk_clear();
	close(cp[1]);
	if (read(rp[0], &v, sizeof(v)) != sizeof(v))
		v.total = 0;
	close(rp[0]);
	waitpid(cons, NULL, 0);
	close(b); /* the sender waits for this */
	waitpid(snd, &st, 0);
	return v;
}

static void
t_slow_consumer(int runs)
{
	const uint64_t n = (3u << 20) + 4321;

	printf("\n  slow consumer (312-byte reads, ~5 MB/s), %llu bytes per run, "
	       "%d runs:\n",
	       (unsigned long long)n, runs);
	for (int w = RX_RAW; w <= RX_RW; w++) {
		int lossy = 0, corrupt = 0;
		uint64_t lost = 0;
		double t0 = now();

		for (int i = 0; i < runs; i++) {
			struct verdict v;

			step(rx_names[w]);
			v = slow_run((enum rx_way)w, n);
			lossy += v.total != n;
			corrupt += v.first_bad >= 0;
			lost += v.total < n ? n - v.total : 0;
		}
		printf("    %-44s short in %2d of %d runs, %llu bytes lost, "
		       "%d runs corrupt (%.1f s)\n", rx_names[w], lossy, runs,
		       (unsigned long long)lost, corrupt, now() - t0);
		if (w == RX_NEVER_SHORT || w == RX_RW)
			CHECK(lossy == 0 && corrupt == 0);
	}
}

/* ---------------------------------------------------------------- main */

/* The parts named on the command line (all when none is). */
static char **only;
static int n_only;

static int
sel(const char *name)
{
	if (n_only == 0)
		return 1;
	for (int i = 0; i < n_only; i++)
		if (strcmp(only[i], name) == 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 50;
	struct utsname u;
	long tx0, rx0, de0, tx1, rx1, de1;
	char why[256];
	double t0 = now();

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ktls_probe(why, sizeof(why)) < 0) {
		printf("ktls_selftest: probe failed: %s\n", why);
		return 2;
	}
	if (argc > 2) {
		only = argv + 2;
		n_only = argc - 2;
	}
	if (uname(&u) < 0)
		die("uname");
	printf("ktls_selftest: probe ok (AES-128-GCM, AES-256-GCM, "
	       "ChaCha20-Poly1305, TLS 1.3 TX+RX), Linux %s\n", u.release);
	tls_stat(&tx0, &rx0, &de0);

	if (sel("rfc8448")) {
		step("rfc8448");
		t_rfc8448();
	}
	for (size_t i = 0; sel("suites") &&
			   i < sizeof(suites) / sizeof(suites[0]); i++) {
		int before = t_failed;
		double ts = now();

		step("data");
		t_data(suites[i]);
		step("controls");
		t_controls(suites[i]);
		step("tamper");
		t_tamper(suites[i]);
		step("truncated_reset");
		t_truncated_reset(suites[i]);
		t_planes(suites[i], i == 0);
		printf("%s %s: data, close_notify, alerts, handshake record, "
		       "tamper, truncation, reset, planes (%.1f s)\n",
		       t_failed == before ? "PASS" : "FAIL", suite_names[i],
		       now() - ts);
	}
	if (sel("empty-send")) {
		step("empty send");
		t_empty_send(SUITE_AES_128_GCM);
	}
	if (sel("rekey")) {
		int can = 0;

		step("rekey");
		for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
			can += t_rekey(suites[i]);
		/* all or none: the kernel decides by version, not by cipher */
		CHECK(can == 0 || can == 3);
		printf("%s rekey: %s\n", can == 0 || can == 3 ? "PASS" : "FAIL",
		       can ? "TLS 1.3 KeyUpdate flow works on every cipher"
			   : "not supported by this kernel (EBUSY)");
	}
	if (sel("timeout")) {
		step("timeout");
		t_timeout();
	}
	if (sel("early")) {
		step("early RESULT");
		t_early();
	}
	if (sel("direct-trailer")) {
		step("direct trailer");
		t_direct_trailer();
	}
	if (sel("open-record")) {
		step("open record");
		t_open_record(runs < 20 ? runs : 20);
	}
	if (sel("slow-consumer")) {
		step("slow consumer");
		t_slow_consumer(runs);
	}
	if (sel("killed-writer")) {
		step("killed writer");
		t_killed_writer(runs < 20 ? runs : 20);
	}
	alarm(0);

	tls_stat(&tx1, &rx1, &de1);
	printf("\n  /proc/net/tls_stat: TlsTxSw +%ld, TlsRxSw +%ld, "
	       "TlsDecryptError +%ld\n", tx1 - tx0, rx1 - rx0, de1 - de0);
	if (n_only == 0)
		CHECK(tx1 > tx0 && rx1 > rx0);
	printf("  total %.1f s\n", now() - t0);
	T_DONE("ktls_selftest");
}
