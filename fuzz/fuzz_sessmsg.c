/*
 * fuzz_sessmsg.c - libFuzzer target for the lines a session process says
 * to zktls serve's master (sessmsg.c).  Any line is refused whole or
 * parses into fields of their form: an id, a valid ZFS name or "-", a
 * known plane, a finite time in range, printable text; written again the
 * way a session writes it, it parses to the same fields.
 *
 *   make fuzz && build/fuzz/fuzz_sessmsg -max_total_time=60
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sessmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static bool
plane_known(const char *p)
{
	return strcmp(p, "user") == 0 || strcmp(p, "rw") == 0 ||
	       strcmp(p, "splice") == 0 || strcmp(p, "direct") == 0 ||
	       strcmp(p, "none") == 0;
}

static bool
name_or_none(const char *s)
{
	return strcmp(s, "-") == 0 ||
	       zfs_name_valid(s, strchr(s, '@') ? 's' : 'f');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[1024], again[1100];
	struct sessmsg m, n;

	/* what the master hands over: a line of its buffer, no newline */
	if (size >= sizeof(line))
		size = sizeof(line) - 1;
	memcpy(line, data, size);
	line[size] = '\0';
	line[strcspn(line, "\n")] = '\0';
	switch (sessmsg_parse(line, &m)) {
	case SESSMSG_BAD:
		if (m.kind != SESSMSG_BAD || m.client[0] || m.dataset[0])
			abort();
		return 0;
	case SESSMSG_ID:
		snprintf(again, sizeof(again), "ID %s", m.client);
		break;
	case SESSMSG_REQ:
		if ((strcmp(m.direction, "push") != 0 &&
		     strcmp(m.direction, "pull") != 0) ||
		    strcmp(m.dataset, "-") == 0 || !name_or_none(m.dataset))
			abort();
		snprintf(again, sizeof(again), "REQ %s %s", m.direction,
			 m.dataset);
		break;
	case SESSMSG_PROG:
		if (!plane_known(m.plane) || (m.estimated != 0 &&
					      m.estimated != 1))
			abort();
		snprintf(again, sizeof(again), "PROG %s %llu %d", m.plane,
			 m.bytes, m.estimated);
		break;
	case SESSMSG_WHY:
		for (const char *p = m.why; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();
		snprintf(again, sizeof(again), "WHY %s", m.why);
		break;
	case SESSMSG_END:
		if (!plane_known(m.plane) || !name_or_none(m.dataset) ||
		    !isfinite(m.seconds) || m.seconds < 0 || m.seconds > 1e8)
			abort();
		snprintf(again, sizeof(again), "END %s %s %s %llu %.6f %s",
			 m.client, m.result, m.plane, m.bytes, m.seconds,
			 m.dataset);
		break;
	default:
		abort();
	}
	if (sessmsg_parse(again, &n) != m.kind ||
	    strcmp(n.client, m.client) != 0 ||
	    strcmp(n.direction, m.direction) != 0 ||
	    strcmp(n.dataset, m.dataset) != 0 ||
	    strcmp(n.result, m.result) != 0 ||
	    strcmp(n.plane, m.plane) != 0 || n.bytes != m.bytes ||
	    n.estimated != m.estimated || strcmp(n.why, m.why) != 0 ||
	    fabs(n.seconds - m.seconds) > 1e-6 * (1 + m.seconds))
		abort();
	return 0;
}
