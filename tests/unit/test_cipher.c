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
     enum tls_want *fb, const char **why)
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
	const char *why;

	/* a push that fits: AES-GCM only; sent away, what is safe */
	CHECK(want(false, true, true, GIB, false, &fb, &why) == TLS_WANT_AES);
	CHECK(fb == TLS_WANT_CHACHA);
	CHECK_STR(why, "fits one key");
	CHECK(want(false, true, true, GIB, true, &fb, &why) == TLS_WANT_AES);
	CHECK(fb == TLS_WANT_ANY);
	/* a push that may not fit */
	CHECK(want(false, true, true, 200 * GIB, false, &fb, &why) ==
	      TLS_WANT_CHACHA);
	CHECK_STR(why, "may exceed the key limit");
	CHECK(want(false, true, true, 200 * GIB, true, &fb, &why) ==
	      TLS_WANT_ANY);
	CHECK_STR(why, "KeyUpdate at the key limit");
	/* a pipe: its size is unknown */
	CHECK(want(false, true, false, 0, false, &fb, &why) ==
	      TLS_WANT_CHACHA);
	CHECK(want(false, true, false, 0, true, &fb, &why) == TLS_WANT_ANY);
	/* a pull: the sender knows; AES-GCM only, and a fallback */
	CHECK(want(false, false, false, 0, false, &fb, &why) == TLS_WANT_AES);
	CHECK(fb == TLS_WANT_CHACHA);
	CHECK_STR(why, "the sender checks its size");
	CHECK(want(false, false, false, 0, true, &fb, &why) == TLS_WANT_AES);
	CHECK(fb == TLS_WANT_ANY);
}

static void
test_servers(void)
{
	enum tls_want fb;
	const char *why;

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
	const char *why;

	/* whatever else holds */
	CHECK(cipher_want(&f, &fb, &why) == TLS_WANT_CHACHA);
	CHECK(fb == TLS_WANT_CHACHA);
	CHECK_STR(why, "no AES instructions");
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
	const char *why;

	CHECK(cipher_want(&f, &fb, &why) == TLS_WANT_AES);
	CHECK_STR(why, "queries only");
	CHECK(fb == TLS_WANT_CHACHA);
}

int
main(void)
{
	test_fits();
	test_clients();
	test_servers();
	test_no_aes();
	test_queries();
	T_DONE("test_cipher");
}
