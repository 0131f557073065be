/*
 * test_conf.c - zktls.conf parsing: a complete file, defaults, and each
 * kind of error with its line number.
 */
#include "t.h"
#include "conf.h"

static char err[600];

static int
parse(const char *text, struct serve_conf *c)
{
	return conf_parse(text, strlen(text), c, err, sizeof(err));
}

/* The text must fail with exactly this error. */
static void
bad(const char *text, const char *want)
{
	struct serve_conf c;

	CHECK(parse(text, &c) == -1);
	CHECK_STR(err, want);
}

#define HEAD "listen 127.0.0.1:4433\ncert /c.pem\nkey /k.pem\nca /ca.pem\n"
#define PIN "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int
main(void)
{
	struct serve_conf c;
	char out[8192];

	CHECK(parse(HEAD "timeout 30\nmax-sessions 8\ngrace 5\nmode rw\n"
		    "metrics /m.prom\nuser backup\n"
		    "client alpha {\n name alpha.example.com # comment\n"
		    " name 10.0.0.1\n push backup/alpha\n pull tank/a\n"
		    " pull tank/b\n max-sessions 3\n rate 2M\n"
		    "}\n\n# another\nclient beta {\n\tpin " PIN "\n"
		    "\tpull tank/x\n\tresumable no\n\trollback yes\n"
		    "\traw yes\n\tproperty compression=zstd\n"
		    "\tproperty org.example:kept=a=b\n\texclude atime\n}\n",
		    &c) == 0);
	CHECK(c.nlisten == 1 && c.timeout_s == 30 && c.max_sessions == 8 &&
	      c.grace_s == 5 && c.mode == MODE_RW);
	CHECK_STR(c.user, "backup");
	CHECK_STR(c.metrics, "/m.prom");
	CHECK(c.nclients == 2);
	CHECK_STR(c.clients[0].id, "alpha");
	CHECK(c.clients[0].nnames == 2 && !c.clients[0].have_pin);
	CHECK_STR(c.clients[0].push, "backup/alpha");
	CHECK(c.clients[0].npull == 2 && c.clients[0].max_sessions == 3 &&
	      c.clients[0].rate == 2u << 20 && c.clients[0].resumable);
	CHECK(c.clients[1].have_pin && c.clients[1].pin[0] == 0x01 &&
	      c.clients[1].pin[31] == 0xef && !c.clients[1].resumable &&
	      c.clients[1].max_sessions == 2 && c.clients[1].push[0] == '\0');
	CHECK(!c.clients[0].rollback && !c.clients[0].raw &&
	      c.clients[0].nset == 0 && c.clients[0].nexclude == 0);
	CHECK(c.clients[1].rollback && c.clients[1].raw &&
	      c.clients[1].nset == 2 && c.clients[1].nexclude == 1);
	CHECK_STR(c.clients[1].set[1], "org.example:kept=a=b");
	CHECK_STR(c.clients[1].exclude[0], "atime");
	CHECK(conf_print(&c, out, sizeof(out)) > 0);
	conf_free(&c);
	CHECK(parse(out, &c) == 0 && c.nclients == 2);
	CHECK(c.clients[1].rollback && c.clients[1].raw &&
	      c.clients[1].nset == 2 && c.clients[1].nexclude == 1);
	CHECK_STR(c.clients[1].set[0], "compression=zstd");
	conf_free(&c);

	/* the same rule, or not (a reload stops a changed client's
	 * connections): each field counts, the block's line does not */
	{
		static const char *const changed[] = {
			"name b\n", "name a\nname b\n", "pin " PIN "\n",
			"push p/b\n", "pull p/x\n", "max-sessions 3\n",
			"rate 1M\n", "resumable no\n", "rollback yes\n",
			"property compression=lz4\n", "exclude atime\n",
			"raw yes\n",
		};
		struct serve_conf c1, c2;
		char text[512];

		CHECK(parse(HEAD "client a {\nname a\npush p/a\n}\n", &c1) == 0);
		CHECK(parse(HEAD "\n\nclient a {\nname a\npush p/a\n}\n",
			    &c2) == 0);
		CHECK(conf_client_same(&c1.clients[0], &c2.clients[0]));
		conf_free(&c2);
		for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]);
		     i++) {
			snprintf(text, sizeof(text), HEAD "client a {\n%s%s%s}\n",
				 strncmp(changed[i], "name", 4) ? "name a\n" : "",
				 strncmp(changed[i], "push", 4) ? "push p/a\n" : "",
				 changed[i]);
			CHECK(parse(text, &c2) == 0);
			CHECK(!conf_client_same(&c1.clients[0], &c2.clients[0]));
			conf_free(&c2);
		}
		conf_free(&c1);
	}

	/* defaults */
	CHECK(parse(HEAD "client a {\nname a\npush p/a\n}\n", &c) == 0);
	CHECK(c.timeout_s == 120 && c.max_sessions == 16 && c.grace_s == 30 &&
	      c.mode == MODE_AUTO);
	CHECK_STR(c.user, "zktls");
	conf_free(&c);

	/* retention: a client's keep grid (with push only), the server's
	 * prune-interval; printed back the same; not part of a client's
	 * rights (a reload that changes it stops no connection) */
	{
		struct serve_conf c1, c2;
		char grid[200];

		CHECK(parse(HEAD "prune-interval 600\nclient a {\nname a\n"
			    "push p/a\nkeep hourly=24 daily=30, monthly=12 "
			    "newest=2\n}\n", &c1) == 0);
		CHECK(c1.prune_interval_s == 600 && c1.clients[0].keep.set);
		retain_grid_print(&c1.clients[0].keep, grid, sizeof(grid));
		CHECK_STR(grid, "hourly=24 daily=30 monthly=12 newest=2");
		CHECK(conf_print(&c1, out, sizeof(out)) > 0);
		CHECK(strstr(out, "prune-interval 600\n") != NULL);
		CHECK(strstr(out, "\tkeep hourly=24 daily=30 monthly=12 "
			      "newest=2\n") != NULL);
		CHECK(parse(out, &c2) == 0 && c2.prune_interval_s == 600 &&
		      memcmp(&c2.clients[0].keep, &c1.clients[0].keep,
			     sizeof(c1.clients[0].keep)) == 0);
		conf_free(&c2);
		CHECK(parse(HEAD "client a {\nname a\npush p/a\n}\n", &c2) == 0);
		CHECK(c2.prune_interval_s == 3600 && !c2.clients[0].keep.set);
		CHECK(conf_client_same(&c1.clients[0], &c2.clients[0]));
		conf_free(&c2);
		conf_free(&c1);
		CHECK(parse(HEAD "prune-interval 0\nclient a {\nname a\n"
			    "push p/a\n}\n", &c1) == 0 &&
		      c1.prune_interval_s == 0);
		conf_free(&c1);
	}
	bad(HEAD "client a {\nname a\npull p/a\nkeep daily=3\n}\n",
	    "line 5: client a has keep but no push dataset to keep snapshots "
	    "of");
	bad(HEAD "client a {\nname a\npush p/a\nkeep daily\n}\n",
	    "line 8: keep: 'daily' is not PERIOD=COUNT");
	bad(HEAD "client a {\nname a\npush p/a\nkeep\n}\n",
	    "line 8: keep takes one or more arguments");
	bad(HEAD "client a {\nname a\npush p/a\nkeep daily=3 daily=4\n}\n",
	    "line 8: keep: daily given twice");
	bad(HEAD "client a {\nname a\npush p/a\nkeep daily=3\nkeep newest=1\n}\n",
	    "line 9: keep given twice");
	bad(HEAD "prune-interval 604801\n", "line 5: bad prune-interval '604801' "
	    "(0: only after pushes, or 1 to 604800 seconds)");
	bad(HEAD "prune-interval 1h\n", "line 5: bad prune-interval '1h' (0: only "
	    "after pushes, or 1 to 604800 seconds)");

	/* errors, each with its line */
	bad(HEAD "bogus 1\n", "line 5: unknown directive 'bogus'");
	bad(HEAD "client a {\nname a\nlisten 1.2.3.4:5\n}\n",
	    "line 7: unknown directive 'listen' in a client block");
	bad(HEAD "cert /x\n", "line 5: cert given twice");
	bad(HEAD "cert\n", "line 5: cert takes 1 argument");
	bad(HEAD "timeout 0\n", "line 5: bad timeout '0' (1 to 86400 seconds)");
	bad(HEAD "timeout 12x\n", "line 5: bad timeout '12x' (1 to 86400 seconds)");
	bad(HEAD "cert relative.pem\n", "line 5: cert given twice");
	bad("listen 1.2.3.4:5\ncert rel.pem\n", "line 2: cert must be an absolute path");
	bad("listen nowhere\n", "line 1: bad listen address 'nowhere' (want ADDR:PORT or [ADDR]:PORT)");
	bad(HEAD "mode fast\n", "line 5: bad mode 'fast' (auto, user, rw, splice, direct)");
	bad(HEAD "client a {\nname a\npush -o/x\n}\n", "line 7: bad dataset '-o/x'");
	bad(HEAD "client a {\nname a\npush p/a@s\n}\n", "line 7: bad dataset 'p/a@s'");
	bad(HEAD "client a {\nname *.example.com\npush p/a\n}\n",
	    "line 6: bad name '*.example.com' (a host name or an IP address)");
	bad(HEAD "client a {\npin sha256:12\npush p/a\n}\n",
	    "line 6: bad pin 'sha256:12' (sha256: and 64 hex digits, see zktls pin)");
	bad(HEAD "client a {\nname a\n}\n", "line 5: client a may neither push nor pull");
	bad(HEAD "client a {\npush p/a\n}\n",
	    "line 5: client a has neither a name nor a pin: it could never be recognised");
	bad(HEAD "client a {\nname a\npush p/a\n", "line 5: client a is not closed with '}'");
	bad(HEAD "client a {\nname a\npush p/a\n}\nclient a {\nname b\npull p\n}\n",
	    "line 9: client a is already defined at line 5");
	bad(HEAD "client a {\nclient b {\n", "line 6: client blocks do not nest");
	/* a client an earlier one always takes the place of */
	bad(HEAD "client a {\nname x\npush p/a\n}\nclient b {\nname y\nname X\npull p\n}\n",
	    "line 9: client b: name X is client a's (line 5), which takes its connections");
	bad(HEAD "client a {\npin sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\npush p/a\n}\nclient b {\nname y\npin sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\npull p\n}\n",
	    "line 9: client b: its pin is client a's (line 5), which takes its connections");
	bad(HEAD "client a {\nname x\npush p/a\n}\nclient b {\nname x\npin sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\npull p\n}\n",
	    "line 9: client b: name x is client a's (line 5), which takes its connections");
	/* told apart by their pins, or the earlier one is the narrower
	 * (pinned) rule: both stand */
	{
		CHECK(parse(HEAD "client a {\nname x\npin sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\npush p/a\n}\nclient b {\nname x\npin sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\npull p\n}\n", &c) == 0);
		conf_free(&c);
		CHECK(parse(HEAD "client a {\nname x\npin sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\npush p/a\n}\nclient b {\nname x\npull p\n}\n", &c) == 0);
		conf_free(&c);
	}
	bad(HEAD "}\n", "line 5: '}' without a client block");
	bad(HEAD "client a b {\n", "line 5: want: client ID {");
	bad(HEAD "client a/b {\n", "line 5: bad client id 'a/b' (letters, digits, '.', '-', '_', at most 63)");
	bad(HEAD "client a {\nname a\npush p/a\nresumable maybe\n}\n",
	    "line 8: resumable wants yes or no, not 'maybe'");
	bad(HEAD "client a {\nname a\npush p/a\nrate 0\n}\n",
	    "line 8: bad rate '0' (bytes per second, optionally with K, M or G)");
	bad(HEAD "client a {\nname a\npush p/a\nproperty compression\n}\n",
	    "line 8: bad property 'compression' (PROP=VALUE)");
	bad(HEAD "client a {\nname a\npush p/a\nproperty compression=\n}\n",
	    "line 8: bad property 'compression=' (PROP=VALUE)");
	bad(HEAD "client a {\nname a\npush p/a\nproperty -o=x\n}\n",
	    "line 8: bad property '-o=x' (PROP=VALUE)");
	bad(HEAD "client a {\nname a\npush p/a\nexclude Atime\n}\n",
	    "line 8: bad property name 'Atime'");
	bad(HEAD "client a {\nname a\npush p/a\nexclude a=b\n}\n",
	    "line 8: bad property name 'a=b'");
	bad(HEAD "client a {\nname a\npush p/a\nproperty atime=on\nexclude atime\n}\n",
	    "line 9: property atime named twice");
	bad(HEAD "client a {\nname a\npush p/a\nrollback sometimes\n}\n",
	    "line 8: rollback wants yes or no, not 'sometimes'");
	bad(HEAD "client a {\nname a\npush p/a\nexclude a\nexclude b\n"
	    "exclude c\nexclude d\nexclude e\nexclude f\nexclude g\n"
	    "exclude h\nexclude i\n}\n", "line 16: more than 8 exclude directives");
	bad(HEAD "x\001y\n", "line 5: a control character in the line");
	bad("cert /c\nkey /k\nclient a {\nname a\npush p/a\n}\n", "line 0: no listen address");
	bad("listen 1.2.3.4:5\nclient a {\nname a\npush p/a\n}\n", "line 0: cert and key are required");
	bad(HEAD, "line 0: no client: the server would refuse everybody");
	bad("listen 1.2.3.4:5\ncert /c\nkey /k\nclient a {\nname a\npush p/a\n}\n",
	    "line 4: client a has no pin and there is no ca to check its name against");
	/* state-dir, control, control-group, expect */
	{
		struct serve_conf d, e;
		char txt[8192];
		int64_t v;

		CHECK(parse(HEAD "client a {\nname a\npush p/a\n}\n", &d) == 0);
		CHECK_STR(d.state_dir, "/var/lib/zktls");
		CHECK_STR(d.control, "/var/lib/zktls/control");
		CHECK(d.control_group[0] == '\0' && d.clients[0].expect_s == 0);
		conf_free(&d);
		CHECK(parse(HEAD "state-dir /srv/zk\ncontrol-group backup\n"
			    "client a {\nname a\npush p/a\nexpect 25h\n}\n"
			    "client b {\nname b\npush p/b\nexpect 7d\n}\n",
			    &d) == 0);
		CHECK_STR(d.control, "/srv/zk/control");
		CHECK_STR(d.control_group, "backup");
		CHECK(d.clients[0].expect_s == 25 * 3600 &&
		      d.clients[1].expect_s == 7 * 86400);
		CHECK(conf_print(&d, txt, sizeof(txt)) > 0);
		CHECK(parse(txt, &e) == 0);
		CHECK(e.clients[0].expect_s == 25 * 3600);
		CHECK_STR(e.control, "/srv/zk/control");
		CHECK_STR(e.control_group, "backup");
		/* expect grants nothing: a change stops no connection */
		e.clients[0].expect_s = 60;
		CHECK(conf_client_same(&d.clients[0], &e.clients[0]));
		conf_free(&d);
		conf_free(&e);
		CHECK(parse(HEAD "control /run/zktls/ctl\nclient a {\nname a\n"
			    "push p/a\n}\n", &d) == 0);
		CHECK_STR(d.control, "/run/zktls/ctl");
		CHECK_STR(d.state_dir, "/var/lib/zktls");
		conf_free(&d);
		CHECK(conf_parse_duration("30m", &v) == 0 && v == 1800);
		CHECK(conf_parse_duration("45s", &v) == 0 && v == 45);
		CHECK(conf_parse_duration("366d", &v) == 0 && v == 366 * 86400);
		CHECK(conf_parse_duration("367d", &v) < 0);
		CHECK(conf_parse_duration("0h", &v) < 0);
		CHECK(conf_parse_duration("h", &v) < 0);
		CHECK(conf_parse_duration("12", &v) < 0);
		CHECK(conf_parse_duration("-1h", &v) < 0);
		CHECK(conf_parse_duration("1.5h", &v) < 0);
		CHECK(conf_parse_duration("99999999999999999999h", &v) < 0);
	}
	bad(HEAD "client a {\nname a\npush p/a\nexpect 25\n}\n",
	    "line 8: bad expect '25' (a duration: 30m, 25h, 7d; at most a year)");
	bad(HEAD "client a {\nname a\npush p/a\nexpect 1h\nexpect 2h\n}\n",
	    "line 9: expect given twice");
	bad(HEAD "expect 1h\n", "line 5: unknown directive 'expect'");
	bad(HEAD "state-dir var/lib\n", "line 5: state-dir must be an absolute path");
	bad(HEAD "control /run/zktls/\n",
	    "line 5: control names a socket's path (under 100 bytes)");
	bad(HEAD "control-group a:b\n", "line 5: bad group name 'a:b'");
	bad(HEAD "state-dir /0123456789012345678901234567890123456789"
	    "01234567890123456789012345678901234567890123456789xxxxxxxxxx\n"
	    "client a {\nname a\npush p/a\n}\n",
	    "line 5: state-dir is too long for its control socket (name one with control)");
	T_DONE("test_conf");
}
