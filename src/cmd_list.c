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
	enum { O_CONNECT = 256, O_HAVE, O_PUSH, O_TREE };
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, O_CONNECT },
		{ "have", required_argument, NULL, O_HAVE },
		{ "push", no_argument, NULL, O_PUSH },
		{ "tree", no_argument, NULL, O_TREE },
		/* --mode and --progress are accepted as everywhere; a
		 * listing has no stream */
		COMMON_LONG_OPTS,
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
		int common = common_option(ch, optarg, &cf);

		if (common < 0)
			return usage_error("%s", zk_errmsg());
		if (common > 0)
			continue;
		switch (ch) {
		case O_CONNECT: cf.connect = optarg; break;
		case O_PUSH:
		case O_TREE:
			if (how != PROTO_LIST_DATASET)
				return usage_error("%s", "--push and --tree "
						   "exclude each other");
			how = ch == O_PUSH ? PROTO_LIST_PUSH : PROTO_LIST_TREE;
			break;
		case 'h':
			fputs(list_usage, stdout);
			return EXIT_OK;
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
	cert_warn_expiry("our certificate", cf.cert, false);
	if ((r = session_new(&cf, &pol, &s, &note)) < 0)
		goto out;
	if ((ctx = tls_ctx_new(&cf, 0)) == NULL) {
		r = -zk_errcode();
		goto out;
	}
	session_cipher(s, ctx, false, true);
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
	if (l.token[0]) {
		/* the peer's text, unchecked (names are checked when they
		 * arrive): escaped for the terminal and for JSON */
		static char tok[8 * PROTO_TOKEN_LEN];

		if (cf.json)
			json_escape(l.token, tok, sizeof(tok));
		else
			text_safe(l.token, tok, sizeof(tok));
		printf(cf.json ? "{\"receive_resume_token\":\"%s\"}\n"
			       : "receive_resume_token\t%s\n", tok);
	}
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
