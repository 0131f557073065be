/*
 * main.c - the command line's front door: the table of subcommands and the
 * process-wide setup every command shares.  Each subcommand is a cmd_*.c
 * (their shared options and help text: cli.c); nothing below them prints
 * errors or exits.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "zktls.h"

static int
cmd_pin(int argc, char **argv)
{
	char pin[80];

	if (argc != 2)
		return usage_error("%s", "zktls pin needs one CERT.pem");
	if (tls_cert_pin(argv[1], pin, sizeof(pin)) < 0) {
		fprintf(stderr, "%szktls: error: %s\n", log_pri(LOG_PRI_ERR),
			zk_errmsg());
		return zk_exit_code(-zk_errcode());
	}
	printf("%s\n", pin);
	return EXIT_OK;
}

static int
cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage_print(stdout);
	return EXIT_OK;
}

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("zktls %s\n", ZKTLS_VERSION);
	printf("protocol versions %d %d, ALPN %s\n", PROTO_VERSION,
	       PROTO_VERSION2, ZKTLS_ALPN);
	return EXIT_OK;
}

/* argv[0] of each handler is the command word. */
static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "pipe", cmd_xfer },    { "send", cmd_xfer },
	{ "recv", cmd_xfer },    { "receive", cmd_xfer },
	{ "serve", cmd_serve },  { "list", cmd_list },
	{ "sync", cmd_sync },    { "cert", cmd_cert },
	{ "sync", cmd_sync },    { "status", cmd_status },
	{ "pin", cmd_pin },      { "version", cmd_version },
	{ "--version", cmd_version }, { "help", cmd_help },
	{ "--help", cmd_help },  { "-h", cmd_help },
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (os_harden() < 0) {
		fprintf(stderr, "%szktls: error: %s\n", log_pri(LOG_PRI_ERR),
			zk_errmsg());
		return EXIT_SYS;
	}
	if (argc < 2)
		return usage_error("%s", "missing command");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", argv[1]);
}
