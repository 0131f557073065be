/*
 * err.c - error codes and the text of the first failure.
 *
 * Functions below the front end return a negative ZK_E* code and record one
 * line of text here with zk_fail().  Only the first failure is kept: it is
 * the root cause, and what follows (a closed pipe, a killed child) is noise.
 * This is the only mutable state besides logging; zktls is single-threaded.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zktls.h"

static char errbuf[1024];
static int errcode;

static int
vfail(int code, int err, const char *fmt, va_list ap)
{
	if (errcode == 0) {
		int n = vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
		if (err != 0 && n >= 0 && (size_t)n < sizeof(errbuf))
			snprintf(errbuf + n, sizeof(errbuf) - (size_t)n, ": %s",
				 strerror(err));
		errcode = code;
	}
	return -code;
}

int
zk_fail(int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(code, 0, fmt, ap);
	va_end(ap);
	return r;
}

int
zk_fail_errno(int code, const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(code, err, fmt, ap);
	va_end(ap);
	return r;
}

void
zk_append(const char *fmt, ...)
{
	size_t n = strlen(errbuf);
	va_list ap;

	if (errcode == 0 || n + 1 >= sizeof(errbuf))
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf + n, sizeof(errbuf) - n, fmt, ap);
	va_end(ap);
}

const char *
zk_errmsg(void)
{
	return errcode ? errbuf : "no error";
}

int
zk_errcode(void)
{
	return errcode;
}

void
zk_clear(void)
{
	errcode = 0;
	errbuf[0] = '\0';
}

int
zk_exit_code(int err)
{
	switch (err < 0 ? -err : err) {
	case ZK_OK:
		return EXIT_OK;
	case ZK_EUSAGE:
		return EXIT_USAGE;
	case ZK_ETLS:
	case ZK_EDENIED:
		return EXIT_AUTH;
	case ZK_ENET:
	case ZK_EPROTO:
	case ZK_EPEER:
	case ZK_EEARLY:
		return EXIT_TRANSFER;
	case ZK_EZFS:
	case ZK_EPEERZFS:
		return EXIT_ZFS;
	default:
		return EXIT_SYS;
	}
}

const char *
zk_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case ZK_OK:
		return "ok";
	case ZK_ESYS:
		return "system error";
	case ZK_EUSAGE:
		return "usage or configuration error";
	case ZK_ETLS:
		return "TLS or authentication failure";
	case ZK_EDENIED:
		return "request denied by peer";
	case ZK_ENET:
		return "connection failure";
	case ZK_EPROTO:
		return "protocol violation";
	case ZK_EPEER:
		return "peer reported failure";
	case ZK_EZFS:
		return "zfs failure";
	case ZK_EPEERZFS:
		return "peer's zfs failure";
	case ZK_EEARLY:
		return "receiver ended the stream early";
	case ZK_ENOKTLS:
		return "kernel TLS unavailable";
	default:
		return "unknown error";
	}
}
