/*
 * plane.h - what the kernel planes share (plane_kernel.c), for
 * plane_rw.c, plane_splice.c and plane_direct.c.  The planes' common
 * interface (struct plane, struct chan, struct xfer) and the endpoint
 * API are in zktls.h.
 */
#ifndef ZKTLS_PLANE_H
#define ZKTLS_PLANE_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "zktls.h"

/* The failure texts every kernel plane uses. */
int kplane_timeout_fail(const struct chan *c);
/* The receiver spoke (its RESULT) while we were still sending: -ZK_EEARLY,
 * the session clears this text and reads RESULT. */
int kplane_early_fail(void);

/* Wait up to c->timeout_ms for the socket to become readable (or fail). */
int kplane_wait_peer(struct chan *c);
/* Something to read (or an error) on the socket right now? */
int kplane_peer_spoke(int fd);
/* Wait until the producer fd is readable; -ZK_EEARLY when the receiver
 * spoke or the connection broke first.  No timeout: a producer may pause. */
int kplane_wait_producer(struct chan *c, int fd);

/* Application data with control records handled: the byte count, 0 at the
 * peer's close_notify, negative for an alert, a handshake message, EOF. */
ssize_t kplane_recv(struct chan *c, void *buf, size_t len);
/* A non-data record arrived; body holds its first n bytes (of len). */
ssize_t kplane_control_record(struct chan *c, int type, const uint8_t *body,
			      size_t n, size_t len);
/* Send all of buf as application data (early: stop with -ZK_EEARLY when
 * the receiver speaks). */
int kplane_send(struct chan *c, const void *buf, size_t len, int early);
/* Write all of buf to the local consumer. */
int kplane_out_write(int fd, const void *buf, size_t len);

/* Plane operations common to rw, splice and direct. */
ssize_t kplane_read(struct chan *c, void *buf, size_t len);
int kplane_write(struct chan *c, const void *buf, size_t len);
int kplane_close_notify(struct chan *c);
void kplane_abort(struct chan *c);
/* The rw plane's loops, also the fallback of splice: producer fd ->
 * socket until the producer's EOF; socket -> consumer fd until
 * close_notify. */
int kplane_copy_out(struct chan *c, int fd, struct xfer *x);
int kplane_copy_in(struct chan *c, int fd, struct xfer *x);

#endif
