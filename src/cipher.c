/*
 * cipher.c - which TLS cipher suite a session asks for, and why.
 *
 * An AES-GCM key may protect at most ZK_KEY_LIMIT records (RFC 8446 5.5);
 * past that a side must change keys (TLS KeyUpdate), which Linux kernel
 * TLS can do only from 6.14 and the direct plane never.  ChaCha20-Poly1305
 * has no such limit within reach, but is slower where the CPU has AES
 * instructions.  So a session takes AES-GCM whenever it is safe and
 * ChaCha20 only when it may not be:
 *
 *   - a stream that fits half a key's limit (a margin for zfs's estimate)
 *     takes AES-GCM: its sender knows, from zfs send -nP, before it
 *     connects;
 *   - where both sides can change keys, AES-GCM whatever the size;
 *   - otherwise, or when the size is unknown (a pipe), ChaCha20;
 *   - a CPU without AES instructions always prefers ChaCha20.
 *
 * Who knows what, and when: a client that sends offers AES-GCM only when
 * its stream fits.  A client that receives does not know the size: it
 * offers AES-GCM only, and the sender checks.  A one-shot listener that
 * sends, cannot change keys and does not fit refuses an AES-only offer
 * at the handshake (TLS alert insufficient_security).  Every sender that
 * accepted checks again after the REQUEST, when it knows whether the
 * client changes keys, and may answer PROTO_ST_CIPHER.  Either way the
 * client connects again with its fallback, which offers ChaCha20 (first,
 * where it cannot change keys).  Pure logic: tls.c and session.c apply
 * it, tests/unit/test_cipher.c tests it.
 */
#include "zktls.h"

bool
cipher_fits(uint64_t size, uint64_t key_limit)
{
	uint64_t records = key_limit ? key_limit : ZK_KEY_LIMIT;

	/* full 16 KiB records; half the limit: zfs's estimate may be low */
	return size <= records / 2 * 16384;
}

enum tls_want
cipher_want(const struct cipher_facts *f, enum tls_want *fallback,
	    enum cipher_why *why)
{
	enum tls_want safe = f->can_rekey ? TLS_WANT_ANY : TLS_WANT_CHACHA;
	enum cipher_why safe_why = f->can_rekey ? CW_KEY_UPDATE : CW_MAY_EXCEED;

	*fallback = safe;
	if (!f->aes_hw) {
		*fallback = TLS_WANT_CHACHA;
		*why = CW_NO_AES;
		return TLS_WANT_CHACHA;
	}
	if (f->queries) {
		*why = CW_QUERIES;
		return f->server ? TLS_WANT_ANY : TLS_WANT_AES;
	}
	if (f->sender && f->size_known && cipher_fits(f->size, f->key_limit)) {
		*why = CW_FITS;
		return TLS_WANT_AES;
	}
	if (!f->sender && !f->server) {
		/* a receiving client: the sender knows and checks */
		*why = CW_SENDER_CHECKS;
		return TLS_WANT_AES;
	}
	if (!f->sender && f->server && !f->can_rekey) {
		/* a receiving listener (serve: either): AES-GCM only if the
		 * client offers nothing else, that is, says it fits */
		*why = safe_why;
		return TLS_WANT_LATER;
	}
	*why = safe_why;
	return safe;
}

const char *
cipher_want_name(enum tls_want w)
{
	switch (w) {
	case TLS_WANT_AES:
		return "AES-GCM only";
	case TLS_WANT_CHACHA:
		return "ChaCha20-Poly1305 first";
	case TLS_WANT_LATER:
		return "ChaCha20-Poly1305 unless only AES-GCM is offered";
	default:
		return "AES-GCM first";
	}
}

const char *
cipher_why_name(enum cipher_why why, bool json)
{
	static const char *const names[CW_END][2] = {
		[CW_NONE] = { "", "none" },
		[CW_FITS] = { "fits one key", "fits_one_key" },
		[CW_FITS_THEIRS] = { "fits one key (the sender's estimate)",
				     "fits_one_key" },
		[CW_MAY_EXCEED] = { "may exceed the key limit",
				    "may_exceed_key_limit" },
		[CW_KEY_UPDATE] = { "KeyUpdate at the key limit", "key_update" },
		[CW_NO_AES] = { "no AES instructions", "no_aes_instructions" },
		[CW_QUERIES] = { "queries only", "queries_only" },
		[CW_SENDER_CHECKS] = { "the sender checks its size",
				       "sender_checks" },
		[CW_PEER] = { "the peer's choice", "peer_choice" },
	};

	return why < CW_END ? names[why][json] : names[CW_NONE][json];
}
