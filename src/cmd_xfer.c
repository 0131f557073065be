/*
 * cmd_xfer.c - the one-shot commands: "pipe send", "pipe recv", "send" and
 * "recv" move one stream over one connection.  They share one option
 * parser (into an immutable struct conf): the TLS options, the connection,
 * and the zfs flags each passes through.  The command builds the TLS
 * context and the connection and hands them to a session.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "zktls.h"

enum {
	OPT_CONNECT = 256, OPT_LISTEN, OPT_TARGET, OPT_MOUNT, OPT_MOUNT_PROPS,
	OPT_LISTEN_TIMEOUT, OPT_SOURCE, OPT_SOURCE_FLAGS,
};

static const struct option long_opts[] = {
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "listen-timeout", required_argument, NULL, OPT_LISTEN_TIMEOUT },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "mount", no_argument, NULL, OPT_MOUNT },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "source-flags", required_argument, NULL, OPT_SOURCE_FLAGS },
	{ "sender-mount-props", no_argument, NULL, OPT_MOUNT_PROPS },
	COMMON_LONG_OPTS,
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* zfs flags each subcommand passes through: letter, takes an argument,
 * summary bit for the peer. */
struct zflag {
	char letter;
	int arg;
	uint32_t bit;
};

static const struct zflag send_flags[] = {
	{ 'i', 1, PROTO_ZF_INCR }, { 'I', 1, PROTO_ZF_INCR_ALL },
	{ 'R', 0, PROTO_ZF_RECURSIVE }, { 'w', 0, PROTO_ZF_RAW },
	{ 'c', 0, PROTO_ZF_COMPRESSED }, { 'L', 0, PROTO_ZF_LARGE },
	{ 'e', 0, PROTO_ZF_EMBED }, { 'p', 0, PROTO_ZF_PROPS },
	{ 'b', 0, 0 }, { 0, 0, 0 },
};

static const struct zflag recv_flags[] = {
	{ 's', 0, 0 }, { 'F', 0, 0 }, { 'u', 0, 0 }, { 'd', 0, 0 },
	{ 'e', 0, 0 }, { 'o', 1, 0 }, { 'x', 1, 0 }, { 0, 0, 0 },
};

static const struct zflag *
zflag_find(const struct zflag *t, int ch)
{
	for (; t && t->letter; t++)
		if (t->letter == ch)
			return t;
	return NULL;
}

/* A zfs option argument: a name or property; never an option itself. */
static int
zfs_arg_ok(int letter, const char *a)
{
	if (a[0] == '\0' || a[0] == '-')
		return 0;
	if (letter == 'i' || letter == 'I')
		return a[0] == '@' || a[0] == '#' || zfs_name_valid(a, 's') ||
		       strchr(a, '#') != NULL;
	return strchr(a, '\n') == NULL;
}

/* zfs option -ch (with its argument arg) into cf's typed request. */
static int
zflag_set(struct conf *cf, int ch, const char *arg)
{
	struct zfs_send_req *q = &cf->send;
	struct zfs_recv_req *v = &cf->recv;

	if (cf->role == ROLE_SENDER) {
		switch (ch) {
		case 'i':
		case 'I':
			if (q->base[0])
				return usage_error("%s", "give one of -i and -I, "
						   "once");
			snprintf(q->base, sizeof(q->base), "%s", arg);
			q->incr_all = ch == 'I';
			return 0;
		case 'b':
			q->backup = true;
			return 0;
		}
		for (const struct zfs_flag *f = zfs_send_flags; f->flag; f++)
			if (f->flag[1] == ch)
				q->flags |= f->bit;
		return 0;
	}
	switch (ch) {
	case 's': v->resumable = true; break;
	case 'F': v->rollback = true; break;
	case 'u': v->nomount = true; break;
	case 'd': v->below = true; break;
	case 'e': v->below_last = true; break;
	case 'o':
		if (strchr(arg, '=') == NULL)
			return usage_error("-o wants PROPERTY=VALUE, not '%s'",
					   arg);
		if (v->nset == ZFS_MAX_PROPS)
			return usage_error("more than %d -o", ZFS_MAX_PROPS);
		snprintf(v->set[v->nset++], sizeof(v->set[0]), "%s", arg);
		break;
	case 'x':
		if (v->nexclude == ZFS_MAX_PROPS)
			return usage_error("more than %d -x", ZFS_MAX_PROPS);
		snprintf(v->exclude[v->nexclude++], sizeof(v->exclude[0]), "%s",
			 arg);
		break;
	}
	return 0;
}

static int
parse(int argc, char **argv, const struct zflag *zf, struct conf *cf)
{
	char optstr[64] = "vqh";
	size_t o = strlen(optstr);
	int ch, r;

	for (const struct zflag *z = zf; z && z->letter; z++) {
		optstr[o++] = z->letter;
		if (z->arg)
			optstr[o++] = ':';
	}
	optstr[o] = '\0';
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, optstr, long_opts, NULL)) != -1) {
		const struct zflag *z;
		char *end;
		int common = common_option(ch, optarg, cf);

		if (common < 0)
			return usage_error("%s", zk_errmsg());
		if (common > 0)
			continue;
		switch (ch) {
		case OPT_CONNECT: cf->connect = optarg; break;
		case OPT_LISTEN: cf->listen = optarg; break;
		case 'h':
			usage_print(stdout);
			exit(EXIT_OK);
		case OPT_MOUNT:
		case OPT_MOUNT_PROPS:
			if (cf->role != ROLE_RECEIVER || !cf->zfs)
				return usage_error("--%s is for zktls recv",
						   ch == OPT_MOUNT ? "mount"
						   : "sender-mount-props");
			if (ch == OPT_MOUNT)
				cf->recv_mount = 1;
			else
				cf->recv_mount_props = 1;
			break;
		case OPT_SOURCE:
		case OPT_SOURCE_FLAGS:
			if (cf->role != ROLE_RECEIVER || !cf->zfs)
				return usage_error("--%s is for zktls recv",
						   ch == OPT_SOURCE ? "source"
						   : "source-flags");
			if (ch == OPT_SOURCE) {
				if (!zfs_name_valid(optarg, 's'))
					return usage_error("invalid --source "
							   "snapshot '%s'",
							   optarg);
				cf->source = optarg;
				break;
			}
			for (const char *f = optarg; *f; f++) {
				const struct zflag *sz = strchr("wcLepRI", *f)
					? zflag_find(send_flags, *f) : NULL;
				if (sz == NULL)
					return usage_error("bad --source-flags "
							   "'%s' (letters of "
							   "wcLepRI)", optarg);
				cf->source_zflags |= sz->bit;
			}
			break;
		case OPT_LISTEN_TIMEOUT:
			cf->listen_timeout_s = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || cf->listen_timeout_s < 0 ||
			    cf->listen_timeout_s > 31536000)
				return usage_error("bad --listen-timeout '%s'",
						   optarg);
			break;
		case OPT_TARGET:
			if (cf->role != ROLE_SENDER || !cf->zfs)
				return usage_error("%s", "--target is for zktls "
						   "send");
			if (!zfs_name_valid(optarg, 'f'))
				return usage_error("invalid --target dataset "
						   "'%s'", optarg);
			cf->target = optarg;
			break;
		case '?':
			if (optopt && strchr(optstr, optopt))
				return usage_error("option -%c needs an "
						   "argument", optopt);
			if (optopt)
				return usage_error("unknown option -%c for "
						   "zktls %s", optopt, cf->cmd);
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		default:
			z = zflag_find(zf, ch);
			if (z == NULL)
				return usage_error("%s", "bad option");
			if (z->arg && (!zfs_arg_ok(ch, optarg) ||
				       strlen(optarg) >= ZFS_NAME_LEN))
				return usage_error("bad zfs option argument "
						   "'%s'", optarg);
			if ((r = zflag_set(cf, ch, optarg)) != 0)
				return r;
			cf->zflags |= z->bit;
		}
	}
	if (cf->zfs && cf->role == ROLE_RECEIVER &&
	    zfs_recv_safe(&cf->recv, cf->recv_mount, cf->recv_mount_props) < 0)
		return usage_error("too many -x: with the %d mount and share "
				   "properties zktls excludes, at most %d "
				   "(--sender-mount-props takes those)",
				   ZFS_MOUNT_PROPS, ZFS_MAX_PROPS);
	if (cf->zfs) {
		if (optind != argc - 1)
			return usage_error("%s", cf->role == ROLE_SENDER
					   ? "zktls send needs one POOL/FS@SNAP"
					   : "zktls recv needs one POOL/FS");
		cf->dataset = argv[optind];
		if (!zfs_name_valid(cf->dataset,
				    cf->role == ROLE_SENDER ? 's' : 'f'))
			return usage_error("invalid %s name '%s'%s",
					   cf->role == ROLE_SENDER ? "snapshot"
								   : "dataset",
					   cf->dataset,
					   cf->role == ROLE_SENDER
						   ? " (want POOL/FS@SNAP)"
						   : "");
	} else if (optind != argc) {
		return usage_error("unexpected argument '%s'", argv[optind]);
	}
	if ((cf->connect == NULL) == (cf->listen == NULL))
		return usage_error("%s", "give exactly one of --connect and "
				   "--listen");
	if (cf->listen_timeout_s && cf->listen == NULL)
		return usage_error("%s", "--listen-timeout is for --listen");
	if (cf->verbose && cf->quiet)
		return usage_error("%s", "-v and -q exclude each other");
	return 0;
}

/* Connect, or listen until a peer authenticates, and run the session. */
static int
run(const struct conf *cf)
{
	struct policy pol;
	struct tls_ctx *ctx = NULL;
	struct session *s = NULL;
	struct conn c = { .fd = -1 };
	const char *note = "";
	int r, lfd;

	policy_oneshot(&pol, cf);
	if ((r = session_new(cf, &pol, &s, &note)) < 0)
		goto out;
	if ((ctx = tls_ctx_new(cf, cf->listen != NULL)) == NULL) {
		r = -zk_errcode();
		goto out;
	}
	session_cipher(s, ctx, cf->listen != NULL, false);
	if (cf->connect) {
		if (note[0])
			log_info("%s", note);
		r = conn_connect(cf->connect, ctx, cf->timeout_s, &c);
		if (r == 0 && (r = session_run(s, &c, 0)) < 0 &&
		    session_cipher_retry(s) && tls_ctx_fall_back(ctx)) {
			/* serve sent us away for ChaCha20: once more */
			conn_close(&c);
			session_free(s);
			s = NULL;
			zk_clear();
			if ((r = session_new(cf, &pol, &s, &note)) == 0 &&
			    (r = conn_connect(cf->connect, ctx, cf->timeout_s,
					      &c)) == 0)
				r = session_run(s, &c, 0);
		}
	} else if ((r = lfd = net_listen(cf->listen, 0)) >= 0) {
		/* After "listening on", which scripts read first. */
		if (note[0])
			log_info("%s", note);
		r = conn_accept(lfd, ctx, cf->timeout_s, cf->listen_timeout_s,
				&c);
		if (r == 0 && (r = session_run(s, &c, 1)) < 0 &&
		    session_sent_away(s)) {
			/* we sent the client away to offer ChaCha20: the
			 * next one that authenticates gets the stream */
			log_verbose("%s", zk_errmsg());
			conn_close(&c);
			session_free(s);
			s = NULL;
			zk_clear();
			if ((r = session_new(cf, &pol, &s, &note)) == 0 &&
			    (r = conn_accept(lfd, ctx, cf->timeout_s,
					     cf->listen_timeout_s, &c)) == 0)
				r = session_run(s, &c, 1);
		}
		close(lfd);
	}
out:
	conn_close(&c);
	session_free(s);
	tls_ctx_free(ctx);
	return r;
}

int
cmd_xfer(int argc, char **argv)
{
	struct conf cf = { .timeout_s = 120, .mode = MODE_AUTO };
	const struct zflag *zf = NULL;
	int r, skip;

	cf.progress = isatty(2);
	if (strcmp(argv[0], "pipe") == 0 && argc >= 2 &&
	    (strcmp(argv[1], "send") == 0 || strcmp(argv[1], "recv") == 0)) {
		cf.role = argv[1][0] == 's' ? ROLE_SENDER : ROLE_RECEIVER;
		cf.cmd = cf.role == ROLE_SENDER ? "pipe send" : "pipe recv";
		skip = 1;
	} else if (strcmp(argv[0], "pipe") == 0) {
		return usage_error("%s", "zktls pipe needs send or recv");
	} else {
		cf.role = argv[0][0] == 's' ? ROLE_SENDER : ROLE_RECEIVER;
		cf.cmd = cf.role == ROLE_SENDER ? "send" : "recv";
		cf.zfs = 1;
		zf = cf.role == ROLE_SENDER ? send_flags : recv_flags;
		skip = 0;
	}
	if ((r = parse(argc - skip, argv + skip, zf, &cf)) != 0)
		return r;
	log_init("zktls", cf.quiet ? LOG_QUIET : LOG_NORMAL + cf.verbose,
		 cf.json);
	/* a listener's first line is "listening on" (scripts read it) */
	if (cf.listen == NULL)
		cert_warn_expiry("our certificate", cf.cert, false);
	if ((r = run(&cf)) < 0) {
		log_error("%s", zk_errmsg());
		return zk_exit_code(r);
	}
	return EXIT_OK;
}
