/*
 * proto.h - the zktls session messages, carried inside TLS.
 *
 * Every message is one frame:
 *
 *   offset size field
 *   0      4    magic    "ZKT1"
 *   4      1    version  PROTO_VERSION (1) for REQUEST, REPLY, RESULT;
 *                        PROTO_VERSION2 (2) for LIST, LISTING, HAVE, HAVING
 *   5      1    type     PROTO_REQUEST / PROTO_REPLY / PROTO_RESULT
 *   6      2    reserved must be 0
 *   8      4    length   body length, big-endian, <= PROTO_MAX_BODY
 *   12     ...  body     fixed-width fields, big-endian integers
 *
 * Strings are fixed-width, NUL-padded arrays: the string must end before
 * the last byte and every byte after its NUL must be 0.  Counted arrays
 * (GUID lists) come last and their count must match the length exactly.
 * Unknown types, versions, non-zero reserved bytes, bad lengths: rejected.
 *
 * REQUEST (client -> server)
 *   u8 op (PROTO_OP_PUSH: client sends; PROTO_OP_PULL: client receives)
 *   u8 caps (PROTO_CAP_*: what the client can do on this connection)
 *   u8 reserved[2]; u32 zflags (PROTO_ZF_*, what the sender will use)
 *   char dataset[256]  push: target dataset asked for (may be "")
 *                      pull: the client's receive dataset (informational)
 *   char snapshot[256] push: source snapshot; pull: ""
 *   char token[1024]   pull: client's receive_resume_token or ""
 *   u32 nguids; u64 guids[nguids]  pull: snapshot GUIDs the client has
 *
 * REPLY (server -> client)
 *   u8 status (PROTO_ST_*); u8 caps (PROTO_CAP_*, the server's);
 *   u8 reserved[2]
 *   char message[256]  why, when status != ok
 *   char dataset[256]  push: the dataset that will receive
 *   char token[1024]   push: server's receive_resume_token or ""
 *   u32 nguids; u64 guids[nguids]  push: snapshot GUIDs the server has
 *
 * LIST (client -> server, version 2; before any REQUEST, as often as it
 * likes): what the server holds of a dataset its policy lets the client see
 *   u8 how; u8 reserved[3]
 *     PROTO_LIST_DATASET: snapshots and bookmarks of dataset
 *     PROTO_LIST_PUSH:    the same, of the dataset where a push of the
 *                         client's dataset (named in dataset) would land
 *     PROTO_LIST_TREE:    the datasets below dataset (entries of kind
 *                         PROTO_KIND_DATASET, named "/PATH" relative to it,
 *                         parents before children)
 *     PROTO_LIST_ALL:     dataset and every dataset below it with their
 *                         snapshots and bookmarks, in one answer (sync -r
 *                         lists a whole tree at once): first dataset's
 *                         own ("@s", "#b", oldest first), then for each
 *                         dataset below, in strcmp order of the names
 *                         (parents before children), an entry of kind
 *                         PROTO_KIND_DATASET, PROTO_KIND_PARTIAL when it
 *                         holds a partial receive, or PROTO_KIND_EXCLUDED
 *                         when its zktls:sync is off, named "/PATH", followed
 *                         by its own named "/PATH@s", "/PATH#b", oldest
 *                         first.  token: dataset's own resume token.  At
 *                         most PROTO_MAX_TREE_ENTRIES entries in all: a
 *                         bigger tree is answered PROTO_ST_ERROR, and the
 *                         client lists dataset by dataset instead.
 *     PROTO_LIST_PUSH_ALL: the same, of where a push of dataset lands (no
 *                         PROTO_KIND_EXCLUDED: on a push the property
 *                         that counts is the client's)
 *   char dataset[256]
 *
 * LISTING (server -> client, version 2), one frame or several:
 *   u8 status; u8 more (1: another LISTING frame follows); u8 reserved[2]
 *   char message[256]  why, when status != ok
 *   char token[1024]   the dataset's receive_resume_token or ""
 *   char dataset[256]  the dataset listed (for PROTO_LIST_PUSH: where it
 *                      lands)
 *   u32 n; then n entries, oldest first, ending the body exactly:
 *     u64 guid; u64 createtxg; u8 kind (PROTO_KIND_*); u8 namelen (2..255);
 *     char name[namelen]  "@snap", "#bookmark" or "/path" (no NUL)
 *
 * HAVE (client -> server, version 2): does the server hold these snapshots
 * or bookmarks of the dataset (by GUID)?
 *   char dataset[256]; u32 n; u64 guids[n]
 *
 * HAVING (server -> client, version 2):
 *   u8 status; u8 reserved[3]; char message[256]; u32 n; u8 have[n] (0 / 1)
 *
 * RESULT (receiver -> sender, after the stream)
 *   u8 status (PROTO_ST_OK = committed); u8 reserved[3]
 *   i32 exit status of the consumer (zfs recv) or -1
 *   u64 bytes the receiver took from the stream (PROTO_BYTES_UNKNOWN
 *       when zfs read the socket itself)
 *   u64 guid of the received snapshot (0 if unknown)
 *   char message[512]  the consumer's error text
 */
#ifndef ZKTLS_PROTO_H
#define ZKTLS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC "ZKT1"
#define PROTO_VERSION 1
#define PROTO_VERSION2 2
/* entries of one dataset's listing; of a whole tree's (PROTO_LIST_ALL) */
#define PROTO_MAX_ENTRIES 4096
#define PROTO_MAX_TREE_ENTRIES 16384
#define PROTO_HDR_LEN 12
#define PROTO_MAX_BODY 65536
#define PROTO_MAX_GUIDS 4096
#define PROTO_NAME_LEN 256
#define PROTO_TOKEN_LEN 1024
#define PROTO_MSG_LEN 256
#define PROTO_RESULT_MSG_LEN 512
#define PROTO_BYTES_UNKNOWN UINT64_MAX

enum proto_type {
	PROTO_REQUEST = 1, PROTO_REPLY = 2, PROTO_RESULT = 3,
	PROTO_LIST = 4, PROTO_LISTING = 5, PROTO_HAVE = 6, PROTO_HAVING = 7,
};
enum proto_kind {
	PROTO_KIND_SNAPSHOT = 1,
	PROTO_KIND_BOOKMARK = 2,
	PROTO_KIND_DATASET = 3,
	PROTO_KIND_PARTIAL = 4,   /* a dataset holding a partial receive */
	PROTO_KIND_EXCLUDED = 5,  /* a dataset whose zktls:sync is off */
};
enum proto_list_how {
	PROTO_LIST_DATASET = 0,
	PROTO_LIST_PUSH = 1,
	PROTO_LIST_TREE = 2,
	PROTO_LIST_ALL = 3,
	PROTO_LIST_PUSH_ALL = 4,
};
enum proto_op { PROTO_OP_PUSH = 1, PROTO_OP_PULL = 2 };
enum proto_status {
	PROTO_ST_OK = 0,
	PROTO_ST_DENIED = 1,
	PROTO_ST_NOTFOUND = 2,
	PROTO_ST_BUSY = 3,
	PROTO_ST_ERROR = 4,
	/* the sender's stream may exceed one AES-GCM key and the client
	 * offered only AES-GCM: connect again offering ChaCha20-Poly1305 */
	PROTO_ST_CIPHER = 5,
	PROTO_ST_MAX = 5,
};

/* What a side can do on this connection.  KEY_UPDATE: it follows the
 * peer's TLS KeyUpdate (its plane can change the receiving key).  A side
 * sends KeyUpdate only to a peer that said so; until it knows (before
 * REQUEST/REPLY), it sends none. */
enum proto_caps {
	PROTO_CAP_KEY_UPDATE = 1u << 0,
	PROTO_CAP_ALL = (1u << 1) - 1,
};

/* zfs flags summary, for the peer's information and policy. */
enum proto_zflags {
	PROTO_ZF_RAW = 1u << 0,         /* send -w */
	PROTO_ZF_COMPRESSED = 1u << 1,  /* send -c */
	PROTO_ZF_LARGE = 1u << 2,       /* send -L */
	PROTO_ZF_EMBED = 1u << 3,       /* send -e */
	PROTO_ZF_PROPS = 1u << 4,       /* send -p */
	PROTO_ZF_RECURSIVE = 1u << 5,   /* send -R */
	PROTO_ZF_INCR = 1u << 6,        /* send -i */
	PROTO_ZF_INCR_ALL = 1u << 7,    /* send -I */
	PROTO_ZF_RESUME = 1u << 8,      /* send -t */
	PROTO_ZF_ALL = (1u << 9) - 1,
};

struct proto_request {
	uint8_t op;
	uint8_t caps;
	uint32_t zflags;
	char dataset[PROTO_NAME_LEN];
	char snapshot[PROTO_NAME_LEN];
	char token[PROTO_TOKEN_LEN];
	uint32_t nguids;
	uint64_t guids[PROTO_MAX_GUIDS];
};

struct proto_reply {
	uint8_t status;
	uint8_t caps;
	char message[PROTO_MSG_LEN];
	char dataset[PROTO_NAME_LEN];
	char token[PROTO_TOKEN_LEN];
	uint32_t nguids;
	uint64_t guids[PROTO_MAX_GUIDS];
};

struct proto_result {
	uint8_t status;
	int32_t exit_status;
	uint64_t bytes;
	uint64_t guid;
	char message[PROTO_RESULT_MSG_LEN];
};

struct proto_list {
	uint8_t how;                /* PROTO_LIST_* */
	char dataset[PROTO_NAME_LEN];
};

struct proto_entry {
	uint64_t guid, createtxg;
	uint8_t kind;
	char name[PROTO_NAME_LEN];  /* "@snap", "#bookmark" or "/path"; in a
				       PROTO_LIST_ALL also "/path@snap",
				       "/path#bookmark" */
};

struct proto_listing {
	uint8_t status;
	uint8_t more;
	char message[PROTO_MSG_LEN];
	char token[PROTO_TOKEN_LEN];
	char dataset[PROTO_NAME_LEN];
	uint32_t n;
	struct proto_entry e[PROTO_MAX_TREE_ENTRIES];
};

struct proto_have {
	char dataset[PROTO_NAME_LEN];
	uint32_t n;
	uint64_t guids[PROTO_MAX_GUIDS];
};

struct proto_having {
	uint8_t status;
	char message[PROTO_MSG_LEN];
	uint32_t n;
	uint8_t have[PROTO_MAX_GUIDS];
};

/* Encoders write a whole frame into buf (cap >= proto_*_size()) and return
 * its length, or -1 if a string does not fit its field or a count is too
 * large (callers validate first). */
size_t proto_request_size(const struct proto_request *m);
size_t proto_reply_size(const struct proto_reply *m);
size_t proto_result_size(void);
long proto_encode_request(const struct proto_request *m, uint8_t *buf, size_t cap);
long proto_encode_reply(const struct proto_reply *m, uint8_t *buf, size_t cap);
long proto_encode_result(const struct proto_result *m, uint8_t *buf, size_t cap);
/* The LISTING encoder takes entries from m->e[first] on, as many as fit
 * one frame, and sets *taken; the caller sets m->more itself. */
long proto_encode_list(const struct proto_list *m, uint8_t *buf, size_t cap);
long proto_encode_listing(const struct proto_listing *m, uint32_t first,
			  uint32_t *taken, uint8_t *buf, size_t cap);
long proto_encode_have(const struct proto_have *m, uint8_t *buf, size_t cap);
long proto_encode_having(const struct proto_having *m, uint8_t *buf,
			 size_t cap);

/* Parse a frame header: 0 and *type and *body_len set, or -1 with *why set. */
int proto_parse_header(const uint8_t *hdr, size_t len, uint8_t *type,
		       uint32_t *body_len, const char **why);
/* Decode a body of the given type; 0 or -1 with *why (a static string). */
int proto_decode_request(const uint8_t *body, size_t len,
			 struct proto_request *m, const char **why);
int proto_decode_reply(const uint8_t *body, size_t len, struct proto_reply *m,
		       const char **why);
int proto_decode_result(const uint8_t *body, size_t len,
			struct proto_result *m, const char **why);
int proto_decode_list(const uint8_t *body, size_t len, struct proto_list *m,
		      const char **why);
int proto_decode_listing(const uint8_t *body, size_t len,
			 struct proto_listing *m, const char **why);
int proto_decode_have(const uint8_t *body, size_t len, struct proto_have *m,
		      const char **why);
int proto_decode_having(const uint8_t *body, size_t len,
			struct proto_having *m, const char **why);

/* Do the entries of a whole listing m fit what was asked (how): one
 * dataset's names start with '@' or '#', a tree's are datasets ('/'),
 * PROTO_LIST_ALL has them all (checked further by tree_from_wire).
 * 0, or -1 with *why.  Entries of another shape would name snapshots of
 * other datasets than the one asked about. */
int proto_listing_fits(uint8_t how, const struct proto_listing *m,
		       const char **why);

const char *proto_status_name(uint8_t status);

#endif
