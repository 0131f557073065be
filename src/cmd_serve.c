/*
 * cmd_serve.c - zktls serve: one backup server, many authenticated
 * clients, by policy (zktls.conf, conf.c).
 *
 * The master process loads the configuration and the TLS material, listens,
 * and forks one process per connection.  That process authenticates the
 * peer (concurrently with everything else: a silent client holds only its
 * own process, until its handshake deadline), finds the client rule its
 * certificate matches, asks the master for a slot (the global and the
 * per-client session limits: "busy" otherwise, which ends the
 * connection), and runs the session the
 * policy allows: a push lands below the client's push dataset, a pull
 * sends a snapshot of one of its pull datasets, incremental from the
 * newest snapshot both sides have (by GUID).  It reports how the session
 * ended; the master keeps the counts for the metrics file.
 *
 *   SIGHUP   re-read the configuration and the certificate, key and CA
 *            files: new sessions use them; the connections of a client
 *            whose rule changed or is gone are stopped (as SIGTERM after
 *            the grace stops them), those of the other clients finish as
 *            they are (a broken new configuration is reported and ignored)
 *   SIGTERM  stop accepting, let sessions finish for `grace` seconds,
 *            then stop them (zfs receive -s keeps what arrived, resumable)
 *
 * Each connection's process splits in two (privsep.c): the network-facing
 * part drops root and runs the session, the root part (monitor) runs the
 * zfs commands it asks for, if the client's policy allows them.  With
 * "privsep no" one process does both, and checks each zfs command with
 * the monitor's checks before it runs it.
 *
 * Master <-> session process, over a socketpair, one line each:
 *   session -> master  "ID CLIENT"            (authenticated as CLIENT)
 *   master -> session  "OK" | "BUSY REASON"
 *   session -> master  "REQ push|pull DATASET"  (its request, allowed)
 *   session -> master  "PROG PLANE BYTES EST"   (at most once a second;
 *                      EST 1: bytes estimated from TCP)
 *   session -> master  "WHY TEXT"                (why it failed)
 *   session -> master  "END CLIENT RESULT PLANE BYTES SECONDS DATASET"
 *                      (RESULT ok, failed, query: it only asked
 *                      questions, denied: one of them was refused
 *                      by its policy, or retry: sent away to connect
 *                      again offering ChaCha20)
 *
 * What ended is kept per client and dataset (state.c, STATE-DIR/state,
 * saved at each end, loaded at start); zktls status asks the master over
 * the control socket (control.c) and a forked copy of the master answers.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "ktls.h"
#include "proto.h"
#include "state.h"
#include "prune.h"
#include "sessmsg.h"
#include "sync_plan.h"
#include "tree.h"
#include "zktls.h"

#define MAX_CHILDREN 4096
#define BUSY_SLACK 16   /* processes beyond max-sessions that say "busy" */
/* A client's connections that have said who they are: its max-sessions
 * and this many more (answered busy, and closed: they end at once, and
 * are stopped BUSY_LINGER s after the answer if they do not).  Past
 * that, a newcomer of the client is answered busy at once. */
#define CLIENT_SLACK 4
#define BUSY_LINGER 5.0
/* Connections not authenticated yet (make_room()). */
#define MAX_PENDING 128
#define PENDING_TURN 2.0
#define MAX_LASTOK 4096
#define MAX_SNAPS 4096

struct child {
	pid_t pid;
	int fd;                  /* socketpair to it, -1 once closed */
	char client[CONF_ID_LEN];/* "" until it authenticated */
	int said_id, said_end;   /* each once */
	int counted;             /* holds a session slot */
	int evicted;             /* told to stop before it authenticated */
	char source[64];         /* the peer's address, without its port */
	char group[64];          /* what make_room() counts it in: the
				  * address, or its IPv6 /64 */
	double started;
	double stop_at;          /* SIGTERM it then (answered busy), or 0 */
	int stopped;             /* told to stop (SIGTERM sent) */
	unsigned gen;            /* the configuration it was forked with */
	char line[1024];         /* what it has said so far (END: ~650) */
	size_t len;
	/* what it said of its session (REQ, PROG, WHY) */
	char dataset[256], direction[8], plane[16], why[STATE_WHY_LEN];
	uint64_t bytes;
	int estimated;
	double xfer_at;          /* its first PROG */
};

/* Per client and data plane, for the metrics. */
struct stats {
	char client[CONF_ID_LEN];
	char plane[16];          /* "none": refused busy before any plane */
	uint64_t ok, failed, busy, denied, query, bytes;
	uint64_t retry;          /* sent away to offer ChaCha20 (cipher.c) */
	double seconds;
};

/* zktls status connections answered at once (each by a forked copy of
 * the master); more wait in the socket's backlog or are closed */
#define CONTROL_AT_ONCE 32

struct server {
	const char *config;
	struct serve_conf conf;
	struct tls_ctx *ctx;
	int lfd[CONF_MAX_LISTEN];
	int nlfd;
	struct child *kids;
	int nkids;
	int stopping;
	double stop_at;
	struct stats *stats;
	int nstats;
	struct state st;         /* per client and dataset (state.c) */
	int sdfd;                /* the state directory, or -1 (memory) */
	int cfd;                 /* the control socket, or -1 */
	pid_t answering[CONTROL_AT_ONCE]; /* control_answer()'s copies */
	int nanswering;
	double control_after;    /* accept no control connection before */
	gid_t cgid;              /* control-group's, or -1 */
	double started, metrics_at;
	double certs_at;              /* their expiry last checked */
	uint64_t refused;
	struct {                 /* flood_warn()'s, of each kind */
		double said;     /* the last line */
		uint64_t held;   /* lines held back since */
	} flood[2];
	double accept_after;     /* out of fds: listeners rest until then */
	unsigned gen;            /* counts the reloads */
	struct prune_timer prune;/* retention: who is due (prune.c) */
};

static int sigpipe_w = -1, sigpipe_r = -1;

static int forget_removed(struct server *sv);
static void write_metrics(struct server *sv);
static void save_state(struct server *sv);

static void
on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int e = errno;

	(void)!write(sigpipe_w, &b, 1);
	errno = e;
}

/* ------------------------------------------------------------ loading */

/* The pins of every client, for a handshake without a CA. */
static struct tls_ctx *
make_ctx(const struct serve_conf *c)
{
	struct tls_files f = { c->cert, c->key, c->ca[0] ? c->ca : NULL };
	uint8_t (*pins)[32] = calloc((size_t)c->nclients + 1, 32);
	struct tls_ctx *ctx;
	int n = 0;

	if (pins == NULL) {
		zk_fail_errno(ZK_ESYS, "calloc");
		return NULL;
	}
	for (int i = 0; i < c->nclients; i++)
		if (c->clients[i].have_pin)
			memcpy(pins[n++], c->clients[i].pin, 32);
	ctx = tls_ctx_new_serve(&f, (const uint8_t (*)[32])pins, n);
	free(pins);
	/* What is sent is known only from the REQUEST: where sessions
	 * cannot change keys, ChaCha20 unless the client offers only AES-GCM
	 * (a pusher whose stream fits; a puller is checked then, cipher.c) */
	if (ctx != NULL) {
		struct cipher_facts cf = {
			.server = true,
			.can_rekey = plane_mode_rekeys(c->mode),
			.aes_hw = os_cpu_aes(),
		};
		enum tls_want want, fallback;
		enum cipher_why why;

		want = cipher_want(&cf, &fallback, &why);
		tls_ctx_want(ctx, want, fallback, why);
	}
	return ctx;
}

/* A push dataset that does not exist makes every push of that client
 * fail: say so when the configuration is loaded. */
static void
check_datasets(const struct serve_conf *c)
{
	for (int i = 0; i < c->nclients; i++) {
		const struct conf_client *cl = &c->clients[i];
		if (cl->push[0] && zfs_path()[0] && zfs_guid_of(cl->push) == 0)
			log_warn("client %s: push dataset %s does not exist "
				 "(zfs create it; its pushes fail until then)",
				 cl->id, cl->push);
	}
}

static int metrics_dir(const char *path, const char **base);
static int state_dir(const char *path);

/* The recorded failure again, as "CONFIG: line N: WHAT" (line 0: a
 * default, no line). */
static int
at_line(const char *config, int line)
{
	char what[1024];
	int code = zk_errcode();

	snprintf(what, sizeof(what), "%s", zk_errmsg());
	zk_clear();
	if (line > 0)
		return zk_fail(code, "%s: line %d: %s", config, line, what);
	return zk_fail(code, "%s: %s", config, what);
}

/* What the configuration names outside itself, checked wherever it is
 * loaded (--check-config, start, SIGHUP): the user the network processes
 * become, the metrics directory, and listen addresses that could not all
 * be bound.  0, or a negative ZK_EUSAGE naming the line. */
static int
check_host(const char *config, const struct serve_conf *c)
{
	const char *addrs[CONF_MAX_LISTEN], *base;
	int v6only[CONF_MAX_LISTEN], clash[2], fd;
	uid_t uid;
	gid_t gid;

	/* (the user the network processes become: with privsep only) */
	if (c->privsep && privsep_user(c->user, &uid, &gid) < 0)
		return at_line(config, c->user_line);
	if (c->metrics[0]) {
		if ((fd = metrics_dir(c->metrics, &base)) < 0)
			return at_line(config, c->metrics_line);
		close(fd);
	}
	if (c->state_dir_line) {
		if ((fd = state_dir(c->state_dir)) < 0)
			return at_line(config, c->state_dir_line);
		close(fd);
	}
	for (int i = 0; i < c->nlisten; i++)
		addrs[i] = c->listen[i];
	if (net_listen_plan(addrs, c->nlisten, v6only, clash) < 0)
		return zk_fail(ZK_EUSAGE, "%s: line %d: listen %s cannot be "
			       "bound beside listen %s (line %d)", config,
			       c->listen_line[clash[1]], c->listen[clash[1]],
			       c->listen[clash[0]], c->listen_line[clash[0]]);
	return 0;
}

/* Privilege separation is given up by "privsep no" only, never by
 * starting as another user: 0, or an error naming the choice. */
static int
privsep_possible(const struct server *sv)
{
	if (sv->conf.privsep && getuid() != 0)
		return zk_fail(ZK_EUSAGE, "serve separates privileges (a root "
			       "monitor runs zfs): start it as root, or set "
			       "'privsep no' in %s", sv->config);
	return 0;
}

static void
warn_no_privsep(const struct serve_conf *c)
{
	if (!c->privsep)
		log_warn("privsep no: zfs runs as this user (uid %u), "
			 "unconfined, in the process that talks to the network",
			 (unsigned)getuid());
}

static int
load(struct server *sv, struct serve_conf *conf, struct tls_ctx **ctx)
{
	int r;

	if ((r = conf_load(sv->config, conf)) < 0)
		return r;
	if ((r = check_host(sv->config, conf)) < 0) {
		conf_free(conf);
		return r;
	}
	if ((*ctx = make_ctx(conf)) == NULL) {
		conf_free(conf);
		return -zk_errcode();
	}
	return 0;
}

static void
stop_child(struct child *k)
{
	if (!k->stopped)
		kill(k->pid, SIGTERM);
	k->stopped = 1;
}

/*
 * A reload to conf: a connection's process was forked with the old
 * configuration and judges its client's requests by it, so the
 * connections of a client whose rule (identity or rights) is not the
 * same in conf, or of every client when the CA changes, are stopped,
 * as SIGTERM after the grace stops a session (zfs receive -s keeps what
 * arrived).  Connections not identified yet are answered busy when they
 * say who they are (heard(): forked with an older configuration).
 * Returns how many were stopped.
 */
static int
stop_changed(struct server *sv, const struct serve_conf *conf)
{
	int ca = strcmp(sv->conf.ca, conf->ca) != 0, n = 0;

	for (int i = 0; i < sv->nkids; i++) {
		struct child *k = &sv->kids[i];
		const struct conf_client *was, *now;

		if (k->client[0] == '\0' || k->stopped)
			continue;
		was = conf_client_by_id(&sv->conf, k->client);
		now = conf_client_by_id(conf, k->client);
		if (!ca && was && now && conf_client_same(was, now))
			continue;
		log_warn("stopping a connection of client %s: %s", k->client,
			 ca ? "the CA changed" : now ? "its rule changed"
						: "it is no longer configured");
		stop_child(k);
		n++;
	}
	return n;
}

/* The certificate and CA: a warning from 30 days before they expire, an
 * error once they have; at start, on SIGHUP and daily. */
static void
warn_certs(struct server *sv)
{
	sv->certs_at = now_s();
	cert_warn_expiry("certificate", sv->conf.cert, true);
	cert_warn_expiry("CA", sv->conf.ca, true);
}

static void
reload(struct server *sv)
{
	struct serve_conf conf;
	struct tls_ctx *ctx;
	int changed = sv->conf.nlisten != 0, stopped;

	if (load(sv, &conf, &ctx) < 0) {
		log_error("reload failed, keeping the running configuration: "
			  "%s", zk_errmsg());
		zk_clear();
		return;
	}
	if (conf.privsep && getuid() != 0) {
		log_error("reload failed, keeping the running configuration: "
			  "%s: privsep yes needs root (serve started as uid %u)",
			  sv->config, (unsigned)getuid());
		conf_free(&conf);
		tls_ctx_free(ctx);
		return;
	}
	if (!conf.privsep && sv->conf.privsep)
		warn_no_privsep(&conf);
	if (conf.nlisten == sv->conf.nlisten) {
		changed = 0;
		for (int i = 0; i < conf.nlisten; i++)
			changed |= strcmp(conf.listen[i], sv->conf.listen[i]);
	}
	if (changed)
		log_warn("listen addresses change at the next restart");
	memcpy(conf.listen, sv->conf.listen, sizeof(conf.listen));
	conf.nlisten = sv->conf.nlisten;
	if (strcmp(conf.state_dir, sv->conf.state_dir) ||
	    strcmp(conf.control, sv->conf.control) ||
	    strcmp(conf.control_group, sv->conf.control_group))
		log_warn("state-dir, control and control-group change at the "
			 "next restart");
	memcpy(conf.state_dir, sv->conf.state_dir, sizeof(conf.state_dir));
	memcpy(conf.control, sv->conf.control, sizeof(conf.control));
	memcpy(conf.control_group, sv->conf.control_group,
	       sizeof(conf.control_group));
	stopped = stop_changed(sv, &conf);
	conf_free(&sv->conf);
	tls_ctx_free(sv->ctx);
	sv->conf = conf;
	sv->ctx = ctx;
	sv->gen++;
	log_info("reloaded %s: %d clients%s", sv->config, conf.nclients,
		 stopped ? "; stopped the connections of changed clients" : "");
	if (forget_removed(sv))
		save_state(sv);
	write_metrics(sv);   /* the clients, their expect, the certificates */
	check_datasets(&sv->conf);
	warn_certs(sv);
}

/* ------------------------------------------------------------ metrics */

static struct stats *
stats_of(struct server *sv, const char *client, const char *plane)
{
	struct stats *st;

	for (int i = 0; i < sv->nstats; i++)
		if (strcmp(sv->stats[i].client, client) == 0 &&
		    strcmp(sv->stats[i].plane, plane) == 0)
			return &sv->stats[i];
	st = realloc(sv->stats, sizeof(*st) * (size_t)(sv->nstats + 1));
	if (st == NULL)
		return NULL;
	sv->stats = st;
	st = &sv->stats[sv->nstats++];
	memset(st, 0, sizeof(*st));
	snprintf(st->client, sizeof(st->client), "%s", client);
	snprintf(st->plane, sizeof(st->plane), "%s", plane);
	return st;
}

/* The metrics file's directory, open: the file is written through it by
 * name, never through a link (the directory may be the exporter's user's,
 * and this is root writing).  Refused when others may write to it, unless
 * it is sticky and root's: they could replace what is in it.  The fd,
 * with the file's name in it in *base, or a negative ZK_EUSAGE. */
static int
metrics_dir(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	char dir[CONF_PATH_LEN];
	struct stat st;
	int fd;

	if (slash == NULL || slash[1] == '\0')
		return zk_fail(ZK_EUSAGE, "metrics %s is not a file's path",
			       path);
	snprintf(dir, sizeof(dir), "%.*s",
		 slash == path ? 1 : (int)(slash - path), path);
	*base = slash + 1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return zk_fail_errno(ZK_EUSAGE, "metrics directory %s", dir);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return zk_fail_errno(ZK_EUSAGE, "metrics directory %s", dir);
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
	    !((st.st_mode & S_ISVTX) && st.st_uid == 0)) {
		close(fd);
		return zk_fail(ZK_EUSAGE, "metrics directory %s is writable by "
			       "others (and not a sticky directory of root's)",
			       dir);
	}
	return fd;
}

/* The Prometheus text format, written whole to METRICS.tmp, 0644 whatever
 * the umask (node_exporter reads it as another user), and renamed into
 * place (for node_exporter's textfile collector). */
static void
write_metrics(struct server *sv)
{
	char tmp[CONF_PATH_LEN + 16];
	const char *base;
	FILE *f = NULL;
	int active = 0, dfd, fd = -1;

	if (sv->conf.metrics[0] == '\0')
		return;
	sv->metrics_at = now_s(); /* (a failure is retried a minute later) */
	for (int i = 0; i < sv->nkids; i++)
		active += sv->kids[i].counted;
	if ((dfd = metrics_dir(sv->conf.metrics, &base)) < 0) {
		log_warn("cannot write metrics: %s", zk_errmsg());
		zk_clear();
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", base);
	/* one left by a crash (or planted): removed, a link itself, not
	 * what it points to; then created afresh, never opened through a
	 * link */
	(void)unlinkat(dfd, tmp, 0);
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			 O_CLOEXEC, 0644)) < 0 ||
	    fchmod(fd, 0644) < 0 || (f = fdopen(fd, "w")) == NULL) {
		log_warn("cannot write metrics %s.tmp: %s", sv->conf.metrics,
			 strerror(errno));
		if (fd >= 0) {
			close(fd);
			(void)unlinkat(dfd, tmp, 0);
		}
		close(dfd);
		return;
	}
	fprintf(f, "# HELP zktls_sessions_total Sessions by client, data "
		"plane and result.\n# TYPE zktls_sessions_total counter\n");
	for (int i = 0; i < sv->nstats; i++) {
		const struct stats *st = &sv->stats[i];
		const struct { const char *name; uint64_t n; } r[] = {
			{ "ok", st->ok }, { "failed", st->failed },
			{ "busy", st->busy }, { "denied", st->denied },
			{ "query", st->query }, { "retry", st->retry },
		};
		for (size_t k = 0; k < sizeof(r) / sizeof(r[0]); k++)
			if (r[k].n)
				fprintf(f, "zktls_sessions_total{client=\"%s\","
					"plane=\"%s\",result=\"%s\"} %" PRIu64
					"\n", st->client, st->plane, r[k].name,
					r[k].n);
	}
	fprintf(f, "# HELP zktls_bytes_total Stream bytes moved.\n"
		"# TYPE zktls_bytes_total counter\n");
	for (int i = 0; i < sv->nstats; i++)
		fprintf(f, "zktls_bytes_total{client=\"%s\",plane=\"%s\"} %"
			PRIu64 "\n", sv->stats[i].client, sv->stats[i].plane,
			sv->stats[i].bytes);
	fprintf(f, "# HELP zktls_session_seconds_total Time spent in sessions.\n"
		"# TYPE zktls_session_seconds_total counter\n");
	for (int i = 0; i < sv->nstats; i++)
		fprintf(f, "zktls_session_seconds_total{client=\"%s\",plane="
			"\"%s\"} %.3f\n", sv->stats[i].client,
			sv->stats[i].plane, sv->stats[i].seconds);
	state_metrics(f, &sv->st, &sv->conf, (int64_t)time(NULL));
	fprintf(f, "# HELP zktls_refused_total Connections refused before a "
		"session (authentication, no client rule).\n"
		"# TYPE zktls_refused_total counter\nzktls_refused_total %"
		PRIu64 "\n", sv->refused);
	fprintf(f, "# HELP zktls_sessions_active Sessions running now.\n"
		"# TYPE zktls_sessions_active gauge\nzktls_sessions_active %d\n",
		active);
	if (fclose(f) != 0 || renameat(dfd, tmp, dfd, base) != 0) {
		log_warn("cannot write metrics %s: %s", sv->conf.metrics,
			 strerror(errno));
		(void)unlinkat(dfd, tmp, 0);
	}
	close(dfd);
}

/* ------------------------------------------------------------ status */

/* The state directory, open: refused (a negative ZK_EUSAGE) when it is
 * not one, or when others may write to it (they could replace the
 * state), unless it is sticky and root's. */
static int
state_dir(const char *path)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return zk_fail_errno(ZK_EUSAGE, "state-dir %s", path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return zk_fail_errno(ZK_EUSAGE, "state-dir %s", path);
	}
	/* serve's own (root's with privsep): its network user must not
	 * be able to plant a state, or a link where the socket goes */
	if (st.st_uid != geteuid()) {
		close(fd);
		return zk_fail(ZK_EUSAGE, "state-dir %s belongs to uid %u, not "
			       "to serve's (%u)", path, (unsigned)st.st_uid,
			       (unsigned)geteuid());
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		close(fd);
		return zk_fail(ZK_EUSAGE, "state-dir %s is writable by others",
			       path);
	}
	if (faccessat(fd, ".", W_OK, AT_EACCESS) < 0) {
		close(fd);
		return zk_fail_errno(ZK_EUSAGE, "state-dir %s", path);
	}
	return fd;
}

static void
save_state(struct server *sv)
{
	if (sv->sdfd >= 0 && state_save(sv->sdfd, &sv->st) < 0)
		log_warn("cannot save the state in %s: %s", sv->conf.state_dir,
			 strerror(errno));
}

/* The history of clients the configuration no longer has, and their
 * session counters: forgotten (they would show in zktls status and the
 * metrics for ever, and hold places a client of today needs,
 * STATE_MAX_ENTRIES).  1: some history was (the state is to be saved). */
static int
forget_removed(struct server *sv)
{
	int any = 0;

	for (int i = 0; i < sv->st.n;) {
		char id[CONF_ID_LEN];
		int n;

		if (conf_client_by_id(&sv->conf, sv->st.e[i].client)) {
			i++;
			continue;
		}
		snprintf(id, sizeof(id), "%s", sv->st.e[i].client);
		n = state_forget(&sv->st, id);
		log_info("forgot the history of client %s (%d dataset%s): it "
			 "is no longer in %s", id, n, n == 1 ? "" : "s",
			 sv->config);
		any = 1;
	}
	/* and its session counters (the metrics' zktls_sessions_total...) */
	for (int i = 0; i < sv->nstats;)
		if (conf_client_by_id(&sv->conf, sv->stats[i].client) == NULL)
			sv->stats[i] = sv->stats[--sv->nstats];
		else
			i++;
	return any;
}

/*
 * At start: the state (a missing or unusable state directory, only
 * possible for the default one, is a warning: the history is then kept
 * in memory, lost at a restart; a bad state file is a warning and a fresh
 * start) and the control socket (a failure is a warning: zktls status
 * cannot reach this serve).
 */
static void
status_start(struct server *sv)
{
	char err[300];
	int r;

	sv->started = now_s();
	if ((sv->sdfd = state_dir(sv->conf.state_dir)) < 0) {
		log_warn("%s: the state is kept in memory only (lost at a "
			 "restart; set state-dir)", zk_errmsg());
		zk_clear();
	}
	r = sv->sdfd >= 0 ? state_load(sv->sdfd, &sv->st, (int64_t)time(NULL),
				       err, sizeof(err))
			  : 1;
	if (r < 0)
		log_warn("%s/state: %s: starting afresh (the bad file is kept "
			 "as state.bad)", sv->conf.state_dir, err);
	if (sv->sdfd < 0)
		sv->st.since = (int64_t)time(NULL);
	if (forget_removed(sv) || r != 0)
		save_state(sv);
	if ((sv->cfd = control_listen(sv->conf.control,
				      sv->conf.control_group, &sv->cgid)) < 0) {
		log_warn("zktls status cannot reach this serve: %s",
			 zk_errmsg());
		zk_clear();
	}
}

/* A zktls status connection: a forked copy of the master checks the
 * peer, reads its request and writes the answer (with timeouts: a client
 * that stalls holds only that copy, never the master). */
static void
control_answer(struct server *sv)
{
	struct state_active *a;
	sigset_t all, old;
	struct timeval tv = { 5, 0 };
	char req[16];
	int fd, na = 0, json, ok;
	ssize_t n;
	uid_t uid = (uid_t)-1;
	pid_t pid;
	FILE *f;

	if ((fd = accept4(sv->cfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		if (errno == EMFILE || errno == ENFILE)
			sv->control_after = now_s() + 1; /* no spinning */
		return;
	}
	if (sv->nanswering >= CONTROL_AT_ONCE) {
		close(fd);   /* no more root copies than that */
		return;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) != 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (pid < 0)
			log_warn("control: fork: %s", strerror(errno));
		else
			sv->answering[sv->nanswering++] = pid;
		close(fd);
		return;
	}
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	alarm(15);
	for (int i = 0; i < sv->nlfd; i++)
		close(sv->lfd[i]);
	for (int i = 0; i < sv->nkids; i++)
		if (sv->kids[i].fd >= 0)
			close(sv->kids[i].fd);
	close(sv->cfd);
	close(sigpipe_r);
	close(sigpipe_w);
	/* (here, not in the master: the group database may be slow) */
	if (!(ok = control_peer_ok(fd, sv->cgid, &uid)))
		log_warn("control: refused uid %d: not root, serve's user or "
			 "a member of control-group", (int)uid);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = recv(fd, req, sizeof(req) - 1, 0);
	req[n > 0 ? n : 0] = '\0';
	json = strncmp(req, "json", 4) == 0;
	/* (the request read first: a close with it unread would reset the
	 * connection, the answer lost) */
	if (!ok) {
		static const char no[] = "error: not allowed (root, serve's "
					 "user or control-group only)\n";

		(void)!write(fd, no, sizeof(no) - 1);
		_exit(0);
	}
	if ((a = calloc((size_t)sv->nkids + 1, sizeof(*a))) == NULL)
		_exit(1);
	for (int i = 0; i < sv->nkids; i++) {
		const struct child *k = &sv->kids[i];
		struct state_active *x = &a[na];
		double t = now_s();

		if (!k->counted)
			continue;
		na++;
		snprintf(x->client, sizeof(x->client), "%s", k->client);
		snprintf(x->source, sizeof(x->source), "%s", k->source);
		snprintf(x->dataset, sizeof(x->dataset), "%s", k->dataset);
		snprintf(x->direction, sizeof(x->direction), "%s",
			 k->direction);
		snprintf(x->plane, sizeof(x->plane), "%s", k->plane);
		x->bytes = k->bytes;
		x->estimated = k->estimated;
		x->started = (double)time(NULL) - (t - k->started);
		x->seconds = k->xfer_at ? t - k->xfer_at : 0;
	}
	if ((f = fdopen(fd, "w")) == NULL)
		_exit(1);
	state_status(f, json, &sv->st, &sv->conf, a, na, (int64_t)time(NULL),
		     (double)time(NULL) - (now_s() - sv->started));
	_exit(fclose(f) == 0 ? 0 : 1);
}

/* ------------------------------------------------------------ master */

static int
slots(const struct server *sv, const char *client, int *mine)
{
	int all = 0;

	*mine = 0;
	for (int i = 0; i < sv->nkids; i++)
		if (sv->kids[i].counted) {
			all++;
			*mine += strcmp(sv->kids[i].client, client) == 0;
		}
	return all;
}

/* The client's connections that said who they are and run on: its
 * sessions, and those answered busy that have not ended yet. */
static int
held(const struct server *sv, const char *client)
{
	int n = 0;

	for (int i = 0; i < sv->nkids; i++)
		n += !sv->kids[i].stopped &&
		     strcmp(sv->kids[i].client, client) == 0;
	return n;
}

/* Say line to a session process; one that does not take it at once is
 * stopped (the master never blocks on a session). */
static void
tell(struct child *k, const char *line)
{
	size_t len = strlen(line);

	if (send(k->fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL) !=
	    (ssize_t)len) {
		stop_child(k);
		close(k->fd);
		k->fd = -1;
	}
}

static int visible(const struct conf_client *cl, const char *ds);

/* Is ds (DATASET or DATASET@SNAP) one the master's own rule for client
 * lets its sessions touch?  The session process talks to the network:
 * what it claims is checked, not believed. */
static bool
claim_ok(const struct server *sv, const struct child *k, const char *ds)
{
	const struct conf_client *cl = conf_client_by_id(&sv->conf, k->client);
	char name[512];

	snprintf(name, sizeof(name), "%.*s", (int)strcspn(ds, "@"), ds);
	return cl != NULL && zfs_name_valid(name, 'f') && visible(cl, name);
}

/* REQ, PROG and WHY from a session process that holds a slot: what
 * zktls status shows, and why it failed.  REQ once, and only what the
 * client's rule lets it touch. */
static void
heard_progress(const struct server *sv, struct child *k,
	       const struct sessmsg *m)
{
	if (m->kind == SESSMSG_REQ) {
		if (k->dataset[0] || !claim_ok(sv, k, m->dataset))
			return;
		snprintf(k->direction, sizeof(k->direction), "%s",
			 m->direction);
		snprintf(k->dataset, sizeof(k->dataset), "%s", m->dataset);
		k->xfer_at = now_s();
	} else if (m->kind == SESSMSG_PROG) {
		snprintf(k->plane, sizeof(k->plane), "%s", m->plane);
		k->bytes = m->bytes;
		k->estimated = m->estimated;
	} else if (m->kind == SESSMSG_WHY) {
		snprintf(k->why, sizeof(k->why), "%s", m->why);
	}
}

/* A session's end in the state, saved at once (a failure to save is a
 * warning: the metrics and zktls status still have it). */
static void
note_end(struct server *sv, struct child *k, bool ok, const char *ds,
	 uint64_t bytes)
{
	if (strcmp(ds, "-") == 0 && ok)
		return; /* queries only */
	/* a session of a client removed by a reload ends after it: its
	 * history was forgotten (forget_removed()) and stays so */
	if (conf_client_by_id(&sv->conf, k->client) == NULL)
		return;
	state_note(&sv->st, k->client, ds, k->direction[0] ? k->direction : "-",
		   ok, (int64_t)time(NULL), bytes, k->why);
	save_state(sv);
}

/* One line from a session process (sessmsg.h): "ID CLIENT" once, when it
 * has authenticated (a configured client's id), then REQ, PROG and WHY
 * while it holds a slot, "END ..." once, about that client.  Anything
 * else is ignored, and so is a line that does not parse (a session
 * process that has lost its ID that way is answered busy). */
static void
heard(struct server *sv, struct child *k, const char *line)
{
	struct sessmsg m;

	(void)sessmsg_parse(line, &m);
	if (strncmp(line, "ID ", 3) == 0 && !k->said_id) {
		const struct conf_client *cl =
			m.kind == SESSMSG_ID
				? conf_client_by_id(&sv->conf, m.client)
				: NULL;
		int mine = 0, all = 0, conns = 0;
		char reply[128];

		k->said_id = 1;
		if (cl != NULL) {
			conns = held(sv, cl->id);
			snprintf(k->client, sizeof(k->client), "%s", cl->id);
			all = slots(sv, cl->id, &mine);
		}
		/* Forked with an older configuration, it judged by that:
		 * busy, it connects again. */
		if (cl == NULL || k->gen != sv->gen)
			snprintf(reply, sizeof(reply), "BUSY the configuration "
				 "changed");
		else if (conns >= cl->max_sessions + CLIENT_SLACK)
			snprintf(reply, sizeof(reply), "BUSY client %s holds %d "
				 "connections, its limit", cl->id, conns);
		else if (all >= sv->conf.max_sessions)
			snprintf(reply, sizeof(reply), "BUSY the server runs "
				 "%d sessions, its limit", all);
		else if (mine >= cl->max_sessions)
			snprintf(reply, sizeof(reply), "BUSY client %s runs %d "
				 "sessions, its limit", cl->id, mine);
		else {
			snprintf(reply, sizeof(reply), "OK");
			k->counted = 1;
		}
		if (!k->counted && cl != NULL) {
			struct stats *st = stats_of(sv, k->client, "none");
			if (st)
				st->busy++;
		}
		if (!k->counted)
			k->stop_at = now_s() + BUSY_LINGER;
		strcat(reply, "\n");
		tell(k, reply);
		return;
	}
	if (!k->counted || k->said_end)
		return;
	if (m.kind == SESSMSG_REQ || m.kind == SESSMSG_PROG ||
	    m.kind == SESSMSG_WHY) {
		heard_progress(sv, k, &m);
		return;
	}
	if (strncmp(line, "END ", 4) == 0) {
		const char *ds = m.dataset, *result = m.result;
		unsigned long long bytes = m.bytes;
		struct stats *st;

		/* one END, which must parse and be about its own client */
		k->said_end = 1;
		if (m.kind != SESSMSG_END || strcmp(m.client, k->client) != 0 ||
		    (st = stats_of(sv, k->client, m.plane)) == NULL)
			return;
		/* a session ends with what it asked for (REQ, checked) or
		 * with no dataset at all: it claims nothing else */
		if (strcmp(ds, "-") != 0 &&
		    (!sessmsg_within(ds, k->dataset) || !claim_ok(sv, k, ds)))
			ds = "-";
		if (strcmp(result, "ok") == 0) {
			st->ok++;
			note_end(sv, k, true, ds, bytes);
			if (bytes > 0)
				prune_note(&sv->prune, &sv->conf, k->client,
					   ds);
		} else if (strcmp(result, "denied") == 0) {
			st->denied++;
		} else if (strcmp(result, "query") == 0) {
			st->query++;
		} else if (strcmp(result, "retry") == 0) {
			st->retry++;
		} else {
			st->failed++;
			note_end(sv, k, false, ds, 0);
		}
		st->bytes += bytes;
		st->seconds += m.seconds;
		k->counted = 0;
		write_metrics(sv);
	}
}

/* What a session process said; never waits (reap() calls it for one
 * that has exited, and its socket may still be open elsewhere). */
static void
read_child(struct server *sv, struct child *k)
{
	ssize_t n = recv(k->fd, k->line + k->len, sizeof(k->line) - 1 - k->len,
			 MSG_DONTWAIT);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(k->fd);
		k->fd = -1;
		return;
	}
	k->len += (size_t)n;
	k->line[k->len] = '\0';
	while ((nl = strchr(k->line, '\n')) != NULL) {
		*nl = '\0';
		heard(sv, k, k->line);
		k->len -= (size_t)(nl + 1 - k->line);
		memmove(k->line, nl + 1, k->len + 1);
	}
	if (k->len == sizeof(k->line) - 1)
		k->len = 0; /* a line too long: not one of ours */
}

static void
reap(struct server *sv)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (int i = 0; i < sv->nanswering; i++)
			if (sv->answering[i] == pid)
				sv->answering[i--] =
					sv->answering[--sv->nanswering];
		for (int i = 0; i < sv->nkids; i++) {
			struct child *k = &sv->kids[i];
			if (k->pid != pid)
				continue;
			if (k->fd >= 0) {
				read_child(sv, k); /* what it still said */
				if (k->fd >= 0)
					close(k->fd);
			}
			if (k->client[0] == '\0' && WIFEXITED(st) &&
			    WEXITSTATUS(st) != 0)
				sv->refused++;
			*k = sv->kids[--sv->nkids];
			break;
		}
	}
}

/* ------------------------------------------------------------ session */

/* What a session process knows: the configuration it was forked with,
 * its socket to the master, and what the REQUEST decided. */
struct sess {
	const struct serve_conf *conf;
	int master;
	const struct conf_client *client;
	char label[400];
	struct conf cf;
	struct policy pol;
	char dataset[256], target[256], base[ZFS_NAME_LEN];
	int json, verbose;
	int busy;                /* the master said busy */
	char busy_why[200];
};


/* The newest snapshot of the requested one's dataset, older than it, that
 * the client has (by GUID): the incremental base of a pull; when that
 * snapshot is gone here, its bookmark (then only -i can start there,
 * *bookmark set). */
static int
pull_base(struct sess *ss, const struct proto_request *q, int *bookmark,
	  char *why, size_t wl)
{
	static struct proto_entry e[PROTO_MAX_ENTRIES];
	char ds[256];
	const char *name = strchr(q->snapshot, '@');
	int n, at = -1;

	ss->base[0] = '\0';
	*bookmark = 0;
	snprintf(ds, sizeof(ds), "%.*s", (int)strcspn(q->snapshot, "@"),
		 q->snapshot);
	if ((n = zfs_listing(ds, e, PROTO_MAX_ENTRIES)) < 0) {
		snprintf(why, wl, "cannot list the snapshots of %s", ds);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (e[i].kind == PROTO_KIND_SNAPSHOT && name &&
		    strcmp(e[i].name, name) == 0)
			at = i;
	if (at < 0) {
		snprintf(why, wl, "%s does not exist", q->snapshot);
		return -1;
	}
	for (uint32_t g = 0; g < q->nguids; g++)
		if (q->guids[g] == e[at].guid) {
			snprintf(why, wl, "the client has %s already",
				 q->snapshot);
			return -1;
		}
	/* the newest the client has; of a snapshot and its bookmark (one
	 * guid), the snapshot */
	for (int i = n - 1, best = -1; i >= 0; i--) {
		int has = 0;

		if (i == at || e[i].createtxg >= e[at].createtxg)
			continue;
		for (uint32_t g = 0; g < q->nguids && !has; g++)
			has = q->guids[g] == e[i].guid;
		if (!has || (best >= 0 && (e[best].guid != e[i].guid ||
					   e[i].kind != PROTO_KIND_SNAPSHOT)))
			continue;
		best = i;
		*bookmark = e[i].kind == PROTO_KIND_BOOKMARK;
		snprintf(ss->base, sizeof(ss->base), "%s", e[i].name);
	}
	return 0;
}

/* Which client this is (once per connection): the first rule that its
 * certificate matches; the monitor is told, and the master gives it a
 * session slot (queries take one too) or says it is busy (*busy set). */
static int
identify(struct sess *ss, struct tls *peer, char *why, size_t wl, int *busy)
{
	char reply[256] = "";
	ssize_t n;

	*busy = 0;
	if (ss->client != NULL && !ss->busy)
		return 0;
	if (ss->client != NULL) {
		*busy = 1;
		snprintf(why, wl, "%s", ss->busy_why);
		return zk_fail(ZK_EDENIED, "refused %s: %s", ss->label, why);
	}
	if (policy_identify(ss->conf, peer, &ss->client, ss->label,
			    sizeof(ss->label)) < 0) {
		snprintf(why, wl, "not authorised");
		return zk_fail(ZK_EDENIED, "refused %s: no client rule matches "
			       "its certificate", tls_peer(peer));
	}
	tls_set_peer(peer, ss->label);
	if (privsep_client(ss->client->id) < 0) {
		snprintf(why, wl, "internal error");
		return -zk_errcode();
	}
	dprintf(ss->master, "ID %s\n", ss->client->id);
	n = read(ss->master, reply, sizeof(reply) - 1);
	reply[n > 0 ? n : 0] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	if (strcmp(reply, "OK") != 0) {
		ss->busy = *busy = 1;
		snprintf(ss->busy_why, sizeof(ss->busy_why), "busy: %.150s",
			 n > 5 ? reply + 5 : "server stopping");
		snprintf(why, wl, "%s", ss->busy_why);
		return zk_fail(ZK_EDENIED, "refused %s: %s", ss->label, why);
	}
	return 0;
}

/* May the client see this dataset: its push dataset and below, or one of
 * its pull datasets and below? */
static int
visible(const struct conf_client *cl, const char *ds)
{
	size_t n;

	if (cl->push[0] && (n = strlen(cl->push)) && strncmp(ds, cl->push, n) == 0 &&
	    (ds[n] == '\0' || ds[n] == '/'))
		return 1;
	for (int i = 0; i < cl->npull; i++)
		if ((n = strlen(cl->pull[i])) && strncmp(ds, cl->pull[i], n) == 0 &&
		    (ds[n] == '\0' || ds[n] == '/'))
			return 1;
	return 0;
}

/* May the peer query dataset?  0, or an error with the answer's text in
 * msg and *status what to answer. */
static int
query_allowed(struct sess *ss, struct tls *peer, const char *what,
	      const char *dataset, char *msg, size_t ml, uint8_t *status)
{
	int r, busy;

	*status = PROTO_ST_DENIED;
	if ((r = identify(ss, peer, msg, ml, &busy)) < 0) {
		*status = busy ? PROTO_ST_BUSY
			  : r == -ZK_EDENIED ? PROTO_ST_DENIED : PROTO_ST_ERROR;
		return r;
	}
	if (zfs_name_valid(dataset, 'f') && visible(ss->client, dataset))
		return 0;
	snprintf(msg, ml, "%.160s is not client %.60s's", dataset,
		 ss->client->id);
	return zk_fail(ZK_EDENIED, "refused %s from %s: %s", what, ss->label,
		       msg);
}

/* The datasets of t (below ds) whose zktls:sync is off, as sync's own
 * are on a push: the source's word, here the server's.  0, or -ZK_EZFS
 * (recorded: zfs could not list it, or printed one twice). */
static int
mark_off(const char *ds, struct tree *t)
{
	static char names[TREE_MAX_DATASETS][ZFS_NAME_LEN];
	static char values[TREE_MAX_DATASETS][32];
	size_t dl = strlen(ds);
	int n;

	if ((n = zfs_sync_props(ds, NULL, names, values, TREE_MAX_DATASETS)) < 0)
		return zk_errcode() ? -zk_errcode()
				    : zk_fail(ZK_EZFS, "cannot list %s and its "
					      "zktls:sync property", ds);
	for (int i = 0; i < n; i++) {
		const struct tree_ds *d;

		if (strlen(names[i]) > dl && sync_prop_off(values[i]) &&
		    (d = tree_find(t, names[i] + dl)) != NULL)
			t->ds[d - t->ds].off = true;
	}
	return 0;
}

/* PROTO_LIST_ALL: ds and its tree, each dataset's marks filtered as a
 * one-dataset listing's are, and (props: a pull's, where the server is
 * the source) its zktls:sync.  A tree too big for one answer is an error
 * answer: the client lists dataset by dataset then. */
static int
list_all(struct sess *ss, const char *ds, bool props,
	 struct proto_listing *out)
{
	struct tree t;
	int r;

	if (tree_alloc(&t) < 0) {
		out->status = PROTO_ST_ERROR;
		snprintf(out->message, sizeof(out->message), "out of memory");
		return -zk_errcode();
	}
	if ((r = zfs_tree_all(ds, NULL, &t)) == ZFS_FAILED) {
		out->status = PROTO_ST_NOTFOUND;
		snprintf(out->message, sizeof(out->message), "%.200s does not "
			 "exist", ds);
		r = 0;
	} else if (r < 0 || (props && (r = mark_off(ds, &t)) < 0)) {
		/* not the session's failure: the client asks again, dataset
		 * by dataset */
		out->status = PROTO_ST_ERROR;
		snprintf(out->message, sizeof(out->message), "%.250s",
			 zk_errmsg());
		log_info("%s: no listing of the whole tree: %s", ss->label,
			 out->message);
		zk_clear();
		r = 0;
	} else {
		for (int i = 0; i < t.nds; i++)
			t.ds[i].n = policy_list_marks(ss->conf, ss->client,
						      &t.e[t.ds[i].first],
						      t.ds[i].n);
		if (tree_to_wire(&t, out) < 0) {
			out->status = PROTO_ST_ERROR;
			snprintf(out->message, sizeof(out->message), "more "
				 "than %d entries below %.200s",
				 PROTO_MAX_TREE_ENTRIES, ds);
			log_info("%s: no listing of the whole tree: %s",
				 ss->label, out->message);
		} else {
			zfs_resume_token(ds, out->token, sizeof(out->token));
			out->status = PROTO_ST_OK;
		}
	}
	tree_free(&t);
	return r;
}

/* LIST: the dataset's snapshots and bookmarks (of zktls's marks, the
 * client's own), and its resume token; or the datasets below it; or
 * both of its whole tree. */
static int
on_list(void *arg, struct tls *peer, const struct proto_list *q,
	struct proto_listing *out)
{
	struct sess *ss = arg;
	const char *ds = q->dataset;
	int n, r;

	out->status = PROTO_ST_DENIED;
	if (q->how == PROTO_LIST_PUSH || q->how == PROTO_LIST_PUSH_ALL) {
		int busy;

		/* where a push of the client's q->dataset lands */
		if ((r = identify(ss, peer, out->message, sizeof(out->message),
				  &busy)) < 0) {
			out->status = busy ? PROTO_ST_BUSY
				      : r == -ZK_EDENIED ? PROTO_ST_DENIED
							 : PROTO_ST_ERROR;
			return r;
		}
		if (policy_push_landing(ss->client, q->dataset, out->dataset,
					sizeof(out->dataset), out->message,
					sizeof(out->message)) < 0)
			return zk_fail(ZK_EDENIED, "refused LIST from %s: %s",
				       ss->label, out->message);
		ds = out->dataset;
	}
	if ((r = query_allowed(ss, peer, "LIST", ds, out->message,
			       sizeof(out->message), &out->status)) < 0)
		return r;
	if (ds != out->dataset)
		snprintf(out->dataset, sizeof(out->dataset), "%s", ds);
	if (q->how == PROTO_LIST_ALL || q->how == PROTO_LIST_PUSH_ALL)
		return list_all(ss, ds, q->how == PROTO_LIST_ALL, out);
	zk_clear();
	n = q->how == PROTO_LIST_TREE
		    ? zfs_tree(ds, out->e, PROTO_MAX_ENTRIES)
		    : zfs_listing(ds, out->e, PROTO_MAX_ENTRIES);
	if (n < 0 && zk_errcode()) {
		/* listed, but more than one answer holds */
		out->status = PROTO_ST_ERROR;
		snprintf(out->message, sizeof(out->message), "%.250s",
			 zk_errmsg());
		return -zk_errcode();
	}
	if (n < 0) {
		out->status = PROTO_ST_NOTFOUND;
		snprintf(out->message, sizeof(out->message), "%.200s does not "
			 "exist", ds);
		return 0;
	}
	if (q->how != PROTO_LIST_TREE)
		n = policy_list_marks(ss->conf, ss->client, out->e, n);
	out->n = (uint32_t)n;
	if (q->how != PROTO_LIST_TREE)
		zfs_resume_token(ds, out->token, sizeof(out->token));
	out->status = PROTO_ST_OK;
	return 0;
}

/* HAVE: which of these GUIDs the dataset holds (snapshots, bookmarks). */
static int
on_have(void *arg, struct tls *peer, const struct proto_have *q,
	struct proto_having *out)
{
	static struct proto_entry e[PROTO_MAX_ENTRIES];
	struct sess *ss = arg;
	int n, r;

	out->status = PROTO_ST_DENIED;
	if ((r = query_allowed(ss, peer, "HAVE", q->dataset, out->message,
			       sizeof(out->message), &out->status)) < 0)
		return r;
	out->n = q->n;
	if ((n = zfs_listing(q->dataset, e, PROTO_MAX_ENTRIES)) < 0)
		n = 0; /* holds nothing */
	for (uint32_t i = 0; i < q->n; i++)
		for (int k = 0; k < n; k++)
			if (e[k].guid == q->guids[i])
				out->have[i] = 1;
	out->status = PROTO_ST_OK;
	return 0;
}

/* The session's REQUEST has arrived: who is this, and what may it do? */
static int
on_request(void *arg, struct tls *peer, const struct proto_request *q,
	   const struct conf **cfp, const struct policy **polp,
	   uint8_t *status, char *why, size_t wl)
{
	struct sess *ss = arg;
	struct conf *cf = &ss->cf;
	uint32_t zflags;
	int r, busy, bookmark = 0;

	*status = PROTO_ST_DENIED;
	if ((r = identify(ss, peer, why, wl, &busy)) < 0) {
		*status = busy ? PROTO_ST_BUSY
			  : r == -ZK_EDENIED ? PROTO_ST_DENIED : PROTO_ST_ERROR;
		return r;
	}
	memset(cf, 0, sizeof(*cf));
	cf->cmd = "serve";
	cf->zfs = 1;
	cf->mode = ss->conf->mode;
	cf->timeout_s = ss->conf->timeout_s;
	cf->json = ss->json;
	cf->verbose = ss->verbose;
	if (q->op == PROTO_OP_PUSH) {
		cf->role = ROLE_RECEIVER;
		if (!zfs_name_valid(q->snapshot, 's')) {
			*status = PROTO_ST_ERROR;
			snprintf(why, wl, "invalid snapshot name '%s'",
				 q->snapshot);
			return zk_fail(ZK_EPROTO, "refused %s: %s", ss->label,
				       why);
		}
		if (policy_serve_push(ss->client, q->snapshot, q->dataset,
				      ss->target, sizeof(ss->target), why,
				      wl) < 0)
			return zk_fail(ZK_EDENIED, "refused %s: %s", ss->label,
				       why);
		/* Without --target: zfs receive -d below the push dataset,
		 * which also creates the parents (tank/a/b -> PUSH/a/b). */
		policy_serve_recv(ss->client, q->dataset[0] == '\0', &cf->recv);
		cf->dataset = ss->target;
		ss->pol.recv_root = ss->target;
	} else {
		cf->role = ROLE_SENDER;
		if (!zfs_name_valid(q->snapshot, 's')) {
			*status = PROTO_ST_ERROR;
			snprintf(why, wl, "name the snapshot to pull (zktls recv "
				 "--source POOL/FS@SNAP)");
			return zk_fail(ZK_EPROTO, "refused %s: no snapshot named",
				       ss->label);
		}
		if (policy_serve_pull(ss->client, q->snapshot, why, wl) < 0)
			return zk_fail(ZK_EDENIED, "refused %s: %s", ss->label,
				       why);
		if (pull_base(ss, q, &bookmark, why, wl) < 0) {
			*status = PROTO_ST_NOTFOUND;
			return zk_fail(ZK_EDENIED, "refused %s: %s", ss->label,
				       why);
		}
		/* raw yes: an encrypted dataset leaves this host encrypted,
		 * whatever the client asked for. */
		zflags = q->zflags | (ss->client->raw ? PROTO_ZF_RAW : 0);
		for (const struct zfs_flag *f = zfs_send_flags; f->flag; f++)
			if (zflags & f->bit) {
				cf->send.flags |= f->bit;
				cf->zflags |= f->bit;
			}
		if (ss->base[0]) {
			snprintf(cf->send.base, sizeof(cf->send.base), "%s",
				 ss->base);
			cf->send.incr_all = q->zflags & PROTO_ZF_INCR_ALL &&
					    !bookmark;
			cf->zflags |= PROTO_ZF_INCR;
		}
		snprintf(ss->dataset, sizeof(ss->dataset), "%s", q->snapshot);
		cf->dataset = ss->dataset;
		if (ss->client->rate &&
		    os_pace(tls_fd(peer), ss->client->rate) < 0) {
			*status = PROTO_ST_ERROR;
			snprintf(why, wl, "internal error");
			return -zk_errcode();
		}
	}
	dprintf(ss->master, "REQ %s %s\n",
		cf->role == ROLE_RECEIVER ? "push" : "pull", cf->dataset);
	*cfp = cf;
	*polp = &ss->pol;
	return 0;
}

/*
 * After a pull, keep what the client now has as the base of its next
 * one: a bookmark DS#zktls:LEN:CLIENT:SNAP (an incremental can start there
 * when the snapshot is pruned here), and the client's older one
 * destroyed.  A failure is a warning: the data arrived.
 */
static void
keep_pull_base(struct sess *ss)
{
	static struct proto_entry e[PROTO_MAX_ENTRIES];
	const char *snap = ss->dataset, *at = strchr(snap, '@');
	char ds[256], why[700];
	int n;

	if (at == NULL)
		return;
	snprintf(ds, sizeof(ds), "%.*s", (int)(at - snap), snap);
	if ((n = zfs_listing(ds, e, PROTO_MAX_ENTRIES)) < 0 ||
	    zfs_move_mark(ds, at, ss->client->id, e, n, why,
			  sizeof(why)) < 0)
		log_warn("%s's next pull: %s", ss->client->id,
			 n < 0 ? "cannot list its snapshots" : why);
	zk_clear();
}

/* The master's view of this session (zktls status): never blocks. */
static void
on_progress(void *arg, const char *plane, uint64_t bytes, int estimated)
{
	struct sess *ss = arg;
	char line[64];
	int n = snprintf(line, sizeof(line), "PROG %s %llu %d\n", plane,
			 (unsigned long long)bytes, estimated != 0);

	if (n > 0 && (size_t)n < sizeof(line))
		(void)send(ss->master, line, (size_t)n,
			   MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Why the session failed, one line the master keeps (cleaned there). */
static void
tell_why(int master, const char *why)
{
	char clean[STATE_WHY_LEN];

	state_clean(clean, sizeof(clean), why);
	dprintf(master, "WHY %s\n", clean);
}

/* One connection, in its own process. */
static int
serve_one(struct server *sv, int fd, const char *addr, int master, int json,
	  int verbose)
{
	static struct sess ss;
	struct session_serve hook = { on_request, on_list, on_have, &ss,
				      on_progress };
	struct session *s = NULL;
	struct conf tmpl;
	struct conn c = { .fd = fd };
	const char *note = "";
	int r;

	memset(&ss, 0, sizeof(ss));
	ss.conf = &sv->conf;
	ss.master = master;
	ss.json = json;
	ss.verbose = verbose;
	snprintf(c.addr, sizeof(c.addr), "%s", addr);
	net_tune(fd, sv->conf.timeout_s);
	if ((c.tls = tls_handshake(sv->ctx, fd, sv->conf.timeout_s)) == NULL) {
		log_warn("refused %s: %s", addr, zk_errmsg());
		net_drain_close(fd, 1000);
		return -1;
	}
	/* Until the REQUEST says more, a receiver in plain terms: the role,
	 * dataset and flags come from on_request(). */
	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.cmd = "serve";
	tmpl.role = ROLE_RECEIVER;
	tmpl.mode = sv->conf.mode;
	tmpl.timeout_s = sv->conf.timeout_s;
	tmpl.json = json;
	if ((r = session_new(&tmpl, &ss.pol, &s, &note)) == 0) {
		session_set_serve(s, &hook);
		r = session_run(s, &c, 1);
	}
	if (r < 0 && session_sent_away(s))
		log_info("%s", zk_errmsg());   /* it connects again */
	else if (r < 0)
		log_error("%s", zk_errmsg());
	if (r != 0 && ss.client && !session_sent_away(s))
		tell_why(master, zk_errmsg());
	if (r == 0 && ss.client && ss.cf.zfs && ss.cf.role == ROLE_SENDER)
		keep_pull_base(&ss);
	if (ss.client) {
		const struct session_result *res = session_result(s);
		dprintf(master, "END %s %s %s %llu %.3f %s\n", ss.client->id,
			r != 0 && session_sent_away(s) ? "retry"
			: r != 0 ? "failed"
			: res->denied ? "denied"
			: res->queries ? "query" : "ok",
			res->plane,
			(unsigned long long)res->bytes, res->seconds,
			res->dataset[0] ? res->dataset : "-");
	}
	session_free(s);
	conn_close(&c);
	return r;
}

/* A refusal of make_room()'s, of kind 0 (closed unforked) or 1 (dropped
 * for a newcomer), logged at most once a second a kind: a flood would
 * otherwise write a line for each of its connections. */
static void __attribute__((format(printf, 3, 4)))
flood_warn(struct server *sv, int kind, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (now_s() - sv->flood[kind].said < 1) {
		sv->flood[kind].held++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (sv->flood[kind].held)
		log_warn("%s; %" PRIu64 " more such in the last %.0f s", line,
			 sv->flood[kind].held, now_s() - sv->flood[kind].said);
	else
		log_warn("%s", line);
	sv->flood[kind].said = now_s();
	sv->flood[kind].held = 0;
}

/* The refusals flood_warn() held back, said once their second is over
 * (not at the next refusal, which may come days later).  How long the
 * master may wait in poll() for that, or ms unchanged. */
static int
flood_flush(struct server *sv, int ms)
{
	static const char *const what[2] = {
		"closed at once, from an address that already had the most "
		"connections waiting to authenticate",
		"dropped for newcomers",
	};

	for (int i = 0; i < 2; i++) {
		double left = sv->flood[i].said + 1 - now_s();

		if (!sv->flood[i].held)
			continue;
		if (left <= 0) {
			log_warn("refused %" PRIu64 " more connection%s in the "
				 "last %.0f s: %s", sv->flood[i].held,
				 sv->flood[i].held == 1 ? "" : "s",
				 now_s() - sv->flood[i].said, what[i]);
			sv->flood[i].said = now_s();
			sv->flood[i].held = 0;
		} else if (ms < 0 || ms > (int)(left * 1000) + 1) {
			ms = (int)(left * 1000) + 1;
		}
	}
	return ms;
}

/*
 * Room for a newcomer from source (counted in group: its address, or its
 * IPv6 /64, net_source_group(); "address" below means that group) among
 * the connections that have not authenticated yet (silent or slow ones,
 * a flood): at most MAX_PENDING of them; past that, the oldest connection
 * of the address that has the most (the newcomer counted with its own)
 * is stopped for it.  So a flood from a few addresses stops its own
 * connections, whatever its rate and however long a handshake takes, and
 * a client from another address that has fewer connections waiting is
 * never the one stopped; many clients of one address (NAT, parallel
 * syncs) are not limited below MAX_PENDING.
 *
 * Except when that oldest connection is of the newcomer's own address and
 * has waited less than PENDING_TURN seconds: then the newcomer is the one
 * refused (-1), before any process is made for it.  A flood thus costs
 * the master an accept and a close per connection, and at most
 * MAX_PENDING / PENDING_TURN processes a second, so it cannot outrun the
 * master and fill the listen queue against clients from elsewhere (it
 * did, with a fork per connection, on a loaded machine).
 *
 * A client on the same address as a flood is only sure of this: its
 * connection is stopped once it is the oldest of that address while
 * MAX_PENDING wait and it has waited PENDING_TURN seconds; it is served
 * if its handshake and its first message take less time than that.  Nor
 * is a flood spread over more IPv4 addresses or IPv6 /64s than
 * MAX_PENDING held to a share.
 */
static int
make_room(struct server *sv, const char *source, const char *group)
{
	int pend[MAX_PENDING * 2], np = 0, victim = -1, most = 0;
	struct child *v;

	for (int i = 0; i < sv->nkids && np < MAX_PENDING * 2; i++)
		if (!sv->kids[i].said_id && !sv->kids[i].evicted)
			pend[np++] = i;
	if (np < MAX_PENDING)
		return 0;
	for (int a = 0; a < np; a++) {
		const struct child *k = &sv->kids[pend[a]];
		int same = strcmp(k->group, group) == 0;

		for (int b = 0; b < np; b++)
			same += strcmp(sv->kids[pend[b]].group, k->group) == 0;
		if (same > most || (same == most &&
				    k->started < sv->kids[victim].started)) {
			most = same;
			victim = pend[a];
		}
	}
	v = &sv->kids[victim];
	sv->refused++;
	if (strcmp(v->group, group) == 0 &&
	    now_s() - v->started < PENDING_TURN) {
		flood_warn(sv, 0, "refused %s: %d of the %d connections not "
			   "authenticated yet are from %s (this one "
			   "counted), none waiting %.0f s yet", source, most,
			   np + 1, strcmp(group, source) ? group : "there",
			   PENDING_TURN);
		return -1;
	}
	v->evicted = 1;
	stop_child(v);
	flood_warn(sv, 1, "refused %s: dropped for a newcomer (%d of the %d "
		   "connections not authenticated yet are from %s, the "
		   "newcomer counted)", v->source, most, np + 1,
		   strcmp(v->group, v->source) ? v->group : "there");
	return 0;
}

static void
accept_one(struct server *sv, int lfd, int json, int verbose)
{
	char addr[300], source[64], group[64];
	sigset_t all, old;
	struct child *k;
	int fd, sp[2], live = 0;
	pid_t pid;

	if ((fd = net_accept(lfd, addr, sizeof(addr))) < 0) {
		/* out of fds: stop polling the listeners for a moment
		 * rather than spin on them */
		if (errno == EMFILE || errno == ENFILE)
			sv->accept_after = now_s() + 1;
		zk_clear();
		return;
	}
	snprintf(source, sizeof(source), "%.*s", (int)strcspn(addr, " "),
		 addr);
	if (strrchr(source, ':'))
		*strrchr(source, ':') = '\0';
	net_source_group(source, group, sizeof(group));
	if (make_room(sv, source, group) < 0) {
		close(fd);
		return;
	}
	/* those told to stop are ending: they count only against the
	 * process table's own limit */
	for (int i = 0; i < sv->nkids; i++)
		live += !sv->kids[i].stopped;
	if (sv->stopping ||
	    live >= sv->conf.max_sessions + BUSY_SLACK + MAX_PENDING ||
	    sv->nkids >= MAX_CHILDREN) {
		log_warn("refused %s: %d processes already", addr, sv->nkids);
		sv->refused++;
		close(fd);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		log_warn("refused %s: socketpair: %s", addr, strerror(errno));
		close(fd);
		return;
	}
	/* Until the child has its own signal dispositions, a signal must not
	 * run the master's handler in it (which would write to the master's
	 * signal pipe): blocked across fork. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		log_warn("refused %s: fork: %s", addr, strerror(errno));
		close(fd);
		close(sp[0]);
		close(sp[1]);
		return;
	}
	if (pid == 0) {
		int r, mon = 0;

		close(sp[0]);
		for (int i = 0; i < sv->nlfd; i++)
			close(sv->lfd[i]);
		for (int i = 0; i < sv->nkids; i++)
			if (sv->kids[i].fd >= 0)
				close(sv->kids[i].fd);
		/* SIGHUP is the master's (pkill -HUP zktls must not end
		 * transfers); zfs starts with default dispositions */
		signal(SIGHUP, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		close(sigpipe_w);
		close(sigpipe_r);
		sigprocmask(SIG_SETMASK, &old, NULL);
		zk_clear();
		/* This process stays root as the monitor that runs zfs; the
		 * connection is served by a child that is not. */
		r = privsep_fork(&sv->conf, fd, &mon);
		if (mon)
			_exit(r);
		if (r < 0) {
			log_error("%s: %s", addr, zk_errmsg());
			_exit(zk_exit_code(r));
		}
		r = serve_one(sv, fd, addr, sp[1], json, verbose);
		_exit(r == 0 ? EXIT_OK : zk_exit_code(r));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fd);
	close(sp[1]);
	k = &sv->kids[sv->nkids++];
	memset(k, 0, sizeof(*k));
	k->pid = pid;
	k->fd = sp[0];
	k->started = now_s();
	k->gen = sv->gen;
	snprintf(k->source, sizeof(k->source), "%s", source);
	snprintf(k->group, sizeof(k->group), "%s", group);
}

static int
run(struct server *sv, int json, int verbose)
{
	int sp[2];

	if (pipe2(sp, O_CLOEXEC | O_NONBLOCK) < 0)
		return zk_fail_errno(ZK_ESYS, "pipe");
	sigpipe_w = sp[1];
	sigpipe_r = sp[0];
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGCHLD, &sa, NULL);
	}
	write_metrics(sv);
	for (;;) {
		struct pollfd pf[2 + CONF_MAX_LISTEN + MAX_CHILDREN];
		int n = 0, ms = -1, idx_kids, idx_ctl;

		pf[n++] = (struct pollfd){ .fd = sp[0], .events = POLLIN };
		for (int i = 0; i < sv->nlfd && !sv->stopping &&
				now_s() >= sv->accept_after; i++)
			pf[n++] = (struct pollfd){ .fd = sv->lfd[i],
						   .events = POLLIN };
		if (now_s() < sv->accept_after)
			ms = 1000;
		idx_kids = n;
		for (int i = 0; i < sv->nkids; i++)
			pf[n++] = (struct pollfd){ .fd = sv->kids[i].fd,
						   .events = POLLIN };
		idx_ctl = n;
		pf[n++] = (struct pollfd){ .fd = now_s() < sv->control_after
						 ? -1 : sv->cfd,
					   .events = POLLIN };
		if (now_s() < sv->control_after && (ms < 0 || ms > 1000))
			ms = 1000;
		/* the metrics at least once a minute (staleness moves with
		 * time; a file that stops changing says serve is down) */
		if (sv->conf.metrics[0] && (ms < 0 || ms > 60000))
			ms = 60000;
		if (ms < 0 || ms > 3600000)   /* warn_certs(), daily */
			ms = 3600000;
		for (int i = 0; i < sv->nkids; i++) {
			struct child *k = &sv->kids[i];
			int left;

			if (k->stopped || k->stop_at == 0)
				continue;
			left = (int)((k->stop_at - now_s()) * 1000);
			if (left <= 0) {
				stop_child(k);
				continue;
			}
			if (ms < 0 || left < ms)
				ms = left;
		}
		if (sv->stopping) {
			if (sv->nkids == 0)
				break;
			ms = (int)((sv->stop_at - now_s()) * 1000);
			if (ms <= 0) {
				log_warn("stopping %d sessions still running "
					 "after %d s", sv->nkids,
					 sv->conf.grace_s);
				for (int i = 0; i < sv->nkids; i++)
					kill(sv->kids[i].pid, SIGTERM);
				sv->stop_at = now_s() + 3600;
				ms = 1000;
			}
		}
		ms = prune_tick(&sv->prune, &sv->conf, ms, sv->stopping);
		ms = flood_flush(sv, ms);
		if (poll(pf, (nfds_t)n, ms) < 0 && errno != EINTR)
			return zk_fail_errno(ZK_ESYS, "poll");
		if (pf[0].revents) {
			unsigned char sig[64];
			ssize_t k = read(sp[0], sig, sizeof(sig));

			for (ssize_t i = 0; i < k; i++) {
				if (sig[i] == SIGHUP && !sv->stopping) {
					reload(sv);
				} else if ((sig[i] == SIGTERM ||
					    sig[i] == SIGINT) && !sv->stopping) {
					sv->stopping = 1;
					sv->stop_at = now_s() + sv->conf.grace_s;
					for (int l = 0; l < sv->nlfd; l++)
						close(sv->lfd[l]);
					sv->nlfd = 0;
					int run = 0;
					for (int c = 0; c < sv->nkids; c++)
						run += sv->kids[c].counted;
					log_info("stopping: %d sessions running, %d "
						 "connections authenticating; %d "
						 "s to finish", run,
						 sv->nkids - run,
						 sv->conf.grace_s);
				}
			}
			reap(sv);
		}
		if (pf[idx_ctl].revents & POLLIN)
			control_answer(sv);
		if (sv->conf.metrics[0] && now_s() - sv->metrics_at >= 60)
			write_metrics(sv);
		if (now_s() - sv->certs_at >= 86400)
			warn_certs(sv);
		for (int i = idx_ctl - 1; i >= idx_kids; i--)
			if (pf[i].revents && i - idx_kids < sv->nkids &&
			    sv->kids[i - idx_kids].fd == pf[i].fd &&
			    pf[i].fd >= 0)
				read_child(sv, &sv->kids[i - idx_kids]);
		for (int i = 1; i < idx_kids; i++)
			if (pf[i].revents & POLLIN)
				accept_one(sv, pf[i].fd, json, verbose);
	}
	write_metrics(sv);
	log_info("stopped");
	return 0;
}

/* ------------------------------------------------------------ command */

static const char serve_usage[] =
	"usage: zktls serve --config FILE [--check-config] [--json] [-v|-q]\n"
	"       zktls serve --config FILE --prune-now|--prune-dry-run [-v]\n";

/* --prune-now, --prune-dry-run: each client's keep applied once, here
 * (dry: what would go, on stdout), and exit. */
static int
prune_once(const struct serve_conf *c, int dry, int verbose)
{
	time_t now = retain_now();
	int r, failed = 0;

	if ((r = zfs_init()) < 0)
		return r;
	for (int i = 0; i < c->nclients; i++)
		if (prune_client(c, &c->clients[i], dry, verbose, now) < 0)
			failed = 1;
	return failed ? zk_fail(ZK_EZFS, "some datasets could not be "
				"pruned") : 0;
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "prune-now", no_argument, NULL, 'P' },
		{ "prune-dry-run", no_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct server sv;
	int ch, check = 0, json = 0, verbose = 0, quiet = 0, r, prune = 0;
	char why[256];

	memset(&sv, 0, sizeof(sv));
	sv.sdfd = sv.cfd = -1;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': sv.config = optarg; break;
		case 'C': check = 1; break;
		case 'P': prune = 1; break;
		case 'D': prune = 2; break;
		case 'j': json = 1; break;
		case 'v': verbose++; break;
		case 'q': quiet = 1; break;
		case 'h':
			fputs(serve_usage, stdout);
			return EXIT_OK;
		default:
			return usage_error("unknown option '%s' for zktls serve",
					   argv[optind - 1]);
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (sv.config == NULL)
		return usage_error("%s", "zktls serve needs --config FILE");
	log_init("zktls", quiet ? LOG_QUIET : LOG_NORMAL + verbose, json);
	/* nothing inherited reaches the sessions' processes */
	if (!check)
		os_close_from(3);
	if ((r = load(&sv, &sv.conf, &sv.ctx)) < 0) {
		log_error("%s", zk_errmsg());
		return zk_exit_code(r);
	}
	if (check) {
		printf("%s: ok, %d clients, %d listen addresses\n", sv.config,
		       sv.conf.nclients, sv.conf.nlisten);
		r = 0;
		goto out;
	}
	if (prune) {
		if ((r = prune_once(&sv.conf, prune == 2, verbose)) < 0)
			goto fail;
		goto out;
	}
	if ((r = privsep_possible(&sv)) < 0)
		goto fail;
	if ((r = zfs_init()) < 0)
		goto fail;
	if ((sv.kids = calloc(MAX_CHILDREN, sizeof(*sv.kids))) == NULL) {
		r = zk_fail_errno(ZK_ESYS, "calloc");
		goto fail;
	}
	{
		const char *addrs[CONF_MAX_LISTEN];
		int v6only[CONF_MAX_LISTEN], clash[2];

		for (int i = 0; i < sv.conf.nlisten; i++)
			addrs[i] = sv.conf.listen[i];
		(void)net_listen_plan(addrs, sv.conf.nlisten, v6only, clash);
		for (int i = 0; i < sv.conf.nlisten; i++) {
			/* An address the configuration names that we cannot
			 * have (in use, not ours) is the configuration's
			 * error, exit 2, not a transfer's. */
			if ((r = net_listen(sv.conf.listen[i], v6only[i])) < 0) {
				if (r != -ZK_ESYS)
					r = -ZK_EUSAGE;
				goto fail;
			}
			sv.lfd[sv.nlfd++] = r;
		}
	}
	/* Load the kernel's tls module now (as root), for the sessions;
	 * after "listening on", which scripts read first. */
	if (ktls_probe(why, sizeof(why)) < 0 && sv.conf.mode != MODE_USER)
		log_info("%s; sessions use the user plane", why);
	check_datasets(&sv.conf);
	warn_no_privsep(&sv.conf);
	warn_certs(&sv);
	status_start(&sv);
	r = run(&sv, json, verbose);
	if (r == 0)
		goto out;
fail:
	log_error("%s", zk_errmsg());
out:
	for (int i = 0; i < sv.nlfd; i++)
		close(sv.lfd[i]);
	tls_ctx_free(sv.ctx);
	conf_free(&sv.conf);
	free(sv.kids);
	free(sv.stats);
	state_free(&sv.st);
	if (sv.sdfd >= 0)
		close(sv.sdfd);
	if (sv.cfd >= 0) {
		close(sv.cfd);
		(void)unlink(sv.conf.control);
	}
	return r < 0 ? zk_exit_code(r) : EXIT_OK;
}
