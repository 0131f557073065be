/*
 * os_none.c - process hardening where zktls has no port: core dumps are
 * switched off through the portable rlimit; ptrace protection needs the
 * OS's own call (procctl on FreeBSD) and is missing here.
 */
#include <errno.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "zktls.h"

int
os_harden(void)
{
	struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) < 0)
		return zk_fail_errno(ZK_ESYS, "cannot disable core dumps");
	return 0;
}

int
os_proc_read(pid_t pid, uint64_t *bytes)
{
	(void)pid;
	*bytes = 0;
	return -1;
}

int
os_proc_busy(pid_t pid)
{
	(void)pid;
	return 0;
}

void
os_close_from(int lo)
{
	long max = sysconf(_SC_OPEN_MAX);

	for (int fd = lo; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
		(void)close(fd);
}

int
os_confine(void)
{
	return 0; /* no portable no_new_privs or syscall filter */
}

int
os_pace(int fd, uint64_t bytes_per_s)
{
	(void)fd;
	(void)bytes_per_s;
	return zk_fail(ZK_EUSAGE, "pacing is not supported on this OS");
}

ssize_t
os_writev_now(int fd, const struct iovec *v, int n)
{
	(void)fd;
	(void)v;
	(void)n;
	errno = EOPNOTSUPP; /* a blocking write in the pipeline's thread */
	return -1;
}

bool
os_cpu_aes(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("aes");
#else
	return true;
#endif
}
