/*
 * tlsrec.h - zktls's own TLS 1.3 record layer (RFC 8446 section 5), used
 * by the user plane after the handshake, and by the tests and fuzzers.
 *
 * Records are sealed and opened in place with the keys the handshake
 * exported: a record is TLSREC_HDR header bytes, the content, one
 * content-type byte, optional zero padding and TLSREC_TAG tag bytes.
 *
 * Receiving: the caller owns a buffer of ciphertext (struct tlsrec_rx) and
 * fills it; tlsrec_next() opens the whole records in it, one after the
 * other, iteratively: data comes back as a pointer into the buffer, and
 * every other record is dealt with here (close_notify ends the stream, an
 * alert is reported, an empty data record is skipped, a KeyUpdate is
 * followed, anything else is refused).  Nothing here moves buffered bytes except
 * tlsrec_rx_compact(), which the caller calls only when it holds no
 * pointer into the buffer any more.  No I/O, no allocation after _new.
 */
#ifndef ZKTLS_TLSREC_H
#define ZKTLS_TLSREC_H

#include <stddef.h>
#include <stdint.h>

#include "zktls.h"

#define TLSREC_HDR 5
#define TLSREC_TAG 16
#define TLSREC_MAX_PLAIN 16384                   /* content per record */
#define TLSREC_MAX_INNER (TLSREC_MAX_PLAIN + 1)  /* content + type + pad */
#define TLSREC_MAX_CIPHER (TLSREC_MAX_PLAIN + 256) /* RFC 8446 5.2 */
#define TLSREC_MAX (TLSREC_HDR + TLSREC_MAX_CIPHER)
#define TLSREC_OVERHEAD (TLSREC_HDR + 1 + TLSREC_TAG)
/* Consecutive records without application data (empty data records) a
 * peer may send before it is cut off. */
#define TLSREC_MAX_NONDATA 1024

enum { TLSREC_ALERT = 21, TLSREC_HANDSHAKE = 22, TLSREC_DATA = 23 };
enum { TLSREC_HS_KEY_UPDATE = 24 };
/* A sealed KeyUpdate record: header, 4 + 1 bytes of message, type, tag. */
#define TLSREC_KEY_UPDATE_LEN (TLSREC_HDR + 5 + 1 + TLSREC_TAG)

struct tlsrec;

/* Both directions' AEAD state from exported keys (not wiped here). */
struct tlsrec *tlsrec_new(const struct tls_keys *k);
void tlsrec_free(struct tlsrec *r);

/* Seal a record in place: content at rec + TLSREC_HDR, plen bytes (at
 * most TLSREC_MAX_PLAIN), then pad zero bytes of padding (content + type
 * + padding at most TLSREC_MAX_INNER); rec must hold the result.  Returns
 * the record's length. */
size_t tlsrec_seal(struct tlsrec *r, uint8_t type, uint8_t *rec, size_t plen,
		   size_t pad);

/* Records the sending key may protect (1..ZK_KEY_LIMIT; 0 or more: the
 * default ZK_KEY_LIMIT) before tlsrec_key_update_due() says so. */
void tlsrec_set_key_limit(struct tlsrec *r, uint64_t records);
/* Does the peer follow KeyUpdate (it said so)?  Until then the record
 * limit sends none; a peer's own request is answered regardless. */
void tlsrec_allow_key_update(struct tlsrec *r, int yes);
/* Must a KeyUpdate go out before the next record (the sending key reached
 * its limit and the peer follows, or the peer asked for one)? */
int tlsrec_key_update_due(const struct tlsrec *r);
/* Has the sending key protected its limit of records already? */
int tlsrec_past_limit(const struct tlsrec *r);
/* Seal a KeyUpdate (request: update_requested) into rec, which holds
 * TLSREC_KEY_UPDATE_LEN bytes, under the current key, then move to the
 * next sending key.  Returns the record's length, or a negative ZK_E*:
 * then nothing may be sent any more. */
int tlsrec_seal_key_update(struct tlsrec *r, uint8_t *rec, int request);
/* KeyUpdates sent and received so far. */
void tlsrec_key_updates(const struct tlsrec *r, unsigned *sent,
			unsigned *received);

/* Open one whole record in place (len = header + ciphertext): 0 with
 * *type and the content at rec + TLSREC_HDR, *plen bytes; -1 when the
 * record does not authenticate or has no content type.  Low level: the
 * rules about record types are tlsrec_next()'s. */
int tlsrec_open(struct tlsrec *r, uint8_t *rec, size_t len, uint8_t *type,
		size_t *plen);

/* Ciphertext the caller reads into: buf[off, end) is unread. */
struct tlsrec_rx {
	uint8_t *buf;
	size_t cap;             /* at least TLSREC_MAX */
	size_t off, end;
	unsigned nondata;       /* records without data in a row */
	int closed;             /* close_notify seen */
};

enum tlsrec_next {
	TLSREC_NEED = 0,        /* no whole record buffered: read more */
	TLSREC_GOT_DATA = 1,    /* *p, *len: content, valid until compact */
	TLSREC_GOT_CLOSE = 2,   /* the peer's close_notify */
};

/* The next data in rx (see enum tlsrec_next), or a negative ZK_E* after
 * zk_fail() for a record that fails authentication, an alert, a
 * handshake message other than KeyUpdate, an unknown or malformed
 * record. */
int tlsrec_next(struct tlsrec *r, struct tlsrec_rx *rx, const uint8_t **p,
		size_t *len);

/* Move the unread bytes to the front of the buffer (invalidates every
 * pointer into it); afterwards buf + end, cap - end is free. */
void tlsrec_rx_compact(struct tlsrec_rx *rx);

#endif
