/*
 * test_upipe.c - the user plane's write pipeline (upipe.c): batches reach
 * the fd whole and in order, from any number of iovecs, whether the caller
 * writes them (a pipe or a socket with room), the thread does (a file:
 * ext4 has no write without waiting), or each part of one; bytes count as
 * written; a failed write (the reader gone) is reported by the next call
 * and by the finish; a cancel drops what is queued and lets the batch
 * being written end, so that the output ends at a batch boundary, a
 * batch the caller began included; upipe_wait waits for a free slot or
 * for everything written, up to the time given, and says which.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "upipe.h"
#include "zktls.h"
#include "t.h"

struct sink {
	int fd;
	int delay_ms;           /* before the first read */
	uint8_t *got;
	size_t cap, n;
};

static void *
reader(void *arg)
{
	struct sink *k = arg;
	ssize_t r;

	if (k->delay_ms > 0) {
		struct timespec ts = { 0, k->delay_ms * 1000000L };
		nanosleep(&ts, NULL);
	}
	while (k->n < k->cap &&
	       (r = read(k->fd, k->got + k->n, k->cap - k->n)) > 0)
		k->n += (size_t)r;
	return NULL;
}

static uint8_t
pattern(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 9));
}

enum { TO_PIPE, TO_SOCKET, TO_FILE };

/* 1000 batches of 1..4000 bytes, each in three iovecs, to a pipe or a
 * socket (a small one: some batches go in part in the caller, the rest
 * in the thread) or a file. */
static void
order(int to)
{
	enum { N = 1000, CAP = 4096 };
	static uint8_t want[N * CAP], got[N * CAP];
	struct sink k = { .got = got, .cap = sizeof(got) };
	size_t total = 0;
	pthread_t t;
	int fds[2], small = 4096;
	char path[] = "/tmp/test_upipe.XXXXXX";
	struct upipe *p;

	if (to == TO_FILE) {
		CHECK((fds[1] = mkstemp(path)) >= 0);
		CHECK((fds[0] = open(path, O_RDONLY)) >= 0);
		unlink(path);
	} else if (to == TO_SOCKET) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
		(void)setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &small,
				 sizeof(small));
	} else {
		CHECK(pipe(fds) == 0);
		(void)fcntl(fds[1], F_SETPIPE_SZ, small);
	}
	k.fd = fds[0];
	if (to != TO_FILE)
		pthread_create(&t, NULL, reader, &k);
	CHECK((p = upipe_new(fds[1], CAP, 3)) != NULL);
	for (size_t i = 0; i < N; i++) {
		struct upipe_slot *s = upipe_slot(p);
		size_t len = 1 + (i * 37) % 4000, a = len / 3, b = len / 2;

		CHECK(s != NULL);
		if (s == NULL)
			break;
		for (size_t j = 0; j < len; j++)
			want[total + j] = s->buf[j] = pattern(total + j);
		s->iov[0] = (struct iovec){ s->buf, a };
		s->iov[1] = (struct iovec){ s->buf + a, b - a };
		s->iov[2] = (struct iovec){ s->buf + b, len - b };
		s->n = 3;
		s->bytes = len;
		total += len;
		CHECK(upipe_put(p, s) == 0);
	}
	CHECK(upipe_finish(p) == 0);
	CHECK(upipe_done(p) == total);
	CHECK(upipe_errno(p) == 0);
	upipe_free(p);
	close(fds[1]);
	if (to == TO_FILE)
		reader(&k);
	else
		pthread_join(t, NULL);
	close(fds[0]);
	CHECK(k.n == total);
	CHECK(memcmp(got, want, total) == 0);
}

/* The reader is gone: EPIPE, reported by a later call and the finish. */
static void
failed(void)
{
	struct upipe *p;
	int fds[2], i, failed_at = -1;

	CHECK(pipe(fds) == 0);
	close(fds[0]);
	CHECK((p = upipe_new(fds[1], 1024, 1)) != NULL);
	for (i = 0; i < 100 && failed_at < 0; i++) {
		struct upipe_slot *s = upipe_slot(p);

		if (s == NULL) {
			failed_at = i;
			break;
		}
		memset(s->buf, 'x', 1024);
		s->iov[0] = (struct iovec){ s->buf, 1024 };
		s->n = 1;
		s->bytes = 1024;
		if (upipe_put(p, s) < 0)
			failed_at = i;
		else
			usleep(1000);
	}
	CHECK(failed_at >= 0);
	CHECK(upipe_errno(p) == EPIPE);
	CHECK(upipe_wait(p, 0, 10) == -1);
	CHECK(upipe_wait(p, 1, 10) == -1);
	CHECK(upipe_finish(p) == -1);
	CHECK(upipe_done(p) == 0);
	upipe_free(p);
	close(fds[1]);
}

/* A batch for every slot, the first blocked on a full pipe; a cancel
 * lets it end and drops the rest: whole batches come out, not all. */
static void *
canceller(void *arg)
{
	upipe_cancel(arg);
	return NULL;
}

static void
cancel(void)
{
	enum { B = 65536 };
	static uint8_t got[UPIPE_SLOTS * B];
	struct sink k = { .got = got, .cap = sizeof(got), .delay_ms = 500 };
	pthread_t t, c;
	struct upipe *p;
	int fds[2], full, inq = 0;

	CHECK(pipe(fds) == 0);
	full = fcntl(fds[1], F_SETPIPE_SZ, 4096);
	CHECK((p = upipe_new(fds[1], B, 1)) != NULL);
	for (int i = 0; i < UPIPE_SLOTS; i++) {
		struct upipe_slot *s = upipe_slot(p);

		CHECK(s != NULL);
		if (s == NULL)
			break;
		memset(s->buf, 'a' + i, B);
		s->iov[0] = (struct iovec){ s->buf, B };
		s->n = 1;
		s->bytes = B;
		CHECK(upipe_put(p, s) == 0);
	}
	/* The first batch is being written once the pipe is full. */
	for (int i = 0; i < 5000 && inq < full; i++) {
		usleep(1000);
		if (ioctl(fds[0], FIONREAD, &inq) < 0)
			break;
	}
	CHECK(inq == full);
	/* The cancel waits for the batch being written, which waits for the
	 * reader: both in threads of their own. */
	k.fd = fds[0];
	pthread_create(&c, NULL, canceller, p);
	pthread_create(&t, NULL, reader, &k);
	pthread_join(c, NULL);
	close(fds[1]);
	pthread_join(t, NULL);
	close(fds[0]);
	CHECK(upipe_done(p) >= B);
	CHECK(upipe_done(p) < UPIPE_SLOTS * B);
	CHECK(upipe_done(p) % B == 0);
	CHECK(k.n == upipe_done(p));
	for (size_t i = 0; i < k.n; i++)
		if (got[i] != 'a' + i / B) {
			CHECK(got[i] == 'a' + i / B);
			break;
		}
	upipe_free(p);
}

/* One batch larger than the pipe: the caller writes what fits, the thread
 * is to write the rest; a cancel at once still lets all of it out (the
 * stream ends at a batch boundary, never inside a record), and so it
 * does when a second batch was queued behind it (second: 1), which is
 * dropped.  Whether the thread has taken the first batch when the
 * cancel comes is a race: each round tries it. */
static void
cancel_begun(int second)
{
	enum { B = 65536 };
	static uint8_t got[B];
	struct sink k = { .got = got, .cap = sizeof(got), .delay_ms = 100 };
	struct upipe_slot *s;
	struct upipe *p;
	pthread_t t, c;
	int fds[2];

	CHECK(pipe(fds) == 0);
	(void)fcntl(fds[1], F_SETPIPE_SZ, 4096);
	CHECK((p = upipe_new(fds[1], B, 1)) != NULL);
	CHECK((s = upipe_slot(p)) != NULL);
	if (s == NULL)
		return;
	memset(s->buf, 'z', B);
	s->iov[0] = (struct iovec){ s->buf, B };
	s->n = 1;
	s->bytes = B;
	CHECK(upipe_put(p, s) == 0);
	if (second && (s = upipe_slot(p)) != NULL) {
		memset(s->buf, 'y', B);
		s->iov[0] = (struct iovec){ s->buf, B };
		s->n = 1;
		s->bytes = B;
		CHECK(upipe_put(p, s) == 0);
	}
	k.fd = fds[0];
	pthread_create(&c, NULL, canceller, p);
	pthread_create(&t, NULL, reader, &k);
	pthread_join(c, NULL);
	close(fds[1]);
	pthread_join(t, NULL);
	close(fds[0]);
	CHECK(upipe_done(p) == B);
	CHECK(k.n == B);
	CHECK(k.n == 0 || (got[0] == 'z' && got[k.n - 1] == 'z'));
	upipe_free(p);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Batches blocked on a full pipe: upipe_wait times out (after the time
 * given, not before) while the slot or the whole ring it waits for is
 * not free, and says so at once when it is; once a reader drains the
 * pipe, everything is written. */
static void
waits(void)
{
	enum { B = 65536 };
	static uint8_t got[UPIPE_SLOTS * B];
	struct sink k = { .got = got, .cap = sizeof(got) };
	struct upipe_slot *s;
	struct upipe *p;
	pthread_t t;
	double t0;
	int fds[2];

	CHECK(pipe(fds) == 0);
	(void)fcntl(fds[1], F_SETPIPE_SZ, 4096);
	CHECK((p = upipe_new(fds[1], B, 1)) != NULL);
	CHECK(upipe_wait(p, 0, 10) == 1);
	CHECK(upipe_wait(p, 1, 10) == 1);
	for (int i = 0; i < UPIPE_SLOTS; i++) {
		CHECK((s = upipe_slot(p)) != NULL);
		if (s == NULL)
			return;
		memset(s->buf, 'a' + i, B);
		s->iov[0] = (struct iovec){ s->buf, B };
		s->n = 1;
		s->bytes = B;
		CHECK(upipe_put(p, s) == 0);
		if (i + 1 < UPIPE_SLOTS)
			CHECK(upipe_wait(p, 0, 10) == 1);
	}
	t0 = now_ms();
	CHECK(upipe_wait(p, 0, 50) == 0);
	CHECK(now_ms() - t0 >= 49);
	CHECK(now_ms() - t0 < 2000);
	CHECK(upipe_wait(p, 1, 20) == 0);
	CHECK(upipe_done(p) == 0);
	k.fd = fds[0];
	pthread_create(&t, NULL, reader, &k);
	t0 = now_ms();
	CHECK(upipe_wait(p, 1, 10000) == 1);
	CHECK(now_ms() - t0 < 5000);
	CHECK(upipe_done(p) == UPIPE_SLOTS * B);
	CHECK(upipe_wait(p, 0, 10) == 1);
	CHECK(upipe_finish(p) == 0);
	upipe_free(p);
	close(fds[1]);
	pthread_join(t, NULL);
	close(fds[0]);
	CHECK(k.n == UPIPE_SLOTS * B);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	order(TO_PIPE);
	order(TO_SOCKET);
	order(TO_FILE);
	failed();
	cancel();
	for (int i = 0; i < 5; i++) {
		cancel_begun(0);
		cancel_begun(1);
	}
	waits();
	T_DONE("test_upipe");
}
