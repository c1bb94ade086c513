/* SPDX-License-Identifier: MIT */
/* The node's durable store: one SQLite database holding the outbox (until the
 * recipient acknowledged), the inbox and message history, file-transfer state
 * with chunk bitmaps, and presence. Used by the control thread only.
 *
 * Durability: WAL with synchronous=FULL, so a write function that returned 0
 * has been fsynced (it committed its own transaction) and survives kill -9 or
 * a crash: that return is what the protocol acknowledges on. Between
 * um_store_begin and the matching um_store_commit, writes join one
 * transaction (group commit; nesting is counted) and become durable only when
 * the outermost um_store_commit returns 0.
 *
 * Failures: SQLITE_FULL -> -ENOSPC, disk I/O errors -> -EIO, lock waits beyond
 * the 5 s busy timeout -> -UM_EAGAIN, no memory -> -UM_ENOMEM. After such an
 * error the failed transaction is rolled back whole (inside a batch: the whole
 * batch, and every later write and the closing um_store_commit return that
 * error), so the database holds exactly what earlier commits wrote.
 * Refusals (-UM_EINVAL, -UM_ERANGE, -UM_EEXIST, -UM_ENOTFOUND, -UM_ESTATE)
 * change nothing and leave an open batch usable.
 *
 * Iterators (cb) get rows copied out of SQLite a page at a time, so a
 * callback may call any um_store_* function, writes included. A callback
 * returns 0 to go on; any other value stops the walk and is returned. Pointers
 * in the row (body, text, bitmap) are valid during the callback only.
 *
 * The database file is created 0600; a database, -wal or -shm file with any
 * group/other permission bit is refused (-UM_EPERM, logged with the fix). */
#ifndef UM_STORE_STORE_H
#define UM_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UM_STORE_SCHEMA_VERSION    2
#define UM_STORE_BODY_MAX          65536 /* bytes of one message body */
#define UM_STORE_PRESENCE_TEXT_MAX 256   /* bytes of a presence text (UTF-8, no NUL) */
#define UM_STORE_FILE_NAME_MAX     255   /* bytes of um_store_file.name, NUL excluded */
#define UM_STORE_FILE_PATH_MAX     4095  /* bytes of um_store_file.path, NUL excluded */

struct um_store;

/* Opens (creating it 0600 if missing) the database at path; the parent
 * directory must exist. Applies the schema migrations up to
 * UM_STORE_SCHEMA_VERSION (-UM_EVERSION for a database of a newer umbra).
 * -UM_EPERM: the file or its -wal/-shm is accessible by group/others.
 * On success *out is owned by the caller: release it with um_store_close. */
int um_store_open(const char *path, struct um_store **out);
/* Closes and frees s (NULL ok). A batch left open is rolled back (logged). */
void um_store_close(struct um_store *s);

/* Group commit: writes until the matching um_store_commit share one
 * transaction (one fsync). Nested pairs are counted; only the outermost
 * commit writes. um_store_commit returns the error that failed the batch (its
 * writes were all rolled back), -UM_ESTATE without a begin. */
int um_store_begin(struct um_store *s);
int um_store_commit(struct um_store *s);
/* PRAGMA integrity_check: 0 when it says ok, -EIO otherwise (logged). */
int um_store_integrity_check(struct um_store *s);

enum um_store_out_state {
	UM_STORE_OUT_QUEUED = 0,
	UM_STORE_OUT_SENT = 1,
	UM_STORE_OUT_DELIVERED = 2, /* committed to the recipient's store */
	UM_STORE_OUT_READ = 3,
	UM_STORE_OUT_REFUSED = 4,
};
enum um_store_in_state {
	UM_STORE_IN_NEW = 0,
	UM_STORE_IN_READ = 1,
};

struct um_store_message {
	int64_t seq; /* rowid: store order (output only; ignored on add) */
	uint8_t peer[32];
	uint8_t id[16];
	bool outgoing;
	uint8_t kind; /* 0 text, 1 binary */
	uint64_t sent_ms, received_ms;
	uint8_t state; /* enum um_store_out_state / um_store_in_state */
	uint8_t via;   /* enum um_store_via: the rung that carried it (0 not yet) */
	const uint8_t *body;
	size_t len; /* <= UM_STORE_BODY_MAX */
};

/* The delivery ladder's rung that carried a message (msg/ladder.h): set
 * when it was first written to a live channel or acknowledged by a
 * mailbox relay (outgoing), or when it arrived (incoming). */
enum um_store_via {
	UM_STORE_VIA_NONE = 0,
	UM_STORE_VIA_DIRECT = 1,
	UM_STORE_VIA_RELAY = 2,
	UM_STORE_VIA_RELAY_TCP = 3,
	UM_STORE_VIA_QUEUE = 4,
};
/* Records the rung of (peer, id, direction): a live rung only when none is
 * recorded yet (the first write to a session), the queue always (a message
 * written to a session that broke before its receipt, then queued) and for
 * good (a session that carries it again later does not change it). 0
 * changed, -UM_EEXIST nothing to change, -UM_ENOTFOUND, -UM_EINVAL. */
int um_store_message_set_via(struct um_store *s, const uint8_t peer[32], const uint8_t id[16], bool outgoing,
			     uint8_t via);

/* Add a message we send (m->outgoing is ignored: outgoing). m is read only;
 * body is copied. -UM_EEXIST when (peer, id) is already in the outbox. */
int um_store_outbox_add(struct um_store *s, const struct um_store_message *m);
/* The peer's outgoing messages not yet delivered (state queued or sent), by
 * seq: what to write again after a restart or channel reset. */
int um_store_outbox_pending(struct um_store *s, const uint8_t peer[32],
			    int (*cb)(void *ctx, const struct um_store_message *m), void *ctx);
/* Add a received message (m->outgoing ignored: incoming). -UM_EEXIST when this
 * (peer, id) was already received: nothing is stored and the caller acks
 * again (the first copy is durable). */
int um_store_inbox_add(struct um_store *s, const struct um_store_message *m);
/* The seq given to the last message this handle added (0 before any). */
int64_t um_store_last_seq(const struct um_store *s);

/* Moves a message forward. Outgoing: queued -> sent -> delivered -> read, and
 * queued|sent -> refused (steps may be skipped: an ACK can overtake our
 * record of sending); incoming: new -> read. 0 when the state changed;
 * -UM_EEXIST already in that state and -UM_ESTATE an older or illegal state
 * (duplicate or late receipts: nothing changed, nothing to report);
 * -UM_ENOTFOUND no such message; -UM_EINVAL a state out of range.
 * um_store_message_set_state matches the id in any peer's messages and is
 * -UM_EINVAL if two peers' messages carry that id (incoming ids are chosen by
 * the senders): um_store_peer_message_set_state names the peer. */
int um_store_message_set_state(struct um_store *s, const uint8_t id[16], bool outgoing, uint8_t state);
int um_store_peer_message_set_state(struct um_store *s, const uint8_t peer[32], const uint8_t id[16], bool outgoing,
				    uint8_t state);
/* The messages with this id and direction (any peer; usually one):
 * -UM_ENOTFOUND when none. */
int um_store_message_get(struct um_store *s, const uint8_t id[16], bool outgoing,
			 int (*cb)(void *ctx, const struct um_store_message *m), void *ctx);
/* History, both directions, seq > after_seq ascending, at most limit rows
 * (0 = no limit), of one peer or (peer_or_null NULL) of all. */
int um_store_messages(struct um_store *s, int64_t after_seq, size_t limit, const uint8_t *peer_or_null,
		      int (*cb)(void *ctx, const struct um_store_message *m), void *ctx);

/* File transfers. Bitmap: bit i (byte i / 8, mask 1 << (i % 8)) set = chunk i
 * done (receiver) / acknowledged (sender); (chunks + 7) / 8 bytes, chunks =
 * ceil(size / chunk_size). */
enum um_store_file_state {
	UM_STORE_FILE_OFFERED = 0,
	UM_STORE_FILE_ACCEPTED = 1,
	UM_STORE_FILE_ACTIVE = 2,
	UM_STORE_FILE_DONE = 3,
	UM_STORE_FILE_REFUSED = 4,
	UM_STORE_FILE_FAILED = 5,
};

struct um_store_file {
	uint8_t id[16];
	uint8_t peer[32];
	bool outgoing;
	char name[UM_STORE_FILE_NAME_MAX + 1];
	char path[UM_STORE_FILE_PATH_MAX + 1];
	uint64_t size;
	uint32_t chunk_size; /* > 0 */
	uint8_t hash[32];
	uint8_t state; /* enum um_store_file_state */
	uint64_t bytes_done, created_ms, updated_ms;
	uint8_t *bitmap;
	size_t bitmap_len;
};

/* Insert, or replace the row of the same (id, outgoing) and peer. The bitmap
 * is copied; NULL/0 stores an empty one; another length is -UM_EINVAL.
 * -UM_EEXIST when (id, outgoing) belongs to another peer's transfer (ids of
 * incoming files are chosen by the senders: one peer cannot overwrite
 * another's). -UM_EINVAL: chunk_size 0, name or path unterminated, state out
 * of range. */
int um_store_file_put(struct um_store *s, const struct um_store_file *f);
/* Fills *out; out->bitmap is malloc'd and owned by the caller (free()).
 * -UM_ENOTFOUND when absent. */
int um_store_file_get(struct um_store *s, const uint8_t id[16], bool outgoing, struct um_store_file *out);
/* Every transfer, in insertion order (bitmap valid during the callback). */
int um_store_file_list(struct um_store *s, int (*cb)(void *ctx, const struct um_store_file *f), void *ctx);
/* Sets chunk index's bit and adds bytes (that chunk's length) to bytes_done.
 * -UM_EEXIST when the bit was already set (nothing added), -UM_ERANGE index
 * beyond the file, -UM_ENOTFOUND no such transfer. Writes one bitmap byte in
 * place (a 4 GiB file's bitmap is not rewritten per chunk). */
int um_store_file_chunk_done(struct um_store *s, const uint8_t id[16], bool outgoing, uint32_t index, uint64_t bytes);
/* Changes state and updated_ms only. -UM_ENOTFOUND, -UM_EINVAL. */
int um_store_file_set_state(struct um_store *s, const uint8_t id[16], bool outgoing, uint8_t state,
			    uint64_t updated_ms);
/* Forgets a transfer. -UM_ENOTFOUND when absent. */
int um_store_file_delete(struct um_store *s, const uint8_t id[16], bool outgoing);

/* Presence: state 0 offline, 1 online, 2 away, 3 busy (UM_STORE_PRESENCE_*). */
enum um_store_presence_state {
	UM_STORE_PRESENCE_OFFLINE = 0,
	UM_STORE_PRESENCE_ONLINE = 1,
	UM_STORE_PRESENCE_AWAY = 2,
	UM_STORE_PRESENCE_BUSY = 3,
};

struct um_store_presence {
	uint8_t peer[32]; /* zero for our own */
	uint8_t state;
	uint64_t last_seen_ms;
	char text[UM_STORE_PRESENCE_TEXT_MAX + 1];
};

/* Stores a peer's presence (replacing the previous one). text (copied): NULL
 * or a NUL-terminated string of at most UM_STORE_PRESENCE_TEXT_MAX bytes
 * (-UM_ERANGE beyond); state > 3 is -UM_EINVAL. */
int um_store_presence_put(struct um_store *s, const uint8_t peer[32], uint8_t state, uint64_t last_seen_ms,
			  const char *text);
/* Fills the caller's *out; -UM_ENOTFOUND when nothing was stored for that
 * peer. */
int um_store_presence_get(struct um_store *s, const uint8_t peer[32], struct um_store_presence *out);
/* Every stored peer presence, ordered by peer. */
int um_store_presence_list(struct um_store *s, int (*cb)(void *ctx, const struct um_store_presence *p), void *ctx);
/* Our own presence (what we announce), kept across restarts. */
int um_store_self_presence_put(struct um_store *s, uint8_t state, uint64_t last_seen_ms, const char *text);
int um_store_self_presence_get(struct um_store *s, struct um_store_presence *out);

#endif
