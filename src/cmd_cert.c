/*
 * cmd_cert.c - "zktls cert": a private CA and host certificates without
 * the openssl command line.
 *
 *   zktls cert init DIR [--days N] [--name CN]
 *	DIR/ca.key (0600) and DIR/ca.pem: a self-signed CA (CA:TRUE,
 *	pathlen 0, keyCertSign and cRLSign).  An existing ca.key is never
 *	overwritten.
 *   zktls cert issue NAME [--ca-dir DIR] [--san DNS-OR-IP]... [--days N]
 *		      [--out DIR]
 *	OUT/NAME.key (0600) and OUT/NAME.pem signed by the CA: SAN
 *	DNS:NAME (IP:NAME for an address) and each --san, digitalSignature,
 *	serverAuth and clientAuth (a zktls host is both), CA:FALSE, a
 *	random serial.  Prints where the files went and the key's pin.
 *   zktls cert show [--json] FILE
 *	subject, names, issuer, dates, days left, pin, CA or not.
 *
 * Keys are EC P-256 with ECDSA-SHA256 signatures: every TLS 1.3 stack
 * takes them, and the handshake's signature is independent of the
 * kernel TLS cipher (AES-GCM or ChaCha20-Poly1305) the session uses.
 * Files are created with O_EXCL under umask 077 (certificates then
 * chmod 0644): nothing existing is replaced, no key is ever readable by
 * others, not even for a moment.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "zktls.h"

#define CA_DAYS 3650      /* a CA: 10 years */
#define HOST_DAYS 825     /* a host: what browsers once capped, 2+ years */
#define MAX_DAYS 36500
#define MAX_SANS 16

static const char cert_usage[] =
	"usage: zktls cert init DIR [--days N] [--name CN]\n"
	"       zktls cert issue NAME [--ca-dir DIR] [--san DNS-OR-IP]... "
	"[--days N]\n"
	"                  [--out DIR]\n"
	"       zktls cert show [--json] FILE\n"
	"  init   a CA: DIR/ca.key (mode 0600, never overwritten) and "
	"DIR/ca.pem,\n"
	"         valid --days (default 3650), named --name (default "
	"zktls-ca)\n"
	"  issue  a host's key and certificate, OUT/NAME.key and "
	"OUT/NAME.pem\n"
	"         (--out, default .), signed by CA-DIR/ca.pem (--ca-dir, "
	"default .),\n"
	"         valid --days (default 825, at most the CA's), named DNS:NAME "
	"(an\n"
	"         address: IP:NAME) and every --san; for TLS clients and "
	"servers\n"
	"  show   a certificate's names, issuer, dates, days left and pin\n";

static int
cert_error(void)
{
	fprintf(stderr, "%szktls: error: %s\n", log_pri(LOG_PRI_ERR),
		zk_errmsg());
	return zk_exit_code(-zk_errcode());
}

/* OpenSSL's first queued error, appended to what failed. */
static int
ssl_fail(int code, const char *what)
{
	unsigned long e = ERR_peek_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return e ? zk_fail(code, "%s: %s", what, buf) : zk_fail(code, "%s", what);
}

static int
parse_days(const char *s, int *days)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > MAX_DAYS)
		return zk_fail(ZK_EUSAGE, "bad --days '%s' (1 to %d)", s,
			       MAX_DAYS);
	*days = (int)v;
	return 0;
}

/* A DNS name as a certificate names a host: labels of letters, digits
 * and '-' (not at either end), 1-63 long, 253 in all; with wild, "*."
 * may lead (for --peer-name-wildcards). */
static bool
dns_name_ok(const char *s, bool wild)
{
	size_t len = strlen(s), label = 0;

	if (wild && strncmp(s, "*.", 2) == 0 && strchr(s + 2, '.') != NULL)
		s += 2, len -= 2;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

static bool
ip_ok(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* path is DIR/NAME: 0, or ZK_EUSAGE when it does not fit. */
static int
join(char *out, size_t cap, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, cap, "%s/%s", dir, name) >= cap)
		return zk_fail(ZK_EUSAGE, "%s/%s: path too long", dir, name);
	return 0;
}

/* dir and the directories above it that are missing (mkdir -p): the
 * parents 0755, dir itself with mode. */
static int
mkdirs(const char *dir, mode_t mode)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
		return zk_fail(ZK_EUSAGE, "%s: path too long", dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return zk_fail_errno(ZK_ESYS, "cannot create %s", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return zk_fail_errno(ZK_ESYS, "cannot create %s", dir);
	return 0;
}

/* A new file at path with mode (O_EXCL: never an existing one) as a
 * FILE, or NULL with the error recorded. */
static FILE *
create(const char *path, mode_t mode)
{
	mode_t old = umask(077);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	FILE *f;

	umask(old);
	if (fd < 0) {
		zk_fail_errno(errno == EEXIST ? ZK_EUSAGE : ZK_ESYS,
			      "cannot create %s", path);
		return NULL;
	}
	if (mode != 0600 && fchmod(fd, mode) < 0) {
		zk_fail_errno(ZK_ESYS, "chmod %s", path);
		close(fd);
		unlink(path);
		return NULL;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		zk_fail_errno(ZK_ESYS, "fdopen %s", path);
		close(fd);
		unlink(path);
	}
	return f;
}

/* Write key (0600) and cert (0644) to new files; on failure neither is
 * left behind. */
static int
write_pair(const char *keypath, EVP_PKEY *key, const char *certpath,
	   X509 *cert)
{
	FILE *kf = NULL, *cf = NULL;
	int r = -ZK_ESYS, kerr, cerr;

	if ((kf = create(keypath, 0600)) == NULL)
		return -zk_errcode();
	if ((cf = create(certpath, 0644)) == NULL) {
		r = -zk_errcode();
		fclose(kf);
		unlink(keypath);
		return r;
	}
	kerr = !PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL);
	cerr = !PEM_write_X509(cf, cert);
	kerr |= fflush(kf) != 0 || fsync(fileno(kf)) != 0;
	cerr |= fflush(cf) != 0 || fsync(fileno(cf)) != 0;
	kerr |= fclose(kf) != 0;
	cerr |= fclose(cf) != 0;
	if (kerr || cerr) {
		unlink(keypath);
		unlink(certpath);
		return zk_fail_errno(ZK_ESYS, "cannot write %s",
				     kerr ? keypath : certpath);
	}
	return 0;
}

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok = e != NULL && X509_add_ext(x, e, -1) == 1;

	X509_EXTENSION_free(e);
	return ok ? 0 : ssl_fail(ZK_ESYS, "certificate extension");
}

/*
 * A certificate for key named cn, valid days from now, signed by
 * (issuer, ikey) or self-signed when issuer is NULL; exts: NID, value
 * pairs, ending with 0.  NULL with the error recorded.
 */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, int days, X509 *issuer,
	  EVP_PKEY *ikey, const int *nids, const char *const *values)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn = BN_new();
	unsigned char serial[16];
	X509V3_CTX v3;

	if (x == NULL || name == NULL || bn == NULL)
		goto ossl;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto ossl;
	serial[0] &= 0x7f; /* positive */
	serial[0] |= 0x40; /* and 16 bytes long */
	if (BN_bin2bn(serial, sizeof(serial), bn) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_set_version(x, 2) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
				       (const unsigned char *)cn, -1, -1,
				       0) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
					   : name) != 1 ||
	    /* a few minutes back: a peer whose clock is behind ours */
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto ossl;
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	for (int i = 0; nids[i]; i++)
		if (add_ext(x, &v3, nids[i], values[i]) < 0)
			goto out;
	if (X509_sign(x, issuer ? ikey : key, EVP_sha256()) <= 0)
		goto ossl;
	X509_NAME_free(name);
	BN_free(bn);
	return x;
ossl:
	ssl_fail(ZK_ESYS, "cannot make the certificate");
out:
	X509_free(x);
	X509_NAME_free(name);
	BN_free(bn);
	return NULL;
}

static EVP_PKEY *
new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (k == NULL)
		ssl_fail(ZK_ESYS, "cannot make an EC P-256 key");
	return k;
}

/* ------------------------------------------------------------ init */

static int
cert_init(const char *dir, int days, const char *cn)
{
	char keypath[PATH_MAX], certpath[PATH_MAX];
	static const int nids[] = { NID_basic_constraints, NID_key_usage,
				    NID_subject_key_identifier, 0 };
	static const char *const values[] = {
		"critical,CA:TRUE,pathlen:0", "critical,keyCertSign,cRLSign",
		"hash",
	};
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	char pin[80];
	int r;

	if ((r = join(keypath, sizeof(keypath), dir, "ca.key")) < 0 ||
	    (r = join(certpath, sizeof(certpath), dir, "ca.pem")) < 0)
		return r;
	/* checked first, so that no key is made for nothing */
	if (access(keypath, F_OK) == 0)
		return zk_fail(ZK_EUSAGE, "%s exists: a CA is never "
			       "overwritten (another DIR, or remove it "
			       "yourself)", keypath);
	if (access(certpath, F_OK) == 0)
		return zk_fail(ZK_EUSAGE, "%s exists: a CA is never "
			       "overwritten", certpath);
	if ((r = mkdirs(dir, 0700)) < 0)
		return r;
	if ((key = new_key()) == NULL ||
	    (x = make_cert(key, cn, days, NULL, NULL, nids, values)) == NULL) {
		r = -zk_errcode();
		goto out;
	}
	if ((r = write_pair(keypath, key, certpath, x)) < 0 ||
	    (r = tls_cert_pin(certpath, pin, sizeof(pin))) < 0)
		goto out;
	printf("CA key:         %s (keep it secret; it signs host "
	       "certificates)\n", keypath);
	printf("CA certificate: %s (--ca on every host)\n", certpath);
	printf("valid:          %d days\n", days);
	printf("pin:            %s\n", pin);
out:
	EVP_PKEY_free(key);
	X509_free(x);
	return r;
}

/* ------------------------------------------------------------ issue */

/* The CA of dir: its certificate and key, checked to belong together
 * and to be a CA. */
static int
load_ca(const char *dir, X509 **ca, EVP_PKEY **cakey)
{
	char keypath[PATH_MAX], certpath[PATH_MAX];
	FILE *f;
	int r;

	*ca = NULL;
	*cakey = NULL;
	if ((r = join(keypath, sizeof(keypath), dir, "ca.key")) < 0 ||
	    (r = join(certpath, sizeof(certpath), dir, "ca.pem")) < 0)
		return r;
	if ((f = fopen(certpath, "re")) == NULL)
		return zk_fail_errno(ZK_ESYS, "cannot read %s (zktls cert "
				     "init DIR makes a CA; --ca-dir DIR names "
				     "it)", certpath);
	*ca = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (*ca == NULL) {
		ERR_clear_error();
		return zk_fail(ZK_EUSAGE, "%s: not a PEM certificate", certpath);
	}
	if ((f = fopen(keypath, "re")) == NULL)
		return zk_fail_errno(ZK_ESYS, "cannot read %s", keypath);
	*cakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (*cakey == NULL) {
		ERR_clear_error();
		return zk_fail(ZK_EUSAGE, "%s: not a PEM private key", keypath);
	}
	if (X509_check_private_key(*ca, *cakey) != 1) {
		ERR_clear_error();
		return zk_fail(ZK_EUSAGE, "%s does not match %s: not the CA's "
			       "key", keypath, certpath);
	}
	if (X509_check_ca(*ca) == 0)
		return zk_fail(ZK_EUSAGE, "%s is not a CA certificate", certpath);
	return 0;
}

/* "DNS:a,IP:b" of name and the extra SANs into out. */
static int
san_text(const char *name, char *const *sans, int nsans, char *out,
	 size_t cap)
{
	size_t l = 0;

	out[0] = '\0';
	for (int i = -1; i < nsans; i++) {
		const char *s = i < 0 ? name : sans[i];
		int n = snprintf(out + l, cap - l, "%s%s:%s", l ? "," : "",
				 ip_ok(s) ? "IP" : "DNS", s);

		if (n < 0 || (size_t)n >= cap - l)
			return zk_fail(ZK_EUSAGE, "too many names");
		l += (size_t)n;
	}
	return 0;
}

static int
cert_issue(const char *name, const char *cadir, char *const *sans,
	   int nsans, int days, const char *outdir)
{
	char keypath[PATH_MAX], certpath[PATH_MAX], file[300], san[8192];
	char pin[80];
	static const int nids[] = { NID_basic_constraints, NID_key_usage,
				    NID_ext_key_usage, NID_subject_alt_name,
				    NID_subject_key_identifier,
				    NID_authority_key_identifier, 0 };
	const char *values[] = { "critical,CA:FALSE",
				 "critical,digitalSignature",
				 "serverAuth,clientAuth", san, "hash",
				 "keyid" };
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	time_t ca_end = 0;
	int r;

	if ((r = san_text(name, sans, nsans, san, sizeof(san))) < 0)
		return r;
	snprintf(file, sizeof(file), "%s.key", name);
	if ((r = join(keypath, sizeof(keypath), outdir, file)) < 0)
		return r;
	snprintf(file, sizeof(file), "%s.pem", name);
	if ((r = join(certpath, sizeof(certpath), outdir, file)) < 0)
		return r;
	if (access(keypath, F_OK) == 0 || access(certpath, F_OK) == 0)
		return zk_fail(ZK_EUSAGE, "%s exists: never overwritten "
			       "(--out DIR for a renewal, then copy)",
			       access(keypath, F_OK) == 0 ? keypath : certpath);
	if ((r = load_ca(cadir, &ca, &cakey)) < 0)
		goto out;
	{
		struct tm tm;

		memset(&tm, 0, sizeof(tm));
		if (ASN1_TIME_to_tm(X509_get0_notAfter(ca), &tm) == 1)
			ca_end = timegm(&tm);
	}
	if (ca_end && (long long)time(NULL) + (long long)days * 86400 >
			      (long long)ca_end) {
		r = zk_fail(ZK_EUSAGE, "--days %d outlives the CA (%d days "
			    "left): at most --days %d, or a new CA", days,
			    cert_days_left(ca_end, time(NULL)),
			    cert_days_left(ca_end, time(NULL)));
		goto out;
	}
	if ((key = new_key()) == NULL ||
	    (x = make_cert(key, name, days, ca, cakey, nids, values)) == NULL) {
		r = -zk_errcode();
		goto out;
	}
	if ((r = mkdirs(outdir, 0755)) < 0)
		goto out;
	if ((r = write_pair(keypath, key, certpath, x)) < 0 ||
	    (r = tls_cert_pin(certpath, pin, sizeof(pin))) < 0)
		goto out;
	printf("key:         %s (mode 0600: --key on %s only)\n", keypath,
	       name);
	printf("certificate: %s (--cert on %s)\n", certpath, name);
	printf("names:       %s\n", san);
	printf("valid:       %d days\n", days);
	printf("pin:         %s\n", pin);
out:
	X509_free(ca);
	X509_free(x);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	return r;
}

/* ------------------------------------------------------------ show */

static void
fmt_time(const ASN1_TIME *t, char *out, size_t cap, time_t *when)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	*when = 0;
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		snprintf(out, cap, "?");
		return;
	}
	*when = timegm(&tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
name_text(const X509_NAME *n, char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len = 0;

	out[0] = '\0';
	if (b && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0)
		len = BIO_read(b, out, (int)cap - 1);
	out[len > 0 ? len : 0] = '\0';
	BIO_free(b);
}

/* The SANs, "DNS:a, IP:1.2.3.4", in out (what tls.c matches). */
static void
sans_text(X509 *x, char *out, size_t cap, int json)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
					    NULL);
	size_t l = 0;

	out[0] = '\0';
	for (int i = 0; g && i < sk_GENERAL_NAME_num(g); i++) {
		const GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);
		char v[300] = "", e[2400];
		const char *kind = NULL;

		if (n->type == GEN_DNS) {
			const ASN1_STRING *s = n->d.dNSName;
			kind = "DNS";
			snprintf(v, sizeof(v), "%.*s", ASN1_STRING_length(s),
				 (const char *)ASN1_STRING_get0_data(s));
		} else if (n->type == GEN_IPADD) {
			const ASN1_STRING *s = n->d.iPAddress;
			kind = "IP";
			if (ASN1_STRING_length(s) == 4)
				inet_ntop(AF_INET, ASN1_STRING_get0_data(s), v,
					  sizeof(v));
			else if (ASN1_STRING_length(s) == 16)
				inet_ntop(AF_INET6, ASN1_STRING_get0_data(s), v,
					  sizeof(v));
		}
		if (kind == NULL)
			continue;
		/* a name is printed, never interpreted: text_safe() and
		 * json_escape() escape controls (C1 too) and bytes that are
		 * not UTF-8 */
		if (json) {
			json_escape(v, e, sizeof(e));
			l += (size_t)snprintf(out + l, cap > l ? cap - l : 0,
					      "%s\"%s:%s\"", l ? "," : "",
					      kind, e);
		} else {
			text_safe(v, e, sizeof(e));
			l += (size_t)snprintf(out + l, cap > l ? cap - l : 0,
					      "%s%s:%s", l ? ", " : "", kind, e);
		}
		if (l >= cap) {
			out[cap - 1] = '\0';
			break;
		}
	}
	GENERAL_NAMES_free(g);
}

static int
cert_show(const char *path, int json)
{
	char subject[512], issuer[512], sans[4096], nb[40], na[40], pin[80];
	time_t tnb, tna, now = time(NULL);
	X509 *x = NULL;
	FILE *f;
	int ca, days, r, more = 0;

	if ((f = fopen(path, "re")) == NULL)
		return zk_fail_errno(ZK_ESYS, "cannot read %s", path);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	if (x) {
		X509 *y;
		while ((y = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
			X509_free(y);
			more++;
		}
		ERR_clear_error();
	}
	fclose(f);
	if (x == NULL) {
		ERR_clear_error();
		return zk_fail(ZK_EUSAGE, "%s: not a PEM certificate", path);
	}
	if ((r = tls_cert_pin(path, pin, sizeof(pin))) < 0)
		goto out;
	name_text(X509_get_subject_name(x), subject, sizeof(subject));
	name_text(X509_get_issuer_name(x), issuer, sizeof(issuer));
	sans_text(x, sans, sizeof(sans), json);
	fmt_time(X509_get0_notBefore(x), nb, sizeof(nb), &tnb);
	fmt_time(X509_get0_notAfter(x), na, sizeof(na), &tna);
	days = cert_days_left(tna, now);
	ca = X509_check_ca(x) != 0;
	if (json) {
		char js[1100], ji[1100], jf[4200];

		json_escape(subject, js, sizeof(js));
		json_escape(issuer, ji, sizeof(ji));
		json_escape(path, jf, sizeof(jf));
		printf("{\"file\":\"%s\",\"subject\":\"%s\",\"names\":[%s],"
		       "\"issuer\":\"%s\",\"not_before\":\"%s\","
		       "\"not_after\":\"%s\",\"days_left\":%d,\"pin\":\"%s\","
		       "\"ca\":%s,\"more_certificates\":%d}\n", jf, js, sans,
		       ji, nb, na, days, pin, ca ? "true" : "false", more);
	} else {
		char tf[4200];

		text_safe(path, tf, sizeof(tf));
		printf("file:       %s%s\n", tf,
		       more ? " (the first certificate; more follow)" : "");
		printf("subject:    %s\n", subject);
		printf("names:      %s\n", sans[0] ? sans
			: "(no subject alternative name: the CN is matched)");
		printf("issuer:     %s%s\n", issuer,
		       X509_check_issued(x, x) == X509_V_OK ? " (self-signed)"
							     : "");
		printf("not before: %s\n", nb);
		printf("not after:  %s\n", na);
		printf("days left:  %d%s\n", days, tna <= now ? " (expired)"
			: days < CERT_WARN_DAYS ? " (renew soon)" : "");
		printf("pin:        %s\n", pin);
		printf("CA:         %s\n", ca ? "yes" : "no");
	}
out:
	X509_free(x);
	return r;
}

/* ------------------------------------------------------------ front */

int
cmd_cert(int argc, char **argv)
{
	enum { O_DAYS = 256, O_NAME, O_CA_DIR, O_SAN, O_OUT, O_JSON };
	static const struct option opts[] = {
		{ "days", required_argument, NULL, O_DAYS },
		{ "name", required_argument, NULL, O_NAME },
		{ "ca-dir", required_argument, NULL, O_CA_DIR },
		{ "san", required_argument, NULL, O_SAN },
		{ "out", required_argument, NULL, O_OUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *sans[MAX_SANS], *sub;
	const char *cn = "zktls-ca", *cadir = ".", *outdir = ".";
	int ch, days = 0, nsans = 0, json = 0, r;

	if (argc < 2)
		return usage_error_in("cert", "%s", "zktls cert needs init, issue "
					"or show");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(cert_usage, stdout);
		return EXIT_OK;
	}
	sub = argv[1];
	if (strcmp(sub, "init") != 0 && strcmp(sub, "issue") != 0 &&
	    strcmp(sub, "show") != 0)
		return usage_error_in("cert", "unknown cert command '%s' (init, "
					"issue or show)", sub);
	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case O_DAYS:
			if (parse_days(optarg, &days) < 0)
				return usage_error_in("cert", "%s", zk_errmsg());
			break;
		case O_NAME: cn = optarg; break;
		case O_CA_DIR: cadir = optarg; break;
		case O_OUT: outdir = optarg; break;
		case O_JSON: json = 1; break;
		case O_SAN:
			if (nsans == MAX_SANS)
				return usage_error_in("cert", "more than %d --san",
							MAX_SANS);
			if (!ip_ok(optarg) && !dns_name_ok(optarg, true))
				return usage_error_in("cert", "bad --san '%s' (a DNS "
							"name or an IP address)",
							optarg);
			sans[nsans++] = optarg;
			break;
		case 'h':
			fputs(cert_usage, stdout);
			return EXIT_OK;
		case ':':
			return usage_error_in("cert", "%s needs a value",
						argv[optind - 1]);
		default:
			return usage_error_in("cert", "unknown option '%s' for zktls "
						"cert", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return usage_error_in("cert", "zktls cert %s needs one operand", sub);
	/* each option where it means something */
	if ((strcmp(sub, "issue") != 0 && (nsans || strcmp(cadir, ".") ||
					   strcmp(outdir, "."))) ||
	    (strcmp(sub, "init") != 0 && strcmp(cn, "zktls-ca")) ||
	    (strcmp(sub, "show") == 0 && days) ||
	    (strcmp(sub, "show") != 0 && json))
		return usage_error_in("cert", "an option that zktls cert %s does not "
					"take", sub);
	if (strcmp(sub, "init") == 0) {
		if (cn[0] == '\0' || strlen(cn) > 64)
			return usage_error_in("cert", "bad --name '%s' (1 to 64 "
						"characters)", cn);
		r = cert_init(argv[optind], days ? days : CA_DAYS, cn);
	} else if (strcmp(sub, "issue") == 0) {
		const char *name = argv[optind];

		if (!ip_ok(name) && !dns_name_ok(name, false))
			return usage_error_in("cert", "bad host name '%s' (a DNS "
						"name or an IP address)", name);
		r = cert_issue(name, cadir, sans, nsans,
			       days ? days : HOST_DAYS, outdir);
	} else {
		r = cert_show(argv[optind], json);
	}
	return r < 0 ? cert_error() : EXIT_OK;
}
