/*
 * os_none.c - process hardening where zktls has no port: core dumps are
 * switched off through the portable rlimit; ptrace protection needs the
 * OS's own call (procctl on FreeBSD) and is missing here.
 */
#include <sys/resource.h>

#include "zktls.h"

int
os_harden(void)
{
	struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) < 0)
		return zk_fail_errno(ZK_ESYS, "cannot disable core dumps");
	return 0;
}
