/*
 * ktls_none.c - kernel TLS for systems zktls has no port for: the probe
 * says so, the kernel planes do not exist, and sessions stay on the user
 * plane (zktls's own record layer).
 */
#include <errno.h>
#include <stdio.h>

#include "ktls.h"

static const char none[] = "kernel TLS support not built for this OS";

int ktls_probe(char *why, size_t whylen)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", none);
	return -ZK_ENOKTLS;
}

int ktls_switch(int fd, const struct tls_keys *k)
{
	(void)fd;
	(void)k;
	return zk_fail(ZK_ENOKTLS, "%s", none);
}

int ktls_rekey(int fd, int tx, const struct tls_dir_keys *k)
{
	(void)fd;
	(void)tx;
	(void)k;
	errno = ENOSYS;
	return zk_fail(ZK_ENOKTLS, "%s", none);
}

int ktls_can_rekey(void)
{
	return -1;
}

int ktls_tx_records(int fd, uint64_t *n)
{
	(void)fd;
	*n = 0;
	return -1;
}

int ktls_rx_records(int fd, uint64_t *n)
{
	(void)fd;
	*n = 0;
	return -1;
}

int ktls_rx_balance(int fd, int64_t *bal)
{
	(void)fd;
	*bal = 0;
	return -1;
}

int ktls_rx_record_ready(int fd)
{
	(void)fd;
	return 0;
}

int ktls_send_control(int fd, uint8_t type, const void *data, size_t len)
{
	(void)fd;
	(void)type;
	(void)data;
	(void)len;
	return zk_fail(ZK_ENOKTLS, "%s", none);
}

void ktls_send_fatal(int fd, uint8_t desc)
{
	(void)fd;
	(void)desc;
}

ssize_t ktls_recv_once(int fd, void *buf, size_t len, int flags, int *type)
{
	(void)fd;
	(void)buf;
	(void)len;
	(void)flags;
	*type = -1;
	errno = ENOSYS;
	return -1;
}

int ktls_sock_fail(int e, const char *what)
{
	errno = e;
	return zk_fail_errno(ZK_ENET, "%s", what);
}

int ktls_tcp_progress(int fd, int sending, uint64_t *moved, int *queued,
		      int *closed)
{
	(void)fd;
	(void)sending;
	(void)moved;
	(void)queued;
	(void)closed;
	return -1;
}

ssize_t ktls_splice_recv(int sock, int pipe_w, size_t len, int nonblock)
{
	(void)sock;
	(void)pipe_w;
	(void)len;
	(void)nonblock;
	errno = ENOSYS;
	return -1;
}

ssize_t ktls_splice_send(int fd, int sock, size_t len, int file)
{
	(void)fd;
	(void)sock;
	(void)len;
	(void)file;
	errno = ENOSYS;
	return -1;
}

ssize_t ktls_pipe_move(int pipe_r, int fd, size_t len)
{
	(void)pipe_r;
	(void)fd;
	(void)len;
	errno = ENOSYS;
	return -1;
}

long ktls_pipe_grow(int pipe_fd, long size)
{
	(void)pipe_fd;
	(void)size;
	errno = ENOSYS;
	return -1;
}

const struct plane *const plane_rw = NULL;
const struct plane *const plane_splice = NULL;
const struct plane *const plane_direct = NULL;
