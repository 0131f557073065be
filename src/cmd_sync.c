/*
 * cmd_sync.c - "zktls sync": bring a dataset (with -r, its tree) up to
 * date on the other side, a zktls serve.
 *
 *   push: zktls sync [OPTIONS] POOL/FS HOST[:PORT][:DATASET]
 *   pull: zktls sync [OPTIONS] HOST[:PORT]:DATASET POOL/FS
 *
 * Per dataset: LIST what the other side holds (for a push without
 * DATASET, where the server lands it), continue a partial receive from
 * its resume token, then find the newest snapshot both sides have, by
 * GUID, and send every newer one: one -I stream (or -i per snapshot with
 * --each), after a full send of the oldest when the target has nothing.
 * A target with snapshots newer than the common one has diverged: refused,
 * unless a pull is told --rollback (the local target is rolled back).
 * Each transfer is an ordinary session (send or recv --connect); the
 * checks of those (GUID, resume token, close_notify) all apply.
 *
 * Datasets run in child processes, a parent's before its children's, up
 * to --jobs at once; the exit status is the worst of theirs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "prune.h"
#include "sync_plan.h"
#include "sync_metrics.h"
#include "tree.h"
#include "zktls.h"

/* datasets of one sync -r, the named one among them (a tree listing
 * holds as many) */
#define MAX_DATASETS TREE_MAX_DATASETS
/* The server's port when HOST comes without one (the port the README's
 * and the man page's examples serve on). */
#define SYNC_PORT 4433

enum { PROTECT_BOOKMARK, PROTECT_HOLD, PROTECT_NONE };
/* A busy server (its session slots taken, by our other jobs too) is
 * asked again, after 1, 2, 4 ... 30 s, for up to BUSY_WAIT s. */
#define BUSY_WAIT 3600
/* --exclude patterns, at most */
#define MAX_EXCLUDE 64

/* After a busy answer about what: wait and say 1 (ask again), or 0 when
 * BUSY_WAIT has passed since t0.  *wait doubles up to 30 s. */
static int
busy_again(double *wait, double t0, const char *what)
{
	if (now_s() - t0 > BUSY_WAIT)
		return 0;
	log_verbose("sync %s: the server is busy, asking again in %.0f s",
		    what, *wait);
	zk_clear();
	sleep((unsigned)*wait);
	*wait = *wait < 15 ? 2 * *wait : 30;
	return 1;
}

static const char sync_usage[] =
	"usage: zktls sync [OPTIONS] POOL/FS HOST[:PORT][:DATASET]  (push)\n"
	"       zktls sync [OPTIONS] HOST[:PORT]:DATASET POOL/FS    (pull)\n"
	"  (PORT 4433 if left out; options before or after the operands)\n"
	"  -r                 the dataset and every dataset below it\n"
	"  -w -c -L -e -p     zfs send flags (raw, compressed, large blocks,\n"
	"                     embedded, properties)\n"
	"  --each             one -i stream per snapshot instead of one -I\n"
	"  --jobs N           datasets in parallel sessions (default 1)\n"
	"  --rate BYTES       pace what we send (K, M, G; pushes)\n"
	"  --rollback         pull: roll the local target back to the common\n"
	"                     snapshot when it has diverged\n"
	"  --protect HOW      push: keep the base of the next run on the source\n"
	"                     with a bookmark (default), a hold, or none\n"
	"  --keep GRID        pull: then prune the local target, e.g.\n"
	"                     \"hourly=24 daily=30 monthly=12 newest=2\"\n"
	"                     (a push's retention is the server's: keep in\n"
	"                     its zktls.conf)\n"
	"  -n, --dry-run      print the plan; send nothing, change nothing\n"
	"                     (with --keep: what would be destroyed now)\n"
	"  --exclude PATTERN  leave out the datasets whose source name matches "
	"the\n"
	"                     glob (* also matches /), and those below them;\n"
	"                     repeatable.  Also left out: those whose\n"
	"                     zktls:sync property is off, false or no (on a\n"
	"                     pull the server's, below the dataset named)\n"
	"  --metrics FILE     after the run, a Prometheus textfile: per dataset\n"
	"                     the last success, the run's result, bytes\n"
	"  --defaults FILE    options, one per line (default "
	"~/.config/zktls/sync.conf,\n"
	"                     then /etc/zktls/sync.conf)\n"
	"  TLS options, --mode, --timeout, --progress, -v, -q, --json as for "
	"send\n";

struct sync {
	struct conf cf;           /* TLS, plane, timeout, log, zfs flags */
	struct tls_ctx *ctx;
	int push;                 /* 1: local -> server; 0: server -> local */
	char addr[300];           /* HOST:PORT */
	char local[256];          /* our dataset */
	char remote[256];         /* the server's ("" push: its mapping) */
	int recursive, jobs, dry_run, rollback, each;
	int protect;              /* PROTECT_* on our side of a push */
	char tag[128];            /* names our marks: zktls_HOST_PORT */
	uint64_t rate;
	uint32_t zflags;          /* PROTO_ZF_{RAW,COMPRESSED,LARGE,EMBED,PROPS} */
	char *exclude[MAX_EXCLUDE]; /* --exclude globs */
	int nexclude;
	const char *metrics;      /* --metrics FILE, or NULL */
	struct retain_grid keep;  /* --keep: prune a pull's target */
};

/* One dataset's job and how it ended. */
struct job {
	char local[256], remote[256];
	int parent;               /* index of its parent's job, or -1 */
	pid_t pid;
	int fd;                   /* its report, read when it has exited */
	int state;                /* 0 waiting, 1 running, 2 done */
	int code;                 /* exit status */
	char kind[16];            /* updated, current, empty, failed, planned */
	unsigned snaps;
	unsigned long long bytes;
};

struct outcome {
	const char *kind;
	unsigned snaps;
	uint64_t bytes;
};

/*
 * -r: both sides' trees, each listed once before the jobs start (one zfs
 * list here, one LIST of PROTO_LIST_ALL there), so that a dataset's job
 * plans its first round without a query of its own, and one with nothing
 * to send opens no connection.  Where a side could not be listed so (a
 * server before PROTO_LIST_ALL, a tree too big for one answer) that side
 * is listed dataset by dataset as before.
 */
static struct {
	struct tree here, there;   /* ours, the server's */
	bool here_ok, there_ok;
	char there_root[PROTO_NAME_LEN]; /* the server's name of our root
					    ("" where it has none yet) */
	char there_token[PROTO_TOKEN_LEN]; /* its root's resume token */
	struct zfs_bg here_bg, props_bg; /* our listings, run while the
					    server lists its tree */
} pre;


/* ------------------------------------------------------------ arguments */

/*
 * HOST:PORT, [V6]:PORT, or either with :DATASET: 1 with addr and ds (""
 * without), 0 when arg is a local dataset name.  A local name never has
 * a ':' before its first '/' followed by a port number.  With loose, the
 * port may be left out (HOST, HOST:DATASET: port SYNC_PORT), for the
 * operand that can only be the server (the caller decides which).
 */
static int
parse_remote(const char *arg, char *addr, size_t al, char *ds, size_t dl,
	     int loose)
{
	const char *p = arg, *colon;
	size_t digits;

	if (*p == '[') {
		const char *close = strchr(p, ']');
		if (close == NULL || (close[1] != ':' && close[1] != '\0') ||
		    (close[1] == '\0' && !loose))
			return 0;
		colon = close + 1;
	} else {
		colon = strchr(p, ':');
		if (colon == NULL && loose)
			colon = p + strlen(p);
		if (colon == NULL || colon == p ||
		    strcspn(p, "/@# ") < (size_t)(colon - p))
			return 0;
	}
	digits = *colon ? strspn(colon + 1, "0123456789") : 0;
	if (digits == 0 && loose && (*colon == '\0' || colon[1] != '\0')) {
		/* HOST or HOST:DATASET: the default port */
		snprintf(addr, al, "%.*s:%d", (int)(colon - arg), arg,
			 SYNC_PORT);
		snprintf(ds, dl, "%s", *colon ? colon + 1 : "");
		return 1;
	}
	if (digits == 0 || digits > 5 ||
	    (colon[1 + digits] != '\0' && colon[1 + digits] != ':'))
		return 0;
	snprintf(addr, al, "%.*s", (int)(colon + 1 + digits - arg), arg);
	snprintf(ds, dl, "%s",
		 colon[1 + digits] == ':' ? colon + 2 + digits : "");
	return 1;
}

/*
 * The options among argv[1..argc-1] into o, wherever they stand (as zfs
 * users type them: "zktls sync pool/fs beta -r"); the operands, at most
 * two, into ops.  Everything after "--" is an operand.  RETURN_IN_ORDER
 * ('-'), not GNU permutation: it holds with POSIXLY_CORRECT set too, and
 * leaves argv in order; the ':' after it tells a missing value apart.
 * 0, 1 after --help, or < 0 with the error in zk_errmsg() (the caller
 * says where it came from).
 */
static int
sync_options(int argc, char **argv, struct sync *o, char **ops, int *nops)
{
	enum { O_JOBS = 256, O_RATE, O_ROLLBACK, O_EACH, O_DEFAULTS,
	       O_PROTECT, O_EXCLUDE, O_METRICS, O_KEEP };
	static const struct option opts[] = {
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "rate", required_argument, NULL, O_RATE },
		{ "rollback", no_argument, NULL, O_ROLLBACK },
		{ "each", no_argument, NULL, O_EACH },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "defaults", required_argument, NULL, O_DEFAULTS },
		{ "protect", required_argument, NULL, O_PROTECT },
		{ "exclude", required_argument, NULL, O_EXCLUDE },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "keep", required_argument, NULL, O_KEEP },
		COMMON_LONG_OPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	char *end;

	optind = 0; /* a fresh scan (glibc and musl) */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "-:rwcLepnvqh", opts, NULL)) != -1) {
		int common = common_option(ch, optarg, &o->cf);

		if (common < 0)
			return common;
		if (common > 0)
			continue;
		switch (ch) {
		case 1:
			if (*nops == 2)
				return zk_fail(ZK_EUSAGE, "unexpected argument "
					       "'%s'", optarg);
			ops[(*nops)++] = optarg;
			break;
		case O_ROLLBACK: o->rollback = 1; break;
		case O_EACH: o->each = 1; break;
		case O_DEFAULTS: break; /* read before */
		case O_METRICS: o->metrics = optarg; break;
		case O_KEEP: {
			char why[200];

			if (retain_grid_parse(optarg, &o->keep, why,
					      sizeof(why)) < 0)
				return zk_fail(ZK_EUSAGE, "--%s", why);
			break;
		}
		case O_PROTECT:
			if (strcmp(optarg, "bookmark") == 0)
				o->protect = PROTECT_BOOKMARK;
			else if (strcmp(optarg, "hold") == 0)
				o->protect = PROTECT_HOLD;
			else if (strcmp(optarg, "none") == 0)
				o->protect = PROTECT_NONE;
			else
				return zk_fail(ZK_EUSAGE, "bad --protect '%s' "
					       "(bookmark, hold or none)",
					       optarg);
			break;
		case O_EXCLUDE:
			if (optarg[0] == '\0' || strlen(optarg) >= 256 ||
			    o->nexclude == MAX_EXCLUDE)
				return zk_fail(ZK_EUSAGE, "bad --exclude '%s' (a "
					       "glob of dataset names; at most "
					       "%d)", optarg, MAX_EXCLUDE);
			o->exclude[o->nexclude++] = optarg;
			break;
		case 'r': o->recursive = 1; break;
		case 'n': o->dry_run = 1; break;
		case 'h':
			fputs(sync_usage, stdout);
			return 1;
		case 'w': o->zflags |= PROTO_ZF_RAW; break;
		case 'c': o->zflags |= PROTO_ZF_COMPRESSED; break;
		case 'L': o->zflags |= PROTO_ZF_LARGE; break;
		case 'e': o->zflags |= PROTO_ZF_EMBED; break;
		case 'p': o->zflags |= PROTO_ZF_PROPS; break;
		case O_JOBS:
			o->jobs = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || o->jobs < 1 || o->jobs > 64)
				return zk_fail(ZK_EUSAGE, "bad --jobs '%s' (1 to "
					       "64)", optarg);
			break;
		case O_RATE: {
			unsigned long long v = strtoull(optarg, &end, 10);
			uint64_t mul = *end == 'K' ? 1u << 10 : *end == 'M'
				       ? 1u << 20 : *end == 'G' ? 1u << 30 : 1;
			if (mul > 1)
				end++;
			if (*end || end == optarg || optarg[0] == '-' ||
			    v == 0 || v > (1ull << 40) / mul)
				return zk_fail(ZK_EUSAGE, "bad --rate '%s' (bytes "
					       "per second, with K, M or G)",
					       optarg);
			o->rate = v * mul;
			break;
		}
		case ':':
			return zk_fail(ZK_EUSAGE, "%s needs a value",
				       argv[optind - 1]);
		default:
			if (optopt > 0 && optopt < 256)
				return zk_fail(ZK_EUSAGE, "unknown option -%c "
					       "for zktls sync", optopt);
			return zk_fail(ZK_EUSAGE, "unknown option '%s' for "
				       "zktls sync", argv[optind - 1]);
		}
	}
	for (; optind < argc; optind++) {
		if (*nops == 2)
			return zk_fail(ZK_EUSAGE, "unexpected argument '%s'",
				       argv[optind]);
		ops[(*nops)++] = argv[optind];
	}
	return 0;
}

/* The defaults file: "OPTION [VALUE]" lines (long options without the
 * dashes), '#' comments.  It names keys: it must belong to us or root and
 * be writable by nobody else.  Each line is applied to o as it is read
 * (the command line, applied after, wins); an error names the file and
 * the line. */
static int
read_defaults(const char *path, char *argv0, struct sync *o)
{
	static char text[16384]; /* o keeps pointers to its values */
	struct stat st;
	FILE *f;
	size_t len;
	char *line, *next;
	int lineno = 0;

	if ((f = fopen(path, "re")) == NULL)
		return zk_fail_errno(ZK_EUSAGE, "cannot read %s", path);
	if (fstat(fileno(f), &st) < 0 ||
	    (st.st_uid != getuid() && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		fclose(f);
		return zk_fail(ZK_EUSAGE, "%s must belong to you or root and "
			       "be writable by nobody else", path);
	}
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	if (len == sizeof(text) - 1)
		return zk_fail(ZK_EUSAGE, "%s is too long", path);
	text[len] = '\0';
	for (line = text; line; line = next) {
		char *name, *val, *s2 = NULL, opt[80], why[600];
		char *mini[4] = { argv0, opt, NULL, NULL }, *ops[2];
		int nops = 0, r;

		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "#")] = '\0';
		if ((name = strtok_r(line, " \t", &s2)) == NULL)
			continue;
		val = strtok_r(NULL, " \t", &s2);
		if (strtok_r(NULL, " \t", &s2) != NULL || name[0] == '-' ||
		    strlen(name) > sizeof(opt) - 3)
			return zk_fail(ZK_EUSAGE, "%s: line %d: want OPTION "
				       "[VALUE], the option without its dashes "
				       "(near '%s')", path, lineno, name);
		snprintf(opt, sizeof(opt), "--%s", name);
		mini[2] = val;
		r = sync_options(val ? 3 : 2, mini, o, ops, &nops);
		if (r == 0 && nops > 0)
			r = zk_fail(ZK_EUSAGE, "--%s takes no value", name);
		if (r < 0) {
			snprintf(why, sizeof(why), "%s", zk_errmsg());
			zk_clear();
			return zk_fail(ZK_EUSAGE, "%s: line %d: %s", path, lineno,
				       why);
		}
	}
	return 0;
}

static int
parse(int argc, char **argv, struct sync *o)
{
	char addr[2][300], ds[2][256], *ops[2];
	int remote[2], nops = 0, r;

	if ((r = sync_options(argc, argv, o, ops, &nops)) != 0)
		return r < 0 ? usage_error("%s", zk_errmsg()) : -1;
	if (nops != 2)
		return usage_error("%s", "zktls sync needs a SOURCE and a "
				   "DESTINATION (one of them HOST[:PORT])");
	for (int i = 0; i < 2; i++)
		remote[i] = parse_remote(ops[i], addr[i], sizeof(addr[i]),
					 ds[i], sizeof(ds[i]), 0);
	if (!remote[0] && !remote[1]) {
		/* No port given: the server is the operand that can only be
		 * one (a pull's SOURCE names a DATASET after it). */
		remote[0] = parse_remote(ops[0], addr[0], sizeof(addr[0]),
					 ds[0], sizeof(ds[0]), 1) &&
			    ds[0][0] != '\0';
		remote[1] = parse_remote(ops[1], addr[1], sizeof(addr[1]),
					 ds[1], sizeof(ds[1]), 1);
		if (remote[0] && remote[1])
			return usage_error("either of '%s' and '%s' could be "
					   "the server: give its port "
					   "(HOST:PORT)", ops[0], ops[1]);
	}
	if (remote[0] == remote[1])
		return usage_error("%s", remote[0]
				   ? "both SOURCE and DESTINATION are remote"
				   : "one of SOURCE and DESTINATION must be "
				     "HOST[:PORT][:DATASET]");
	o->push = remote[1];
	snprintf(o->addr, sizeof(o->addr), "%s", addr[o->push]);
	snprintf(o->remote, sizeof(o->remote), "%s", ds[o->push]);
	snprintf(o->local, sizeof(o->local), "%s", ops[!o->push]);
	if (!zfs_name_valid(o->local, 'f'))
		return usage_error("invalid dataset name '%s'", o->local);
	if (o->remote[0] && !zfs_name_valid(o->remote, 'f'))
		return usage_error("invalid dataset name '%s'", o->remote);
	if (!o->push && o->remote[0] == '\0')
		return usage_error("%s", "a pull names the server's dataset: "
				   "HOST[:PORT]:DATASET");
	if (o->rollback && o->push)
		return usage_error("%s", "--rollback is for pulls (a server "
				   "is rolled back by its operator)");
	if (o->keep.set && o->push)
		return usage_error("%s", "--keep prunes a pull's local target; "
				   "what a push leaves on the server is the "
				   "server's to keep (keep in its zktls.conf)");
	if (o->rate && !o->push)
		return usage_error("%s", "--rate paces pushes (the server's "
				   "policy paces pulls)");
	if (o->cf.verbose && o->cf.quiet)
		return usage_error("%s", "-v and -q exclude each other");
	/* our holds name the server: zktls_HOST_PORT, in the characters a
	 * hold may have (our bookmarks too: zfs_mark_name) */
	zfs_mark_tag(o->addr, o->tag, sizeof(o->tag));
	return 0;
}

/* ------------------------------------------------------------ sessions */

/* LIST on its own connection.  A dataset the server does not have is not
 * an error: out->status says PROTO_ST_NOTFOUND. */
static int
query(const struct sync *o, uint8_t how, const char *ds,
      struct proto_listing *out)
{
	struct conf cf = o->cf;
	struct policy pol = { NULL };
	struct session *s = NULL;
	struct conn c = { .fd = -1 };
	const char *note = "";
	int r;

	cf.cmd = "sync";
	cf.role = ROLE_RECEIVER;
	cf.zfs = 0;
	cf.progress = 0;
	for (double wait = 1, t0 = now_s();;) {
		c = (struct conn){ .fd = -1 };
		s = NULL;
		out->status = PROTO_ST_OK;
		if ((r = session_new(&cf, &pol, &s, &note)) == 0 &&
		    (session_cipher(s, o->ctx, false, true),
		     r = conn_connect(o->addr, o->ctx, cf.timeout_s, &c)) == 0 &&
		    (r = session_attach(s, &c)) == 0) {
			r = session_list(s, how, ds, out);
			if (r < 0 && out->status == PROTO_ST_NOTFOUND) {
				zk_clear();
				r = 0;
			}
			if (r == 0)
				r = session_end(s);
		}
		conn_close(&c);
		session_free(s);
		if (r == 0 || out->status != PROTO_ST_BUSY ||
		    !busy_again(&wait, t0, ds))
			return r;
	}
}

/*
 * One transfer: push snap (from base, "" for a full stream; incr_all for
 * -I) into target ("" the server's mapping), or pull snap (the server's)
 * into our dataset local.  Adds the bytes moved to *bytes.
 */
static int
transfer(const struct sync *o, const char *snap, const char *base,
	 int incr_all, const char *target, const char *local,
	 uint64_t *bytes)
{
	static struct conf cf;
	struct policy pol;
	struct session *s = NULL;
	struct conn c = { .fd = -1 };
	const char *note = "";
	int r, fell_back = 0;

	cf = o->cf;
	cf.cmd = "sync";
	cf.zfs = 1;
	if (o->push) {
		cf.role = ROLE_SENDER;
		cf.dataset = snap;
		cf.target = target[0] ? target : NULL;
		cf.zflags = o->zflags;
		memset(&cf.send, 0, sizeof(cf.send));
		cf.send.flags = o->zflags & ~(PROTO_ZF_INCR | PROTO_ZF_INCR_ALL);
		if (base[0]) {
			snprintf(cf.send.base, sizeof(cf.send.base), "%s", base);
			cf.send.incr_all = incr_all;
			cf.zflags |= incr_all ? PROTO_ZF_INCR_ALL : PROTO_ZF_INCR;
		}
	} else {
		cf.role = ROLE_RECEIVER;
		cf.dataset = local;
		cf.source = snap;
		cf.source_zflags = o->zflags | (incr_all ? PROTO_ZF_INCR_ALL : 0);
		memset(&cf.recv, 0, sizeof(cf.recv));
		cf.recv.resumable = true;
		(void)zfs_recv_safe(&cf.recv, cf.recv_mount,
				    cf.recv_mount_props); /* room: it is empty */
	}
	cf.busy_quiet = 1;
	cf.progress_label = local;
	policy_oneshot(&pol, &cf);
	for (double wait = 1, t0 = now_s();;) {
		int busy = 0, again = 0;

		c = (struct conn){ .fd = -1 };
		s = NULL;
		if ((r = session_new(&cf, &pol, &s, &note)) == 0 &&
		    (fell_back || (session_cipher(s, o->ctx, false, false), 1)) &&
		    (r = conn_connect(o->addr, o->ctx, cf.timeout_s, &c)) == 0) {
			if (o->rate && os_pace(c.fd, o->rate) < 0)
				log_warn("cannot pace the connection: %s",
					 zk_errmsg());
			zk_clear();
			r = session_run(s, &c, 0);
			if (r == 0)
				*bytes += session_result(s)->bytes;
			busy = r < 0 && session_busy(s);
			/* sent away for ChaCha20: at once, offering it */
			again = r < 0 && !fell_back && session_cipher_retry(s) &&
				tls_ctx_fall_back(o->ctx);
		}
		conn_close(&c);
		session_free(s);
		if (again) {
			fell_back = 1;
			zk_clear();
			continue;
		}
		if (!busy || !busy_again(&wait, t0, snap))
			return r;
	}
}

/* ------------------------------------------------------------ planning */

/* zfs send -nP of a push step: its estimated size, or 0. */
static uint64_t
estimate(const struct sync *o, const char *snap, const char *base,
	 int incr_all)
{
	static struct zfs_send_req q;
	char out[4096];
	uint64_t size;

	memset(&q, 0, sizeof(q));
	q.flags = o->zflags;
	q.incr_all = incr_all;
	if (snprintf(q.base, sizeof(q.base), "%s", base) >= (int)sizeof(q.base) ||
	    snprintf(q.snap, sizeof(q.snap), "%s", snap) >= (int)sizeof(q.snap))
		return 0;
	return zfs_estimate(&q, &size, out, sizeof(out)) == 0 ? size : 0;
}

/* ------------------------------------------------------------ base marks */

/*
 * After a push, keep the snapshot the other side now has (snap, "@name")
 * as the base of the next run: a bookmark local#zktls:LEN:HOST:PORT:name
 * (zfs_mark_name: a pruned
 * snapshot's bookmark still starts an incremental), or a hold TAG on it
 * (it cannot be destroyed); our marks on older snapshots are removed.
 * The marks name the server, so pushes to other servers keep theirs.
 * A failure here is a warning: the data arrived.
 */
static void
protect(const struct sync *o, const char *local,
	const struct proto_entry *loc, int nl, const char *snap)
{
	char full[600], msg[700];

	if (o->protect == PROTECT_NONE || o->dry_run)
		return;
	snprintf(full, sizeof(full), "%s%s", local, snap);
	if (o->protect == PROTECT_BOOKMARK) {
		if (zfs_move_mark(local, snap, o->addr, loc, nl, msg,
				  sizeof(msg)) < 0)
			log_warn("sync %s: %s (the next run needs %s, or a "
				 "bookmark of it)", local, msg, full);
		return;
	}
	{
		static char out[1 << 20];
		const char *names[PROTO_MAX_ENTRIES];
		int k = 0;

		/* which snapshots hold our tag (one zfs holds for all) */
		for (int i = 0; i < nl && k < PROTO_MAX_ENTRIES; i++)
			if (loc[i].kind == PROTO_KIND_SNAPSHOT) {
				char *n = malloc(strlen(local) +
						 strlen(loc[i].name) + 1);
				if (n == NULL)
					break;
				sprintf(n, "%s%s", local, loc[i].name);
				names[k++] = n;
			}
		out[0] = '\0';
		if (k > 0)
			(void)zfs_holds(names, k, out, sizeof(out));
		for (int i = 0; i < k; i++)
			free((void *)names[i]);
		{
			char needle[800];
			snprintf(needle, sizeof(needle), "%s@%s\t%s\t", local,
				 snap + 1, o->tag);
			if (strstr(out, needle) == NULL &&
			    zfs_hold(o->tag, full, true, msg, sizeof(msg)) != 0) {
				log_warn("sync %s: cannot hold %s: %s", local, full,
					 msg);
				return;
			}
		}
		for (char *save = NULL, *line = strtok_r(out, "\n", &save);
		     line; line = strtok_r(NULL, "\n", &save)) {
			char name[300], t[200];

			if (sscanf(line, "%299[^\t]\t%199[^\t]", name, t) != 2 ||
			    strcmp(t, o->tag) != 0 || strcmp(name, full) == 0)
				continue;
			if (zfs_hold(o->tag, name, false, msg, sizeof(msg)) != 0)
				log_warn("sync %s: cannot release %s: %s", local,
					 name, msg);
		}
	}
}

/* Append to the text in b (size sz), cut at its end. */
static void
addf(char *b, size_t sz, const char *fmt, ...)
{
	size_t l = strlen(b);
	va_list ap;

	if (l + 1 >= sz)
		return;
	va_start(ap, fmt);
	vsnprintf(b + l, sz - l, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ one dataset */

static void
report(const char *src, const char *dst,
       const char *kind, unsigned snaps, uint64_t bytes, const char *text)
{
	char b[48];

	if (log_json()) {
		char js[600], jd[600], jt[1200];
		json_escape(src, js, sizeof(js));
		json_escape(dst, jd, sizeof(jd));
		json_escape(text, jt, sizeof(jt));
		fprintf(stderr, "{\"event\":\"sync\",\"source\":\"%s\","
			"\"target\":\"%s\",\"result\":\"%s\",\"snapshots\":%u,"
			"\"bytes\":%" PRIu64 ",\"detail\":\"%s\"}\n", js, jd,
			kind, snaps, bytes, jt);
		return;
	}
	if (log_level() < LOG_NORMAL)
		return;
	human_bytes(bytes, b, sizeof(b));
	if (strcmp(kind, "updated") == 0)
		log_info("sync %s -> %s: %u snapshot%s, %s%s%s", src, dst, snaps,
			 snaps == 1 ? "" : "s", b, text[0] ? ", " : "", text);
	else
		log_info("sync %s -> %s: %s", src, dst, text);
}

/*
 * A pull's local target written to since its newest snapshot (base) has
 * diverged too: zfs receive would refuse the incremental.  Refused with
 * our own words, or with --rollback the changes are rolled back.
 */
static int
changed_since(const struct sync *o, const char *local,
	      const struct proto_entry *base)
{
	char at[600], msg[512];
	uint64_t w;

	if (base == NULL || zfs_written(local, &w) != 0 || w == 0)
		return 0;
	snprintf(at, sizeof(at), "%s%s", local, base->name);
	if (!o->rollback)
		return zk_fail(ZK_EUSAGE, "%s has changed since its snapshot %s "
			       "(%" PRIu64 " bytes written): refusing to receive "
			       "over it (--rollback discards the changes)", local,
			       at, w);
	log_info("sync %s: rolling back to %s (discards %" PRIu64 " bytes "
		 "written since)", local, at, w);
	if (zfs_rollback(at, false, msg, sizeof(msg)) != 0)
		return zk_fail(ZK_EZFS, "zfs rollback %s: %s", at, msg);
	return 0;
}

/*
 * --keep on a pull's target: local pruned by the grid (dry: what would
 * go, printed), its base of the next incremental kept: the newest of
 * its snapshots whose guid the server (src, ns entries) still has.
 */
static int
keep_local(const struct sync *o, const char *local,
	   const struct proto_entry *loc, int nl,
	   const struct proto_entry *src, int ns)
{
	struct prune_opts po = { .who = "sync --keep", .dry = o->dry_run,
				 .verbose = o->cf.verbose };
	int r;

	for (int i = nl - 1; i >= 0 && po.base_guid == 0; i--)
		if (loc[i].kind == PROTO_KIND_SNAPSHOT &&
		    sync_find_guid(src, ns, loc[i].guid, 0))
			po.base_guid = loc[i].guid;
	if ((r = prune_dataset(o->local, &o->keep, local, &po,
			       retain_now())) < 0)
		return zk_fail(ZK_EZFS, "%s: pruning by --keep failed", local);
	return 0;
}

/*
 * The first round's listings of a dataset of the tree, from pre: 1 with
 * loc (*nl entries) and rem as the queries would give them, or 0 (ask
 * zfs and the server).  A dataset with a partial receive on the
 * receiving side is left to the queries, which read its token (on a
 * push, also one the server marks off: the mark hides whether it holds
 * one).  Used
 * only to find that a dataset has nothing to do (sync_one): what it
 * sends is planned from listings made just before.
 */
static int
from_trees(const struct sync *o, const char *local, struct proto_entry *loc,
	   int *nl, struct proto_listing *rem)
{
	const char *rel = local + strlen(o->local);
	const struct tree_ds *h, *t;

	if (!pre.here_ok || !pre.there_ok)
		return 0;
	h = tree_find(&pre.here, rel);
	t = tree_find(&pre.there, rel);
	if ((o->push && (h == NULL || (t && (t->partial || t->off) && rel[0]))) ||
	    (!o->push && (t == NULL || (h && h->partial))))
		return 0;
	*nl = h ? h->n : 0;
	if (h)
		memcpy(loc, &pre.here.e[h->first], sizeof(loc[0]) * (size_t)h->n);
	memset(rem, 0, offsetof(struct proto_listing, e));
	rem->status = t ? PROTO_ST_OK : PROTO_ST_NOTFOUND;
	rem->n = t ? (uint32_t)t->n : 0;
	if (t)
		memcpy(rem->e, &pre.there.e[t->first],
		       sizeof(rem->e[0]) * (size_t)t->n);
	if (pre.there_root[0])
		snprintf(rem->dataset, sizeof(rem->dataset), "%s%s",
			 pre.there_root, rel);
	if (!rel[0])
		snprintf(rem->token, sizeof(rem->token), "%s", pre.there_token);
	return 1;
}

/*
 * Do the trees say that local's dataset has nothing to send (no partial
 * receive on the receiving side, the newest snapshot there)?  Then with
 * its listings in loc (*nl) and rem, as from_trees gives them.  Such a
 * dataset needs no connection, and its job no process of its own.
 */
static bool
tree_done(const struct sync *o, const char *local, struct proto_entry *loc,
	  int *nl, struct proto_listing *rem)
{
	const struct proto_entry *base = NULL, *div = NULL;
	struct sync_step st;

	if (!from_trees(o, local, loc, nl, rem) || (o->push && rem->token[0]))
		return false;
	return sync_next_step(o->each, "", o->push ? loc : rem->e,
			      o->push ? *nl : (int)rem->n,
			      o->push ? rem->e : loc,
			      o->push ? (int)rem->n : *nl, &st, &base,
			      &div) == STEP_DONE;
}

/*
 * Bring one dataset up to date: local (ours) and remote (the server's, or
 * "" for where it lands by its mapping on a push).
 */
static int
sync_one(const struct sync *o, const char *local, const char *remote,
	 struct outcome *out)
{
	static struct proto_entry loc[PROTO_MAX_ENTRIES];
	static struct proto_listing rem;
	static struct proto_entry sim[PROTO_MAX_ENTRIES];
	char token[PROTO_TOKEN_LEN], last_token[PROTO_TOKEN_LEN] = "";
	char src[256], dst[256], plan_text[1024] = "";
	char last_sent[2 * PROTO_NAME_LEN] = "";
	uint64_t bytes = 0, est = 0;
	unsigned snaps = 0;
	int r, use_trees = 1;

	out->kind = "failed";
	for (int round = 0;; round++) {
		const struct proto_entry *s_e, *d_e, *base = NULL, *div = NULL;
		struct sync_step st;
		int nl, ns, nd, k, listed;

		if (round == 256)
			return zk_fail(ZK_EPROTO, "%s: no end to the plan after "
				       "%d transfers", local, round);
		/* the trees only tell a dataset with nothing to do: any other
		 * is listed again, just before what it does */
		listed = use_trees && tree_done(o, local, loc, &nl, &rem);
		use_trees = 0;
		if (!listed) {
			zk_clear();
			nl = zfs_listing(local, loc, PROTO_MAX_ENTRIES);
			/* (a pull's target may not exist yet; one that
			 * exists but does not fit a listing is an error) */
			if (nl < 0 && (o->push || zk_errcode()))
				return zk_errcode() ? -zk_errcode()
				       : zk_fail(ZK_EZFS, "cannot list the "
						 "snapshots of %s", local);
			nl = nl < 0 ? 0 : nl;
			if ((r = query(o, o->push && !remote[0]
						  ? PROTO_LIST_PUSH
						  : PROTO_LIST_DATASET,
				       o->push && !remote[0] ? local : remote,
				       &rem)) < 0)
				return r;
		}
		if (!o->push && rem.status == PROTO_ST_NOTFOUND)
			return zk_fail(ZK_EPEER, "the server has no %s", remote);
		if (rem.status == PROTO_ST_NOTFOUND)
			rem.n = 0;
		snprintf(o->push ? dst : src, 256, "%s",
			 rem.dataset[0] ? rem.dataset : remote);
		snprintf(o->push ? src : dst, 256, "%s", local);
		if (o->push) {
			snprintf(token, sizeof(token), "%s", rem.token);
		} else {
			/* (from the trees: ours has no partial receive) */
			token[0] = '\0';
			if (!listed)
				zfs_resume_token(local, token, sizeof(token));
		}
		s_e = o->push ? loc : rem.e;
		ns = o->push ? nl : (int)rem.n;
		d_e = o->push ? rem.e : loc;
		nd = o->push ? (int)rem.n : nl;

		/* a partial receive first: its token says what it continues */
		if (token[0]) {
			struct zfs_token t;
			const struct proto_entry *from = NULL;
			char snap[256], basename[600] = "";

			if (strcmp(token, last_token) == 0)
				return zk_fail(ZK_EPEER, "%s: resuming made no "
					       "progress (the same resume token "
					       "again)", dst);
			snprintf(last_token, sizeof(last_token), "%s", token);
			if (zfs_token_describe(token, &t) < 0)
				return zk_fail(ZK_EZFS, "cannot read the resume "
					       "token of %s", dst);
			k = sync_resume_check(src, s_e, ns, &t, snap,
					      sizeof(snap), basename,
					      sizeof(basename), &from);
			if (k == RESUME_NOT_OURS)
				return zk_fail(ZK_EPROTO, "%s: its resume token "
					       "continues %s, not a snapshot of "
					       "%s", dst, snap, src);
			if (k == RESUME_BASE_GONE)
				return zk_fail(ZK_EPROTO, "%s: its resume token "
					       "continues from a snapshot %s no "
					       "longer has", dst, src);
			if (o->dry_run) {
				snprintf(plan_text, sizeof(plan_text),
					 "resume %s from its receive token%s%s, "
					 "then plan again", snap,
					 from ? " (from " : "",
					 from ? basename : "");
				if (from)
					strcat(plan_text, ")");
				out->kind = "planned";
				report(src, dst, "planned", 0, 0, plan_text);
				return 0;
			}
			if ((r = transfer(o, snap, basename, 0, o->push ? remote
								       : "",
					  local, &bytes)) < 0)
				return r;
			snaps++;
			continue;
		}

		k = sync_next_step(o->each, src, s_e, ns, d_e, nd, &st, &base,
				   &div);
		if (k == STEP_DIVERGED && !o->push && o->rollback &&
		    !o->dry_run) {
			char at[600];
			char msg[512], gone[1024] = "";
			const struct proto_entry *mine =
				sync_find_guid(d_e, nd, base->guid, 1);

			snprintf(at, sizeof(at), "%s%s", local, mine->name);
			/* what zfs rollback -r destroys: every snapshot and
			 * bookmark newer than the one kept */
			for (int i = 0; i < nd; i++)
				if (d_e[i].createtxg > mine->createtxg)
					addf(gone, sizeof(gone), "%s%s",
					     gone[0] ? ", " : "", d_e[i].name);
			log_info("sync %s: rolling back to %s (destroys %s)",
				 local, at, gone);
			if (zfs_rollback(at, true, msg, sizeof(msg)) != 0)
				return zk_fail(ZK_EZFS, "zfs rollback -r %s: %s",
					       at, msg);
			continue;
		}
		if (k == STEP_DIVERGED && !(o->dry_run && o->rollback))
			return zk_fail(ZK_EUSAGE, "%s has diverged from %s: it "
				       "has %s%s, newer than their common "
				       "snapshot %s%s%s", dst, src, dst,
				       div->name, src, base->name, o->push ? ""
				       : " (--rollback rolls it back)");
		if (k == STEP_UNRELATED)
			return zk_fail(ZK_EUSAGE, "%s has snapshots but none in "
				       "common with %s: refusing to replace it",
				       dst, src);
		if (k == STEP_EMPTY) {
			out->kind = "empty";
			report(src, dst, "empty", 0, 0, "no snapshots");
			return 0;
		}
		if (k == STEP_DONE && !o->dry_run) {
			/* (not where the target is at a bookmark of a newer
			 * snapshot we destroyed: that mark is the base of the
			 * next run) */
			if (o->push &&
			    sync_find_guid(d_e, nd,
					   sync_newest_snap(s_e, ns)->guid, 1))
				protect(o, local, loc, nl,
					sync_newest_snap(s_e, ns)->name);
			out->kind = snaps ? "updated" : "current";
			out->snaps = snaps;
			out->bytes = bytes;
			report(src, dst, out->kind, snaps, bytes,
			       snaps ? "" : "up to date");
			if (!o->push && o->keep.set)
				return keep_local(o, local, loc, nl, rem.e,
						  (int)rem.n);
			return 0;
		}
		if (o->dry_run) {
			/* the whole plan, on a copy of dst */
			int n = nd, steps = 0;

			memcpy(sim, d_e, sizeof(sim[0]) * (size_t)nd);
			if (k == STEP_DIVERGED) {
				/* --rollback: dst as it would be after it, up
				 * to its copy of the common snapshot */
				const struct proto_entry *kept =
					sync_find_guid(d_e, nd, base->guid, 1);
				n = (int)(kept - d_e) + 1;
				snprintf(plan_text, sizeof(plan_text),
					 "roll back to %s%s; ", dst, base->name);
				k = sync_next_step(o->each, src, s_e, ns, sim,
						   n, &st, &base, &div);
			}
			while (k == STEP_SEND && steps < 64) {
				addf(plan_text, sizeof(plan_text), "%s%s%s%s%s",
				     steps ? "; " : "",
				     st.base[0] ? (st.incr_all ? "-I " : "-i ")
						: "full ",
				     st.base, st.base[0] ? " " : "", st.snap);
				if (o->push)
					est += estimate(o, st.snap, st.base,
							st.incr_all);
				snaps += st.count;
				n = sync_simulate(s_e, ns, sim, n, &st);
				steps++;
				k = sync_next_step(o->each, src, s_e, ns, sim,
						   n, &st, &base, &div);
			}
			if (snaps == 0) {
				addf(plan_text, sizeof(plan_text), "up to date");
			} else if (o->push) {
				char b[48];
				addf(plan_text, sizeof(plan_text),
				     " (%u snapshot%s, about %s)", snaps,
				     snaps == 1 ? "" : "s",
				     human_bytes(est, b, sizeof(b)));
			} else {
				addf(plan_text, sizeof(plan_text),
				     " (%u snapshot%s)", snaps,
				     snaps == 1 ? "" : "s");
			}
			out->kind = "planned";
			out->snaps = snaps;
			out->bytes = est;
			report(src, dst, "planned", snaps, est, plan_text);
			if (!o->push && o->keep.set)
				return keep_local(o, local, loc, nl, rem.e,
						  (int)rem.n);
			return 0;
		}
		if (!o->push && st.from != NULL &&
		    (r = changed_since(o, local, sync_find_guid(d_e, nd,
							    st.from->guid,
							    1))) < 0)
			return r;
		/* the other side lists what it committed: the same step again
		 * means it did not (nothing is sent twice in a loop) */
		if (strcmp(st.snap, last_sent) == 0)
			return zk_fail(ZK_EPEER, "%s was sent, but %s does not "
				       "list it afterwards", st.snap, dst);
		snprintf(last_sent, sizeof(last_sent), "%s", st.snap);
		if (!st.base[0] && nd == 0)
			/* a first backup, or one kept elsewhere (a one-shot
			 * recv into the client's push dataset itself: README,
			 * "From one-shot recv to serve") */
			log_info("sync %s: %s holds nothing of it: a full send "
				 "of %s", local, dst, st.snap);
		if ((r = transfer(o, st.snap, st.base, st.incr_all,
				  o->push ? remote : "", local, &bytes)) < 0)
			return r;
		snaps += st.count;
	}
}

/* ------------------------------------------------------------ the tree */

/* The server's tree of ours (push) or of remote (pull) into pre: 0, or
 * the error that ends the run (the server has no such dataset to pull);
 * any other failure leaves pre.there_ok false (listed dataset by dataset). */
static int
list_there(const struct sync *o)
{
	static struct proto_listing l;
	const char *why = NULL;
	uint8_t how = o->push && !o->remote[0] ? PROTO_LIST_PUSH_ALL
					       : PROTO_LIST_ALL;
	int r;

	if ((r = tree_alloc(&pre.there)) < 0)
		return r;
	r = query(o, how, how == PROTO_LIST_PUSH_ALL ? o->local : o->remote,
		  &l);
	if (r == 0 && l.status == PROTO_ST_NOTFOUND) {
		if (!o->push)
			return zk_fail(ZK_EPEER, "the server has no %s",
				       o->remote);
		/* nothing there yet: every dataset's first backup */
		pre.there.nds = pre.there.ne = 0;
		pre.there_ok = true;
		return 0;
	}
	if (r == 0 && tree_from_wire(&l, &pre.there, &why) < 0)
		r = zk_fail(ZK_EPROTO, "protocol violation by peer: the "
			    "listing of %s: %s", o->push ? o->local : o->remote,
			    why);
	if (r < 0) {
		if (o->push)
			log_verbose("sync: no listing of the whole tree from "
				    "the server (%s): asking dataset by dataset",
				    zk_errmsg());
		else
			log_warn("sync: no listing of the whole tree from the "
				 "server (%s): asking dataset by dataset, and "
				 "its zktls:sync is not known (only --exclude "
				 "leaves datasets out)", zk_errmsg());
		zk_clear();
		return 0;
	}
	snprintf(pre.there_root, sizeof(pre.there_root), "%s", l.dataset);
	snprintf(pre.there_token, sizeof(pre.there_token), "%s", l.token);
	pre.there_ok = true;
	return 0;
}

/* Ours into pre: 0 (pre.here_ok false when it could not be listed so). */
static int
list_here(const struct sync *o)
{
	int r;

	if ((r = tree_alloc(&pre.here)) < 0)
		return r;
	if ((r = zfs_tree_all(o->local, &pre.here_bg, &pre.here)) == ZFS_FAILED && !o->push) {
		/* a pull's first: nothing here yet */
		pre.here.nds = pre.here.ne = 0;
		pre.here_ok = true;
	} else if (r == 0) {
		pre.here_ok = true;
	} else {
		log_verbose("sync: no listing of the whole tree of %s (%s): "
			    "listing dataset by dataset", o->local,
			    r < 0 ? zk_errmsg() : "zfs list failed");
		zk_clear();
	}
	return 0;
}

/* The datasets to sync: ours (push) or the server's (pull) with -r, each
 * with its place on the other side. */
static int
collect(const struct sync *o, struct job *jobs, int *njobs)
{
	static struct proto_entry e[PROTO_MAX_ENTRIES];
	static struct proto_listing tree;
	const struct tree *t = NULL;
	int n = 0, r;

	memset(&jobs[0], 0, sizeof(jobs[0]));
	snprintf(jobs[0].local, sizeof(jobs[0].local), "%s", o->local);
	snprintf(jobs[0].remote, sizeof(jobs[0].remote), "%s", o->remote);
	jobs[0].parent = -1;
	*njobs = 1;
	if (!o->recursive)
		return 0;
	/* ours in the background while the server lists its */
	zfs_bg_list(&pre.here_bg, ZL_ALL, o->local);
	if (o->push)
		zfs_bg_list(&pre.props_bg, ZL_SYNC, o->local);
	if ((r = list_there(o)) < 0 || (r = list_here(o)) < 0)
		return r;
	if (pre.here_ok && pre.there_ok)
		log_verbose("sync: both trees listed at once: %d dataset%s with "
			    "%d snapshots and bookmarks here, %d with %d there",
			    pre.here.nds, pre.here.nds == 1 ? "" : "s",
			    pre.here.ne, pre.there.nds, pre.there.ne);
	if (o->push && pre.here_ok)
		t = &pre.here;
	else if (!o->push && pre.there_ok)
		t = &pre.there;
	if (t != NULL) {
		for (int i = 1; i < t->nds && n < PROTO_MAX_ENTRIES; i++) {
			memset(&e[n], 0, sizeof(e[n]));
			e[n].kind = PROTO_KIND_DATASET;
			snprintf(e[n++].name, sizeof(e[0].name), "%s",
				 t->ds[i].rel);
		}
	} else if (o->push) {
		if ((n = zfs_tree(o->local, e, PROTO_MAX_ENTRIES)) < 0)
			return zk_fail(ZK_EZFS, "cannot list the datasets below "
				       "%s", o->local);
	} else {
		if ((r = query(o, PROTO_LIST_TREE, o->remote, &tree)) < 0)
			return r;
		if (tree.status == PROTO_ST_NOTFOUND)
			return zk_fail(ZK_EPEER, "the server has no %s",
				       o->remote);
		n = (int)tree.n;
		memcpy(e, tree.e, sizeof(e[0]) * (size_t)n);
	}
	if (n + 1 > MAX_DATASETS)
		return zk_fail(ZK_EUSAGE, "more than %d datasets below %s",
			       MAX_DATASETS - 1, o->push ? o->local : o->remote);
	for (int i = 0; i < n; i++) {
		struct job *j = &jobs[*njobs];
		const char *rel = e[i].name;   /* "/a/b" */
		size_t pl = strrchr(rel, '/') - rel;

		memset(j, 0, sizeof(*j));
		if ((size_t)snprintf(j->local, sizeof(j->local), "%s%s",
				     o->local, rel) >= sizeof(j->local) ||
		    (size_t)snprintf(j->remote, sizeof(j->remote), "%s%s",
				     o->remote, o->remote[0] ? rel : "") >=
			    sizeof(j->remote) ||
		    !zfs_name_valid(j->local, 'f') ||
		    (j->remote[0] && !zfs_name_valid(j->remote, 'f')))
			return zk_fail(ZK_EUSAGE, "%s%s: the name is too long on "
				       "the other side", o->push ? o->local
				       : o->remote, rel);
		/* the parent: the job whose name is rel up to its last '/' */
		j->parent = 0;
		for (int k = 1; k < *njobs; k++)
			if (strlen(jobs[k].local) == strlen(o->local) + pl &&
			    strncmp(jobs[k].local + strlen(o->local), rel, pl) == 0)
				j->parent = k;
		(*njobs)++;
	}
	return 0;
}

/*
 * Leave out of jobs (n of them, parents first) the datasets that an
 * --exclude names or whose zktls:sync is off on the sending side (ours on
 * a push; on a pull the server's, as its tree's listing says, below the
 * dataset named), and every one below those: a child cannot be received
 * without its parent.  Each left out is reported with -v and in a dry
 * run; nothing touches it.
 */
static int
exclude(const struct sync *o, struct job *jobs, int *n)
{
	static char names[MAX_DATASETS][ZFS_NAME_LEN];
	static char values[MAX_DATASETS][32];
	static int keep[MAX_DATASETS];
	int nprops = 0, kept = 0;

	if (o->push &&
	    (nprops = zfs_sync_props(o->local, &pre.props_bg, names, values,
				     MAX_DATASETS)) < 0)
		return zk_fail(ZK_EZFS, "cannot list %s and its zktls:sync "
			       "property", o->local);
	for (int i = 0; i < *n; i++) {
		struct job *j = &jobs[i];
		const char *src = o->push ? j->local : j->remote;
		const struct tree_ds *d;
		char why[400] = "";
		int p;

		if (j->parent >= 0 && keep[j->parent] < 0)
			snprintf(why, sizeof(why), "excluded: below %s",
				 o->push ? jobs[j->parent].local
					 : jobs[j->parent].remote);
		else if ((p = sync_exclude_match(src, o->exclude,
						 o->nexclude)) >= 0)
			snprintf(why, sizeof(why), "excluded: --exclude '%s'",
				 o->exclude[p]);
		for (int k = 0; !why[0] && k < nprops; k++)
			if (strcmp(names[k], src) == 0 &&
			    sync_prop_off(values[k]))
				snprintf(why, sizeof(why), "excluded: "
					 "zktls:sync=%.31s", values[k]);
		/* a pull: the server's tree says which of its are off */
		if (!why[0] && !o->push && pre.there_ok && i > 0 &&
		    (d = tree_find(&pre.there, j->remote +
					       strlen(o->remote))) != NULL &&
		    d->off)
			snprintf(why, sizeof(why), "excluded: zktls:sync is off "
				 "on the server");
		if (!why[0]) {
			keep[i] = kept++;
			continue;
		}
		keep[i] = -1;
		if (o->dry_run || log_level() >= LOG_VERBOSE || log_json())
			report(o->push ? j->local : j->remote,
			       o->push ? (j->remote[0] ? j->remote : o->addr)
				       : j->local, "excluded", 0, 0, why);
	}
	for (int i = 0; i < *n; i++)
		if (keep[i] >= 0) {
			struct job j = jobs[i];

			j.parent = j.parent >= 0 ? keep[j.parent] : -1;
			jobs[keep[i]] = j;
		}
	*n = kept;
	return 0;
}

/* Run a job in its own process; it reports "CODE KIND SNAPS BYTES". */
static int
start(const struct sync *o, struct job *j)
{
	int p[2];

	if (pipe(p) < 0)
		return zk_fail_errno(ZK_ESYS, "pipe");
	fflush(NULL);
	if ((j->pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return zk_fail_errno(ZK_ESYS, "fork");
	}
	if (j->pid == 0) {
		struct outcome out = { "failed", 0, 0 };
		int r, code;

		close(p[0]);
		r = sync_one(o, j->local, j->remote, &out);
		code = zk_exit_code(r);
		if (r < 0)
			log_error("sync %s: %s", j->local, zk_errmsg());
		dprintf(p[1], "%d %s %u %llu\n", code, out.kind, out.snaps,
			(unsigned long long)out.bytes);
		fflush(NULL);
		_exit(code);
	}
	close(p[1]);
	j->fd = p[0];
	j->state = 1;
	return 0;
}

static void
finish(struct job *j, int status)
{
	char line[128] = "";
	ssize_t n = read(j->fd, line, sizeof(line) - 1);

	close(j->fd);
	j->state = 2;
	line[n > 0 ? n : 0] = '\0';
	if (sscanf(line, "%d %15s %u %llu", &j->code, j->kind, &j->snaps,
		   &j->bytes) != 4) {
		j->code = WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status)
								   : EXIT_SYS;
		snprintf(j->kind, sizeof(j->kind), "failed");
		if (WIFSIGNALED(status))
			log_error("sync %s: killed by signal %d", j->local,
				  WTERMSIG(status));
	}
}

/* A job run in this process (tree_done: no connection). */
static void
here(const struct sync *o, struct job *j)
{
	struct outcome out = { "failed", 0, 0 };
	int r = sync_one(o, j->local, j->remote, &out);

	j->code = zk_exit_code(r);
	if (r < 0) {
		log_error("sync %s: %s", j->local, zk_errmsg());
		zk_clear();
	}
	snprintf(j->kind, sizeof(j->kind), "%s", out.kind);
	j->snaps = out.snaps;
	j->bytes = out.bytes;
	j->state = 2;
}

static struct proto_entry probe_loc[PROTO_MAX_ENTRIES];
static struct proto_listing probe_rem;
static int probe_n;

/* Jobs in order, a parent's before its children's, up to --jobs at once;
 * a child of a failed dataset is skipped; one with nothing to send runs
 * in this process. */
static void
run_jobs(const struct sync *o, struct job *jobs, int n)
{
	int running = 0, left = n;

	while (left > 0) {
		for (int i = 0; i < n && running < o->jobs; i++) {
			struct job *j = &jobs[i];
			if (j->state != 0 ||
			    (j->parent >= 0 && jobs[j->parent].state != 2))
				continue;
			if (j->parent >= 0 && jobs[j->parent].code != 0) {
				j->state = 2;
				j->code = jobs[j->parent].code;
				snprintf(j->kind, sizeof(j->kind), "skipped");
				log_error("sync %s: skipped: %s failed", j->local,
					  jobs[j->parent].local);
				left--;
				continue;
			}
			if (tree_done(o, j->local, probe_loc, &probe_n,
				      &probe_rem)) {
				/* nothing to send: no process of its own (what
				 * sync_one does then needs no connection) */
				here(o, j);
				left--;
				continue;
			}
			if (start(o, j) < 0) {
				log_error("sync %s: %s", j->local, zk_errmsg());
				zk_clear();
				j->state = 2;
				j->code = EXIT_SYS;
				snprintf(j->kind, sizeof(j->kind), "failed");
				left--;
				continue;
			}
			running++;
		}
		if (running == 0)
			continue;
		{
			int status;
			pid_t pid = waitpid(-1, &status, 0);

			if (pid < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			for (int i = 0; i < n; i++)
				if (jobs[i].state == 1 && jobs[i].pid == pid) {
					finish(&jobs[i], status);
					running--;
					left--;
				}
		}
	}
}

/* --metrics: a failure to write them is an error of its own (exit 1)
 * after the run, which is not undone. */
static int
write_sync_metrics(const struct sync *o, const struct job *jobs, int n)
{
	struct sync_metric *m = calloc((size_t)n + 1, sizeof(*m));
	int r;

	if (m == NULL)
		return zk_fail_errno(ZK_ESYS, "calloc");
	for (int i = 0; i < n; i++) {
		m[i].dataset = jobs[i].local;
		m[i].ok = jobs[i].code == 0;
		m[i].bytes = jobs[i].bytes;
		m[i].snaps = jobs[i].snaps;
	}
	if ((r = sync_metrics_write(o->metrics, o->addr, m, n,
				    (int64_t)time(NULL))) < 0) {
		log_error("%s", zk_errmsg());
		zk_clear();
	}
	free(m);
	return r;
}

int
cmd_sync(int argc, char **argv)
{
	static struct job jobs[MAX_DATASETS];
	struct sync o;
	char path[600];
	const char *home = getenv("HOME"), *defaults = NULL;
	int njobs = 0, worst = 0, r;
	unsigned counts[6] = { 0 };
	static const char *const kinds[] = { "updated", "current", "empty",
					     "planned", "failed", "skipped" };
	unsigned long long bytes = 0;
	unsigned snaps = 0;

	memset(&o, 0, sizeof(o));
	o.cf.timeout_s = 120;
	o.cf.mode = MODE_AUTO;
	o.cf.progress = isatty(2);
	o.jobs = 1;
	/* the defaults file's options come first: the command line wins */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--defaults") == 0 && i + 1 < argc)
			defaults = argv[i + 1];
		else if (strncmp(argv[i], "--defaults=", 11) == 0)
			defaults = argv[i] + 11;
	if (defaults == NULL && home && home[0] == '/') {
		snprintf(path, sizeof(path), "%s/.config/zktls/sync.conf", home);
		if (access(path, F_OK) == 0)
			defaults = path;
	}
	if (defaults == NULL && access("/etc/zktls/sync.conf", F_OK) == 0)
		defaults = "/etc/zktls/sync.conf";
	if (defaults && read_defaults(defaults, argv[0], &o) < 0)
		return usage_error("%s", zk_errmsg());
	if ((r = parse(argc, argv, &o)) != 0)
		return r < 0 ? EXIT_OK : r;
	log_init("zktls", o.cf.quiet ? LOG_QUIET : LOG_NORMAL + o.cf.verbose,
		 o.cf.json);
	cert_warn_expiry("our certificate", o.cf.cert, false);
	if (defaults)
		log_verbose("sync: options from the defaults file %s", defaults);
	else
		log_verbose("sync: no defaults file (no --defaults, "
			    "~/.config/zktls/sync.conf or /etc/zktls/sync.conf)");
	if ((r = zfs_init()) < 0) {
		log_error("%s", zk_errmsg());
		return zk_exit_code(r);
	}
	if ((o.ctx = tls_ctx_new(&o.cf, 0)) == NULL) {
		log_error("%s", zk_errmsg());
		tls_ctx_free(o.ctx);
		return zk_exit_code(-zk_errcode());
	}
	if ((r = collect(&o, jobs, &njobs)) < 0) {
		log_error("%s", zk_errmsg());
		tls_ctx_free(o.ctx);
		return zk_exit_code(r);
	}
	if ((r = exclude(&o, jobs, &njobs)) < 0) {
		log_error("%s", zk_errmsg());
		tls_ctx_free(o.ctx);
		return zk_exit_code(r);
	}
	run_jobs(&o, jobs, njobs);
	tls_ctx_free(o.ctx);
	for (int i = 0; i < njobs; i++) {
		worst = jobs[i].code > worst ? jobs[i].code : worst;
		snaps += jobs[i].snaps;
		bytes += jobs[i].bytes;
		for (int k = 0; k < 6; k++)
			if (strcmp(jobs[i].kind, kinds[k]) == 0)
				counts[k]++;
	}
	if (o.metrics && !o.dry_run && write_sync_metrics(&o, jobs, njobs) < 0 &&
	    worst == 0)
		worst = EXIT_SYS;
	if (log_json()) {
		fprintf(stderr, "{\"event\":\"sync-summary\",\"datasets\":%d,"
			"\"updated\":%u,\"current\":%u,\"empty\":%u,"
			"\"planned\":%u,\"failed\":%u,\"skipped\":%u,"
			"\"snapshots\":%u,\"bytes\":%llu,\"exit\":%d}\n", njobs,
			counts[0], counts[1], counts[2], counts[3], counts[4],
			counts[5], snaps, bytes, worst);
	} else if (log_level() >= LOG_NORMAL || worst) {
		char line[512], b[48];
		size_t l;

		l = (size_t)snprintf(line, sizeof(line), "sync: %d dataset%s:",
				     njobs, njobs == 1 ? "" : "s");
		for (int k = 0; k < 6; k++)
			if (counts[k])
				l += (size_t)snprintf(line + l, sizeof(line) - l,
						      " %u %s%s", counts[k],
						      kinds[k] == kinds[1]
							      ? "up to date"
							      : kinds[k],
						      ",");
		line[l - 1] = '\0';
		if (snaps && !o.dry_run)
			snprintf(line + l - 1, sizeof(line) - l + 1, "; %u "
				 "snapshot%s, %s", snaps, snaps == 1 ? "" : "s",
				 human_bytes(bytes, b, sizeof(b)));
		if (worst)
			log_error("%s (exit %d)", line, worst);
		else
			log_info("%s", line);
	}
	return worst;
}
