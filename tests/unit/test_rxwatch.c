/*
 * test_rxwatch.c - the receive watch of the kernel planes (plane_kernel.c)
 * on balances given here, not read from a socket: does kernel TLS hold
 * part of a record once the peer is silent?  Exact mode (zktls reads
 * every byte: the level between records is the base), direct mode (zfs
 * reads: the level is the lowest sample), and where it stops judging.
 */
#include "ktls.h"
#include "plane.h"
#include "t.h"

#define BASE 1000
#define PLAIN 50000

static struct rx_watch
exact(void)
{
	struct rx_watch w;

	memset(&w, 0, sizeof(w));
	w.base = BASE;
	w.plain = PLAIN;
	w.exact = 1;
	return w;
}

/* The balance at which kernel TLS holds h bytes of a record, zfs having
 * read more. */
static int64_t
at(int64_t h, uint64_t more)
{
	return BASE + PLAIN + (int64_t)more + h;
}

static int
partial(struct rx_watch *w, int64_t bal, uint64_t more)
{
	return rx_watch_partial(w, bal, bal, more);
}

static void
test_exact(void)
{
	struct rx_watch w = exact();

	/* between records: nothing held */
	CHECK(partial(&w, at(0, 0), 0) == 0 && !w.off);
	/* part of a record, up to a whole one */
	CHECK(partial(&w, at(1, 0), 0) == 1);
	CHECK(partial(&w, at(100, 0), 0) == 1);
	CHECK(partial(&w, at(TLS_RECORD_MAX, 0), 0) == 1 && !w.off);
	/* what zfs read counts as read (a direct receive's first bytes) */
	CHECK(partial(&w, at(0, 777), 777) == 0);
	CHECK(partial(&w, at(5, 777), 777) == 1);
	/* the balance moved between the two reads: no answer, no verdict */
	CHECK(rx_watch_partial(&w, at(100, 0), at(101, 0), 0) == 0 && !w.off);
	CHECK(rx_watch_partial(&w, at(-5, 0), at(TLS_RECORD_MAX * 2, 0), 0) ==
	      0 && !w.off);
	/* samples are for direct: exact ignores them */
	rx_watch_sample(&w, at(-3000, 0), 0);
	CHECK(!w.have && w.floor == 0);
	CHECK(partial(&w, at(100, 0), 0) == 1);

	/* more than a record: the bytes do not add up, stop judging */
	CHECK(partial(&w, at(TLS_RECORD_MAX + 1, 0), 0) == 0 && w.off);
	CHECK(partial(&w, at(100, 0), 0) == 0);
	/* less than nothing, likewise */
	w = exact();
	CHECK(partial(&w, at(-1, 0), 0) == 0 && w.off);
	CHECK(partial(&w, at(1, 0), 0) == 0 && w.off);
}

static void
test_direct(void)
{
	struct rx_watch w;

	memset(&w, 0, sizeof(w));
	w.base = BASE;
	w.plain = PLAIN;
	/* no sample yet: cannot tell */
	CHECK(partial(&w, at(100, 0), 0) == 0 && !w.off);
	/* the floor is the lowest sample, with what zfs had read by then
	 * (zfs's reads of other files move the level too) */
	rx_watch_sample(&w, at(400, 10), 10);
	CHECK(w.have && w.floor == 400);
	rx_watch_sample(&w, at(300, 20), 20);
	CHECK(w.floor == 300);
	/* a sample read while one of zfs's reads was still copying records
	 * is higher: it never raises the floor */
	rx_watch_sample(&w, at(300 + 9000, 30), 30);
	CHECK(w.floor == 300);
	rx_watch_sample(&w, at(301, 30), 30);
	CHECK(w.floor == 300);
	/* judged from the floor */
	CHECK(partial(&w, at(300, 40), 40) == 0);
	CHECK(partial(&w, at(301, 40), 40) == 1);
	CHECK(partial(&w, at(300 + TLS_RECORD_MAX, 40), 40) == 1);
	/* more than a record over it: something else read for zfs, cannot
	 * tell; below it: the floor was high.  Neither stops the watch. */
	CHECK(partial(&w, at(301 + TLS_RECORD_MAX, 40), 40) == 0 && !w.off);
	CHECK(partial(&w, at(299, 40), 40) == 0 && !w.off);
	CHECK(partial(&w, at(400, 40), 40) == 1);
	/* a lower sample later lowers it */
	rx_watch_sample(&w, at(-50, 50), 50);
	CHECK(w.floor == -50);
	CHECK(partial(&w, at(-50, 60), 60) == 0);
	CHECK(partial(&w, at(0, 60), 60) == 1);
	/* switched off: no samples, no answers */
	w.off = 1;
	rx_watch_sample(&w, at(-9000, 0), 0);
	CHECK(w.floor == -50);
	CHECK(partial(&w, at(0, 60), 60) == 0);
}

/* Where the balance cannot be read, the watch neither samples nor says
 * a record is held. */
static void
test_no_balance(void)
{
	struct rx_watch w = exact(), d;

	CHECK(kplane_rx_partial(&w, -1, 0) == 0 && !w.off);
	memset(&d, 0, sizeof(d));
	kplane_rx_sample(&d, -1, 0);
	CHECK(!d.have);
}

int
main(void)
{
	test_exact();
	test_direct();
	test_no_balance();
	T_DONE("test_rxwatch");
}
