/*
 * tls.c - the TLS handshake: the only file that uses OpenSSL's SSL API
 * (tlsrec.c uses its AEAD primitives for the user plane's records).
 *
 * TLS 1.3 only, ALPN "zktls/1", mutual X.509 authentication, and only the
 * ciphers Linux kernel TLS can take over (AES-128-GCM, AES-256-GCM,
 * ChaCha20-Poly1305).  No session tickets: a ticket arriving after the
 * kernel switch would be a control record nobody asked for.
 *
 * Authentication fails closed: the peer must present a certificate, which
 * must chain to --ca and match --peer-name, and/or whose public key must
 * match --peer-pin (with --peer-pin and no --ca the chain is not checked,
 * as with an SSH host key).
 *
 * For the kernel switch we need the application traffic secrets.  OpenSSL
 * 3.0 offers them only through the key-log callback; we keep them in the
 * connection, derive key and iv (RFC 8446 7.3) when asked, and wipe them.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "zktls.h"

#define CIPHERSUITES                                                        \
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"             \
	"TLS_AES_128_GCM_SHA256"
/* For a side that may exceed a key and cannot change keys (cipher.c). */
#define CIPHERSUITES_CHACHA_FIRST                                           \
	"TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:"             \
	"TLS_AES_128_GCM_SHA256"
#define MAX_SECRET 48
/* A stream that fits one key's limit (cipher.c). */
#define CIPHERSUITES_AES_ONLY "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
#define CIPHERSUITES_AES_FIRST                                              \
	"TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:"                   \
	"TLS_CHACHA20_POLY1305_SHA256"

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	int server;
	int pin_only;                 /* no CA: a pin alone decides */
	uint8_t (*pins)[32];          /* acceptable key pins (any of them) */
	int npins;
	int later;                    /* serve: who it is is decided later */
	char peer_name[256];
	int name_is_ip;               /* --peer-name is an address */
	int wildcards;                /* --peer-name-wildcards */
	enum tls_want want, fallback; /* cipher suites (cipher.c) */
	enum cipher_why why;          /* why want */
	bool refused_cipher;          /* last handshake: insufficient_security */
};

struct tls {
	SSL *ssl;
	struct tls_ctx *ctx;
	int fd;
	/* Filled by callbacks during the handshake. */
	uint8_t csec[MAX_SECRET], ssec[MAX_SECRET];
	size_t csec_len, ssec_len;
	int pin_failed;
	int wild_would;               /* a wildcard SAN would have matched */
	int alert_recv;               /* last alert received, -1 none */
	bool sent_away;               /* refused its offer of AES-GCM only */
	char peer[300];
};

static int ex_index = -1;

/* The reason of the newest OpenSSL error, or NULL. */
static const char *
ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	return e ? ERR_reason_error_string(e) : NULL;
}

static int
ossl_fail(int code, const char *what)
{
	const char *r = ossl_reason();
	int ret = r ? zk_fail(code, "%s: %s", what, r) : zk_fail(code, "%s", what);

	ERR_clear_error();
	return ret;
}

/* Key-log callback: keep the application traffic secrets, nothing else. */
static void
keylog_cb(const SSL *ssl, const char *line)
{
	struct tls *t = SSL_get_ex_data(ssl, ex_index);
	uint8_t *dst;
	size_t *dlen;
	const char *p;
	size_t n = 0;

	if (t == NULL)
		return;
	if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0) {
		dst = t->csec;
		dlen = &t->csec_len;
	} else if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0) {
		dst = t->ssec;
		dlen = &t->ssec_len;
	} else {
		return;
	}
	p = strchr(line + 24, ' ');
	if (p == NULL)
		return;
	for (p++; p[0] && p[1] && n < MAX_SECRET; p += 2) {
		unsigned int v;
		char hex[3] = { p[0], p[1], '\0' };
		if (sscanf(hex, "%2x", &v) != 1)
			break;
		dst[n++] = (uint8_t)v;
	}
	*dlen = n;
}

static void
info_cb(const SSL *ssl, int where, int ret)
{
	struct tls *t = SSL_get_ex_data(ssl, ex_index);

	if (t != NULL && (where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT)
		t->alert_recv = ret & 0xff;
}

/* One DNS name from a certificate against --peer-name: equal ignoring
 * ASCII case, or, only with --peer-name-wildcards, a "*." name whose
 * wildcard stands for exactly the leftmost label (never a partial label,
 * never more than one label, never a bare "*.tld"). */
static int
dns_match(const char *want, const unsigned char *san, size_t len)
{
	size_t wl = strlen(want);

	if (memchr(san, '\0', len) != NULL)
		return 0; /* an embedded NUL: a name made to deceive */
	if (len == wl && strncasecmp(want, (const char *)san, len) == 0)
		return 1;
	return 0;
}

static int
wildcard_match(const char *want, const unsigned char *san, size_t len)
{
	const char *rest = strchr(want, '.');
	size_t rl;

	if (len < 4 || san[0] != '*' || san[1] != '.' || rest == NULL ||
	    rest == want || memchr(san, '\0', len) != NULL)
		return 0;
	/* at least two labels after the wildcard: "*.example.com" */
	if (memchr(san + 2, '.', len - 2) == NULL)
		return 0;
	if (memchr(san + 1, '*', len - 1) != NULL)
		return 0;
	rl = strlen(rest);
	return rl == len - 1 && strncasecmp(rest, (const char *)san + 1, rl) == 0;
}

/*
 * Does the peer's certificate name --peer-name?  Subject alternative names
 * decide when the certificate has any (RFC 6125): DNS names against a host
 * name, IP addresses against an address.  The subject CN is consulted only
 * when the certificate has no SAN at all.  On a match, what matched goes to
 * *matched ("DNS:name", "IP:addr", "CN=name") for the logs.
 */
struct name_want {
	const char *name;
	int is_ip;
	uint8_t ip[16];
	size_t ip_len;
	int wildcards;
};

static void
name_want(struct name_want *w, const char *name, int wildcards)
{
	memset(w, 0, sizeof(*w));
	w->name = name;
	w->wildcards = wildcards;
	if (inet_pton(AF_INET, name, w->ip) == 1)
		w->ip_len = 4, w->is_ip = 1;
	else if (inet_pton(AF_INET6, name, w->ip) == 1)
		w->ip_len = 16, w->is_ip = 1;
}

static int
name_matches(const struct name_want *ctx, X509 *cert, char *matched,
	     size_t cap, int *wild_would)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name,
					       NULL, NULL);
	int n = sans ? sk_GENERAL_NAME_num(sans) : 0, ok = 0;

	for (int i = 0; i < n && !ok; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const unsigned char *d;
		int len;

		if (g->type == GEN_DNS && !ctx->is_ip) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			if (dns_match(ctx->name, d, (size_t)len) ||
			    (ctx->wildcards &&
			     wildcard_match(ctx->name, d, (size_t)len))) {
				snprintf(matched, cap, "DNS:%.*s", len, d);
				ok = 1;
			} else if (wildcard_match(ctx->name, d,
						  (size_t)len)) {
				*wild_would = 1;
			}
		} else if (g->type == GEN_IPADD && ctx->is_ip) {
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if ((size_t)len == ctx->ip_len &&
			    memcmp(d, ctx->ip, (size_t)len) == 0) {
				snprintf(matched, cap, "IP:%s", ctx->name);
				ok = 1;
			}
		}
	}
	GENERAL_NAMES_free(sans);
	if (n == 0 && !ctx->is_ip) {
		X509_NAME *subj = X509_get_subject_name(cert);
		int last = -1, idx;

		/* The most specific (last) CN, as OpenSSL and browsers do. */
		while ((idx = X509_NAME_get_index_by_NID(subj, NID_commonName,
							 last)) >= 0)
			last = idx;
		if (last >= 0) {
			ASN1_STRING *cn = X509_NAME_ENTRY_get_data(
				X509_NAME_get_entry(subj, last));
			const unsigned char *d = ASN1_STRING_get0_data(cn);
			int len = ASN1_STRING_length(cn);

			if (dns_match(ctx->name, d, (size_t)len)) {
				snprintf(matched, cap, "CN=%.*s", len, d);
				ok = 1;
			}
		}
	}
	return ok;
}

static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls *t = ssl ? SSL_get_ex_data(ssl, ex_index) : NULL;
	const struct tls_ctx *ctx;
	X509 *cert;
	uint8_t *der = NULL, md[32];
	unsigned int mdlen = 0;
	int len, match = 0;

	if (t == NULL)
		return 0;
	ctx = t->ctx;
	if (ctx->pin_only)
		ok = 1; /* the pin alone decides, as with an SSH host key */
	if (!ok || X509_STORE_CTX_get_error_depth(xs) != 0)
		return ok;
	cert = X509_STORE_CTX_get_current_cert(xs);
	if (ctx->peer_name[0] != '\0') {
		struct name_want w;

		name_want(&w, ctx->peer_name, ctx->wildcards);
		if (!name_matches(&w, cert, t->peer, sizeof(t->peer),
				  &t->wild_would)) {
			X509_STORE_CTX_set_error(xs, w.is_ip
						 ? X509_V_ERR_IP_ADDRESS_MISMATCH
						 : X509_V_ERR_HOSTNAME_MISMATCH);
			return 0;
		}
	}
	/* A pin must match where pins decide the handshake: --peer-pin, or
	 * serve's pin-only clients (any of their pins). */
	if (ctx->npins == 0 || (ctx->later && !ctx->pin_only))
		return 1;
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (len <= 0)
		return 0;
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) &&
	    mdlen == 32)
		for (int i = 0; i < ctx->npins; i++)
			match |= CRYPTO_memcmp(md, ctx->pins[i], 32) == 0;
	OPENSSL_free(der);
	if (!match) {
		t->pin_failed = 1;
		X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

static int
alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
	       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char want[] = "\x07" ZKTLS_ALPN;
	unsigned char *sel = NULL;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, want, sizeof(want) - 1, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static int
load_files(SSL_CTX *c, const struct tls_files *cf)
{
	FILE *f;
	EVP_PKEY *pk = NULL;

	if (cf->cert == NULL || cf->key == NULL)
		return zk_fail(ZK_EUSAGE, "--cert and --key are required");
	if ((f = fopen(cf->cert, "re")) == NULL)
		return zk_fail_errno(ZK_EUSAGE, "cannot read certificate %s",
				     cf->cert);
	fclose(f);
	if (SSL_CTX_use_certificate_chain_file(c, cf->cert) != 1)
		return ossl_fail(ZK_EUSAGE, cf->cert);
	if ((f = fopen(cf->key, "re")) == NULL)
		return zk_fail_errno(ZK_EUSAGE, "cannot read private key %s",
				     cf->key);
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pk == NULL)
		return ossl_fail(ZK_EUSAGE, "cannot load private key");
	if (SSL_CTX_use_PrivateKey(c, pk) != 1) {
		EVP_PKEY_free(pk);
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			return zk_fail(ZK_EUSAGE, "private key %s does not "
				       "match certificate %s", cf->key,
				       cf->cert);
		}
		return ossl_fail(ZK_EUSAGE, "cannot use private key");
	}
	EVP_PKEY_free(pk);
	if (SSL_CTX_check_private_key(c) != 1) {
		ERR_clear_error();
		return zk_fail(ZK_EUSAGE, "private key %s does not match "
			       "certificate %s", cf->key, cf->cert);
	}
	if (cf->ca != NULL) {
		if ((f = fopen(cf->ca, "re")) == NULL)
			return zk_fail_errno(ZK_EUSAGE, "cannot read CA file %s",
					     cf->ca);
		fclose(f);
		if (SSL_CTX_load_verify_locations(c, cf->ca, NULL) != 1)
			return ossl_fail(ZK_EUSAGE, cf->ca);
	}
	return 0;
}

/* --peer-name is an IP address or a DNS host name (peer_name_valid). */
static int
set_peer_name(struct tls_ctx *ctx, const char *name)
{
	if (!peer_name_valid(name))
		return zk_fail(ZK_EUSAGE, "bad --peer-name '%s' (want a host "
			       "name or an IP address; wildcards are matched "
			       "with --peer-name-wildcards, never written "
			       "here)", name);
	snprintf(ctx->peer_name, sizeof(ctx->peer_name), "%s", name);
	{
		struct name_want w;
		name_want(&w, name, 0);
		ctx->name_is_ip = w.is_ip;
	}
	return 0;
}

/* The SSL_CTX every connection shares: TLS 1.3 only, the kernel's
 * ciphers, no tickets, mutual authentication, our certificate and key. */
/* A server's choice, made when the client's offer is known (see enum
 * tls_want).  A TLS 1.3 server follows the client's order unless told to
 * use its own. */
static int
hello_cb(SSL *ssl, int *al, void *arg)
{
	const struct tls_ctx *ctx = arg;
	const unsigned char *p = NULL;
	size_t n = SSL_client_hello_get0_ciphers(ssl, &p);
	const char *order = NULL;
	bool chacha = false;

	for (size_t i = 0; i + 1 < n; i += 2)
		if (((unsigned)p[i] << 8 | p[i + 1]) == SUITE_CHACHA20_POLY1305)
			chacha = true;
	switch (ctx->want) {
	case TLS_WANT_AES:
		order = CIPHERSUITES_AES_FIRST;
		break;
	case TLS_WANT_CHACHA:
		if (!chacha) {
			*al = SSL_AD_INSUFFICIENT_SECURITY;
			return SSL_CLIENT_HELLO_ERROR;
		}
		order = CIPHERSUITES_CHACHA_FIRST;
		break;
	case TLS_WANT_LATER:
		if (chacha)
			order = CIPHERSUITES_CHACHA_FIRST;
		break;
	default:
		break;
	}
	if (order != NULL) {
		if (SSL_set_ciphersuites(ssl, order) != 1) {
			*al = SSL_AD_INTERNAL_ERROR;
			return SSL_CLIENT_HELLO_ERROR;
		}
		SSL_set_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

static int
ctx_build(struct tls_ctx *ctx, const struct tls_files *files)
{
	static const unsigned char alpn[] = "\x07" ZKTLS_ALPN;
	SSL_CTX *c;

	if (ex_index < 0)
		ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	c = SSL_CTX_new(ctx->server ? TLS_server_method() : TLS_client_method());
	if (c == NULL)
		return ossl_fail(ZK_ESYS, "SSL_CTX_new");
	ctx->ssl_ctx = c;
	if (SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(c, CIPHERSUITES) != 1)
		return ossl_fail(ZK_ESYS, "cannot restrict TLS to 1.3");
	SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_num_tickets(c, 0);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(c, SSL_MODE_AUTO_RETRY);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   verify_cb);
	SSL_CTX_set_keylog_callback(c, keylog_cb);
	SSL_CTX_set_info_callback(c, info_cb);
	if (ctx->server) {
		SSL_CTX_set_alpn_select_cb(c, alpn_select_cb, NULL);
		SSL_CTX_set_client_hello_cb(c, hello_cb, ctx);
	}
	else if (SSL_CTX_set_alpn_protos(c, alpn, sizeof(alpn) - 1) != 0)
		return ossl_fail(ZK_ESYS, "ALPN");
	return load_files(c, files);
}

struct tls_ctx *
tls_ctx_new(const struct conf *cf, int server)
{
	struct tls_files files = { cf->cert, cf->key, cf->ca };
	struct tls_ctx *ctx = NULL;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		zk_fail_errno(ZK_ESYS, "calloc");
		return NULL;
	}
	ctx->server = server;
	if (cf->peer_name == NULL && cf->peer_pin == NULL) {
		zk_fail(ZK_EUSAGE, "give --peer-name and/or --peer-pin: "
			"zktls never accepts an unidentified peer");
		goto fail;
	}
	if (cf->ca == NULL && cf->peer_name != NULL) {
		zk_fail(ZK_EUSAGE, "--peer-name needs --ca (a name means "
			"nothing without a CA that vouches for it)");
		goto fail;
	}
	if (cf->peer_pin != NULL) {
		if ((ctx->pins = calloc(1, 32)) == NULL) {
			zk_fail_errno(ZK_ESYS, "calloc");
			goto fail;
		}
		if (pin_parse(cf->peer_pin, ctx->pins[0]) < 0) {
			zk_fail(ZK_EUSAGE, "bad --peer-pin '%s' (want sha256: "
				"and 64 hex digits)", cf->peer_pin);
			goto fail;
		}
		ctx->npins = 1;
		ctx->pin_only = cf->ca == NULL;
	}
	if (cf->peer_name != NULL && set_peer_name(ctx, cf->peer_name) < 0)
		goto fail;
	ctx->wildcards = cf->peer_wildcards;
	if (ctx_build(ctx, &files) < 0)
		goto fail;
	return ctx;
fail:
	tls_ctx_free(ctx);
	return NULL;
}

struct tls_ctx *
tls_ctx_new_serve(const struct tls_files *files, const uint8_t (*pins)[32],
		  int npins)
{
	struct tls_ctx *ctx = calloc(1, sizeof(*ctx));

	if (ctx == NULL) {
		zk_fail_errno(ZK_ESYS, "calloc");
		return NULL;
	}
	ctx->server = 1;
	ctx->later = 1;
	ctx->pin_only = files->ca == NULL;
	if (npins > 0) {
		if ((ctx->pins = calloc((size_t)npins, 32)) == NULL) {
			zk_fail_errno(ZK_ESYS, "calloc");
			goto fail;
		}
		memcpy(ctx->pins, pins, (size_t)npins * 32);
		ctx->npins = npins;
	}
	if (ctx->pin_only && npins == 0) {
		zk_fail(ZK_EUSAGE, "neither a CA nor any pin: nobody could "
			"authenticate");
		goto fail;
	}
	if (ctx_build(ctx, files) < 0)
		goto fail;
	return ctx;
fail:
	tls_ctx_free(ctx);
	return NULL;
}

void
tls_ctx_want(struct tls_ctx *ctx, enum tls_want want, enum tls_want fallback,
	     enum cipher_why why)
{
	ctx->want = want;
	ctx->fallback = fallback;
	ctx->why = why;
}

bool
tls_ctx_refused_cipher(const struct tls_ctx *ctx)
{
	return ctx->refused_cipher;
}

bool
tls_ctx_fall_back(struct tls_ctx *ctx)
{
	if (ctx->server || ctx->want != TLS_WANT_AES ||
	    ctx->fallback == TLS_WANT_AES)
		return false;
	log_verbose("the server needs more than AES-GCM under one key for "
		    "this stream: connecting again offering %s",
		    cipher_want_name(ctx->fallback));
	ctx->want = ctx->fallback;
	ctx->why = ctx->want == TLS_WANT_CHACHA ? CW_MAY_EXCEED : CW_KEY_UPDATE;
	ctx->refused_cipher = false;
	return true;
}

enum cipher_why
tls_ctx_why(const struct tls_ctx *ctx)
{
	return ctx->why;
}


bool
tls_sent_away(const struct tls *t)
{
	return t != NULL && t->sent_away;
}

struct tls_ctx *
tls_ctx_of(const struct tls *t)
{
	return t->ctx;
}

int
tls_is_chacha(const struct tls *t)
{
	const SSL_CIPHER *c = t ? SSL_get_current_cipher(t->ssl) : NULL;

	return c != NULL && (SSL_CIPHER_get_protocol_id(c) & 0xffff) ==
				    SUITE_CHACHA20_POLY1305;
}

void
tls_ctx_free(struct tls_ctx *ctx)
{
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx->pins);
	OPENSSL_cleanse(ctx, sizeof(*ctx));
	free(ctx);
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_free(t->ssl);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

/* Turn a failed handshake into one line that names the cause. */
static int
handshake_fail(struct tls *t, int ret)
{
	int err = SSL_get_error(t->ssl, ret);
	unsigned long e = ERR_peek_last_error();
	int reason = e ? ERR_GET_REASON(e) : 0;
	long vr = SSL_get_verify_result(t->ssl);
	const char *who = t->ctx->server ? "client" : "server";
	int r;

	if (t->pin_failed) {
		r = zk_fail(ZK_ETLS, "%s public key does not match --peer-pin",
			    who);
	} else if (vr != X509_V_OK && (reason == SSL_R_CERTIFICATE_VERIFY_FAILED ||
				       err == SSL_ERROR_SSL)) {
		switch (vr) {
		case X509_V_ERR_CERT_HAS_EXPIRED:
			r = zk_fail(ZK_ETLS, "%s certificate has expired", who);
			break;
		case X509_V_ERR_CERT_NOT_YET_VALID:
			r = zk_fail(ZK_ETLS, "%s certificate is not yet valid",
				    who);
			break;
		case X509_V_ERR_HOSTNAME_MISMATCH:
		case X509_V_ERR_IP_ADDRESS_MISMATCH:
			r = zk_fail(ZK_ETLS, "%s certificate does not match "
				    "--peer-name %s%s", who, t->ctx->peer_name,
				    t->wild_would ? " (its wildcard name matches "
				    "only with --peer-name-wildcards)" : "");
			break;
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
			r = zk_fail(ZK_ETLS, "%s certificate is not signed by a "
				    "trusted CA (--ca)", who);
			break;
		default:
			r = zk_fail(ZK_ETLS, "%s certificate rejected: %s", who,
				    X509_verify_cert_error_string(vr));
		}
	} else if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
		r = zk_fail(ZK_ETLS, "client did not present a certificate");
	} else if (t->alert_recv == SSL_AD_INSUFFICIENT_SECURITY &&
		   !t->ctx->server && t->ctx->want == TLS_WANT_AES) {
		t->ctx->refused_cipher = true;
		r = zk_fail(ZK_ETLS, "server needs ChaCha20-Poly1305 for this "
			    "stream (may exceed one AES-GCM key), and we "
			    "offered only AES-GCM");
	} else if (t->alert_recv >= 0) {
		r = zk_fail(ZK_ETLS, "%s rejected the handshake: TLS alert %s",
			    who, tls_alert_name(t->alert_recv));
	} else if (reason == SSL_R_WRONG_VERSION_NUMBER ||
		   reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
		   reason == SSL_R_HTTP_REQUEST ||
		   reason == SSL_R_UNSUPPORTED_PROTOCOL) {
		r = zk_fail(ZK_ETLS, "%s is not speaking TLS 1.3 (wrong port or "
			    "not a zktls peer)", who);
	} else if (t->ctx->server && reason == SSL_R_CALLBACK_FAILED &&
		   t->ctx->want == TLS_WANT_CHACHA) {
		t->sent_away = true;
		r = zk_fail(ZK_ETLS, "client offered only AES-GCM, and this "
			    "stream needs ChaCha20-Poly1305 (%s); it may "
			    "connect again offering it",
			    cipher_why_name(t->ctx->why ? t->ctx->why
						       : CW_MAY_EXCEED, false));
	} else if (reason == SSL_R_NO_APPLICATION_PROTOCOL) {
		r = zk_fail(ZK_ETLS, "%s does not speak the zktls protocol "
			    "(ALPN %s)", who, ZKTLS_ALPN);
	} else if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN ||
		   reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		if (errno != 0 && errno != EAGAIN && e == 0)
			r = zk_fail_errno(ZK_ETLS, "TLS handshake failed");
		else
			r = zk_fail(ZK_ETLS, "%s closed the connection during "
				    "the TLS handshake", who);
	} else {
		r = ossl_fail(ZK_ETLS, "TLS handshake failed");
	}
	ERR_clear_error();
	return r;
}

struct tls *
tls_start(struct tls_ctx *ctx, int fd)
{
	struct tls *t;

	ERR_clear_error();
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		zk_fail_errno(ZK_ESYS, "calloc");
		return NULL;
	}
	t->ctx = ctx;
	t->fd = fd;
	t->alert_recv = -1;
	if ((t->ssl = SSL_new(ctx->ssl_ctx)) == NULL ||
	    SSL_set_fd(t->ssl, fd) != 1) {
		ossl_fail(ZK_ESYS, "SSL_new");
		goto fail;
	}
	SSL_set_ex_data(t->ssl, ex_index, t);
	/* The peer name is checked in verify_cb(), not by OpenSSL's host
	 * check: that one falls back to the CN when a certificate has IP but
	 * no DNS names. */
	if (ctx->peer_name[0] != '\0' && !ctx->name_is_ip && !ctx->server)
		SSL_set_tlsext_host_name(t->ssl, ctx->peer_name);
	if (!ctx->server &&
	    SSL_set_ciphersuites(t->ssl, ctx->want == TLS_WANT_AES
				 ? CIPHERSUITES_AES_ONLY
				 : ctx->want == TLS_WANT_CHACHA
				 ? CIPHERSUITES_CHACHA_FIRST
				 : CIPHERSUITES) != 1) {
		ossl_fail(ZK_ESYS, "cannot order the TLS cipher suites");
		goto fail;
	}
	ctx->refused_cipher = false;
	if (fd_set_nonblock(fd, 1) < 0) {
		zk_fail_errno(ZK_ESYS, "fcntl");
		goto fail;
	}
	return t;
fail:
	ERR_clear_error();
	tls_free(t);
	return NULL;
}

/* The handshake is complete: what OpenSSL does not check for us. */
static int
handshake_done(struct tls *t)
{
	const unsigned char *alpn = NULL;
	unsigned int alen = 0;
	X509 *pc;
	char cn[256] = "?";

	if (fd_set_nonblock(t->fd, 0) < 0)
		return zk_fail_errno(ZK_ESYS, "fcntl");
	SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
	if (alen != strlen(ZKTLS_ALPN) || memcmp(alpn, ZKTLS_ALPN, alen) != 0)
		return zk_fail(ZK_ETLS, "%s does not speak the zktls protocol "
			       "(ALPN %s)", t->ctx->server ? "client" : "server",
			       ZKTLS_ALPN);
	if (SSL_version(t->ssl) != TLS1_3_VERSION)
		return zk_fail(ZK_ETLS, "peer negotiated %s, not TLS 1.3",
			       SSL_get_version(t->ssl));
	/* Unreachable with VERIFY_FAIL_IF_NO_PEER_CERT on the server; the
	 * client checks it too: fail closed. */
	if ((pc = SSL_get1_peer_certificate(t->ssl)) == NULL)
		return zk_fail(ZK_ETLS, "peer presented no certificate");
	/* The log names what vouched for the peer: the name that matched
	 * --peer-name (set by verify_cb), else the pinned key and, as a
	 * label only, the CN.  The peer chose these bytes: log.c escapes
	 * them on output. */
	if (t->ctx->peer_name[0] == '\0') {
		X509_NAME_get_text_by_NID(X509_get_subject_name(pc),
					  NID_commonName, cn, sizeof(cn));
		snprintf(t->peer, sizeof(t->peer), t->ctx->later ? "CN=%s"
			 : "CN=%s (pinned key)", cn);
	}
	X509_free(pc);
	if (t->peer[0] == '\0')
		return zk_fail(ZK_ETLS, "peer name was not verified");
	return 1;
}

int
tls_step(struct tls *t, short *events)
{
	int r, err;

	errno = 0;
	r = t->ctx->server ? SSL_accept(t->ssl) : SSL_connect(t->ssl);
	if (r == 1) {
		r = handshake_done(t);
		ERR_clear_error();
		return r;
	}
	err = SSL_get_error(t->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		*events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	return handshake_fail(t, r);
}

struct tls *
tls_handshake(struct tls_ctx *ctx, int fd, int timeout_s)
{
	double deadline = now_s() + (timeout_s > 0 ? timeout_s : 30);
	struct tls *t = tls_start(ctx, fd);
	short ev = 0;
	int r;

	while (t != NULL && (r = tls_step(t, &ev)) == 0) {
		int left_ms = (int)((deadline - now_s()) * 1000);

		if (left_ms <= 0 || net_wait(fd, ev, left_ms) == 0)
			r = zk_fail(ZK_ETLS, "TLS handshake timed out after %d s",
				    timeout_s);
		if (r < 0)
			break;
	}
	if (t != NULL && r < 0) {
		tls_free(t);
		t = NULL;
	}
	return t;
}

const char *
tls_peer(const struct tls *t)
{
	return t ? t->peer : "?";
}

int
tls_fd(const struct tls *t)
{
	return t->fd;
}

void
tls_set_peer(struct tls *t, const char *label)
{
	snprintf(t->peer, sizeof(t->peer), "%s", label);
}

int
tls_peer_named(const struct tls *t, const char *name, int wildcards,
	       char *matched, size_t cap)
{
	X509 *pc = SSL_get0_peer_certificate(t->ssl);
	struct name_want w;
	int wild = 0;

	if (pc == NULL)
		return 0;
	name_want(&w, name, wildcards);
	return name_matches(&w, pc, matched, cap, &wild);
}

int
tls_peer_pin(const struct tls *t, uint8_t out[32])
{
	X509 *pc = SSL_get0_peer_certificate(t->ssl);
	uint8_t *der = NULL;
	unsigned int mdlen = 0;
	int len, ok;

	if (pc == NULL ||
	    (len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(pc), &der)) <= 0)
		return -1;
	ok = EVP_Digest(der, (size_t)len, out, &mdlen, EVP_sha256(), NULL) &&
	     mdlen == 32;
	OPENSSL_free(der);
	return ok ? 0 : -1;
}

const char *
tls_cipher(const struct tls *t)
{
	return t ? SSL_get_cipher_name(t->ssl) : "?";
}

int
tls_export_keys(struct tls *t, struct tls_keys *out)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(t->ssl);
	uint16_t suite = c ? (uint16_t)SSL_CIPHER_get_protocol_id(c) : 0;
	const uint8_t *txs, *rxs;
	size_t txl, rxl;
	int r;

	memset(out, 0, sizeof(*out));
	if (SSL_has_pending(t->ssl))
		return zk_fail(ZK_EPROTO, "OpenSSL holds unread data; cannot "
			       "hand the session to the kernel");
	if (t->csec_len == 0 || t->ssec_len == 0 || t->csec_len != t->ssec_len)
		return zk_fail(ZK_ESYS, "traffic secrets not available");
	txs = t->ctx->server ? t->ssec : t->csec;
	rxs = t->ctx->server ? t->csec : t->ssec;
	txl = t->ctx->server ? t->ssec_len : t->csec_len;
	rxl = t->ctx->server ? t->csec_len : t->ssec_len;
	r = tls13_traffic_keys(suite, txs, txl, &out->tx);
	if (r == 0)
		r = tls13_traffic_keys(suite, rxs, rxl, &out->rx);
	/* The secrets are needed only once: wipe them now, success or not.
	 * Sequence numbers are 0: no application record has been sent or
	 * read by OpenSSL (no tickets, nothing pending). */
	zk_wipe(t->csec, sizeof(t->csec));
	zk_wipe(t->ssec, sizeof(t->ssec));
	t->csec_len = t->ssec_len = 0;
	if (r < 0)
		tls_keys_wipe(out);
	return r;
}

/* Print the sha256 pin of a certificate's public key (zktls pin CERT). */
int
tls_cert_pin(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "re");
	X509 *x;
	uint8_t *der = NULL, md[32];
	unsigned int mdlen = 0;
	int len, i;

	if (f == NULL)
		return zk_fail_errno(ZK_EUSAGE, "cannot read %s", path);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return ossl_fail(ZK_EUSAGE, "not a PEM certificate");
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	X509_free(x);
	if (len <= 0 || !EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
				    NULL) || cap < 7 + 65) {
		OPENSSL_free(der);
		return ossl_fail(ZK_ESYS, "digest");
	}
	OPENSSL_free(der);
	strcpy(out, "sha256:");
	for (i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	return 0;
}
