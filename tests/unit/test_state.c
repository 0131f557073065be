/*
 * test_state.c - serve's persisted state: a round trip through the file
 * (datasets with spaces, peer text with control bytes), staleness against
 * expect, an atomic save through a directory fd that follows no link, and
 * the parser on hostile input: every truncation and every one-byte change
 * of a good file is parsed or refused whole, never half-loaded, and a
 * list of crafted bad files is refused with its line.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "state.h"

static char err[300];

static int
parse(const char *text, struct state *st)
{
	return state_parse(text, strlen(text), st, err, sizeof(err));
}

static void
bad_at(int line, const char *text, const char *want)
{
	struct state st;

	if (parse(text, &st) != -1)
		fprintf(stderr, "test_state.c:%d: parsed\n", line);
	CHECK(st.e == NULL || (state_free(&st), 0));
	CHECK(st.n == 0 && st.e == NULL);
	CHECK_STR(err, want);
}

#define bad(t, w) bad_at(__LINE__, (t), (w))

static size_t
format(const struct state *st, char *buf, size_t cap)
{
	FILE *f = fmemopen(buf, cap, "w");
	long n;

	CHECK(f != NULL && state_format(st, f) == 0);
	n = ftell(f);
	fclose(f);
	return (size_t)n;
}

#define HEAD "zktls-state 1\nsince 100\n"

int
main(void)
{
	struct state st, back;
	static char buf[1 << 16], mut[1 << 16];
	size_t len;
	char dir[] = "/tmp/test_state.XXXXXX";
	int dfd;

	/* notes, a round trip */
	memset(&st, 0, sizeof(st));
	st.since = 1000;
	state_note(&st, "alpha", "backup/alpha/my home@s1", "push", true, 2000,
		   4096, NULL);
	state_note(&st, "alpha", "backup/alpha/my home@s2", "push", false,
		   2100, 0, "zfs: cannot receive\n\033[31mred\ttab");
	state_note(&st, "beta", "tank/x@p", "pull", true, 2200, 10, NULL);
	state_note(&st, "beta", "-", "-", false, 2300, 0, "");
	state_note(&st, "bad id", "tank/x", "push", true, 1, 1, NULL);
	state_note(&st, "gamma", "not//valid", "push", true, 1, 1, NULL);
	CHECK(st.n == 3);
	CHECK_STR(st.e[0].dataset, "backup/alpha/my home");
	CHECK_STR(st.e[0].ok_snap, "s1");
	CHECK(st.e[0].ok_time == 2000 && st.e[0].ok_bytes == 4096 &&
	      st.e[0].oks == 1 && st.e[0].fails == 1 &&
	      st.e[0].fail_time == 2100);
	CHECK_STR(st.e[0].fail_why, "zfs: cannot receive??[31mred?tab");
	CHECK_STR(st.e[1].dataset, "tank/x");
	CHECK_STR(st.e[1].direction, "pull");
	CHECK_STR(st.e[2].dataset, "-");
	CHECK_STR(st.e[2].fail_why, "failed");
	len = format(&st, buf, sizeof(buf));
	CHECK(strstr(buf, "my%20home") != NULL);
	CHECK(parse(buf, &back) == 0);
	CHECK(back.n == 3 && back.since == 1000);
	CHECK(memcmp(back.e, st.e, sizeof(*st.e) * 3) == 0);
	/* a removed client's entries forgotten, the others kept in order */
	CHECK(state_forget(&back, "alpha") == 1);
	CHECK(back.n == 2);
	CHECK(memcmp(back.e, st.e + 1, sizeof(*st.e) * 2) == 0);
	CHECK(state_forget(&back, "alpha") == 0 && back.n == 2);
	CHECK(state_forget(&back, "beta") == 2 && back.n == 0);
	state_free(&back);
	/* across a gap: alpha, beta, alpha, gamma */
	memset(&back, 0, sizeof(back));
	state_note(&back, "alpha", "p/a", "push", true, 1, 1, NULL);
	state_note(&back, "beta", "p/b", "push", true, 2, 1, NULL);
	state_note(&back, "alpha", "p/c", "push", true, 3, 1, NULL);
	state_note(&back, "gamma", "p/d", "push", true, 4, 1, NULL);
	CHECK(back.n == 4 && state_forget(&back, "alpha") == 2);
	CHECK(back.n == 2);
	CHECK_STR(back.e[0].client, "beta");
	CHECK_STR(back.e[1].client, "gamma");
	CHECK_STR(back.e[1].dataset, "p/d");
	state_free(&back);

	/* the longest entry, every byte of it escaped, parses back */
	{
		struct state lg;
		char ds[256], snap[300], why[400];
		static char lbuf[16384];

		memset(&lg, 0, sizeof(lg));
		memset(ds, ' ', sizeof(ds));
		ds[0] = 'p';
		ds[1] = '/';
		ds[254] = 'x';
		ds[255] = '\0';
		snprintf(snap, sizeof(snap), "%s@%s", ds, "");
		memset(why, '%', sizeof(why));
		why[sizeof(why) - 1] = '\0';
		CHECK(zfs_name_valid(ds, 'f'));
		state_note(&lg, "c", ds, "push", false, 9, 0, why);
		CHECK(lg.n == 1);
		CHECK(format(&lg, lbuf, sizeof(lbuf)) > 1500);
		CHECK(parse(lbuf, &back) == 0 && back.n == 1);
		CHECK(back.n == 1 && memcmp(back.e, lg.e, sizeof(*lg.e)) == 0);
		state_free(&back);
		state_free(&lg);
		(void)snap;
	}

	/* staleness */
	CHECK(!state_stale(&st.e[0], 0, 999999));
	CHECK(!state_stale(&st.e[0], 100, 2100));
	CHECK(state_stale(&st.e[0], 100, 2101));
	CHECK(!state_stale(&st.e[2], 100, 999999)); /* "-": no dataset */
	CHECK(!state_client_silent(&st, "alpha", 100, 999999));
	CHECK(state_client_silent(&st, "delta", 100, 1101));
	CHECK(!state_client_silent(&st, "delta", 100, 1100));
	CHECK(!state_client_silent(&st, "delta", 0, 999999));

	/* every truncation: refused whole, or (cut at a line's end) a
	 * prefix of the entries */
	for (size_t cut = 0; cut < len; cut++) {
		int r = state_parse(buf, cut, &back, err, sizeof(err));

		CHECK(r == 0 ? buf[cut - 1] == '\n' && back.n <= 3
			     : back.n == 0 && back.e == NULL);
		state_free(&back);
	}
	/* every byte changed to each of a few values: no crash (ASan),
	 * refused whole or parsed into entries that are all valid */
	for (size_t i = 0; i < len; i++) {
		static const char vals[] = { 0, '\t', '\n', '%', ' ', 'Z', '9',
					     '-', '@', (char)0xff };
		for (size_t v = 0; v < sizeof(vals); v++) {
			int r;

			memcpy(mut, buf, len);
			mut[i] = vals[v];
			r = state_parse(mut, len, &back, err, sizeof(err));
			if (r == 0)
				for (int k = 0; k < back.n; k++)
					CHECK(strcmp(back.e[k].dataset, "-") == 0 ||
					      zfs_name_valid(back.e[k].dataset, 'f'));
			else
				CHECK(back.n == 0 && back.e == NULL && err[0]);
			state_free(&back);
		}
	}

	bad("", "empty");
	bad("zktls-state 2\nsince 1\n", "line 1: not a zktls state file of version 1");
	bad("zktls-state 1\nsince 1", "line 2: cut short");
	bad("zktls-state 1\nsince -1\n", "line 2: want since TIME");
	bad("zktls-state 1\nsince 99999999999999999999\n", "line 2: want since TIME");
	bad(HEAD "E\ta\ttank/x\tpush\t1\t1\ts\t0\t\t1\t0\n"
	    "E\ta\ttank/x\tpull\t1\t1\ts\t0\t\t1\t0\n",
	    "line 4: client a, dataset tank/x again");
	bad(HEAD "E\ta\ttank/x\tpush\t1\t1\ts\t0\t\t1\n", "line 3: a bad entry");
	bad(HEAD "E\ta\ttank/x\tpush\t1\t1\ts\t0\t\t1\t0\t\n", "line 3: a bad entry");
	bad(HEAD "E\ta b\ttank/x\tpush\t1\t1\ts\t0\t\t1\t0\n", "line 3: a bad entry");
	bad(HEAD "E\ta%20b\ttank/x\tpush\t1\t1\ts\t0\t\t1\t0\n", "line 3: a bad entry");
	bad(HEAD "E\ta\t/x\tpush\t1\t1\ts\t0\t\t1\t0\n", "line 3: a bad entry");
	bad(HEAD "E\ta\ttank/x\tsideways\t1\t1\ts\t0\t\t1\t0\n", "line 3: a bad entry");
	bad(HEAD "E\ta\ttank/x\tpush\t1\t1\ts%00\t0\t\t1\t0\n", "line 3: a bad entry");
	bad(HEAD "E\ta\ttank/x\tpush\t1\t1\ts%4\t0\t\t1\t0\n", "line 3: a bad entry");
	bad(HEAD "E\ta\ttank/x\tpush\t1\t1\ts%zz\t0\t\t1\t0\n", "line 3: a bad entry");
	bad(HEAD "E\ta\ttank/x\tpush\t+1\t1\ts\t0\t\t1\t0\n", "line 3: a bad entry");
	bad(HEAD "E\ta\ttank/x\tpush\t1\t18446744073709551616\ts\t0\t\t1\t0\n",
	    "line 3: a bad entry");
	bad(HEAD "E\ta\ttank/x\tpush\t0\t1\ts\t0\t\t1\t0\n", "line 3: a bad entry");
	bad(HEAD "E\ta\ttank/x\tpush\t1\t1\ts\t5\t\t1\t0\n", "line 3: a bad entry");
	bad(HEAD "X\ta\ttank/x\tpush\t1\t1\ts\t0\t\t1\t0\n", "line 3: a bad entry");
	/* a reason longer than its field */
	{
		static char big[8192];
		int n = snprintf(big, sizeof(big), HEAD "E\ta\ttank/x\tpush\t1\t1"
				 "\ts\t1\t");
		memset(big + n, 'w', 300);
		snprintf(big + n + 300, sizeof(big) - (size_t)n - 300,
			 "\t1\t1\n");
		bad(big, "line 3: a bad entry");
		memset(big, 'x', 5000);
		big[5000] = '\n';
		big[5001] = '\0';
		bad(big, "line 1: too long");
	}

	/* save: atomic, 0600, never through a planted link; load */
	CHECK(mkdtemp(dir) != NULL);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	CHECK(state_load(dfd, &back, 5, err, sizeof(err)) == 1);
	CHECK(back.n == 0 && back.since == 5);
	CHECK(symlinkat("/tmp/test_state_victim_never", dfd, "state.tmp") == 0);
	CHECK(state_save(dfd, &st) == 0);
	CHECK(access("/tmp/test_state_victim_never", F_OK) != 0);
	{
		struct stat sb;

		CHECK(fstatat(dfd, "state", &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		      S_ISREG(sb.st_mode) && (sb.st_mode & 0777) == 0600);
		CHECK(fstatat(dfd, "state.tmp", &sb, AT_SYMLINK_NOFOLLOW) != 0);
	}
	CHECK(state_load(dfd, &back, 5, err, sizeof(err)) == 0);
	CHECK(back.n == 3 && back.since == 1000);
	state_free(&back);
	/* a corrupt file: a fresh start, the bad one kept aside */
	{
		int fd = openat(dfd, "state", O_WRONLY | O_TRUNC);

		CHECK(fd >= 0 && write(fd, "zktls-state 1\ngarbage", 21) == 21);
		close(fd);
	}
	CHECK(state_load(dfd, &back, 7, err, sizeof(err)) == -1);
	CHECK_STR(err, "line 2: cut short");
	CHECK(back.n == 0 && back.since == 7);
	CHECK(faccessat(dfd, "state.bad", F_OK, 0) == 0);
	CHECK(faccessat(dfd, "state", F_OK, 0) != 0);
	/* one client's failures under made-up names: at most
	 * STATE_PER_CLIENT entries of its own, its oldest failures go
	 * first, its success and other clients' entries stay */
	{
		struct state fl;
		char ds[64];
		int mine = 0, other = 0, okay = 0, first = 0;

		memset(&fl, 0, sizeof(fl));
		state_note(&fl, "b", "tank/b", "push", true, 1, 5, NULL);
		state_note(&fl, "a", "backup/a/good", "push", true, 1, 5, NULL);
		for (int i = 0; i < STATE_PER_CLIENT + 100; i++) {
			snprintf(ds, sizeof(ds), "backup/a/junk%d", i);
			state_note(&fl, "a", ds, "push", false, 10 + i, 0, "x");
		}
		for (int i = 0; i < fl.n; i++) {
			mine += strcmp(fl.e[i].client, "a") == 0;
			other += strcmp(fl.e[i].client, "b") == 0;
			okay += strcmp(fl.e[i].dataset, "backup/a/good") == 0;
			first += strcmp(fl.e[i].dataset, "backup/a/junk0") == 0;
		}
		CHECK(mine == STATE_PER_CLIENT);
		CHECK(other == 1);
		CHECK(okay == 1);
		CHECK(first == 0);
		state_free(&fl);
	}

	/* a link planted as the state itself is not followed */
	CHECK(symlinkat("/etc/passwd", dfd, "state") == 0);
	CHECK(state_load(dfd, &back, 7, err, sizeof(err)) == -1);
	CHECK(back.n == 0);
	unlinkat(dfd, "state", 0);
	unlinkat(dfd, "state.bad", 0);
	close(dfd);
	rmdir(dir);
	state_free(&st);
	T_DONE("test_state");
}
