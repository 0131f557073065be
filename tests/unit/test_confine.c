/*
 * test_confine.c - os_confine(), the network process's syscall filter:
 * what it must refuse (a process taken over through a parser bug starts
 * nothing, signals nothing, reaches into no other process, uses no x32
 * syscall numbers) and what it must leave alone (I/O, its own limits and
 * fds).  Each check runs in a child that confines itself and reports by
 * its exit status: a refused call fails with EPERM and the child lives
 * on.  Each denied call is made, through syscall(2), with arguments that
 * would succeed or fail otherwise than EPERM if it were let through,
 * aimed at the test process (the child's parent) where it takes one.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
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
/* a thread is let through only with CLONE_THREAD and no namespace flag
 * (without the filter this one fails with EINVAL: no CLONE_SIGHAND) */
static long do_clone_ns(void) { return syscall(SYS_clone, CLONE_THREAD | CLONE_NEWUSER, 0, 0, 0, 0); }
static void *noop(void *a) { return a; }
/* the user plane's writer thread */
static long
do_thread(void)
{
	pthread_t t;
	int e = pthread_create(&t, NULL, noop, NULL);

	if (e == 0)
		e = pthread_join(t, NULL);
	errno = e;
	return e == 0 ? 0 : -1;
}
#ifdef SYS_clone3
/* clone3 answers ENOSYS (1 here), so that the C library uses clone */
static long
do_clone3(void)
{
	long r = syscall(SYS_clone3, NULL, 0);
	return r < 0 && errno == ENOSYS ? 0 : -1;
}
#endif
static long do_exec(void)
{
	char *const argv[] = { "/bin/true", NULL };
	return execve("/bin/true", argv, argv + 1);
}
static long do_setuid(void) { return setuid(0); }

/* signals */
static long
do_sigqueue(void)
{
	siginfo_t si = { .si_code = SI_QUEUE, .si_pid = getpid(),
			 .si_uid = getuid() };
	return syscall(SYS_rt_sigqueueinfo, getppid(), 0, &si);
}
static long
do_tgsigqueue(void)
{
	siginfo_t si = { .si_code = SI_QUEUE, .si_pid = getpid(),
			 .si_uid = getuid() };
	return syscall(SYS_rt_tgsigqueueinfo, getppid(), getppid(), 0, &si);
}
static long do_tkill(void) { return syscall(SYS_tkill, getppid(), 0); }
#ifdef SYS_pidfd_send_signal
static long do_pidfd_send(void) { return syscall(SYS_pidfd_send_signal, 0, 0, NULL, 0); }
#endif
/* an fd whose SIGIO would go to the parent */
static int sock(void)
{
	int sp[2];
	return socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 ? -1 : sp[0];
}
static long do_setown(void) { return syscall(SYS_fcntl, sock(), F_SETOWN, getppid()); }
static long do_setsig(void) { return syscall(SYS_fcntl, sock(), F_SETSIG, SIGKILL); }
static long
do_setown_ex(void)
{
	struct f_owner_ex o = { F_OWNER_PID, getppid() };
	return syscall(SYS_fcntl, sock(), F_SETOWN_EX, &o);
}
static long
do_fiosetown(void)
{
	int pid = getppid();
	return syscall(SYS_ioctl, sock(), FIOSETOWN, &pid);
}
static long
do_siocspgrp(void)
{
	int pid = getppid();
	return syscall(SYS_ioctl, sock(), SIOCSPGRP, &pid);
}

/* other processes */
static long do_ptrace(void) { return syscall(SYS_ptrace, PTRACE_GETEVENTMSG, getppid(), NULL, NULL); }
static long
do_vm_writev(void)
{
	char b = 0;
	struct iovec l = { &b, 1 }, r = { &b, 1 };
	return syscall(SYS_process_vm_writev, getpid(), &l, 1, &r, 1, 0);
}
static long
do_vm_readv(void)
{
	char b = 0, c = 0;
	struct iovec l = { &b, 1 }, r = { &c, 1 };
	return syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0);
}
#ifdef SYS_pidfd_open
static long do_pidfd_open(void) { return syscall(SYS_pidfd_open, getppid(), 0); }
#endif
#ifdef SYS_pidfd_getfd
static long do_pidfd_getfd(void) { return syscall(SYS_pidfd_getfd, 0, 0, 0); }
#endif
#ifdef SYS_process_madvise
static long do_process_madvise(void) { return syscall(SYS_process_madvise, 0, NULL, 0, 0, 0); }
#endif
#ifdef SYS_process_mrelease
static long do_process_mrelease(void) { return syscall(SYS_process_mrelease, 0, 0); }
#endif
static long do_kcmp(void) { return syscall(SYS_kcmp, getpid(), getppid(), 0 /* KCMP_FILE */, 0, 0); }
static long
do_robust(void)
{
	void *head;
	size_t len;
	return syscall(SYS_get_robust_list, getppid(), &head, &len);
}
static long do_move_pages(void) { return syscall(SYS_move_pages, getppid(), 0, NULL, NULL, NULL, 0); }
static long do_migrate_pages(void) { return syscall(SYS_migrate_pages, getppid(), 0, NULL, NULL); }
static long
do_prlimit_other(void)
{
	struct rlimit r;
	return syscall(SYS_prlimit64, getppid(), RLIMIT_NOFILE, NULL, &r);
}
static long do_setpriority(void) { return syscall(SYS_setpriority, PRIO_PROCESS, getppid(), 19); }
static long do_ioprio(void) { return syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, getppid(), 0); }
static long
do_affinity(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	return syscall(SYS_sched_setaffinity, getppid(), sizeof(set), &set);
}
static long
do_setscheduler(void)
{
	struct sched_param p = { 0 };
	return syscall(SYS_sched_setscheduler, getppid(), SCHED_BATCH, &p);
}
static long
do_setparam(void)
{
	struct sched_param p = { 0 };
	return syscall(SYS_sched_setparam, getppid(), &p);
}
static long do_setattr(void) { return syscall(SYS_sched_setattr, getppid(), NULL, 0); }
#ifdef SYS_io_uring_setup
static long do_io_uring(void) { return syscall(SYS_io_uring_setup, 1, NULL); }
#endif

/* what it must keep */
static long
do_getrlimit(void)
{
	struct rlimit r;
	return getrlimit(RLIMIT_NOFILE, &r);
}
static long do_getfl(void) { return fcntl(sock(), F_GETFL); }
static long
do_fionread(void)
{
	int n;
	return ioctl(sock(), FIONREAD, &n);
}
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
	CHECK(confined(do_clone_ns) == 0);
	CHECK(confined(do_thread) == 1);
#ifdef SYS_clone3
	CHECK(confined(do_clone3) == 1);
#endif
	CHECK(confined(do_exec) == 0);
	CHECK(confined(do_setuid) == 0);
	/* signals, by every call that sends one */
	CHECK(confined(do_sigqueue) == 0);
	CHECK(confined(do_tgsigqueue) == 0);
	CHECK(confined(do_tkill) == 0);
#ifdef SYS_pidfd_send_signal
	CHECK(confined(do_pidfd_send) == 0);
#endif
	CHECK(confined(do_setown) == 0);
	CHECK(confined(do_setsig) == 0);
	CHECK(confined(do_setown_ex) == 0);
	CHECK(confined(do_fiosetown) == 0);
	CHECK(confined(do_siocspgrp) == 0);
	/* other processes */
	CHECK(confined(do_ptrace) == 0);
	CHECK(confined(do_vm_writev) == 0);
	CHECK(confined(do_vm_readv) == 0);
#ifdef SYS_pidfd_open
	CHECK(confined(do_pidfd_open) == 0);
#endif
#ifdef SYS_pidfd_getfd
	CHECK(confined(do_pidfd_getfd) == 0);
#endif
#ifdef SYS_process_madvise
	CHECK(confined(do_process_madvise) == 0);
#endif
#ifdef SYS_process_mrelease
	CHECK(confined(do_process_mrelease) == 0);
#endif
	CHECK(confined(do_kcmp) == 0);
	CHECK(confined(do_robust) == 0);
	CHECK(confined(do_move_pages) == 0);
	CHECK(confined(do_migrate_pages) == 0);
	CHECK(confined(do_prlimit_other) == 0);
	CHECK(confined(do_setpriority) == 0);
	CHECK(confined(do_ioprio) == 0);
	CHECK(confined(do_affinity) == 0);
	CHECK(confined(do_setscheduler) == 0);
	CHECK(confined(do_setparam) == 0);
	CHECK(confined(do_setattr) == 0);
#ifdef SYS_io_uring_setup
	CHECK(confined(do_io_uring) == 0);
#endif
	/* its own limits and fds */
	CHECK(confined(do_getrlimit) == 1);
	CHECK(confined(do_getfl) == 1);
	CHECK(confined(do_fionread) == 1);
#if defined(__x86_64__)
	CHECK(confined(do_x32) == 0);
#endif
	CHECK(confined(do_write) == 1);
	CHECK(confined(do_getpid) == 1);
	T_DONE("test_confine");
}
