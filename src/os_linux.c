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
#include <sys/prctl.h>
#include <sys/resource.h>

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
