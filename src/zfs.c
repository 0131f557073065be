/*
 * zfs.c - zfs itself: which executable, name validation, and the facts
 * zktls reads from it (guids, resume tokens and what they continue).
 * Spawning is endpoint.c's (child_spawn()).
 *
 * zfs is found in a fixed list of system directories (zfs_dirs); an
 * absolute $ZKTLS_ZFS names another executable (the host tests use a
 * stand-in).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"
#include "tree.h"
#include "zktls.h"

/* Where zfs may live.  Never the working directory, never $PATH: zktls
 * runs as root, and a directory an attacker can write to must not decide
 * which program receives the pool's data (ZKTLS_ZFS may name another
 * executable, by absolute path only). */
static const char *const zfs_dirs[] = {
	"/usr/sbin/zfs", "/sbin/zfs", "/usr/local/sbin/zfs", "/usr/bin/zfs",
	"/bin/zfs", NULL,
};

static char zfs_exe[4096];

int
zfs_init(void)
{
	const char *p = getenv("ZKTLS_ZFS");

	if (p != NULL && *p != '\0') {
		if (p[0] != '/')
			return zk_fail(ZK_EUSAGE, "ZKTLS_ZFS must be an absolute "
				       "path, not '%s'", p);
		if (access(p, X_OK) != 0)
			return zk_fail_errno(ZK_EUSAGE, "ZKTLS_ZFS %s", p);
		snprintf(zfs_exe, sizeof(zfs_exe), "%s", p);
		return 0;
	}
	for (const char *const *d = zfs_dirs; *d; d++)
		if (access(*d, X_OK) == 0) {
			snprintf(zfs_exe, sizeof(zfs_exe), "%s", *d);
			return 0;
		}
	return zk_fail(ZK_EZFS, "cannot find zfs in /usr/sbin, /sbin, "
		       "/usr/local/sbin, /usr/bin or /bin (ZKTLS_ZFS names "
		       "another one, by absolute path)");
}

const char *
zfs_path(void)
{
	return zfs_exe;
}

/* ZFS component characters (module/zcommon/zfs_namecheck.c). */
static int
valid_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == ':' || c == ' ';
}

bool
zfs_name_valid(const char *name, int kind)
{
	size_t len = strlen(name), comp = 0;
	int seen_at = 0;
	const char *p;

	if (len == 0 || len >= 256 || name[0] == '-' || name[0] == '/' ||
	    name[len - 1] == '/')
		return 0;
	for (p = name; *p; p++) {
		if (*p == '/') {
			if (comp == 0 || seen_at)
				return 0;
			comp = 0;
		} else if (*p == '@') {
			if (comp == 0 || seen_at || kind != 's')
				return 0;
			seen_at = 1;
			comp = 0;
		} else if (!valid_char(*p)) {
			return 0;
		} else {
			comp++;
			if (comp == 1 && *p == '.' &&
			    (p[1] == '\0' || p[1] == '/' || p[1] == '@' ||
			     (p[1] == '.' && (p[2] == '\0' || p[2] == '/' ||
					      p[2] == '@'))))
				return 0; /* "." and ".." components */
		}
	}
	if (comp == 0)
		return 0;
	return kind == 's' ? seen_at : !seen_at;
}

/* ------------------------------------------------------------ requests */

const struct zfs_flag zfs_send_flags[] = {
	{ PROTO_ZF_RAW, "-w" },   { PROTO_ZF_COMPRESSED, "-c" },
	{ PROTO_ZF_LARGE, "-L" }, { PROTO_ZF_EMBED, "-e" },
	{ PROTO_ZF_PROPS, "-p" }, { PROTO_ZF_RECURSIVE, "-R" },
	{ 0, NULL },
};

/* The flags that go along with -t: what zfs send ORs with the token's
 * own (raw, compressed, large blocks, embedded data). */
#define RESUME_FLAGS \
	(PROTO_ZF_RAW | PROTO_ZF_COMPRESSED | PROTO_ZF_LARGE | PROTO_ZF_EMBED)

struct words {
	const char **v;
	size_t n, cap;
	bool over;
};

static void
word(struct words *w, const char *a)
{
	if (w->n + 1 < w->cap)
		w->v[w->n++] = a;
	else
		w->over = true;
}

static void
send_words(struct words *w, const struct zfs_send_req *q)
{
	uint32_t flags = q->token[0] ? q->flags & RESUME_FLAGS : q->flags;

	for (const struct zfs_flag *f = zfs_send_flags; f->flag; f++)
		if (flags & f->bit)
			word(w, f->flag);
	if (q->token[0]) {
		word(w, "-t");
		word(w, q->token);
		return;
	}
	if (q->backup)
		word(w, "-b");
	if (q->base[0]) {
		word(w, q->incr_all ? "-I" : "-i");
		word(w, q->base);
	}
	word(w, q->snap);
}

static void
recv_words(struct words *w, const struct zfs_recv_req *q)
{
	if (q->resumable)
		word(w, "-s");
	if (q->rollback)
		word(w, "-F");
	if (q->below)
		word(w, "-d");
	if (q->below_last)
		word(w, "-e");
	if (q->nomount)
		word(w, "-u");
	for (int i = 0; i < q->nset && i < ZFS_MAX_PROPS; i++) {
		word(w, "-o");
		word(w, q->set[i]);
	}
	for (int i = 0; i < q->nexclude && i < ZFS_MAX_PROPS; i++) {
		word(w, "-x");
		word(w, q->exclude[i]);
	}
	word(w, q->target);
}

static const char *const prop_names[ZP_END] = {
	[ZP_GUID] = "guid",
	[ZP_RESUME_TOKEN] = "receive_resume_token",
	[ZP_WRITTEN] = "written",
};

/* zfs list -H -p -o, then these, then the name (enum zfs_list) */
static const char *const list_words[ZL_END][8] = {
	[ZL_TREE] = { "name,guid,createtxg", "-t", "filesystem,volume", "-r" },
	[ZL_ENTRIES] = { "name,guid,createtxg", "-t", "snapshot,bookmark",
			 "-s", "createtxg", "-d", "1" },
	[ZL_SNAPS] = { "name,guid", "-t", "snapshot", "-s", "createtxg", "-d",
		       "1" },
	[ZL_GUIDS] = { "name,guid", "-t", "snapshot,bookmark", "-d", "1" },
	[ZL_SNAP_GUIDS] = { "guid", "-t", "snapshot", "-d", "1" },
	[ZL_SYNC] = { "name,zktls:sync", "-t", "filesystem,volume", "-r" },
	[ZL_RETAIN] = { "name,guid,creation,userrefs", "-t", "snapshot", "-s",
			"createtxg", "-d", "1" },
	[ZL_ALL] = { "name,guid,createtxg,receive_resume_token", "-t",
		     "filesystem,volume,snapshot,bookmark", "-r" },
};

int
zfs_argv(const struct zfs_req *r, const char **argv, size_t cap)
{
	struct words w = { argv, 0, cap, false };

	if (cap == 0)
		return -1;
	word(&w, zfs_path());
	switch (r->op) {
	case ZOP_GET:
		if (r->what <= 0 || r->what >= ZP_END)
			return -1;
		word(&w, "get");
		word(&w, "-H");
		word(&w, "-p");
		word(&w, "-o");
		word(&w, "value");
		word(&w, prop_names[r->what]);
		break;
	case ZOP_LIST:
		if (r->what <= 0 || r->what >= ZL_END)
			return -1;
		word(&w, "list");
		word(&w, "-H");
		word(&w, "-p");
		word(&w, "-o");
		for (const char *const *a = list_words[r->what]; *a; a++)
			word(&w, *a);
		break;
	case ZOP_ORIGINS:
		word(&w, "list");
		word(&w, "-H");
		word(&w, "-o");
		word(&w, "name,origin");
		word(&w, "-t");
		word(&w, "filesystem,volume");
		if (r->what)
			word(&w, "-r");
		break;
	case ZOP_DESCRIBE:
		word(&w, "send");
		word(&w, "-nv");
		word(&w, "-t");
		word(&w, r->send.token);
		break;
	case ZOP_ESTIMATE:
	case ZOP_SEND:
		word(&w, "send");
		if (r->op == ZOP_ESTIMATE)
			word(&w, "-nP");
		send_words(&w, &r->send);
		break;
	case ZOP_RECV:
		word(&w, "receive");
		recv_words(&w, &r->recv);
		break;
	case ZOP_MARK:
		word(&w, "bookmark");
		word(&w, r->name);
		word(&w, r->name2);
		break;
	case ZOP_DESTROY:
		word(&w, "destroy");
		break;
	case ZOP_HOLD:
	case ZOP_RELEASE:
		word(&w, r->op == ZOP_HOLD ? "hold" : "release");
		word(&w, r->name2);
		break;
	case ZOP_ROLLBACK:
		word(&w, "rollback");
		if (r->what)
			word(&w, "-r");
		break;
	default:
		return -1;
	}
	/* The one the request is about comes last. */
	if (r->op == ZOP_GET || r->op == ZOP_LIST || r->op == ZOP_ORIGINS ||
	    r->op == ZOP_DESTROY || r->op == ZOP_HOLD ||
	    r->op == ZOP_RELEASE || r->op == ZOP_ROLLBACK)
		word(&w, r->name);
	if (w.over)
		return -1;
	argv[w.n] = NULL;
	return (int)w.n;
}

const char *
zfs_op_name(enum zfs_op op)
{
	static const char *const names[ZOP_END] = {
		[ZOP_GET] = "get",          [ZOP_LIST] = "list",
		[ZOP_ORIGINS] = "list",     [ZOP_DESCRIBE] = "send",
		[ZOP_ESTIMATE] = "send",    [ZOP_SEND] = "send",
		[ZOP_RECV] = "receive",     [ZOP_MARK] = "bookmark",
		[ZOP_DESTROY] = "destroy",  [ZOP_HOLD] = "hold",
		[ZOP_RELEASE] = "release",  [ZOP_ROLLBACK] = "rollback",
	};

	return op > 0 && op < ZOP_END ? names[op] : "?";
}

/* ------------------------------------------------------------ the codec */

/*
 * A request as serve's network process sends it to its monitor: a
 * version byte, op, what, a flag byte, the send flags (u32), the counts
 * of -o and -x, then each string as a u16 length and its bytes (no NUL):
 * name, name2, send.snap, send.base, send.token, recv.target, the -o
 * values, the -x values.  Decoding is strict: every length in its
 * field, no NUL inside a string, nothing left over.
 */
#define CODEC_VERSION 1
enum {
	QB_INCR_ALL = 1, QB_BACKUP = 2, QB_RESUMABLE = 4, QB_ROLLBACK = 8,
	QB_NOMOUNT = 16, QB_BELOW = 32, QB_BELOW_LAST = 64,
};

struct cursor {
	uint8_t *p;
	size_t n, cap;
	bool bad;
};

static void
put(struct cursor *c, const void *b, size_t l)
{
	if (c->bad || c->n + l > c->cap) {
		c->bad = true;
		return;
	}
	memcpy(c->p + c->n, b, l);
	c->n += l;
}

static void
put_str(struct cursor *c, const char *s, size_t field)
{
	size_t l = strnlen(s, field);
	uint8_t h[2] = { (uint8_t)(l >> 8), (uint8_t)l };

	if (l == field)
		c->bad = true;
	put(c, h, 2);
	put(c, s, l);
}

int
zfs_req_encode(const struct zfs_req *r, uint8_t *buf, size_t cap)
{
	struct cursor c = { buf, 0, cap, false };
	uint8_t h[10];
	uint8_t bits = (r->send.incr_all ? QB_INCR_ALL : 0) |
		       (r->send.backup ? QB_BACKUP : 0) |
		       (r->recv.resumable ? QB_RESUMABLE : 0) |
		       (r->recv.rollback ? QB_ROLLBACK : 0) |
		       (r->recv.nomount ? QB_NOMOUNT : 0) |
		       (r->recv.below ? QB_BELOW : 0) |
		       (r->recv.below_last ? QB_BELOW_LAST : 0);

	if (r->op <= 0 || r->op >= ZOP_END || r->what < 0 || r->what > 255 ||
	    r->recv.nset < 0 || r->recv.nset > ZFS_MAX_PROPS ||
	    r->recv.nexclude < 0 || r->recv.nexclude > ZFS_MAX_PROPS)
		return -1;
	h[0] = CODEC_VERSION;
	h[1] = (uint8_t)r->op;
	h[2] = (uint8_t)r->what;
	h[3] = bits;
	h[4] = (uint8_t)(r->send.flags >> 24);
	h[5] = (uint8_t)(r->send.flags >> 16);
	h[6] = (uint8_t)(r->send.flags >> 8);
	h[7] = (uint8_t)r->send.flags;
	h[8] = (uint8_t)r->recv.nset;
	h[9] = (uint8_t)r->recv.nexclude;
	put(&c, h, sizeof(h));
	put_str(&c, r->name, sizeof(r->name));
	put_str(&c, r->name2, sizeof(r->name2));
	put_str(&c, r->send.snap, sizeof(r->send.snap));
	put_str(&c, r->send.base, sizeof(r->send.base));
	put_str(&c, r->send.token, sizeof(r->send.token));
	put_str(&c, r->recv.target, sizeof(r->recv.target));
	for (int i = 0; i < r->recv.nset; i++)
		put_str(&c, r->recv.set[i], sizeof(r->recv.set[i]));
	for (int i = 0; i < r->recv.nexclude; i++)
		put_str(&c, r->recv.exclude[i], sizeof(r->recv.exclude[i]));
	return c.bad ? -1 : (int)c.n;
}

static void
get_str(struct cursor *c, char *out, size_t field)
{
	size_t l;

	if (c->bad || c->n + 2 > c->cap) {
		c->bad = true;
		return;
	}
	l = (size_t)c->p[c->n] << 8 | c->p[c->n + 1];
	c->n += 2;
	if (l >= field || c->n + l > c->cap ||
	    memchr(c->p + c->n, '\0', l) != NULL) {
		c->bad = true;
		return;
	}
	memcpy(out, c->p + c->n, l);
	out[l] = '\0';
	c->n += l;
}

int
zfs_req_decode(const uint8_t *buf, size_t len, struct zfs_req *r)
{
	struct cursor c = { (uint8_t *)buf, 10, len, false };
	uint8_t bits;

	memset(r, 0, sizeof(*r));
	if (len < 10 || buf[0] != CODEC_VERSION || buf[1] == 0 ||
	    buf[1] >= ZOP_END || buf[3] > 127 || buf[8] > ZFS_MAX_PROPS ||
	    buf[9] > ZFS_MAX_PROPS)
		return -1;
	r->op = (enum zfs_op)buf[1];
	r->what = buf[2];
	bits = buf[3];
	r->send.incr_all = bits & QB_INCR_ALL;
	r->send.backup = bits & QB_BACKUP;
	r->recv.resumable = bits & QB_RESUMABLE;
	r->recv.rollback = bits & QB_ROLLBACK;
	r->recv.nomount = bits & QB_NOMOUNT;
	r->recv.below = bits & QB_BELOW;
	r->recv.below_last = bits & QB_BELOW_LAST;
	r->send.flags = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
			(uint32_t)buf[6] << 8 | buf[7];
	r->recv.nset = buf[8];
	r->recv.nexclude = buf[9];
	get_str(&c, r->name, sizeof(r->name));
	get_str(&c, r->name2, sizeof(r->name2));
	get_str(&c, r->send.snap, sizeof(r->send.snap));
	get_str(&c, r->send.base, sizeof(r->send.base));
	get_str(&c, r->send.token, sizeof(r->send.token));
	get_str(&c, r->recv.target, sizeof(r->recv.target));
	for (int i = 0; i < r->recv.nset; i++)
		get_str(&c, r->recv.set[i], sizeof(r->recv.set[i]));
	for (int i = 0; i < r->recv.nexclude; i++)
		get_str(&c, r->recv.exclude[i], sizeof(r->recv.exclude[i]));
	if (c.bad || c.n != len) {
		memset(r, 0, sizeof(*r));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ running */

static const struct zfs_runner *runner;

void
zfs_use_runner(const struct zfs_runner *r)
{
	runner = r;
}

const struct zfs_runner *
zfs_runner(void)
{
	return runner;
}

/* Start argv with its stdout (and with_err its stderr) on a pipe: 0 with
 * *pid and *fd, or a negative ZK_E*.  big: a pipe of 1 MiB where the
 * system allows, so that a listing read later need not stall zfs. */
static int
capture_start(const char *const *argv, bool with_err, bool big, pid_t *pid,
	      int *fd)
{
	int p[2], null = -1, r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return zk_fail_errno(ZK_ESYS, "pipe");
#ifdef F_SETPIPE_SZ
	if (big)
		(void)fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
#else
	(void)big;
#endif
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		close(p[0]);
		close(p[1]);
		return zk_fail_errno(ZK_ESYS, "/dev/null");
	}
	r = child_spawn(argv, null, p[1], with_err ? p[1] : null, pid);
	close(p[1]);
	close(null);
	if (r < 0) {
		close(p[0]);
		return r;
	}
	*fd = p[0];
	return 0;
}

/* What a capture_start'ed child printed (cap-1 bytes of it) into out,
 * once it has exited: 0 on exit 0, ZFS_FAILED otherwise, or a negative
 * ZK_E*.  Not recorded with zk_fail: callers probe things that may
 * legitimately be absent (a target that does not exist yet). */
static int
capture_end(pid_t pid, int fd, char *out, size_t cap)
{
	size_t got = 0;
	int st, r;

	for (;;) {
		char tmp[4096];
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && got + 1 < cap; i++)
			out[got++] = tmp[i];
	}
	out[got] = '\0';
	close(fd);
	if ((r = child_wait(pid, &st)) < 0)
		return r;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : ZFS_FAILED;
}

static int
capture(const char *const *argv, char *out, size_t cap, bool with_err)
{
	pid_t pid = -1;
	int fd = -1, r;

	out[0] = '\0';
	if ((r = capture_start(argv, with_err, false, &pid, &fd)) < 0)
		return r;
	return capture_end(pid, fd, out, cap);
}

int
zfs_do_local(const struct zfs_req *r, char *out, size_t cap, bool with_err)
{
	const char *argv[ZFS_ARGV_MAX];

	out[0] = '\0';
	if (r->op == ZOP_SEND || r->op == ZOP_RECV ||
	    zfs_argv(r, argv, sizeof(argv) / sizeof(argv[0])) < 0)
		return zk_fail(ZK_ESYS, "not a zfs request to capture");
	return capture(argv, out, cap, with_err);
}

int
zfs_do(const struct zfs_req *r, char *out, size_t cap)
{
	int rc;

	out[0] = '\0';
	if (runner && runner->capture)
		return runner->capture(r, out, cap, false);
	if (runner && runner->check && (rc = runner->check(r)) < 0)
		return rc;
	return zfs_do_local(r, out, cap, false);
}

int
zfs_do_msg(const struct zfs_req *r, char *msg, size_t cap)
{
	int rc;

	msg[0] = '\0';
	if (runner && runner->capture)
		rc = runner->capture(r, msg, cap, true);
	else if (runner && runner->check && (rc = runner->check(r)) < 0)
		snprintf(msg, cap, "%s", zk_errmsg());
	else
		rc = zfs_do_local(r, msg, cap, true);
	if (rc < 0 && msg[0] == '\0')
		snprintf(msg, cap, "%s", zk_errmsg());
	msg[strcspn(msg, "\n")] = '\0';
	return rc == 0 ? 0 : ZFS_FAILED;
}

/* ------------------------------------------------------------ zfs facts */

int
zfs_req(struct zfs_req *r, enum zfs_op op, int what, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->what = what;
	if (name == NULL)
		return 0;
	if (strlen(name) >= sizeof(r->name))
		return -1;
	memcpy(r->name, name, strlen(name) + 1);
	return 0;
}

/* Request op about name, its output into out: 0, or -1 (also for a name
 * too long to be one). */
static int
ask(enum zfs_op op, int what, const char *name, char *out, size_t cap)
{
	static struct zfs_req r;

	out[0] = '\0';
	if (zfs_req(&r, op, what, name) < 0)
		return ZFS_FAILED;
	return zfs_do(&r, out, cap);
}

void
zfs_bg_list(struct zfs_bg *bg, int what, const char *name)
{
	static struct zfs_req r;
	const char *argv[ZFS_ARGV_MAX];

	memset(bg, 0, sizeof(*bg));
	bg->pid = -1;
	bg->fd = -1;
	bg->what = what;
	snprintf(bg->name, sizeof(bg->name), "%s", name);
	/* local zfs only: a runner (serve's monitor, or its judge) sees
	 * each request when it is made */
	if (runner || zfs_req(&r, ZOP_LIST, what, name) < 0 ||
	    zfs_argv(&r, argv, sizeof(argv) / sizeof(argv[0])) < 0 ||
	    capture_start(argv, false, true, &bg->pid, &bg->fd) < 0) {
		zk_clear();
		bg->pid = -1;
	}
}

/* zfs list what of name into out: from bg where it was started there,
 * else now. */
static int
fetch(int what, const char *name, struct zfs_bg *bg, char *out, size_t cap)
{
	int r;

	if (bg == NULL || bg->pid <= 0 || bg->what != what ||
	    strcmp(bg->name, name) != 0)
		return ask(ZOP_LIST, what, name, out, cap);
	r = capture_end(bg->pid, bg->fd, out, cap);
	bg->pid = -1;
	bg->fd = -1;
	return r;
}

uint64_t
zfs_guid_of(const char *name)
{
	char out[64], *end;
	unsigned long long g;

	if (ask(ZOP_GET, ZP_GUID, name, out, sizeof(out)) != 0)
		return 0;
	g = strtoull(out, &end, 10);
	return end != out && (*end == '\n' || *end == '\0') ? g : 0;
}

int
zfs_guid_name(const char *dataset, uint64_t guid, char *out, size_t cap)
{
	static char list[1 << 20];
	char *line, *save = NULL;

	if (ask(ZOP_LIST, ZL_GUIDS, dataset, list, sizeof(list)) != 0)
		return -1;
	for (line = strtok_r(list, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		if (tab && strtoull(tab + 1, NULL, 10) == guid) {
			*tab = '\0';
			snprintf(out, cap, "%s", line);
			return 0;
		}
	}
	return -1;
}

void
zfs_resume_token(const char *dataset, char *out, size_t cap)
{
	char buf[4096];

	out[0] = '\0';
	if (ask(ZOP_GET, ZP_RESUME_TOKEN, dataset, buf, sizeof(buf)) != 0)
		return;
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "-") != 0 && zfs_token_valid(buf) &&
	    strlen(buf) < cap)
		memcpy(out, buf, strlen(buf) + 1);
}

/* A resume token is "1-" and three hex fields joined by '-' (zfs's
 * format): anything else never reaches a zfs command line. */
bool
zfs_token_valid(const char *t)
{
	int fields = 0;

	if (strncmp(t, "1-", 2) != 0)
		return 0;
	for (t += 2; *t; fields++) {
		size_t n = strspn(t, "0123456789abcdef");
		if (n == 0 || (t[n] != '-' && t[n] != '\0'))
			return 0;
		t += n + (t[n] == '-');
	}
	return fields == 3;
}

/*
 * What `zfs send -nv -t TOKEN` printed (text): the token's nvlist, one
 * "\tname = value" line each (uint64 in hex, the *ok flags as "= 1").
 *
 * A token is not authenticated, and zfs prints a nested list's lines
 * with more tabs and a string as it is (a newline in it starts another
 * line): a line indented twice, or a key that appears twice, is a forged
 * token's attempt to make us read other values than zfs uses (-2).
 */
int
zfs_token_parse(const char *text, struct zfs_token *t)
{
	static const char *const keys[] = { "toname", "toguid", "fromguid",
					    "rawok" };
	char out[8192], *line, *save = NULL;
	int have_name = 0, have_guid = 0, seen[4] = { 0 };

	memset(t, 0, sizeof(*t));
	snprintf(out, sizeof(out), "%s", text);
	if (strstr(out, "resume token contents:") == NULL)
		return -1;
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char key[32], val[PROTO_NAME_LEN];

		if (line[0] != '\t')
			continue;
		if (line[1] == '\t' || line[1] == ' ')
			return -2;
		if (sscanf(line + 1, "%31s = %255[^\n]", key, val) != 2)
			continue;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strcmp(key, keys[k]) == 0 && seen[k]++)
				return -2;
		if (strcmp(key, "toname") == 0) {
			snprintf(t->toname, sizeof(t->toname), "%s", val);
			have_name = 1;
		} else if (strcmp(key, "toguid") == 0) {
			t->toguid = strtoull(val, NULL, 0);
			have_guid = t->toguid != 0;
		} else if (strcmp(key, "fromguid") == 0) {
			t->fromguid = strtoull(val, NULL, 0);
		} else if (strcmp(key, "rawok") == 0) {
			t->rawok = 1;
		}
	}
	return have_name && have_guid ? 0 : -1;
}

/* Some OpenZFS versions (2.3) exit non-zero after printing the contents
 * for a dry run: the contents decide, not the exit status. */
int
zfs_token_describe(const char *token, struct zfs_token *t)
{
	static struct zfs_req r;
	char out[8192];

	memset(t, 0, sizeof(*t));
	if (!zfs_token_valid(token) || strlen(token) >= sizeof(r.send.token))
		return -1;
	zfs_req(&r, ZOP_DESCRIBE, 0, NULL);
	memcpy(r.send.token, token, strlen(token) + 1);
	(void)zfs_do(&r, out, sizeof(out));
	return zfs_token_parse(out, t);
}

/*
 * "NAME GUID CREATETXG" lines of zfs list argv about dataset into e (at
 * most max): with tree, the datasets below it ("/a/b"), else its
 * snapshots ("@s") and bookmarks ("#b").  The count, or -1.
 */
static int
entries(const char *dataset, int tree, struct proto_entry *e, int max)
{
	static char list[1 << 21];
	char *line, *save = NULL;
	size_t dl = strlen(dataset);
	int n = 0;

	if (ask(ZOP_LIST, tree ? ZL_TREE : ZL_ENTRIES, dataset, list,
		sizeof(list)) != 0)
		return -1;
	/* a full buffer is a listing cut short, its last line perhaps in
	 * the middle of a number */
	if (strlen(list) + 1 >= sizeof(list))
		return zk_fail(ZK_EZFS, "the listing of %s is longer than %zu "
			       "bytes", dataset, sizeof(list) - 1), -1;
	/* zfs lists a tree by name: a parent before its children */
	for (line = strtok_r(list, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[PROTO_NAME_LEN];
		unsigned long long guid, txg;

		if (sscanf(line, "%255[^\t]\t%llu\t%llu", name, &guid, &txg) != 3 ||
		    strncmp(name, dataset, dl) != 0)
			continue;
		if (tree ? name[dl] != '/' || !zfs_name_valid(name, 'f')
			 : name[dl] != '@' && name[dl] != '#')
			continue;
		/* oldest first: what a cut would drop is the newest */
		if (n == max)
			return zk_fail(ZK_EZFS, "%s has more than %d %s", dataset,
				       max, tree ? "datasets below it"
						 : "snapshots and bookmarks"),
			       -1;
		memset(&e[n], 0, sizeof(e[n]));
		snprintf(e[n].name, sizeof(e[n].name), "%s", name + dl);
		e[n].guid = guid;
		e[n].createtxg = txg;
		e[n].kind = tree ? PROTO_KIND_DATASET
			    : name[dl] == '@' ? PROTO_KIND_SNAPSHOT
					      : PROTO_KIND_BOOKMARK;
		n++;
	}
	return n;
}

int
zfs_tree(const char *dataset, struct proto_entry *e, int max)
{
	return entries(dataset, 1, e, max);
}

int
zfs_listing(const char *dataset, struct proto_entry *e, int max)
{
	return entries(dataset, 0, e, max);
}

/*
 * dataset, every dataset below it and the snapshots and bookmarks of each
 * into t (tree.h), from one zfs list: 0, ZFS_FAILED when zfs cannot list
 * it (it does not exist), or -ZK_EZFS (recorded) when the listing does
 * not fit t or is not zfs's.
 */
int
zfs_tree_all(const char *dataset, struct zfs_bg *bg, struct tree *t)
{
	static char list[1 << 21];
	char *line, *save = NULL;
	size_t dl = strlen(dataset), len;
	const char *why = NULL;

	t->ne = t->nds = 0;
	if (fetch(ZL_ALL, dataset, bg, list, sizeof(list)) != 0)
		return ZFS_FAILED;
	/* a full buffer is a cut listing: better none */
	if ((len = strlen(list)) + 1 >= sizeof(list) ||
	    (len > 0 && list[len - 1] != '\n'))
		return zk_fail(ZK_EZFS, "the listing of %s is longer than %zu "
			       "bytes", dataset, sizeof(list) - 1);
	for (line = strtok_r(list, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[PROTO_NAME_LEN], token[8];
		unsigned long long guid, txg;
		struct proto_entry e;
		const char *rest;
		size_t part;

		if (sscanf(line, "%255[^\t]\t%llu\t%llu\t%7[^\t]", name, &guid,
			   &txg, token) != 4)
			return zk_fail(ZK_EZFS, "zfs list of %s printed a line "
				       "of another shape: %.80s", dataset, line);
		if (strncmp(name, dataset, dl) != 0 ||
		    strchr("/@#", name[dl]) == NULL)
			continue;
		rest = name + dl;
		part = strcspn(name, "@#");
		if (name[part] == '\0') {
			if (!zfs_name_valid(name, 'f') ||
			    tree_add_dataset(t, rest, strcmp(token, "-") != 0,
					     &why) < 0)
				goto bad;
			continue;
		}
		memset(&e, 0, sizeof(e));
		snprintf(e.name, sizeof(e.name), "%s", rest);
		e.guid = guid;
		e.createtxg = txg;
		e.kind = name[part] == '@' ? PROTO_KIND_SNAPSHOT
					   : PROTO_KIND_BOOKMARK;
		if (tree_add_entry(t, &e, &why) < 0)
			goto bad;
	}
	if (tree_finish(t, &why) == 0)
		return 0;
bad:
	return zk_fail(ZK_EZFS, "%s: %s", dataset,
		       why ? why : "a dataset with an invalid name");
}

int
zfs_sync_props(const char *dataset, struct zfs_bg *bg,
	       char (*names)[ZFS_NAME_LEN], char (*values)[32], int max)
{
	static char list[1 << 21];
	char *line, *save = NULL;
	int n = 0;

	if (fetch(ZL_SYNC, dataset, bg, list, sizeof(list)) != 0)
		return -1;
	/* a cut listing could leave out an "off", or the line that shows a
	 * forged one twice */
	if (strlen(list) + 1 >= sizeof(list))
		return zk_fail(ZK_EZFS, "the zktls:sync listing of %s is longer "
			       "than %zu bytes", dataset, sizeof(list) - 1), -1;
	for (line = strtok_r(list, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');

		if (tab == NULL || (size_t)(tab - line) >= ZFS_NAME_LEN)
			continue;
		*tab = '\0';
		if (!zfs_name_within(line, dataset, false) ||
		    !zfs_name_valid(line, 'f'))
			continue;
		if (n == max)
			return zk_fail(ZK_EZFS, "%s has more than %d datasets",
				       dataset, max), -1;
		/* zfs prints each dataset once: a second line for one is a
		 * property value with a newline in it, written to pass for
		 * another dataset's (zktls:sync=off where it is not) */
		for (int i = 0; i < n; i++)
			if (strcmp(names[i], line) == 0)
				return zk_fail(ZK_EZFS, "zfs list printed %s "
					       "twice (a zktls:sync value with "
					       "a line break below %s?)", line,
					       dataset), -1;
		snprintf(names[n], ZFS_NAME_LEN, "%s", line);
		snprintf(values[n], 32, "%s", tab + 1);
		n++;
	}
	return n;
}

/* who in the characters a bookmark or hold may have (valid_char); an id
 * has only those, HOST:PORT all but an IPv6 address's brackets. */
static void
mark_who(const char *who, char *out, size_t cap)
{
	snprintf(out, cap, "%s", who);
	for (char *c = out; *c; c++)
		if (!valid_char(*c) || *c == ' ')
			*c = '_';
}

void
zfs_mark_tag(const char *who, char *out, size_t cap)
{
	snprintf(out, cap, "zktls_%.100s", who);
	for (char *c = out; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '.'))
			*c = '_';
}

int
zfs_mark_name(const char *who, const char *snap, char *out, size_t cap)
{
	char w[300];
	int r;

	mark_who(who, w, sizeof(w));
	r = snprintf(out, cap, "zktls:%zu:%s:%s", strlen(w), w, snap);
	return r < 0 || (size_t)r >= cap ? -1 : 0;
}

bool
zfs_mark_any(const char *name)
{
	return strncmp(name, "zktls:", 6) == 0 || strncmp(name, "zktls_", 6) == 0;
}

bool
zfs_name_within(const char *name, const char *root, bool snaps)
{
	size_t ds = snaps ? strcspn(name, "@#") : strlen(name);
	size_t rl = strlen(root);

	return rl > 0 && ds >= rl && strncmp(name, root, rl) == 0 &&
	       (ds == rl || name[rl] == '/');
}

/* A snapshot name's characters (after '@'), at least one. */
static int
snap_part(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!valid_char(*s))
			return 0;
	return 1;
}

/* Where SNAP starts if name reads as who's previous-format mark
 * zktls_TAG_SNAP, else NULL.  Split at a '_' of TAG or SNAP, such a name
 * also reads as another WHO's: zktls_web_2_x is web's mark of @2_x, and
 * web_2's of @x. */
static const char *
old_mark_snap(const char *name, const char *who)
{
	char old[128];
	size_t ol;

	zfs_mark_tag(who, old, sizeof(old));
	ol = strlen(old);
	if (strncmp(name, old, ol) != 0 || name[ol] != '_' ||
	    !snap_part(name + ol + 1))
		return NULL;
	return name + ol + 1;
}

bool
zfs_mark_old_reads(const char *name, const char *who)
{
	return old_mark_snap(name, who) != NULL;
}

bool
zfs_mark_mine(const char *name, uint64_t guid, const char *who,
	      const struct proto_entry *e, int n)
{
	char w[300];
	const char *s;
	size_t wl;
	char *end;

	mark_who(who, w, sizeof(w));
	wl = strlen(w);
	if (strncmp(name, "zktls:", 6) == 0) {
		/* zktls:LEN:WHO:SNAP, LEN without leading zeros */
		if (name[6] < '1' || name[6] > '9' ||
		    strtoul(name + 6, &end, 10) != wl || *end != ':')
			return 0;
		s = end + 1;
		return strncmp(s, w, wl) == 0 && s[wl] == ':' &&
		       snap_part(s + wl + 1);
	}
	if ((s = old_mark_snap(name, who)) == NULL)
		return 0;
	/* A previous-format name is who's when there is no other '_' to
	 * split at... */
	if (strchr(name + 6, '_') == s - 1 && strchr(s, '_') == NULL)
		return 1;
	/* or the snapshot it names is there with its guid: the marks of
	 * other tags name other snapshots (a dataset's snapshots have
	 * distinct guids) */
	for (int i = 0; guid != 0 && i < n; i++)
		if (e[i].kind == PROTO_KIND_SNAPSHOT && e[i].guid == guid &&
		    e[i].name[0] == '@' && strcmp(e[i].name + 1, s) == 0)
			return 1;
	return 0;
}

int
zfs_move_mark(const char *ds, const char *snap, const char *who,
	      const struct proto_entry *e, int n, char *why, size_t wl)
{
	char full[600], mark[600], old[600], msg[256], name[300];
	static struct zfs_req mk, rm;
	const char *mine;
	int have = 0, r = 0;

	snprintf(full, sizeof(full), "%s%s", ds, snap);
	if (zfs_mark_name(who, snap + 1, name, sizeof(name)) < 0 ||
	    (size_t)snprintf(mark, sizeof(mark), "%s#%s", ds, name) > 255) {
		snprintf(why, wl, "the name of the bookmark of %s is too long",
			 full);
		return -1;
	}
	mine = strchr(mark, '#');
	for (int i = 0; i < n; i++)
		have |= e[i].kind == PROTO_KIND_BOOKMARK &&
			strcmp(e[i].name, mine) == 0;
	if (!have && (zfs_req(&mk, ZOP_MARK, 0, full) < 0 ||
		      snprintf(mk.name2, sizeof(mk.name2), "%s", mark) < 0 ||
		      zfs_do_msg(&mk, msg, sizeof(msg)) != 0)) {
		snprintf(why, wl, "cannot bookmark %s: %s", full, msg);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (e[i].kind != PROTO_KIND_BOOKMARK ||
		    strcmp(e[i].name, mine) == 0 ||
		    !zfs_mark_mine(e[i].name + 1, e[i].guid, who, e, n))
			continue;
		snprintf(old, sizeof(old), "%s%s", ds, e[i].name);
		if (zfs_req(&rm, ZOP_DESTROY, 0, old) < 0 ||
		    zfs_do_msg(&rm, msg, sizeof(msg)) != 0) {
			snprintf(why, wl, "cannot destroy the old bookmark %s: "
				 "%s", old, msg);
			r = -1;
		}
	}
	return r;
}

/* ------------------------------------------------------------ sync's own */

int
zfs_snap_guids(const char *dataset, uint64_t *guids, int max)
{
	static char out[1 << 20];
	char *p, *end;
	int n = 0;

	if (ask(ZOP_LIST, ZL_SNAP_GUIDS, dataset, out, sizeof(out)) != 0)
		return -1;
	for (p = out; *p && n < max; p = end) {
		uint64_t g = strtoull(p, &end, 10);
		if (end == p)
			break;
		guids[n++] = g;
		while (*end == '\n')
			end++;
	}
	return n;
}

int
zfs_estimate(const struct zfs_send_req *q, uint64_t *size, char *out,
	     size_t cap)
{
	static struct zfs_req r;
	int rc;

	*size = 0;
	zfs_req(&r, ZOP_ESTIMATE, 0, NULL);
	r.send = *q;
	rc = zfs_do(&r, out, cap);
	for (const char *p = out; p && *p;
	     p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned long long v;
		if (sscanf(p, "size\t%llu", &v) == 1)
			*size = v;
	}
	return rc;
}

int
zfs_written(const char *dataset, uint64_t *bytes)
{
	char out[64];
	unsigned long long w;

	*bytes = 0;
	if (ask(ZOP_GET, ZP_WRITTEN, dataset, out, sizeof(out)) != 0 ||
	    sscanf(out, "%llu", &w) != 1)
		return -1;
	*bytes = w;
	return 0;
}

int
zfs_rollback(const char *snap, bool recursive, char *msg, size_t cap)
{
	static struct zfs_req r;

	msg[0] = '\0';
	if (zfs_req(&r, ZOP_ROLLBACK, recursive, snap) < 0)
		return snprintf(msg, cap, "name too long"), ZFS_FAILED;
	return zfs_do_msg(&r, msg, cap);
}

int
zfs_hold(const char *tag, const char *snap, bool hold, char *msg,
	 size_t cap)
{
	static struct zfs_req r;

	msg[0] = '\0';
	if (zfs_req(&r, hold ? ZOP_HOLD : ZOP_RELEASE, 0, snap) < 0 ||
	    strlen(tag) >= sizeof(r.name2))
		return snprintf(msg, cap, "name too long"), ZFS_FAILED;
	memcpy(r.name2, tag, strlen(tag) + 1);
	return zfs_do_msg(&r, msg, cap);
}

int
zfs_holds(const char *const *snaps, int n, char *out, size_t cap)
{
	const char **argv = calloc((size_t)n + 4, sizeof(*argv));
	int k = 0, r;

	out[0] = '\0';
	if (argv == NULL)
		return zk_fail_errno(ZK_ESYS, "calloc");
	argv[k++] = zfs_path();
	argv[k++] = "holds";
	argv[k++] = "-H";
	for (int i = 0; i < n; i++)
		argv[k++] = snaps[i];
	argv[k] = NULL;
	/* sync's own question, never a session's: not through a runner */
	r = runner ? zk_fail(ZK_EDENIED, "zfs holds: not a session's request")
		   : capture(argv, out, cap, false);
	free(argv);
	return r;
}

int
zfs_origins(const char *dataset, bool recursive, char *out, size_t cap)
{
	return ask(ZOP_ORIGINS, recursive, dataset, out, cap);
}

/* Properties through which a stream could mount a dataset over a path of
 * the receiving host's choosing, mount it at all, or export it: unless the
 * operator allows it, the stream's values are ignored (-x), so received
 * datasets inherit them from the receiver's own dataset. */
const char *const zfs_mount_props[ZFS_MOUNT_PROPS + 1] = {
	"mountpoint", "canmount", "sharenfs", "sharesmb", "overlay", NULL,
};

int
zfs_recv_safe(struct zfs_recv_req *q, bool mount, bool mount_props)
{
	if (!mount)
		q->nomount = true;
	for (const char *const *p = zfs_mount_props; !mount_props && *p; p++) {
		if (zfs_recv_names(q, *p))
			continue;
		if (q->nexclude == ZFS_MAX_PROPS)
			return -1;
		snprintf(q->exclude[q->nexclude++], sizeof(q->exclude[0]), "%s",
			 *p);
	}
	return 0;
}

bool
zfs_recv_names(const struct zfs_recv_req *q, const char *prop)
{
	size_t pl = strlen(prop);

	for (int i = 0; i < q->nset; i++)
		if (strncmp(q->set[i], prop, pl) == 0 && q->set[i][pl] == '=')
			return true;
	for (int i = 0; i < q->nexclude; i++)
		if (strcmp(q->exclude[i], prop) == 0)
			return true;
	return false;
}
