/*
 * log.c - stderr logging: "zktls: message" lines, or one JSON object per
 * line with --json.  -q keeps errors only, -v adds detail.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/* Escape s as a JSON string body into out. */
void
json_escape(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s && o + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
}

static void
vlog(const char *kind, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (json) {
		char esc[4096];
		json_escape(msg, esc, sizeof(esc));
		fprintf(stderr, "{\"level\":\"%s\",\"message\":\"%s\"}\n", kind,
			esc);
	} else if (strcmp(kind, "error") == 0) {
		fprintf(stderr, "%s: error: %s\n", prog, msg);
	} else if (strcmp(kind, "warning") == 0) {
		fprintf(stderr, "%s: warning: %s\n", prog, msg);
	} else {
		fprintf(stderr, "%s: %s\n", prog, msg);
	}
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
