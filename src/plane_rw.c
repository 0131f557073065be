/*
 * plane_rw.c - the "rw" plane: the kernel encrypts and decrypts, zktls
 * read()s and write()s the plaintext between the socket and the local
 * producer or consumer (one userspace copy, no userspace crypto).
 */
#include <unistd.h>

#include "plane.h"

static int rw_send(struct chan *c, struct endpoint *src, struct xfer *x)
{
	int fd, own, r;

	r = endpoint_fd(src, 1, &fd, &own);
	if (r < 0)
		return r;
	r = kplane_copy_out(c, fd, x);
	if (own)
		close(fd);
	return r;
}

static int rw_recv(struct chan *c, struct endpoint *dst, struct xfer *x)
{
	int fd, own, r;

	r = endpoint_fd(dst, 0, &fd, &own);
	if (r < 0)
		return r;
	r = kplane_copy_in(c, fd, x);
	if (own)
		close(fd);
	return r;
}

static const struct plane rw = {
	.name = "rw",
	.kernel = 1,
	.read = kplane_read,
	.write = kplane_write,
	.send_stream = rw_send,
	.recv_stream = rw_recv,
	.close_notify = kplane_close_notify,
	.abort = kplane_abort,
};

const struct plane *const plane_rw = &rw;
