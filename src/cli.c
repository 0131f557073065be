/*
 * cli.c - what every subcommand's command line shares: the help text,
 * the usage errors, and the options common to all (TLS, planes,
 * timeouts, output).  main.c dispatches to the cmd_*.c; they parse with
 * these.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zktls.h"

static const char usage_text[] =
	"usage: zktls pipe send (--connect HOST:PORT | --listen ADDR:PORT) "
	"TLS-OPTIONS < STREAM\n"
	"       zktls pipe recv (--connect HOST:PORT | --listen ADDR:PORT) "
	"TLS-OPTIONS > STREAM\n"
	"       zktls send [-i SNAP | -I SNAP] [-RwcLepb] POOL/FS@SNAP\n"
	"                  (--connect HOST:PORT | --listen ADDR:PORT) "
	"[--target POOL/FS] TLS-OPTIONS\n"
	"       zktls recv [-sFude] [-o PROP=VAL] [-x PROP] [--mount]\n"
	"                  [--sender-mount-props] POOL/FS\n"
	"                  (--connect HOST:PORT | --listen ADDR:PORT) "
	"TLS-OPTIONS\n"
	"                  [--source POOL/FS@SNAP [--source-flags wcLepRI]]\n"
	"       zktls serve --config FILE [--check-config] [--json] [-v|-q]\n"
	"       zktls status [--control PATH | --config FILE] [--json]\n"
	"                   [--prune-now | --prune-dry-run]\n"
	"       zktls list --connect HOST:PORT TLS-OPTIONS [--push | --tree]\n"
	"                  [--have GUID]... [--json] DATASET\n"
	"       zktls sync [OPTIONS] POOL/FS HOST[:PORT][:DATASET] (push; "
	"zktls sync --help)\n"
	"       zktls sync [OPTIONS] HOST[:PORT]:DATASET POOL/FS   (pull)\n"
	"       zktls pin CERT.pem\n"
	"       zktls cert init DIR | issue NAME [--san DNS-OR-IP]... | show "
	"FILE\n"
	"                  (a CA and host certificates: zktls cert --help)\n"
	"       zktls version\n"
	"\n"
	"TLS options:\n"
	"  --cert FILE          our certificate chain (PEM)\n"
	"  --key FILE           our private key (PEM)\n"
	"  --ca FILE            CA certificates that vouch for the peer\n"
	"  --peer-name NAME     the peer certificate must name NAME: a DNS or "
	"IP\n"
	"                       subject alternative name (the CN only when "
	"the\n"
	"                       certificate has no SAN at all)\n"
	"  --peer-name-wildcards  let a *.example.com name match NAME\n"
	"  --peer-pin sha256:HEX  the peer's public key must have this pin\n"
	"                       (see zktls pin); without --ca the pin alone "
	"decides\n"
	"Other options:\n"
	"  --mode MODE          data plane: auto (default), user, rw, splice,"
	" direct\n"
	"  --timeout SECONDS    handshake and peer idle timeout (default "
	"120); a quiet\n"
	"                       stream between records is judged by TCP "
	"keepalive\n"
	"  --key-limit RECORDS  send a TLS KeyUpdate after this many records "
	"under one\n"
	"                       AES-GCM key (default and most 16777216)\n"
	"  --listen-timeout SECONDS  a listener gives up when no peer has "
	"authenticated\n"
	"                       by then (default 0: it waits as long as it "
	"takes)\n"
	"  --progress           print progress lines (default when stderr is"
	" a tty)\n"
	"  --no-progress        never print progress lines\n"
	"  -v, --verbose        more detail;  -q, --quiet  errors only\n"

	"  --json               log lines as JSON objects\n"
	"  -h, --help           this text\n"
	"recv: received datasets are not mounted (-u) and ignore the stream's\n"
	"  mountpoint, canmount, sharenfs, sharesmb and overlay (-x), unless:\n"
	"  --mount              mount them (zfs receive without -u)\n"
	"  --sender-mount-props take those properties from the stream\n"
	"recv from zktls serve (a pull):\n"
	"  --source POOL/FS@SNAP   the server's snapshot to fetch; it sends "
	"it\n"
	"                       incremental from the newest one we have\n"
	"  --source-flags LETTERS  ask for zfs send -w -c -L -e -p -R -I\n"
	"serve: see zktls.conf(5); list: what zktls serve holds of DATASET\n"
	"\n"
	"Exit status: 0 ok, 1 system error, 2 usage or configuration, 3 TLS "
	"or\n"
	"authentication failure (or request denied), 4 transfer failure "
	"(network,\n"
	"protocol, truncation, timeout, peer failure), 5 zfs failure (local "
	"or peer).\n";

void
usage_print(FILE *f)
{
	fputs(usage_text, f);
}

static int
vusage_error(const char *sub, const char *fmt, va_list ap)
{
	fprintf(stderr, "%szktls: error: ", log_pri(LOG_PRI_ERR));
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n%sTry 'zktls %s%s--help'.\n", log_pri(LOG_PRI_ERR),
		sub ? sub : "", sub ? " " : "");
	return EXIT_USAGE;
}

int
usage_error(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vusage_error(NULL, fmt, ap);
	va_end(ap);
	return r;
}

int
usage_error_in(const char *sub, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vusage_error(sub, fmt, ap);
	va_end(ap);
	return r;
}

int
common_option(int ch, const char *arg, struct conf *cf)
{
	char *end;

	switch (ch) {
	case OPT_CERT: cf->cert = arg; return 1;
	case OPT_KEY: cf->key = arg; return 1;
	case OPT_CA: cf->ca = arg; return 1;
	case OPT_PEER_NAME: cf->peer_name = arg; return 1;
	case OPT_PEER_PIN: cf->peer_pin = arg; return 1;
	case OPT_WILDCARDS: cf->peer_wildcards = 1; return 1;
	case OPT_JSON: cf->json = 1; return 1;
	case OPT_PROGRESS: cf->progress = 1; return 1;
	case OPT_NO_PROGRESS: cf->progress = 0; return 1;
	case 'v': cf->verbose++; return 1;
	case 'q': cf->quiet = 1; return 1;
	case OPT_MODE:
		return plane_mode_parse(arg, &cf->mode) < 0 ? -ZK_EUSAGE : 1;
	case OPT_TIMEOUT:
		cf->timeout_s = (int)strtol(arg, &end, 10);
		if (*end || end == arg || cf->timeout_s <= 0 ||
		    cf->timeout_s > 86400)
			return zk_fail(ZK_EUSAGE, "bad --timeout '%s'", arg);
		return 1;
	case OPT_KEY_LIMIT: {
		unsigned long long n = strtoull(arg, &end, 10);

		if (*end || end == arg || arg[0] == '-' || n == 0 ||
		    n > ZK_KEY_LIMIT)
			return zk_fail(ZK_EUSAGE, "bad --key-limit '%s' (1 to "
				       "%llu records)", arg,
				       (unsigned long long)ZK_KEY_LIMIT);
		cf->key_limit = n;
		return 1;
	}
	}
	return 0;
}
