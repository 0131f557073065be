/*
 * endpoint.c - the local producer (sender) or consumer (receiver) of the
 * stream: our stdin/stdout (pipe mode), or a zfs child (send/recv) that
 * this module spawns, owns, watches and reaps.  The planes only ask for
 * an fd (endpoint_fd) or hand the child the socket itself (direct), and
 * judge its exit through endpoint_exited()/endpoint_ok().
 *
 * Children run as child.c starts them (zfs.c spells their argument
 * vector): stdin/stdout are the stream (or /dev/null),
 * stderr goes to an unlinked temporary file so a chatty child can never
 * block on a full pipe while we move its stream.  The tail of that file
 * becomes the error text we report and send to the peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zktls.h"

#define PIPE_SIZE (1 << 20)

static int
tmp_errfile(void)
{
	char tmpl[] = "/tmp/zktls-err.XXXXXX";
	int fd = mkostemp(tmpl, O_CLOEXEC);

	if (fd >= 0)
		unlink(tmpl);
	return fd;
}

/* Keep the last cap-1 bytes of fd's content, one line, trimmed. */
static void
read_tail(int fd, char *out, size_t cap)
{
	off_t end = lseek(fd, 0, SEEK_END), start;
	ssize_t n;
	size_t i;

	out[0] = '\0';
	if (end <= 0)
		return;
	start = end > (off_t)(cap - 1) ? end - (off_t)(cap - 1) : 0;
	n = pread(fd, out, cap - 1, start);
	if (n <= 0)
		return;
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	for (i = 0; i < (size_t)n; i++)
		if (out[i] == '\n' || out[i] == '\t')
			out[i] = ' ';
		else if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
}

static int
zfs_start(struct endpoint *e, int child_fd)
{
	const struct zfs_req *q = e->arg;
	const struct zfs_runner *run = zfs_runner();
	const char *argv[ZFS_ARGV_MAX];
	int null = -1, r, in, out;
	int sender = q->op != ZOP_RECV;

	if ((q->op != ZOP_SEND && q->op != ZOP_RECV && q->op != ZOP_ESTIMATE) ||
	    zfs_argv(q, argv, sizeof(argv) / sizeof(argv[0])) < 0)
		return zk_fail(ZK_ESYS, "not a zfs send or receive");
	if (run && run->spawn) {
		/* serve's network process: the monitor runs zfs */
		if ((r = run->spawn(q, child_fd)) == 0)
			e->remote = 1;
		return r;
	}
	if (run && run->check && (r = run->check(q)) < 0)
		return r;
	if ((e->errfd = tmp_errfile()) < 0)
		return zk_fail_errno(ZK_ESYS, "temporary file");
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return zk_fail_errno(ZK_ESYS, "/dev/null");
	/* send: stream on stdout; receive: stream on stdin, and its stdout
	 * (-v chatter) joins our stderr. */
	in = sender ? null : child_fd;
	out = sender ? child_fd : 2;
	r = child_spawn(argv, in, out, e->errfd, &e->pid);
	close(null);
	if (r == 0)
		log_verbose("started %s %s (pid %d)", argv[0], argv[1],
			    (int)e->pid);
	return r;
}

static int
zfs_finish(struct endpoint *e)
{
	const struct zfs_req *q = e->arg;
	const struct zfs_runner *run = zfs_runner();
	const char *verb = zfs_op_name(q->op);
	int st = 0, r;

	if (!endpoint_child(e))
		return 0;
	if (!e->finished && e->remote) {
		if ((r = run->wait(&st, e->errtext, sizeof(e->errtext))) < 0)
			return r;
		e->finished = 1;
		e->status = st;
	}
	if (!e->finished) {
		if ((r = child_wait(e->pid, &st)) < 0)
			return r;
		e->finished = 1;
		e->status = st;
		if (e->errfd >= 0) {
			read_tail(e->errfd, e->errtext, sizeof(e->errtext));
			close(e->errfd);
			e->errfd = -1;
		}
	}
	st = e->status;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFSIGNALED(st))
		return zk_fail(ZK_EZFS, "zfs %s killed by signal %d%s%s",
			       verb, WTERMSIG(st), e->errtext[0] ? ": " : "",
			       e->errtext);
	return zk_fail(ZK_EZFS, "zfs %s failed (exit %d)%s%s", verb,
		       WEXITSTATUS(st), e->errtext[0] ? ": " : "", e->errtext);
}

static void
zfs_kill(struct endpoint *e)
{
	if (e->remote && !e->finished)
		zfs_runner()->kill();
	else if (e->pid > 0 && !e->finished)
		kill(e->pid, SIGTERM);
}

void
zfs_endpoint(struct endpoint *e, const struct zfs_req *r)
{
	memset(e, 0, sizeof(*e));
	e->fd = -1;
	e->errfd = -1;
	e->arg = (void *)r;
	e->start = zfs_start;
	e->finish = zfs_finish;
	e->kill = zfs_kill;
}

static int
fd_finish(struct endpoint *e)
{
	(void)e;
	return 0;
}

static void
fd_kill(struct endpoint *e)
{
	(void)e;
}

void
fd_endpoint(struct endpoint *e, int fd)
{
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->errfd = -1;
	e->finish = fd_finish;
	e->kill = fd_kill;
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

/* Has e's child exited (or been reaped)?  Does not reap it; *si tells how
 * it ended where it has not been reaped yet. */
int endpoint_child(const struct endpoint *e)
{
	return e->pid > 0 || e->remote;
}

int endpoint_exited(struct endpoint *e, siginfo_t *si)
{
	int st;

	memset(si, 0, sizeof(*si));
	if (e->remote) {
		int r;

		if (e->finished || e->exit_known)
			return 1;
		if ((r = zfs_runner()->exited(&st)) == 1) {
			e->status = st;
			e->exit_known = 1;
		}
		return r != 0; /* a monitor that does not answer: gone too */
	}
	return e->finished ||
	       waitid(P_PID, (id_t)e->pid, si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	       si->si_pid == e->pid;
}

/* Did e's child, which has exited, succeed?  Unknown counts as yes:
 * finish() judges. */
int endpoint_ok(struct endpoint *e)
{
	siginfo_t si;

	if (e->finished || e->exit_known)
		return WIFEXITED(e->status) && WEXITSTATUS(e->status) == 0;
	if (e->remote)
		return 1;
	if (!endpoint_exited(e, &si) || si.si_pid != e->pid)
		return 1;
	return si.si_code == CLD_EXITED && si.si_status == 0;
}
