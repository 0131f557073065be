/*
 * test_net.c - what serve counts a connection in against floods
 * (net_source_group): an IPv4 address, or one mapped into IPv6 or
 * translated by NAT64's well-known prefix, is its own group; an IPv6
 * address is its /64, however it is written; what is neither stays as
 * it is.
 */
#include "zktls.h"
#include "t.h"

static const char *
group(const char *source)
{
	static char out[64];

	net_source_group(source, out, sizeof(out));
	return out;
}

int
main(void)
{
	CHECK_STR(group("192.0.2.7"), "192.0.2.7");
	CHECK_STR(group("127.0.0.2"), "127.0.0.2");
	CHECK_STR(group("[::ffff:192.0.2.7]"), "192.0.2.7");
	CHECK_STR(group("[64:ff9b::192.0.2.7]"), "192.0.2.7");
	CHECK_STR(group("[64:ff9b::1:c000:207]"), "64:ff9b::/64");
	CHECK_STR(group("[2001:db8:0:1::7]"), "2001:db8:0:1::/64");
	CHECK_STR(group("[2001:db8:0:1:ffff:ffff:ffff:ffff]"),
		  "2001:db8:0:1::/64");
	CHECK_STR(group("[2001:0db8:0000:0001:0:0:0:1]"), "2001:db8:0:1::/64");
	CHECK_STR(group("[2001:db8:0:2::7]"), "2001:db8:0:2::/64");
	CHECK_STR(group("[::1]"), "::/64");
	CHECK_STR(group("[fe80::1%eth0]"), "[fe80::1%eth0]");
	CHECK_STR(group("[not an address]"), "[not an address]");
	CHECK_STR(group("[]"), "[]");
	CHECK_STR(group("?"), "?");
	CHECK_STR(group(""), "");
	T_DONE("test_net");
}
