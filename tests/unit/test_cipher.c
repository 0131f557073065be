/*
 * test_cipher.c - which cipher suites a side asks for (cipher.c), for
 * every role, size and key-changing ability: AES-GCM whenever the stream
 * fits half a key's limit or both sides can change keys, ChaCha20 where a
 * stream may exceed a key that cannot change, and always without AES
 * instructions.
 */
#include "t.h"
#include "zktls.h"

#define GIB (UINT64_C(1) << 30)

static enum tls_want
want(bool server, bool sender, bool known, uint64_t size, bool rekey,
     enum tls_want *fb, enum cipher_why *why)
{
	struct cipher_facts f = {
		.server = server, .sender = sender, .size_known = known,
		.size = size, .can_rekey = rekey, .aes_hw = true,
	};

	return cipher_want(&f, fb, why);
}

static void
test_fits(void)
{
	/* 2^24 records of 16 KiB, half of it: 128 GiB */
	CHECK(cipher_fits(0, 0));
	CHECK(cipher_fits(128 * GIB, 0));
	CHECK(!cipher_fits(128 * GIB + 1, 0));
	CHECK(cipher_fits(128 * GIB, ZK_KEY_LIMIT));
	/* a configured limit: 16 records, 8 of them full */
	CHECK(cipher_fits(8 * 16384, 16));
	CHECK(!cipher_fits(8 * 16384 + 1, 16));
	CHECK(cipher_fits(0, 1));
	CHECK(!cipher_fits(1, 1));
}

static void
test_clients(void)
{
	enum tls_want fb;
	enum cipher_why why;

	/* a push that fits: AES-GCM only; sent away, what is safe */
	CHECK(want(false, true, true, GIB, false, &fb, &why) == TLS_WANT_AES);
	CHECK(fb == TLS_WANT_CHACHA);
	CHECK(why == CW_FITS);
	CHECK(want(false, true, true, GIB, true, &fb, &why) == TLS_WANT_AES);
	CHECK(fb == TLS_WANT_ANY);
	/* a push that may not fit */
	CHECK(want(false, true, true, 200 * GIB, false, &fb, &why) ==
	      TLS_WANT_CHACHA);
	CHECK(why == CW_MAY_EXCEED);
	CHECK(want(false, true, true, 200 * GIB, true, &fb, &why) ==
	      TLS_WANT_ANY);
	CHECK(why == CW_KEY_UPDATE);
	/* a pipe: its size is unknown */
	CHECK(want(false, true, false, 0, false, &fb, &why) ==
	      TLS_WANT_CHACHA);
	CHECK(want(false, true, false, 0, true, &fb, &why) == TLS_WANT_ANY);
	/* a pull: the sender knows; AES-GCM only, and a fallback */
	CHECK(want(false, false, false, 0, false, &fb, &why) == TLS_WANT_AES);
	CHECK(fb == TLS_WANT_CHACHA);
	CHECK(why == CW_SENDER_CHECKS);
	CHECK(want(false, false, false, 0, true, &fb, &why) == TLS_WANT_AES);
	CHECK(fb == TLS_WANT_ANY);
}

static void
test_servers(void)
{
	enum tls_want fb;
	enum cipher_why why;

	/* serve (nothing known at the handshake) */
	CHECK(want(true, false, false, 0, false, &fb, &why) == TLS_WANT_LATER);
	CHECK(want(true, false, false, 0, true, &fb, &why) == TLS_WANT_ANY);
	/* a listening sender that fits insists on AES-GCM */
	CHECK(want(true, true, true, GIB, false, &fb, &why) == TLS_WANT_AES);
	/* one that may not: ChaCha20; where it can change keys, the
	 * client's order (and its check after the REQUEST) */
	CHECK(want(true, true, true, 200 * GIB, false, &fb, &why) ==
	      TLS_WANT_CHACHA);
	CHECK(want(true, true, true, 200 * GIB, true, &fb, &why) ==
	      TLS_WANT_ANY);
	CHECK(want(true, true, false, 0, true, &fb, &why) == TLS_WANT_ANY);
	CHECK(want(true, true, false, 0, false, &fb, &why) ==
	      TLS_WANT_CHACHA);
	/* a listening receiver that cannot change keys: AES-GCM only if
	 * the sender offers nothing else */
	CHECK(want(true, false, false, 0, false, &fb, &why) == TLS_WANT_LATER);
}

static void
test_no_aes(void)
{
	struct cipher_facts f = { .sender = true, .size_known = true,
				  .size = 1, .can_rekey = true };
	enum tls_want fb;
	enum cipher_why why;

	/* whatever else holds */
	CHECK(cipher_want(&f, &fb, &why) == TLS_WANT_CHACHA);
	CHECK(fb == TLS_WANT_CHACHA);
	CHECK(why == CW_NO_AES);
	f.server = true;
	f.sender = false;
	CHECK(cipher_want(&f, &fb, &why) == TLS_WANT_CHACHA);
	f.queries = true;
	CHECK(cipher_want(&f, &fb, &why) == TLS_WANT_CHACHA);
}

static void
test_queries(void)
{
	struct cipher_facts f = { .queries = true, .aes_hw = true };
	enum tls_want fb;
	enum cipher_why why;

	CHECK(cipher_want(&f, &fb, &why) == TLS_WANT_AES);
	CHECK(why == CW_QUERIES);
	CHECK(fb == TLS_WANT_CHACHA);
}

/* every reason has words and a JSON value (one word: a-z and '_') */
static void
test_why_names(void)
{
	for (int w = 0; w < CW_END; w++) {
		const char *t = cipher_why_name((enum cipher_why)w, false);
		const char *j = cipher_why_name((enum cipher_why)w, true);

		CHECK(t != NULL && j != NULL && j[0] != '\0');
		CHECK(w == CW_NONE || (t && t[0] != '\0'));
		CHECK(j && strspn(j, "abcdefghijklmnopqrstuvwxyz_") == strlen(j));
	}
	CHECK_STR(cipher_why_name(CW_FITS, false), "fits one key");
	CHECK_STR(cipher_why_name(CW_FITS_THEIRS, true), "fits_one_key");
	CHECK_STR(cipher_why_name(CW_MAY_EXCEED, true), "may_exceed_key_limit");
	CHECK_STR(cipher_why_name(CW_END, true), "none");
}

int
main(void)
{
	test_fits();
	test_clients();
	test_servers();
	test_no_aes();
	test_queries();
	test_why_names();
	T_DONE("test_cipher");
}
