/*
 * t.h - a minimal unit-test harness: CHECK() records a failure with its
 * location and goes on; each test binary ends with T_DONE(), which prints
 * "test_x: N checks, N failed" and exits non-zero on any failure.
 */
#ifndef ZKTLS_T_H
#define ZKTLS_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_checks, t_failed;

#define CHECK(cond)                                                         \
	do {                                                                \
		t_checks++;                                                 \
		if (!(cond)) {                                              \
			t_failed++;                                         \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",        \
				__FILE__, __LINE__, #cond);                 \
		}                                                           \
	} while (0)

#define CHECK_STR(a, b)                                                     \
	do {                                                                \
		const char *t_a = (a), *t_b = (b);                          \
		t_checks++;                                                 \
		if (!t_a || !t_b || strcmp(t_a, t_b) != 0) {                \
			t_failed++;                                         \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n",        \
				__FILE__, __LINE__, t_a ? t_a : "(null)",   \
				t_b ? t_b : "(null)");                      \
		}                                                           \
	} while (0)

#define T_DONE(name)                                                        \
	do {                                                                \
		printf("%s: %d checks, %d failed\n", (name), t_checks,      \
		       t_failed);                                           \
		return t_failed ? 1 : 0;                                    \
	} while (0)

#endif
