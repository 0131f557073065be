/*
 * privsep.c - serve's privilege separation.
 *
 * Each connection gets two processes.  The network-facing one (TLS
 * handshake, the session protocol, the data plane) runs as the
 * configuration's unprivileged user, with no capabilities, no_new_privs
 * and a seccomp filter: a bug in the code that parses what the peer sends
 * gives no root and cannot run programs.  Its parent, the monitor, stays
 * root and is the only one that runs zfs: the network process asks it
 * over a socketpair to run an argument vector, and the monitor checks
 * that vector against a fixed set of shapes and against the client's
 * policy (which datasets it may write or read) before it runs anything
 * (privsep_allowed()).  On the direct plane the socket itself is passed to the
 * monitor (SCM_RIGHTS) and handed to zfs.
 *
 * With "privsep no" (zktls.conf) there is no monitor: the one process
 * runs zfs itself, but checks each command first with the monitor's own
 * checks (vet(): privsep_allowed() and the clone check), so that the
 * policy decides the same in both modes; only the confinement is gone.
 *
 * What the network process says about who the client is, the monitor
 * takes as said: a network process taken over during or after the
 * handshake could claim to be another configured client, and get what
 * that client may do, but never more than the policy gives some client,
 * and never a command the shapes do not allow.
 *
 * Requests (network -> monitor), each one message on a SOCK_SEQPACKET
 * socketpair: an op byte, then NUL-separated strings; SPAWN may carry an
 * fd.  Replies: an i32 status, a "more follows" byte, then text, in as
 * many messages as the text needs.
 *   CLIENT id            the client the session serves
 *   CAPTURE argv...      run, return its exit code and its stdout
 *   SPAWN fd argv...     start it with fd as stdin (receive) or stdout
 *   EXITED               has it exited?  (0/1, and its wait status)
 *   WAIT                 reap it: wait status, then its stderr's tail
 *   KILL                 SIGTERM it
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "proto.h"
#include "zktls.h"

#define MSG_MAX 8192
#define MAX_ARGV 64

enum { OP_CLIENT = 1, OP_CAPTURE, OP_SPAWN, OP_EXITED, OP_WAIT, OP_KILL };

/* ------------------------------------------------------------ transport */

static int
send_msg(int fd, const void *buf, size_t len, int pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (pass_fd >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/* One message into buf (at most cap bytes): its length, or -1; *got_fd
 * gets a passed fd or -1. */
static ssize_t
recv_msg(int fd, void *buf, size_t cap, int *got_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	if (got_fd)
		*got_fd = -1;
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int f;
			memcpy(&f, CMSG_DATA(c), sizeof(int));
			if (got_fd && *got_fd < 0)
				*got_fd = f;
			else
				close(f);
		}
	if (n >= 0 && (msg.msg_flags & MSG_TRUNC))
		return -1;
	return n;
}

/* ------------------------------------------------------------ client */

static int monitor_fd = -1;
/* privsep no: the configuration and client the checks run for here */
static const struct serve_conf *local_conf;
static const struct conf_client *local_cl;

int
privsep_remote(void)
{
	return monitor_fd >= 0;
}

/* A request (op, strings) and its reply: status, text into out. */
static int
call(uint8_t op, const char *const *argv, int pass_fd, char *out,
     size_t cap, size_t *outlen)
{
	static char buf[MSG_MAX];
	size_t n = 1;
	ssize_t got;
	int32_t status;

	buf[0] = (char)op;
	for (int i = 0; argv && argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;
		if (n + l > sizeof(buf))
			return zk_fail(ZK_ESYS, "privsep: request too long");
		memcpy(buf + n, argv[i], l);
		n += l;
	}
	if (send_msg(monitor_fd, buf, n, pass_fd) < 0)
		return zk_fail_errno(ZK_ESYS, "privsep: to the monitor");
	/* The reply: chunks of [i32 status][u8 more][text], the text
	 * concatenated (a zfs list can be longer than one message). */
	n = 0;
	for (;;) {
		size_t k;

		got = recv_msg(monitor_fd, buf, sizeof(buf), NULL);
		if (got < (ssize_t)sizeof(status) + 1)
			return zk_fail(ZK_ESYS, "privsep: the monitor did not "
				       "answer");
		memcpy(&status, buf, sizeof(status));
		got -= (ssize_t)sizeof(status) + 1;
		if (out && cap > 0) {
			k = n + (size_t)got < cap - 1 ? (size_t)got : cap - 1 - n;
			memcpy(out + n, buf + sizeof(status) + 1, k);
			n += k;
			out[n] = '\0';
		}
		if (!buf[sizeof(status)])
			break;
	}
	if (outlen)
		*outlen = n;
	return status;
}

int
privsep_client(const char *client)
{
	const char *argv[] = { client, NULL };
	char why[512];
	int r;

	if (local_conf != NULL) {
		if (local_cl != NULL)
			return zk_fail(ZK_EDENIED, "the client is set once");
		if ((local_cl = conf_client_by_id(local_conf, client)) == NULL)
			return zk_fail(ZK_EDENIED, "no such client");
		return 0;
	}
	if (!privsep_remote())
		return 0;
	r = call(OP_CLIENT, argv, -1, why, sizeof(why), NULL);
	return r == 0 ? 0 : zk_fail(ZK_EDENIED, "%s", why);
}

int
privsep_capture(const char *const *argv, char *out, size_t cap)
{
	int r = call(OP_CAPTURE, argv, -1, out, cap, NULL);

	if (r == -ZK_EDENIED)
		return zk_fail(ZK_EDENIED, "%s", out);
	return r;
}

int
privsep_spawn(const char *const *argv, int fd)
{
	char why[512];
	int r = call(OP_SPAWN, argv, fd, why, sizeof(why), NULL);

	return r == 0 ? 0 : zk_fail(r == -ZK_EDENIED ? ZK_EDENIED : ZK_EZFS,
				    "%s", why);
}

int
privsep_exited(int *status)
{
	char st[32];
	int r = call(OP_EXITED, NULL, -1, st, sizeof(st), NULL);

	if (r == 1)
		*status = atoi(st);
	return r;
}

int
privsep_wait(int *status, char *errtext, size_t cap)
{
	char buf[600];
	char *sp;
	int r = call(OP_WAIT, NULL, -1, buf, sizeof(buf), NULL);

	if (r < 0)
		return r;
	*status = (int)strtol(buf, &sp, 10);
	snprintf(errtext, cap, "%s", *sp ? sp + 1 : "");
	return 0;
}

void
privsep_kill(void)
{
	(void)call(OP_KILL, NULL, -1, NULL, 0, NULL);
}

/* ------------------------------------------------------------ checks */

static int
name_ok(const char *name)
{
	return zfs_name_valid(name, 's') || zfs_name_valid(name, 'f') ||
	       (strchr(name, '#') != NULL && name[0] != '#' &&
		strchr(name, '@') == NULL);
}

static int
readable(const struct conf_client *cl, const char *name)
{
	if (!name_ok(name))
		return 0;
	if (cl->push[0] && zfs_name_within(name, cl->push, true))
		return 1;
	for (int i = 0; i < cl->npull; i++)
		if (zfs_name_within(name, cl->pull[i], true))
			return 1;
	return 0;
}

static int
pullable(const struct conf_client *cl, const char *name)
{
	for (int i = 0; i < cl->npull; i++)
		if (zfs_name_valid(name, 's') &&
		    zfs_name_within(name, cl->pull[i], true))
			return 1;
	return 0;
}

static int
arg_in(const char *a, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(a, *set) == 0)
			return 1;
	return 0;
}

/* What a resume token continues, checked against the pull datasets. */
static int
token_ok(const struct conf_client *cl, const char *token)
{
	struct zfs_token t;

	/* and zfs picks the snapshot by toguid: it must be toname's */
	return zfs_token_valid(token) && zfs_token_describe(token, &t) == 0 &&
	       pullable(cl, t.toname) && zfs_guid_of(t.toname) == t.toguid;
}

/*
 * The shapes of every zfs command a session runs (session.c, zfs.c,
 * cmd_serve.c), each checked against the client's datasets.  argv[0] is
 * ignored (the monitor runs its own zfs).  0 ok, or -1 with why.
 */
/* Is s one of the n strings of list (a policy's property or exclude)? */
static int
listed(const char (*list)[256], int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* Does a[2..n) hold flag (followed by value, unless value is NULL)? */
static int
pair_in(const char *const *a, int n, const char *flag, const char *value)
{
	for (int k = 2; k < n; k++)
		if (strcmp(a[k], flag) == 0 &&
		    (value == NULL || (k + 1 < n && strcmp(a[k + 1], value) == 0)))
			return 1;
	return 0;
}

/* Does the client's policy set prop (property PROP=VALUE)? */
static int
sets(const struct conf_client *cl, const char *prop)
{
	size_t pl = strlen(prop);

	for (int i = 0; i < cl->nset; i++)
		if (strncmp(cl->set[i], prop, pl) == 0 && cl->set[i][pl] == '=')
			return 1;
	return 0;
}

/* Is bm (DS#NAME) one of client cl's pull-base bookmarks of a dataset it
 * may read (zfs_mark_mine: an exact parse of NAME; a previous-format
 * name proven by the dataset's listing, read here)? */
static int
own_mark(const struct conf_client *cl, const char *bm)
{
	static struct proto_entry e[PROTO_MAX_ENTRIES];
	const char *hash = strchr(bm, '#');
	char ds[256];
	uint64_t guid = 0;
	int n = 0;

	if (hash == NULL || strchr(bm, '@') != NULL ||
	    strchr(hash + 1, '#') != NULL || strchr(hash + 1, '/') != NULL ||
	    strlen(bm) >= 256 || !readable(cl, bm) || !name_ok(bm) ||
	    !zfs_mark_any(hash + 1))
		return 0;
	if (zfs_mark_mine(hash + 1, 0, cl->id, NULL, 0))
		return 1;
	/* a previous-format name that only the listing can prove */
	if (strncmp(hash + 1, "zktls_", 6) == 0) {
		snprintf(ds, sizeof(ds), "%.*s", (int)(hash - bm), bm);
		if ((n = zfs_listing(ds, e, PROTO_MAX_ENTRIES)) < 0)
			return 0;
		for (int i = 0; i < n; i++)
			if (e[i].kind == PROTO_KIND_BOOKMARK &&
			    strcmp(e[i].name, hash) == 0)
				guid = e[i].guid;
	}
	return zfs_mark_mine(hash + 1, guid, cl->id, e, n);
}

int
privsep_allowed(const struct conf_client *cl, const char *const *a, int n,
		char *why, size_t wl)
{
	static const char *const props[] = { "guid", "receive_resume_token",
					     NULL };
	static const char *const send_flags[] = { "-w", "-c", "-L", "-e",
						  "-p", "-R", NULL };
	static const char *const mount_props[] = { "mountpoint", "canmount",
						   "sharenfs", "sharesmb",
						   "overlay", NULL };

	if (cl == NULL)
		return snprintf(why, wl, "no client yet"), -1;
	if (n >= 8 && strcmp(a[1], "get") == 0 && n == 8 &&
	    strcmp(a[2], "-H") == 0 && strcmp(a[3], "-p") == 0 &&
	    strcmp(a[4], "-o") == 0 && strcmp(a[5], "value") == 0 &&
	    arg_in(a[6], props)) {
		if (readable(cl, a[7]))
			return 0;
		return snprintf(why, wl, "%s is not client %s's", a[7], cl->id),
		       -1;
	}
	/* the base of a client's next pull: bookmark DS@SNAP as its
	 * mark DS#zktls:LEN:ID:SNAP, destroy its older ones (nothing
	 * else) */
	if (n == 4 && strcmp(a[1], "bookmark") == 0) {
		const char *at = strchr(a[2], '@');
		char want[600], name[300];

		if (at && zfs_name_valid(a[2], 's') && readable(cl, a[2]) &&
		    zfs_mark_name(cl->id, at + 1, name, sizeof(name)) == 0 &&
		    (size_t)snprintf(want, sizeof(want), "%.*s#%s",
				     (int)(at - a[2]), a[2], name) <
			    sizeof(want) &&
		    strcmp(a[3], want) == 0 && own_mark(cl, a[3]))
			return 0;
		return snprintf(why, wl, "bookmark %s as %s", a[2], a[3]), -1;
	}
	if (n == 3 && strcmp(a[1], "destroy") == 0) {
		if (own_mark(cl, a[2]))
			return 0;
		return snprintf(why, wl, "destroy %s", a[2]), -1;
	}
	if (n >= 10 && strcmp(a[1], "list") == 0) {
		int k = 2;
		if (strcmp(a[k++], "-H") || strcmp(a[k++], "-p") ||
		    strcmp(a[k++], "-o") ||
		    (strcmp(a[k], "guid") && strcmp(a[k], "name,guid") &&
		     strcmp(a[k], "name,guid,createtxg")))
			goto shape;
		k++;
		if (strcmp(a[k++], "-t"))
			goto shape;
		/* a dataset's tree, or its snapshots (and bookmarks) */
		if (strcmp(a[k], "filesystem,volume") == 0) {
			if (k + 3 != n || strcmp(a[k + 1], "-r"))
				goto shape;
			k += 2;
		} else {
			if (strcmp(a[k], "snapshot") &&
			    strcmp(a[k], "snapshot,bookmark"))
				goto shape;
			k++;
			if (k + 1 < n && strcmp(a[k], "-s") == 0) {
				if (strcmp(a[k + 1], "createtxg"))
					goto shape;
				k += 2;
			}
			if (k + 3 != n || strcmp(a[k], "-d") ||
			    strcmp(a[k + 1], "1"))
				goto shape;
			k += 2;
		}
		if (readable(cl, a[k]) && zfs_name_valid(a[k], 'f'))
			return 0;
		return snprintf(why, wl, "%s is not client %s's", a[k],
				cl->id), -1;
	}
	if (n >= 3 && strcmp(a[1], "send") == 0) {
		const char *snap = NULL, *token = NULL, *base = NULL;
		int raw = 0, dry = 0;

		for (int k = 2; k < n; k++) {
			if (strcmp(a[k], "-nP") == 0 || strcmp(a[k], "-nv") == 0) {
				dry = 1;
				continue;
			}
			if (arg_in(a[k], send_flags)) {
				raw |= strcmp(a[k], "-w") == 0;
				continue;
			}
			if ((strcmp(a[k], "-i") == 0 || strcmp(a[k], "-I") == 0) &&
			    k + 1 < n && base == NULL) {
				base = a[++k];
				continue;
			}
			if (strcmp(a[k], "-t") == 0 && k + 1 < n && !token) {
				token = a[++k];
				continue;
			}
			if (k == n - 1 && a[k][0] != '-') {
				snap = a[k];
				continue;
			}
			goto shape;
		}
		if ((snap == NULL) == (token == NULL))
			goto shape;
		if (cl->raw && !raw && !dry)
			return snprintf(why, wl, "client %s's pulls are raw "
					"(zfs send -w)", cl->id), -1;
		if (token)
			return token_ok(cl, token) ? 0
			       : (snprintf(why, wl, "a resume token that is not "
					   "for client %s's datasets", cl->id), -1);
		if (!pullable(cl, snap))
			return snprintf(why, wl, "%s is not client %s's to send",
					snap, cl->id), -1;
		if (base && !(base[0] == '@' || base[0] == '#') &&
		    !(readable(cl, base) &&
		      strncmp(base, snap, strcspn(snap, "@")) == 0 &&
		      (base[strcspn(snap, "@")] == '@' ||
		       base[strcspn(snap, "@")] == '#')))
			return snprintf(why, wl, "incremental base %s", base), -1;
		return 0;
	}
	if (n >= 3 && strcmp(a[1], "receive") == 0) {
		for (int k = 2; k < n - 1; k++) {
			if (strcmp(a[k], "-u") == 0 || strcmp(a[k], "-d") == 0 ||
			    (strcmp(a[k], "-s") == 0 && cl->resumable) ||
			    (strcmp(a[k], "-F") == 0 && cl->rollback))
				continue;
			if (strcmp(a[k], "-x") == 0 && k + 1 < n - 1 &&
			    (arg_in(a[k + 1], mount_props) ||
			     listed(cl->exclude, cl->nexclude, a[k + 1]))) {
				k++;
				continue;
			}
			if (strcmp(a[k], "-o") == 0 && k + 1 < n - 1 &&
			    listed(cl->set, cl->nset, a[k + 1])) {
				k++;
				continue;
			}
			goto shape;
		}
		/* and what the policy promises is all there: nothing mounted,
		 * the stream's mount and share properties ignored unless the
		 * policy sets them, its own -o and -x */
		if (!pair_in(a, n - 1, "-u", NULL))
			return snprintf(why, wl, "zfs receive without -u"), -1;
		for (const char *const *p = mount_props; *p; p++)
			if (!pair_in(a, n - 1, "-x", *p) && !sets(cl, *p))
				return snprintf(why, wl, "zfs receive without -x "
						"%s", *p), -1;
		for (int i = 0; i < cl->nset; i++)
			if (!pair_in(a, n - 1, "-o", cl->set[i]))
				return snprintf(why, wl, "zfs receive without -o "
						"%s", cl->set[i]), -1;
		for (int i = 0; i < cl->nexclude; i++)
			if (!pair_in(a, n - 1, "-x", cl->exclude[i]))
				return snprintf(why, wl, "zfs receive without -x "
						"%s", cl->exclude[i]), -1;
		if (cl->push[0] && zfs_name_valid(a[n - 1], 'f') &&
		    zfs_name_within(a[n - 1], cl->push, true))
			return 0;
		return snprintf(why, wl, "%s is not client %s's to receive into",
				a[n - 1], cl->id), -1;
	}
shape:
	snprintf(why, wl, "not a command a session runs: zfs %s", a[1]);
	return -1;
}

#define ORIGIN_DEPTH 32

/* The origin of dataset ds into out ("-": none): 0, or -1. */
static int
origin_of(const char *ds, char *out, size_t cap)
{
	const char *argv[] = { zfs_path(), "list", "-H", "-o", "name,origin",
			       "-t", "filesystem,volume", ds, NULL };
	char buf[1024], *tab;

	if (zfs_capture(argv, buf, sizeof(buf)) != 0 ||
	    (tab = strchr(buf, '\t')) == NULL)
		return -1;
	tab[1 + strcspn(tab + 1, "\n")] = '\0';
	if (strlen(tab + 1) >= cap)
		return -1;
	memcpy(out, tab + 1, strlen(tab + 1) + 1);
	return 0;
}

/* Does ds (whose origin is origin) and every origin before it lie in
 * what cl may read?  0, or -1 with why, which names only ds (the client's
 * own): naming an origin would tell the client what a GUID it pushed a
 * clone stream of is called. */
static int
chain_ok(const struct conf_client *cl, const char *ds, const char *origin,
	 char *why, size_t wl)
{
	char cur[256], next[256];

	snprintf(cur, sizeof(cur), "%s", origin);
	for (int depth = 0; strcmp(cur, "-") != 0; depth++) {
		if (depth == ORIGIN_DEPTH)
			return snprintf(why, wl, "%.200s is a clone more than %d "
					"origins deep: refused", ds,
					ORIGIN_DEPTH), -1;
		if (!zfs_name_valid(cur, 's') || !readable(cl, cur))
			return snprintf(why, wl, "%.200s is a clone whose origin "
					"lies outside what client %s may read",
					ds, cl->id), -1;
		cur[strcspn(cur, "@")] = '\0';
		if (origin_of(cur, next, sizeof(next)) < 0)
			return snprintf(why, wl, "cannot read the origins of "
					"%.200s", ds), -1;
		memcpy(cur, next, sizeof(cur));
	}
	return 0;
}

/*
 * A send streams the blocks a clone shares with its origin, and those its
 * origin shares with its own, and a client that can push can make a clone
 * of any snapshot in the pool whose GUID it knows (zfs receive finds a
 * clone stream's origin by GUID, pool-wide).  So what a client is sent
 * must not be, or hold (with -R), a clone of a snapshot outside what it
 * may read, however many clones away.  0, or -1 with why.
 */
static int
origins_ok(const struct conf_client *cl, const char *const *a, int n,
	   char *why, size_t wl)
{
	static char out[1 << 20];
	char ds[256];
	const char *snap = NULL, *argv[12];
	int recursive = 0, k = 0;
	struct zfs_token t;

	for (int i = 2; i < n; i++) {
		if (strcmp(a[i], "-nv") == 0)
			return 0; /* describes a token, sends nothing */
		recursive |= strcmp(a[i], "-R") == 0;
		if (strcmp(a[i], "-t") == 0 && i + 1 < n &&
		    zfs_token_describe(a[i + 1], &t) == 0)
			snap = t.toname;
	}
	if (snap == NULL)
		snap = a[n - 1];
	snprintf(ds, sizeof(ds), "%.*s", (int)strcspn(snap, "@"), snap);
	argv[k++] = zfs_path();
	argv[k++] = "list";
	argv[k++] = "-H";
	argv[k++] = "-o";
	argv[k++] = "name,origin";
	argv[k++] = "-t";
	argv[k++] = "filesystem,volume";
	if (recursive)
		argv[k++] = "-r";
	argv[k++] = ds;
	argv[k] = NULL;
	if (zfs_capture(argv, out, sizeof(out)) != 0)
		return snprintf(why, wl, "cannot read the origin of %s", ds), -1;
	for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');

		if (tab == NULL)
			continue;
		*tab = '\0';
		if (chain_ok(cl, line, tab + 1, why, wl) < 0)
			return -1;
	}
	return 0;
}

static int vetting; /* the checks' own zfs commands run unchecked */

/* Every check a zfs command of client cl's session passes, in either
 * mode: 0, or -1 with why. */
static int
vet(const struct conf_client *cl, const char *const *a, int n, char *why,
    size_t wl)
{
	int r;

	vetting++;
	r = privsep_allowed(cl, a, n, why, wl);
	if (r == 0 && strcmp(a[1], "send") == 0)
		r = origins_ok(cl, a, n, why, wl);
	vetting--;
	return r;
}

/* Log a refusal: what was refused and why may hold what the peer sent. */
static void
log_refusal(const char *who, const char *verb, const char *client,
	    const char *why)
{
	char sv[64], sw[600];

	text_safe(verb, sv, sizeof(sv));
	text_safe(why, sw, sizeof(sw));
	log_error("%srefused to run zfs %s for %s: %s", who, sv,
		  client ? client : "nobody", sw);
}

int
privsep_check(const char *const *argv)
{
	char why[600];
	int n = 0;

	if (local_conf == NULL || vetting)
		return 0;
	while (argv[n] && n < MAX_ARGV)
		n++;
	if (argv[n] != NULL || n < 2)
		return zk_fail(ZK_EDENIED, "a malformed zfs command");
	if (vet(local_cl, argv, n, why, sizeof(why)) == 0)
		return 0;
	log_refusal("", argv[1], local_cl ? local_cl->id : NULL, why);
	return zk_fail(ZK_EDENIED, "%s", why);
}

/* ------------------------------------------------------------ monitor */

struct monitor {
	int fd;
	const struct serve_conf *conf;
	const struct conf_client *cl;
	struct endpoint ep;
	const char *argv[MAX_ARGV + 1];
	char store[MSG_MAX];
	int running;
	pid_t net;
};

static void
reply(struct monitor *m, int32_t status, const char *text, size_t len)
{
	static char buf[MSG_MAX];
	size_t room = sizeof(buf) - sizeof(status) - 1;

	do {
		size_t k = len < room ? len : room;

		memcpy(buf, &status, sizeof(status));
		buf[sizeof(status)] = len > k;  /* more follows */
		memcpy(buf + sizeof(status) + 1, text, k);
		if (send_msg(m->fd, buf, sizeof(status) + 1 + k, -1) < 0)
			return;
		text += k;
		len -= k;
	} while (len > 0);
}

static void
reply_text(struct monitor *m, int32_t status, const char *text)
{
	reply(m, status, text, strlen(text));
}

/* Split a request's strings into m->argv (argv[0] = our zfs). */
static int
split(struct monitor *m, const char *buf, size_t len)
{
	size_t o = 0;
	int n = 0;

	if (len > sizeof(m->store))
		return -1;
	memcpy(m->store, buf, len);
	while (o < len && n < MAX_ARGV) {
		size_t l = strnlen(m->store + o, len - o);
		if (o + l == len)
			return -1; /* not NUL-terminated */
		m->argv[n++] = m->store + o;
		o += l + 1;
	}
	if (o != len || n < 2)
		return -1;
	m->argv[0] = zfs_path();
	m->argv[n] = NULL;
	return n;
}

static void
handle(struct monitor *m, const char *buf, ssize_t len, int fd)
{
	static char out[1 << 21];
	char why[600];
	int n, r, st;

	switch (buf[0]) {
	case OP_CLIENT:
		if (m->cl != NULL || len < 2 || buf[len - 1] != '\0') {
			reply_text(m, -ZK_EDENIED, "the client is set once");
			break;
		}
		m->cl = conf_client_by_id(m->conf, buf + 1);
		reply_text(m, m->cl ? 0 : -ZK_EDENIED, m->cl ? "" : "no such client");
		break;
	case OP_CAPTURE:
	case OP_SPAWN:
		if ((n = split(m, buf + 1, (size_t)len - 1)) < 0 ||
		    vet(m->cl, m->argv, n, why, sizeof(why)) < 0) {
			if (n < 0)
				snprintf(why, sizeof(why), "a malformed request");
			log_refusal("monitor: ", n > 1 ? m->argv[1] : "?",
				    m->cl ? m->cl->id : NULL, why);
			reply_text(m, -ZK_EDENIED, why);
			break;
		}
		if (buf[0] == OP_CAPTURE) {
			r = zfs_capture(m->argv, out, sizeof(out));
			zk_clear();
			reply(m, r, out, strlen(out));
			break;
		}
		if (fd < 0 || m->running) {
			reply_text(m, -ZK_ESYS, m->running ? "zfs runs already"
							   : "no fd");
			break;
		}
		zfs_endpoint(&m->ep, m->argv);
		r = m->ep.start(&m->ep, fd);
		m->running = r == 0;
		reply_text(m, r, r == 0 ? "" : zk_errmsg());
		zk_clear();
		break;
	case OP_EXITED: {
		siginfo_t si;
		char s[32];

		if (!m->running) {
			reply_text(m, -ZK_ESYS, "nothing runs");
			break;
		}
		if (!endpoint_exited(&m->ep, &si)) {
			reply_text(m, 0, "");
			break;
		}
		st = m->ep.finished ? m->ep.status
		     : si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
						: si.si_status & 0x7f;
		snprintf(s, sizeof(s), "%d", st);
		reply_text(m, 1, s);
		break;
	}
	case OP_WAIT:
		if (!m->running) {
			reply_text(m, -ZK_ESYS, "nothing runs");
			break;
		}
		(void)m->ep.finish(&m->ep);
		zk_clear();
		snprintf(out, sizeof(out), "%d %s", m->ep.status,
			 m->ep.errtext);
		m->running = 0;
		reply_text(m, 0, out);
		break;
	case OP_KILL:
		if (m->running)
			m->ep.kill(&m->ep);
		reply_text(m, 0, "");
		break;
	default:
		reply_text(m, -ZK_EDENIED, "unknown request");
	}
	if (fd >= 0)
		close(fd);
}

/* The monitor: serve the network process until it is gone, then report
 * its exit status as ours. */
static int
monitor(int fd, const struct serve_conf *conf, pid_t net)
{
	static char buf[MSG_MAX];
	struct monitor m;
	int st = 0;

	memset(&m, 0, sizeof(m));
	m.fd = fd;
	m.conf = conf;
	m.net = net;
	for (;;) {
		int passed;
		ssize_t n = recv_msg(fd, buf, sizeof(buf), &passed);

		if (n <= 0) {
			if (passed >= 0)
				close(passed);
			break;
		}
		handle(&m, buf, n, passed);
	}
	if (m.running) {
		m.ep.kill(&m.ep);
		(void)m.ep.finish(&m.ep);
	}
	while (waitpid(net, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_SYS;
}

static pid_t stop_net = -1;

static void
on_term(int sig)
{
	(void)sig;
	if (stop_net > 0)
		kill(stop_net, SIGTERM);
}

int
privsep_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		return zk_fail(ZK_EUSAGE, "no user %s for the network-facing "
			       "processes (create it, or set user in the "
			       "configuration)", user);
	if (pw->pw_uid == 0)
		return zk_fail(ZK_EUSAGE, "user %s is root: the network-facing "
			       "processes must not be", user);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* The network process gives up root for good. */
static int
drop(const char *user)
{
	uid_t uid;
	gid_t gid;
	int r;

	if ((r = privsep_user(user, &uid, &gid)) < 0)
		return r;
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 ||
	    setuid(uid) < 0)
		return zk_fail_errno(ZK_ESYS, "cannot become %s", user);
	if (setuid(0) == 0)
		return zk_fail(ZK_ESYS, "could become root again");
	if (chdir("/") < 0)
		return zk_fail_errno(ZK_ESYS, "chdir /");
	return os_confine();
}

int
privsep_fork(const struct serve_conf *conf, int close_fd, int *monitor_side)
{
	sigset_t term, old;
	int sp[2], r;
	pid_t pid;

	*monitor_side = 0;
	if (!conf->privsep) {
		local_conf = conf; /* checks here, then zfs runs here */
		return 0;
	}
	if (getuid() != 0)
		return zk_fail(ZK_EUSAGE, "privilege separation needs root "
			       "(or 'privsep no' in the configuration)");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return zk_fail_errno(ZK_ESYS, "socketpair");
	/* A SIGTERM (the master stopping this connection) waits until the
	 * monitor can pass it on: killed between the fork and on_term, it
	 * would leave the network process running on alone. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	if ((pid = fork()) < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return zk_fail_errno(ZK_ESYS, "fork");
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(sp[0]);
		monitor_fd = sp[1];
		return drop(conf->user);
	}
	close(sp[1]);
	if (close_fd >= 0)
		close(close_fd);
	stop_net = pid;
	signal(SIGTERM, on_term);
	sigprocmask(SIG_SETMASK, &old, NULL);
	*monitor_side = 1;
	r = monitor(sp[0], conf, pid);
	close(sp[0]);
	return r;
}
