/*
 * zfs.c - running zfs: name validation, spawning, capturing its words.
 *
 * zfs is always run from an argument vector (never a shell) with a minimal
 * environment and an explicit fd map: stdin/stdout are the stream (or
 * /dev/null), stderr goes to an unlinked temporary file so a chatty child
 * can never block on a full pipe while we move its stream.  The tail of
 * that file becomes the error text we report and send to the peer.
 *
 * $ZKTLS_ZFS names another executable (the host tests use a stand-in).
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

extern char **environ;

const char *
zfs_path(void)
{
	const char *p = getenv("ZKTLS_ZFS");
	return p && *p ? p : "zfs";
}

/* ZFS component characters (module/zcommon/zfs_namecheck.c). */
static int
valid_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == ':' || c == ' ';
}

int
zfs_name_valid(const char *name, int kind)
{
	size_t len = strlen(name), comp = 0;
	int seen_at = 0;
	const char *p;

	if (len == 0 || len >= 256 || name[0] == '-' || name[0] == '/' ||
	    name[len - 1] == '/')
		return 0;
	for (p = name; *p; p++) {
		if (*p == '/') {
			if (comp == 0 || seen_at)
				return 0;
			comp = 0;
		} else if (*p == '@') {
			if (comp == 0 || seen_at || kind != 's')
				return 0;
			seen_at = 1;
			comp = 0;
		} else if (!valid_char(*p)) {
			return 0;
		} else {
			comp++;
			if (comp == 1 && *p == '.' &&
			    (p[1] == '\0' || p[1] == '/' || p[1] == '@' ||
			     (p[1] == '.' && (p[2] == '\0' || p[2] == '/' ||
					      p[2] == '@'))))
				return 0; /* "." and ".." components */
		}
	}
	if (comp == 0)
		return 0;
	return kind == 's' ? seen_at : !seen_at;
}

/* The child's environment: enough to find zfs and speak plain C. */
static char **
child_env(void)
{
	static char *env[64];
	static char path[4096];
	const char *p = getenv("PATH");
	size_t n = 0;

	snprintf(path, sizeof(path), "PATH=%s",
		 p ? p : "/usr/sbin:/usr/bin:/sbin:/bin");
	env[n++] = path;
	env[n++] = "LC_ALL=C";
	for (char **e = environ; *e && n < 63; e++)
		if (strncmp(*e, "ZKTLS_", 6) == 0)
			env[n++] = *e;
	env[n] = NULL;
	return env;
}

/* fork + exec argv with in/out as stdin/stdout and err as stderr. */
static int
spawn(const char *const *argv, int in, int out, int err, pid_t *pid)
{
	pid_t p = fork();

	if (p < 0)
		return zk_fail_errno(ZK_ESYS, "fork");
	if (p == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(127);
		/* Every other fd of ours is O_CLOEXEC. */
		execve(argv[0], (char *const *)argv, child_env());
		if (strchr(argv[0], '/') == NULL)
			execvpe(argv[0], (char *const *)argv, child_env());
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
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
	r = spawn(argv, in, out, e->errfd, &e->pid);
	close(null);
	if (r == 0)
		log_verbose("started %s %s (pid %d)", argv[0], argv[1],
			    (int)e->pid);
	return r;
}

static int
wait_child(pid_t pid, int *status)
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

	if (e->pid <= 0)
		return 0;
	if (!e->finished) {
		if ((r = wait_child(e->pid, &st)) < 0)
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
	if (e->pid > 0 && !e->finished)
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
zfs_capture(const char *const *argv, char *out, size_t cap)
{
	int p[2], null = -1, r;
	size_t got = 0;
	pid_t pid = -1;
	int st;

	out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0)
		return zk_fail_errno(ZK_ESYS, "pipe");
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		close(p[0]);
		close(p[1]);
		return zk_fail_errno(ZK_ESYS, "/dev/null");
	}
	r = spawn(argv, null, p[1], null, &pid);
	close(p[1]);
	close(null);
	if (r < 0) {
		close(p[0]);
		return r;
	}
	for (;;) {
		char tmp[4096];
		ssize_t n = read(p[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && got + 1 < cap; i++)
			out[got++] = tmp[i];
	}
	out[got] = '\0';
	close(p[0]);
	if ((r = wait_child(pid, &st)) < 0)
		return r;
	/* Not recorded with zk_fail: callers probe things that may
	 * legitimately be absent (a target that does not exist yet). */
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}
