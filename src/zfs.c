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

int
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

static int
capture(const char *const *argv, char *out, size_t cap, int with_err)
{
	int p[2], null = -1, r;
	size_t got = 0;
	pid_t pid = -1;
	int st;

	out[0] = '\0';
	if (privsep_remote())
		return privsep_capture(argv, out, cap);
	if ((r = privsep_check(argv)) < 0)
		return r;
	if (pipe2(p, O_CLOEXEC) < 0)
		return zk_fail_errno(ZK_ESYS, "pipe");
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		close(p[0]);
		close(p[1]);
		return zk_fail_errno(ZK_ESYS, "/dev/null");
	}
	r = child_spawn(argv, null, p[1], with_err ? p[1] : null, &pid);
	close(p[1]);
	close(null);
	if (r < 0) {
		close(p[0]);
		return r;
	}
	for (;;) {
		char tmp[4096];
		ssize_t n = read(p[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && got + 1 < cap; i++)
			out[got++] = tmp[i];
	}
	out[got] = '\0';
	close(p[0]);
	if ((r = child_wait(pid, &st)) < 0)
		return r;
	/* Not recorded with zk_fail: callers probe things that may
	 * legitimately be absent (a target that does not exist yet). */
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int
zfs_capture(const char *const *argv, char *out, size_t cap)
{
	return capture(argv, out, cap, 0);
}

int
zfs_run(const char *const *argv, char *msg, size_t cap)
{
	int r = capture(argv, msg, cap, 1);

	msg[strcspn(msg, "\n")] = '\0';
	return r;
}

/* ------------------------------------------------------------ zfs facts */

uint64_t
zfs_guid_of(const char *name)
{
	const char *argv[] = { zfs_path(), "get", "-H", "-p", "-o", "value",
			       "guid", name, NULL };
	char out[64], *end;
	unsigned long long g;

	if (zfs_capture(argv, out, sizeof(out)) != 0)
		return 0;
	g = strtoull(out, &end, 10);
	return end != out && (*end == '\n' || *end == '\0') ? g : 0;
}

int
zfs_guid_name(const char *dataset, uint64_t guid, char *out, size_t cap)
{
	const char *argv[] = { zfs_path(), "list", "-H", "-p", "-o",
			       "name,guid", "-t", "snapshot,bookmark", "-d",
			       "1", dataset, NULL };
	static char list[1 << 20];
	char *line, *save = NULL;

	if (zfs_capture(argv, list, sizeof(list)) != 0)
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
	const char *argv[] = { zfs_path(), "get", "-H", "-p", "-o", "value",
			       "receive_resume_token", dataset, NULL };
	char buf[4096];

	out[0] = '\0';
	if (zfs_capture(argv, buf, sizeof(buf)) != 0)
		return;
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "-") != 0 && zfs_token_valid(buf) &&
	    strlen(buf) < cap)
		memcpy(out, buf, strlen(buf) + 1);
}

/* A resume token is "1-" and three hex fields joined by '-' (zfs's
 * format): anything else never reaches a zfs command line. */
int
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
	const char *argv[] = { zfs_path(), "send", "-nv", "-t", token, NULL };
	char out[8192];

	memset(t, 0, sizeof(*t));
	if (!zfs_token_valid(token))
		return -1;
	(void)zfs_capture(argv, out, sizeof(out));
	return zfs_token_parse(out, t);
}

int
zfs_snapshots(const char *dataset, char (*names)[256], uint64_t *guids,
	      int max)
{
	const char *argv[] = { zfs_path(), "list", "-H", "-p", "-o",
			       "name,guid", "-t", "snapshot", "-s",
			       "createtxg", "-d", "1", dataset, NULL };
	static char list[1 << 20];
	char *line, *save = NULL;
	int n = 0;

	if (zfs_capture(argv, list, sizeof(list)) != 0)
		return -1;
	for (line = strtok_r(list, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		if (tab == NULL || (size_t)(tab - line) >= 256)
			continue;
		*tab = '\0';
		snprintf(names[n], 256, "%s", line);
		guids[n++] = strtoull(tab + 1, NULL, 10);
	}
	return n;
}

const struct zfs_flag zfs_send_flags[] = {
	{ PROTO_ZF_RAW, "-w" },   { PROTO_ZF_COMPRESSED, "-c" },
	{ PROTO_ZF_LARGE, "-L" }, { PROTO_ZF_EMBED, "-e" },
	{ PROTO_ZF_PROPS, "-p" }, { PROTO_ZF_RECURSIVE, "-R" },
	{ 0, NULL },
};

/*
 * "NAME GUID CREATETXG" lines of zfs list argv about dataset into e (at
 * most max): with tree, the datasets below it ("/a/b"), else its
 * snapshots ("@s") and bookmarks ("#b").  The count, or -1.
 */
static int
entries(const char *const *argv, const char *dataset, int tree,
	struct proto_entry *e, int max)
{
	static char list[1 << 21];
	char *line, *save = NULL;
	size_t dl = strlen(dataset);
	int n = 0;

	if (zfs_capture(argv, list, sizeof(list)) != 0)
		return -1;
	/* zfs lists a tree by name: a parent before its children */
	for (line = strtok_r(list, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[PROTO_NAME_LEN];
		unsigned long long guid, txg;

		if (sscanf(line, "%255[^\t]\t%llu\t%llu", name, &guid, &txg) != 3 ||
		    strncmp(name, dataset, dl) != 0)
			continue;
		if (tree ? name[dl] != '/' || !zfs_name_valid(name, 'f')
			 : name[dl] != '@' && name[dl] != '#')
			continue;
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
	const char *argv[] = { zfs_path(), "list", "-H", "-p", "-o",
			       "name,guid,createtxg", "-t",
			       "filesystem,volume", "-r", dataset, NULL };

	return entries(argv, dataset, 1, e, max);
}

int
zfs_listing(const char *dataset, struct proto_entry *e, int max)
{
	const char *argv[] = { zfs_path(), "list", "-H", "-p", "-o",
			       "name,guid,createtxg", "-t", "snapshot,bookmark",
			       "-s", "createtxg", "-d", "1", dataset, NULL };

	return entries(argv, dataset, 0, e, max);
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

int
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

int
zfs_mark_old_reads(const char *name, const char *who)
{
	return old_mark_snap(name, who) != NULL;
}

int
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
	const char *mk[] = { zfs_path(), "bookmark", full, mark, NULL };
	const char *rm[] = { zfs_path(), "destroy", old, NULL };
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
	if (!have && zfs_run(mk, msg, sizeof(msg)) != 0) {
		snprintf(why, wl, "cannot bookmark %s: %s", full, msg);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (e[i].kind != PROTO_KIND_BOOKMARK ||
		    strcmp(e[i].name, mine) == 0 ||
		    !zfs_mark_mine(e[i].name + 1, e[i].guid, who, e, n))
			continue;
		snprintf(old, sizeof(old), "%s%s", ds, e[i].name);
		if (zfs_run(rm, msg, sizeof(msg)) != 0) {
			snprintf(why, wl, "cannot destroy the old bookmark %s: "
				 "%s", old, msg);
			r = -1;
		}
	}
	return r;
}
