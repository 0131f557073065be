/*
 * policy.c - who may do what.  Fail closed: a request is denied unless a
 * rule allows it, and the answer names the rule's limit.
 *
 * A one-shot receiver's rule comes from its command line: it accepts
 * pushes into its own dataset and the datasets below it (--target).
 * serve's rules come from zktls.conf: a client is recognised by its
 * certificate (names, pin), then may push below its push dataset and pull
 * snapshots of its pull datasets; of zktls's marks it sees its own.
 * (The monitor's check of each zfs command is privsep_allowed().)
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "proto.h"
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
