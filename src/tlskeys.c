/*
 * tlskeys.c - the TLS 1.3 key schedule zktls needs after the handshake
 * (RFC 8446 section 7): traffic keys and ivs from a traffic secret, and
 * the next secret for KeyUpdate.  Shared by the kernel switch (tls.c,
 * plane.c) and the user plane's record layer (tlsrec.c); no I/O.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "zktls.h"

static int
ossl_fail(int code, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	int ret = r ? zk_fail(code, "%s: %s", what, r) : zk_fail(code, "%s", what);

	ERR_clear_error();
	return ret;
}

static const EVP_MD *
suite_md(uint16_t suite, size_t *keylen)
{
	switch (suite) {
	case SUITE_AES_128_GCM:
		*keylen = 16;
		return EVP_sha256();
	case SUITE_AES_256_GCM:
		*keylen = 32;
		return EVP_sha384();
	case SUITE_CHACHA20_POLY1305:
		*keylen = 32;
		return EVP_sha256();
	default:
		return NULL;
	}
}

int
tls13_expand_label(uint16_t suite, const uint8_t *secret, size_t slen,
		   const char *label, uint8_t *out, size_t outlen)
{
	uint8_t info[2 + 1 + 255 + 1];
	size_t ll = strlen(label), il = 0, keylen;
	const EVP_MD *md = suite_md(suite, &keylen);
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5];
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, r = -1;

	if (md == NULL || ll + 6 > 255 || outlen > 0xffff)
		return zk_fail(ZK_ESYS, "tls13_expand_label: bad arguments");
	/* HkdfLabel: uint16 length, opaque label<7..255> = "tls13 " + label,
	 * opaque context<0..255> = "" (RFC 8446 7.1). */
	info[il++] = (uint8_t)(outlen >> 8);
	info[il++] = (uint8_t)outlen;
	info[il++] = (uint8_t)(6 + ll);
	memcpy(info + il, "tls13 ", 6);
	il += 6;
	memcpy(info + il, label, ll);
	il += ll;
	info[il++] = 0;

	kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	if (kdf == NULL || (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(
		OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
	params[1] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						      (void *)secret, slen);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						      info, il);
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, outlen, params) == 1)
		r = 0;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	if (r < 0)
		return ossl_fail(ZK_ESYS, "HKDF-Expand-Label");
	return 0;
}

int
tls13_traffic_keys(uint16_t suite, const uint8_t *secret, size_t slen,
		   struct tls_dir_keys *out)
{
	size_t keylen;
	int r;

	memset(out, 0, sizeof(*out));
	if (suite_md(suite, &keylen) == NULL)
		return zk_fail(ZK_ENOKTLS, "cipher suite 0x%04x cannot be "
			       "offloaded", suite);
	out->suite = suite;
	out->key_len = keylen;
	if ((r = tls13_expand_label(suite, secret, slen, "key", out->key,
				    keylen)) < 0 ||
	    (r = tls13_expand_label(suite, secret, slen, "iv", out->iv, 12)) < 0) {
		zk_wipe(out, sizeof(*out));
		return r;
	}
	if (slen > sizeof(out->secret)) {
		zk_wipe(out, sizeof(*out));
		return zk_fail(ZK_ESYS, "traffic secret too long");
	}
	memcpy(out->secret, secret, slen);
	out->secret_len = slen;
	return 0;
}

int
tls13_update_keys(struct tls_dir_keys *k)
{
	uint8_t next[sizeof(k->secret)];
	size_t slen = k->secret_len;
	uint16_t suite = k->suite;
	int r;

	if (slen == 0 || slen > sizeof(next))
		return zk_fail(ZK_ESYS, "no traffic secret to update");
	/* application_traffic_secret_N+1 = HKDF-Expand-Label(
	 *     application_traffic_secret_N, "traffic upd", "", Hash.length) */
	r = tls13_expand_label(suite, k->secret, slen, "traffic upd", next,
			       slen);
	if (r == 0)
		r = tls13_traffic_keys(suite, next, slen, k);
	zk_wipe(next, sizeof(next));
	return r;
}

uint64_t
tls_key_limit(uint16_t suite, uint64_t configured)
{
	if (suite == SUITE_CHACHA20_POLY1305)
		return UINT64_MAX;
	return configured > 0 && configured < ZK_KEY_LIMIT ? configured
							   : ZK_KEY_LIMIT;
}

void
tls_keys_wipe(struct tls_keys *k)
{
	zk_wipe(k, sizeof(*k));
}
