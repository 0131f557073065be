/*
 * retain.c - the retention planner (retain.h): a keep grid, parsed and
 * applied to one dataset's snapshots.  Pure but for retain_now() and
 * retain_list(), which read the clock and zfs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retain.h"
#include "zktls.h"

static const char *const period_names[RP_END] = {
	[RP_HOURLY] = "hourly", [RP_DAILY] = "daily", [RP_WEEKLY] = "weekly",
	[RP_MONTHLY] = "monthly", [RP_YEARLY] = "yearly",
};

int
retain_grid_parse(const char *text, struct retain_grid *g, char *why,
		  size_t wl)
{
	char buf[512], *save = NULL, *w;
	unsigned seen = 0;

	memset(g, 0, sizeof(*g));
	if (strlen(text) >= sizeof(buf))
		return snprintf(why, wl, "keep grid too long"), -1;
	snprintf(buf, sizeof(buf), "%s", text);
	for (w = strtok_r(buf, " \t,", &save); w;
	     w = strtok_r(NULL, " \t,", &save)) {
		char *eq = strchr(w, '='), *end;
		unsigned long v;
		int k;

		if (eq == NULL)
			return snprintf(why, wl, "keep: '%.40s' is not "
					"PERIOD=COUNT", w), -1;
		*eq = '\0';
		for (k = 0; k <= RP_END; k++)
			if (k == RP_END ? strcmp(w, "newest") == 0
					: strcmp(w, period_names[k]) == 0)
				break;
		if (k > RP_END)
			return snprintf(why, wl, "keep: unknown period '%.40s' "
					"(hourly, daily, weekly, monthly, "
					"yearly, newest)", w), -1;
		errno = 0;
		v = strtoul(eq + 1, &end, 10);
		if (eq[1] < '0' || eq[1] > '9' || *end != '\0' || errno ||
		    v > RETAIN_MAX_COUNT)
			return snprintf(why, wl, "keep: bad count '%.40s' for %s "
					"(0 to %d)", eq + 1, w,
					RETAIN_MAX_COUNT), -1;
		if (seen & (1u << k))
			return snprintf(why, wl, "keep: %s given twice", w), -1;
		seen |= 1u << k;
		if (k == RP_END)
			g->newest = (int)v;
		else
			g->count[k] = (int)v;
	}
	if (seen == 0)
		return snprintf(why, wl, "keep: an empty grid (want e.g. "
				"\"daily=30 newest=2\")"), -1;
	g->set = 1;
	return 0;
}

void
retain_grid_print(const struct retain_grid *g, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	if (!g->set)
		return;
	for (int k = 0; k < RP_END; k++)
		if (g->count[k] && o < cap)
			o += (size_t)snprintf(out + o, cap - o, "%s%s=%d",
					      o ? " " : "", period_names[k],
					      g->count[k]);
	if ((g->newest || o == 0) && o < cap)
		snprintf(out + o, cap - o, "%snewest=%d", o ? " " : "",
			 g->newest);
}

/* The period of t, as a key that sorts like time and the text for why. */
static long long
period_of(int k, time_t t, char *label, size_t cap)
{
	struct tm tm;
	char wk[16];

	if (localtime_r(&t, &tm) == NULL) {
		snprintf(label, cap, "?");
		return 0;
	}
	switch (k) {
	case RP_HOURLY:
		strftime(label, cap, "%Y-%m-%d %H:00", &tm);
		return ((long long)tm.tm_year * 400 + tm.tm_yday) * 24 +
		       tm.tm_hour;
	case RP_DAILY:
		strftime(label, cap, "%Y-%m-%d", &tm);
		return (long long)tm.tm_year * 400 + tm.tm_yday;
	case RP_WEEKLY:
		/* ISO 8601 weeks: a week's year is its Thursday's */
		strftime(label, cap, "%G-W%V", &tm);
		strftime(wk, sizeof(wk), "%G%V", &tm);
		return strtoll(wk, NULL, 10);
	case RP_MONTHLY:
		strftime(label, cap, "%Y-%m", &tm);
		return (long long)tm.tm_year * 12 + tm.tm_mon;
	default:
		strftime(label, cap, "%Y", &tm);
		return tm.tm_year;
	}
}

static void
keep(struct retain_snap *s, const char *why)
{
	if (s->keep)
		return;
	s->keep = 1;
	snprintf(s->why, sizeof(s->why), "%s", why);
}

int
retain_plan(const struct retain_grid *g, struct retain_snap *s, int n,
	    time_t now)
{
	int gone = 0;

	for (int i = 0; i < n; i++) {
		s[i].keep = 0;
		s[i].why[0] = '\0';
	}
	if (n == 0)
		return 0;
	/* what is never let go, whatever the grid */
	keep(&s[n - 1], "newest");
	for (int i = 0; i < n; i++) {
		if (s[i].creation > (int64_t)now)
			keep(&s[i], "in the future (clock skew)");
		if (s[i].held)
			keep(&s[i], "held");
		if (s[i].protect)
			keep(&s[i], s[i].protect);
	}
	if (!g->set) {
		for (int i = 0; i < n; i++)
			keep(&s[i], "no keep grid");
		return 0;
	}
	for (int i = n - 1, c = 0; i >= 0 && c < g->newest; i--, c++) {
		char why[32];

		snprintf(why, sizeof(why), "newest %d", g->newest);
		keep(&s[i], why);
	}
	/* newest first: the first snapshot met in a period is its newest.
	 * Those in the future are kept already and take no period. */
	for (int k = 0; k < RP_END; k++) {
		long long last = 0;
		int taken = 0;

		for (int i = n - 1; i >= 0 && taken < g->count[k]; i--) {
			char label[40], why[80];
			long long p;

			if (s[i].creation > (int64_t)now)
				continue;
			p = period_of(k, (time_t)s[i].creation, label,
				      sizeof(label));
			if (taken > 0 && p == last)
				continue;
			last = p;
			taken++;
			snprintf(why, sizeof(why), "%s %s", period_names[k],
				 label);
			keep(&s[i], why);
		}
	}
	for (int i = 0; i < n; i++)
		if (!s[i].keep) {
			snprintf(s[i].why, sizeof(s[i].why), "outside keep grid");
			gone++;
		}
	return gone;
}

time_t
retain_now(void)
{
	const char *e = getenv("ZKTLS_NOW");
	char *end;
	long long v;

	if (e && *e) {
		errno = 0;
		v = strtoll(e, &end, 10);
		if (*end == '\0' && errno == 0 && v > 0)
			return (time_t)v;
	}
	return time(NULL);
}

/* One line "NAME\tGUID\tCREATION\tUSERREFS" of dataset's snapshots:
 * strict, or -1. */
static int
parse_line(const char *dataset, char *line, struct retain_snap *s)
{
	char *f[4], *end, *save = NULL;
	size_t dl = strlen(dataset);
	unsigned long long v[3];

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 4; i++) {
		f[i] = strtok_r(i ? NULL : line, "\t", &save);
		if (f[i] == NULL)
			return -1;
	}
	if (strtok_r(NULL, "\t", &save) != NULL ||
	    strlen(f[0]) >= sizeof(s->name) || !zfs_name_valid(f[0], 's') ||
	    strncmp(f[0], dataset, dl) != 0 || f[0][dl] != '@')
		return -1;
	for (int i = 0; i < 3; i++) {
		if (f[i + 1][0] < '0' || f[i + 1][0] > '9')
			return -1;
		errno = 0;
		v[i] = strtoull(f[i + 1], &end, 10);
		if (*end != '\0' || errno)
			return -1;
	}
	if (v[1] > INT64_MAX)
		return -1;
	snprintf(s->name, sizeof(s->name), "%s", f[0]);
	s->guid = v[0];
	s->creation = (int64_t)v[1];
	s->held = v[2] > 0;
	return 0;
}

int
retain_list(const char *dataset, struct retain_snap *s, int max)
{
	static char list[1 << 21];
	struct zfs_req r;
	char *line, *save = NULL;
	int n = 0;

	if (zfs_req(&r, ZOP_LIST, ZL_RETAIN, dataset) < 0 ||
	    zfs_do(&r, list, sizeof(list)) != 0)
		return -1;
	if (strlen(list) == sizeof(list) - 1)
		return -1; /* cut short: a plan on part of it is wrong */
	for (line = strtok_r(list, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (n == max || parse_line(dataset, line, &s[n]) < 0)
			return -1;
		n++;
	}
	return n;
}
