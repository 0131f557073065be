/*
 * policy.c - who may do what.  Fail closed: a request is denied unless a
 * rule allows it, and the answer names the rule's limit.
 *
 * A one-shot receiver's rule comes from its command line: it accepts
 * pushes into its own dataset and the datasets below it (--target).
 * serve's rules come from zktls.conf: a client is recognised by its
 * certificate (names, pin), then may push below its push dataset and pull
 * snapshots of its pull datasets; of zktls's marks it sees its own.
 * What its session may ask of zfs, request by request, is policy_zfs()'s
 * answer, in serve's monitor or (with "privsep no") in the session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "proto.h"
#include "retain.h"
#include "zktls.h"

void
policy_oneshot(struct policy *p, const struct conf *cf)
{
	memset(p, 0, sizeof(*p));
	p->recv_root = cf->zfs && cf->role == ROLE_RECEIVER ? cf->dataset : NULL;
}

int
policy_push_target(const struct policy *p, const char *asked, char *target,
		   size_t cap, char *why, size_t wl)
{
	if (p->recv_root == NULL) {
		snprintf(why, wl, "this side receives no datasets");
		return -1;
	}
	if (asked[0] == '\0') {
		snprintf(target, cap, "%s", p->recv_root);
		return 0;
	}
	if (!zfs_name_valid(asked, 'f')) {
		snprintf(why, wl, "invalid target dataset name '%s'", asked);
		return -1;
	}
	if (!zfs_name_within(asked, p->recv_root, false)) {
		snprintf(why, wl, "dataset %s is not authorised (this "
			 "receiver accepts %s and below)", asked, p->recv_root);
		return -1;
	}
	snprintf(target, cap, "%s", asked);
	return 0;
}

/* ------------------------------------------------------------ serve */

int
policy_identify(const struct serve_conf *sc, struct tls *t,
		const struct conf_client **out, char *label, size_t cap)
{
	uint8_t pin[32];
	int have_pin = tls_peer_pin(t, pin) == 0;

	for (int i = 0; i < sc->nclients; i++) {
		const struct conf_client *cl = &sc->clients[i];
		char matched[300] = "";
		int named = cl->nnames == 0;

		for (int k = 0; k < cl->nnames && !named; k++)
			named = tls_peer_named(t, cl->names[k], cl->wildcards,
					       matched, sizeof(matched));
		if (!named)
			continue;
		if (cl->have_pin &&
		    (!have_pin || memcmp(pin, cl->pin, sizeof(pin)) != 0))
			continue;
		*out = cl;
		snprintf(label, cap, "%s (%s)", cl->id,
			 matched[0] ? matched : "pinned key");
		return 0;
	}
	return -1;
}

int
policy_serve_push(const struct conf_client *cl, const char *snapshot,
		  const char *asked, char *target, size_t cap, char *why,
		  size_t wl)
{
	const char *slash, *at = strchr(snapshot, '@');

	if (cl->push[0] == '\0') {
		snprintf(why, wl, "client %s may not push", cl->id);
		return -1;
	}
	if (asked[0] != '\0') {
		if (!zfs_name_valid(asked, 'f') ||
		    !zfs_name_within(asked, cl->push, false)) {
			snprintf(why, wl, "dataset %s is not authorised (client "
				 "%s pushes into %s and below)", asked, cl->id,
				 cl->push);
			return -1;
		}
		snprintf(target, cap, "%s", asked);
		return 0;
	}
	/* tank/home@x from alpha lands at PUSH/home, a pool's own root
	 * dataset at PUSH itself: the caller receives with -d into PUSH. */
	slash = strchr(snapshot, '/');
	if (at != NULL && slash != NULL && slash < at &&
	    strlen(cl->push) + (size_t)(at - slash) >= 255) {
		snprintf(why, wl, "%s maps to no valid dataset below %s",
			 snapshot, cl->push);
		return -1;
	}
	snprintf(target, cap, "%s", cl->push);
	return 0;
}

int
policy_push_landing(const struct conf_client *cl, const char *dataset,
		    char *out, size_t cap, char *why, size_t wl)
{
	const char *slash = strchr(dataset, '/');
	int n;

	if (cl->push[0] == '\0') {
		snprintf(why, wl, "client %s may not push", cl->id);
		return -1;
	}
	if (!zfs_name_valid(dataset, 'f')) {
		snprintf(why, wl, "invalid dataset name '%.200s'", dataset);
		return -1;
	}
	n = snprintf(out, cap, "%s%s", cl->push, slash ? slash : "");
	if (n < 0 || (size_t)n >= cap || n > 255 || !zfs_name_valid(out, 'f')) {
		snprintf(why, wl, "%.200s maps to no valid dataset below %s",
			 dataset, cl->push);
		return -1;
	}
	return 0;
}

int
policy_serve_pull(const struct conf_client *cl, const char *snapshot,
		  char *why, size_t wl)
{
	char ds[256];

	snprintf(ds, sizeof(ds), "%.*s", (int)strcspn(snapshot, "@"),
		 snapshot);
	for (int i = 0; i < cl->npull; i++)
		if (zfs_name_within(ds, cl->pull[i], false))
			return 0;
	if (cl->npull == 0)
		snprintf(why, wl, "client %s may not pull", cl->id);
	else
		snprintf(why, wl, "%s is not authorised for client %s", snapshot,
			 cl->id);
	return -1;
}

/* Is a previous-format mark name cl's and nobody else's that the
 * configuration names (not provable, but no other client can claim it:
 * listed, so that a client that relied on it as a base still sees it)? */
static int
old_mark_only_of(const struct serve_conf *sc, const struct conf_client *cl,
		 const char *name)
{
	if (!zfs_mark_old_reads(name, cl->id))
		return 0;
	for (int i = 0; i < sc->nclients; i++)
		if (&sc->clients[i] != cl &&
		    zfs_mark_old_reads(name, sc->clients[i].id))
			return 0;
	return 1;
}

int
policy_list_marks(const struct serve_conf *sc, const struct conf_client *cl,
		  struct proto_entry *e, int n)
{
	static unsigned char keep[PROTO_MAX_ENTRIES];
	int k = 0;

	for (int i = 0; i < n && i < PROTO_MAX_ENTRIES; i++)
		keep[i] = e[i].kind != PROTO_KIND_BOOKMARK ||
			  !zfs_mark_any(e[i].name + 1) ||
			  zfs_mark_mine(e[i].name + 1, e[i].guid, cl->id, e, n) ||
			  old_mark_only_of(sc, cl, e[i].name + 1);
	for (int i = 0; i < n && i < PROTO_MAX_ENTRIES; i++)
		if (keep[i])
			e[k++] = e[i];
	return k;
}

/* A client's -x and the mount properties always fit one receive. */
_Static_assert(CONF_MAX_PROPS + ZFS_MOUNT_PROPS <= ZFS_MAX_PROPS,
	       "a serve receive's -x fit");

void
policy_serve_recv(const struct conf_client *cl, bool below,
		  struct zfs_recv_req *q)
{
	memset(q, 0, sizeof(*q));
	q->resumable = cl->resumable;
	q->rollback = cl->rollback;
	q->below = below;
	for (int i = 0; i < cl->nset && i < ZFS_MAX_PROPS; i++)
		snprintf(q->set[q->nset++], sizeof(q->set[0]), "%s", cl->set[i]);
	for (int i = 0; i < cl->nexclude && i < ZFS_MAX_PROPS; i++)
		snprintf(q->exclude[q->nexclude++], sizeof(q->exclude[0]), "%s",
			 cl->exclude[i]);
	(void)zfs_recv_safe(q, false, false); /* room: the assertion */
}

/* ------------------------------------------------------------ zfs requests */

/* A name a session may ask about: a dataset, a snapshot, a bookmark. */
static bool
name_ok(const char *name)
{
	return zfs_name_valid(name, 's') || zfs_name_valid(name, 'f') ||
	       (strchr(name, '#') != NULL && name[0] != '#' &&
		strchr(name, '@') == NULL);
}

/* What cl may read: at or below its push dataset or a pull dataset. */
static bool
readable(const struct conf_client *cl, const char *name)
{
	if (!name_ok(name))
		return false;
	if (cl->push[0] && zfs_name_within(name, cl->push, true))
		return true;
	for (int i = 0; i < cl->npull; i++)
		if (zfs_name_within(name, cl->pull[i], true))
			return true;
	return false;
}

/* A snapshot cl may be sent. */
static bool
pullable(const struct conf_client *cl, const char *name)
{
	for (int i = 0; i < cl->npull; i++)
		if (zfs_name_valid(name, 's') &&
		    zfs_name_within(name, cl->pull[i], true))
			return true;
	return false;
}

/* What a resume token continues, checked against the pull datasets, and
 * zfs picks the snapshot by toguid: it must be toname's. */
static bool
token_ok(const struct conf_client *cl, const char *token)
{
	struct zfs_token t;

	return zfs_token_valid(token) && zfs_token_describe(token, &t) == 0 &&
	       pullable(cl, t.toname) && zfs_guid_of(t.toname) == t.toguid;
}

/* Is bm (DS#NAME) one of client cl's pull-base bookmarks of a dataset it
 * may read (zfs_mark_mine: an exact parse of NAME; a previous-format
 * name proven by the dataset's listing, read here)? */
static bool
own_mark(const struct conf_client *cl, const char *bm)
{
	static struct proto_entry e[PROTO_MAX_ENTRIES];
	const char *hash = strchr(bm, '#');
	char ds[256];
	uint64_t guid = 0;
	int n = 0;

	if (hash == NULL || strchr(bm, '@') != NULL ||
	    strchr(hash + 1, '#') != NULL || strchr(hash + 1, '/') != NULL ||
	    strlen(bm) >= 256 || !readable(cl, bm) ||
	    !zfs_mark_any(hash + 1))
		return false;
	if (zfs_mark_mine(hash + 1, 0, cl->id, NULL, 0))
		return true;
	/* a previous-format name that only the listing can prove */
	if (strncmp(hash + 1, "zktls_", 6) == 0) {
		snprintf(ds, sizeof(ds), "%.*s", (int)(hash - bm), bm);
		if ((n = zfs_listing(ds, e, PROTO_MAX_ENTRIES)) < 0)
			return false;
		for (int i = 0; i < n; i++)
			if (e[i].kind == PROTO_KIND_BOOKMARK &&
			    strcmp(e[i].name, hash) == 0)
				guid = e[i].guid;
	}
	return zfs_mark_mine(hash + 1, guid, cl->id, e, n);
}

#define ORIGIN_DEPTH 32

/* Does ds (whose origin is origin) and every origin before it lie in
 * what cl may read?  0, or -1 with why, which names only ds (the client's
 * own): naming an origin would tell the client what a GUID it pushed a
 * clone stream of is called. */
static int
chain_ok(const struct conf_client *cl, const char *ds, const char *origin,
	 char *why, size_t wl)
{
	static char buf[1024];
	char cur[256];

	snprintf(cur, sizeof(cur), "%s", origin);
	for (int depth = 0; strcmp(cur, "-") != 0; depth++) {
		char *tab;

		if (depth == ORIGIN_DEPTH)
			return snprintf(why, wl, "%.200s is a clone more than %d "
					"origins deep: refused", ds,
					ORIGIN_DEPTH), -1;
		if (!zfs_name_valid(cur, 's') || !readable(cl, cur))
			return snprintf(why, wl, "%.200s is a clone whose origin "
					"lies outside what client %s may read",
					ds, cl->id), -1;
		cur[strcspn(cur, "@")] = '\0';
		if (zfs_origins(cur, false, buf, sizeof(buf)) != 0 ||
		    (tab = strchr(buf, '\t')) == NULL ||
		    strlen(tab + 1) >= sizeof(cur))
			return snprintf(why, wl, "cannot read the origins of "
					"%.200s", ds), -1;
		tab[1 + strcspn(tab + 1, "\n")] = '\0';
		memcpy(cur, tab + 1, strlen(tab + 1) + 1);
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
origins_ok(const struct conf_client *cl, const struct zfs_send_req *q,
	   char *why, size_t wl)
{
	static char out[1 << 20];
	char ds[256];
	const char *snap = q->snap;
	struct zfs_token t;

	if (q->token[0] && zfs_token_describe(q->token, &t) == 0)
		snap = t.toname;
	snprintf(ds, sizeof(ds), "%.*s", (int)strcspn(snap, "@"), snap);
	if (zfs_origins(ds, (q->flags & PROTO_ZF_RECURSIVE) != 0, out,
			sizeof(out)) != 0)
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

/* A send or its estimate: one snapshot (or a token) of cl's pull
 * datasets, raw where cl's pulls are, from a base of the same dataset. */
static int
send_ok(const struct conf_client *cl, const struct zfs_send_req *q,
	bool estimate, char *why, size_t wl)
{
	const uint32_t known = PROTO_ZF_RAW | PROTO_ZF_COMPRESSED |
			       PROTO_ZF_LARGE | PROTO_ZF_EMBED |
			       PROTO_ZF_PROPS | PROTO_ZF_RECURSIVE;
	size_t dl = strcspn(q->snap, "@");

	if ((q->flags & ~known) || q->backup ||
	    (q->token[0] != '\0') == (q->snap[0] != '\0') ||
	    (q->token[0] && q->base[0]))
		return snprintf(why, wl, "not a send a session asks for"), -1;
	if (cl->raw && !(q->flags & PROTO_ZF_RAW) && !estimate)
		return snprintf(why, wl, "client %s's pulls are raw (zfs send "
				"-w)", cl->id), -1;
	if (q->token[0])
		return token_ok(cl, q->token) ? 0
		       : (snprintf(why, wl, "a resume token that is not for "
				   "client %s's datasets", cl->id), -1);
	if (!pullable(cl, q->snap))
		return snprintf(why, wl, "%s is not client %s's to send",
				q->snap, cl->id), -1;
	if (q->base[0] && !(q->base[0] == '@' || q->base[0] == '#') &&
	    !(readable(cl, q->base) && strncmp(q->base, q->snap, dl) == 0 &&
	      (q->base[dl] == '@' || q->base[dl] == '#')))
		return snprintf(why, wl, "incremental base %s", q->base), -1;
	return 0;
}

/* A receive: into cl's push dataset or below, never mounted, the stream's
 * mount and share properties ignored unless cl's policy sets them, with
 * exactly cl's -o and at least its -x; -s and -F only where cl has them. */
static int
recv_ok(const struct conf_client *cl, const struct zfs_recv_req *q,
	char *why, size_t wl)
{
	bool set_here;

	if ((q->resumable && !cl->resumable) || (q->rollback && !cl->rollback) ||
	    q->below_last)
		return snprintf(why, wl, "not a receive client %s's policy "
				"allows", cl->id), -1;
	if (!q->nomount)
		return snprintf(why, wl, "zfs receive without -u"), -1;
	/* exactly the policy's -o, in its order (policy_serve_recv()):
	 * none left out, none twice in its place */
	if (q->nset != cl->nset)
		return snprintf(why, wl, "zfs receive with other -o than "
				"client %s's", cl->id), -1;
	for (int i = 0; i < q->nset; i++)
		if (strcmp(q->set[i], cl->set[i]) != 0)
			return snprintf(why, wl, "zfs receive with -o %s",
					q->set[i]), -1;
	for (int i = 0; i < q->nexclude; i++) {
		set_here = false;
		for (int k = 0; k < i; k++)
			set_here |= strcmp(q->exclude[i], q->exclude[k]) == 0;
		if (set_here)
			return snprintf(why, wl, "zfs receive with -x %s twice",
					q->exclude[i]), -1;
	}
	for (const char *const *p = zfs_mount_props; *p; p++) {
		bool policy_sets = false, excluded = false;
		size_t pl = strlen(*p);

		for (int k = 0; k < cl->nset; k++)
			policy_sets |= strncmp(cl->set[k], *p, pl) == 0 &&
				       cl->set[k][pl] == '=';
		for (int i = 0; i < q->nexclude; i++)
			excluded |= strcmp(q->exclude[i], *p) == 0;
		if (!policy_sets && !excluded)
			return snprintf(why, wl, "zfs receive without -x %s",
					*p), -1;
	}
	for (int i = 0; i < q->nexclude; i++) {
		bool known = false;

		for (const char *const *p = zfs_mount_props; *p; p++)
			known |= strcmp(q->exclude[i], *p) == 0;
		for (int k = 0; k < cl->nexclude; k++)
			known |= strcmp(q->exclude[i], cl->exclude[k]) == 0;
		if (!known)
			return snprintf(why, wl, "zfs receive with -x %s",
					q->exclude[i]), -1;
	}
	for (int k = 0; k < cl->nexclude; k++) {
		bool excluded = false;

		for (int i = 0; i < q->nexclude; i++)
			excluded |= strcmp(q->exclude[i], cl->exclude[k]) == 0;
		if (!excluded)
			return snprintf(why, wl, "zfs receive without -x %s",
					cl->exclude[k]), -1;
	}
	if (cl->push[0] && zfs_name_valid(q->target, 'f') &&
	    zfs_name_within(q->target, cl->push, false))
		return 0;
	return snprintf(why, wl, "%s is not client %s's to receive into",
			q->target, cl->id), -1;
}

int
policy_zfs(const struct conf_client *cl, const struct zfs_req *r, char *why,
	   size_t wl)
{
	char want[600], mark[300];
	const char *at;

	if (cl == NULL)
		return snprintf(why, wl, "no client yet"), -1;
	switch (r->op) {
	case ZOP_GET:
		if (r->what != ZP_GUID && r->what != ZP_RESUME_TOKEN)
			break;
		if (readable(cl, r->name))
			return 0;
		return snprintf(why, wl, "%s is not client %s's", r->name,
				cl->id), -1;
	case ZOP_LIST:
		if (r->what <= 0 || r->what >= ZL_END)
			break;
		if (readable(cl, r->name) && zfs_name_valid(r->name, 'f'))
			return 0;
		return snprintf(why, wl, "%s is not client %s's", r->name,
				cl->id), -1;
	case ZOP_DESCRIBE:
		if (token_ok(cl, r->send.token))
			return 0;
		return snprintf(why, wl, "a resume token that is not for "
				"client %s's datasets", cl->id), -1;
	case ZOP_ESTIMATE:
	case ZOP_SEND:
		/* the estimate too: a session estimates before it answers,
		 * and a refusal then reaches the client as one */
		if (send_ok(cl, &r->send, r->op == ZOP_ESTIMATE, why, wl) < 0)
			return -1;
		return origins_ok(cl, &r->send, why, wl);
	case ZOP_RECV:
		return recv_ok(cl, &r->recv, why, wl);
	case ZOP_MARK:
		/* the base of a client's next pull: DS@SNAP as its mark
		 * DS#zktls:LEN:ID:SNAP, nothing else */
		at = strchr(r->name, '@');
		if (at && zfs_name_valid(r->name, 's') && readable(cl, r->name) &&
		    zfs_mark_name(cl->id, at + 1, mark, sizeof(mark)) == 0 &&
		    (size_t)snprintf(want, sizeof(want), "%.*s#%s",
				     (int)(at - r->name), r->name, mark) <
			    sizeof(want) &&
		    strcmp(r->name2, want) == 0 && own_mark(cl, r->name2))
			return 0;
		return snprintf(why, wl, "bookmark %s as %s", r->name,
				r->name2), -1;
	case ZOP_DESTROY:
		/* and its older marks, nothing else */
		if (own_mark(cl, r->name))
			return 0;
		return snprintf(why, wl, "destroy %s", r->name), -1;
	default:
		break;
	}
	return snprintf(why, wl, "not a request a session makes: zfs %s",
			zfs_op_name(r->op)), -1;
}

/* ------------------------------------------------------------ retention */

#define PRUNE_MAX_SNAPS 8192

int
policy_prune(const char *root, const struct retain_grid *g,
	     const struct zfs_req *r, const struct retain_snap *s, int n,
	     time_t now, char *why, size_t wl)
{
	static struct retain_snap plan[PRUNE_MAX_SNAPS];
	size_t dl = strcspn(r->name, "@");
	int at = -1;

	if (r->op != ZOP_DESTROY || r->what != 0 || r->name2[0] != '\0')
		return snprintf(why, wl, "not a destroy retention makes: zfs "
				"%s", zfs_op_name(r->op)), -1;
	if (root == NULL || root[0] == '\0' || g == NULL || !g->set)
		return snprintf(why, wl, "destroy %s: no keep grid", r->name),
		       -1;
	if (!zfs_name_valid(r->name, 's') || strchr(r->name, '#') != NULL ||
	    !zfs_name_within(r->name, root, true))
		return snprintf(why, wl, "destroy %s: not a snapshot at or "
				"below %s", r->name, root), -1;
	if (n <= 0 || n > PRUNE_MAX_SNAPS)
		return snprintf(why, wl, "destroy %s: no listing of its "
				"dataset", r->name), -1;
	/* the listing is of r's dataset, every entry; the plan is made
	 * here again, from the facts, not taken from the caller */
	for (int i = 0; i < n; i++) {
		if (strncmp(s[i].name, r->name, dl) != 0 ||
		    s[i].name[dl] != '@')
			return snprintf(why, wl, "destroy %s: a listing of "
					"another dataset", r->name), -1;
		if (strcmp(s[i].name, r->name) == 0)
			at = i;
		plan[i] = s[i];
	}
	if (at < 0)
		return snprintf(why, wl, "destroy %s: not in its dataset's "
				"listing", r->name), -1;
	(void)retain_plan(g, plan, n, now);
	if (at == n - 1 || plan[at].keep)
		return snprintf(why, wl, "destroy %s: kept (%s)", r->name,
				plan[at].why), -1;
	return 0;
}
