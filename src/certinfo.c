/*
 * certinfo.c - facts of a certificate file that operators watch: when
 * the earliest certificate in it expires.  Used by serve (its log, its
 * metrics, zktls status), sync (its warning) and zktls cert show.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "zktls.h"

/* notAfter of x as seconds since the epoch: 0, or -1. */
static int
not_after(const X509 *x, time_t *t)
{
	const ASN1_TIME *na = X509_get0_notAfter(x);
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (na == NULL || ASN1_TIME_to_tm(na, &tm) != 1)
		return -1;
	*t = timegm(&tm);
	return 0;
}

int
cert_file_expiry(const char *path, time_t *earliest, int *count)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x;
	int n = 0, r = 0;

	if (b == NULL) {
		ERR_clear_error();
		return zk_fail_errno(ZK_ESYS, "cannot read %s", path);
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		time_t t;

		if (not_after(x, &t) < 0)
			r = zk_fail(ZK_ETLS, "%s: certificate %d has an "
				    "unreadable expiry date", path, n + 1);
		else if (n == 0 || t < *earliest)
			*earliest = t;
		X509_free(x);
		n++;
	}
	ERR_clear_error();
	BIO_free(b);
	if (r < 0)
		return r;
	if (n == 0)
		return zk_fail(ZK_ETLS, "%s: no PEM certificate", path);
	if (count)
		*count = n;
	return 0;
}

int
cert_days_left(time_t not_after, time_t now)
{
	long long d = (long long)not_after - (long long)now;

	/* floor division: an hour past the expiry is day -1 */
	return (int)(d >= 0 ? d / 86400 : -((-d + 86399) / 86400));
}

int
cert_warn_expiry(const char *what, const char *path, bool expired_error)
{
	time_t end, now = time(NULL);
	char when[40];
	struct tm tm;
	int days;

	if (path == NULL || path[0] == '\0' ||
	    cert_file_expiry(path, &end, NULL) < 0) {
		zk_clear();
		return INT_MAX;
	}
	days = cert_days_left(end, now);
	if (days >= CERT_WARN_DAYS)
		return INT_MAX;
	gmtime_r(&end, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	if (end <= now)
		(expired_error ? log_error : log_warn)("%s %s expired on %s: handshakes with it fail; "
			  "renew it (zktls cert issue, see zktls(8))", what,
			  path, when);
	else
		log_warn("%s %s expires in %d day%s, on %s: renew it (zktls "
			 "cert issue, see zktls(8))", what, path, days,
			 days == 1 ? "" : "s", when);
	return days;
}
