/*
 * cmd_list.c - "zktls list": ask a zktls serve what it holds of a dataset
 * the client may see (LIST: snapshots and bookmarks with GUIDs, oldest
 * first, and a receive_resume_token), and which of some GUIDs it has
 * (HAVE).  What zktls sync plans with, for an operator's eyes.
 *
 *   zktls list --connect HOST:PORT TLS-OPTIONS [--push | --tree]
 *              [--have GUID]... DATASET
 *
 * Output, one line each (as "zfs list -H -p" does): NAME, GUID and
 * CREATETXG separated by tabs; "receive_resume_token" and the token when
 * there is one; with --have, GUID and "yes" or "no".  --json: one object
 * per line instead.  --push: DATASET is ours, list where our push of it
 * lands on the server; --tree: the datasets below DATASET instead.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "zktls.h"

static const char list_usage[] =
	"usage: zktls list --connect HOST:PORT TLS-OPTIONS [--push | --tree]\n"
	"                  [--have GUID]... [--json] DATASET\n";

int
cmd_list(int argc, char **argv)
{
	enum { O_CONNECT = 256, O_CERT, O_KEY, O_CA, O_NAME, O_PIN, O_WILD,
	       O_TIMEOUT, O_HAVE, O_JSON, O_PROGRESS, O_PUSH, O_TREE };
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, O_CONNECT },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "ca", required_argument, NULL, O_CA },
		{ "peer-name", required_argument, NULL, O_NAME },
		{ "peer-pin", required_argument, NULL, O_PIN },
		{ "peer-name-wildcards", no_argument, NULL, O_WILD },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "have", required_argument, NULL, O_HAVE },
		{ "push", no_argument, NULL, O_PUSH },
		{ "tree", no_argument, NULL, O_TREE },
		{ "json", no_argument, NULL, O_JSON },
		/* accepted as everywhere; there is no stream to show */
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "no-progress", no_argument, NULL, O_PROGRESS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct proto_listing l;
	static struct proto_having hg;
	static uint64_t guids[PROTO_MAX_GUIDS];
	struct conf cf = { .cmd = "list", .timeout_s = 120, .mode = MODE_AUTO };
	struct policy pol = { NULL };
	struct tls_ctx *ctx = NULL;
	struct session *s = NULL;
	struct conn c = { .fd = -1 };
	const char *note = "", *dataset;
	uint32_t nguids = 0;
	uint8_t how = PROTO_LIST_DATASET;
	int ch, r;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		char *end;

		switch (ch) {
		case O_CONNECT: cf.connect = optarg; break;
		case O_CERT: cf.cert = optarg; break;
		case O_KEY: cf.key = optarg; break;
		case O_CA: cf.ca = optarg; break;
		case O_NAME: cf.peer_name = optarg; break;
		case O_PIN: cf.peer_pin = optarg; break;
		case O_WILD: cf.peer_wildcards = 1; break;
		case O_JSON: cf.json = 1; break;
		case O_PROGRESS: break;
		case O_PUSH:
		case O_TREE:
			if (how != PROTO_LIST_DATASET)
				return usage_error("%s", "--push and --tree "
						   "exclude each other");
			how = ch == O_PUSH ? PROTO_LIST_PUSH : PROTO_LIST_TREE;
			break;
		case 'v': cf.verbose++; break;
		case 'q': cf.quiet = 1; break;
		case 'h':
			fputs(list_usage, stdout);
			return EXIT_OK;
		case O_TIMEOUT:
			cf.timeout_s = (int)strtol(optarg, &end, 10);
			if (*end || cf.timeout_s <= 0 || cf.timeout_s > 86400)
				return usage_error("bad --timeout '%s'", optarg);
			break;
		case O_HAVE:
			if (nguids == PROTO_MAX_GUIDS)
				return usage_error("at most %d --have",
						   PROTO_MAX_GUIDS);
			guids[nguids] = strtoull(optarg, &end, 10);
			if (*end || end == optarg || optarg[0] == '-')
				return usage_error("bad --have '%s' (a decimal "
						   "guid)", optarg);
			nguids++;
			break;
		default:
			return usage_error("unknown option '%s' for zktls list",
					   argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return usage_error("%s", "zktls list needs one DATASET");
	dataset = argv[optind];
	if (!zfs_name_valid(dataset, 'f'))
		return usage_error("invalid dataset name '%s'", dataset);
	if (cf.connect == NULL)
		return usage_error("%s", "zktls list needs --connect HOST:PORT");
	log_init("zktls", cf.quiet ? LOG_QUIET : LOG_NORMAL + cf.verbose,
		 cf.json);
	if ((r = session_new(&cf, &pol, &s, &note)) < 0)
		goto out;
	if ((ctx = tls_ctx_new(&cf, 0)) == NULL) {
		r = -zk_errcode();
		goto out;
	}
	if ((r = conn_connect(cf.connect, ctx, cf.timeout_s, &c)) < 0 ||
	    (r = session_attach(s, &c)) < 0 ||
	    (r = session_list(s, how, dataset, &l)) < 0)
		goto out;
	/* the server names what it listed (with --push: where we land) */
	if (l.dataset[0])
		dataset = l.dataset;
	if ((nguids && (r = session_have(s, dataset, guids, nguids, &hg)) < 0) ||
	    (r = session_end(s)) < 0)
		goto out;
	for (uint32_t i = 0; i < l.n; i++) {
		static const char *const kinds[] = { "?", "snapshot",
						     "bookmark", "dataset" };
		if (cf.json)
			printf("{\"name\":\"%s%s\",\"kind\":\"%s\",\"guid\":\"%"
			       PRIu64 "\",\"createtxg\":%" PRIu64 "}\n", dataset,
			       l.e[i].name, kinds[l.e[i].kind & 3], l.e[i].guid,
			       l.e[i].createtxg);
		else
			printf("%s%s\t%" PRIu64 "\t%" PRIu64 "\n", dataset,
			       l.e[i].name, l.e[i].guid, l.e[i].createtxg);
	}
	if (l.token[0])
		printf(cf.json ? "{\"receive_resume_token\":\"%s\"}\n"
			       : "receive_resume_token\t%s\n", l.token);
	for (uint32_t i = 0; i < nguids; i++)
		printf(cf.json ? "{\"guid\":\"%" PRIu64 "\",\"have\":%s}\n"
			       : "%" PRIu64 "\t%s\n", guids[i],
		       hg.have[i] ? (cf.json ? "true" : "yes")
				  : (cf.json ? "false" : "no"));
out:
	conn_close(&c);
	session_free(s);
	tls_ctx_free(ctx);
	if (r < 0) {
		log_error("%s", zk_errmsg());
		return zk_exit_code(r);
	}
	return EXIT_OK;
}
