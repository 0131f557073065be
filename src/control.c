/*
 * control.c - serve's local status socket (zktls status): an AF_UNIX
 * stream socket, 0660 root:control-group (0600 without a group).  Its
 * mode is a first fence only: each connection's peer is checked with
 * SO_PEERCRED (root, serve's own user, or a member of the group), since a
 * path's permissions say nothing about a descriptor passed on or a
 * directory that others may write.
 *
 * One request a connection: the client writes "json\n" or "text\n" and
 * reads the answer to the end.  The master never reads or writes it
 * itself: a forked copy answers, with timeouts (cmd_serve.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "state.h"

int
control_listen(const char *path, const char *group, gid_t *gid)
{
	struct sockaddr_un sa;
	struct stat st;
	struct group *gr;
	mode_t old;
	int fd, r;

	*gid = (gid_t)-1;
	if (group[0]) {
		if ((gr = getgrnam(group)) == NULL)
			return zk_fail(ZK_EUSAGE, "control-group %s: no such "
				       "group", group);
		*gid = gr->gr_gid;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return zk_fail(ZK_EUSAGE, "control %s: too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	/* its directory serve's or root's, and nobody else's to write: no
	 * one else can swap a link in where the socket goes */
	{
		char dir[sizeof(sa.sun_path)];
		char *slash;

		memcpy(dir, path, strlen(path) + 1);
		slash = strrchr(dir, '/');
		if (slash == NULL)
			return zk_fail(ZK_EUSAGE, "control %s: not an absolute "
				       "path", path);
		slash[slash == dir] = '\0';
		if (stat(dir, &st) < 0)
			return zk_fail_errno(ZK_EUSAGE, "control %s", path);
		if ((st.st_uid != 0 && st.st_uid != geteuid()) ||
		    (st.st_mode & (S_IWGRP | S_IWOTH)))
			return zk_fail(ZK_EUSAGE, "control %s: its directory "
				       "%s may be written by others than serve",
				       path, dir);
	}
	/* a socket left by an earlier serve goes; anything else stays,
	 * and so does the socket of a serve still running there */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return zk_fail(ZK_EUSAGE, "control %s exists and is "
				       "not a socket", path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
			r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
			close(fd);
			if (r == 0)
				return zk_fail(ZK_EUSAGE, "control %s: another "
					       "serve answers there", path);
		}
		if (unlink(path) < 0)
			return zk_fail_errno(ZK_ESYS, "control %s", path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			 0)) < 0)
		return zk_fail_errno(ZK_ESYS, "socket");
	/* created with its mode (0660 or 0600), its group given without
	 * following a link: never wider, nothing else touched */
	old = umask(*gid != (gid_t)-1 ? 0117 : 0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 ||
	    (*gid != (gid_t)-1 &&
	     fchownat(AT_FDCWD, path, (uid_t)-1, *gid,
		      AT_SYMLINK_NOFOLLOW) < 0) ||
	    listen(fd, 16) < 0) {
		r = zk_fail_errno(ZK_ESYS, "control %s", path);
		close(fd);
		return r;
	}
	return fd;
}

bool
control_peer_ok(int fd, gid_t gid, uid_t *uid_out)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	struct passwd pw, *pwp = NULL;
	char buf[16384];
	gid_t groups[4096];
	int ng = 4096;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 ||
	    len != sizeof(uc))
		return false;
	*uid_out = uc.uid;
	if (uc.uid == 0 || uc.uid == geteuid())
		return true;
	if (gid == (gid_t)-1)
		return false;
	if (uc.gid == gid)
		return true;
	/* a member by the group database, as the peer's user */
	if (getpwuid_r(uc.uid, &pw, buf, sizeof(buf), &pwp) != 0 ||
	    pwp == NULL || getgrouplist(pw.pw_name, pw.pw_gid, groups, &ng) < 0)
		return false;
	for (int i = 0; i < ng; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

int
control_ask(const char *path, const char *request, int timeout_s,
	    char **out, size_t *outlen)
{
	struct sockaddr_un sa;
	struct timeval tv = { timeout_s, 0 };
	size_t len = 0, cap = 65536;
	char *buf = NULL;
	ssize_t n;
	int fd, r = 0;

	*out = NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return zk_fail(ZK_EUSAGE, "control %s: too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return zk_fail_errno(ZK_ESYS, "socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = zk_fail_errno(ZK_ESYS, "cannot reach serve at %s", path);
		goto out;
	}
	if (write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		r = zk_fail_errno(ZK_ESYS, "%s", path);
		goto out;
	}
	if ((buf = malloc(cap + 1)) == NULL) {
		r = zk_fail_errno(ZK_ESYS, "malloc");
		goto out;
	}
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap) {
			char *b;

			if (cap >= (64u << 20)) {
				r = zk_fail(ZK_EPROTO, "%s: an answer larger "
					    "than 64 MiB", path);
				goto out;
			}
			if ((b = realloc(buf, cap * 2 + 1)) == NULL) {
				r = zk_fail_errno(ZK_ESYS, "realloc");
				goto out;
			}
			buf = b;
			cap *= 2;
		}
	}
	/* (a reset after the answer ends it as well as a close) */
	if (n < 0 && !(errno == ECONNRESET && len > 0)) {
		r = zk_fail_errno(ZK_ENET, "%s: no answer", path);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}
