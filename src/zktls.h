/*
 * zktls.h - the one internal header of zktls.
 *
 * zktls moves a ZFS send stream (or any byte stream) from a producer on one
 * host to a consumer on another over mutually-authenticated TLS 1.3.  The
 * handshake and certificate checks happen in userspace with OpenSSL (tls.c);
 * afterwards the session either stays in OpenSSL (the "user" data plane) or
 * is handed to kernel TLS (ktls_linux.c), so the bulk data never has to pass
 * through this process.
 *
 * Glossary
 *   sender    the side that owns the producer (zfs send, or stdin)
 *   receiver  the side that owns the consumer (zfs recv, or stdout)
 *   client    the side that connects; it may be the sender (push) or the
 *             receiver (pull).  Who listens is the operator's choice.
 *   plane     how stream bytes move between the socket and the local
 *             producer/consumer: user, rw, splice, direct (see struct plane;
 *             plane.c picks one, plane_<name>.c each).
 *   chan      one authenticated connection plus the plane that drives it.
 *   endpoint  the local producer or consumer of the stream.
 *
 * Session state machine (one TCP+TLS connection per stream):
 *
 *   client                                   server
 *     | ---- TLS 1.3 handshake, mutual auth ---> |
 *     | ---- REQUEST ---------------------------> |
 *     | <--- REPLY ------------------------------ |   status != ok: both end
 *   sender ==== STREAM (raw bytes) ============> receiver
 *   sender ---- close_notify -------------------> receiver  (half-close)
 *   sender <--- RESULT -------------------------- receiver
 *   sender <--- close_notify -------------------- receiver
 *   sender closes TCP; receiver closes after seeing EOF.
 *
 * The sender reports success only after RESULT says the consumer committed.
 * A connection that ends without close_notify is a failure on both ends.
 *
 * Conventions: functions below the front end return 0 (or a count) on
 * success and a negative ZK_E* code on failure, after recording one line of
 * text with zk_fail().  Every fd is opened O_CLOEXEC.
 */
#ifndef ZKTLS_H
#define ZKTLS_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The Makefile defines it from the file VERSION (for main.o). */
#ifndef ZKTLS_VERSION
#define ZKTLS_VERSION "unknown"
#endif
#define ZKTLS_ALPN "zktls/1"

/* ---------------------------------------------------------------- commands */

/* main.c: the help text, and a usage error (exit status 2). */
void usage_print(FILE *f);
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, pointing at "zktls SUB --help". */
int usage_error_in(const char *sub, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The options every command that connects shares: TLS, --mode,
 * --timeout, --key-limit, --json, --progress, -v, -q.  COMMON_LONG_OPTS goes into a
 * getopt_long table; common_option() takes one: 1 when it was one of
 * them, 0 when not, < 0 on a bad value (the error in zk_errmsg(), for
 * the caller to print: usage_error()). */
enum {
	OPT_CERT = 0x1000, OPT_KEY, OPT_CA, OPT_PEER_NAME, OPT_PEER_PIN,
	OPT_WILDCARDS, OPT_MODE, OPT_TIMEOUT, OPT_JSON, OPT_PROGRESS,
	OPT_NO_PROGRESS, OPT_KEY_LIMIT,
};
#define COMMON_LONG_OPTS                                                  \
	{ "cert", required_argument, NULL, OPT_CERT },                    \
	{ "key", required_argument, NULL, OPT_KEY },                      \
	{ "ca", required_argument, NULL, OPT_CA },                        \
	{ "peer-name", required_argument, NULL, OPT_PEER_NAME },          \
	{ "peer-pin", required_argument, NULL, OPT_PEER_PIN },            \
	{ "peer-name-wildcards", no_argument, NULL, OPT_WILDCARDS },      \
	{ "mode", required_argument, NULL, OPT_MODE },                    \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },              \
	{ "key-limit", required_argument, NULL, OPT_KEY_LIMIT },          \
	{ "json", no_argument, NULL, OPT_JSON },                          \
	{ "progress", no_argument, NULL, OPT_PROGRESS },                  \
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },            \
	{ "verbose", no_argument, NULL, 'v' },                            \
	{ "quiet", no_argument, NULL, 'q' }
struct conf;
int common_option(int ch, const char *arg, struct conf *cf);
/* The subcommands: argv[0] is the command word. */
int cmd_xfer(int argc, char **argv);  /* pipe send|recv, send, recv */
int cmd_serve(int argc, char **argv); /* serve */
int cmd_list(int argc, char **argv);  /* list: LIST/HAVE a serve */
int cmd_sync(int argc, char **argv);  /* sync: bring a dataset up to date */
int cmd_cert(int argc, char **argv);  /* cert: a CA, host certificates */
int cmd_status(int argc, char **argv); /* status: ask a running serve */

/* ---------------------------------------------------------------- errors
 *
 * One convention, everywhere:
 *  - a call that can fail returns int: 0, or a negative ZK_E* with its
 *    text recorded by zk_fail() (the first failure's text is kept until
 *    zk_clear(); a caller that goes on after a failure clears it);
 *  - a predicate ("is it valid", "is it mine") returns bool and records
 *    nothing;
 *  - where there are three outcomes a named value says which (zfs_do():
 *    0, ZFS_FAILED when zfs said no, a negative ZK_E* when it could not
 *    be asked; policy answers: 0, or -1 with why in the caller's buffer,
 *    text meant for the peer, nothing recorded);
 *  - counts are returned as int >= 0, or -1 where nothing was counted.
 */

enum zk_err {
	ZK_OK = 0,
	ZK_ESYS = 1,   /* local system error (exit 1) */
	ZK_EUSAGE,     /* bad arguments or configuration (exit 2) */
	ZK_ETLS,       /* handshake, certificate, authentication (exit 3) */
	ZK_EDENIED,    /* peer refused the request (exit 3) */
	ZK_ENET,       /* connect/listen failed, connection cut, timeout (exit 4) */
	ZK_EPROTO,     /* peer violated the protocol (exit 4) */
	ZK_EPEER,      /* peer reported a transfer failure (exit 4) */
	ZK_EZFS,       /* zfs (or the local consumer/producer) failed (exit 5) */
	ZK_EPEERZFS,   /* the peer's zfs failed (exit 5) */
	ZK_EEARLY,     /* receiver spoke while we were still sending (exit 4) */
	ZK_ENOKTLS,    /* kernel TLS unavailable: caller falls back (exit 1) */
};

enum zk_exit {
	EXIT_OK = 0,
	EXIT_SYS = 1,
	EXIT_USAGE = 2,
	EXIT_AUTH = 3,
	EXIT_TRANSFER = 4,
	EXIT_ZFS = 5,
};

/* Record the first failure's text (later calls do not overwrite it until
 * zk_clear()); returns -code so callers can `return zk_fail(...)`. */
int zk_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like zk_fail, appending ": strerror(errno)". */
int zk_fail_errno(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Add text to the recorded failure (nothing without one). */
void zk_append(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *zk_errmsg(void);
int zk_errcode(void);
void zk_clear(void);
int zk_exit_code(int err); /* err: negative ZK_E* or 0 */
const char *zk_strerror(int err);

/* ---------------------------------------------------------------- log.c */

enum log_level { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2, LOG_DEBUG = 3 };
void log_init(const char *progname, int level, int json);
int log_level(void);
int log_json(void);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_listening(const char *addr);
/* Syslog priorities, for log_pri(). */
enum { LOG_PRI_ERR = 3, LOG_PRI_WARNING = 4, LOG_PRI_INFO = 6,
       LOG_PRI_DEBUG = 7 };
/* "<N>" when stderr is the journal and lines are text, else "". */
const char *log_pri(int pri);
/* s as the body of a JSON string: quotes and backslashes escaped, and
 * what text_safe() escapes too; always valid UTF-8. */
void json_escape(const char *s, char *out, size_t cap);
/* s for a terminal: printable ASCII and well-formed printable UTF-8 pass;
 * C0/C1 controls, DEL and direction overrides become \u{HHHH}, bytes that
 * are not UTF-8 become \xHH.  Truncates at cap. */
void text_safe(const char *s, char *out, size_t cap);

/* ---------------------------------------------------------------- conf */

enum role { ROLE_SENDER, ROLE_RECEIVER };

enum plane_mode {
	MODE_AUTO = 0,
	MODE_USER,
	MODE_RW,
	MODE_SPLICE,
	MODE_DIRECT,
};

/*
 * What zktls asks of zfs, typed.  zfs.c alone turns a request into an
 * argument vector (zfs_argv()), and serve's monitor judges requests by
 * their fields (policy_zfs()), never an argument vector.
 */
#define ZFS_NAME_LEN 256
#define ZFS_TOKEN_LEN 1024
#define ZFS_MAX_PROPS 16
/* The most words a request's argument vector has, its NULL included. */
#define ZFS_ARGV_MAX (4 * ZFS_MAX_PROPS + 16)

/* zfs send FLAGS [-i|-I BASE] SNAP, or zfs send FLAGS -t TOKEN */
struct zfs_send_req {
	char snap[ZFS_NAME_LEN];   /* POOL/FS@SNAP; "" with a token */
	char base[ZFS_NAME_LEN];   /* "@s", "#b" or a whole name; "" full */
	bool incr_all;             /* -I BASE (else -i) */
	bool backup;               /* -b */
	uint32_t flags;            /* PROTO_ZF_RAW COMPRESSED LARGE EMBED
				      PROPS RECURSIVE: -w -c -L -e -p -R */
	char token[ZFS_TOKEN_LEN]; /* resume: -t TOKEN (and of the flags
				      only -w -c -L -e) */
};

/* zfs receive FLAGS [-o P=V]... [-x P]... TARGET */
struct zfs_recv_req {
	char target[ZFS_NAME_LEN];
	bool resumable;            /* -s */
	bool rollback;             /* -F */
	bool nomount;              /* -u */
	bool below;                /* -d */
	bool below_last;           /* -e */
	int nset, nexclude;
	char set[ZFS_MAX_PROPS][ZFS_NAME_LEN];     /* -o PROP=VALUE */
	char exclude[ZFS_MAX_PROPS][ZFS_NAME_LEN]; /* -x PROP */
};

enum zfs_op {
	ZOP_GET = 1,    /* zfs get -H -p -o value PROP(what) NAME */
	ZOP_LIST,       /* zfs list -H -p ... NAME (what: enum zfs_list) */
	ZOP_ORIGINS,    /* zfs list -H -o name,origin [-r if what] NAME */
	ZOP_DESCRIBE,   /* zfs send -nv -t send.token */
	ZOP_ESTIMATE,   /* zfs send -nP (send) */
	ZOP_SEND,       /* zfs send (send), the stream on an fd */
	ZOP_RECV,       /* zfs receive (recv), the stream from an fd */
	ZOP_MARK,       /* zfs bookmark NAME NAME2 */
	ZOP_DESTROY,    /* zfs destroy NAME */
	ZOP_HOLD,       /* zfs hold NAME2(tag) NAME */
	ZOP_RELEASE,    /* zfs release NAME2(tag) NAME */
	ZOP_ROLLBACK,   /* zfs rollback [-r if what] NAME */
	ZOP_END
};
enum zfs_prop { ZP_GUID = 1, ZP_RESUME_TOKEN, ZP_WRITTEN, ZP_END };
enum zfs_list {
	ZL_TREE = 1,    /* name,guid,createtxg of NAME's datasets (-r) */
	ZL_ENTRIES,     /* name,guid,createtxg of its snapshots, bookmarks */
	ZL_SNAPS,       /* name,guid of its snapshots, oldest first */
	ZL_GUIDS,       /* name,guid of its snapshots and bookmarks */
	ZL_SNAP_GUIDS,  /* guid of its snapshots */
	ZL_SYNC,        /* name,zktls:sync of NAME's datasets (-r) */
	ZL_RETAIN,      /* name,guid,creation,userrefs of its snapshots,
			   oldest first (retention) */
	ZL_ALL,         /* name,guid,createtxg,receive_resume_token of NAME,
			   its datasets, their snapshots and bookmarks (-r) */
	ZL_END
};
struct zfs_req {
	enum zfs_op op;
	int what;                  /* GET: enum zfs_prop; LIST: enum
				      zfs_list; ORIGINS, ROLLBACK: -r */
	char name[ZFS_NAME_LEN];
	char name2[ZFS_NAME_LEN];
	struct zfs_send_req send;  /* DESCRIBE, ESTIMATE, SEND */
	struct zfs_recv_req recv;  /* RECV */
};

/* Everything the command line says; immutable once parsed. */
struct conf {
	const char *cmd;      /* "pipe send", "send", ... for messages */
	enum role role;
	int zfs;              /* 1: send/recv subcommands, 0: pipe */
	const char *connect;  /* HOST:PORT or NULL */
	const char *listen;   /* ADDR:PORT or NULL */
	const char *cert, *key, *ca;
	const char *peer_name;
	const char *peer_pin; /* "sha256:HEX" */
	int peer_wildcards;   /* --peer-name-wildcards */
	enum plane_mode mode;
	int timeout_s;        /* handshake and idle timeout */
	uint64_t key_limit;   /* --key-limit: records per key (0: ZK_KEY_LIMIT) */
	int listen_timeout_s; /* --listen-timeout: 0 waits as long as it takes */
	int verbose, quiet, json, progress;
	int busy_quiet;       /* a "busy" answer is not logged: the caller
				 tries again (sync) */
	const char *progress_label; /* progress lines name it (sync's
				       parallel datasets) */
	/* zfs */
	const char *dataset;  /* send: POOL/FS@SNAP; recv: POOL/FS */
	const char *target;   /* send: --target */
	const char *source;   /* recv: --source, the snapshot to pull */
	uint32_t source_zflags; /* recv: --source-flags (PROTO_ZF_*) */
	int recv_mount;       /* recv --mount: no -u */
	int recv_mount_props; /* recv --sender-mount-props: no -x for them */
	struct zfs_send_req send; /* send: the flags and base (snap and
				     token are the session's) */
	struct zfs_recv_req recv; /* recv: the flags, -o and -x (target is
				     the session's) */
	uint32_t zflags;      /* PROTO_ZF_*: what send says to the peer */
};

/* ---------------------------------------------------------------- net.c */

/* Split "HOST:PORT" / "[V6]:PORT"; host may be empty for listen. */
int net_parse_addr(const char *s, char *host, size_t hostlen, char *port,
		   size_t portlen);
/* Returns a connected, blocking, O_CLOEXEC TCP socket or negative. */
int net_connect(const char *hostport, int timeout_s);
/* Returns a listening socket; prints "zktls: listening on ADDR:PORT".
 * v6only: an IPv6 one takes IPV6_V6ONLY (no IPv4 through it). */
int net_listen(const char *addrport, int v6only);
/* Listeners on these n (at most 64) addresses: v6only[i] set for the
 * IPv6 ones whose port an IPv4 one also listens on (then [::]:P and
 * 0.0.0.0:P both bind, each for its family; alone, [::]:P takes IPv4
 * too).  0, or -1 when clash[1] could not be bound beside the earlier
 * clash[0] (the same port, and the same address or a wildcard of its
 * family).  Addresses that do not resolve are left to net_listen(). */
int net_listen_plan(const char *const *addrs, int n, int *v6only,
		    int clash[2]);
/* Accepts one connection (blocking, O_CLOEXEC), closes nothing. */
int net_accept(int lfd, char *peer, size_t peerlen);
/* The group a peer's address (as net_accept gives it, without the port:
 * "192.0.2.7", "[2001:db8::7]") counts in against floods: an IPv4
 * address, or one mapped into IPv6 or translated by NAT64's well-known
 * prefix, is its own ("192.0.2.7"); an IPv6 address counts with its /64
 * ("2001:db8::/64"): one host may hold all of its /64, so an address
 * each would hold it to nothing.  Anything else (a link-local address
 * with its scope id) is its own. */
void net_source_group(const char *source, char *out, size_t cap);
/* Keepalive, TCP_USER_TIMEOUT, Nagle off (net_nodelay), large buffers. */
void net_tune(int fd, int timeout_s);
/* Nagle's algorithm off (on: false) or back on.  Off from the start:
 * the handshake and the protocol's messages are small writes in a row,
 * and with Nagle each waited for the peer's delayed ACK (40 ms on Linux,
 * measured: 52 ms to a LIST answer, 11 ms without).  A sender turns it
 * back on for the stream (record tails coalesce into full segments) and
 * off after it, which also sends the last tail at once. */
void net_nodelay(int fd, bool off);
/* Half-close and discard input until EOF or ms pass (no RST for data the
 * peer sent that we never read). */
void net_drain_close(int fd, int ms);
/* poll() one fd; returns 1 ready, 0 timeout, negative error. */
int net_wait(int fd, short events, int timeout_ms);
/* Bytes TCP holds unread on fd (FIONREAD), or -1. */
int net_inq(int fd);

/* ---------------------------------------------------------------- conn.c */

struct tls_ctx;  /* shared configuration (certificates, CA, policy) */
struct tls;      /* one connection's handshake */

/* An authenticated connection: the socket, its finished handshake, and
 * the peer's address for logs. */
struct conn {
	int fd;
	struct tls *tls;
	char addr[300];
};

/* Connect to HOST:PORT and complete the handshake. */
int conn_connect(const char *hostport, struct tls_ctx *ctx, int timeout_s,
		 struct conn *c);
/* Accept on lfd (not closed) until a peer authenticates, handshakes
 * running concurrently, each bounded by timeout_s; failures are logged,
 * one line each.  wait_s > 0 bounds the whole wait. */
int conn_accept(int lfd, struct tls_ctx *ctx, int timeout_s, int wait_s,
		struct conn *c);
void conn_close(struct conn *c);

/* ---------------------------------------------------------------- tls.c */


struct tls_ctx *tls_ctx_new(const struct conf *cf, int server);
/* Our certificate (chain) and key, and the CA that vouches for peers. */
struct tls_files {
	const char *cert, *key, *ca;
};
/* serve: a server context that accepts any peer whose certificate
 * chains to ca, or (no ca) whose key has one of pins; which client it is
 * is decided after the handshake (tls_peer_named, tls_peer_pin). */
struct tls_ctx *tls_ctx_new_serve(const struct tls_files *files,
				  const uint8_t (*pins)[32], int npins);
void tls_ctx_free(struct tls_ctx *ctx);
/*
 * The cipher suites a side asks for (cipher.c says which and why):
 *   ANY    AES-GCM first, ChaCha20-Poly1305 offered; a server keeps the
 *          client's order (both sides can change keys, or queries only)
 *   AES    a client offers AES-GCM only; a server insists on AES-GCM (its
 *          stream fits one key)
 *   CHACHA ChaCha20-Poly1305 first; a server refuses a client that offers
 *          only AES-GCM (TLS alert insufficient_security)
 *   LATER  a server: ChaCha20-Poly1305 first, unless the client offers
 *          only AES-GCM (it says its stream fits; serve's sender checks
 *          its own after the REQUEST)
 * A server that sends checks after the REQUEST, when both sides' key
 * changing is known (PROTO_ST_CIPHER).
 */
enum tls_want { TLS_WANT_ANY = 0, TLS_WANT_AES, TLS_WANT_CHACHA,
		TLS_WANT_LATER };
/* Why a session runs the cipher it does (cipher_why_name: the session
 * line's words and the JSON value). */
enum cipher_why {
	CW_NONE = 0,
	CW_FITS,          /* the stream fits one AES-GCM key */
	CW_FITS_THEIRS,   /* it fits, by the sender's estimate (receiver) */
	CW_MAY_EXCEED,    /* it may exceed one key, and a side cannot rekey */
	CW_KEY_UPDATE,    /* both sides change keys at the limit */
	CW_NO_AES,        /* the CPU has no AES instructions */
	CW_QUERIES,       /* no stream: queries only */
	CW_SENDER_CHECKS, /* a receiving client: the sender checks its size */
	CW_PEER,          /* the peer's choice */
	CW_END
};
/* What this side asks for on its next handshakes, the fallback for a
 * client that the server sent away for it, and why (for the session
 * line). */
void tls_ctx_want(struct tls_ctx *ctx, enum tls_want want,
		  enum tls_want fallback, enum cipher_why why);
/* A client's last handshake failed on the server's insufficient_security
 * alert, or its REPLY said PROTO_ST_CIPHER: switch to the fallback.
 * true: connect again; false: there is nothing else to offer. */
bool tls_ctx_fall_back(struct tls_ctx *ctx);
/* Did the last handshake on ctx fail on an insufficient_security alert? */
bool tls_ctx_refused_cipher(const struct tls_ctx *ctx);
/* Why this side asked for what it did (tls_ctx_want's why). */
enum cipher_why tls_ctx_why(const struct tls_ctx *ctx);
/* A server's failed handshake: did it refuse the client's offer of
 * AES-GCM only (the client connects again offering ChaCha20)? */
bool tls_sent_away(const struct tls *t);
/* The context a connection was made with. */
struct tls_ctx *tls_ctx_of(const struct tls *t);
/* Is the session's cipher ChaCha20-Poly1305? */
int tls_is_chacha(const struct tls *t);

/* Handshake on a connected socket (fd stays owned by the caller), to the
 * end or the timeout.  Afterwards the SSL object is used for nothing but
 * tls_export_keys(). */
struct tls *tls_handshake(struct tls_ctx *ctx, int fd, int timeout_s);
/* The same in steps, for many handshakes at once: tls_start() makes fd
 * non-blocking; tls_step() returns 1 when the peer is authenticated (fd
 * blocking again), 0 to be called again when *events (POLLIN/POLLOUT)
 * are ready, negative on failure (then tls_free()). */
struct tls *tls_start(struct tls_ctx *ctx, int fd);
int tls_step(struct tls *t, short *events);
void tls_free(struct tls *t);
/* Peer identity for logs: "CN=..." or the SAN that matched. */
const char *tls_peer(const struct tls *t);
const char *tls_cipher(const struct tls *t);
/* Does the peer's certificate name `name` as --peer-name would match it
 * (SANs; the CN only without SANs)?  1 with what matched, else 0. */
int tls_peer_named(const struct tls *t, const char *name, int wildcards,
		   char *matched, size_t cap);
/* The sha256 pin of the peer's public key. */
int tls_peer_pin(const struct tls *t, uint8_t out[32]);
/* Name the peer in logs from now on (serve: the client it was found to
 * be). */
void tls_set_peer(struct tls *t, const char *label);
/* The socket the handshake ran on. */
int tls_fd(const struct tls *t);

/* Fail for a received fatal alert: ZK_ETLS for certificate alerts. */
int zk_alert_fail(int desc);
/* RFC 8446 alert description name ("bad_record_mac", ...). */
const char *tls_alert_name(int desc);
/* Why a post-handshake handshake message is refused, for any plane:
 * "unexpected ... (KeyUpdate)", "... session ticket ...". */
int tls_handshake_msg_fail(const uint8_t *body, size_t len);
/* "sha256:HEX" of a PEM certificate's SubjectPublicKeyInfo. */
int tls_cert_pin(const char *path, char *out, size_t cap);

/* Key material for the kernel switch, derived from the TLS 1.3 traffic
 * secrets (HKDF-Expand-Label).  Callers wipe it with tls_keys_wipe(). */
enum { SUITE_AES_128_GCM = 0x1301, SUITE_AES_256_GCM = 0x1302,
       SUITE_CHACHA20_POLY1305 = 0x1303 };
struct tls_dir_keys {
	uint16_t suite;
	uint8_t key[32];
	size_t key_len;
	uint8_t iv[12];
	uint64_t seq;     /* records already sent/received under this key */
	uint8_t secret[48]; /* the traffic secret they came from (KeyUpdate) */
	size_t secret_len;
};
struct tls_keys {
	struct tls_dir_keys tx, rx;
};
int tls_export_keys(struct tls *t, struct tls_keys *out);
void tls_keys_wipe(struct tls_keys *k);
/* HKDF-Expand-Label(secret, label, "", outlen) with the suite's hash. */
int tls13_expand_label(uint16_t suite, const uint8_t *secret, size_t slen,
		       const char *label, uint8_t *out, size_t outlen);
/* Traffic secret -> key and iv (RFC 8446 section 7.3); out keeps the
 * secret for tls13_update_keys(). */
int tls13_traffic_keys(uint16_t suite, const uint8_t *secret, size_t slen,
		       struct tls_dir_keys *out);
/* KeyUpdate: the next traffic secret (RFC 8446 section 7.2) and its key
 * and iv, sequence 0; the old ones are wiped. */
int tls13_update_keys(struct tls_dir_keys *k);
/* A KeyUpdate handshake message (m: the whole record's content, len
 * bytes): its request_update (0 or 1), or -ZK_EPROTO when malformed or not
 * alone in its record. */
int tls13_key_update_parse(const uint8_t *m, size_t len);
/* Records one key protects at most before zktls sends KeyUpdate: 2^24,
 * below RFC 8446 5.5's 2^24.5 full-size records for AES-GCM (about
 * 256 GiB of stream). */
#define ZK_KEY_LIMIT (UINT64_C(1) << 24)
/* The records one key of suite may protect: configured (0: ZK_KEY_LIMIT)
 * for AES-GCM; no limit (UINT64_MAX) for ChaCha20-Poly1305, whose
 * sequence numbers would wrap first (RFC 8446 5.5). */
uint64_t tls_key_limit(uint16_t suite, uint64_t configured);
void zk_wipe(void *p, size_t n);

/* ---------------------------------------------------------------- certinfo.c */

/* The earliest notAfter of the PEM certificates in path (a chain or a CA
 * bundle) and how many there are (count may be NULL): 0, or a negative
 * ZK_E* recorded (unreadable file, no certificate, a bad date). */
int cert_file_expiry(const char *path, time_t *earliest, int *count);
/* Whole days from now to not_after, rounded towards the past (so -1
 * once it has expired by any amount). */
int cert_days_left(time_t not_after, time_t now);
/* From this many days before a certificate expires, serve and sync warn. */
#define CERT_WARN_DAYS 30
/* Log a warning when a certificate in path (what: "certificate", "CA")
 * expires within CERT_WARN_DAYS days; once one has expired, an error with
 * expired_error (serve), else a warning (a client: its handshake's error
 * is the one that counts); nothing otherwise, nor for an unreadable file
 * (loading it says why).  Its days left, or INT_MAX when there is nothing
 * to say. */
int cert_warn_expiry(const char *what, const char *path, bool expired_error);

/* ---------------------------------------------------------------- cipher.c */

struct cipher_facts {
	bool server;          /* this side accepted the connection */
	bool sender;          /* this side sends the stream */
	bool queries;         /* no stream: LIST and HAVE only */
	bool size_known;      /* size is zfs send -nP's estimate */
	uint64_t size;
	uint64_t key_limit;   /* records per AES-GCM key (0: ZK_KEY_LIMIT) */
	bool can_rekey;       /* this side's plane can change keys */
	bool aes_hw;          /* the CPU has AES instructions */
};
/* Does a stream of size bytes stay within half of one AES-GCM key's
 * limit (full records)? */
bool cipher_fits(uint64_t size, uint64_t key_limit);
/* What a side asks for (see enum tls_want), its fallback, and why. */
enum tls_want cipher_want(const struct cipher_facts *f,
			  enum tls_want *fallback, enum cipher_why *why);
const char *cipher_want_name(enum tls_want w);
/* why in words ("fits one key"), or with json its JSON value
 * ("fits_one_key"). */
const char *cipher_why_name(enum cipher_why why, bool json);

/* ---------------------------------------------------------------- planes */

struct chan;
struct endpoint;
struct kern_keys;

struct xfer {
	uint64_t bytes;       /* stream bytes moved so far */
	uint64_t total_hint;  /* expected size, 0 if unknown (progress) */
	double t_start;
	double t_last_progress;
	int progress;         /* print progress lines to stderr */
	uint64_t user_bytes;  /* bytes this process copied through userspace */
	int uncounted;        /* the plane cannot count bytes (direct) */
	int estimated;        /* bytes is an estimate (progress lines only) */
	const char *label;    /* what progress lines are about, or NULL */
	/* Called with the progress, at most once a second (serve tells its
	 * master how far a session is), or NULL. */
	void (*tick)(void *arg, const struct xfer *x);
	void *tick_arg;
};

/*
 * A data plane: how the stream and the protocol messages cross the socket.
 * Every operation returns 0 / a count, or a negative ZK_E* after zk_fail().
 * The session code never asks which plane it drives.
 */
struct plane {
	const char *name;
	int kernel;  /* needs the kernel TLS switch before use */
	/* Protocol messages and other application data. */
	ssize_t (*read)(struct chan *c, void *buf, size_t len); /* 0 = close_notify */
	int (*write)(struct chan *c, const void *buf, size_t len);
	/* Move the producer's bytes to the peer until the producer's EOF.
	 * Returns -ZK_EEARLY if the peer sent something meanwhile. */
	int (*send_stream)(struct chan *c, struct endpoint *src, struct xfer *x);
	/* Move the peer's bytes to the consumer until the peer's close_notify;
	 * closes the consumer's input afterwards. */
	int (*recv_stream)(struct chan *c, struct endpoint *dst, struct xfer *x);
	/* Send close_notify (pushes any record left open). */
	int (*close_notify)(struct chan *c);
	/* Fatal alert where possible; the connection is unusable afterwards. */
	void (*abort)(struct chan *c);
};

extern const struct plane plane_user;
/* Kernel planes; NULL where the OS has none. */
extern const struct plane *const plane_rw;
extern const struct plane *const plane_splice;
extern const struct plane *const plane_direct;

/* Receiving on a kernel plane: is a silent peer between records, or does
 * kernel TLS hold part of one?  (plane_kernel.c, kplane_rx_partial()) */
struct rx_watch {
	uint64_t plain;           /* plaintext zktls read from the socket */
	int64_t base;             /* the balance when kernel TLS took over,
				   * plus the framing of records under keys
				   * since replaced */
	int exact;                /* zktls reads every byte (all but a
				   * direct zfs receive): between records
				   * the level is base */
	int64_t floor;            /* else the lowest level seen (have) */
	int have;
	int off;                  /* the bytes do not add up: no judging */
};

struct chan {
	int fd;                   /* the TCP socket (owned by the session) */
	struct tls *tls;          /* OpenSSL session; I/O only on plane user */
	const struct plane *plane;
	int timeout_ms;           /* idle timeout for blocking waits */
	uint64_t key_limit;       /* records per sending key, then KeyUpdate
				   * (0: ZK_KEY_LIMIT) */
	int quiet_ok;             /* receiving the stream: a peer silent at a
				   * record boundary is waited for as long as
				   * TCP finds it alive (keepalive); only a
				   * record left unfinished times out */
	int peer_closed;          /* peer's close_notify seen */
	unsigned peer_caps;       /* PROTO_CAP_* from its REQUEST/REPLY */
	uint64_t app_bytes_in, app_bytes_out;
	void *user;               /* user plane: record layer and buffer */
	struct kern_keys *kern;   /* rw/splice where the kernel can change
				   * keys: the secrets KeyUpdate needs */
	struct rx_watch rx;       /* kernel planes, receiving the stream */
};
/* The user plane's record layer for c (plane_user.c); user_free(NULL-safe
 * on a chan without one). */
int user_setup(struct chan *c, const struct tls_keys *k);
void user_free(struct chan *c);
/* The peer follows KeyUpdate (its REQUEST or REPLY said so). */
void user_peer_follows(struct chan *c, int yes);
/* KeyUpdates the user plane sent and received on c (0 on other planes). */
void user_key_updates(const struct chan *c, unsigned *sent,
		      unsigned *received);

/*
 * The local producer (sender) or consumer (receiver) of the stream.
 * Pipe mode: fd is our stdin/stdout and start is NULL.
 * zfs mode: start() spawns zfs with `fd` as its stdout (send) or stdin
 * (recv); the endpoint keeps the pid, finish() reaps it.
 */
struct endpoint {
	int fd;                   /* pipe mode: given fd (not owned) */
	int (*start)(struct endpoint *e, int child_fd);
	int (*finish)(struct endpoint *e); /* 0, or -ZK_EZFS with text */
	void (*kill)(struct endpoint *e);
	void *arg;
	pid_t pid;
	int finished, status;
	int errfd;                /* read end of the child's stderr, or -1 */
	int remote;               /* serve: the monitor runs the child */
	int exit_known;           /* status holds its exit, not reaped yet */
	char errtext[512];        /* tail of the child's stderr */
};

/* endpoint.c: the producer/consumer and the children it owns. */
/* Create a pipe, start e's child on one end, return our end in *fd.
 * dir_out: 1 when the child writes (producer). */
int endpoint_pipe(struct endpoint *e, int dir_out, int *fd);
/* e->fd when there is no child (*owned = 0), else endpoint_pipe(). */
int endpoint_fd(struct endpoint *e, int dir_out, int *fd, int *owned);
/* Has e's child exited (or been reaped)?  Does not reap it; *si tells how
 * it ended where it has not been reaped yet.  endpoint_ok: did it succeed
 * (unknown counts as yes: finish() judges)? */
int endpoint_exited(struct endpoint *e, siginfo_t *si);
int endpoint_ok(struct endpoint *e);
/* Is there a child (here, or run by serve's monitor)? */
int endpoint_child(const struct endpoint *e);
/* Endpoint that runs request r (ZOP_SEND, ZOP_RECV, or ZOP_ESTIMATE for
 * zfs's own words; kept alive by the caller), and one over an existing fd
 * (pipe mode). */
void zfs_endpoint(struct endpoint *e, const struct zfs_req *r);
void fd_endpoint(struct endpoint *e, int fd);
/* child.c: fork + exec argv (absolute path) with in/out/err as fds 0/1/2,
 * in /, default signals, a minimal environment; child_wait reaps it. */
int child_spawn(const char *const *argv, int in, int out, int err,
		pid_t *pid);
int child_wait(pid_t pid, int *status);

/* plane.c */
/* Pick a plane for this side: mode plus a runtime KTLS probe. */
const struct plane *plane_pick(enum plane_mode mode, char *why, size_t whylen);
const char *plane_mode_name(enum plane_mode m);
int plane_mode_parse(const char *s, enum plane_mode *out);
/* Switch c to the kernel if c->plane->kernel.  Either it succeeds or the
 * connection is unusable (no half-switched state). */
int chan_switch(struct chan *c);
/* What this side can do on c, as PROTO_CAP_* bits for REQUEST/REPLY (it
 * follows KeyUpdate: the user plane, and rw/splice where the kernel can
 * change keys); and what the peer said it can. */
unsigned chan_caps(const struct chan *c);
void chan_peer_caps(struct chan *c, unsigned caps);
/* Can a session on this --mode change its keys (user plane; rw/splice on a
 * kernel that can rekey)?  Where it cannot, zktls prefers
 * ChaCha20-Poly1305 at the handshake unless its stream fits (cipher.c). */
int plane_mode_rekeys(enum plane_mode mode);
/* Can a session on plane p change keys (the plane picked)? */
bool plane_rekeys(const struct plane *p);
/* KeyUpdates sent and received on c, and how c keeps within the key
 * limit: text for the session line, a token for JSON. */
void chan_key_updates(const struct chan *c, unsigned *sent,
		      unsigned *received);
const char *chan_key_strategy(const struct chan *c, int json);
/* Free the plane's state and wipe any secrets c kept. */
void chan_release(struct chan *c);
/* Read exactly len bytes of application data; 0 ok, -ZK_EPROTO on early
 * close_notify. */
int chan_read_full(struct chan *c, void *buf, size_t len);
/* log.c: a progress line on stderr (at most one a second unless final). */
void xfer_progress(struct xfer *x, int final);
double now_s(void);

/* ---------------------------------------------------------------- policy.c */

/* Who may do what on this side. */
struct policy {
	const char *recv_root;  /* pushes land here or below; NULL: none */
};
/* The rule of a one-shot command: its own dataset and below (recv). */
void policy_oneshot(struct policy *p, const struct conf *cf);
/* Where a push that asked for `asked` ("" = no preference) lands: 0 with
 * target, or -1 with why (the peer is told). */
int policy_push_target(const struct policy *p, const char *asked,
		       char *target, size_t cap, char *why, size_t wl);
/* serve: which client rule the peer's certificate matches (the first, in
 * the file's order); label names it and what matched, for logs. */
struct serve_conf;
struct conf_client;
int policy_identify(const struct serve_conf *sc, struct tls *t,
		    const struct conf_client **out, char *label, size_t cap);
/* serve: where a push of snapshot lands (asked: the client's --target or
 * ""), and whether a snapshot may be pulled: 0, or -1 with why. */
int policy_serve_push(const struct conf_client *cl, const char *snapshot,
		      const char *asked, char *target, size_t cap, char *why,
		      size_t wl);
int policy_serve_pull(const struct conf_client *cl, const char *snapshot,
		      char *why, size_t wl);
/* serve: the dataset where a push of the client's dataset lands without
 * --target (POOL/PATH -> PUSH/PATH, POOL -> PUSH): 0, or -1 with why. */
int policy_push_landing(const struct conf_client *cl, const char *dataset,
			char *out, size_t cap, char *why, size_t wl);
/* serve: of a LIST's n snapshots and bookmarks e, drop zktls's marks that
 * are not cl's (they would name other clients); the count left. */
struct proto_entry;
int policy_list_marks(const struct serve_conf *sc,
		      const struct conf_client *cl, struct proto_entry *e,
		      int n);
/* serve: the receive of a push of client cl's (below: -d into its push
 * dataset): its policy's -s, -F, -o and -x, never mounted, the stream's
 * mount properties ignored unless the policy sets them. */
void policy_serve_recv(const struct conf_client *cl, bool below,
		       struct zfs_recv_req *q);
/* serve: may client cl's session make zfs request r?  Each op has its
 * rule (datasets, flags, marks, and for a send every origin of what is
 * sent); the one judge of a session's zfs requests, in the monitor and
 * with "privsep no" alike.  0, or -1 with why (naming nothing that is
 * not cl's). */
int policy_zfs(const struct conf_client *cl, const struct zfs_req *r,
	       char *why, size_t wl);
/* Retention (serve's pruning of a client's pushes, sync --keep on a
 * pull's target): may r, a destroy, be made?  Only of a snapshot (never a
 * bookmark, never a dataset) of a dataset at or below root, one of the n
 * snapshots s of that dataset (zfs's listing, oldest first, with what
 * the caller protects) that retain_plan() of grid g at now lets go: never
 * the newest, a held one, one in the future, a protected one.  The one
 * judge of every destroy that retention makes, in every mode; a session's
 * requests never reach it (policy_zfs() refuses them a snapshot's
 * destroy).  0, or -1 with why. */
struct retain_grid;
struct retain_snap;
int policy_prune(const char *root, const struct retain_grid *g,
		 const struct zfs_req *r, const struct retain_snap *s, int n,
		 time_t now, char *why, size_t wl);

/* ---------------------------------------------------------------- session.c */

struct session;
/* Prepare one transfer before any connection: find zfs, choose the data
 * plane, check a sender's snapshot.  *note: a line to log (the plane's
 * fallback), or "". */
int session_new(const struct conf *cf, const struct policy *pol,
		struct session **out, const char **note);
/* Run it on an authenticated connection, which it takes over; server: this
 * side accepted it.  Logs the session line. */
int session_run(struct session *s, struct conn *c, int server);
void session_free(struct session *s);
/* serve: the server side's conf and policy are decided when the REQUEST
 * has arrived: on_request() returns 0 with them (they outlive the
 * session), or -1 with the REPLY status and reason for the peer. */
struct proto_request;
struct proto_list;
struct proto_listing;
struct proto_have;
struct proto_having;
struct session_serve {
	int (*on_request)(void *arg, struct tls *peer,
			  const struct proto_request *q,
			  const struct conf **cf, const struct policy **pol,
			  uint8_t *status, char *why, size_t wl);
	/* LIST and HAVE before a REQUEST: fill the answer (its status and
	 * message too); a negative return is also logged. */
	int (*on_list)(void *arg, struct tls *peer, const struct proto_list *q,
		       struct proto_listing *out);
	int (*on_have)(void *arg, struct tls *peer, const struct proto_have *q,
		       struct proto_having *out);
	void *arg;
	/* During the transfer, at most once a second: its plane and the
	 * stream bytes so far (estimated from TCP where the plane cannot
	 * count); NULL for none. */
	void (*on_progress)(void *arg, const char *plane, uint64_t bytes,
			    int estimated);
};
void session_set_serve(struct session *s, const struct session_serve *sv);
/* A client's questions before (or instead of) a transfer: switch the
 * connection (taken over), then LIST (all of it: every LISTING frame) and
 * HAVE, then session_end() (close_notify both ways). */
int session_attach(struct session *s, struct conn *c);
int session_list(struct session *s, uint8_t how, const char *dataset,
		 struct proto_listing *out);
int session_have(struct session *s, const char *dataset,
		 const uint64_t *guids, uint32_t n, struct proto_having *out);
int session_end(struct session *s);
/* How it went, for serve's accounting (bytes 0 where uncounted). */
struct session_result {
	const char *plane;
	uint64_t bytes;
	double seconds;
	char dataset[512];  /* where it landed, or the snapshot sent */
	int denied;         /* queries only, and policy refused one */
	int queries;        /* queries only (LIST, HAVE), no transfer */
};
const struct session_result *session_result(struct session *s);
/* Did the server answer the request "busy" (try again later)? */
int session_busy(const struct session *s);
/* Before connecting or accepting: which cipher suites to ask for on ctx
 * (cipher.c), from what this session knows (its role, the size of what it
 * sends, whether its plane can change keys); queries: LIST/HAVE only. */
void session_cipher(const struct session *s, struct tls_ctx *ctx, bool server,
		    bool queries);
/* Did the server send us away to connect again offering ChaCha20
 * (PROTO_ST_CIPHER)?  Then tls_ctx_fall_back() and a new session. */
bool session_cipher_retry(const struct session *s);
/* Did we (a server) send the client away so (it connects again)? */
bool session_sent_away(const struct session *s);

/* ---------------------------------------------------------------- zfs.c */

/* The zfs send flags a request's zflags bits stand for (-w -c -L -e -p
 * -R), ending with a NULL flag. */
struct zfs_flag {
	uint32_t bit;
	const char *flag;
};
extern const struct zfs_flag zfs_send_flags[];

/* ZFS naming rules: kind 'f' filesystem/volume, 's' snapshot. */
bool zfs_name_valid(const char *name, int kind);
/* Is name root itself or below it?  A dataset name; with snaps, also a
 * snapshot or bookmark (DS@S, DS#B) of root or of a dataset below it.
 * The one answer to "is X at or below Y" (policy and monitor ask it). */
bool zfs_name_within(const char *name, const char *root, bool snaps);
/* Request r's argument vector into argv (cap words and the NULL): the
 * one place zktls spells a zfs command.  The word count, or -1 (it does
 * not fit, or r is not a request). */
int zfs_argv(const struct zfs_req *r, const char **argv, size_t cap);
/* The zfs subcommand an op runs ("send", "receive", ...), for messages. */
const char *zfs_op_name(enum zfs_op op);
/* A request of op about name (NULL: none): 0, or -1 when name is too
 * long to be one. */
int zfs_req(struct zfs_req *r, enum zfs_op op, int what, const char *name);
/* r for serve's monitor (its length, or -1), and back: 0, or -1 for
 * anything but exactly what zfs_req_encode() makes. */
int zfs_req_encode(const struct zfs_req *r, uint8_t *buf, size_t cap);
int zfs_req_decode(const uint8_t *buf, size_t len, struct zfs_req *r);
/*
 * Who runs zfs.  Outside serve, nobody is registered: zfs runs here.
 * serve's network process registers its monitor (capture, spawn and the
 * rest run there); with "privsep no" only check is set: it judges each
 * request, then zfs runs here.  check: 0, or a negative ZK_E* recorded.
 */
struct zfs_runner {
	int (*check)(const struct zfs_req *r);
	int (*capture)(const struct zfs_req *r, char *out, size_t cap,
		       bool with_err);
	int (*spawn)(const struct zfs_req *r, int fd);
	int (*exited)(int *status);
	int (*wait)(int *status, char *errtext, size_t cap);
	void (*kill)(void);
};
void zfs_use_runner(const struct zfs_runner *r);
const struct zfs_runner *zfs_runner(void);
/* Run request r (not SEND or RECV: zfs_endpoint() does those), up to
 * cap-1 bytes of its stdout into out: 0 on exit 0, ZFS_FAILED on a
 * non-zero exit (not recorded: probes may fail), a negative ZK_E* (and
 * recorded) when it could not be run or was refused. */
#define ZFS_FAILED 1
int zfs_do(const struct zfs_req *r, char *out, size_t cap);
/* The same, 0, or ZFS_FAILED with the first line of what zfs said (or
 * why it did not run) in msg. */
int zfs_do_msg(const struct zfs_req *r, char *msg, size_t cap);
/* Here, whoever is registered: the monitor's own, and the checks'. */
int zfs_do_local(const struct zfs_req *r, char *out, size_t cap,
		 bool with_err);
/* The stream's properties a receive ignores unless the operator allows
 * them (NULL-ended). */
extern const char *const zfs_mount_props[];  /* ZFS_MOUNT_PROPS of them */
/* A receive made safe: -u unless mount, -x for each of zfs_mount_props
 * that -o or -x do not name already, unless mount_props.  0, or -1 when
 * the -x do not fit (ZFS_MAX_PROPS). */
#define ZFS_MOUNT_PROPS 5
int zfs_recv_safe(struct zfs_recv_req *q, bool mount, bool mount_props);
/* Does q name prop with -o PROP=... or -x PROP? */
bool zfs_recv_names(const struct zfs_recv_req *q, const char *prop);
/* zfs send -nP of q: 0 (size in *size, 0 where zfs gave none), or as
 * zfs_do(); what zfs printed in out. */
int zfs_estimate(const struct zfs_send_req *q, uint64_t *size, char *out,
		 size_t cap);
/* The guids of dataset's snapshots: how many (at most max), or -1. */
int zfs_snap_guids(const char *dataset, uint64_t *guids, int max);
/* Bytes written to dataset since its newest snapshot: 0, or -1. */
int zfs_written(const char *dataset, uint64_t *bytes);
/* zfs rollback [-r] snap; zfs hold/release tag snap: 0, or ZFS_FAILED
 * with what zfs said in msg. */
int zfs_rollback(const char *snap, bool recursive, char *msg, size_t cap);
int zfs_hold(const char *tag, const char *snap, bool hold, char *msg,
	     size_t cap);
/* zfs holds -H of the n snapshots (sync's, never a session's). */
int zfs_holds(const char *const *snaps, int n, char *out, size_t cap);
/* "NAME\tORIGIN" lines of dataset (and, recursive, those below it). */
int zfs_origins(const char *dataset, bool recursive, char *out, size_t cap);
/*
 * zktls's own marks.  A bookmark that keeps the base of the next
 * incremental is named "zktls:LEN:WHO:SNAP" (WHO: a serve client's id,
 * or sync's HOST:PORT, in the characters a bookmark may have; LEN its
 * length), read back by an exact parse: no WHO's marks can be taken for
 * another's.  A hold's tag is zktls_WHO (zfs_mark_tag), compared whole.
 * The previous version named bookmarks zktls_WHO_SNAP: such a name is
 * WHO's only where it can be nobody else's (zfs_mark_mine).
 */
void zfs_mark_tag(const char *who, char *out, size_t cap);
/* who's mark of snapshot snap (its name after '@'): 0, or -1 when it
 * does not fit cap. */
int zfs_mark_name(const char *who, const char *snap, char *out, size_t cap);
/* Is name (a bookmark's, after '#') one of zktls's marks, anyone's? */
bool zfs_mark_any(const char *name);
/* Does name (after '#') read as who's previous-format mark (and perhaps
 * as others' too)? */
bool zfs_mark_old_reads(const char *name, const char *who);
/* Is name (after '#', the bookmark's guid) who's mark?  A previous-format
 * name is when no other WHO can have made it, or when e (the dataset's n
 * snapshots and bookmarks) holds the snapshot it names, with its guid. */
struct proto_entry;
bool zfs_mark_mine(const char *name, uint64_t guid, const char *who,
		  const struct proto_entry *e, int n);
/* Keep ds@snap (snap "@name") as who's base: its mark made unless e (ds's
 * n snapshots and bookmarks) has it, who's other marks destroyed.  0, or
 * -1 with why (the last failure). */
int zfs_move_mark(const char *ds, const char *snap, const char *who,
		  const struct proto_entry *e, int n, char *why, size_t wl);
/* Find the zfs executable: an absolute $ZKTLS_ZFS, or zfs in a fixed list
 * of system directories (never the working directory or $PATH). */
int zfs_init(void);
/* The executable zfs_init() found ("" before). */
const char *zfs_path(void);
/* The guid of a snapshot or bookmark, 0 when it does not exist. */
uint64_t zfs_guid_of(const char *name);
/* The snapshot or bookmark directly in dataset whose guid is guid. */
int zfs_guid_name(const char *dataset, uint64_t guid, char *out, size_t cap);
/* dataset's receive_resume_token, or "" (also for a malformed one). */
void zfs_resume_token(const char *dataset, char *out, size_t cap);
/* Is t shaped like a zfs resume token ("1-hex-hex-hex")? */
bool zfs_token_valid(const char *t);
/* What a resume token continues, as `zfs send -nv -t` describes it. */
struct zfs_token {
	char toname[256];
	uint64_t toguid, fromguid;  /* fromguid 0: a full send */
	int rawok;                  /* a raw (-w) send */
};
/* 0, -1 (zfs cannot read it), or -2 (it is described ambiguously: a
 * forged token). */
int zfs_token_describe(const char *token, struct zfs_token *t);
/* Its pure part: what `zfs send -nv -t` printed (text) into t, as above. */
int zfs_token_parse(const char *text, struct zfs_token *t);
/* The snapshots and bookmarks directly in dataset, oldest first, as
 * LISTING entries: how many (at most max), or -1. */
struct proto_entry;
int zfs_listing(const char *dataset, struct proto_entry *e, int max);
/* The datasets below dataset (kind PROTO_KIND_DATASET, "/PATH"), parents
 * first: their number, or -1. */
int zfs_tree(const char *dataset, struct proto_entry *e, int max);
/* dataset and the tree below it with every snapshot and bookmark, from
 * one zfs list, into t (tree.h): 0, ZFS_FAILED (zfs could not list it),
 * or -ZK_EZFS (recorded: too big for t, or not zfs's shape). */
struct tree;
struct zfs_bg;
int zfs_tree_all(const char *dataset, struct zfs_bg *bg, struct tree *t);
/* The zktls:sync user property (set or inherited; "-" unset) of dataset
 * and every dataset below it, parents first: names[i] and values[i], at
 * most max.  The count, or -1. */
int zfs_sync_props(const char *dataset, struct zfs_bg *bg,
		   char (*names)[ZFS_NAME_LEN], char (*values)[32], int max);
/* A zfs list started now and read later, by zfs_tree_all (ZL_ALL) or
 * zfs_sync_props (ZL_SYNC) given bg (NULL: run it then): sync -r lists
 * its own tree while the server lists its.  Local zfs only; with a runner,
 * or when it cannot start, the listing runs when it is read. */
struct zfs_bg {
	pid_t pid;                /* the running zfs, or -1 */
	int fd;
	int what;                 /* enum zfs_list */
	char name[ZFS_NAME_LEN];
};
void zfs_bg_list(struct zfs_bg *bg, int what, const char *name);

/* ---------------------------------------------------------------- os_<os>.c */

/* No core dumps and no ptrace attach for the life of the process (keys
 * live in its memory). */
int os_harden(void);
/* serve's network-facing process, no longer root: no new privileges, and
 * a syscall filter where the OS has one. */
int os_confine(void);
/* Close every fd from lo up (what a daemon inherited). */
void os_close_from(int lo);
/* Send at most bytes_per_s on socket fd. */
int os_pace(int fd, uint64_t bytes_per_s);
/* Write to fd (a pipe, a file, a device; not a socket) what it takes now,
 * never waiting: the bytes written, or -1 with errno: EAGAIN when it takes
 * nothing now, EOPNOTSUPP when the fd or the OS cannot write without
 * waiting (then only a blocking write will do). */
struct iovec;
ssize_t os_writev_now(int fd, const struct iovec *v, int n);
/* The bytes process pid (ours to watch) has read so far, from any file
 * and by the kernel on its behalf; 0, or -1 where the OS does not say. */
int os_proc_read(pid_t pid, uint64_t *bytes);
/* Is process pid busy rather than asleep waiting for an event (running,
 * in an uninterruptible wait such as disk I/O or a full queue, stopped)?
 * 1 yes, 0 no or where the OS does not say. */
int os_proc_busy(pid_t pid);
/* Does the CPU have AES instructions (AES-GCM then beats ChaCha20)?
 * true where it cannot tell. */
bool os_cpu_aes(void);

/* ---------------------------------------------------------------- privsep.c */

struct serve_conf;
/* serve, as root: split off the network-facing process, which returns 0
 * here as the configuration's user (its zfs runs through the monitor),
 * while this process becomes its monitor: *monitor_side set, and the
 * network process's exit status returned when it is gone.  The monitor
 * closes close_fd (the connection: only the network process holds it).
 * With "privsep no" nothing is split (0): zfs runs here, each request
 * judged by policy_zfs() first.  Not root otherwise: an error.  Either
 * way the process's zfs runner (zfs_use_runner()) is set. */
int privsep_fork(const struct serve_conf *conf, int close_fd,
		 int *monitor_side);
/* The user the network processes become: it exists and is not root;
 * 0 with its ids, or a negative ZK_EUSAGE. */
int privsep_user(const char *user, uid_t *uid, gid_t *gid);
/* The session's client, for the checks (the monitor's, or ours). */
int privsep_client(const char *client);

/* ---------------------------------------------------------------- util */

int fd_set_nonblock(int fd, int on);
/* "sha256:" and 64 hex digits into out: 0, or -1. */
int pin_parse(const char *s, uint8_t out[32]);
/* A host name (letters, digits, '-', '_' in dot-separated labels) or an
 * IP address: what a certificate name can be matched against. */
int peer_name_valid(const char *name);
int write_all(int fd, const void *buf, size_t len);
const char *human_bytes(uint64_t n, char *buf, size_t len);

#endif
