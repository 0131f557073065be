/*
 * ktls_linux.h - Linux internals of ktls_linux.c shared with its unit test
 * (tests/unit/test_ktls.c) only.
 */
#ifndef ZKTLS_KTLS_LINUX_H
#define ZKTLS_KTLS_LINUX_H

#include <sys/socket.h>
#include <linux/tls.h>

#include "zktls.h"

/* One direction's TLS_TX / TLS_RX argument, for any cipher we offload. */
union ktls_crypto_info {
	struct tls_crypto_info base;
	struct tls12_crypto_info_aes_gcm_128 aes128;
	struct tls12_crypto_info_aes_gcm_256 aes256;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
};

/*
 * Fill *info for TLS 1.3 from one direction's keys and set *len to the exact
 * optlen the kernel wants for that cipher.  AES-GCM: salt = iv[0..3],
 * iv = iv[4..11]; ChaCha20-Poly1305: the whole 12-byte iv; rec_seq = k->seq
 * big-endian.  Returns 0, or -ZK_ENOKTLS (after zk_fail) for a suite or key
 * length the kernel cannot take.  The caller wipes *info.
 */
int ktls_fill_info(const struct tls_dir_keys *k, union ktls_crypto_info *info,
		   socklen_t *len);

#endif
