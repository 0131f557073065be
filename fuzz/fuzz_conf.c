/*
 * fuzz_conf.c - libFuzzer target for zktls serve's configuration parser.
 *
 * Any text either fails with "line N: ..." (N within the text, or 0 for
 * what the whole file lacks) or parses; a parsed configuration printed
 * with conf_print() must parse again and print the very same text.
 *
 *   make fuzz && build/fuzz/fuzz_conf -max_total_time=60 CORPUS_DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char out1[1 << 20], out2[1 << 20];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct serve_conf c1, c2;
	char err[600];
	int n1, n2, line, lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	zk_clear();
	if (conf_parse((const char *)data, size, &c1, err, sizeof(err)) < 0) {
		if (sscanf(err, "line %d: ", &line) != 1 || line < 0 ||
		    line > lines || strlen(err) < 9)
			abort();
		return 0;
	}
	n1 = conf_print(&c1, out1, sizeof(out1));
	if (n1 < 0)
		abort();
	if (conf_parse(out1, (size_t)n1, &c2, err, sizeof(err)) < 0)
		abort();
	n2 = conf_print(&c2, out2, sizeof(out2));
	if (n2 != n1 || memcmp(out1, out2, (size_t)n1) != 0)
		abort();
	/* the round trip keeps every client's rule (what a reload
	 * compares) */
	if (c2.nclients != c1.nclients)
		abort();
	for (int i = 0; i < c1.nclients; i++)
		if (!conf_client_same(&c1.clients[i], &c2.clients[i]))
			abort();
	conf_free(&c1);
	conf_free(&c2);
	return 0;
}
