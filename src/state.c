/*
 * state.c - zktls serve's memory across restarts (see state.h): the last
 * success and failure per client and dataset, kept in STATE-DIR/state,
 * and how zktls status and the metrics file show them with the
 * certificates' expiry and each client's staleness (expect).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state.h"

#define STATE_FILE "state"
#define STATE_MAX (32 << 20)  /* STATE_MAX_ENTRIES of the longest */
#define NFIELDS 11         /* "E" and ten */

void
state_clean(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	if (cap == 0)
		return;
	for (; *src && i + 1 < cap; src++)
		dst[i++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
	dst[i] = '\0';
}

void
state_free(struct state *st)
{
	free(st->e);
	st->e = NULL;
	st->n = 0;
}

/* ------------------------------------------------------------ the file */

static void
put_field(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= ' ' || ch > '~' || ch == '%')
			fprintf(f, "%%%02X", ch);
		else
			fputc(ch, f);
	}
}

int
state_format(const struct state *st, FILE *f)
{
	fprintf(f, "zktls-state 1\nsince %" PRId64 "\n", st->since);
	for (int i = 0; i < st->n; i++) {
		const struct state_entry *e = &st->e[i];

		fputs("E\t", f);
		put_field(f, e->client);
		fputc('\t', f);
		put_field(f, e->dataset);
		fprintf(f, "\t%s\t%" PRId64 "\t%" PRIu64 "\t", e->direction,
			e->ok_time, e->ok_bytes);
		put_field(f, e->ok_snap);
		fprintf(f, "\t%" PRId64 "\t", e->fail_time);
		put_field(f, e->fail_why);
		fprintf(f, "\t%" PRIu64 "\t%" PRIu64 "\n", e->oks, e->fails);
	}
	return ferror(f) ? -1 : 0;
}

static bool
hexup(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* %XX-decode src into dst (cap bytes with the NUL): 0, or -1 for a bad
 * escape, a NUL, a byte that should have been escaped, or no room. */
static int
get_field(const char *src, char *dst, size_t cap)
{
	size_t o = 0;

	for (; *src; src++) {
		unsigned char ch = (unsigned char)*src;
		unsigned v;

		if (ch == '%') {
			/* (strchr would find the NUL) */
			if (!hexup(src[1]) || !hexup(src[2]) ||
			    sscanf(src + 1, "%2X", &v) != 1 || v == 0)
				return -1;
			ch = (unsigned char)v;
			src += 2;
		} else if (ch <= ' ' || ch > '~') {
			return -1;
		}
		if (o + 1 >= cap)
			return -1;
		dst[o++] = (char)ch;
	}
	dst[o] = '\0';
	return 0;
}

/* Digits only, at most max. */
static int
get_num(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0' || strlen(s) > 20)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static bool
valid_client(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("-_.", *s)))
			return false;
	return true;
}

static int
parse_entry(char *line, struct state_entry *e)
{
	char *f[NFIELDS], *save = NULL, *t;
	uint64_t v;
	int n = 0;

	/* strsep: empty fields are fields (strtok would merge tabs) */
	for (save = line; (t = strsep(&save, "\t")) != NULL;) {
		if (n == NFIELDS)
			return -1;
		f[n++] = t;
	}
	if (n != NFIELDS || strcmp(f[0], "E") != 0)
		return -1;
	memset(e, 0, sizeof(*e));
	if (get_field(f[1], e->client, sizeof(e->client)) < 0 ||
	    !valid_client(e->client) ||
	    get_field(f[2], e->dataset, sizeof(e->dataset)) < 0 ||
	    (strcmp(e->dataset, "-") != 0 && !zfs_name_valid(e->dataset, 'f')))
		return -1;
	if (strcmp(f[3], "push") && strcmp(f[3], "pull") && strcmp(f[3], "-"))
		return -1;
	snprintf(e->direction, sizeof(e->direction), "%s", f[3]);
	if (get_num(f[4], INT64_MAX, &v) < 0)
		return -1;
	e->ok_time = (int64_t)v;
	if (get_num(f[5], UINT64_MAX, &e->ok_bytes) < 0 ||
	    get_field(f[6], e->ok_snap, sizeof(e->ok_snap)) < 0 ||
	    get_num(f[7], INT64_MAX, &v) < 0)
		return -1;
	e->fail_time = (int64_t)v;
	if (get_field(f[8], e->fail_why, sizeof(e->fail_why)) < 0 ||
	    get_num(f[9], UINT64_MAX, &e->oks) < 0 ||
	    get_num(f[10], UINT64_MAX, &e->fails) < 0)
		return -1;
	/* what it says must hang together */
	if ((e->ok_time == 0) != (e->oks == 0) ||
	    (e->fail_time == 0) != (e->fails == 0))
		return -1;
	return 0;
}

static int __attribute__((format(printf, 4, 5)))
bad(struct state *st, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	state_free(st);
	return -1;
}

int
state_parse(const char *text, size_t len, struct state *st, char *err,
	    size_t errlen)
{
	char line[4096];          /* an entry escaped whole: under 2500 */
	size_t pos = 0;
	int ln = 0;

	memset(st, 0, sizeof(*st));
	if (errlen)
		err[0] = '\0';
	if (len > STATE_MAX)
		return bad(st, err, errlen, "larger than %d bytes", STATE_MAX);
	while (pos < len) {
		size_t n = 0;
		uint64_t v;

		ln++;
		while (pos + n < len && text[pos + n] != '\n')
			n++;
		if (pos + n == len)
			return bad(st, err, errlen, "line %d: cut short", ln);
		if (n >= sizeof(line))
			return bad(st, err, errlen, "line %d: too long", ln);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (memchr(line, '\0', n))
			return bad(st, err, errlen, "line %d: a NUL", ln);
		if (ln == 1) {
			if (strcmp(line, "zktls-state 1") != 0)
				return bad(st, err, errlen, "line 1: not a "
					   "zktls state file of version 1");
			continue;
		}
		if (ln == 2) {
			if (strncmp(line, "since ", 6) != 0 ||
			    get_num(line + 6, INT64_MAX, &v) < 0)
				return bad(st, err, errlen, "line 2: want "
					   "since TIME");
			st->since = (int64_t)v;
			continue;
		}
		if (st->n == STATE_MAX_ENTRIES)
			return bad(st, err, errlen, "line %d: more than %d "
				   "entries", ln, STATE_MAX_ENTRIES);
		if (st->n % 64 == 0) {
			struct state_entry *e = realloc(st->e, sizeof(*e) *
							(size_t)(st->n + 64));
			if (e == NULL)
				return bad(st, err, errlen, "out of memory");
			st->e = e;
		}
		if (parse_entry(line, &st->e[st->n]) < 0)
			return bad(st, err, errlen, "line %d: a bad entry", ln);
		for (int i = 0; i < st->n; i++)
			if (strcmp(st->e[i].client, st->e[st->n].client) == 0 &&
			    strcmp(st->e[i].dataset, st->e[st->n].dataset) == 0)
				return bad(st, err, errlen, "line %d: client "
					   "%s, dataset %s again", ln,
					   st->e[i].client, st->e[i].dataset);
		st->n++;
	}
	if (ln < 2)
		return bad(st, err, errlen, "empty");
	return 0;
}

int
state_load(int dfd, struct state *st, int64_t now, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n = 0;
	int fd, r;

	memset(st, 0, sizeof(*st));
	st->since = now;
	fd = openat(dfd, STATE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
		    O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	{
		struct stat sst;

		if (fstat(fd, &sst) < 0 || !S_ISREG(sst.st_mode)) {
			close(fd);
			snprintf(err, errlen, "not a regular file");
			return -1;
		}
	}
	if ((buf = malloc(STATE_MAX + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (len <= STATE_MAX &&
	       (n = read(fd, buf + len, STATE_MAX + 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		/* a read error is not a corrupt file: keep it as it is */
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		free(buf);
		return -1;
	}
	close(fd);
	r = state_parse(buf, len, st, err, errlen);
	free(buf);
	if (r < 0) {
		/* kept for a look, and out of the way of the next save */
		(void)renameat(dfd, STATE_FILE, dfd, STATE_FILE ".bad");
		memset(st, 0, sizeof(*st));
		st->since = now;
		return -1;
	}
	return 0;
}

int
state_save(int dfd, const struct state *st)
{
	FILE *f = NULL;
	int fd, e;

	(void)unlinkat(dfd, STATE_FILE ".tmp", 0);
	if ((fd = openat(dfd, STATE_FILE ".tmp", O_WRONLY | O_CREAT | O_EXCL |
			 O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		e = errno;
		close(fd);
		goto fail;
	}
	if (state_format(st, f) < 0 || fflush(f) != 0 || fsync(fd) != 0) {
		e = errno;
		fclose(f);
		goto fail;
	}
	if (fclose(f) != 0) {
		e = errno;
		goto fail;
	}
	if (renameat(dfd, STATE_FILE ".tmp", dfd, STATE_FILE) != 0) {
		e = errno;
		goto fail;
	}
	(void)fsync(dfd);
	return 0;
fail:
	(void)unlinkat(dfd, STATE_FILE ".tmp", 0);
	errno = e;
	return -1;
}

/* ------------------------------------------------------------ entries */

static struct state_entry *
entry(struct state *st, const char *client, const char *dataset)
{
	struct state_entry *e;

	int mine = 0, victim = -1;

	for (int i = 0; i < st->n; i++) {
		if (strcmp(st->e[i].client, client) != 0)
			continue;
		if (strcmp(st->e[i].dataset, dataset) == 0)
			return &st->e[i];
		mine++;
		/* the oldest of its names that never succeeded */
		if (st->e[i].ok_time == 0 &&
		    (victim < 0 || st->e[i].fail_time < st->e[victim].fail_time))
			victim = i;
	}
	/* one client's failures under made-up names take the place of its
	 * own older failures, never of another client's entries or of a
	 * success */
	if (mine >= STATE_PER_CLIENT) {
		if (victim < 0)
			return NULL;
		st->e[victim] = st->e[--st->n];
	}
	if (st->n == STATE_MAX_ENTRIES)
		return NULL;
	if (st->n % 64 == 0) {
		e = realloc(st->e, sizeof(*e) * (size_t)(st->n + 64));
		if (e == NULL)
			return NULL;
		st->e = e;
	}
	e = &st->e[st->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->client, sizeof(e->client), "%s", client);
	snprintf(e->dataset, sizeof(e->dataset), "%s", dataset);
	snprintf(e->direction, sizeof(e->direction), "-");
	return e;
}

void
state_note(struct state *st, const char *client, const char *dataset,
	   const char *direction, bool ok, int64_t when, uint64_t bytes,
	   const char *why)
{
	char ds[256];
	const char *at = strchr(dataset, '@');
	struct state_entry *e;

	snprintf(ds, sizeof(ds), "%.*s",
		 at ? (int)(at - dataset) : (int)strlen(dataset), dataset);
	if (!valid_client(client) || strlen(client) >= CONF_ID_LEN ||
	    (strcmp(ds, "-") != 0 && !zfs_name_valid(ds, 'f')))
		return;
	if ((e = entry(st, client, ds)) == NULL)
		return;
	if (strcmp(direction, "push") == 0 || strcmp(direction, "pull") == 0)
		snprintf(e->direction, sizeof(e->direction), "%s", direction);
	if (ok) {
		e->ok_time = when;
		e->ok_bytes = bytes;
		state_clean(e->ok_snap, sizeof(e->ok_snap), at ? at + 1 : "");
		e->oks++;
	} else {
		e->fail_time = when;
		state_clean(e->fail_why, sizeof(e->fail_why),
			    why && *why ? why : "failed");
		e->fails++;
	}
}

int
state_forget(struct state *st, const char *client)
{
	int n = 0, k = 0;

	for (int i = 0; i < st->n; i++) {
		if (strcmp(st->e[i].client, client) == 0) {
			n++;
			continue;
		}
		if (k != i)
			st->e[k] = st->e[i];
		k++;
	}
	st->n = k;
	return n;
}

bool
state_stale(const struct state_entry *e, int64_t expect, int64_t now)
{
	if (expect <= 0 || strcmp(e->dataset, "-") == 0)
		return false;
	return e->ok_time == 0 || now - e->ok_time > expect;
}

bool
state_client_silent(const struct state *st, const char *client,
		    int64_t expect, int64_t now)
{
	if (expect <= 0)
		return false;
	for (int i = 0; i < st->n; i++)
		if (strcmp(st->e[i].client, client) == 0 && st->e[i].ok_time)
			return false;
	return now - st->since > expect;
}

/* ------------------------------------------------------------ showing */

static int64_t
expect_of(const struct serve_conf *c, const char *client)
{
	const struct conf_client *cl = conf_client_by_id(c, client);

	return cl ? cl->expect_s : 0;
}

/* The certificates the server shows: its own and its CA. */
struct certs {
	const char *label, *path;
	time_t not_after;
	int ok;
};

static int
certs_of(const struct serve_conf *c, struct certs out[2])
{
	int n = 0;

	out[n++] = (struct certs){ "cert", c->cert, 0, 0 };
	if (c->ca[0])
		out[n++] = (struct certs){ "ca", c->ca, 0, 0 };
	for (int i = 0; i < n; i++) {
		out[i].ok = cert_file_expiry(out[i].path, &out[i].not_after,
					     NULL) == 0;
		zk_clear();
	}
	return n;
}

void
metrics_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* zktls_last_WHAT_timestamp_seconds{client,dataset} of every entry that
 * has one: its last success, or (fail) its last failure. */
static void
times(FILE *f, const struct state *st, const char *what, const char *help,
      bool fail)
{
	fprintf(f, "# HELP zktls_last_%s_timestamp_seconds When a client's "
		"dataset last %s.\n# TYPE zktls_last_%s_timestamp_seconds "
		"gauge\n", what, help, what);
	for (int i = 0; i < st->n; i++) {
		int64_t t = fail ? st->e[i].fail_time : st->e[i].ok_time;

		if (t == 0)
			continue;
		fprintf(f, "zktls_last_%s_timestamp_seconds{client=\"", what);
		metrics_label(f, st->e[i].client);
		fputs("\",dataset=\"", f);
		metrics_label(f, st->e[i].dataset);
		fprintf(f, "\"} %" PRId64 "\n", t);
	}
}

void
state_metrics(FILE *f, const struct state *st, const struct serve_conf *c,
	      int64_t now)
{
	struct certs ce[2];
	int nc = certs_of(c, ce);

	times(f, st, "success", "received or sent successfully", false);
	times(f, st, "failure", "failed", true);
	fprintf(f, "# HELP zktls_stale 1 when a dataset's last success is "
		"older than its client's expect (dataset \"*\": the client "
		"has none at all).\n# TYPE zktls_stale gauge\n");
	for (int i = 0; i < st->n; i++) {
		int64_t ex = expect_of(c, st->e[i].client);

		if (ex == 0 || strcmp(st->e[i].dataset, "-") == 0)
			continue;
		fputs("zktls_stale{client=\"", f);
		metrics_label(f, st->e[i].client);
		fputs("\",dataset=\"", f);
		metrics_label(f, st->e[i].dataset);
		fprintf(f, "\"} %d\n", state_stale(&st->e[i], ex, now));
	}
	for (int i = 0; i < c->nclients; i++) {
		const struct conf_client *cl = &c->clients[i];
		bool any = false;

		for (int k = 0; k < st->n && !any; k++)
			any = strcmp(st->e[k].client, cl->id) == 0 &&
			      st->e[k].ok_time;
		if (cl->expect_s && !any)
			fprintf(f, "zktls_stale{client=\"%s\",dataset=\"*\"} "
				"%d\n", cl->id,
				state_client_silent(st, cl->id, cl->expect_s,
						    now));
	}
	fprintf(f, "# HELP zktls_expect_seconds A client's expect: how old "
		"its last success may be.\n"
		"# TYPE zktls_expect_seconds gauge\n");
	for (int i = 0; i < c->nclients; i++)
		if (c->clients[i].expect_s)
			fprintf(f, "zktls_expect_seconds{client=\"%s\"} %"
				PRId64 "\n", c->clients[i].id,
				c->clients[i].expect_s);
	fprintf(f, "# HELP zktls_certificate_expiry_timestamp_seconds When "
		"the earliest certificate in the server's cert or ca file "
		"expires.\n"
		"# TYPE zktls_certificate_expiry_timestamp_seconds gauge\n");
	for (int i = 0; i < nc; i++)
		if (ce[i].ok)
			fprintf(f, "zktls_certificate_expiry_timestamp_seconds"
				"{file=\"%s\"} %lld\n", ce[i].label,
				(long long)ce[i].not_after);
	fprintf(f, "# HELP zktls_metrics_timestamp_seconds When serve wrote "
		"this file (at least once a minute while it runs).\n"
		"# TYPE zktls_metrics_timestamp_seconds gauge\n"
		"zktls_metrics_timestamp_seconds %" PRId64 "\n", now);
}

/* A JSON string, escaped by log.c's rules. */
static void
jstr(FILE *f, const char *s)
{
	char b[1600];

	json_escape(s, b, sizeof(b));
	fprintf(f, "\"%s\"", b);
}

static void
ago(char *b, size_t n, int64_t t, int64_t now)
{
	int64_t d = now - t;

	if (t == 0)
		snprintf(b, n, "never");
	else if (d < 120)
		snprintf(b, n, "%llds ago", (long long)d);
	else if (d < 7200)
		snprintf(b, n, "%lldm ago", (long long)(d / 60));
	else if (d < 172800)
		snprintf(b, n, "%lldh ago", (long long)(d / 3600));
	else
		snprintf(b, n, "%lldd ago", (long long)(d / 86400));
}

static void
status_json(FILE *f, const struct state *st, const struct serve_conf *c,
	    const struct state_active *a, int na, int64_t now, double started,
	    const struct certs *ce, int nc)
{
	fprintf(f, "{\"version\":1,\"now\":%" PRId64 ",\"started\":%.0f,"
		"\"since\":%" PRId64 ",\"certificates\":[", now, started,
		st->since);
	for (int i = 0; i < nc; i++) {
		fprintf(f, "%s{\"file\":\"%s\",\"path\":", i ? "," : "",
			ce[i].label);
		jstr(f, ce[i].path);
		if (ce[i].ok)
			fprintf(f, ",\"not_after\":%lld,\"days_left\":%d}",
				(long long)ce[i].not_after,
				cert_days_left(ce[i].not_after, (time_t)now));
		else
			fprintf(f, ",\"not_after\":null,\"days_left\":null}");
	}
	fprintf(f, "],\"active\":[");
	for (int i = 0; i < na; i++) {
		double rate = a[i].seconds > 0 ? (double)a[i].bytes /
						     a[i].seconds : 0;

		fprintf(f, "%s{\"client\":", i ? "," : "");
		jstr(f, a[i].client);
		fprintf(f, ",\"source\":");
		jstr(f, a[i].source);
		fprintf(f, ",\"dataset\":");
		jstr(f, a[i].dataset);
		fprintf(f, ",\"direction\":\"%s\",\"plane\":\"%s\",\"bytes\":%"
			PRIu64 ",\"estimated\":%s,\"rate\":%.0f,\"since\":%.0f}",
			a[i].direction, a[i].plane, a[i].bytes,
			a[i].estimated ? "true" : "false", rate, a[i].started);
	}
	fprintf(f, "],\"datasets\":[");
	for (int i = 0; i < st->n; i++) {
		const struct state_entry *e = &st->e[i];
		int64_t ex = expect_of(c, e->client);

		fprintf(f, "%s{\"client\":", i ? "," : "");
		jstr(f, e->client);
		fprintf(f, ",\"dataset\":");
		jstr(f, e->dataset);
		fprintf(f, ",\"direction\":\"%s\",\"last_success\":",
			e->direction);
		if (e->ok_time) {
			fprintf(f, "{\"time\":%" PRId64 ",\"bytes\":%" PRIu64
				",\"snapshot\":", e->ok_time, e->ok_bytes);
			jstr(f, e->ok_snap);
			fputc('}', f);
		} else {
			fputs("null", f);
		}
		fprintf(f, ",\"last_failure\":");
		if (e->fail_time) {
			fprintf(f, "{\"time\":%" PRId64 ",\"reason\":",
				e->fail_time);
			jstr(f, e->fail_why);
			fputc('}', f);
		} else {
			fputs("null", f);
		}
		fprintf(f, ",\"successes\":%" PRIu64 ",\"failures\":%" PRIu64
			",\"expect\":%" PRId64 ",\"stale\":%s}", e->oks,
			e->fails, ex, state_stale(e, ex, now) ? "true"
							      : "false");
	}
	fprintf(f, "],\"silent_clients\":[");
	for (int i = 0, k = 0; i < c->nclients; i++)
		if (state_client_silent(st, c->clients[i].id,
					c->clients[i].expect_s, now)) {
			fprintf(f, "%s", k++ ? "," : "");
			jstr(f, c->clients[i].id);
		}
	fprintf(f, "]}\n");
}

static void
status_text(FILE *f, const struct state *st, const struct serve_conf *c,
	    const struct state_active *a, int na, int64_t now,
	    const struct certs *ce, int nc)
{
	char b1[32], b2[32], t1[32], t2[32], safe[700];

	fprintf(f, "certificates:\n");
	for (int i = 0; i < nc; i++) {
		text_safe(ce[i].path, safe, sizeof(safe));
		if (ce[i].ok)
			fprintf(f, "  %-4s %s: expires in %d days\n",
				ce[i].label, safe,
				cert_days_left(ce[i].not_after, (time_t)now));
		else
			fprintf(f, "  %-4s %s: unreadable\n", ce[i].label,
				safe);
	}
	fprintf(f, "active sessions: %d\n", na);
	if (na)
		fprintf(f, "  %-16s %-5s %-8s %10s %10s %6s  %s\n", "CLIENT",
			"DIR", "PLANE", "BYTES", "RATE/s", "SECS", "DATASET");
	for (int i = 0; i < na; i++) {
		human_bytes(a[i].bytes, b1, sizeof(b1));
		human_bytes(a[i].seconds > 0 ? (uint64_t)((double)a[i].bytes /
							  a[i].seconds) : 0,
			    b2, sizeof(b2));
		text_safe(a[i].dataset[0] ? a[i].dataset : "-", safe,
			  sizeof(safe));
		fprintf(f, "  %-16s %-5s %-8s %s%9s %10s %6.0f  %s\n",
			a[i].client, a[i].direction[0] ? a[i].direction : "-",
			a[i].plane[0] ? a[i].plane : "-",
			a[i].estimated ? "~" : " ", b1, b2,
			(double)now - a[i].started, safe);
	}
	fprintf(f, "datasets: %d\n", st->n);
	if (st->n)
		fprintf(f, "  %-16s %-5s %-12s %-12s %-6s  %s\n", "CLIENT",
			"DIR", "LAST OK", "LAST FAIL", "STALE", "DATASET");
	for (int i = 0; i < st->n; i++) {
		const struct state_entry *e = &st->e[i];
		int64_t ex = expect_of(c, e->client);

		ago(t1, sizeof(t1), e->ok_time, now);
		ago(t2, sizeof(t2), e->fail_time, now);
		text_safe(e->dataset, safe, sizeof(safe));
		fprintf(f, "  %-16s %-5s %-12s %-12s %-6s  %s\n", e->client,
			e->direction, t1, t2,
			ex == 0 ? "-" : state_stale(e, ex, now) ? "STALE"
								: "no",
			safe);
		if (e->fail_time && e->fail_time >= e->ok_time) {
			text_safe(e->fail_why, safe, sizeof(safe));
			fprintf(f, "      last failure: %s\n", safe);
		}
	}
	for (int i = 0; i < c->nclients; i++)
		if (state_client_silent(st, c->clients[i].id,
					c->clients[i].expect_s, now))
			fprintf(f, "  %-16s STALE: no success since %lld "
				"(expect %llds)\n", c->clients[i].id,
				(long long)st->since,
				(long long)c->clients[i].expect_s);
}

void
state_status(FILE *f, int json, const struct state *st,
	     const struct serve_conf *c, const struct state_active *a, int na,
	     int64_t now, double started)
{
	struct certs ce[2];
	int nc = certs_of(c, ce);

	if (json)
		status_json(f, st, c, a, na, now, started, ce, nc);
	else
		status_text(f, st, c, a, na, now, ce, nc);
}
