/*
 * test_ktls.c - the key material zktls hands to the kernel: traffic keys
 * derived from the TLS 1.3 traffic secrets of RFC 8448 section 3 ("Simple
 * 1-RTT Handshake") through tls13_traffic_keys(), and the TLS_TX/TLS_RX
 * argument that ktls_fill_info() builds from them (salt/iv split, cipher
 * struct sizes, big-endian record sequence number).
 *
 * That the kernel reads these structs the same way is checked in the VM:
 * tests/vm/ktls_selftest.c decrypts RFC 8448's own records with them.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ktls.h"
#include "ktls_linux.h"
#include "t.h"
#include "zktls.h"

/* RFC 8448 section 3: {client}/{server} derive secret "tls13 c/s ap
 * traffic", then "derive write traffic keys for application data". */
#define C_AP_SECRET "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"
#define C_AP_KEY    "17422dda596ed5d9acd890e3c63f5051"
#define C_AP_IV     "5b78923dee08579033e523d9"
#define S_AP_SECRET "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"
#define S_AP_KEY    "9f02283b6c9c07efc26bb9f2ac92e356"
#define S_AP_IV     "cf782b88dd83549aadf1e984"

static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (; s[0] && s[1] && n < cap; s += 2) {
		unsigned v;
		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
	}
	return n;
}

static int
eq_hex(const uint8_t *got, size_t len, const char *want)
{
	uint8_t w[64];

	return unhex(want, w, sizeof(w)) == len && memcmp(got, w, len) == 0;
}

static void
test_rfc8448_traffic_keys(void)
{
	uint8_t secret[32];
	struct tls_dir_keys k;

	CHECK(unhex(C_AP_SECRET, secret, sizeof(secret)) == 32);
	CHECK(tls13_traffic_keys(SUITE_AES_128_GCM, secret, 32, &k) == 0);
	CHECK(k.suite == SUITE_AES_128_GCM);
	CHECK(k.key_len == 16);
	CHECK(eq_hex(k.key, k.key_len, C_AP_KEY));
	CHECK(eq_hex(k.iv, 12, C_AP_IV));
	CHECK(k.seq == 0);

	CHECK(unhex(S_AP_SECRET, secret, sizeof(secret)) == 32);
	CHECK(tls13_traffic_keys(SUITE_AES_128_GCM, secret, 32, &k) == 0);
	CHECK(eq_hex(k.key, k.key_len, S_AP_KEY));
	CHECK(eq_hex(k.iv, 12, S_AP_IV));

	/* The same secret under ChaCha20 (also SHA-256): the key length is
	 * part of the HkdfLabel, so the 32-byte key is not an extension of
	 * the 16-byte one; the iv (same label, same length) is the same. */
	CHECK(tls13_traffic_keys(SUITE_CHACHA20_POLY1305, secret, 32, &k) == 0);
	CHECK(k.key_len == 32);
	CHECK(!eq_hex(k.key, 16, S_AP_KEY));
	CHECK(eq_hex(k.iv, 12, S_AP_IV));
	zk_wipe(&k, sizeof(k));
}

static void
test_fill_aes128(void)
{
	uint8_t secret[32];
	struct tls_dir_keys k;
	union ktls_crypto_info info;
	socklen_t len = 0;

	/* The server's first application record in RFC 8448 has sequence
	 * number 1 (its NewSessionTicket took 0). */
	unhex(S_AP_SECRET, secret, sizeof(secret));
	CHECK(tls13_traffic_keys(SUITE_AES_128_GCM, secret, 32, &k) == 0);
	k.seq = 1;
	CHECK(ktls_fill_info(&k, &info, &len) == 0);
	CHECK(len == sizeof(struct tls12_crypto_info_aes_gcm_128));
	CHECK(len == 40);
	CHECK(info.aes128.info.version == 0x0304);
	CHECK(info.aes128.info.cipher_type == TLS_CIPHER_AES_GCM_128);
	CHECK(eq_hex(info.aes128.key, 16, S_AP_KEY));
	CHECK(eq_hex(info.aes128.salt, 4, "cf782b88"));
	CHECK(eq_hex(info.aes128.iv, 8, "dd83549aadf1e984"));
	CHECK(eq_hex(info.aes128.rec_seq, 8, "0000000000000001"));

	k.seq = 0x0102030405060708ull;
	CHECK(ktls_fill_info(&k, &info, &len) == 0);
	CHECK(eq_hex(info.aes128.rec_seq, 8, "0102030405060708"));
	k.seq = 0xfedcba9876543210ull;
	CHECK(ktls_fill_info(&k, &info, &len) == 0);
	CHECK(eq_hex(info.aes128.rec_seq, 8, "fedcba9876543210"));
	zk_wipe(&k, sizeof(k));
	zk_wipe(&info, sizeof(info));
}

static void
test_fill_aes256_chacha(void)
{
	struct tls_dir_keys k;
	union ktls_crypto_info info;
	socklen_t len = 0;
	size_t i;

	memset(&k, 0, sizeof(k));
	for (i = 0; i < 32; i++)
		k.key[i] = (uint8_t)(0xa0 + i);
	for (i = 0; i < 12; i++)
		k.iv[i] = (uint8_t)(0x10 + i);
	k.seq = 0x00000000000a0b0cull;

	k.suite = SUITE_AES_256_GCM;
	k.key_len = 32;
	CHECK(ktls_fill_info(&k, &info, &len) == 0);
	CHECK(len == sizeof(struct tls12_crypto_info_aes_gcm_256));
	CHECK(len == 56);
	CHECK(info.aes256.info.version == TLS_1_3_VERSION);
	CHECK(info.aes256.info.cipher_type == TLS_CIPHER_AES_GCM_256);
	CHECK(memcmp(info.aes256.key, k.key, 32) == 0);
	CHECK(eq_hex(info.aes256.salt, 4, "10111213"));
	CHECK(eq_hex(info.aes256.iv, 8, "1415161718191a1b"));
	CHECK(eq_hex(info.aes256.rec_seq, 8, "00000000000a0b0c"));

	k.suite = SUITE_CHACHA20_POLY1305;
	CHECK(ktls_fill_info(&k, &info, &len) == 0);
	CHECK(len == sizeof(struct tls12_crypto_info_chacha20_poly1305));
	CHECK(len == 56);
	CHECK(info.chacha.info.version == TLS_1_3_VERSION);
	CHECK(info.chacha.info.cipher_type == TLS_CIPHER_CHACHA20_POLY1305);
	CHECK(memcmp(info.chacha.key, k.key, 32) == 0);
	CHECK(eq_hex(info.chacha.iv, 12, "101112131415161718191a1b"));
	CHECK(eq_hex(info.chacha.rec_seq, 8, "00000000000a0b0c"));
}

static void
test_fill_rejects(void)
{
	struct tls_dir_keys k;
	union ktls_crypto_info info;
	socklen_t len = 0;

	memset(&k, 0, sizeof(k));
	k.suite = SUITE_AES_128_GCM;
	k.key_len = 32; /* a 256-bit key for a 128-bit cipher */
	zk_clear();
	CHECK(ktls_fill_info(&k, &info, &len) == -ZK_ENOKTLS);
	CHECK_STR(zk_errmsg(),
		  "kernel TLS: AES-128-GCM wants a 16-byte key, got 32");

	k.suite = 0x1304; /* TLS_AES_128_CCM_SHA256: not offloaded here */
	k.key_len = 16;
	zk_clear();
	CHECK(ktls_fill_info(&k, &info, &len) == -ZK_ENOKTLS);
	CHECK_STR(zk_errmsg(), "kernel TLS cannot take cipher suite 0x1304");
	zk_clear();
}

/* On a host without kernel TLS the probe explains itself; with it, it
 * passes.  Either way it records no error (a fallback is not a failure). */
static void
test_probe(void)
{
	char why[256];
	int r;

	zk_clear();
	memset(why, 'x', sizeof(why));
	r = ktls_probe(why, sizeof(why));
	CHECK(r == 0 || r == -ZK_ENOKTLS);
	CHECK(zk_errcode() == 0);
	if (r == 0) {
		CHECK_STR(why, "");
	} else {
		CHECK(strncmp(why, "kernel TLS ", 11) == 0);
		if (strstr(why, "TCP_ULP") && strstr(why, "No such file"))
			CHECK(strstr(why, "(load the tls module: modprobe tls)"));
		printf("test_ktls: probe: %s\n", why);
	}
}

int
main(void)
{
	test_rfc8448_traffic_keys();
	test_fill_aes128();
	test_fill_aes256_chacha();
	test_fill_rejects();
	test_probe();
	T_DONE("test_ktls");
}
