/*
 * ktls_none.c - kernel TLS for systems zktls has no port for: the probe
 * says so, the kernel planes do not exist, and the session stays on the
 * user plane (OpenSSL).
 */
#include <stdio.h>

#include "zktls.h"

int ktls_probe(char *why, size_t whylen)
{
	if (why && whylen)
		snprintf(why, whylen, "kernel TLS support not built for this OS");
	return -ZK_ENOKTLS;
}

int ktls_switch(int fd, const struct tls_keys *k)
{
	(void)fd;
	(void)k;
	return zk_fail(ZK_ENOKTLS, "kernel TLS support not built for this OS");
}

int ktls_send_control(int fd, uint8_t type, const void *data, size_t len)
{
	(void)fd;
	(void)type;
	(void)data;
	(void)len;
	return zk_fail(ZK_ENOKTLS, "kernel TLS support not built for this OS");
}

ssize_t ktls_recv(struct chan *c, void *buf, size_t len)
{
	(void)c;
	(void)buf;
	(void)len;
	return zk_fail(ZK_ENOKTLS, "kernel TLS support not built for this OS");
}

const struct plane *const plane_rw = NULL;
const struct plane *const plane_splice = NULL;
const struct plane *const plane_direct = NULL;
