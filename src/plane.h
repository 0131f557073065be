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

/*
 * The traffic secrets rw and splice keep where the kernel can change keys
 * (Linux 6.14 and later; c->kern, set by chan_switch()): our KeyUpdate
 * goes out as a handshake record before the sending key's record limit
 * and TLS_TX is set again; the peer's KeyUpdate is followed with a new
 * TLS_RX.  The kernel counts the records (ktls_tx_records()).
 */
struct kern_keys {
	struct tls_keys k;      /* the current secrets (k.*.seq unused) */
	uint64_t limit;         /* records per sending key */
	uint64_t guess;         /* records sent, where the kernel does not
				 * say: an upper bound from the byte counts */
	int peer_follows;       /* the peer follows KeyUpdate (its caps) */
	int answer;             /* the peer asked for our KeyUpdate */
	int open;               /* a record may be open (SPLICE_F_MORE, a
				 * short send) */
	int warned;             /* past the limit, the peer cannot follow */
	unsigned sent, received;
};
/* kplane_control_record(): the peer's KeyUpdate was followed, read on. */
#define KPLANE_KEYS_FOLLOWED 1
/* Before sending records carrying up to *len bytes: our KeyUpdate first
 * when they could take the sending key past its limit, or when the peer
 * asked for one; *len is cut to what one key may still carry.  0 or a
 * negative ZK_E*. */
int kplane_tx_keys(struct chan *c, size_t *len);
/* A send ended: may it have left its last record open? */
void kplane_tx_sent(struct chan *c, int open);

/* The failure texts every kernel plane uses. */
int kplane_timeout_fail(const struct chan *c);
/* The receiver spoke (its RESULT) while we were still sending: -ZK_EEARLY,
 * the session clears this text and reads RESULT. */
int kplane_early_fail(void);

/* Receiving (chan.rx, counted from chan_switch()): sample the level
 * between records where zktls does not read every byte itself (more: the
 * plaintext zfs read, read before the call); and once the socket has been
 * silent, does kernel TLS hold part of a record?  (1 yes; 0 no, or it
 * cannot tell) */
void kplane_rx_sample(struct rx_watch *w, int fd, uint64_t more);
int kplane_rx_partial(struct rx_watch *w, int fd, uint64_t more);
/* The same with the balance (ktls_rx_balance()) read by the caller: bal
 * for a sample; bal1 and bal2 read one after the other for the question,
 * which needs them equal. */
void rx_watch_sample(struct rx_watch *w, int64_t bal, uint64_t more);
int rx_watch_partial(struct rx_watch *w, int64_t bal1, int64_t bal2,
		     uint64_t more);
/* Wait up to c->timeout_ms for the socket to become readable (or fail): a
 * silent peer while receiving the stream is waited for as long as no part
 * of a record is here (chan.quiet_ok). */
int kplane_wait_peer(struct chan *c);
/* Something to read (or an error) on the socket right now? */
int kplane_peer_spoke(int fd);
/* Wait until the producer fd is readable; -ZK_EEARLY when the receiver
 * spoke or the connection broke first.  No timeout: a producer may pause. */
int kplane_wait_producer(struct chan *c, int fd);

/* Application data with control records handled: the byte count, 0 at the
 * peer's close_notify, negative for an alert, a handshake message, EOF. */
ssize_t kplane_recv(struct chan *c, void *buf, size_t len);
/* A non-data record arrived; body holds its first n bytes (of len).  0 at
 * close_notify, KPLANE_KEYS_FOLLOWED after the peer's KeyUpdate, else a
 * negative ZK_E*. */
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
