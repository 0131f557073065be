/*
 * endpoint.c - the local producer (sender) or consumer (receiver) of the
 * stream: our stdin/stdout (pipe mode), or a zfs child (send/recv) that
 * this module spawns, owns, watches and reaps.  The planes only ask for
 * an fd (endpoint_fd) or hand the child the socket itself (direct), and
 * judge its exit through endpoint_exited()/endpoint_ok().
 *
 * Children run from an argument vector (never a shell) with a fixed
 * minimal environment, default signals, "/" as their working directory
 * and an explicit fd map: stdin/stdout are the stream (or /dev/null),
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

extern char **environ;

/* The child's environment: a fixed PATH (never ours: see zfs.c), the
 * C locale, and the ZKTLS_* variables the host tests configure their
 * stand-in zfs with. */
static char **
child_env(void)
{
	static char *env[64];
	size_t n = 0;

	env[n++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	env[n++] = "LC_ALL=C";
	for (char **e = environ; *e && n < 63; e++)
		if (strncmp(*e, "ZKTLS_", 6) == 0)
			env[n++] = *e;
	env[n] = NULL;
	return env;
}

/* fork + exec argv with in/out as stdin/stdout and err as stderr. */
int
child_spawn(const char *const *argv, int in, int out, int err, pid_t *pid)
{
	pid_t p = fork();

	if (p < 0)
		return zk_fail_errno(ZK_ESYS, "fork");
	if (p == 0) {
		sigset_t none;

		/* The child starts clean: default signal dispositions (ours
		 * ignores SIGPIPE), nothing blocked, and the root directory as
		 * its working directory.  argv[0] is absolute (zfs_path()). */
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 ||
		    chdir("/") < 0)
			_exit(127);
		/* Every other fd of ours is O_CLOEXEC. */
		if (argv[0][0] == '/')
			execve(argv[0], (char *const *)argv, child_env());
		dprintf(2, "cannot run %s: %s\n", argv[0],
			argv[0][0] == '/' ? strerror(errno) : "not an absolute path");
		_exit(127);
	}
	*pid = p;
	return 0;
}

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
	const char *const *argv = e->arg;
	int null = -1, r, in, out;
	int sender = strcmp(argv[1], "send") == 0;

	if ((e->errfd = tmp_errfile()) < 0)
		return zk_fail_errno(ZK_ESYS, "temporary file");
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return zk_fail_errno(ZK_ESYS, "/dev/null");
	/* send: stream on stdout; receive: stream on stdin, and its stdout
	 * (-v chatter) joins our stderr. */
	in = sender ? null : child_fd;
	out = sender ? child_fd : 2;
	if (privsep_remote()) {
		/* serve's network process: the monitor runs zfs */
		close(null);
		close(e->errfd);
		e->errfd = -1;
		if ((r = privsep_spawn(argv, child_fd)) == 0)
			e->remote = 1;
		return r;
	}
	if ((r = privsep_check(argv)) < 0) {
		close(null);
		close(e->errfd);
		e->errfd = -1;
		return r;
	}
	r = child_spawn(argv, in, out, e->errfd, &e->pid);
	close(null);
	if (r == 0)
		log_verbose("started %s %s (pid %d)", argv[0], argv[1],
			    (int)e->pid);
	return r;
}

int
child_wait(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return zk_fail_errno(ZK_ESYS, "waitpid");
	}
	return 0;
}

static int
zfs_finish(struct endpoint *e)
{
	const char *const *argv = e->arg;
	int st = 0, r;

	if (!endpoint_child(e))
		return 0;
	if (!e->finished && e->remote) {
		if ((r = privsep_wait(&st, e->errtext, sizeof(e->errtext))) < 0)
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
			       argv[1], WTERMSIG(st), e->errtext[0] ? ": " : "",
			       e->errtext);
	return zk_fail(ZK_EZFS, "zfs %s failed (exit %d)%s%s", argv[1],
		       WEXITSTATUS(st), e->errtext[0] ? ": " : "", e->errtext);
}

static void
zfs_kill(struct endpoint *e)
{
	if (e->remote && !e->finished)
		privsep_kill();
	else if (e->pid > 0 && !e->finished)
		kill(e->pid, SIGTERM);
}

void
zfs_endpoint(struct endpoint *e, const char *const *argv)
{
	memset(e, 0, sizeof(*e));
	e->fd = -1;
	e->errfd = -1;
	e->arg = (void *)argv;
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
		if ((r = privsep_exited(&st)) == 1) {
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
