/*
 * test_tlsrec.c - the TLS 1.3 record layer: round trips, what each record
 * type does on the receive side, the bounds, and that data pointers stay
 * valid until the caller compacts the buffer.
 */
#include "t.h"
#include "tlsrec.h"

static struct tlsrec *tx, *rx;
static uint8_t buf[4 * TLSREC_MAX];
static struct tlsrec_rx b;

static void
pair(uint16_t suite)
{
	struct tls_keys a, c;

	tlsrec_free(tx);
	tlsrec_free(rx);
	memset(&a, 0, sizeof(a));
	a.tx.suite = a.rx.suite = suite;
	a.tx.key_len = a.rx.key_len = suite == SUITE_AES_128_GCM ? 16 : 32;
	for (int i = 0; i < 32; i++) {
		a.tx.key[i] = (uint8_t)i;
		a.rx.key[i] = (uint8_t)(100 + i);
	}
	memset(a.tx.iv, 7, 12);
	memset(a.rx.iv, 9, 12);
	c = a;
	c.tx = a.rx;
	c.rx = a.tx;
	tx = tlsrec_new(&a);
	rx = tlsrec_new(&c);
	memset(&b, 0, sizeof(b));
	b.buf = buf;
	b.cap = sizeof(buf);
	zk_clear();
}

/* Append a sealed record to the receive buffer. */
static void
put(uint8_t type, const void *content, size_t len, size_t pad)
{
	uint8_t *r = buf + b.end;

	memcpy(r + TLSREC_HDR, content, len);
	b.end += tlsrec_seal(tx, type, r, len, pad);
}

static int
next(const uint8_t **p, size_t *n)
{
	return tlsrec_next(rx, &b, p, n);
}

int
main(void)
{
	static const uint16_t suites[] = { SUITE_AES_128_GCM, SUITE_AES_256_GCM,
					   SUITE_CHACHA20_POLY1305 };
	static const uint8_t close_notify[2] = { 1, 0 }, bad_mac[2] = { 2, 20 };
	static const uint8_t ticket[8] = { 4, 0, 0, 4, 0, 0, 0, 0 };
	static const uint8_t keyupdate[5] = { 24, 0, 0, 1, 0 };
	static uint8_t big[TLSREC_MAX_PLAIN];
	const uint8_t *p, *p1;
	size_t n, n1;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31 + 1);

	/* Round trips on every suite, padding included; close_notify ends. */
	for (size_t s = 0; s < 3; s++) {
		pair(suites[s]);
		put(TLSREC_DATA, "hello", 5, 0);
		put(TLSREC_DATA, big, sizeof(big), 0);
		put(TLSREC_DATA, "z", 1, TLSREC_MAX_INNER - 2);
		put(TLSREC_ALERT, close_notify, 2, 0);
		CHECK(next(&p, &n) == TLSREC_GOT_DATA && n == 5 &&
		      memcmp(p, "hello", 5) == 0);
		CHECK(next(&p, &n) == TLSREC_GOT_DATA && n == sizeof(big) &&
		      memcmp(p, big, n) == 0);
		CHECK(next(&p, &n) == TLSREC_GOT_DATA && n == 1 && p[0] == 'z');
		CHECK(next(&p, &n) == TLSREC_GOT_CLOSE && b.closed);
		CHECK(next(&p, &n) == TLSREC_GOT_CLOSE);
	}

	/* Pointers stay valid: nothing moves until tlsrec_rx_compact. */
	pair(SUITE_AES_128_GCM);
	put(TLSREC_DATA, "first", 5, 0);
	put(TLSREC_DATA, "second", 6, 0);
	CHECK(next(&p1, &n1) == TLSREC_GOT_DATA);
	CHECK(next(&p, &n) == TLSREC_GOT_DATA && n == 6);
	CHECK(next(&p, &n) == TLSREC_NEED);
	CHECK(n1 == 5 && memcmp(p1, "first", 5) == 0);
	tlsrec_rx_compact(&b);
	CHECK(b.off == 0 && b.end == 0);

	/* A record cut anywhere is NEED until it is whole. */
	pair(SUITE_AES_256_GCM);
	put(TLSREC_DATA, "abc", 3, 0);
	{
		size_t whole = b.end;
		for (size_t k = 0; k < whole; k++) {
			b.end = k;
			CHECK(next(&p, &n) == TLSREC_NEED && b.off == 0);
		}
		b.end = whole;
		CHECK(next(&p, &n) == TLSREC_GOT_DATA && n == 3);
	}

	/* Empty data records are skipped, up to TLSREC_MAX_NONDATA. */
	pair(SUITE_CHACHA20_POLY1305);
	put(TLSREC_DATA, "", 0, 0);
	put(TLSREC_DATA, "", 0, 5);
	put(TLSREC_DATA, "x", 1, 0);
	CHECK(next(&p, &n) == TLSREC_GOT_DATA && n == 1 && p[0] == 'x');
	pair(SUITE_AES_128_GCM);
	for (int i = 0; i < TLSREC_MAX_NONDATA; i++) {
		put(TLSREC_DATA, "", 0, 0);
		CHECK(next(&p, &n) == TLSREC_NEED);
		tlsrec_rx_compact(&b);
	}
	put(TLSREC_DATA, "", 0, 0);
	CHECK(next(&p, &n) == -ZK_EPROTO);
	CHECK_STR(zk_errmsg(), "protocol violation by peer: more than 1024 "
		  "TLS records in a row without data");

	/* Tickets, KeyUpdate, empty handshake records, alerts, unknown
	 * types: refused with their own words. */
	pair(SUITE_AES_128_GCM);
	put(TLSREC_DATA, "ok", 2, 0);
	put(TLSREC_HANDSHAKE, ticket, sizeof(ticket), 0);
	CHECK(next(&p, &n) == TLSREC_GOT_DATA);
	CHECK(next(&p, &n) == -ZK_EPROTO);
	CHECK_STR(zk_errmsg(), "protocol violation by peer: a TLS session "
		  "ticket after the handshake (zktls peers never send them)");
	pair(SUITE_AES_128_GCM);
	put(TLSREC_HANDSHAKE, keyupdate, sizeof(keyupdate), 0);
	CHECK(next(&p, &n) == -ZK_EPROTO);
	CHECK_STR(zk_errmsg(), "unexpected TLS handshake message after the "
		  "handshake (KeyUpdate)");
	pair(SUITE_AES_128_GCM);
	put(TLSREC_HANDSHAKE, "", 0, 0);
	CHECK(next(&p, &n) == -ZK_EPROTO);
	CHECK_STR(zk_errmsg(), "protocol violation by peer: an empty TLS "
		  "handshake record");
	pair(SUITE_AES_128_GCM);
	put(TLSREC_ALERT, bad_mac, 2, 0);
	CHECK(next(&p, &n) == -ZK_EPEER);
	CHECK_STR(zk_errmsg(), "peer sent TLS alert: bad_record_mac");
	pair(SUITE_AES_128_GCM);
	put(TLSREC_ALERT, "\x01", 1, 0);
	CHECK(next(&p, &n) == -ZK_EPEER);
	pair(SUITE_AES_128_GCM);
	put(99, "x", 1, 0);
	CHECK(next(&p, &n) == -ZK_EPROTO);
	CHECK_STR(zk_errmsg(), "protocol violation by peer: TLS record of "
		  "type 99");

	/* Tampering: a flipped bit anywhere fails authentication; a bad
	 * header or length is refused before decryption. */
	pair(SUITE_AES_256_GCM);
	put(TLSREC_DATA, "tamper", 6, 0);
	buf[TLSREC_HDR + 2] ^= 1;
	CHECK(next(&p, &n) == -ZK_ENET);
	CHECK_STR(zk_errmsg(), "TLS record authentication failed (corrupted "
		  "or tampered stream)");
	pair(SUITE_AES_256_GCM);
	put(TLSREC_DATA, "hdr", 3, 0);
	buf[0] = 22;
	CHECK(next(&p, &n) == -ZK_EPROTO);
	pair(SUITE_AES_256_GCM);
	buf[0] = 23, buf[1] = 3, buf[2] = 3;
	buf[3] = (uint8_t)((TLSREC_MAX_INNER + TLSREC_TAG + 1) >> 8);
	buf[4] = (uint8_t)(TLSREC_MAX_INNER + TLSREC_TAG + 1);
	b.end = TLSREC_HDR;
	CHECK(next(&p, &n) == -ZK_EPROTO);
	CHECK_STR(zk_errmsg(), "protocol violation by peer: TLS record too long");

	tlsrec_free(tx);
	tlsrec_free(rx);
	T_DONE("test_tlsrec");
}
