/*
 * fuzz_tlsrec.c - libFuzzer target for the receive side of the TLS record
 * layer (tlsrec_next and its buffer).
 *
 * The input describes a sequence of records (content type, content,
 * padding), how the receiver's reads are cut, and optionally one bit to
 * flip.  The records are sealed with tlsrec_seal, fed to tlsrec_next in
 * reads of the chosen sizes (compacting the buffer only when no pointer
 * into it is held, as the planes do), and what comes out is compared with
 * what a straightforward reading of RFC 8446 and zktls's rules says:
 *   - the output is exactly the content of the data records, in order;
 *   - a well-formed KeyUpdate (sealed as zktls seals one, the sender
 *     moving to its next key) is followed and carries no data;
 *   - it ends at close_notify (success), at any other alert, handshake or
 *     unknown record (failure), after TLSREC_MAX_NONDATA records without
 *     data in a row (failure), or at the end of input (truncated);
 *   - with a flipped bit, the output is a prefix of that and the stream
 *     never ends in success with less.
 * Any difference aborts.
 *
 *   make fuzz && build/fuzz/fuzz_tlsrec -max_total_time=60 CORPUS_DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define WIRE_CAP (1u << 20)
#define OUT_CAP (1u << 20)

static uint8_t wire[WIRE_CAP], want[OUT_CAP], got[OUT_CAP];
static uint8_t rxbuf[3 * TLSREC_MAX];
static struct tlsrec *tx, *rx;

enum verdict { V_CLOSE, V_FAIL, V_EOF };

static void
setup(void)
{
	struct tls_keys a, b;

	memset(&a, 0, sizeof(a));
	a.tx.suite = a.rx.suite = SUITE_AES_128_GCM;
	a.tx.key_len = a.rx.key_len = 16;
	memset(a.tx.key, 0x11, 16);
	memset(a.tx.iv, 0x22, 12);
	memset(a.rx.key, 0x33, 16);
	memset(a.rx.iv, 0x44, 12);
	a.tx.secret_len = a.rx.secret_len = 32; /* KeyUpdate (SHA-256) */
	memset(a.tx.secret, 0x55, 32);
	memset(a.rx.secret, 0x66, 32);
	b = a;
	b.tx = a.rx;
	b.rx = a.tx;
	tx = tlsrec_new(&a);
	rx = tlsrec_new(&b);
	if (tx == NULL || rx == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 4, wlen = 0, wantlen = 0, gotlen = 0, fed = 0, flip_at;
	unsigned run = 0, chunk_seed;
	enum verdict expect = V_EOF, result;
	int flip, r, ku;
	struct tlsrec_rx b = { .buf = rxbuf, .cap = sizeof(rxbuf) };

	if (tx == NULL)
		setup();
	if (size < 4)
		return 0;
	/* Fresh sequence numbers for both ends, every input. */
	tlsrec_free(tx);
	tlsrec_free(rx);
	tx = rx = NULL;
	setup();
	zk_clear();
	chunk_seed = data[0];
	flip = data[1] & 1;
	flip_at = (size_t)data[2] << 8 | data[3];

	/* Build the records and the oracle's verdict. */
	while (pos + 5 <= size) {
		uint8_t type = data[pos] ? data[pos] : TLSREC_DATA;
		size_t len = ((size_t)data[pos + 1] << 8 | data[pos + 2]) %
			     (TLSREC_MAX_PLAIN + 1);
		size_t pad = (size_t)data[pos + 3] << 8 | data[pos + 4];

		pos += 5;
		if (len > size - pos)
			len = size - pos;
		if (len + 1 + pad > TLSREC_MAX_INNER)
			pad = TLSREC_MAX_INNER - len - 1;
		if (wlen + TLSREC_HDR + len + 1 + pad + TLSREC_TAG > WIRE_CAP)
			break;
		/* A well-formed KeyUpdate is sent the way zktls sends one:
		 * the sender moves to its next key. */
		ku = type == TLSREC_HANDSHAKE && len == 5 && data[pos] == 24 &&
		     data[pos + 1] == 0 && data[pos + 2] == 0 &&
		     data[pos + 3] == 1 && data[pos + 4] <= 1;
		if (ku) {
			int k = tlsrec_seal_key_update(tx, wire + wlen,
						       data[pos + 4]);
			if (k <= 0)
				abort();
			wlen += (size_t)k;
		} else {
			memcpy(wire + wlen + TLSREC_HDR, data + pos, len);
			wlen += tlsrec_seal(tx, type, wire + wlen, len, pad);
		}
		pos += len;
		if (expect != V_EOF)
			continue; /* the verdict is in; later records unread */
		if (type == TLSREC_DATA && len > 0) {
			memcpy(want + wantlen, data + pos - len, len);
			wantlen += len;
			run = 0;
		} else if (type == TLSREC_DATA || ku) {
			/* empty data records and KeyUpdates: no data */
			if (++run > TLSREC_MAX_NONDATA)
				expect = V_FAIL;
		} else if (type == TLSREC_ALERT && len == 2 &&
			   data[pos - 1] == 0) {
			expect = V_CLOSE;
		} else {
			expect = V_FAIL;
		}
	}
	if (flip && wlen > 0)
		wire[flip_at % wlen] ^= 0x01;

	/* Read it back the way the planes do. */
	for (;;) {
		const uint8_t *p;
		size_t n;

		r = tlsrec_next(rx, &b, &p, &n);
		if (r == TLSREC_GOT_DATA) {
			if (gotlen + n > OUT_CAP)
				abort();
			memcpy(got + gotlen, p, n);
			gotlen += n;
			continue;
		}
		if (r == TLSREC_GOT_CLOSE) {
			result = V_CLOSE;
			break;
		}
		if (r < 0) {
			if (zk_errcode() == 0 || zk_errmsg()[0] == '\0')
				abort(); /* a failure always says why */
			result = V_FAIL;
			break;
		}
		if (fed == wlen) {
			result = V_EOF;
			break;
		}
		tlsrec_rx_compact(&b);
		n = 1 + (chunk_seed * 7919u + fed) % (TLSREC_MAX + 100);
		if (n > b.cap - b.end)
			n = b.cap - b.end;
		if (n > wlen - fed)
			n = wlen - fed;
		memcpy(b.buf + b.end, wire + fed, n);
		b.end += n;
		fed += n;
	}

	if (!flip) {
		if (result != expect || gotlen != wantlen ||
		    memcmp(got, want, gotlen) != 0)
			abort();
	} else {
		if (gotlen > wantlen || memcmp(got, want, gotlen) != 0)
			abort();
		if (result == V_CLOSE && (expect != V_CLOSE || gotlen != wantlen))
			abort();
	}
	return 0;
}
