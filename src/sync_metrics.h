/*
 * sync_metrics.h - zktls sync --metrics FILE (sync_metrics.c).
 */
#ifndef ZKTLS_SYNC_METRICS_H
#define ZKTLS_SYNC_METRICS_H

#include <stdint.h>

/* One dataset's run. */
struct sync_metric {
	const char *dataset;      /* the local dataset */
	int ok;                   /* brought up to date (or already was) */
	uint64_t bytes;
	unsigned snaps;
};

/* Write FILE for server (HOST:PORT), keeping the last successes the file
 * had that this run did not renew: 0, or a negative ZK_E*. */
int sync_metrics_write(const char *path, const char *server,
		       const struct sync_metric *m, int n, int64_t now);

#endif
