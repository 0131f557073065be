/*
 * tlsrec.c - the TLS 1.3 record layer of the user plane (see tlsrec.h).
 *
 * After the handshake OpenSSL's SSL object does no more I/O on any plane:
 * the kernel planes hand the keys to the kernel, the user plane hands them
 * here, where records are sealed and opened in place with OpenSSL's AEAD
 * primitives, so a stream chunk is read once, encrypted where it lies and
 * written once.
 *
 * KeyUpdate (RFC 8446 4.6.3): the sending key is replaced after
 * tlsrec_set_key_limit() records, or before the next record when the peer
 * asked; a peer's KeyUpdate moves the receiving key on.  The traffic
 * secrets stay here, in memory wiped at tlsrec_free().
 *
 * The receive side is built for a hostile peer: each call opens records in
 * a loop (never recursion), stops at the first one that carries data, and
 * never moves the buffer, so no pointer it hands out can go stale behind
 * the caller's back.  Records that carry no data are bounded
 * (TLSREC_MAX_NONDATA in a row).  What a non-data record means is decided
 * once, for every plane, by zk_alert_fail() and tls_handshake_msg_fail()
 * (util.c).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tlsrec.h"

struct tlsrec {
	EVP_CIPHER_CTX *tx, *rx;
	struct tls_dir_keys txk, rxk; /* key, iv, sequence, traffic secret */
	uint64_t limit;               /* records per sending key */
	int answer;                   /* the peer asked for our KeyUpdate */
	int allowed;                  /* the peer follows KeyUpdate */
	unsigned sent_updates, received_updates;
};

static EVP_CIPHER_CTX *
aead_ctx(const struct tls_dir_keys *k, int enc)
{
	const EVP_CIPHER *c = k->suite == SUITE_AES_128_GCM ? EVP_aes_128_gcm()
			      : k->suite == SUITE_AES_256_GCM ? EVP_aes_256_gcm()
			      : k->suite == SUITE_CHACHA20_POLY1305
				      ? EVP_chacha20_poly1305()
				      : NULL;
	EVP_CIPHER_CTX *x = c ? EVP_CIPHER_CTX_new() : NULL;

	if (x == NULL || EVP_CipherInit_ex(x, c, NULL, k->key, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(x);
		return NULL;
	}
	return x;
}

struct tlsrec *
tlsrec_new(const struct tls_keys *k)
{
	struct tlsrec *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		zk_fail_errno(ZK_ESYS, "calloc");
		return NULL;
	}
	r->tx = aead_ctx(&k->tx, 1);
	r->rx = aead_ctx(&k->rx, 0);
	if (r->tx == NULL || r->rx == NULL) {
		zk_fail(ZK_ESYS, "cannot set up the TLS record layer");
		tlsrec_free(r);
		return NULL;
	}
	r->txk = k->tx;
	r->rxk = k->rx;
	r->limit = ZK_KEY_LIMIT;
	return r;
}

void
tlsrec_set_key_limit(struct tlsrec *r, uint64_t records)
{
	r->limit = tls_key_limit(r->txk.suite, records);
}

void
tlsrec_allow_key_update(struct tlsrec *r, int yes)
{
	r->allowed = yes;
}

int
tlsrec_key_update_due(const struct tlsrec *r)
{
	return r->answer || (r->allowed && r->txk.seq >= r->limit);
}

int
tlsrec_past_limit(const struct tlsrec *r)
{
	return r->txk.seq >= r->limit;
}

void
tlsrec_key_updates(const struct tlsrec *r, unsigned *sent,
		   unsigned *received)
{
	*sent = r->sent_updates;
	*received = r->received_updates;
}

/* Move one direction to its next traffic secret (RFC 8446 4.6.3). */
static int
key_update(struct tls_dir_keys *k, EVP_CIPHER_CTX *x, int enc)
{
	int r = tls13_update_keys(k);

	if (r < 0)
		return r;
	if (EVP_CipherInit_ex(x, NULL, NULL, k->key, NULL, enc) != 1)
		return zk_fail(ZK_ESYS, "cannot set the updated TLS key");
	return 0;
}

int
tlsrec_seal_key_update(struct tlsrec *r, uint8_t *rec, int request)
{
	static const uint8_t msg[4] = { TLSREC_HS_KEY_UPDATE, 0, 0, 1 };
	size_t n;
	int e;

	memcpy(rec + TLSREC_HDR, msg, sizeof(msg));
	rec[TLSREC_HDR + 4] = request ? 1 : 0;
	/* Under the old key, as the last record it protects. */
	n = tlsrec_seal(r, TLSREC_HANDSHAKE, rec, 5, 0);
	if ((e = key_update(&r->txk, r->tx, 1)) < 0)
		return e;
	r->answer = 0;
	r->sent_updates++;
	return (int)n;
}

void
tlsrec_free(struct tlsrec *r)
{
	if (r == NULL)
		return;
	EVP_CIPHER_CTX_free(r->tx); /* cleanses the key schedule */
	EVP_CIPHER_CTX_free(r->rx);
	zk_wipe(r, sizeof(*r));
	free(r);
}

static void
nonce(const uint8_t iv[12], uint64_t seq, uint8_t out[12])
{
	memcpy(out, iv, 12);
	for (int i = 0; i < 8; i++)
		out[11 - i] ^= (uint8_t)(seq >> (8 * i));
}

size_t
tlsrec_seal(struct tlsrec *r, uint8_t type, uint8_t *rec, size_t plen,
	    size_t pad)
{
	uint8_t n[12], *p = rec + TLSREC_HDR;
	size_t inner = plen + 1 + pad, clen = inner + TLSREC_TAG;
	int outl;

	rec[0] = TLSREC_DATA; /* every TLS 1.3 record is "application_data" */
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = (uint8_t)(clen >> 8);
	rec[4] = (uint8_t)clen;
	p[plen] = type;
	memset(p + plen + 1, 0, pad);
	nonce(r->txk.iv, r->txk.seq++, n);
	/* Cannot fail with a valid context and inner <= 2^14 + 1. */
	EVP_CipherInit_ex(r->tx, NULL, NULL, NULL, n, 1);
	EVP_CipherUpdate(r->tx, NULL, &outl, rec, TLSREC_HDR);
	EVP_CipherUpdate(r->tx, p, &outl, p, (int)inner);
	EVP_CipherFinal_ex(r->tx, p + inner, &outl);
	EVP_CIPHER_CTX_ctrl(r->tx, EVP_CTRL_AEAD_GET_TAG, TLSREC_TAG, p + inner);
	return TLSREC_HDR + clen;
}

int
tlsrec_open(struct tlsrec *r, uint8_t *rec, size_t len, uint8_t *type,
	    size_t *plen)
{
	uint8_t n[12], *p = rec + TLSREC_HDR;
	size_t clen;
	int outl, ok;

	if (len < TLSREC_HDR + 1 + TLSREC_TAG)
		return -1;
	clen = len - TLSREC_HDR - TLSREC_TAG;
	nonce(r->rxk.iv, r->rxk.seq++, n);
	ok = EVP_CipherInit_ex(r->rx, NULL, NULL, NULL, n, 0) == 1 &&
	     EVP_CipherUpdate(r->rx, NULL, &outl, rec, TLSREC_HDR) == 1 &&
	     EVP_CipherUpdate(r->rx, p, &outl, p, (int)clen) == 1 &&
	     EVP_CIPHER_CTX_ctrl(r->rx, EVP_CTRL_AEAD_SET_TAG, TLSREC_TAG,
				 p + clen) == 1 &&
	     EVP_CipherFinal_ex(r->rx, p + clen, &outl) == 1;
	if (!ok)
		return -1;
	/* Inner plaintext: content, content type, zero padding. */
	while (clen > 0 && p[clen - 1] == 0)
		clen--;
	if (clen == 0)
		return -1;
	*type = p[clen - 1];
	*plen = clen - 1;
	return 0;
}

/* One more record without data in a row: bounded. */
static int
nondata(struct tlsrec_rx *rx)
{
	if (++rx->nondata > TLSREC_MAX_NONDATA)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: more "
			       "than %d TLS records in a row without data",
			       TLSREC_MAX_NONDATA);
	return 0;
}

/* The peer's KeyUpdate (m: the record's content, len bytes): its next
 * records come under its next key; a request is answered before our next
 * record (tlsrec_key_update_due). */
static int
peer_key_update(struct tlsrec *r, const uint8_t *m, size_t len)
{
	int e, request = tls13_key_update_parse(m, len);

	if (request < 0)
		return request;
	if ((e = key_update(&r->rxk, r->rx, 0)) < 0)
		return e;
	if (request)
		r->answer = 1;
	r->received_updates++;
	return 0;
}

int
tlsrec_next(struct tlsrec *r, struct tlsrec_rx *rx, const uint8_t **p,
	    size_t *len)
{
	for (;;) {
		size_t have = rx->end - rx->off, need, plen;
		uint8_t *rec = rx->buf + rx->off, type;
		int e;

		if (rx->closed)
			return TLSREC_GOT_CLOSE;
		if (have < TLSREC_HDR)
			return TLSREC_NEED;
		if (rec[0] != TLSREC_DATA || rec[1] != 3 || rec[2] != 3)
			return zk_fail(ZK_EPROTO, "protocol violation by peer: "
				       "not a TLS 1.3 record");
		need = TLSREC_HDR + ((size_t)rec[3] << 8 | rec[4]);
		/* RFC 8446 5.2 and 5.4: at most 2^14 + 256 bytes of
		 * ciphertext, and an inner plaintext (content, type, padding)
		 * of at most 2^14 + 1 bytes. */
		if (need > TLSREC_MAX ||
		    need > TLSREC_HDR + TLSREC_MAX_INNER + TLSREC_TAG)
			return zk_fail(ZK_EPROTO, "protocol violation by peer: "
				       "TLS record too long");
		if (have < need)
			return TLSREC_NEED;
		rx->off += need;
		if (tlsrec_open(r, rec, need, &type, &plen) < 0)
			return zk_fail(ZK_ENET, "TLS record authentication "
				       "failed (corrupted or tampered stream)");
		switch (type) {
		case TLSREC_DATA:
			if (plen > 0) {
				rx->nondata = 0;
				*p = rec + TLSREC_HDR;
				*len = plen;
				return TLSREC_GOT_DATA;
			}
			/* An empty data record (RFC 8446 5.1 allows them, a
			 * traffic-analysis measure): skipped, but bounded. */
			if ((e = nondata(rx)) < 0)
				return e;
			continue;
		case TLSREC_ALERT:
			if (plen != 2)
				return zk_fail(ZK_EPEER, "peer sent TLS alert: "
					       "malformed alert");
			if (rec[TLSREC_HDR + 1] == 0) {
				rx->closed = 1;
				return TLSREC_GOT_CLOSE;
			}
			return zk_alert_fail(rec[TLSREC_HDR + 1]);
		case TLSREC_HANDSHAKE:
			if (plen == 0 ||
			    rec[TLSREC_HDR] != TLSREC_HS_KEY_UPDATE)
				return tls_handshake_msg_fail(rec + TLSREC_HDR,
							      plen);
			if ((e = peer_key_update(r, rec + TLSREC_HDR, plen)) <
				    0 ||
			    (e = nondata(rx)) < 0)
				return e;
			continue;
		default:
			return zk_fail(ZK_EPROTO, "protocol violation by peer: "
				       "TLS record of type %u", type);
		}
	}
}

void
tlsrec_rx_compact(struct tlsrec_rx *rx)
{
	size_t have = rx->end - rx->off;

	if (rx->off > 0) {
		memmove(rx->buf, rx->buf + rx->off, have);
		rx->off = 0;
		rx->end = have;
	}
}
