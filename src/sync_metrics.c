/*
 * sync_metrics.c - zktls sync --metrics FILE: a Prometheus textfile on
 * the pushing (or pulling) host, per dataset the last success, the last
 * run's result, bytes and snapshots.  The last success of a dataset that
 * failed this run, or was not part of it, is carried over from the file
 * as it was (so the alert on an old success sees the real age).  Written
 * whole to FILE.tmp.PID (created afresh, no link followed, 0644 whatever the
 * umask: node_exporter reads it as another user), fsync'd, renamed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "sync_metrics.h"
#include "zktls.h"

#define OLD_MAX (4 << 20)
#define KEEP_MAX 4096
#define LAST_OK "zktls_sync_last_success_timestamp_seconds{dataset=\""

struct kept {
	char dataset[256], server[300];
	long long when;
};

/* The value of a label as written by put() (\\, \", \n), up to the
 * closing quote: the end, or NULL. */
static const char *
get_label(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s && *s != '"'; s++) {
		char c = *s;

		if (c == '\\') {
			c = *++s == 'n' ? '\n' : *s;
			if (c == '\0')
				return NULL;
		}
		if (o + 1 >= cap)
			return NULL;
		out[o++] = c;
	}
	out[o] = '\0';
	return *s == '"' ? s + 1 : NULL;
}

/* The last successes in the file as it is (what is not ours or does not
 * parse is skipped). */
static int
read_old(int dfd, const char *base, struct kept *k, int max)
{
	char *buf, *line, *save = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, nk = 0;

	if ((fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
			 O_NONBLOCK)) < 0)
		return 0;
	if ((buf = malloc(OLD_MAX + 1)) == NULL) {
		close(fd);
		return 0;
	}
	while (len < OLD_MAX && (n = read(fd, buf + len, OLD_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line && nk < max;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *p;
		char *end;

		if (strncmp(line, LAST_OK, strlen(LAST_OK)) != 0 ||
		    (p = get_label(line + strlen(LAST_OK), k[nk].dataset,
				   sizeof(k[nk].dataset))) == NULL ||
		    strncmp(p, ",server=\"", 9) != 0 ||
		    (p = get_label(p + 9, k[nk].server,
				   sizeof(k[nk].server))) == NULL ||
		    strncmp(p, "} ", 2) != 0)
			continue;
		errno = 0;
		k[nk].when = strtoll(p + 2, &end, 10);
		if (errno || *end || k[nk].when <= 0 ||
		    !zfs_name_valid(k[nk].dataset, 'f'))
			continue;
		nk++;
	}
	free(buf);
	return nk;
}

int
sync_metrics_write(const char *path, const char *server,
		   const struct sync_metric *m, int n, int64_t now)
{
	const char *slash = strrchr(path, '/'), *base;
	char dir[1024], tmp[1100];
	struct kept *k = NULL;
	FILE *f = NULL;
	int dfd, fd = -1, nk, e, r = -1;

	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
		base = path;
	} else {
		snprintf(dir, sizeof(dir), "%.*s",
			 slash == path ? 1 : (int)(slash - path), path);
		base = slash + 1;
	}
	if (*base == '\0')
		return zk_fail(ZK_EUSAGE, "--metrics %s is not a file's path",
			       path);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return zk_fail_errno(ZK_ESYS, "--metrics: %s", dir);
	if ((k = calloc(KEEP_MAX, sizeof(*k))) == NULL) {
		close(dfd);
		return zk_fail_errno(ZK_ESYS, "calloc");
	}
	nk = read_old(dfd, base, k, KEEP_MAX);
	/* our own name: two syncs writing one file never rename each
	 * other's half-written one into place */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", base, (long)getpid());
	(void)unlinkat(dfd, tmp, 0);
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			 O_CLOEXEC, 0644)) < 0 || fchmod(fd, 0644) < 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		r = zk_fail_errno(ZK_ESYS, "--metrics: %s/%s", dir, tmp);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	/* this run's successes replace what was kept */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < nk; j++)
			if (m[i].ok && strcmp(k[j].dataset, m[i].dataset) == 0 &&
			    strcmp(k[j].server, server) == 0)
				k[j].when = 0;
	fprintf(f, "# HELP zktls_sync_last_success_timestamp_seconds When "
		"zktls sync last brought a dataset up to date.\n"
		"# TYPE zktls_sync_last_success_timestamp_seconds gauge\n");
	for (int j = 0; j < nk; j++)
		if (k[j].when) {
			fputs(LAST_OK, f);
			metrics_label(f, k[j].dataset);
			fputs("\",server=\"", f);
			metrics_label(f, k[j].server);
			fprintf(f, "\"} %lld\n", k[j].when);
		}
	for (int i = 0; i < n; i++)
		if (m[i].ok) {
			fputs(LAST_OK, f);
			metrics_label(f, m[i].dataset);
			fputs("\",server=\"", f);
			metrics_label(f, server);
			fprintf(f, "\"} %" PRId64 "\n", now);
		}
	fprintf(f, "# HELP zktls_sync_last_run_success 1 when the last run "
		"brought the dataset up to date.\n"
		"# TYPE zktls_sync_last_run_success gauge\n");
	for (int i = 0; i < n; i++) {
		fputs("zktls_sync_last_run_success{dataset=\"", f);
		metrics_label(f, m[i].dataset);
		fputs("\",server=\"", f);
		metrics_label(f, server);
		fprintf(f, "\"} %d\n", m[i].ok);
	}
	fprintf(f, "# HELP zktls_sync_last_run_bytes Stream bytes the last "
		"run moved.\n# TYPE zktls_sync_last_run_bytes gauge\n");
	for (int i = 0; i < n; i++) {
		fputs("zktls_sync_last_run_bytes{dataset=\"", f);
		metrics_label(f, m[i].dataset);
		fputs("\",server=\"", f);
		metrics_label(f, server);
		fprintf(f, "\"} %" PRIu64 "\n", m[i].bytes);
	}
	fprintf(f, "# HELP zktls_sync_last_run_snapshots Snapshots the last "
		"run sent or received.\n"
		"# TYPE zktls_sync_last_run_snapshots gauge\n");
	for (int i = 0; i < n; i++) {
		fputs("zktls_sync_last_run_snapshots{dataset=\"", f);
		metrics_label(f, m[i].dataset);
		fputs("\",server=\"", f);
		metrics_label(f, server);
		fprintf(f, "\"} %u\n", m[i].snaps);
	}
	fprintf(f, "# HELP zktls_sync_last_run_timestamp_seconds When the "
		"last run ended.\n"
		"# TYPE zktls_sync_last_run_timestamp_seconds gauge\n"
		"zktls_sync_last_run_timestamp_seconds{server=\"");
	metrics_label(f, server);
	fprintf(f, "\"} %" PRId64 "\n", now);
	if (fflush(f) != 0 || fsync(fd) != 0) {
		e = errno;
		fclose(f);
		errno = e;
		r = zk_fail_errno(ZK_ESYS, "--metrics: %s/%s", dir, tmp);
		(void)unlinkat(dfd, tmp, 0);
		goto out;
	}
	if (fclose(f) != 0 || renameat(dfd, tmp, dfd, base) != 0) {
		r = zk_fail_errno(ZK_ESYS, "--metrics: %s", path);
		(void)unlinkat(dfd, tmp, 0);
		goto out;
	}
	r = 0;
out:
	free(k);
	close(dfd);
	return r;
}
