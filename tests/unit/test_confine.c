/*
 * test_confine.c - os_confine(), the network process's syscall filter:
 * what it must refuse (a process taken over through a parser bug starts
 * nothing, signals nothing, uses no x32 syscall numbers) and what it
 * must leave alone (I/O).  Each check runs in a child that confines
 * itself and reports by its exit status.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zktls.h"
#include "t.h"

/* In a confined child: 0 when call() fails with EPERM, 1 when it works,
 * 2 when it fails otherwise, 3 when confining failed. */
static int
confined(long (*call)(void))
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		long r;

		if (os_confine() < 0)
			_exit(3);
		errno = 0;
		r = call();
		_exit(r >= 0 ? 1 : errno == EPERM ? 0 : 2);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static long do_kill(void) { return kill(getppid(), 0); }
static long do_tgkill(void) { return syscall(SYS_tgkill, getppid(), getppid(), 0); }
static long do_fork(void) { return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }
static long do_exec(void)
{
	char *const argv[] = { "/bin/true", NULL };
	return execve("/bin/true", argv, argv + 1);
}
static long do_setuid(void) { return setuid(0); }
#if defined(__x86_64__)
static long do_x32(void) { return syscall(0x40000000L | 39 /* getpid */); }
#endif
static long do_write(void) { return write(-1, "", 0) < 0 && errno == EBADF ? 0 : -1; }
static long do_getpid(void) { return getpid(); }

int
main(void)
{
	CHECK(confined(do_kill) == 0);
	CHECK(confined(do_tgkill) == 0);
	CHECK(confined(do_fork) == 0);
	CHECK(confined(do_exec) == 0);
	CHECK(confined(do_setuid) == 0);
#if defined(__x86_64__)
	CHECK(confined(do_x32) == 0);
#endif
	CHECK(confined(do_write) == 1);
	CHECK(confined(do_getpid) == 1);
	T_DONE("test_confine");
}
