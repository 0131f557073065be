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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
 * would: running programs, tracing, mounting, modules, namespaces,
 * credential changes, BPF.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
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

int
os_confine(void)
{
#ifdef SECCOMP_ARCH
	static const int deny[] = {
		SYS_execve, SYS_execveat, SYS_ptrace, SYS_mount, SYS_umount2,
		SYS_pivot_root, SYS_chroot, SYS_init_module,
		SYS_finit_module, SYS_delete_module, SYS_kexec_load,
		SYS_kexec_file_load, SYS_bpf, SYS_setuid, SYS_setgid,
		SYS_setreuid, SYS_setregid, SYS_setresuid, SYS_setresgid,
		SYS_setgroups, SYS_process_vm_readv, SYS_process_vm_writev,
		SYS_open_by_handle_at, SYS_perf_event_open, SYS_userfaultfd,
		SYS_keyctl, SYS_add_key, SYS_request_key, SYS_unshare,
		SYS_setns,
		/* it starts no process or thread (the monitor runs zfs), and
		 * signals none: all network processes share one uid */
		SYS_clone, SYS_clone3,
#ifdef SYS_fork
		SYS_fork, SYS_vfork,
#endif
		SYS_kill, SYS_tkill, SYS_tgkill,
	};
	enum { N = sizeof(deny) / sizeof(deny[0]) };
	struct sock_filter f[5 + N + 2];
	struct sock_fprog prog = { .len = 0, .filter = f };
	unsigned k = 0;

	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		SECCOMP_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		SECCOMP_RET_KILL_PROCESS);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
	/* x32 numbers (bit 30) pass the arch check: refuse them all (the
	 * EPERM return after the list) */
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
		0x40000000u, (unsigned char)(N + 1), 0);
#endif
	for (unsigned i = 0; i < N; i++)
		/* a match jumps to the EPERM return after the list */
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			(unsigned)deny[i], (unsigned char)(N - i), 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	prog.len = (unsigned short)k;
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return zk_fail_errno(ZK_ESYS, "PR_SET_NO_NEW_PRIVS");
#ifdef SECCOMP_ARCH
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return zk_fail_errno(ZK_ESYS, "seccomp");
#endif
	return 0;
}
