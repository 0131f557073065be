/*
 * sync_filter.c - which datasets "zktls sync" leaves alone: those an
 * --exclude pattern names and those whose zktls:sync property says off,
 * and everything below them.  Pure (no zfs, no network), for the unit
 * tests; cmd_sync.c reads the names and the property.
 */
#include <fnmatch.h>
#include <stdbool.h>
#include <strings.h>

#include "sync_plan.h"

int
sync_exclude_match(const char *name, char *const *pats, int n)
{
	for (int i = 0; i < n; i++)
		if (fnmatch(pats[i], name, 0) == 0)
			return i;
	return -1;
}

bool
sync_prop_off(const char *value)
{
	return strcasecmp(value, "off") == 0 ||
	       strcasecmp(value, "false") == 0 || strcasecmp(value, "no") == 0;
}
