/*
 * util.c - small fd and formatting helpers shared by every module.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zktls.h"

/* Wipe a secret; the compiler may not drop it as a dead store. */
void
zk_wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

int
fd_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) < 0 ? -1 : 0;
}

/* Write everything or fail with errno set (EPIPE when the reader left). */
int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

const char *
human_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A fatal alert from the peer.  Certificate alerts right after the
 * handshake mean the peer refused our certificate (in TLS 1.3 the client's
 * handshake completes before the server has checked it). */
int
zk_alert_fail(int desc)
{
	switch (desc) {
	case 40: case 42: case 43: case 44: case 45: case 46: case 48:
	case 49: case 116:
		return zk_fail(ZK_ETLS, "peer rejected our certificate: TLS "
			       "alert %s", tls_alert_name(desc));
	default:
		return zk_fail(ZK_EPEER, "peer sent TLS alert: %s",
			       tls_alert_name(desc));
	}
}

/* Names from RFC 8446 6, for the alerts a peer may send us. */
const char *
tls_alert_name(int desc)
{
	switch (desc) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 22: return "record_overflow";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 86: return "inappropriate_fallback";
	case 90: return "user_canceled";
	case 109: return "missing_extension";
	case 110: return "unsupported_extension";
	case 112: return "unrecognized_name";
	case 113: return "bad_certificate_status_response";
	case 115: return "unknown_psk_identity";
	case 116: return "certificate_required";
	case 120: return "no_application_protocol";
	default: return "unknown alert";
	}
}

int
tls_handshake_msg_fail(const uint8_t *body, size_t len)
{
	if (len == 0)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: an empty "
			       "TLS handshake record");
	switch (body[0]) {
	case 4:
		/* zktls never asks for tickets and never resumes; a peer that
		 * sends them is not zktls, and the direct plane (zfs reading
		 * the socket) could not skip them: refused on every plane. */
		return zk_fail(ZK_EPROTO, "protocol violation by peer: a TLS "
			       "session ticket after the handshake (zktls "
			       "peers never send them)");
	case 24:
		return zk_fail(ZK_EPROTO, "unexpected TLS handshake message "
			       "after the handshake (KeyUpdate)");
	default:
		return zk_fail(ZK_EPROTO, "protocol violation by peer: TLS "
			       "handshake message type %u after the handshake",
			       body[0]);
	}
}

int
tls13_key_update_parse(const uint8_t *m, size_t len)
{
	/* Exactly one KeyUpdate, alone in its record: handshake messages
	 * must not span a key change (RFC 8446 5.1), and request_update
	 * is 0 or 1 (4.6.3). */
	if (len != 5 || m[0] != 24 || m[1] != 0 || m[2] != 0 || m[3] != 1 ||
	    m[4] > 1)
		return zk_fail(ZK_EPROTO, "protocol violation by peer: a "
			       "malformed TLS KeyUpdate");
	return m[4];
}

int
pin_parse(const char *s, uint8_t out[32])
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s + 7) != 64)
		return -1;
	s += 7;
	for (size_t i = 0; i < 32; i++) {
		int hi = s[2 * i], lo = s[2 * i + 1];
		if (!isxdigit(hi) || !isxdigit(lo))
			return -1;
		hi = isdigit(hi) ? hi - '0' : (tolower(hi) - 'a' + 10);
		lo = isdigit(lo) ? lo - '0' : (tolower(lo) - 'a' + 10);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
peer_name_valid(const char *name)
{
	uint8_t ip[16];
	size_t len = strlen(name), label = 0;

	if (inet_pton(AF_INET, name, ip) == 1 ||
	    inet_pton(AF_INET6, name, ip) == 1)
		return 1;
	if (len == 0 || len > 253)
		return 0;
	for (const char *p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = 0;
		} else if (isalnum((unsigned char)*p) ||
			   (*p == '-' && label > 0) || *p == '_') {
			label++;
		} else {
			return 0;
		}
	}
}
