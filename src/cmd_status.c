/*
 * cmd_status.c - zktls status: what a running zktls serve is doing and
 * what it remembers (active sessions, per client and dataset the last
 * success and failure, staleness, certificate expiry), asked over its
 * control socket (control.c).  The server renders the answer; this prints
 * it: one JSON document with --json, a table otherwise.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "state.h"
#include "zktls.h"

#define DEFAULT_CONTROL "/var/lib/zktls/control"

static const char status_usage[] =
	"usage: zktls status [--control PATH | --config FILE] [--json]\n"
	"  --control PATH   serve's control socket (default "
	DEFAULT_CONTROL ")\n"
	"  --config FILE    take the socket's path from serve's zktls.conf\n"
	"  --json           one JSON document (as serve answers it)\n"
	"root, serve's user and the members of control-group may ask.\n";

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = NULL, *config = NULL;
	struct serve_conf conf;
	char path[CONF_PATH_LEN], *ans = NULL;
	size_t len = 0;
	int ch, json = 0, r;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': control = optarg; break;
		case 'c': config = optarg; break;
		case 'j': json = 1; break;
		case 'h':
			fputs(status_usage, stdout);
			return EXIT_OK;
		default:
			return usage_error("unknown option '%s' for zktls "
					   "status", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (control && config)
		return usage_error("%s", "--control or --config, not both");
	snprintf(path, sizeof(path), "%s", control ? control : DEFAULT_CONTROL);
	if (config) {
		if ((r = conf_load(config, &conf)) < 0)
			goto fail;
		snprintf(path, sizeof(path), "%s", conf.control);
		conf_free(&conf);
	}
	if ((r = control_ask(path, json ? "json\n" : "text\n", 10, &ans,
			     &len)) < 0)
		goto fail;
	if (strncmp(ans, "error: ", 7) == 0) {
		r = zk_fail(ZK_EDENIED, "serve at %s: %.*s", path,
			    (int)strcspn(ans + 7, "\n"), ans + 7);
		goto fail;
	}
	if (len == 0 || ans[len - 1] != '\n') {
		r = zk_fail(ZK_EPROTO, "serve at %s: the answer is cut short",
			    path);
		goto fail;
	}
	/* what came from the socket reaches the terminal only as
	 * printable text: serve escapes everything it shows; a socket that
	 * sends controls (C0, DEL, C1 as UTF-8) is not serve's */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)ans[i];

		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ||
		    (c == 0xc2 && i + 1 < len &&
		     (unsigned char)ans[i + 1] >= 0x80 &&
		     (unsigned char)ans[i + 1] <= 0x9f)) {
			r = zk_fail(ZK_EPROTO, "serve at %s: the answer holds "
				    "control characters (byte %zu)", path, i);
			goto fail;
		}
	}
	fwrite(ans, 1, len, stdout);
	free(ans);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_SYS;
fail:
	free(ans);
	fprintf(stderr, "%szktls: error: %s\n", log_pri(LOG_PRI_ERR),
		zk_errmsg());
	return zk_exit_code(r);
}
