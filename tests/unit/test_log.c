/*
 * test_log.c - text_safe() and json_escape(): peer text reaches a terminal
 * or a JSON log only as printable text, and JSON stays valid UTF-8.
 */
#include "t.h"
#include "zktls.h"

static void
safe(const char *in, const char *want)
{
	char out[256];

	text_safe(in, out, sizeof(out));
	CHECK_STR(out, want);
}

static void
js(const char *in, const char *want)
{
	char out[256];

	json_escape(in, out, sizeof(out));
	CHECK_STR(out, want);
}

int
main(void)
{
	char small[8];

	safe("plain text 123", "plain text 123");
	safe("tab\there", "tab\\u{0009}here");
	safe("\x1b[31mred", "\\u{001B}[31mred");
	safe("del\x7f", "del\\u{007F}");
	/* C1 controls encoded as UTF-8 (CSI is U+009B) */
	safe("a\xc2\x9b" "31mb", "a\\u{009B}31mb");
	/* a raw C1 byte is not UTF-8 */
	safe("a\x9b" "b", "a\\x9Bb");
	/* well-formed printable UTF-8 passes */
	safe("Z\xc3\xbcrich \xe2\x82\xac \xf0\x9f\x94\x92", "Z\xc3\xbcrich \xe2\x82\xac \xf0\x9f\x94\x92");
	/* overlong, surrogate, truncated, out of range */
	safe("\xc0\xaf", "\\xC0\\xAF");
	safe("\xed\xa0\x80", "\\xED\\xA0\\x80");
	safe("\xe2\x82", "\\xE2\\x82");
	safe("\xf4\x90\x80\x80", "\\xF4\\x90\\x80\\x80");
	/* right-to-left override, line separator, BOM */
	safe("abc\xe2\x80\xaexyz", "abc\\u{202E}xyz");
	safe("\xe2\x80\xa8", "\\u{2028}");
	safe("\xef\xbb\xbf", "\\u{FEFF}");
	/* truncation never cuts an escape or a sequence in half */
	text_safe("ab\x1b", small, sizeof(small));
	CHECK_STR(small, "ab");
	text_safe("abcdef\xc3\xbc", small, sizeof(small));
	CHECK_STR(small, "abcdef");

	js("q\"b\\s", "q\\\"b\\\\s");
	js("nl\n", "nl\\u000A");
	js("c1\xc2\x85", "c1\\u0085");
	js("bad\xff", "bad\\\\xFF");
	js("ok \xc3\xa9", "ok \xc3\xa9");
	T_DONE("test_log");
}
