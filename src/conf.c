/*
 * conf.c - parse zktls.conf (see conf.h and zktls.conf(5)).
 *
 * The format is line oriented: a directive and its arguments separated by
 * blanks, "#" to the end of the line a comment, and "client ID {" ... "}"
 * blocks.  The parser is strict, as for any input that decides who may
 * write to a pool: unknown directives, missing or extra arguments, values
 * out of range, names ZFS would refuse, repeated singletons, a client
 * that could never be recognised or may do nothing: each is an error that
 * names its line.  Fuzzed (fuzz/fuzz_conf.c) with a round trip through
 * conf_print().
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

#define MAX_ARGS 8
#define MAX_FILE (1 << 20)

struct parser {
	struct serve_conf *c;
	struct conf_client *cl;   /* the open client block, or NULL */
	int line;
	char *err;
	size_t errlen;
	/* which singletons were seen (server, then the open client) */
	unsigned seen, cseen;
};

static int __attribute__((format(printf, 2, 3)))
perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errlen, "line %d: ", p->line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A size with an optional K/M/G suffix (powers of 1024). */
static int
parse_rate(const char *s, uint64_t *out)
{
	unsigned long long v, mul = 1;
	char num[32];
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'K': mul = 1ull << 10; num[--n] = '\0'; break;
	case 'M': mul = 1ull << 20; num[--n] = '\0'; break;
	case 'G': mul = 1ull << 30; num[--n] = '\0'; break;
	}
	if (parse_uint(num, (1ull << 40) / mul, &v) < 0 || v == 0)
		return -1;
	*out = v * mul;
	return 0;
}

int
conf_parse_duration(const char *s, int64_t *out)
{
	unsigned long long v, mul;
	char num[32];
	size_t n = strlen(s);

	if (n < 2 || n >= sizeof(num))
		return -1;
	switch (s[n - 1]) {
	case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	default: return -1;
	}
	memcpy(num, s, n - 1);
	num[n - 1] = '\0';
	/* at most a year: longer is a mistake, not a schedule */
	if (parse_uint(num, 366ull * 86400 / mul, &v) < 0 || v == 0)
		return -1;
	*out = (int64_t)(v * mul);
	return 0;
}

static int
parse_bool(const char *s, int *out)
{
	if (strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "no") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* A path: absolute, printable, no blanks (the tokenizer splits on them). */
static int
set_path(struct parser *p, char *dst, const char *v, const char *what)
{
	if (v[0] != '/' || strlen(v) >= CONF_PATH_LEN)
		return perr(p, "%s must be an absolute path", what);
	snprintf(dst, CONF_PATH_LEN, "%s", v);
	return 0;
}

static int
valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CONF_ID_LEN)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return 0;
	return 1;
}

/* Directives: name, where (0 server, 1 client), number of arguments
 * (-1: one or more), repeatable. */
struct directive {
	const char *name;
	int client;
	int nargs;
	int repeat;
};
static const struct directive directives[] = {
	{ "listen", 0, 1, 1 },       { "cert", 0, 1, 0 },
	{ "key", 0, 1, 0 },          { "ca", 0, 1, 0 },
	{ "user", 0, 1, 0 },         { "timeout", 0, 1, 0 },
	{ "max-sessions", 0, 1, 0 }, { "grace", 0, 1, 0 },
	{ "mode", 0, 1, 0 },         { "metrics", 0, 1, 0 },
	{ "privsep", 0, 1, 0 },      { "state-dir", 0, 1, 0 },
	{ "control", 0, 1, 0 },      { "control-group", 0, 1, 0 },
	{ "privsep", 0, 1, 0 },      { "prune-interval", 0, 1, 0 },
	{ "name", 1, 1, 1 },         { "pin", 1, 1, 0 },
	{ "push", 1, 1, 0 },         { "pull", 1, 1, 1 },
	{ "max-sessions", 1, 1, 0 }, { "rate", 1, 1, 0 },
	{ "resumable", 1, 1, 0 },    { "wildcards", 1, 1, 0 },
	{ "rollback", 1, 1, 0 },     { "raw", 1, 1, 0 },
	{ "property", 1, 1, 1 },     { "exclude", 1, 1, 1 },
	{ "expect", 1, 1, 0 },
	{ "keep", 1, -1, 0 },
};

static int
server_directive(struct parser *p, const char *d, char **a)
{
	struct serve_conf *c = p->c;
	unsigned long long v;

	if (strcmp(d, "listen") == 0) {
		char host[256], port[16];
		if (c->nlisten == CONF_MAX_LISTEN)
			return perr(p, "more than %d listen addresses",
				    CONF_MAX_LISTEN);
		if (net_parse_addr(a[0], host, sizeof(host), port,
				   sizeof(port)) < 0) {
			zk_clear();
			return perr(p, "bad listen address '%s' (want "
				    "ADDR:PORT or [ADDR]:PORT)", a[0]);
		}
		c->listen_line[c->nlisten] = p->line;
		snprintf(c->listen[c->nlisten++], sizeof(c->listen[0]), "%s",
			 a[0]);
		return 0;
	}
	if (strcmp(d, "cert") == 0)
		return set_path(p, c->cert, a[0], "cert");
	if (strcmp(d, "key") == 0)
		return set_path(p, c->key, a[0], "key");
	if (strcmp(d, "ca") == 0)
		return set_path(p, c->ca, a[0], "ca");
	if (strcmp(d, "metrics") == 0) {
		c->metrics_line = p->line;
		if (a[0][strlen(a[0]) - 1] == '/')
			return perr(p, "metrics names a file, not a directory");
		return set_path(p, c->metrics, a[0], "metrics");
	}
	if (strcmp(d, "state-dir") == 0) {
		c->state_dir_line = p->line;
		return set_path(p, c->state_dir, a[0], "state-dir");
	}
	if (strcmp(d, "control") == 0) {
		c->control_line = p->line;
		/* sun_path's room */
		if (strlen(a[0]) >= 100 || a[0][strlen(a[0]) - 1] == '/')
			return perr(p, "control names a socket's path (under "
				    "100 bytes)");
		return set_path(p, c->control, a[0], "control");
	}
	if (strcmp(d, "control-group") == 0) {
		if (!valid_id(a[0]) ||
		    strlen(a[0]) >= sizeof(c->control_group))
			return perr(p, "bad group name '%s'", a[0]);
		snprintf(c->control_group, sizeof(c->control_group), "%s",
			 a[0]);
		c->control_group_line = p->line;
		return 0;
	}
	if (strcmp(d, "user") == 0) {
		if (!valid_id(a[0]) || strlen(a[0]) >= sizeof(c->user))
			return perr(p, "bad user name '%s'", a[0]);
		snprintf(c->user, sizeof(c->user), "%s", a[0]);
		c->user_line = p->line;
		return 0;
	}
	if (strcmp(d, "timeout") == 0 || strcmp(d, "grace") == 0) {
		if (parse_uint(a[0], 86400, &v) < 0 || v == 0)
			return perr(p, "bad %s '%s' (1 to 86400 seconds)", d,
				    a[0]);
		*(d[0] == 't' ? &c->timeout_s : &c->grace_s) = (int)v;
		return 0;
	}
	if (strcmp(d, "max-sessions") == 0) {
		if (parse_uint(a[0], 4096, &v) < 0 || v == 0)
			return perr(p, "bad max-sessions '%s' (1 to 4096)", a[0]);
		c->max_sessions = (int)v;
		return 0;
	}
	if (strcmp(d, "prune-interval") == 0) {
		if (parse_uint(a[0], 7 * 86400, &v) < 0)
			return perr(p, "bad prune-interval '%s' (0: only after "
				    "pushes, or 1 to 604800 seconds)", a[0]);
		c->prune_interval_s = (int)v;
		return 0;
	}
	if (strcmp(d, "privsep") == 0) {
		if (parse_bool(a[0], &c->privsep) < 0)
			return perr(p, "privsep wants yes or no, not '%s'", a[0]);
		return 0;
	}
	/* mode */
	if (plane_mode_parse(a[0], &c->mode) < 0) {
		zk_clear();
		return perr(p, "bad mode '%s' (auto, user, rw, splice, "
			    "direct)", a[0]);
	}
	return 0;
}

/* A ZFS property name: native (lowercase letters, digits, '_') or user
 * (with a ':', also '.', '+', '-'); the length of prop alone, or of prop
 * up to '=' when eq. */
static size_t
prop_name_len(const char *s, int eq)
{
	size_t n = 0;

	if (!islower((unsigned char)s[0]))
		return 0;
	while (s[n] && !(eq && s[n] == '=')) {
		if (!islower((unsigned char)s[n]) &&
		    !isdigit((unsigned char)s[n]) && !strchr("_:.+-", s[n]))
			return 0;
		n++;
	}
	return n < 256 ? n : 0;
}

/* property PROP=VALUE (zfs receive -o) and exclude PROP (-x): each
 * property once, in one of them (zfs refuses a property named twice). */
static int
recv_prop(struct parser *p, const char *d, const char *v)
{
	struct conf_client *cl = p->cl;
	int set = d[0] == 'p';
	size_t n = prop_name_len(v, set);

	if (n == 0 || (set ? v[n] != '=' || v[n + 1] == '\0' : v[n] != '\0'))
		return perr(p, set ? "bad property '%s' (PROP=VALUE)"
				   : "bad property name '%s'", v);
	for (int i = 0; i < cl->nset + cl->nexclude; i++) {
		const char *o = i < cl->nset ? cl->set[i]
					     : cl->exclude[i - cl->nset];
		if (strncmp(o, v, n) == 0 && (o[n] == '\0' || o[n] == '='))
			return perr(p, "property %.*s named twice", (int)n, v);
	}
	if ((set ? cl->nset : cl->nexclude) == CONF_MAX_PROPS)
		return perr(p, "more than %d %s directives", CONF_MAX_PROPS, d);
	if (set)
		snprintf(cl->set[cl->nset++], sizeof(cl->set[0]), "%s", v);
	else
		snprintf(cl->exclude[cl->nexclude++], sizeof(cl->exclude[0]),
			 "%s", v);
	return 0;
}

static int
client_directive(struct parser *p, const char *d, char **a)
{
	struct conf_client *cl = p->cl;
	unsigned long long v;

	if (strcmp(d, "name") == 0) {
		if (cl->nnames == CONF_MAX_NAMES)
			return perr(p, "more than %d names", CONF_MAX_NAMES);
		if (!peer_name_valid(a[0]))
			return perr(p, "bad name '%s' (a host name or an IP "
				    "address)", a[0]);
		snprintf(cl->names[cl->nnames++], sizeof(cl->names[0]), "%s",
			 a[0]);
		return 0;
	}
	if (strcmp(d, "pin") == 0) {
		if (pin_parse(a[0], cl->pin) < 0)
			return perr(p, "bad pin '%s' (sha256: and 64 hex "
				    "digits, see zktls pin)", a[0]);
		cl->have_pin = 1;
		return 0;
	}
	if (strcmp(d, "push") == 0 || strcmp(d, "pull") == 0) {
		if (!zfs_name_valid(a[0], 'f'))
			return perr(p, "bad dataset '%s'", a[0]);
		if (d[1] == 'u' && d[2] == 's') {
			snprintf(cl->push, sizeof(cl->push), "%s", a[0]);
			return 0;
		}
		if (cl->npull == CONF_MAX_PULL)
			return perr(p, "more than %d pull datasets",
				    CONF_MAX_PULL);
		snprintf(cl->pull[cl->npull++], sizeof(cl->pull[0]), "%s",
			 a[0]);
		return 0;
	}
	if (strcmp(d, "max-sessions") == 0) {
		if (parse_uint(a[0], 4096, &v) < 0 || v == 0)
			return perr(p, "bad max-sessions '%s' (1 to 4096)", a[0]);
		cl->max_sessions = (int)v;
		return 0;
	}
	if (strcmp(d, "rate") == 0) {
		if (parse_rate(a[0], &cl->rate) < 0)
			return perr(p, "bad rate '%s' (bytes per second, "
				    "optionally with K, M or G)", a[0]);
		return 0;
	}
	if (strcmp(d, "property") == 0 || strcmp(d, "exclude") == 0)
		return recv_prop(p, d, a[0]);
	if (strcmp(d, "expect") == 0) {
		if (conf_parse_duration(a[0], &cl->expect_s) < 0)
			return perr(p, "bad expect '%s' (a duration: 30m, 25h, "
				    "7d; at most a year)", a[0]);
		return 0;
	}
	if (strcmp(d, "keep") == 0) {
		char grid[512] = "", why[200];

		for (int i = 0; a[i]; i++)
			snprintf(grid + strlen(grid), sizeof(grid) - strlen(grid),
				 "%s%s", i ? " " : "", a[i]);
		if (retain_grid_parse(grid, &cl->keep, why, sizeof(why)) < 0)
			return perr(p, "%s", why);
		return 0;
	}
	if (parse_bool(a[0], strcmp(d, "resumable") == 0  ? &cl->resumable
			     : strcmp(d, "rollback") == 0 ? &cl->rollback
			     : strcmp(d, "raw") == 0      ? &cl->raw
							  : &cl->wildcards) < 0)
		return perr(p, "%s wants yes or no, not '%s'", d, a[0]);
	return 0;
}

static int
open_client(struct parser *p, char **a, int n)
{
	struct serve_conf *c = p->c;
	struct conf_client *cl;

	if (p->cl)
		return perr(p, "client blocks do not nest");
	if (n != 2 || strcmp(a[1], "{") != 0)
		return perr(p, "want: client ID {");
	if (!valid_id(a[0]))
		return perr(p, "bad client id '%s' (letters, digits, '.', '-', "
			    "'_', at most %d)", a[0], CONF_ID_LEN - 1);
	for (int i = 0; i < c->nclients; i++)
		if (strcmp(c->clients[i].id, a[0]) == 0)
			return perr(p, "client %s is already defined at line "
				    "%d", a[0], c->clients[i].line);
	if (c->nclients == CONF_MAX_CLIENTS)
		return perr(p, "more than %d clients", CONF_MAX_CLIENTS);
	cl = realloc(c->clients, sizeof(*cl) * (size_t)(c->nclients + 1));
	if (cl == NULL)
		return perr(p, "out of memory");
	c->clients = cl;
	cl = &c->clients[c->nclients++];
	memset(cl, 0, sizeof(*cl));
	snprintf(cl->id, sizeof(cl->id), "%s", a[0]);
	cl->line = p->line;
	cl->max_sessions = 2;
	cl->resumable = 1;
	p->cl = cl;
	p->cseen = 0;
	return 0;
}

/* Does an earlier client take every connection cl would match (the
 * first rule that matches wins)?  One with a name of cl's, or pin-only
 * like cl, and no pin or cl's pin: an error, at cl's line. */
static int
shadowed(struct parser *p, const struct conf_client *cl)
{
	for (const struct conf_client *o = p->c->clients; o < cl; o++) {
		const char *same = NULL;

		if (o->have_pin && (!cl->have_pin ||
				    memcmp(o->pin, cl->pin, sizeof(o->pin)) != 0))
			continue;
		for (int i = 0; i < o->nnames && !same; i++)
			for (int k = 0; k < cl->nnames && !same; k++)
				if (strcasecmp(o->names[i], cl->names[k]) == 0)
					same = cl->names[k];
		if (same)
			return perr(p, "client %s: name %s is client %s's "
				    "(line %d), which takes its connections",
				    cl->id, same, o->id, o->line);
		if (o->nnames == 0) /* pinned only, and cl has that pin */
			return perr(p, "client %s: its pin is client %s's "
				    "(line %d), which takes its connections",
				    cl->id, o->id, o->line);
	}
	return 0;
}

static int
close_client(struct parser *p)
{
	struct conf_client *cl = p->cl;
	int line = p->line;

	if (cl == NULL)
		return perr(p, "'}' without a client block");
	p->line = cl->line;
	if (cl->nnames == 0 && !cl->have_pin)
		return perr(p, "client %s has neither a name nor a pin: it "
			    "could never be recognised", cl->id);
	if (cl->push[0] == '\0' && cl->npull == 0)
		return perr(p, "client %s may neither push nor pull", cl->id);
	if (cl->keep.set && cl->push[0] == '\0')
		return perr(p, "client %s has keep but no push dataset to "
			    "keep snapshots of", cl->id);
	if (shadowed(p, cl) < 0)
		return -1;
	p->line = line;
	p->cl = NULL;
	return 0;
}

static int
directive(struct parser *p, char **a, int n)
{
	const struct directive *d = NULL;
	unsigned bit = 0;

	if (strcmp(a[0], "client") == 0)
		return open_client(p, a + 1, n - 1);
	if (strcmp(a[0], "}") == 0) {
		if (n != 1)
			return perr(p, "'}' stands alone on its line");
		return close_client(p);
	}
	for (size_t i = 0; i < sizeof(directives) / sizeof(directives[0]);
	     i++)
		if (strcmp(a[0], directives[i].name) == 0 &&
		    directives[i].client == (p->cl != NULL)) {
			d = &directives[i];
			bit = 1u << i;
			break;
		}
	if (d == NULL)
		return perr(p, "unknown directive '%s'%s", a[0],
			    p->cl ? " in a client block" : "");
	if (d->nargs < 0 && n < 2)
		return perr(p, "%s takes one or more arguments", d->name);
	if (d->nargs >= 0 && n - 1 != d->nargs)
		return perr(p, "%s takes %d argument%s", d->name, d->nargs,
			    d->nargs == 1 ? "" : "s");
	if (!d->repeat) {
		unsigned *seen = p->cl ? &p->cseen : &p->seen;
		if (*seen & bit)
			return perr(p, "%s given twice", d->name);
		*seen |= bit;
	}
	return p->cl ? client_directive(p, a[0], a + 1)
		     : server_directive(p, a[0], a + 1);
}

static int
finish(struct parser *p)
{
	struct serve_conf *c = p->c;

	if (p->cl) {
		p->line = p->cl->line;
		return perr(p, "client %s is not closed with '}'", p->cl->id);
	}
	p->line = 0;
	if (c->control[0] == '\0' &&
	    strlen(c->state_dir) + sizeof("/control") > 100) {
		p->line = c->state_dir_line;
		return perr(p, "state-dir is too long for its control socket "
			    "(name one with control)");
	}
	if (c->control[0] == '\0')
		snprintf(c->control, sizeof(c->control), "%.900s/control",
			 c->state_dir);
	if (c->nlisten == 0)
		return perr(p, "no listen address");
	if (c->cert[0] == '\0' || c->key[0] == '\0')
		return perr(p, "cert and key are required");
	if (c->nclients == 0)
		return perr(p, "no client: the server would refuse everybody");
	for (int i = 0; i < c->nclients; i++) {
		const struct conf_client *cl = &c->clients[i];
		if (c->ca[0] == '\0' && !cl->have_pin) {
			p->line = cl->line;
			return perr(p, "client %s has no pin and there is no "
				    "ca to check its name against", cl->id);
		}
	}
	return 0;
}

int
conf_parse(const char *text, size_t len, struct serve_conf *out, char *err,
	   size_t errlen)
{
	struct parser p = { .c = out, .err = err, .errlen = errlen };
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	out->timeout_s = 120;
	out->max_sessions = 16;
	out->grace_s = 30;
	out->mode = MODE_AUTO;
	out->privsep = 1;
	out->prune_interval_s = 3600;
	snprintf(out->user, sizeof(out->user), "zktls");
	snprintf(out->state_dir, sizeof(out->state_dir), "/var/lib/zktls");
	if (errlen)
		err[0] = '\0';
	while (pos < len) {
		char line[1024], *a[MAX_ARGS + 1], *save = NULL, *tok;
		size_t n = 0, ll = 0;
		int nargs = 0;

		p.line++;
		while (pos + n < len && text[pos + n] != '\n')
			n++;
		if (n >= sizeof(line))
			goto too_long;
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		for (ll = 0; ll < n; ll++) {
			unsigned char ch = (unsigned char)line[ll];
			if (ch == '#') {
				line[ll] = '\0';
				break;
			}
			if (ch == '\0' || (ch < 0x20 && ch != '\t') ||
			    ch == 0x7f) {
				perr(&p, "a control character in the line");
				goto fail;
			}
		}
		for (tok = strtok_r(line, " \t\r", &save); tok;
		     tok = strtok_r(NULL, " \t\r", &save)) {
			if (nargs == MAX_ARGS) {
				perr(&p, "too many words");
				goto fail;
			}
			a[nargs++] = tok;
		}
		a[nargs] = NULL;
		if (nargs == 0)
			continue;
		if (directive(&p, a, nargs) < 0)
			goto fail;
		continue;
too_long:
		perr(&p, "line longer than %zu bytes", sizeof(line) - 1);
		goto fail;
	}
	if (finish(&p) == 0)
		return 0;
fail:
	conf_free(out);
	return -1;
}

int
conf_load(const char *path, struct serve_conf *out)
{
	char *buf = NULL, err[600];
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return zk_fail_errno(ZK_EUSAGE, "cannot read %s", path);
	if ((buf = malloc(MAX_FILE + 1)) == NULL) {
		close(fd);
		return zk_fail_errno(ZK_ESYS, "malloc");
	}
	while (len < MAX_FILE && (n = read(fd, buf + len, MAX_FILE - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (len == MAX_FILE)
		r = zk_fail(ZK_EUSAGE, "%s: larger than %d bytes", path,
			    MAX_FILE);
	else if (conf_parse(buf, len, out, err, sizeof(err)) < 0)
		r = zk_fail(ZK_EUSAGE, "%s: %s", path, err);
	else
		r = 0;
	free(buf);
	return r;
}

static void
pin_hex(const uint8_t pin[32], char out[72])
{
	strcpy(out, "sha256:");
	for (int i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", pin[i]);
}

int
conf_print(const struct serve_conf *c, char *out, size_t cap)
{
	size_t o = 0;
	char pin[72];

#define P(...)                                                               \
	do {                                                                 \
		int k_ = snprintf(out + o, cap - o, __VA_ARGS__);             \
		if (k_ < 0 || (size_t)k_ >= cap - o)                          \
			return -1;                                           \
		o += (size_t)k_;                                             \
	} while (0)

	for (int i = 0; i < c->nlisten; i++)
		P("listen %s\n", c->listen[i]);
	P("cert %s\nkey %s\n", c->cert, c->key);
	if (c->ca[0])
		P("ca %s\n", c->ca);
	P("user %s\ntimeout %d\nmax-sessions %d\ngrace %d\nmode %s\n"
	  "privsep %s\n", c->user, c->timeout_s, c->max_sessions, c->grace_s,
	  plane_mode_name(c->mode), c->privsep ? "yes" : "no");
	if (c->metrics[0])
		P("metrics %s\n", c->metrics);
	P("state-dir %s\ncontrol %s\n", c->state_dir, c->control);
	if (c->control_group[0])
		P("control-group %s\n", c->control_group);
	P("prune-interval %d\n", c->prune_interval_s);
	for (int i = 0; i < c->nclients; i++) {
		const struct conf_client *cl = &c->clients[i];

		P("client %s {\n", cl->id);
		for (int k = 0; k < cl->nnames; k++)
			P("\tname %s\n", cl->names[k]);
		if (cl->have_pin) {
			pin_hex(cl->pin, pin);
			P("\tpin %s\n", pin);
		}
		if (cl->push[0])
			P("\tpush %s\n", cl->push);
		for (int k = 0; k < cl->npull; k++)
			P("\tpull %s\n", cl->pull[k]);
		P("\tmax-sessions %d\n", cl->max_sessions);
		if (cl->rate)
			P("\trate %llu\n", (unsigned long long)cl->rate);
		for (int k = 0; k < cl->nset; k++)
			P("\tproperty %s\n", cl->set[k]);
		for (int k = 0; k < cl->nexclude; k++)
			P("\texclude %s\n", cl->exclude[k]);
		if (cl->expect_s)
			P("\texpect %llds\n", (long long)cl->expect_s);
		if (cl->keep.set) {
			char grid[200];

			retain_grid_print(&cl->keep, grid, sizeof(grid));
			P("\tkeep %s\n", grid);
		}
		P("\tresumable %s\n\twildcards %s\n\trollback %s\n\traw %s\n}\n",
		  cl->resumable ? "yes" : "no", cl->wildcards ? "yes" : "no",
		  cl->rollback ? "yes" : "no", cl->raw ? "yes" : "no");
	}
#undef P
	return (int)o;
}

/* Field by field: padding and the block's line number do not count; nor
 * does expect, which judges the past and grants nothing (a reload that
 * changes it stops no connection). */
bool
conf_client_same(const struct conf_client *a, const struct conf_client *b)
{
	if (strcmp(a->id, b->id) || a->nnames != b->nnames ||
	    a->wildcards != b->wildcards || a->have_pin != b->have_pin ||
	    (a->have_pin && memcmp(a->pin, b->pin, sizeof(a->pin))) ||
	    strcmp(a->push, b->push) || a->npull != b->npull ||
	    a->max_sessions != b->max_sessions || a->rate != b->rate ||
	    a->resumable != b->resumable || a->rollback != b->rollback ||
	    a->nset != b->nset || a->nexclude != b->nexclude ||
	    a->raw != b->raw)
		return false;
	for (int i = 0; i < a->nnames; i++)
		if (strcmp(a->names[i], b->names[i]))
			return false;
	for (int i = 0; i < a->npull; i++)
		if (strcmp(a->pull[i], b->pull[i]))
			return false;
	for (int i = 0; i < a->nset; i++)
		if (strcmp(a->set[i], b->set[i]))
			return false;
	for (int i = 0; i < a->nexclude; i++)
		if (strcmp(a->exclude[i], b->exclude[i]))
			return false;
	return true;
}

void
conf_free(struct serve_conf *c)
{
	free(c->clients);
	c->clients = NULL;
	c->nclients = 0;
}
