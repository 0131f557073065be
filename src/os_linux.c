/*
 * os_linux.c - process hardening that only Linux spells this way.
 *
 * zktls holds a private key and, for a moment, TLS traffic secrets in its
 * memory.  A core dump or a debugger attached by another process of the
 * same user would hand them out, so the process is made non-dumpable for
 * its whole life: no core file, no ptrace attach without CAP_SYS_PTRACE,
 * and /proc/PID files that expose memory owned by root.  The children it
 * execs (zfs) start dumpable again: they never see the keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zktls.h"

int
os_harden(void)
{
	struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) < 0)
		return zk_fail_errno(ZK_ESYS, "cannot disable core dumps");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return zk_fail_errno(ZK_ESYS, "cannot make the process "
				     "non-dumpable");
	return 0;
}

int
os_proc_read(pid_t pid, uint64_t *bytes)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	/* /proc/PID/io's rchar: read(2) and the kernel's reads on the
	 * process's behalf (zfs receive reads its stream in the kernel) */
	(void)snprintf(path, sizeof(path), "/proc/%ld/io", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (strncmp(buf, "rchar: ", 7) != 0)
		return -1;
	errno = 0;
	*bytes = strtoull(buf + 7, &p, 10);
	return errno != 0 || p == buf + 7 ? -1 : 0;
}

/*
 * The network-facing process of serve, once it is no longer root: no new
 * privileges ever (no setuid programs, no file capabilities), and a
 * seccomp filter that refuses (EPERM) what it never needs and an attacker
 * would: running programs, starting processes, tracing,
 * mounting, modules, namespaces, credential changes, BPF, io_uring (whose
 * operations the filter would not see), and every way to reach another
 * process: all network processes share one uid, so the kernel's own
 * checks let one signal, trace or read any other.  Signals: kill, tkill,
 * tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal, and the
 * owner of an fd's SIGIO (fcntl F_SETOWN, F_SETOWN_EX, F_SETSIG, ioctl
 * FIOSETOWN, SIOCSPGRP).  Access: ptrace, process_vm_readv/writev,
 * pidfd_open, pidfd_getfd, process_madvise, process_mrelease, kcmp,
 * get_robust_list, move_pages, migrate_pages, prlimit64 on another
 * process (on itself, as getrlimit does, it passes), scheduling and I/O
 * priorities.  Threads of its own it may start (the user plane writes
 * from one, upipe.c): clone only with CLONE_THREAD and none of the
 * namespace, tracing, vfork, parent or pidfd flags; clone3, whose flags
 * lie behind a pointer the filter cannot read, answers ENOSYS, and the C
 * library falls back to clone.
 *
 * A denylist, not an allowlist: this process runs OpenSSL, the C library
 * and (in tests) the sanitizers' runtimes, and on the kernel planes
 * splice, sendfile and TLS socket options; which syscalls those make
 * changes with their versions (getrandom, futex, the mmap family, rseq,
 * newfstatat or statx, clock_gettime outside the vDSO, ...), and a call
 * an allowlist forgot fails a transfer on some distribution and not on
 * another.  What it must never do is a short list that changes only when
 * the kernel adds a syscall; test_confine tries each of them.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#endif

int
os_pace(int fd, uint64_t bytes_per_s)
{
	/* fq or the TCP stack's own pacing enforces it (Linux >= 4.13). */
	unsigned long long rate = bytes_per_s;

	if (setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate,
		       sizeof(rate)) < 0)
		return zk_fail_errno(ZK_ESYS, "SO_MAX_PACING_RATE");
	return 0;
}

ssize_t
os_writev_now(int fd, const struct iovec *v, int n)
{
	/* Pipes and /dev/null take RWF_NOWAIT (Linux >= 5.x); a file system
	 * that does not, or an older kernel, says EOPNOTSUPP, EINVAL or
	 * ENOSYS, and a sandbox that filters pwritev2 out EPERM: all mean
	 * "cannot" (a plain writev then says what a real error is). */
	ssize_t r = pwritev2(fd, v, n, -1, RWF_NOWAIT);

	if (r < 0 && (errno == EINVAL || errno == ENOSYS || errno == EPERM))
		errno = EOPNOTSUPP;
	return r;
}

int
os_proc_busy(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	/* /proc/PID/stat: "PID (COMM) STATE ...", COMM may hold ')' */
	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	/* R running, D uninterruptible (I/O, a full queue to its writer
	 * thread), T/t stopped; S (a socket read among others) is not */
	return strchr("RDTt", p[2]) != NULL && p[2] != '\0';
}

void
os_close_from(int lo)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lo, ~0u, 0u) == 0)
		return;
#endif
	for (int fd = lo; fd < 65536; fd++)
		(void)close(fd);
}

#ifdef SECCOMP_ARCH
/* The filter is built in one pass; jumps to the EPERM return at its end
 * are patched once its place is known. */
struct bpf {
	struct sock_filter f[160];
	unsigned k;
	unsigned fix[96];        /* instructions whose jt/jf go to EPERM */
	unsigned char fix_jt[96];
	unsigned nfix;
};

static void
emit(struct bpf *b, struct sock_filter ins)
{
	if (b->k < sizeof(b->f) / sizeof(b->f[0]))
		b->f[b->k] = ins;
	b->k++;
}

/* if A == v: EPERM (else on) */
static void
deny_eq(struct bpf *b, uint32_t v)
{
	if (b->nfix < sizeof(b->fix) / sizeof(b->fix[0])) {
		b->fix[b->nfix] = b->k;
		b->fix_jt[b->nfix++] = 1;
	}
	emit(b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, v, 0,
					     0));
}

/* if A != v: EPERM (else on) */
static void
deny_ne(struct bpf *b, uint32_t v)
{
	if (b->nfix < sizeof(b->fix) / sizeof(b->fix[0])) {
		b->fix[b->nfix] = b->k;
		b->fix_jt[b->nfix++] = 0;
	}
	emit(b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, v, 0,
					     0));
}

/* if A & v (set) or !(A & v) (!set): EPERM (else on) */
static void
deny_bits(struct bpf *b, uint32_t v, int set)
{
	if (b->nfix < sizeof(b->fix) / sizeof(b->fix[0])) {
		b->fix[b->nfix] = b->k;
		b->fix_jt[b->nfix++] = (unsigned char)(set != 0);
	}
	emit(b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, v, 0,
					     0));
}

/* A = the low (hi: high) 32 bits of syscall argument i */
static void
load_arg(struct bpf *b, int i, int hi)
{
	emit(b, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		offsetof(struct seccomp_data, args[i]) +
		((hi != 0) == (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
			 ? 4 : 0)));
}

static void
load_nr(struct bpf *b)
{
	emit(b, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		offsetof(struct seccomp_data, nr)));
}

static void
ret(struct bpf *b, uint32_t v)
{
	emit(b, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, v));
}

/* if nr == v, run the block that follows (which returns), else skip its
 * len instructions */
static void
if_nr(struct bpf *b, uint32_t v, unsigned len)
{
	emit(b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, v, 0,
					     (unsigned char)len));
}

#endif

int
os_confine(void)
{
#ifdef SECCOMP_ARCH
	static const int deny[] = {
		SYS_execve, SYS_execveat, SYS_mount, SYS_umount2,
		SYS_pivot_root, SYS_chroot, SYS_init_module,
		SYS_finit_module, SYS_delete_module, SYS_kexec_load,
		SYS_kexec_file_load, SYS_bpf, SYS_setuid, SYS_setgid,
		SYS_setreuid, SYS_setregid, SYS_setresuid, SYS_setresgid,
		SYS_setgroups, SYS_open_by_handle_at, SYS_perf_event_open,
		SYS_userfaultfd, SYS_keyctl, SYS_add_key, SYS_request_key,
		SYS_unshare, SYS_setns,
		/* it starts no process (the monitor runs zfs); clone: below */
#ifdef SYS_fork
		SYS_fork, SYS_vfork,
#endif
		/* io_uring's operations pass by this filter */
#ifdef SYS_io_uring_setup
		SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
#endif
		/* signals to anyone */
		SYS_kill, SYS_tkill, SYS_tgkill, SYS_rt_sigqueueinfo,
		SYS_rt_tgsigqueueinfo,
#ifdef SYS_pidfd_send_signal
		SYS_pidfd_send_signal,
#endif
		/* other processes' memory, files and scheduling */
		SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev,
		SYS_kcmp, SYS_get_robust_list, SYS_move_pages,
		SYS_migrate_pages, SYS_setpriority, SYS_ioprio_set,
		SYS_sched_setaffinity, SYS_sched_setscheduler,
		SYS_sched_setparam, SYS_sched_setattr,
#ifdef SYS_pidfd_open
		SYS_pidfd_open,
#endif
#ifdef SYS_pidfd_getfd
		SYS_pidfd_getfd,
#endif
#ifdef SYS_process_madvise
		SYS_process_madvise,
#endif
#ifdef SYS_process_mrelease
		SYS_process_mrelease,
#endif
	};
	static struct bpf b;
	struct sock_fprog prog;

	memset(&b, 0, sizeof(b));
	emit(&b, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		offsetof(struct seccomp_data, arch)));
	emit(&b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		SECCOMP_ARCH, 1, 0));
	ret(&b, SECCOMP_RET_KILL_PROCESS);
	load_nr(&b);
#if defined(__x86_64__)
	/* x32 numbers (bit 30) pass the arch check: refuse them all */
	if (b.nfix < sizeof(b.fix) / sizeof(b.fix[0])) {
		b.fix[b.nfix] = b.k;
		b.fix_jt[b.nfix++] = 1;
	}
	emit(&b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
		0x40000000u, 0, 0));
#endif
	for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]); i++)
		deny_eq(&b, (uint32_t)deny[i]);
	/* prlimit64: only on itself (pid 0) */
	if_nr(&b, SYS_prlimit64, 5);
	load_arg(&b, 0, 0);
	deny_ne(&b, 0);
	load_arg(&b, 0, 1);
	deny_ne(&b, 0);
	ret(&b, SECCOMP_RET_ALLOW);
	/* clone: a thread of this process, nothing else (the kernel reads
	 * only the low 32 bits of its flags); clone3: ENOSYS */
	if_nr(&b, SYS_clone, 4);
	load_arg(&b, 0, 0);
	deny_bits(&b, CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
		  CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
		  CLONE_PTRACE | CLONE_UNTRACED | CLONE_VFORK | CLONE_PARENT |
		  CLONE_PIDFD, 1);
	deny_bits(&b, CLONE_THREAD, 0);
	ret(&b, SECCOMP_RET_ALLOW);
#ifdef SYS_clone3
	if_nr(&b, SYS_clone3, 1);
	ret(&b, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
#endif
	/* fcntl, ioctl: no fd's signals sent to another process */
	if_nr(&b, SYS_fcntl, 5);
	load_arg(&b, 1, 0);
	deny_eq(&b, F_SETOWN);
	deny_eq(&b, F_SETSIG);
	deny_eq(&b, F_SETOWN_EX);
	ret(&b, SECCOMP_RET_ALLOW);
	if_nr(&b, SYS_ioctl, 4);
	load_arg(&b, 1, 0);
	deny_eq(&b, FIOSETOWN);
	deny_eq(&b, SIOCSPGRP);
	ret(&b, SECCOMP_RET_ALLOW);
	ret(&b, SECCOMP_RET_ALLOW);
	for (unsigned i = 0; i < b.nfix; i++) {
		unsigned off = b.k - 1 - b.fix[i];
		if (off > 255)
			return zk_fail(ZK_ESYS, "seccomp filter too long");
		if (b.fix_jt[i])
			b.f[b.fix[i]].jt = (unsigned char)off;
		else
			b.f[b.fix[i]].jf = (unsigned char)off;
	}
	ret(&b, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	if (b.k > sizeof(b.f) / sizeof(b.f[0]))
		return zk_fail(ZK_ESYS, "seccomp filter too long");
	prog.len = (unsigned short)b.k;
	prog.filter = b.f;
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return zk_fail_errno(ZK_ESYS, "PR_SET_NO_NEW_PRIVS");
#ifdef SECCOMP_ARCH
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return zk_fail_errno(ZK_ESYS, "seccomp");
#endif
	return 0;
}

bool
os_cpu_aes(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("aes");
#elif defined(__aarch64__) && defined(HWCAP_AES)
	return (getauxval(AT_HWCAP) & HWCAP_AES) != 0;
#else
	return true;
#endif
}
