/*
 * upipe.h - the user plane's write pipeline: a bounded ring of batch
 * buffers that one thread of its own writes to an fd, in order, while the
 * caller fills the next ones (seals records on the send side, opens them
 * on the receive side).
 *
 * The caller takes the next free slot (upipe_slot), fills its buffer and
 * says what to write (iov, bytes), and queues it (upipe_put).  Nothing
 * but the writes happens in the thread: the record layer, its keys and
 * the error text stay with the caller.  Memory is the ring, allocated
 * once: UPIPE_SLOTS buffers of the size given to upipe_new.
 *
 * The thread takes over only what would wait: while nothing is queued,
 * upipe_put writes the batch in the caller as far as the fd takes it now
 * (a socket with room, a pipe with room, /dev/null) and queues the rest.
 *
 * Endings: upipe_finish waits for every queued batch, upipe_cancel for
 * the batch being written only, a batch the caller began included (the
 * stream then ends at a batch boundary, as it did when the caller wrote
 * each batch itself).  After a failed write the thread stops; the next
 * upipe_slot, upipe_put or the finish reports it, with its errno
 * (upipe_errno).  Where no thread can be started (pthread_create fails),
 * upipe_put writes in the caller, waiting as long as the fd makes it.
 */
#ifndef ZKTLS_UPIPE_H
#define ZKTLS_UPIPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define UPIPE_SLOTS 2

struct upipe_slot {
	uint8_t *buf;           /* the slot's buffer, cap bytes */
	struct iovec *iov;      /* what to write: iov[0, n), in order */
	int n;
	uint64_t bytes;         /* stream bytes it carries (counted when
				 * written) */
};

struct upipe;

/* A ring of slots of cap bytes with up to niov iovecs each, written to
 * fd; NULL after zk_fail(). */
struct upipe *upipe_new(int fd, size_t cap, int niov);
/* The next free slot, waiting for one; NULL after a failed write. */
struct upipe_slot *upipe_slot(struct upipe *p);
/* Queue the slot upipe_slot returned (n == 0: nothing to write); -1
 * after a failed write (in the caller, when there is no thread). */
int upipe_put(struct upipe *p, struct upipe_slot *s);
/* Wait up to ms milliseconds for a free slot (all: for every queued
 * batch to be written): 1 once there is one (all written), 0 when the
 * time ran out first, -1 after a failed write.  The caller's waits for
 * the writer, in slices: between them it can say how far the stream is. */
int upipe_wait(struct upipe *p, int all, int ms);
/* Stream bytes of the batches written so far. */
uint64_t upipe_done(struct upipe *p);
/* The errno of the failed write (0: none). */
int upipe_errno(struct upipe *p);
/* Write everything queued, stop the thread: 0, or -1 after a failed
 * write. */
int upipe_finish(struct upipe *p);
/* Drop what is queued, let the batch being written end, stop the
 * thread. */
void upipe_cancel(struct upipe *p);
/* After upipe_finish or upipe_cancel. */
void upipe_free(struct upipe *p);

#endif
