/* SPDX-License-Identifier: MIT */
/* The control socket: a Unix stream socket (mode 0600, owned by the daemon's
 * user, root in production) speaking a line protocol in the spirit of the
 * WireGuard UAPI. One request per connection:
 *
 *   request  = op-line *(arg-line) "\n"        (ends with an empty line)
 *   op-line  = "get=1" | "get=json" | "get=json-peers" | "up=1" | "down=1"
 *            | "rekey=" (peer-name | "*") | "ping=" peer-name
 *            | "dht=status" | "dht=json" | "dht-lookup=" peer-name-or-ID
 *            | "dht-get=" key-hex | "dht-put=" (key-hex | "self")
 *            | "dht-result=" id
 *            | messaging (issue 16, below)
 *   arg-line = "value=" hex                  (dht-put only: the value, in
 *                                             pieces of at most 128 bytes)
 *   reply    = *(key "=" value "\n") "errno=" N "\n" "\n"
 *
 * The reply of get=1 is the node block, then one block per peer, each
 * starting with "peer=<name>" (the keys are listed in ctl/status.h); the
 * reply of get=json is one line "json=<document>" (ctl/status.h: what
 * `umbra status --json` prints), of get=json-peers the same with only the
 * peers (`umbra peers --json`). errno is 0 or a positive errno/UM_E* code. Requests
 * are at most UM_CONTROL_REQUEST_SMALL bytes (a dht-put, with its value,
 * UM_CONTROL_REQUEST_MAX), lines at most
 * UM_CONTROL_LINE_MAX; anything else, a NUL, a missing '=', an unknown key
 * or a repeated op is rejected with errno=EINVAL (EMSGSIZE when too long)
 * before any action.
 * Only clients with the daemon's own uid (SO_PEERCRED) are served.
 *
 * Messaging (node/messaging*.c answers; PEER = a configured peer's name or
 * its peer ID, ID = 32 hex digits, PCT = percent-encoding: the bytes '%',
 * 0x00..0x1f and 0x7f are written %XX, every other byte as is, UTF-8
 * included; an arg line given several times appends its decoded pieces, and
 * a %XX never straddles two lines):
 *
 *   "send=" PEER      + "text=" PCT lines (kind text) or "body=" hex lines
 *                       (kind binary), up to UM_CONTROL_MESSAGE_MAX bytes:
 *                       reply id=ID, seq=, state=queued (no session yet)
 *                       | sending
 *   "inbox=" ("json" | "text") [+ "after=" SEQ] [+ "limit=" N] [+ "peer=" PEER]
 *                       history both ways in store order: json=<array>, or
 *                       one message= line each (text form in
 *                       node/messaging.h), then last=SEQ
 *   "inbox-follow=" ("1" | "json" | "text") [+ "after=" SEQ]
 *                       the reply (the backlog after SEQ when given, as
 *                       event lines; UM_ELIMIT when it does not
 *                       fit one reply) ends with errno=0 and the empty
 *                       line as usual, then the
 *                       connection stays open and the daemon writes one
 *                       line per event: "json=" (1, json) or "event=" (text)
 *                       per new message, receipt, presence or file change
 *   "file-send=" PEER + "path=" PCT lines (an absolute path): reply id=ID
 *   "file-list=" ("json" | "text")   [+ "id=" ID: that transfer only]
 *   "file-accept=" ID | "file-reject=" ID [+ "reason=" PCT]
 *   "presence=" ("get" | "json")     ours and every peer's
 *   "presence=set" + "state=" (online | away | busy | offline) [+ "text=" PCT]
 *   "read=" ID        mark an incoming message read (sends the receipt)
 *
 * send= and file-send= requests may be up to UM_CONTROL_REQUEST_SEND_MAX
 * bytes (a 64 KiB text percent-encoded: 3 bytes per byte at worst). */
#ifndef UM_CTL_CONTROL_H
#define UM_CTL_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/config.h"
#include "net/loop.h"

enum {
	UM_CONTROL_REQUEST_MAX = 20480,  /* a dht-put carries up to 8 KB in hex */
	UM_CONTROL_REQUEST_SMALL = 4096, /* every other request */
	UM_CONTROL_VALUE_MAX = 8192,
	UM_CONTROL_LINE_MAX = 256,
	UM_CONTROL_REPLY_MAX = 4 << 20, /* a reply that grows beyond this fails with ENOBUFS */
	UM_CONTROL_CLIENTS_MAX = 16,
	UM_CONTROL_TIMEOUT_MS = 5000,   /* a client must finish its request by then */
	UM_CONTROL_MESSAGE_MAX = 65536, /* send=: body bytes (larger ones are files) */
	/* send=: 3 x 64 KiB percent-encoded, in lines of up to 256 bytes */
	UM_CONTROL_REQUEST_SEND_MAX = 3 * 65536 + 16384,
	UM_CONTROL_FOLLOWERS_MAX = 8,           /* inbox-follow connections (of CLIENTS_MAX) */
	UM_CONTROL_FOLLOW_BUFFER_MAX = 1 << 20, /* a follower that falls further behind is closed */
};

enum um_control_op {
	UM_CONTROL_GET = 1,
	UM_CONTROL_UP,
	UM_CONTROL_DOWN,
	UM_CONTROL_REKEY, /* test hook and admin action: rotate keys now */
	UM_CONTROL_PING,  /* send a path probe to the peer (umbra ping) */
	UM_CONTROL_DHT,   /* the DHT (umbra dht): request->dht says which */
	/* Messaging (issue 16): the fields they use are listed in the request. */
	UM_CONTROL_SEND,         /* send=PEER: target, kind, body */
	UM_CONTROL_INBOX,        /* inbox=: format, after, limit, peer_filter */
	UM_CONTROL_INBOX_FOLLOW, /* inbox-follow=: format, after (has_after) */
	UM_CONTROL_FILE_SEND,    /* file-send=PEER: target, path */
	UM_CONTROL_FILE_LIST,    /* file-list=: format, id (has_id) */
	UM_CONTROL_FILE_ACCEPT,  /* file-accept=ID: id */
	UM_CONTROL_FILE_REJECT,  /* file-reject=ID: id, text (the reason) */
	UM_CONTROL_PRESENCE,     /* presence=: format; presence_set, state, text */
	UM_CONTROL_READ,         /* read=ID: id */
};

enum um_control_dht_op {
	UM_CONTROL_DHT_STATUS = 0, /* dht=status: key=value lines */
	UM_CONTROL_DHT_JSON,       /* dht=json: json=<document> */
	UM_CONTROL_DHT_LOOKUP,     /* dht-lookup=PEER (a peer's name or ID) */
	UM_CONTROL_DHT_GET,        /* dht-get=KEY (64 hex digits) */
	UM_CONTROL_DHT_PUT,        /* dht-put=KEY with value= lines, or dht-put=self */
	UM_CONTROL_DHT_RESULT,     /* dht-result=ID */
};

/* What a GET returns. */
enum um_control_format {
	UM_CONTROL_FORMAT_TEXT = 0,   /* get=1: key=value lines */
	UM_CONTROL_FORMAT_JSON,       /* get=json: json=<the whole status> */
	UM_CONTROL_FORMAT_JSON_PEERS, /* get=json-peers: json=<the peers only> */
};

struct um_control_request {
	enum um_control_op op;
	enum um_control_format format; /* GET only */
	char peer[UM_CONFIG_NAME_MAX]; /* REKEY: peer name, or "*" for all; PING: name */
	enum um_control_dht_op dht;    /* DHT */
	char arg[UM_CONTROL_LINE_MAX]; /* DHT: what follows '=' (no spaces) */
	uint8_t value[UM_CONTROL_VALUE_MAX];
	size_t value_len; /* DHT_PUT: the value= lines, decoded */
	/* Messaging ops (format: TEXT or JSON only). */
	char target[UM_CONTROL_LINE_MAX];      /* SEND, FILE_SEND: the peer's name or ID */
	char peer_filter[UM_CONTROL_LINE_MAX]; /* INBOX peer=; "" = all */
	uint8_t id[16];                        /* FILE_*, READ, FILE_LIST with id= */
	bool has_id, has_after, presence_set;
	unsigned args_seen;                 /* the parser's bookkeeping: argument keys already given */
	uint64_t after;                     /* INBOX(_FOLLOW): seq after which to list; 0 = from the start */
	uint32_t limit;                     /* INBOX: 0 = the daemon's default */
	uint8_t kind;                       /* SEND: 0 text (text=), 1 binary (body=) */
	uint8_t state;                      /* PRESENCE set: 0 offline, 1 online, 2 away, 3 busy */
	char text[UM_CONTROL_LINE_MAX + 8]; /* PRESENCE text (<= 256 bytes), FILE_REJECT reason; NUL-terminated */
	char path[UM_CONFIG_PATH_MAX];      /* FILE_SEND: absolute, NUL-terminated */
	size_t body_len;
	uint8_t body[UM_CONTROL_MESSAGE_MAX]; /* SEND */
};

/* Parses a complete request (including the final empty line) in buf[0..len).
 * Untrusted input: never reads outside the buffer. Returns 0, -UM_ETRUNC if
 * the terminating empty line has not arrived yet, or -UM_EINVAL. */
int um_control_parse_request(struct um_control_request *req, const char *buf, size_t len);

/* Percent-encodes data[0..len) as described above into out (NUL-terminated)
 * and returns the length written, or the length it needs (excluding the
 * NUL) when cap is too small, like snprintf. */
size_t um_control_percent_encode(const void *data, size_t len, char *out, size_t cap);
/* Decodes a PCT value; -UM_EINVAL on a bad or cut %XX or when it does not
 * fit in cap (*out_len = the bytes written). */
int um_control_percent_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* A reply under construction: the handler appends key=value lines. */
struct um_control_reply {
	char *data; /* owned by the server */
	size_t len, cap;
	bool overflow;
};

/* Appends "key=value\n" (value from printf format). Values must not contain
 * '\n'; control characters are replaced with '?'. */
void um_control_reply_add(struct um_control_reply *reply, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends "key=" value[0..len) "\n" with no length limit other than
 * UM_CONTROL_REPLY_MAX (for one long value such as a JSON document, which
 * does not fit um_control_reply_add's 1024 bytes). Control characters
 * (including '\n') are replaced with '?' as there. */
void um_control_reply_add_raw(struct um_control_reply *reply, const char *key, const char *value, size_t len);

/* Runs a request; returns 0 or a negative error sent back as errno=N. */
typedef int (*um_control_handler_fn)(void *arg, const struct um_control_request *req, struct um_control_reply *reply);

struct um_control_client;

struct um_control_server {
	struct um_loop *loop;
	struct um_watch watch;
	char path[UM_CONFIG_PATH_MAX];
	um_control_handler_fn handler;
	void *handler_arg;
	struct um_control_client *clients[UM_CONTROL_CLIENTS_MAX];
};

/* Creates the socket at path (creating its directory if missing, refusing to
 * replace a socket another daemon answers on, removing a stale one) and
 * starts accepting on loop. Returns 0 or a negative error. */
int um_control_server_start(struct um_control_server *server, struct um_loop *loop, const char *path,
			    um_control_handler_fn handler, void *arg);
/* Writes one line "json=" json, or "event=" text for the followers that
 * asked for text, to every inbox-follow client (either may be NULL: those
 * followers get nothing). Control characters are replaced as in
 * um_control_reply_add_raw. A follower more than UM_CONTROL_FOLLOW_BUFFER_MAX
 * behind is closed. */
void um_control_server_notify(struct um_control_server *server, const char *json, size_t json_len, const char *text,
			      size_t text_len);
/* Followers connected now (the node skips building events for nobody). */
size_t um_control_server_followers(const struct um_control_server *server);

/* Closes every client, the socket, and removes the socket file. Safe to call
 * on a server that failed to start or was already stopped. */
void um_control_server_stop(struct um_control_server *server);

#endif
