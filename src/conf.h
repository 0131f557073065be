/*
 * conf.h - zktls serve's configuration file (zktls.conf(5)): what the
 * server listens on, its TLS material, and per client who it is and what
 * it may do.  Parsed strictly (conf.c): every error names its line.
 */
#ifndef ZKTLS_CONF_H
#define ZKTLS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "retain.h"
#include "zktls.h"

#define CONF_MAX_LISTEN 8
#define CONF_MAX_NAMES 8
#define CONF_MAX_PULL 16
#define CONF_MAX_PROPS 8
#define CONF_MAX_CLIENTS 1024
#define CONF_PATH_LEN 1024
#define CONF_ID_LEN 64

/* One client: how it is recognised and what it may do. */
struct conf_client {
	char id[CONF_ID_LEN];         /* the block's name: logs, metrics */
	int line;                     /* where the block starts */
	/* Identity: the certificate names one of names (as --peer-name
	 * matches: SANs, the CN only without SANs) and/or its key has pin. */
	char names[CONF_MAX_NAMES][256];
	int nnames;
	int wildcards;                /* a *.example.com SAN may match */
	uint8_t pin[32];
	int have_pin;
	/* push: its snapshots land below this dataset ("" none). */
	char push[256];
	/* pull: snapshots of these datasets and below may be sent to it. */
	char pull[CONF_MAX_PULL][256];
	int npull;
	int max_sessions;             /* at once (default 2) */
	uint64_t rate;                /* bytes/s the server sends it, 0 none */
	int resumable;                /* zfs receive -s (default yes) */
	/* What the server forces on its pushes: zfs receive -F, -o, -x. */
	int rollback;                 /* -F (default no) */
	char set[CONF_MAX_PROPS][256];   /* "PROP=VALUE" (-o) */
	int nset;
	char exclude[CONF_MAX_PROPS][256]; /* "PROP" (-x) */
	int nexclude;
	int raw;                      /* its pulls are always zfs send -w */
	/* expect DURATION: each of its datasets is stale (zktls status,
	 * the metrics) when its last success is older; 0 none. */
	int64_t expect_s;
	/* Retention of what it pushes, applied by serve (not a right of
	 * its sessions: conf_client_same() does not compare it). */
	struct retain_grid keep;
};

struct serve_conf {
	char listen[CONF_MAX_LISTEN][300];
	int nlisten;
	char cert[CONF_PATH_LEN], key[CONF_PATH_LEN], ca[CONF_PATH_LEN];
	char user[64];                /* network-facing processes run as it */
	int privsep;                  /* a root monitor runs zfs (default
					 yes); no: the network process runs
					 it, the same checks first */
	int timeout_s;                /* handshake and idle timeout */
	int max_sessions;             /* at once, all clients */
	int grace_s;                  /* SIGTERM: time to finish sessions */
	enum plane_mode mode;
	char metrics[CONF_PATH_LEN];  /* Prometheus textfile, "" none */
	/* What survives a restart (state.c), default /var/lib/zktls; the
	 * status socket (default STATE-DIR/control) and the group whose
	 * members may read it besides root ("" none). */
	char state_dir[CONF_PATH_LEN], control[CONF_PATH_LEN];
	char control_group[64];
	int prune_interval_s;         /* clients' keep applied every so
					 often (0: only after pushes) */
	/* where they were given (0: not, the default) */
	int listen_line[CONF_MAX_LISTEN], user_line, metrics_line;
	int state_dir_line, control_line, control_group_line;
	struct conf_client *clients;
	int nclients;
};

/* Parse a configuration held in text (len bytes, NUL not needed): 0, or
 * -1 with "line N: what is wrong" in err.  Fills *out (conf_free it). */
int conf_parse(const char *text, size_t len, struct serve_conf *out,
	       char *err, size_t errlen);
/* conf_parse() of a file: 0, or a negative ZK_EUSAGE with "FILE:N: ...". */
int conf_load(const char *path, struct serve_conf *out);
/* Write *c as configuration text that parses back to the same. */
int conf_print(const struct serve_conf *c, char *out, size_t cap);
/* Do a and b give the same client the same identity and rights?  (A
 * reload stops the connections of a client whose rule changed.) */
/* The client rule whose id is id, or NULL.  (Inline: the monitor's code
 * is also linked without the parser.) */
static inline const struct conf_client *
conf_client_by_id(const struct serve_conf *c, const char *id)
{
	for (int i = 0; i < c->nclients; i++)
		if (strcmp(c->clients[i].id, id) == 0)
			return &c->clients[i];
	return NULL;
}
/* A duration: digits and one of s, m, h, d (25h, 30m, 7d): 0, or -1. */
int conf_parse_duration(const char *s, int64_t *out);
bool conf_client_same(const struct conf_client *a,
		      const struct conf_client *b);
void conf_free(struct serve_conf *c);

#endif
