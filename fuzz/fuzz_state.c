/*
 * fuzz_state.c - libFuzzer target for zktls serve's state file parser
 * (state.c): any bytes are refused whole (no entries, a reason) or parse
 * into valid entries; what parsed, written again with state_format(),
 * parses to the very same entries.
 *
 *   make fuzz && build/fuzz/fuzz_state -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char out[1 << 22];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state a, b;
	char err[300];
	FILE *f;
	long n;

	if (state_parse((const char *)data, size, &a, err, sizeof(err)) < 0) {
		if (a.n != 0 || a.e != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	for (int i = 0; i < a.n; i++)
		if (strcmp(a.e[i].dataset, "-") != 0 &&
		    !zfs_name_valid(a.e[i].dataset, 'f'))
			abort();
	if ((f = fmemopen(out, sizeof(out), "w")) == NULL)
		abort();
	if (state_format(&a, f) < 0)
		abort();
	n = ftell(f);
	fclose(f);
	if (state_parse(out, (size_t)n, &b, err, sizeof(err)) < 0 ||
	    b.n != a.n || b.since != a.since ||
	    (a.n && memcmp(a.e, b.e, sizeof(*a.e) * (size_t)a.n) != 0))
		abort();
	state_free(&a);
	state_free(&b);
	return 0;
}
