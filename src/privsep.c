/*
 * privsep.c - serve's privilege separation.
 *
 * Each connection gets two processes.  The network-facing one (TLS
 * handshake, the session protocol, the data plane) runs as the
 * configuration's unprivileged user, with no capabilities, no_new_privs
 * and a seccomp filter: a bug in the code that parses what the peer sends
 * gives no root and cannot run programs.  Its parent, the monitor, stays
 * root and is the only one that runs zfs.  The network process asks it
 * over a socketpair for typed zfs requests (struct zfs_req, encoded by
 * zfs_req_encode()), never for an argument vector: the monitor decodes
 * each, asks policy_zfs() whether the client may make it, and only then
 * has zfs.c spell and run it.  On the direct plane the socket itself is
 * passed to the monitor (SCM_RIGHTS) and handed to zfs.
 *
 * With "privsep no" (zktls.conf) there is no monitor: the one process
 * runs zfs itself, but each request is judged first by the same
 * policy_zfs(), so that the policy decides the same in both modes; only
 * the confinement is gone.
 *
 * What the network process says about who the client is, the monitor
 * takes as said: a network process taken over during or after the
 * handshake could claim to be another configured client, and get what
 * that client may do, but never more than the policy gives some client.
 *
 * Requests (network -> monitor), each one message on a SOCK_SEQPACKET
 * socketpair: an op byte, then its body; SPAWN carries an fd.  Replies:
 * an i32 status, a "more follows" byte, then text, in as many messages
 * as the text needs.  Which ops the monitor takes depends on the
 * connection's state (the table perms[]):
 *   CLIENT id          new: the client the session serves, once
 *   ZFS e req          known client: run req (e: 1 for its stderr too),
 *                      return its exit code and its output
 *   SPAWN req + fd     known client, nothing running: start a send (or
 *                      its estimate, for zfs's words) or a receive with
 *                      fd as its stdout or stdin
 *   EXITED             running: has it exited?  (0/1, its wait status)
 *   WAIT               running: reap it: wait status, its stderr's tail
 *   KILL               SIGTERM it (nothing, when nothing runs)
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "proto.h"
#include "zktls.h"

#define MSG_MAX 16384

enum { OP_CLIENT = 1, OP_ZFS, OP_SPAWN, OP_EXITED, OP_WAIT, OP_KILL, OP_END };

/* ------------------------------------------------------------ transport */

static int
send_msg(int fd, const void *buf, size_t len, int pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (pass_fd >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/* One message into buf (at most cap bytes): its length, or -1; *got_fd
 * gets a passed fd or -1. */
static ssize_t
recv_msg(int fd, void *buf, size_t cap, int *got_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	if (got_fd)
		*got_fd = -1;
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int f;
			memcpy(&f, CMSG_DATA(c), sizeof(int));
			if (got_fd && *got_fd < 0)
				*got_fd = f;
			else
				close(f);
		}
	if (n >= 0 && (msg.msg_flags & MSG_TRUNC))
		return -1;
	return n;
}

/* ------------------------------------------------------------ client */

static int monitor_fd = -1;
/* privsep no: the configuration and client the checks run for here */
static const struct serve_conf *local_conf;
static const struct conf_client *local_cl;

/* A request (op, body) and its reply: status, text into out. */
static int
call(uint8_t op, const void *body, size_t blen, int pass_fd, char *out,
     size_t cap)
{
	static char buf[MSG_MAX];
	size_t n = 0;
	ssize_t got;
	int32_t status;

	if (1 + blen > sizeof(buf))
		return zk_fail(ZK_ESYS, "privsep: request too long");
	buf[0] = (char)op;
	if (blen)
		memcpy(buf + 1, body, blen);
	if (send_msg(monitor_fd, buf, 1 + blen, pass_fd) < 0)
		return zk_fail_errno(ZK_ESYS, "privsep: to the monitor");
	/* The reply: chunks of [i32 status][u8 more][text], the text
	 * concatenated (a zfs list can be longer than one message). */
	if (out && cap > 0)
		out[0] = '\0';
	for (;;) {
		size_t k;

		got = recv_msg(monitor_fd, buf, sizeof(buf), NULL);
		if (got < (ssize_t)sizeof(status) + 1)
			return zk_fail(ZK_ESYS, "privsep: the monitor did not "
				       "answer");
		memcpy(&status, buf, sizeof(status));
		got -= (ssize_t)sizeof(status) + 1;
		if (out && cap > 0) {
			k = n + (size_t)got < cap - 1 ? (size_t)got : cap - 1 - n;
			memcpy(out + n, buf + sizeof(status) + 1, k);
			n += k;
			out[n] = '\0';
		}
		if (!buf[sizeof(status)])
			break;
	}
	return status;
}

/* A request with its encoded zfs request: [e] req. */
static int
call_req(uint8_t op, uint8_t e, const struct zfs_req *r, int pass_fd,
	 char *out, size_t cap)
{
	static uint8_t body[MSG_MAX - 1];
	int len;

	body[0] = e;
	if ((len = zfs_req_encode(r, body + 1, sizeof(body) - 1)) < 0)
		return zk_fail(ZK_ESYS, "privsep: a request that does not "
			       "encode");
	return call(op, body, (size_t)len + 1, pass_fd, out, cap);
}

int
privsep_client(const char *client)
{
	char why[512];
	int r;

	if (local_conf != NULL) {
		if (local_cl != NULL)
			return zk_fail(ZK_EDENIED, "the client is set once");
		if ((local_cl = conf_client_by_id(local_conf, client)) == NULL)
			return zk_fail(ZK_EDENIED, "no such client");
		return 0;
	}
	if (monitor_fd < 0)
		return 0;
	r = call(OP_CLIENT, client, strlen(client) + 1, -1, why, sizeof(why));
	return r == 0 ? 0 : zk_fail(ZK_EDENIED, "%s", why);
}

/* ---------------------------------------------- the monitor's runner */

static int
remote_capture(const struct zfs_req *r, char *out, size_t cap, bool with_err)
{
	int rc = call_req(OP_ZFS, with_err, r, -1, out, cap);

	if (rc == -ZK_EDENIED)
		return zk_fail(ZK_EDENIED, "%s", out);
	return rc;
}

static int
remote_spawn(const struct zfs_req *r, int fd)
{
	char why[512];
	int rc = call_req(OP_SPAWN, 0, r, fd, why, sizeof(why));

	return rc == 0 ? 0 : zk_fail(rc == -ZK_EDENIED ? ZK_EDENIED : ZK_EZFS,
				     "%s", why);
}

static int
remote_exited(int *status)
{
	char st[32];
	int r = call(OP_EXITED, NULL, 0, -1, st, sizeof(st));

	if (r == 1)
		*status = atoi(st);
	return r;
}

static int
remote_wait(int *status, char *errtext, size_t cap)
{
	char buf[600];
	char *sp;
	int r = call(OP_WAIT, NULL, 0, -1, buf, sizeof(buf));

	if (r < 0)
		return r;
	*status = (int)strtol(buf, &sp, 10);
	snprintf(errtext, cap, "%s", *sp ? sp + 1 : "");
	return 0;
}

static void
remote_kill(void)
{
	(void)call(OP_KILL, NULL, 0, -1, NULL, 0);
}

static const struct zfs_runner monitor_runner = {
	.capture = remote_capture,
	.spawn = remote_spawn,
	.exited = remote_exited,
	.wait = remote_wait,
	.kill = remote_kill,
};

/* ---------------------------------------------- privsep no */

/* Log a refusal: what was refused and why may hold what the peer sent. */
static void
log_refusal(const char *who, enum zfs_op op, const char *client,
	    const char *why)
{
	char sw[600];

	text_safe(why, sw, sizeof(sw));
	log_error("%srefused to run zfs %s for %s: %s", who, zfs_op_name(op),
		  client ? client : "nobody", sw);
}

static int vetting; /* the checks' own zfs requests run unchecked */

static int
local_check(const struct zfs_req *r)
{
	char why[600];
	int ok;

	if (vetting)
		return 0;
	vetting++;
	ok = policy_zfs(local_cl, r, why, sizeof(why)) == 0;
	vetting--;
	if (ok)
		return 0;
	log_refusal("", r->op, local_cl ? local_cl->id : NULL, why);
	return zk_fail(ZK_EDENIED, "%s", why);
}

static const struct zfs_runner checked_runner = { .check = local_check };

/* ------------------------------------------------------------ monitor */

enum state { ST_NEW = 1, ST_CLIENT = 2, ST_RUNNING = 4 };

/* Which op the monitor takes in which state; anything else is refused. */
static const unsigned perms[OP_END] = {
	[OP_CLIENT] = ST_NEW,
	[OP_ZFS] = ST_CLIENT | ST_RUNNING,
	[OP_SPAWN] = ST_CLIENT,
	[OP_EXITED] = ST_RUNNING,
	[OP_WAIT] = ST_RUNNING,
	[OP_KILL] = ST_CLIENT | ST_RUNNING,
};

struct monitor {
	int fd;
	const struct serve_conf *conf;
	const struct conf_client *cl;
	enum state state;
	struct endpoint ep;
	struct zfs_req req;        /* what ep runs */
	pid_t net;
};

static void
reply(struct monitor *m, int32_t status, const char *text, size_t len)
{
	static char buf[MSG_MAX];
	size_t room = sizeof(buf) - sizeof(status) - 1;

	do {
		size_t k = len < room ? len : room;

		memcpy(buf, &status, sizeof(status));
		buf[sizeof(status)] = len > k;  /* more follows */
		memcpy(buf + sizeof(status) + 1, text, k);
		if (send_msg(m->fd, buf, sizeof(status) + 1 + k, -1) < 0)
			return;
		text += k;
		len -= k;
	} while (len > 0);
}

static void
reply_text(struct monitor *m, int32_t status, const char *text)
{
	reply(m, status, text, strlen(text));
}

/* Decode and judge a ZFS or SPAWN body ([e] req) into *r: 0, or -1 with
 * the refusal logged and answered. */
static int
judged(struct monitor *m, const uint8_t *body, size_t len, struct zfs_req *r,
       bool *with_err)
{
	char why[600];

	if (len < 1 || body[0] > 1 || zfs_req_decode(body + 1, len - 1, r) < 0) {
		log_refusal("monitor: ", 0, m->cl ? m->cl->id : NULL,
			    "a malformed request");
		reply_text(m, -ZK_EDENIED, "a malformed request");
		return -1;
	}
	*with_err = body[0] == 1;
	if (policy_zfs(m->cl, r, why, sizeof(why)) < 0) {
		log_refusal("monitor: ", r->op, m->cl->id, why);
		reply_text(m, -ZK_EDENIED, why);
		return -1;
	}
	return 0;
}

static void
handle(struct monitor *m, const uint8_t *buf, ssize_t len, int fd)
{
	static char out[1 << 21];
	static struct zfs_req r;
	const uint8_t *body = buf + 1;
	size_t blen = (size_t)len - 1;
	bool with_err;
	int rc, st;

	if (buf[0] == 0 || buf[0] >= OP_END || !(perms[buf[0]] & m->state)) {
		log_error("monitor: refused request %u in state %u for %s: not "
			  "a request it takes then", buf[0], (unsigned)m->state,
			  m->cl ? m->cl->id : "nobody");
		reply_text(m, -ZK_EDENIED, "not a request the monitor takes "
			   "now");
		goto done;
	}
	switch (buf[0]) {
	case OP_CLIENT:
		if (blen < 2 || body[blen - 1] != '\0' ||
		    memchr(body, '\0', blen) != body + blen - 1 ||
		    (m->cl = conf_client_by_id(m->conf, (const char *)body)) ==
			    NULL) {
			reply_text(m, -ZK_EDENIED, "no such client");
			break;
		}
		m->state = ST_CLIENT;
		reply_text(m, 0, "");
		break;
	case OP_ZFS:
		if (judged(m, body, blen, &r, &with_err) < 0)
			break;
		if (r.op == ZOP_SEND || r.op == ZOP_RECV) {
			reply_text(m, -ZK_EDENIED, "a send or a receive is "
				   "spawned");
			break;
		}
		rc = zfs_do_local(&r, out, sizeof(out), with_err);
		zk_clear();
		reply(m, rc, out, strlen(out));
		break;
	case OP_SPAWN:
		if (judged(m, body, blen, &m->req, &with_err) < 0)
			break;
		if (fd < 0 || (m->req.op != ZOP_SEND && m->req.op != ZOP_RECV &&
				m->req.op != ZOP_ESTIMATE)) {
			reply_text(m, -ZK_EDENIED, fd < 0 ? "no fd"
				   : "only a send (or its estimate) or a receive "
				     "is spawned");
			break;
		}
		zfs_endpoint(&m->ep, &m->req);
		rc = m->ep.start(&m->ep, fd);
		if (rc == 0)
			m->state = ST_RUNNING;
		reply_text(m, rc, rc == 0 ? "" : zk_errmsg());
		zk_clear();
		break;
	case OP_EXITED: {
		siginfo_t si;
		char s[32];

		if (!endpoint_exited(&m->ep, &si)) {
			reply_text(m, 0, "");
			break;
		}
		st = m->ep.finished ? m->ep.status
		     : si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
						: si.si_status & 0x7f;
		snprintf(s, sizeof(s), "%d", st);
		reply_text(m, 1, s);
		break;
	}
	case OP_WAIT:
		(void)m->ep.finish(&m->ep);
		zk_clear();
		snprintf(out, sizeof(out), "%d %s", m->ep.status,
			 m->ep.errtext);
		m->state = ST_CLIENT;
		reply_text(m, 0, out);
		break;
	case OP_KILL:
		if (m->state == ST_RUNNING)
			m->ep.kill(&m->ep);
		reply_text(m, 0, "");
		break;
	}
done:
	if (fd >= 0)
		close(fd);
}

/* The monitor: serve the network process until it is gone, then report
 * its exit status as ours. */
static int
monitor(int fd, const struct serve_conf *conf, pid_t net)
{
	static char buf[MSG_MAX];
	struct monitor m;
	int st = 0;

	memset(&m, 0, sizeof(m));
	m.fd = fd;
	m.conf = conf;
	m.net = net;
	m.state = ST_NEW;
	zfs_use_runner(NULL); /* zfs runs here */
	for (;;) {
		int passed;
		ssize_t n = recv_msg(fd, buf, sizeof(buf), &passed);

		if (n <= 0) {
			if (passed >= 0)
				close(passed);
			break;
		}
		handle(&m, (const uint8_t *)buf, n, passed);
	}
	if (m.state == ST_RUNNING) {
		m.ep.kill(&m.ep);
		(void)m.ep.finish(&m.ep);
	}
	while (waitpid(net, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EXIT_SYS;
}

static pid_t stop_net = -1;

static void
on_term(int sig)
{
	(void)sig;
	if (stop_net > 0)
		kill(stop_net, SIGTERM);
}

int
privsep_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		return zk_fail(ZK_EUSAGE, "no user %s for the network-facing "
			       "processes (create it, or set user in the "
			       "configuration)", user);
	if (pw->pw_uid == 0)
		return zk_fail(ZK_EUSAGE, "user %s is root: the network-facing "
			       "processes must not be", user);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* The network process gives up root for good. */
static int
drop(const char *user)
{
	uid_t uid;
	gid_t gid;
	int r;

	if ((r = privsep_user(user, &uid, &gid)) < 0)
		return r;
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 ||
	    setuid(uid) < 0)
		return zk_fail_errno(ZK_ESYS, "cannot become %s", user);
	if (setuid(0) == 0)
		return zk_fail(ZK_ESYS, "could become root again");
	if (chdir("/") < 0)
		return zk_fail_errno(ZK_ESYS, "chdir /");
	return os_confine();
}

int
privsep_fork(const struct serve_conf *conf, int close_fd, int *monitor_side)
{
	sigset_t term, old;
	int sp[2], r;
	pid_t pid;

	*monitor_side = 0;
	if (!conf->privsep) {
		local_conf = conf; /* checks here, then zfs runs here */
		zfs_use_runner(&checked_runner);
		return 0;
	}
	if (getuid() != 0)
		return zk_fail(ZK_EUSAGE, "privilege separation needs root "
			       "(or 'privsep no' in the configuration)");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return zk_fail_errno(ZK_ESYS, "socketpair");
	/* A SIGTERM (the master stopping this connection) waits until the
	 * monitor can pass it on: killed between the fork and on_term, it
	 * would leave the network process running on alone. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	if ((pid = fork()) < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return zk_fail_errno(ZK_ESYS, "fork");
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(sp[0]);
		monitor_fd = sp[1];
		zfs_use_runner(&monitor_runner);
		return drop(conf->user);
	}
	close(sp[1]);
	if (close_fd >= 0)
		close(close_fd);
	stop_net = pid;
	signal(SIGTERM, on_term);
	sigprocmask(SIG_SETMASK, &old, NULL);
	*monitor_side = 1;
	r = monitor(sp[0], conf, pid);
	close(sp[0]);
	return r;
}
