/*
 * tlspeer.c - a TLS 1.3 peer for zktls's tests that writes its own records.
 *
 * zktls does its handshake with OpenSSL and then seals and opens TLS 1.3
 * records itself (user plane) or has the kernel do it.  OpenSSL as a peer
 * only sends the record sequences OpenSSL likes to send, so much of what a
 * receiver must handle is never exercised: zero-length application_data
 * records, maximum padding, NewSessionTickets between data records, and
 * (illegal) zero-length handshake records.  tlspeer does the handshake with
 * OpenSSL too (TLS 1.3, ALPN zktls/1, mutual X.509 authentication), takes
 * the application traffic secrets from the key-log callback, derives keys
 * and IVs itself (RFC 8446 7.3), and from then on writes and reads records
 * on the raw socket, speaking the zktls session protocol (src/proto.h) as
 * the stream sender or receiver, with the injections asked for.
 *
 * Build (from the repository root):
 *   cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -O2 -Isrc \
 *      tests/tools/tlspeer.c src/proto.c -o build/release/tlspeer \
 *      $(pkg-config --libs openssl)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "proto.h"

#define ALPN "\x07zktls/1"
#define REC_HDR 5
#define REC_TAG 16
#define MAX_PLAIN 16384                 /* 2^14 */
#define MAX_INNER (MAX_PLAIN + 1)       /* content + type + padding */
#define MAX_CIPHER (MAX_PLAIN + 256)
#define OUT_CAP (1u << 20)              /* sealed records not yet written */
#define OUT_FLUSH (256u << 10)

enum { CT_ALERT = 21, CT_HANDSHAKE = 22, CT_DATA = 23 };
enum { HS_NST = 4, HS_KEY_UPDATE = 24 };
enum { XIT_OK, XIT_SYS, XIT_USAGE, XIT_AUTH, XIT_XFER };

static const char usage_text[] =
"usage: tlspeer (--connect HOST:PORT | --listen ADDR:PORT) --cert F --key F\n"
"               --ca F [--peer-name NAME] --role send|recv|list\n"
"               [--snapshot NAME] [--token TEXT]\n"
"               [--dataset NAME] [--timeout S] [--record-size N] [--tickets N]\n"
"               [--empty N] [--pad N] [--empty-handshake N]\n"
"               [--tickets-before-reply N] [--no-close-notify]\n"
"               [--server-tickets N] [--ciphersuites LIST]\n"
"A TLS 1.3 peer of zktls (one connection) that seals and opens its records\n"
"itself.  --role send: stdin is the stream, RESULT is printed as one line\n"
"\"result status= exit= bytes= guid= message=\"; --role recv: the stream\n"
"goes to stdout; --role list (--listen): a LIST is answered with no entries\n"
"and --token TEXT as the resume token, whatever it holds.\n"
"--listen prints \"tlspeer: listening on ADDR:PORT\" first.\n"
"  --timeout S         bounds the handshake and every read (default 30)\n"
"  --record-size N     stream bytes per record, 1..16384 (default 16384)\n"
"Injected into what this peer sends:\n"
"  --tickets N         N NewSessionTicket records after each data record\n"
"  --empty N           N zero-length data records after each data record\n"
"  --pad N             N zero padding bytes in each data record (capped at\n"
"                      an inner plaintext of 2^14+1 bytes)\n"
"  --empty-handshake N N zero-length handshake records after the handshake\n"
"  --tickets-before-reply N  (server) N ticket records before REPLY\n"
"  --no-close-notify   (send) end the stream with a TCP FIN only\n"
"  --server-tickets N  (server) OpenSSL itself sends N tickets\n"
"  --ciphersuites LIST TLS 1.3 suites allowed (OpenSSL syntax)\n"
"Exit: 0 ok, 1 local error, 2 usage, 3 handshake failed or REPLY not ok,\n"
"4 transport or protocol error, or RESULT not ok.\n";

static struct {
	const char *connect, *listen, *cert, *key, *ca, *peer_name, *role;
	const char *snapshot, *dataset, *ciphersuites, *token;
	unsigned long timeout_s, record_size, tickets, empty, pad, empty_hs;
	unsigned long tickets_before_reply, no_close_notify, server_tickets;
	int send, server, list;
} o = { .timeout_s = 30, .record_size = MAX_PLAIN };

/* Traffic secrets from the key log; wiped once the keys are derived. */
static uint8_t csec[EVP_MAX_MD_SIZE], ssec[EVP_MAX_MD_SIZE];
static size_t csec_len, ssec_len;
static unsigned long ossl_tickets; /* NewSessionTickets OpenSSL sent */

static struct {
	int fd;
	EVP_CIPHER_CTX *tx, *rx;
	uint8_t tx_iv[12], rx_iv[12];
	uint64_t tx_seq, rx_seq;
	uint8_t *out;                      /* OUT_CAP bytes of sealed records */
	size_t out_len;
	uint8_t in[REC_HDR + MAX_CIPHER];  /* the last record read */
	const uint8_t *app;                /* its unconsumed application data */
	size_t app_len;
} c = { .fd = -1 };

static uint8_t frame[PROTO_HDR_LEN + PROTO_MAX_BODY];

static void
wipe(void)
{
	OPENSSL_cleanse(csec, sizeof(csec));
	OPENSSL_cleanse(ssec, sizeof(ssec));
	OPENSSL_cleanse(c.tx_iv, sizeof(c.tx_iv));
	OPENSSL_cleanse(c.rx_iv, sizeof(c.rx_iv));
	EVP_CIPHER_CTX_free(c.tx); /* cleanses the key schedule */
	EVP_CIPHER_CTX_free(c.rx);
	c.tx = c.rx = NULL;
}

_Noreturn static void __attribute__((format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("tlspeer: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* The first queued OpenSSL error, as text. */
static const char *
ossl_err(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "no OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	return buf;
}

/* ------------------------------------------------------------ socket I/O */

static void
wait_fd(short ev, long ms)
{
	struct pollfd p = { c.fd, ev, 0 };
	int r;

	do
		r = poll(&p, 1, ms > 0 ? (int)ms : 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die(XIT_SYS, "poll: %s", strerror(errno));
	if (r == 0)
		die(XIT_XFER, "timed out after %lu s waiting for the peer",
		    o.timeout_s);
}

/* Read exactly n bytes; 0 if the peer closed before the first one. */
static int
read_full(uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r;

		wait_fd(POLLIN, (long)o.timeout_s * 1000);
		if ((r = read(c.fd, p + got, n - got)) < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die(XIT_XFER, "read: %s", strerror(errno));
		if (r == 0 && got == 0)
			return 0;
		if (r == 0)
			die(XIT_XFER, "connection closed in the middle of a "
			    "record");
		got += (size_t)r;
	}
	return 1;
}

static int
write_full(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void
flush(void)
{
	if (write_full(c.fd, c.out, c.out_len) < 0)
		die(XIT_XFER, "write: %s", strerror(errno));
	c.out_len = 0;
}

/* --------------------------------------------------------- record layer */

static void
rec_nonce(const uint8_t iv[12], uint64_t seq, uint8_t out[12])
{
	memcpy(out, iv, 12);
	for (int i = 0; i < 8; i++)
		out[11 - i] ^= (uint8_t)(seq >> (8 * i));
}

/* Seal one record (len <= 2^14) into the output buffer (RFC 8446 5.2). */
static void
seal(uint8_t type, const uint8_t *data, size_t len, size_t pad)
{
	size_t inner, need;
	uint8_t *r, *p, nonce[12];
	int n;

	if (pad > MAX_INNER - 1 - len)
		pad = MAX_INNER - 1 - len;
	inner = len + 1 + pad;
	need = REC_HDR + inner + REC_TAG;
	if (c.out_len + need > OUT_CAP)
		flush();
	r = c.out + c.out_len;
	p = r + REC_HDR;
	r[0] = CT_DATA; /* every TLS 1.3 record is opaque application_data */
	r[1] = r[2] = 3;
	r[3] = (uint8_t)((inner + REC_TAG) >> 8);
	r[4] = (uint8_t)(inner + REC_TAG);
	if (len > 0)
		memcpy(p, data, len);
	p[len] = type;
	memset(p + len + 1, 0, pad);
	rec_nonce(c.tx_iv, c.tx_seq++, nonce);
	if (EVP_CipherInit_ex(c.tx, NULL, NULL, NULL, nonce, 1) != 1 ||
	    EVP_CipherUpdate(c.tx, NULL, &n, r, REC_HDR) != 1 ||
	    EVP_CipherUpdate(c.tx, p, &n, p, (int)inner) != 1 ||
	    EVP_CipherFinal_ex(c.tx, p + inner, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c.tx, EVP_CTRL_AEAD_GET_TAG, REC_TAG,
				p + inner) != 1)
		die(XIT_SYS, "seal: %s", ossl_err());
	c.out_len += need;
	if (c.out_len >= OUT_FLUSH)
		flush();
}

/* A syntactically valid NewSessionTicket (RFC 8446 4.6.1), one record. */
static void
send_ticket(void)
{
	static uint64_t count;
	uint8_t m[4 + 53] = { HS_NST, 0, 0, 53, 0, 0, 0x1c, 0x20 }; /* 7200 s */
	uint8_t *p = m + 4;

	p[8] = 8;                               /* ticket_nonce<0..255> */
	for (int i = 0; i < 8; i++)
		p[9 + i] = (uint8_t)(count >> (56 - 8 * i));
	count++;
	p[18] = 32;                             /* ticket<1..2^16-1> */
	/* ticket_age_add and the ticket are random; extensions<0..> empty */
	if (RAND_bytes(p + 4, 4) != 1 || RAND_bytes(p + 19, 32) != 1)
		die(XIT_SYS, "RAND_bytes: %s", ossl_err());
	seal(CT_HANDSHAKE, m, sizeof(m), 0);
}

/* One application_data record and the injections that follow each. */
static void
send_data(const uint8_t *p, size_t len)
{
	unsigned long i;

	seal(CT_DATA, p, len, o.pad);
	for (i = 0; i < o.tickets; i++)
		send_ticket();
	for (i = 0; i < o.empty; i++)
		seal(CT_DATA, NULL, 0, o.pad);
}

static void
send_msg(const uint8_t *p, size_t len)
{
	for (size_t k; len > 0; p += k, len -= k) {
		k = len < MAX_PLAIN ? len : MAX_PLAIN;
		send_data(p, k);
	}
	flush();
}

static void
send_close_notify(void)
{
	seal(CT_ALERT, (const uint8_t[]){ 1, 0 }, 2, 0);
	flush();
}

/* Read and open one record; 0 at EOF before its first byte. */
static int
read_record(uint8_t *type, const uint8_t **content, size_t *len)
{
	uint8_t *h = c.in, *p = c.in + REC_HDR, nonce[12];
	size_t clen;
	int n, ok;

	if (!read_full(h, REC_HDR))
		return 0;
	clen = (size_t)h[3] << 8 | h[4];
	if (h[0] != CT_DATA || h[1] != 3 || h[2] != 3)
		die(XIT_XFER, "bad record header %02x %02x %02x", h[0], h[1],
		    h[2]);
	if (clen < 1 + REC_TAG || clen > MAX_CIPHER)
		die(XIT_XFER, "bad record length %zu", clen);
	if (!read_full(p, clen))
		die(XIT_XFER, "connection closed in the middle of a record");
	clen -= REC_TAG;
	rec_nonce(c.rx_iv, c.rx_seq, nonce);
	ok = EVP_CipherInit_ex(c.rx, NULL, NULL, NULL, nonce, 0) == 1 &&
	     EVP_CipherUpdate(c.rx, NULL, &n, h, REC_HDR) == 1 &&
	     EVP_CipherUpdate(c.rx, p, &n, p, (int)clen) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c.rx, EVP_CTRL_AEAD_SET_TAG, REC_TAG,
				 p + clen) == 1 &&
	     EVP_CipherFinal_ex(c.rx, p + clen, &n) == 1;
	if (!ok)
		die(XIT_XFER, "record %" PRIu64 " does not authenticate "
		    "(bad_record_mac)", c.rx_seq);
	c.rx_seq++;
	if (clen > MAX_INNER)
		die(XIT_XFER, "record_overflow: %zu bytes of plaintext", clen);
	while (clen > 0 && p[clen - 1] == 0)
		clen--;
	if (clen == 0)
		die(XIT_XFER, "record without a content type");
	*type = p[clen - 1];
	*content = p;
	*len = clen - 1;
	return 1;
}

/* Post-handshake handshake records: only NewSessionTickets are skipped. */
static void
check_handshake(const uint8_t *p, size_t len)
{
	size_t mlen;

	if (len == 0)
		die(XIT_XFER, "zero-length handshake record");
	for (; len > 0; p += 4 + mlen, len -= 4 + mlen) {
		if (len < 4 || (mlen = (size_t)p[1] << 16 | (size_t)p[2] << 8 |
				p[3]) > len - 4)
			die(XIT_XFER, "handshake message split across records");
		if (p[0] == HS_KEY_UPDATE)
			die(XIT_XFER, "peer sent KeyUpdate (not supported)");
		if (p[0] != HS_NST)
			die(XIT_XFER, "unexpected handshake message %u", p[0]);
	}
}

/* Wait for application data: 1 with c.app set, 0 at close_notify. */
static int
next_app(void)
{
	const uint8_t *p;
	size_t len;
	uint8_t type;

	for (;;) {
		if (!read_record(&type, &p, &len))
			die(XIT_XFER, "connection closed without close_notify "
			    "(truncated)");
		if (type == CT_DATA && len > 0) {
			c.app = p;
			c.app_len = len;
			return 1;
		} else if (type == CT_HANDSHAKE) {
			check_handshake(p, len);
		} else if (type == CT_ALERT) {
			if (len != 2)
				die(XIT_XFER, "bad alert (%zu bytes)", len);
			if (p[1] == 0)
				return 0;
			die(XIT_XFER, "peer sent alert %u (level %u)", p[1],
			    p[0]);
		} else if (type != CT_DATA) {
			die(XIT_XFER, "unexpected record content type %u", type);
		}
	}
}

static void
read_app(uint8_t *dst, size_t n, const char *what)
{
	for (size_t k; n > 0; dst += k, n -= k) {
		if (c.app_len == 0 && !next_app())
			die(XIT_XFER, "peer sent close_notify before the whole "
			    "%s", what);
		k = n < c.app_len ? n : c.app_len;
		memcpy(dst, c.app, k);
		c.app += k;
		c.app_len -= k;
	}
}

/* One protocol frame of the given type into frame[]; its body length. */
static size_t
read_frame(uint8_t want, const char *what)
{
	uint8_t type;
	uint32_t blen;
	const char *why;

	read_app(frame, PROTO_HDR_LEN, what);
	if (proto_parse_header(frame, PROTO_HDR_LEN, &type, &blen, &why) < 0)
		die(XIT_XFER, "bad %s frame: %s", what, why);
	if (type != want)
		die(XIT_XFER, "expected %s, got message type %u", what, type);
	read_app(frame + PROTO_HDR_LEN, blen, what);
	return blen;
}

/* ------------------------------------------------------------ handshake */

static void
keylog_cb(const SSL *ssl, const char *line)
{
	int client = strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0;
	size_t *len = client ? &csec_len : &ssec_len;
	const char *p;

	(void)ssl;
	if (!client && strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) != 0)
		return;
	if ((p = strchr(line + 24, ' ')) == NULL ||
	    OPENSSL_hexstr2buf_ex(client ? csec : ssec, sizeof(csec), len,
				  p + 1, '\0') != 1)
		*len = 0; /* setup_keys() will complain */
}

/* Count the tickets OpenSSL sends: each uses up a write sequence number
 * under the server's application traffic keys. */
static void
msg_cb(int write_p, int version, int content_type, const void *buf,
       size_t len, SSL *ssl, void *arg)
{
	(void)version, (void)ssl, (void)arg;
	if (write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
	    ((const uint8_t *)buf)[0] == SSL3_MT_NEWSESSION_TICKET)
		ossl_tickets++;
}

static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
	const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	(void)ssl, (void)arg;
	if (SSL_select_next_proto(&sel, outlen, (const unsigned char *)ALPN,
				  sizeof(ALPN) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
make_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(o.server ? TLS_server_method() :
				   TLS_client_method());

	if (ctx == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    (!o.server && SSL_CTX_set_alpn_protos(ctx,
	    (const unsigned char *)ALPN, sizeof(ALPN) - 1) != 0))
		die(XIT_SYS, "TLS setup: %s", ossl_err());
	if (SSL_CTX_use_certificate_chain_file(ctx, o.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, o.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		die(XIT_SYS, "certificate or key: %s", ossl_err());
	if (SSL_CTX_load_verify_locations(ctx, o.ca, NULL) != 1)
		die(XIT_SYS, "CA file: %s", ossl_err());
	if (o.ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, o.ciphersuites) != 1)
		die(XIT_USAGE, "--ciphersuites: %s", ossl_err());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
			   SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_num_tickets(ctx, o.server ? o.server_tickets : 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_keylog_callback(ctx, keylog_cb);
	SSL_CTX_set_msg_callback(ctx, msg_cb);
	if (o.server)
		SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	return ctx;
}

/* The handshake, non-blocking and bounded by --timeout. */
static SSL *
handshake(SSL_CTX *ctx)
{
	SSL *ssl = SSL_new(ctx);
	time_t deadline = time(NULL) + (time_t)o.timeout_s;
	const unsigned char *alpn = NULL;
	unsigned int alen = 0;
	int r, err, fl = fcntl(c.fd, F_GETFL);

	if (ssl == NULL || SSL_set_fd(ssl, c.fd) != 1 ||
	    (o.peer_name != NULL && (SSL_set1_host(ssl, o.peer_name) != 1 ||
	    (!o.server && SSL_set_tlsext_host_name(ssl, o.peer_name) != 1))))
		die(XIT_SYS, "TLS setup: %s", ossl_err());
	if (o.server)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	if (fl < 0 || fcntl(c.fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die(XIT_SYS, "fcntl: %s", strerror(errno));
	while ((r = SSL_do_handshake(ssl)) != 1) {
		err = SSL_get_error(ssl, r);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
			long v = SSL_get_verify_result(ssl);

			if (v != X509_V_OK)
				die(XIT_AUTH, "TLS handshake failed: certificate "
				    "verify: %s", X509_verify_cert_error_string(v));
			die(XIT_AUTH, "TLS handshake failed: %s", ossl_err());
		}
		wait_fd(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			(long)(deadline - time(NULL)) * 1000);
	}
	if (fcntl(c.fd, F_SETFL, fl) < 0)
		die(XIT_SYS, "fcntl: %s", strerror(errno));
	SSL_get0_alpn_selected(ssl, &alpn, &alen);
	if (alen != sizeof(ALPN) - 2 || memcmp(alpn, &ALPN[1], alen) != 0)
		die(XIT_AUTH, "peer did not agree to ALPN zktls/1");
	if (SSL_version(ssl) != TLS1_3_VERSION)
		die(XIT_AUTH, "peer negotiated %s", SSL_get_version(ssl));
	if (SSL_has_pending(ssl))
		die(XIT_XFER, "OpenSSL read past the handshake");
	return ssl;
}

/* HKDF-Expand-Label(secret, label, "", outlen), RFC 8446 7.1. */
static void
expand_label(const EVP_MD *md, const uint8_t *secret, size_t slen,
	     const char *label, uint8_t *out, size_t outlen)
{
	uint8_t info[2 + 1 + 255 + 1];
	size_t ll = strlen(label), il = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ok;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST,
			(char *)EVP_MD_get0_name(md), 0),
		OSSL_PARAM_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, slen),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, info, 0),
		OSSL_PARAM_END
	};

	/* HkdfLabel: u16 length, "tls13 " + label<7..255>, context<0..255> */
	info[il++] = (uint8_t)(outlen >> 8);
	info[il++] = (uint8_t)outlen;
	info[il++] = (uint8_t)(6 + ll);
	memcpy(info + il, "tls13 ", 6);
	memcpy(info + il + 6, label, ll);
	il += 6 + ll;
	info[il++] = 0;
	params[3].data_size = il;
	ok = kctx != NULL && EVP_KDF_derive(kctx, out, outlen, params) == 1;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	if (!ok)
		die(XIT_SYS, "HKDF-Expand-Label: %s", ossl_err());
}

/* One direction's AEAD context and IV from its traffic secret. */
static EVP_CIPHER_CTX *
dir_keys(const EVP_CIPHER *aead, const EVP_MD *md, size_t klen,
	 const uint8_t *secret, size_t slen, uint8_t iv[12], int enc)
{
	uint8_t key[32];
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();

	expand_label(md, secret, slen, "key", key, klen);
	expand_label(md, secret, slen, "iv", iv, 12);
	if (x == NULL || EVP_CipherInit_ex(x, aead, NULL, key, NULL, enc) != 1)
		die(XIT_SYS, "cipher setup: %s", ossl_err());
	OPENSSL_cleanse(key, sizeof(key));
	return x;
}

static void
setup_keys(SSL *ssl)
{
	const SSL_CIPHER *ciph = SSL_get_current_cipher(ssl);
	const EVP_CIPHER *aead;
	const EVP_MD *md = EVP_sha256();
	size_t klen = 32;

	switch (ciph ? SSL_CIPHER_get_protocol_id(ciph) : 0) {
	case 0x1301:
		aead = EVP_aes_128_gcm(), klen = 16;
		break;
	case 0x1302:
		aead = EVP_aes_256_gcm(), md = EVP_sha384();
		break;
	case 0x1303:
		aead = EVP_chacha20_poly1305();
		break;
	default:
		die(XIT_AUTH, "cipher suite %s not supported",
		    ciph ? SSL_CIPHER_get_name(ciph) : "?");
	}
	if (csec_len != (size_t)EVP_MD_get_size(md) || ssec_len != csec_len)
		die(XIT_SYS, "traffic secrets not captured from the key log");
	c.tx = dir_keys(aead, md, klen, o.server ? ssec : csec, csec_len,
			c.tx_iv, 1);
	c.rx = dir_keys(aead, md, klen, o.server ? csec : ssec, csec_len,
			c.rx_iv, 0);
	OPENSSL_cleanse(csec, sizeof(csec));
	OPENSSL_cleanse(ssec, sizeof(ssec));
	csec_len = ssec_len = 0;
	/* OpenSSL's own tickets went out under the server's write keys;
	 * nothing has been read under the application keys yet. */
	c.tx_seq = o.server ? ossl_tickets : 0;
}

/* -------------------------------------------------------------- network */

/* HOST:PORT or [V6]:PORT; HOST may be empty for --listen. */
static struct addrinfo *
resolve(const char *hp, const char *opt)
{
	char host[256];
	int v6 = hp[0] == '[', r;
	const char *end = v6 ? strchr(hp, ']') : strrchr(hp, ':');
	const char *port = end == NULL ? NULL : end + v6;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;

	if (port == NULL || port[0] != ':' || port[1] == '\0' ||
	    (size_t)(end - hp - v6) >= sizeof(host))
		die(XIT_USAGE, "%s: expected HOST:PORT, got %s", opt, hp);
	snprintf(host, sizeof(host), "%.*s", (int)(end - hp - v6), hp + v6);
	port++;
	hints.ai_flags = o.server ? AI_PASSIVE : 0;
	if ((r = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai)) != 0)
		die(XIT_USAGE, "%s %s: %s", opt, hp, gai_strerror(r));
	return ai;
}

static void
do_connect(void)
{
	struct addrinfo *ai = resolve(o.connect, "--connect"), *a;
	int e = 0;

	for (a = ai; a != NULL && c.fd < 0; a = a->ai_next) {
		c.fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
		if (c.fd >= 0 && connect(c.fd, a->ai_addr, a->ai_addrlen) < 0) {
			e = errno;
			close(c.fd);
			c.fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (c.fd < 0)
		die(XIT_XFER, "connect %s: %s", o.connect, strerror(e));
}

static void
do_listen(void)
{
	struct addrinfo *ai = resolve(o.listen, "--listen");
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];
	int one = 1, l = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
				0);

	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one,
				sizeof(one)) < 0 ||
	    bind(l, ai->ai_addr, ai->ai_addrlen) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&ss, &sl) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		die(XIT_XFER, "listen %s: %s", o.listen, strerror(errno));
	freeaddrinfo(ai);
	fprintf(stderr, ss.ss_family == AF_INET6 ?
		"tlspeer: listening on [%s]:%s\n" :
		"tlspeer: listening on %s:%s\n", host, port);
	fflush(stderr);
	while ((c.fd = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
		if (errno != EINTR)
			die(XIT_XFER, "accept: %s", strerror(errno));
	close(l);
}

/* ---------------------------------------------------------------- roles */

static int
do_send(void)
{
	static uint8_t buf[MAX_PLAIN];
	static struct proto_result res;
	const char *why;
	size_t n;
	ssize_t r;

	do {
		for (n = 0; n < o.record_size; n += (size_t)r) {
			r = read(0, buf + n, o.record_size - n);
			if (r == 0)
				break;
			if (r < 0 && errno != EINTR)
				die(XIT_SYS, "read stdin: %s", strerror(errno));
			r = r < 0 ? 0 : r;
		}
		if (n > 0)
			send_data(buf, n);
	} while (n == o.record_size);
	if (!o.no_close_notify) {
		send_close_notify();
	} else {
		flush();
		if (shutdown(c.fd, SHUT_WR) < 0)
			die(XIT_XFER, "shutdown: %s", strerror(errno));
	}
	n = read_frame(PROTO_RESULT, "RESULT");
	if (proto_decode_result(frame + PROTO_HDR_LEN, n, &res, &why) < 0)
		die(XIT_XFER, "bad RESULT: %s", why);
	printf("result status=%u exit=%" PRId32 " bytes=%" PRIu64 " guid=%"
	       PRIu64 " message=%s\n", res.status, res.exit_status, res.bytes,
	       res.guid, res.message);
	fflush(stdout);
	if (c.app_len > 0 || next_app())
		die(XIT_XFER, "peer sent data after RESULT");
	return res.status == PROTO_ST_OK ? XIT_OK : XIT_XFER;
}

static int
do_recv(void)
{
	static struct proto_result res;
	uint64_t count = 0;
	ssize_t r;
	long n;

	do {
		if (c.app_len > 0 && write_full(1, c.app, c.app_len) < 0)
			die(XIT_SYS, "write stdout: %s", strerror(errno));
		count += c.app_len;
		c.app_len = 0;
	} while (next_app());
	res.bytes = count;
	if ((n = proto_encode_result(&res, frame, sizeof(frame))) < 0)
		die(XIT_SYS, "cannot encode RESULT");
	send_msg(frame, (size_t)n);
	send_close_notify();
	do { /* the sender closes the connection after our close_notify */
		wait_fd(POLLIN, (long)o.timeout_s * 1000);
		r = read(c.fd, c.in, sizeof(c.in));
	} while (r > 0 || (r < 0 && errno == EINTR));
	if (r < 0 && errno != ECONNRESET)
		die(XIT_XFER, "read: %s", strerror(errno));
	return XIT_OK;
}

/* A server that answers a LIST with --token, unchecked (a hostile one). */
static int
do_list(void)
{
	static struct proto_listing l;
	uint32_t taken;
	long n;

	read_frame(PROTO_LIST, "LIST");
	l.status = PROTO_ST_OK;
	snprintf(l.token, sizeof(l.token), "%s", o.token ? o.token : "");
	if ((n = proto_encode_listing(&l, 0, &taken, frame,
				      sizeof(frame))) < 0)
		die(XIT_SYS, "cannot encode LISTING");
	send_msg(frame, (size_t)n);
	if (c.app_len > 0 || next_app())
		die(XIT_XFER, "peer sent data after LISTING");
	send_close_notify();
	return XIT_OK;
}

/* ----------------------------------------------------------------- main */

/* REQUEST (client) or REPLY (server): the exchange before the stream. */
static void
session_start(void)
{
	static struct proto_request req;
	static struct proto_reply rep;
	uint8_t want = o.send ? PROTO_OP_PULL : PROTO_OP_PUSH;
	const char *why, *role = o.send ? "sender" : "receiver";
	long n;

	if (!o.server) {
		req.op = o.send ? PROTO_OP_PUSH : PROTO_OP_PULL;
		snprintf(req.dataset, sizeof(req.dataset), "%s", o.dataset);
		snprintf(req.snapshot, sizeof(req.snapshot), "%s",
			 o.send ? o.snapshot : "");
		if ((n = proto_encode_request(&req, frame, sizeof(frame))) < 0)
			die(XIT_SYS, "cannot encode REQUEST");
		send_msg(frame, (size_t)n);
		n = (long)read_frame(PROTO_REPLY, "REPLY");
		if (proto_decode_reply(frame + PROTO_HDR_LEN, (size_t)n, &rep,
				       &why) < 0)
			die(XIT_XFER, "bad REPLY: %s", why);
		if (rep.status != PROTO_ST_OK)
			die(XIT_AUTH, "peer refused the request (%s): %s",
			    proto_status_name(rep.status), rep.message);
		return;
	}
	n = (long)read_frame(PROTO_REQUEST, "REQUEST");
	if (proto_decode_request(frame + PROTO_HDR_LEN, (size_t)n, &req,
				 &why) < 0)
		die(XIT_XFER, "bad REQUEST: %s", why);
	if (req.op != want) {
		rep.status = PROTO_ST_DENIED;
		snprintf(rep.message, sizeof(rep.message),
			 "tlspeer is the stream %s", role);
	}
	snprintf(rep.dataset, sizeof(rep.dataset), "%s",
		 o.send ? o.snapshot : o.dataset);
	if ((n = proto_encode_reply(&rep, frame, sizeof(frame))) < 0)
		die(XIT_SYS, "cannot encode REPLY");
	send_msg(frame, (size_t)n);
	if (req.op != want)
		die(XIT_XFER, "peer asked to %s, but tlspeer is the stream %s",
		    req.op == PROTO_OP_PUSH ? "push" : "pull", role);
}

static void
parse_args(int argc, char **argv)
{
	static const struct {
		const char *name;
		const char **s;         /* string option, or */
		unsigned long *n, max;  /* number (flag if max == 0) */
	} t[] = {
		{ "connect", &o.connect, 0, 0 }, { "listen", &o.listen, 0, 0 },
		{ "cert", &o.cert, 0, 0 }, { "key", &o.key, 0, 0 },
		{ "ca", &o.ca, 0, 0 }, { "peer-name", &o.peer_name, 0, 0 },
		{ "role", &o.role, 0, 0 }, { "snapshot", &o.snapshot, 0, 0 },
		{ "dataset", &o.dataset, 0, 0 }, { "token", &o.token, 0, 0 },
		{ "ciphersuites", &o.ciphersuites, 0, 0 },
		{ "timeout", 0, &o.timeout_s, 86400 },
		{ "record-size", 0, &o.record_size, MAX_PLAIN },
		{ "tickets", 0, &o.tickets, 1000000 },
		{ "empty", 0, &o.empty, 1000000 },
		{ "pad", 0, &o.pad, MAX_PLAIN },
		{ "empty-handshake", 0, &o.empty_hs, 100000000 },
		{ "tickets-before-reply", 0, &o.tickets_before_reply, 100000000 },
		{ "server-tickets", 0, &o.server_tickets, 100 },
		{ "no-close-notify", 0, &o.no_close_notify, 0 },
		{ "help", 0, 0, 0 },
	};
	enum { NT = sizeof(t) / sizeof(t[0]) };
	struct option lo[NT + 1] = { { 0, 0, 0, 0 } };
	int i, opt;

	for (i = 0; i < NT; i++)
		lo[i] = (struct option){ t[i].name, t[i].s || t[i].max, 0, i };
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end;

		if (opt == '?' || !strcmp(t[opt].name, "help")) {
			fputs(usage_text, opt == '?' ? stderr : stdout);
			exit(opt == '?' ? XIT_USAGE : XIT_OK);
		} else if (t[opt].s != NULL) {
			*t[opt].s = optarg;
		} else if (t[opt].max == 0) {
			*t[opt].n = 1;
		} else {
			errno = 0;
			*t[opt].n = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    errno != 0 || *t[opt].n > t[opt].max)
				die(XIT_USAGE, "--%s: expected 0..%lu, got '%s'",
				    t[opt].name, t[opt].max, optarg);
		}
	}
	if (optind != argc || !o.role || !o.cert || !o.key || !o.ca ||
	    !o.connect == !o.listen) {
		fputs(usage_text, stderr);
		exit(XIT_USAGE);
	}
	o.server = o.listen != NULL;
	o.send = strcmp(o.role, "send") == 0;
	o.list = strcmp(o.role, "list") == 0;
	if (!o.send && !o.list && strcmp(o.role, "recv") != 0)
		die(XIT_USAGE, "--role: send, recv or list, not '%s'", o.role);
	if (o.list && !o.server)
		die(XIT_USAGE, "--role list needs --listen");
	if (o.record_size == 0 || o.timeout_s == 0)
		die(XIT_USAGE, "--record-size and --timeout must be > 0");
	if (!o.server && (o.tickets_before_reply || o.server_tickets))
		die(XIT_USAGE, "--tickets-before-reply and --server-tickets "
		    "need --listen");
	o.snapshot = o.snapshot ? o.snapshot : "";
	o.dataset = o.dataset ? o.dataset : "";
	if (strlen(o.snapshot) >= PROTO_NAME_LEN ||
	    strlen(o.dataset) >= PROTO_NAME_LEN)
		die(XIT_USAGE, "--snapshot/--dataset: too long");
}

int
main(int argc, char **argv)
{
	SSL_CTX *ctx;
	SSL *ssl;
	unsigned long i;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	atexit(wipe);
	if ((c.out = malloc(OUT_CAP)) == NULL)
		die(XIT_SYS, "out of memory");
	ctx = make_ctx();
	if (o.server)
		do_listen();
	else
		do_connect();
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	ssl = handshake(ctx);
	setup_keys(ssl);
	/* From here on OpenSSL never touches the socket: free it silently. */
	SSL_set_quiet_shutdown(ssl, 1);
	SSL_free(ssl);
	SSL_CTX_free(ctx);

	for (i = 0; i < o.empty_hs; i++)
		seal(CT_HANDSHAKE, NULL, 0, 0);
	for (i = 0; i < o.tickets_before_reply; i++)
		send_ticket();
	flush();
	if (o.list)
		return do_list();
	session_start();
	return o.send ? do_send() : do_recv();
}
