/* SPDX-License-Identifier: MIT */
/* The relay's durable queue of sealed envelopes for offline recipients
 * ([relay] queue = PATH): an append-only segment log (store/queue_log.h:
 * PATH is its head, the envelopes are in PATH-NNNNNNNN.log), the index in
 * memory, rebuilt from the log on open. Files are created 0600 and refused
 * (-UM_EPERM) when accessible by group/others; a PATH in the SQLite format
 * of an older umbra is refused (-UM_EVERSION).
 *
 * What it holds per envelope: the recipient's peer ID, the envelope ID, a
 * sequence number, the arrival and expiry times (ms), the size and the
 * envelope's bytes as given, under a CRC-32C. There is no sender: the relay
 * has none to store.
 *
 * Durability: a put that returned 0 outside a batch is fdatasynced. Between
 * um_queue_begin and um_queue_commit, puts (and deletes) share one group
 * (group commit: one write and one fdatasync) and are durable only once the
 * outermost commit returned 0: acknowledge nothing before. A failure (disk
 * full -ENOSPC, I/O -EIO, no memory) rolls back the whole batch; later calls
 * of the batch and its commit return that error; nothing committed before is
 * touched. Refusals (-UM_EEXIST, -UM_ELIMIT, -UM_EINVAL, -UM_ERANGE,
 * -UM_ENOTFOUND) change nothing and leave a batch usable. A crash inside a
 * write leaves a torn record at the end of the log, cut on the next open.
 *
 * One thread uses a queue. */
#ifndef UM_STORE_QUEUE_H
#define UM_STORE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define UM_QUEUE_SCHEMA_VERSION 2             /* 1: SQLite (session 9), 2: the segment log */
#define UM_QUEUE_ENVELOPE_MAX   (128u * 1024) /* bytes of one envelope */
/* Defaults of the limits per recipient (issue 17). */
#define UM_QUEUE_TTL_MS_DEFAULT       (72ull * 3600 * 1000)
#define UM_QUEUE_MAX_MESSAGES_DEFAULT 100u
#define UM_QUEUE_MAX_BYTES_DEFAULT    (1024ull * 1024)

struct um_queue;

/* Per recipient. A zero field takes its default. */
struct um_queue_limits {
	uint64_t ttl_ms;
	uint32_t max_messages;
	uint64_t max_bytes;
};

/* One queued envelope, as handed to um_queue_pending's callback: envelope
 * points into the queue's buffer, valid during the callback only. */
struct um_queue_entry {
	uint8_t recipient[32];
	uint8_t id[16];
	uint64_t arrival_ms, expires_ms;
	const uint8_t *envelope;
	size_t len;
};

/* Counters: the first three are the database's now, the others count since
 * um_queue_open. */
struct um_queue_stats {
	uint64_t envelopes, bytes, recipients;
	uint64_t puts, refused_full, refused_dup, purged, deleted;
};

/* Opens (creating it 0600 if missing; the directory must exist) the queue at
 * path. limits may be NULL (defaults); it is copied. On success *out is the
 * caller's: release with um_queue_close. */
int um_queue_open(const char *path, const struct um_queue_limits *limits, struct um_queue **out);
/* Closes and frees q (NULL ok); an open batch is rolled back (logged). */
void um_queue_close(struct um_queue *q);

/* Group commit: calls until the matching commit share one transaction (one
 * fsync); nesting is counted, only the outermost commit writes. */
int um_queue_begin(struct um_queue *q);
int um_queue_commit(struct um_queue *q);

/* Queues len bytes of envelope (borrowed, copied) for recipient, arrived at
 * now_ms, expiring at now_ms + ttl. 0, or -UM_EEXIST: this (recipient, id) is
 * already queued (acknowledge it again: puts are idempotent), -UM_ELIMIT: the
 * recipient's count or bytes would exceed the limits (its expired envelopes
 * are dropped first), -UM_ERANGE: len is 0 or above UM_QUEUE_ENVELOPE_MAX,
 * -ENOSPC: disk full (nothing stored, nothing else damaged). */
int um_queue_put(struct um_queue *q, const uint8_t recipient[32], const uint8_t envelope_id[16],
		 const uint8_t *envelope, size_t len, uint64_t now_ms);
/* Calls cb for up to limit (0: all) of recipient's envelopes in arrival
 * order, copied out a page at a time (cb may delete). cb returns 0 to go on;
 * another value stops the walk and is returned. Expired envelopes not yet
 * purged are included: purge first. */
int um_queue_pending(struct um_queue *q, const uint8_t recipient[32], size_t limit,
		     int (*cb)(void *ctx, const struct um_queue_entry *e), void *ctx);
/* Deletes one of recipient's envelopes: 0, -UM_ENOTFOUND (none with that id
 * for this recipient: another's are out of reach). */
int um_queue_delete(struct um_queue *q, const uint8_t recipient[32], const uint8_t envelope_id[16]);
/* Deletes all of recipient's envelopes; returns how many (>= 0) or an error. */
int um_queue_delete_all(struct um_queue *q, const uint8_t recipient[32]);
/* Deletes the envelopes expired at now_ms (one group of tombstones), then,
 * outside a batch, compacts up to 4 of the oldest segments once at most half
 * alive (live records copied to the head and synced, the file removed);
 * returns how many were purged (>= 0) or an error. */
int um_queue_purge(struct um_queue *q, uint64_t now_ms);
/* Fills out; envelopes, bytes and recipients are the index's totals (cheap). */
int um_queue_stats(struct um_queue *q, struct um_queue_stats *out);
/* Every record of the log read back and its CRC checked: 0 when ok, -EIO
 * otherwise. */
int um_queue_integrity_check(struct um_queue *q);
/* Segments are rotated past bytes (>= 4096; default UM_QLOG_SEGMENT_MAX, 64
 * MiB): for tests of the compaction. */
int um_queue_set_segment_size(struct um_queue *q, uint64_t bytes);

#endif
