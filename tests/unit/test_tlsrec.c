/*
 * test_tlsrec.c - the TLS 1.3 record layer: round trips, what each record
 * type does on the receive side, KeyUpdate both ways, the bounds, and that
 * data pointers stay valid until the caller compacts the buffer.
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
	/* Traffic secrets, for KeyUpdate (Hash.length of the suite). */
	a.tx.secret_len = a.rx.secret_len = suite == SUITE_AES_256_GCM ? 48 : 32;
	memset(a.tx.secret, 0x5a, sizeof(a.tx.secret));
	memset(a.rx.secret, 0xa5, sizeof(a.rx.secret));
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

/* Append tx's KeyUpdate (then tx seals under its next key). */
static void
put_key_update(int request)
{
	int n = tlsrec_seal_key_update(tx, buf + b.end, request);

	CHECK(n == TLSREC_KEY_UPDATE_LEN);
	if (n > 0)
		b.end += (size_t)n;
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
	static const uint8_t ku_bad_req[5] = { 24, 0, 0, 1, 2 };
	static const uint8_t ku_long[6] = { 24, 0, 0, 2, 0, 0 };
	static const uint8_t ku_trailing[6] = { 24, 0, 0, 1, 0, 4 };
	unsigned sent, got;
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

	/* Tickets, empty handshake records, alerts, unknown types: refused
	 * with their own words. */
	pair(SUITE_AES_128_GCM);
	put(TLSREC_DATA, "ok", 2, 0);
	put(TLSREC_HANDSHAKE, ticket, sizeof(ticket), 0);
	CHECK(next(&p, &n) == TLSREC_GOT_DATA);
	CHECK(next(&p, &n) == -ZK_EPROTO);
	CHECK_STR(zk_errmsg(), "protocol violation by peer: a TLS session "
		  "ticket after the handshake (zktls peers never send them)");
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

	/* KeyUpdate on every suite: data before it under the old key,
	 * after it under the next; both sides count it. */
	for (size_t s = 0; s < 3; s++) {
		pair(suites[s]);
		put(TLSREC_DATA, "old", 3, 0);
		put_key_update(0);
		put(TLSREC_DATA, "new", 3, 0);
		put_key_update(0);
		put(TLSREC_DATA, big, sizeof(big), 0);
		CHECK(next(&p, &n) == TLSREC_GOT_DATA && n == 3 &&
		      memcmp(p, "old", 3) == 0);
		CHECK(next(&p, &n) == TLSREC_GOT_DATA && n == 3 &&
		      memcmp(p, "new", 3) == 0);
		CHECK(next(&p, &n) == TLSREC_GOT_DATA && n == sizeof(big) &&
		      memcmp(p, big, n) == 0);
		tlsrec_key_updates(tx, &sent, &got);
		CHECK(sent == 2 && got == 0);
		tlsrec_key_updates(rx, &sent, &got);
		CHECK(sent == 0 && got == 2);
		CHECK(!tlsrec_key_update_due(rx));
	}
	/* The receiving key really moved: a record still sealed under the
	 * old key after a KeyUpdate fails authentication. */
	pair(SUITE_AES_128_GCM);
	{
		struct tlsrec *stale;
		struct tls_keys k;

		memset(&k, 0, sizeof(k));
		k.tx.suite = SUITE_AES_128_GCM;
		k.tx.key_len = 16;
		for (int i = 0; i < 32; i++)
			k.tx.key[i] = (uint8_t)i;
		memset(k.tx.iv, 7, 12);
		k.tx.seq = 1; /* as tx after the KeyUpdate below */
		k.rx = k.tx;
		stale = tlsrec_new(&k);
		put_key_update(0);
		memcpy(buf + b.end + TLSREC_HDR, "stale", 5);
		b.end += tlsrec_seal(stale, TLSREC_DATA, buf + b.end, 5, 0);
		CHECK(next(&p, &n) == -ZK_ENET);
		tlsrec_free(stale);
	}
	/* The record limit makes a KeyUpdate due once the peer follows
	 * them; a peer's request does, whether or not. */
	pair(SUITE_AES_256_GCM);
	tlsrec_set_key_limit(tx, 3);
	for (int i = 0; i < 3; i++) {
		CHECK(!tlsrec_key_update_due(tx) && !tlsrec_past_limit(tx));
		put(TLSREC_DATA, "d", 1, 0);
	}
	CHECK(!tlsrec_key_update_due(tx) && tlsrec_past_limit(tx));
	tlsrec_allow_key_update(tx, 1);
	CHECK(tlsrec_key_update_due(tx));
	put_key_update(1);
	CHECK(!tlsrec_key_update_due(tx));
	put(TLSREC_DATA, "e", 1, 0);
	for (int i = 0; i < 4; i++)
		CHECK(next(&p, &n) == TLSREC_GOT_DATA && n == 1);
	CHECK(tlsrec_key_update_due(rx)); /* asked: answer before sending */
	{
		/* rx answers; tx, reading it, follows. */
		struct tlsrec *t = tx;
		uint8_t rec[TLSREC_KEY_UPDATE_LEN + TLSREC_MAX];
		uint8_t type;
		size_t plen;

		CHECK(tlsrec_seal_key_update(rx, rec, 0) ==
		      TLSREC_KEY_UPDATE_LEN);
		CHECK(!tlsrec_key_update_due(rx));
		CHECK(tlsrec_open(t, rec, TLSREC_KEY_UPDATE_LEN, &type,
				  &plen) == 0 && type == TLSREC_HANDSHAKE &&
		      plen == 5 && rec[TLSREC_HDR + 4] == 0);
	}
	/* ChaCha20-Poly1305 has no key limit to keep (RFC 8446 5.5). */
	pair(SUITE_CHACHA20_POLY1305);
	tlsrec_set_key_limit(tx, 3);
	tlsrec_allow_key_update(tx, 1);
	for (int i = 0; i < 5; i++)
		put(TLSREC_DATA, "c", 1, 0);
	CHECK(!tlsrec_key_update_due(tx) && !tlsrec_past_limit(tx));
	CHECK(tls_key_limit(SUITE_CHACHA20_POLY1305, 3) == UINT64_MAX);
	CHECK(tls_key_limit(SUITE_AES_128_GCM, 0) == ZK_KEY_LIMIT);
	CHECK(tls_key_limit(SUITE_AES_128_GCM, 3) == 3);
	/* The KeyUpdate parser the kernel planes share. */
	{
		static const uint8_t ok0[5] = { 24, 0, 0, 1, 0 },
				     ok1[5] = { 24, 0, 0, 1, 1 },
				     req2[5] = { 24, 0, 0, 1, 2 },
				     tkt[5] = { 4, 0, 0, 1, 0 },
				     len2[6] = { 24, 0, 0, 2, 0, 0 };

		CHECK(tls13_key_update_parse(ok0, 5) == 0);
		CHECK(tls13_key_update_parse(ok1, 5) == 1);
		CHECK(tls13_key_update_parse(ok1, 4) == -ZK_EPROTO);
		CHECK(tls13_key_update_parse(req2, 5) == -ZK_EPROTO);
		CHECK(tls13_key_update_parse(tkt, 5) == -ZK_EPROTO);
		CHECK(tls13_key_update_parse(len2, 6) == -ZK_EPROTO);
		zk_clear();
	}
	/* Malformed KeyUpdates are refused; KeyUpdates count as records
	 * without data. */
	{
		const uint8_t *bad[3] = { ku_bad_req, ku_long, ku_trailing };
		const size_t badlen[3] = { 5, 6, 6 };

		for (int i = 0; i < 3; i++) {
			pair(SUITE_CHACHA20_POLY1305);
			put(TLSREC_HANDSHAKE, bad[i], badlen[i], 0);
			CHECK(next(&p, &n) == -ZK_EPROTO);
			CHECK_STR(zk_errmsg(), "protocol violation by peer: a "
				  "malformed TLS KeyUpdate");
		}
	}
	pair(SUITE_AES_128_GCM);
	for (int i = 0; i < TLSREC_MAX_NONDATA; i++) {
		put_key_update(0);
		CHECK(next(&p, &n) == TLSREC_NEED);
		tlsrec_rx_compact(&b);
	}
	put_key_update(1);
	CHECK(next(&p, &n) == -ZK_EPROTO);
	CHECK_STR(zk_errmsg(), "protocol violation by peer: more than 1024 "
		  "TLS records in a row without data");

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
