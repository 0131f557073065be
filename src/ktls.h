/*
 * ktls.h - the kernel TLS interface zktls uses, the same on every OS.
 *
 * One file per OS implements it: ktls_linux.c; ktls_none.c where zktls has
 * no port (the probe says so and only the user plane runs).  A FreeBSD
 * backend would be one more file: TCP_TXTLS_ENABLE/TCP_RXTLS_ENABLE for
 * the keys, the TLS_GET_RECORD cmsg for record types, no splice (the
 * zero-copy calls fail with ENOSYS, and plane_pick() never offers splice).
 * The planes (plane_kernel.c, plane_rw.c, plane_splice.c, plane_direct.c)
 * reach the kernel only through this header.
 */
#ifndef ZKTLS_KTLS_H
#define ZKTLS_KTLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zktls.h"

/* TLS record content types, and the largest TLS 1.3 ciphertext record. */
enum { REC_ALERT = 21, REC_HANDSHAKE = 22, REC_DATA = 23 };
#define TLS_RECORD_MAX (5 + 16384 + 256)

/* Is kernel TLS usable for TLS 1.3 with our three ciphers?  0, or
 * -ZK_ENOKTLS with the reason in why. */
int ktls_probe(char *why, size_t whylen);
/* Program TX and RX on fd from k (does not wipe k).  -ZK_ENOKTLS when
 * refused before any key was set (plain TCP still: the caller may fall
 * back); other failures leave the connection unusable. */
int ktls_switch(int fd, const struct tls_keys *k);

/* Program one direction's next key (TLS 1.3 KeyUpdate; tx: TLS_TX, else
 * TLS_RX) on a socket ktls_switch() set up.  -ZK_ENOKTLS where the kernel
 * cannot change keys (Linux < 6.14: EBUSY), with errno kept. */
int ktls_rekey(int fd, int tx, const struct tls_dir_keys *k);
/* Can this kernel change a kernel-TLS key?  What ktls_probe() found (a
 * second TLS_TX on its first socket; probed now if it has not run): 1
 * yes, 0 no, -1 no kernel TLS at all. */
int ktls_can_rekey(void);
/* Records sent so far under the current TLS_TX key (the kernel's own
 * counter; a record still open is not counted yet).  0, or -1 where the
 * OS does not say. */
int ktls_tx_records(int fd, uint64_t *n);
/* TLS 1.3 frames each record with a 5-byte header, the inner content type
 * and a 16-byte tag (all three ciphers; zktls never pads). */
#define TLS13_FRAMING 22
/* Records decrypted so far under the current TLS_RX key.  0, or -1 where
 * the OS does not say. */
int ktls_rx_records(int fd, uint64_t *n);
/* Receiving: the bytes TCP has handed to kernel TLS, less TLS13_FRAMING
 * for each record decrypted under the current TLS_RX key.  Less the
 * plaintext read, this stays put from record to record and grows by what
 * the kernel holds of a record not yet whole.  0, or -1 where the OS does
 * not say. */
int ktls_rx_balance(int fd, int64_t *bal);
/* Receiving: does a whole record wait to be read (the reader is behind,
 * not the peer)?  1 yes, 0 no or where the OS does not say. */
int ktls_rx_record_ready(int fd);

/* Send one control record (type 21 alert: close_notify = {1, 0}). */
int ktls_send_control(int fd, uint8_t type, const void *data, size_t len);
/* A fatal alert (desc), best effort, never blocking, only once the kernel
 * owns TX (else it would go out in plaintext). */
void ktls_send_fatal(int fd, uint8_t desc);
/* One receive that reports the record's type: the byte count with *type
 * (-1: no record, i.e. TCP's EOF), or -1 with errno. */
ssize_t ktls_recv_once(int fd, void *buf, size_t len, int flags, int *type);
/* Record a failed socket call (errno e, during what) with the text users
 * should see: EBADMSG, resets, timeouts, and Linux's ERESTARTSYS leaking
 * as 512 from a socket a killed process was writing to. */
int ktls_sock_fail(int e, const char *what);

/* How far TCP has moved the connection: bytes the peer acknowledged
 * (sending) or that arrived (receiving), bytes waiting in our queue, and
 * whether TCP has closed it.  -1 where the OS does not say. */
int ktls_tcp_progress(int fd, int sending, uint64_t *moved, int *queued,
		      int *closed);

/* Zero copy (-1 and ENOSYS where the OS has none): socket -> pipe; a pipe
 * (or, file != 0, a regular file) -> socket, leaving the last record open
 * for the close_notify that follows to push; pipe -> pipe or file; and a
 * pipe's capacity. */
ssize_t ktls_splice_recv(int sock, int pipe_w, size_t len, int nonblock);
ssize_t ktls_splice_send(int fd, int sock, size_t len, int file);
ssize_t ktls_pipe_move(int pipe_r, int fd, size_t len);
long ktls_pipe_grow(int pipe_fd, long size);

#endif
