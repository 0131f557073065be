/*
 * sessmsg.c - the lines a session process says to serve's master, parsed
 * as hostile input (see sessmsg.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sessmsg.h"

/* The next field of *p: up to a single space (last: up to the end of the
 * line, spaces and all, as in a ZFS name, which never begins with one),
 * into out; false when it is empty, does not fit, or another field does
 * not follow where one must. */
static bool
field(const char **p, char *out, size_t cap, bool last)
{
	size_t n = last ? strlen(*p) : strcspn(*p, " ");

	if (n == 0 || n >= cap || (!last && (*p)[n] != ' ') || **p == ' ')
		return false;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += last ? n : n + 1;
	return true;
}

static bool
all_of(const char *s, const char *set)
{
	return *s != '\0' && strspn(s, set) == strlen(s);
}

/* A configured client's id has this form (conf.c). */
static bool
id_ok(const char *s)
{
	return all_of(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789-_.");
}

static bool
plane_ok(const char *p)
{
	return strcmp(p, "user") == 0 || strcmp(p, "rw") == 0 ||
	       strcmp(p, "splice") == 0 || strcmp(p, "direct") == 0 ||
	       strcmp(p, "none") == 0;
}

/* A byte count: digits only, no more than fit. */
static bool
count_ok(const char *s, unsigned long long *v)
{
	char *end;

	if (!all_of(s, "0123456789"))
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

/* A name the session may claim: a file system or volume, or a snapshot
 * of one. */
static bool
name_ok(const char *s)
{
	return zfs_name_valid(s, strchr(s, '@') ? 's' : 'f');
}

static enum sessmsg_kind
parse_end(const char *p, struct sessmsg *m)
{
	char bytes[24], secs[24];
	char *end;

	if (!field(&p, m->client, sizeof(m->client), false) ||
	    !id_ok(m->client) ||
	    !field(&p, m->result, sizeof(m->result), false) ||
	    !all_of(m->result, "abcdefghijklmnopqrstuvwxyz") ||
	    !field(&p, m->plane, sizeof(m->plane), false) ||
	    !plane_ok(m->plane) ||
	    !field(&p, bytes, sizeof(bytes), false) ||
	    !count_ok(bytes, &m->bytes) ||
	    !field(&p, secs, sizeof(secs), false) ||
	    !all_of(secs, "0123456789.") || *p == '\0' || *p == ' ')
		return SESSMSG_BAD;
	/* A dataset that is no valid name (one too long, say: the session
	 * builds it from what its client sent) leaves the end counted, about
	 * no dataset. */
	if (!field(&p, m->dataset, sizeof(m->dataset), true) ||
	    (strcmp(m->dataset, "-") != 0 && !name_ok(m->dataset)))
		snprintf(m->dataset, sizeof(m->dataset), "-");
	m->seconds = strtod(secs, &end);
	if (*end != '\0' || !isfinite(m->seconds) || m->seconds < 0 ||
	    m->seconds > 1e8)
		return SESSMSG_BAD;
	return SESSMSG_END;
}

static enum sessmsg_kind
parse(const char *line, struct sessmsg *m)
{
	const char *p;

	if (strncmp(line, "ID ", 3) == 0) {
		p = line + 3;
		return field(&p, m->client, sizeof(m->client), true) &&
				       id_ok(m->client)
			       ? SESSMSG_ID
			       : SESSMSG_BAD;
	}
	if (strncmp(line, "REQ ", 4) == 0) {
		p = line + 4;
		return field(&p, m->direction, sizeof(m->direction), false) &&
				       (strcmp(m->direction, "push") == 0 ||
					strcmp(m->direction, "pull") == 0) &&
				       field(&p, m->dataset, sizeof(m->dataset),
					     true) &&
				       name_ok(m->dataset)
			       ? SESSMSG_REQ
			       : SESSMSG_BAD;
	}
	if (strncmp(line, "PROG ", 5) == 0) {
		char bytes[24], est[2];

		p = line + 5;
		if (!field(&p, m->plane, sizeof(m->plane), false) ||
		    !plane_ok(m->plane) ||
		    !field(&p, bytes, sizeof(bytes), false) ||
		    !count_ok(bytes, &m->bytes) ||
		    !field(&p, est, sizeof(est), true) ||
		    (est[0] != '0' && est[0] != '1'))
			return SESSMSG_BAD;
		m->estimated = est[0] == '1';
		return SESSMSG_PROG;
	}
	if (strncmp(line, "WHY ", 4) == 0) {
		state_clean(m->why, sizeof(m->why), line + 4);
		return SESSMSG_WHY;
	}
	if (strncmp(line, "END ", 4) == 0)
		return parse_end(line + 4, m);
	return SESSMSG_BAD;
}

enum sessmsg_kind
sessmsg_parse(const char *line, struct sessmsg *m)
{
	memset(m, 0, sizeof(*m));
	if ((m->kind = parse(line, m)) == SESSMSG_BAD)
		memset(m, 0, sizeof(*m));
	return m->kind;
}

bool
sessmsg_within(const char *ds, const char *req)
{
	size_t n = strcspn(req, "@");

	return n > 0 && strncmp(ds, req, n) == 0 &&
	       (ds[n] == '\0' || ds[n] == '@' || ds[n] == '/');
}
