/*
 * upipe.c - the user plane's write pipeline (see upipe.h).
 *
 * One mutex guards the ring's indices and the thread's verdict; two
 * condition variables wake the writer (a batch queued, or stop) and the
 * caller (a slot free, or the writer failed).  The writer blocks every
 * signal: they stay the main thread's, whose waits already handle EINTR.
 *
 * The thread is for waits only.  While nothing is queued, upipe_put
 * writes a batch in the caller, as far as the fd takes it without
 * waiting, and queues just the rest: with a sink that keeps up (a socket
 * with room in its buffer, a pipe its reader drains, /dev/null), no batch
 * crosses threads, and no wake-up, no handoff and no second cache pays
 * for it; with a slow sink, the caller seals or opens the next batch
 * while the thread waits.  On two cores shared by both ends of a
 * loopback session, handing every batch over cost more CPU per GiB and
 * more time than it saved.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "upipe.h"
#include "zktls.h"

struct upipe {
	int fd;
	int threaded, mu_init;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work, room;
	unsigned head, tail;    /* next slot to write, next to fill */
	unsigned filled;        /* queued or being written */
	int stop, cancel;
	int now;                /* how the caller writes without waiting */
	int started;            /* the caller wrote part of the batch at the
				 * head: it goes out whole, even at a cancel
				 * (the stream never ends inside a record) */
	int err;                /* errno of a failed write */
	uint64_t done;          /* stream bytes of written batches */
	struct upipe_slot slot[UPIPE_SLOTS];
};

enum { NOW_NEVER, NOW_SOCKET, NOW_OS };

/* Move iov[0, k) past n bytes written: the index of the first iovec
 * with bytes left (k when none), its start moved along. */
static int
iov_skip(struct iovec *v, int k, size_t n)
{
	int i = 0;

	while (i < k && n >= v[i].iov_len)
		n -= v[i++].iov_len;
	if (i < k) {
		v[i].iov_base = (uint8_t *)v[i].iov_base + n;
		v[i].iov_len -= n;
	}
	return i;
}

/* Write iov[0, k), all of it: 0, or an errno. */
static int
write_iov(int fd, struct iovec *v, int k)
{
	while (k > 0) {
		ssize_t n = writev(fd, v, k);
		int i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		i = iov_skip(v, k, (size_t)n);
		v += i;
		k -= i;
	}
	return 0;
}

static void *
writer(void *arg)
{
	struct upipe *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct upipe_slot *s;
		int e;

		while (p->filled == 0 && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->filled == 0 || (p->cancel && !p->started))
			break;
		s = &p->slot[p->head];
		pthread_mutex_unlock(&p->mu);
		e = write_iov(p->fd, s->iov, s->n);
		pthread_mutex_lock(&p->mu);
		if (e != 0) {
			p->err = e;
			pthread_cond_signal(&p->room);
			break;
		}
		p->done += s->bytes;
		p->head = (p->head + 1) % UPIPE_SLOTS;
		p->filled--;
		p->started = 0;
		pthread_cond_signal(&p->room);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct upipe *
upipe_new(int fd, size_t cap, int niov)
{
	struct upipe *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	sigset_t all, old;
	struct stat st;

	if (p == NULL) {
		zk_fail_errno(ZK_ESYS, "cannot set up the user plane");
		return NULL;
	}
	p->fd = fd;
	p->now = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? NOW_SOCKET
								 : NOW_OS;
	for (int i = 0; i < UPIPE_SLOTS; i++) {
		p->slot[i].buf = malloc(cap);
		p->slot[i].iov = calloc((size_t)niov, sizeof(struct iovec));
		if (p->slot[i].buf == NULL || p->slot[i].iov == NULL) {
			zk_fail_errno(ZK_ESYS, "cannot set up the user plane");
			upipe_free(p);
			return NULL;
		}
	}
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		zk_fail(ZK_ESYS, "cannot set up the user plane");
		upipe_free(p);
		return NULL;
	}
	pthread_cond_init(&p->work, NULL);
	/* room's timed waits (upipe_wait) count on the monotonic clock */
	pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->room, &ca);
	pthread_condattr_destroy(&ca);
	p->mu_init = 1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* Without a thread (a resource limit, a stricter filter than
	 * os_confine's) the caller writes each batch itself, as before. */
	p->threaded = pthread_create(&p->thread, NULL, writer, p) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return p;
}

struct upipe_slot *
upipe_slot(struct upipe *p)
{
	struct upipe_slot *s = NULL;

	if (!p->threaded)
		return p->err ? NULL : &p->slot[0];
	pthread_mutex_lock(&p->mu);
	while (p->filled == UPIPE_SLOTS && p->err == 0)
		pthread_cond_wait(&p->room, &p->mu);
	if (p->err == 0)
		s = &p->slot[p->tail];
	pthread_mutex_unlock(&p->mu);
	return s;
}

/* Write what the fd takes of s now, without waiting: 0 when all of it
 * went; else EAGAIN, with s->iov[0, n) what is left (wrote: whether any
 * of it went), or the errno of a failed write. */
static int
put_now(struct upipe *p, struct upipe_slot *s, int *wrote)
{
	int i = 0;

	*wrote = 0;
	while (i < s->n) {
		struct msghdr m = { .msg_iov = s->iov + i,
				    .msg_iovlen = (size_t)(s->n - i) };
		ssize_t n = p->now == NOW_SOCKET
				    ? sendmsg(p->fd, &m,
					      MSG_DONTWAIT | MSG_NOSIGNAL)
				    : os_writev_now(p->fd, s->iov + i,
						    s->n - i);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EOPNOTSUPP && p->now == NOW_OS)
			p->now = NOW_NEVER; /* this fd: the thread's */
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return errno;
		if (n <= 0)
			break;
		*wrote = 1;
		i += iov_skip(s->iov + i, s->n - i, (size_t)n);
	}
	if (i == s->n)
		return 0;
	memmove(s->iov, s->iov + i, (size_t)(s->n - i) * sizeof(*s->iov));
	s->n -= i;
	return EAGAIN;
}

int
upipe_put(struct upipe *p, struct upipe_slot *s)
{
	int e, idle, wrote = 0, sent = 0;

	if (!p->threaded) {
		if ((e = write_iov(p->fd, s->iov, s->n)) != 0) {
			p->err = e;
			return -1;
		}
		p->done += s->bytes;
		return 0;
	}
	/* With nothing queued the thread is idle: it neither writes nor
	 * changes err until the next batch is queued. */
	pthread_mutex_lock(&p->mu);
	e = p->err;
	idle = p->filled == 0;
	pthread_mutex_unlock(&p->mu);
	if (e == 0 && s->n > 0 && idle && p->now != NOW_NEVER) {
		e = put_now(p, s, &wrote);
		sent = e == 0;
		if (e == EAGAIN)
			e = 0; /* the rest waits in the thread */
	}
	pthread_mutex_lock(&p->mu);
	if (e != 0 || p->err != 0) {
		if (p->err == 0)
			p->err = e;
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	if (s->n == 0 || sent) {
		p->done += s->bytes;
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	p->tail = (p->tail + 1) % UPIPE_SLOTS;
	p->filled++;
	if (idle)
		p->started = wrote; /* only ever the batch at the head */
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int
upipe_wait(struct upipe *p, int all, int ms)
{
	struct timespec until;
	int r;

	if (!p->threaded)
		return p->err ? -1 : 1;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->mu);
	while (p->err == 0 && p->filled > (all ? 0u : UPIPE_SLOTS - 1u))
		if (pthread_cond_timedwait(&p->room, &p->mu, &until) ==
		    ETIMEDOUT)
			break;
	r = p->err != 0 ? -1
	    : p->filled > (all ? 0u : UPIPE_SLOTS - 1u) ? 0 : 1;
	pthread_mutex_unlock(&p->mu);
	return r;
}

uint64_t
upipe_done(struct upipe *p)
{
	uint64_t d;

	if (!p->threaded)
		return p->done;
	pthread_mutex_lock(&p->mu);
	d = p->done;
	pthread_mutex_unlock(&p->mu);
	return d;
}

int
upipe_errno(struct upipe *p)
{
	int e;

	if (!p->threaded)
		return p->err;
	pthread_mutex_lock(&p->mu);
	e = p->err;
	pthread_mutex_unlock(&p->mu);
	return e;
}

static void
stop(struct upipe *p, int cancel)
{
	if (!p->threaded)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	p->cancel = cancel;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	p->threaded = 0;
}

int
upipe_finish(struct upipe *p)
{
	stop(p, 0);
	return p->err ? -1 : 0;
}

void
upipe_cancel(struct upipe *p)
{
	stop(p, 1);
}

void
upipe_free(struct upipe *p)
{
	if (p == NULL)
		return;
	stop(p, 1);
	for (int i = 0; i < UPIPE_SLOTS; i++) {
		free(p->slot[i].buf);
		free(p->slot[i].iov);
	}
	if (p->mu_init) {
		pthread_cond_destroy(&p->work);
		pthread_cond_destroy(&p->room);
		pthread_mutex_destroy(&p->mu);
	}
	free(p);
}
