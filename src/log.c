/*
 * log.c - stderr logging: "zktls: message" lines, or one JSON object per
 * line with --json.  -q keeps errors only, -v adds detail.  When stderr
 * is the systemd journal, each text line starts with its priority.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zktls.h"

static const char *prog = "zktls";
static int level = LOG_NORMAL;
static int json;

void
log_init(const char *progname, int lvl, int js)
{
	if (progname)
		prog = progname;
	level = lvl;
	json = js;
}

int
log_level(void)
{
	return level;
}

int
log_json(void)
{
	return json;
}

/*
 * Under systemd, JOURNAL_STREAM names the device and inode of the stream
 * it connected stderr to (decimal "DEV:INO").  Only when stderr is that
 * stream (not a file a script redirected it to) does a text line start
 * with "<N>", its priority (sd-daemon(3)): "journalctl -p err" then finds
 * the errors.  JSON lines stay pure JSON.
 */
const char *
log_pri(int pri)
{
	static int journal = -1;
	static const char *const tags[8] = { "<0>", "<1>", "<2>", "<3>",
					     "<4>", "<5>", "<6>", "<7>" };

	if (journal < 0) {
		const char *e = getenv("JOURNAL_STREAM");
		unsigned long long dev, ino;
		struct stat st;
		char end;

		journal = e && sscanf(e, "%llu:%llu%c", &dev, &ino, &end) == 2 &&
			  fstat(2, &st) == 0 &&
			  (unsigned long long)st.st_dev == dev &&
			  (unsigned long long)st.st_ino == ino;
	}
	return journal && !json && pri >= 0 && pri < 8 ? tags[pri] : "";
}

/*
 * Text from a peer (messages, certificate names, its zfs's words) reaches
 * an operator's terminal and log files.  Only printable text passes:
 * printable ASCII and well-formed UTF-8 of printable code points.  C0 and
 * C1 controls, DEL, and the invisible direction marks and overrides that
 * can make a line read differently than it is become \u{HHHH}; bytes that
 * are not well-formed UTF-8 become \xHH.
 */

/* Decode one UTF-8 sequence at s: its length (1-4) with *cp set, or 0 if
 * the bytes there are not well-formed (overlong, surrogate, > U+10FFFF,
 * truncated). */
static size_t
utf8_next(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0)
		n = 2, c &= 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		n = 3, c &= 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		n = 4, c &= 0x07, min = 0x10000;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL */
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static int
cp_printable(uint32_t c)
{
	if (c < 0x20 || (c >= 0x7f && c < 0xa0))
		return 0; /* C0, DEL, C1 */
	if (c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029 ||
	    c == 0xfeff)
		return 0; /* direction marks and overrides, line separators */
	return 1;
}

/* The shared walk: printable text copied, the rest escaped; json also
 * escapes quote and backslash.  Truncates cleanly (never half a
 * sequence or escape). */
static void
escape_text(const char *in, char *out, size_t cap, int for_json)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	if (cap == 0)
		return;
	while (*s) {
		char esc[16];
		uint32_t cp;
		size_t n = utf8_next(s, &cp), k;

		if (n == 0) {
			snprintf(esc, sizeof(esc), for_json ? "\\\\x%02X" : "\\x%02X",
				 *s);
			n = 1;
		} else if (!cp_printable(cp)) {
			if (for_json)
				snprintf(esc, sizeof(esc), "\\u%04X", cp);
			else
				snprintf(esc, sizeof(esc), "\\u{%04X}", cp);
		} else if (for_json && (cp == '"' || cp == '\\')) {
			esc[0] = '\\';
			esc[1] = (char)cp;
			esc[2] = '\0';
		} else {
			memcpy(esc, s, n);
			esc[n] = '\0';
		}
		k = strlen(esc);
		if (o + k >= cap)
			break;
		memcpy(out + o, esc, k);
		o += k;
		s += n;
	}
	out[o] = '\0';
}

void
text_safe(const char *s, char *out, size_t cap)
{
	escape_text(s, out, cap, 0);
}

void
json_escape(const char *s, char *out, size_t cap)
{
	escape_text(s, out, cap, 1);
}

static void
vlog(const char *kind, const char *fmt, va_list ap)
{
	char msg[2048];

	char esc[8192];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (json) {
		json_escape(msg, esc, sizeof(esc));
		fprintf(stderr, "{\"level\":\"%s\",\"message\":\"%s\"}\n", kind,
			esc);
		return;
	}
	text_safe(msg, esc, sizeof(esc));
	if (strcmp(kind, "error") == 0)
		fprintf(stderr, "%s%s: error: %s\n", log_pri(LOG_PRI_ERR), prog,
			esc);
	else if (strcmp(kind, "warning") == 0)
		fprintf(stderr, "%s%s: warning: %s\n", log_pri(LOG_PRI_WARNING),
			prog, esc);
	else
		fprintf(stderr, "%s%s: %s\n", log_pri(strcmp(kind, "debug") == 0
						       ? LOG_PRI_DEBUG
						       : LOG_PRI_INFO),
			prog, esc);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_NORMAL)
		return;
	va_start(ap, fmt);
	vlog("info", fmt, ap);
	va_end(ap);
}

void
log_verbose(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	vlog("debug", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_NORMAL)
		return;
	va_start(ap, fmt);
	vlog("warning", fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error", fmt, ap);
	va_end(ap);
}

/*
 * The "listening on ADDR" notice scripts read the port from: always
 * printed, even with -q.  As JSON it still carries the words "listening on
 * ADDR" (in "message"), so a pattern written for the text form matches.
 */
void
log_listening(const char *addr)
{
	char esc[700];

	if (json) {
		json_escape(addr, esc, sizeof(esc));
		fprintf(stderr, "{\"event\":\"listening\",\"address\":\"%s\","
			"\"message\":\"listening on %s\"}\n", esc, esc);
	} else {
		text_safe(addr, esc, sizeof(esc));
		fprintf(stderr, "%s%s: listening on %s\n", log_pri(LOG_PRI_INFO),
			prog, esc);
	}
	fflush(stderr);
}

/* A progress line (at most one a second unless final). */
void
xfer_progress(struct xfer *x, int final)
{
	double t = now_s(), dt;
	char b[32], r[32];

	if ((!x->progress && !x->tick) ||
	    (!final && t - x->t_last_progress < 1.0))
		return;
	x->t_last_progress = t;
	if (x->tick)
		x->tick(x->tick_arg, x);
	if (!x->progress)
		return;
	dt = t - x->t_start;
	human_bytes(x->bytes, b, sizeof(b));
	human_bytes(dt > 0 ? (uint64_t)((double)x->bytes / dt) : 0, r,
		    sizeof(r));
	if (json) {
		char lb[600];

		json_escape(x->label ? x->label : "", lb, sizeof(lb));
		fprintf(stderr, "{\"event\":\"progress\",\"what\":\"%s\","
			"\"bytes\":%" PRIu64 ",\"seconds\":%.3f,"
			"\"estimated\":%s,\"total\":%" PRIu64 "}\n", lb,
			x->bytes, dt, x->estimated ? "true" : "false",
			x->total_hint);
		return;
	}
	if (x->total_hint > 0 && x->bytes > 0 && x->bytes < x->total_hint) {
		double eta = dt * (double)(x->total_hint - x->bytes) /
			     (double)x->bytes;
		fprintf(stderr, "%szktls: %s%s%s%s  %s/s  %3.0f%%  ETA %.0f "
			"s%s\n", log_pri(LOG_PRI_INFO), x->label ? x->label : "",
			x->label ? ": " : "", x->estimated ? "~" : "", b, r,
			100.0 * (double)x->bytes / (double)x->total_hint, eta,
			x->estimated ? "  (estimated from TCP)" : "");
	} else {
		fprintf(stderr, "%szktls: %s%s%s%s  %s/s%s\n",
			log_pri(LOG_PRI_INFO), x->label ? x->label : "",
			x->label ? ": " : "", x->estimated ? "~" : "", b, r,
			x->estimated ? "  (estimated from TCP)" : "");
	}
}
