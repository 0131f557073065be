/*
 * prune.c - retention applied (prune.h).  The planner (retain.c) decides;
 * every destroy is a typed request (ZOP_DESTROY of DS@SNAP) that
 * policy_prune() judges from zfs's own listing before zfs.c spells and
 * runs it.  Sessions never come here: a client cannot ask for a destroy
 * of a snapshot (policy_zfs() refuses it), only the server's keep grid
 * lets snapshots go.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prune.h"
#include "proto.h"
#include "zktls.h"

#define PRUNE_SNAPS 8192

/* Keep the snapshots a zktls mark (some client's or sync's pull base)
 * shares a guid with: 0, or -1 when the listing cannot say. */
static int
protect_marked(const char *ds, struct retain_snap *s, int n)
{
	static struct proto_entry e[PROTO_MAX_ENTRIES];
	int ne = zfs_listing(ds, e, PROTO_MAX_ENTRIES);

	if (ne < 0 || ne == PROTO_MAX_ENTRIES)
		return -1;
	for (int k = 0; k < ne; k++) {
		if (e[k].kind != PROTO_KIND_BOOKMARK ||
		    !zfs_mark_any(e[k].name + 1))
			continue;
		for (int i = 0; i < n; i++)
			if (s[i].guid == e[k].guid)
				s[i].protect = "a pull's base (zktls mark)";
	}
	return 0;
}

int
prune_dataset(const char *root, const struct retain_grid *g, const char *ds,
	      const struct prune_opts *o, time_t now)
{
	static struct retain_snap s[PRUNE_SNAPS];
	char grid[200], why[600] = "", msg[512];
	int n, gone = 0, failed = 0;

	retain_grid_print(g, grid, sizeof(grid));
	if ((n = retain_list(ds, s, PRUNE_SNAPS)) < 0) {
		log_warn("%s: keep %s: cannot list the snapshots of %s", o->who,
			 grid, ds);
		zk_clear();
		return -1;
	}
	if (protect_marked(ds, s, n) < 0) {
		log_warn("%s: keep %s: cannot list the bookmarks of %s: none "
			 "of its snapshots destroyed", o->who, grid, ds);
		zk_clear();
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (o->base_guid && s[i].guid == o->base_guid)
			s[i].protect = "base of the next incremental";
	(void)retain_plan(g, s, n, now);
	for (int i = 0; i < n; i++) {
		struct zfs_req r;

		if (s[i].keep) {
			if (o->dry && o->verbose)
				printf("keep %s (%s)\n", s[i].name, s[i].why);
			else if (o->verbose)
				log_verbose("%s: keep %s (%s)", o->who,
					    s[i].name, s[i].why);
			continue;
		}
		if (zfs_req(&r, ZOP_DESTROY, 0, s[i].name) < 0 ||
		    policy_prune(root, g, &r, s, n, now, why, sizeof(why)) < 0) {
			log_warn("%s: refused: %s", o->who, why);
			failed = 1;
			continue;
		}
		if (o->dry) {
			printf("would destroy %s (%s %s)\n", s[i].name,
			       s[i].why, grid);
			gone++;
			continue;
		}
		if (zfs_do_msg(&r, msg, sizeof(msg)) != 0) {
			log_warn("%s: zfs destroy %s: %s", o->who, s[i].name,
				 msg);
			zk_clear();
			failed = 1;
			continue;
		}
		log_info("%s: destroyed %s (%s %s)", o->who, s[i].name,
			 s[i].why, grid);
		gone++;
	}
	return failed ? -1 : gone;
}

/* Is ds in another client's push dataset, one nested in cl's (its own
 * keep, or none, decides there)? */
static bool
others(const struct serve_conf *c, const struct conf_client *cl,
       const char *ds)
{
	for (int i = 0; i < c->nclients; i++) {
		const struct conf_client *o = &c->clients[i];

		if (o != cl && o->push[0] && strlen(o->push) > strlen(cl->push) &&
		    zfs_name_within(ds, o->push, false))
			return true;
	}
	return false;
}

int
prune_client(const struct serve_conf *c, const struct conf_client *cl,
	     int dry, int verbose, time_t now)
{
	static struct proto_entry e[PROTO_MAX_ENTRIES];
	struct prune_opts o = { .dry = dry, .verbose = verbose };
	char who[100], ds[600];
	int n, r, gone = 0, failed = 0;

	if (!cl->keep.set || cl->push[0] == '\0')
		return 0;
	snprintf(who, sizeof(who), "client %s", cl->id);
	o.who = who;
	/* the push dataset may not exist yet: nothing pushed, nothing to
	 * prune (zfs_tree fails on it) */
	if ((n = zfs_tree(cl->push, e, PROTO_MAX_ENTRIES)) < 0) {
		zk_clear();
		return 0;
	}
	if ((r = prune_dataset(cl->push, &cl->keep, cl->push, &o, now)) < 0)
		failed = 1;
	else
		gone += r;
	for (int i = 0; i < n; i++) {
		snprintf(ds, sizeof(ds), "%s%s", cl->push, e[i].name);
		if (!zfs_name_valid(ds, 'f') ||
		    !zfs_name_within(ds, cl->push, false) || others(c, cl, ds))
			continue;
		if ((r = prune_dataset(cl->push, &cl->keep, ds, &o, now)) < 0)
			failed = 1;
		else
			gone += r;
	}
	return failed ? -1 : gone;
}

/* ------------------------------------------------------------ serve */

void
prune_note(struct prune_timer *t, const struct serve_conf *c,
	   const char *client, const char *dataset)
{
	const struct conf_client *cl = conf_client_by_id(c, client);

	/* a push (it landed in the push dataset), not a query or a pull
	 * of something else */
	if (cl == NULL || !cl->keep.set || t->all ||
	    !zfs_name_within(dataset, cl->push, true))
		return;
	for (int i = 0; i < t->npending; i++)
		if (strcmp(t->pending[i], client) == 0)
			return;
	if (t->npending == PRUNE_PENDING) {
		t->all = 1;
		return;
	}
	snprintf(t->pending[t->npending++], CONF_ID_LEN, "%s", client);
}

/* The pruner: as the master (root where privsep is), with nothing of
 * the master's but the configuration and stderr; fd 3 is the pipe whose
 * end tells the master it is done. */
static void
pruner(const struct prune_timer *t, const struct serve_conf *c)
{
	time_t now = retain_now();

	for (int i = 0; i < c->nclients; i++) {
		const struct conf_client *cl = &c->clients[i];
		int due = t->all;

		for (int k = 0; k < t->npending && !due; k++)
			due = strcmp(t->pending[k], cl->id) == 0;
		if (due && cl->keep.set)
			(void)prune_client(c, cl, 0,
					   log_level() >= LOG_VERBOSE, now);
	}
}

int
prune_tick(struct prune_timer *t, const struct serve_conf *c, int ms,
	   int stopping)
{
	double now = now_s();
	sigset_t all, old;
	int p[2], left;
	pid_t pid;

	if (t->running) {
		char b;
		ssize_t k = read(t->fd, &b, 1);

		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return ms < 0 || ms > 1000 ? 1000 : ms;
		close(t->fd); /* its end: done (the master reaps it) */
		t->running = 0;
	}
	if (t->next == 0)
		t->next = now + (c->prune_interval_s ? c->prune_interval_s : 0);
	if (c->prune_interval_s && now >= t->next) {
		t->all = 0;
		for (int i = 0; i < c->nclients && !t->all; i++)
			t->all = c->clients[i].keep.set;
		t->next = now + c->prune_interval_s;
	}
	if (!stopping && (t->all || t->npending > 0) &&
	    pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, &old);
		pid = fork();
		if (pid == 0) {
			signal(SIGHUP, SIG_IGN);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGCHLD, SIG_DFL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			close(p[0]);
			if (p[1] != 3 && (dup2(p[1], 3) < 0 || close(p[1]) < 0))
				_exit(1);
			(void)fcntl(3, F_SETFD, FD_CLOEXEC);
			os_close_from(4);
			zk_clear();
			pruner(t, c);
			_exit(0);
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(p[1]);
		if (pid < 0) {
			log_warn("prune: fork: %s", strerror(errno));
			close(p[0]);
		} else {
			t->fd = p[0];
			t->running = 1;
			t->all = 0;
			t->npending = 0;
			return ms < 0 || ms > 1000 ? 1000 : ms;
		}
	}
	if (!c->prune_interval_s)
		return ms;
	left = (int)((t->next - now) * 1000) + 1;
	return ms < 0 || left < ms ? left : ms;
}
