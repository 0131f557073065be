/*
 * child.c - the programs zktls runs (zfs): fork and exec from an
 * argument vector (never a shell) with a fixed minimal environment,
 * default signals, "/" as the working directory and an explicit fd map;
 * and their reaping.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zktls.h"

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

int
child_wait(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return zk_fail_errno(ZK_ESYS, "waitpid");
	}
	return 0;
}
