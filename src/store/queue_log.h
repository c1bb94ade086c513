/* SPDX-License-Identifier: MIT */
/* The relay queue's files (store/ internal, used by queue.c): an append-only
 * log of records in numbered segment files, the durable truth of the queue.
 *
 *   PATH                 head: magic "UMBRAQH1", u32 version, uuid[16], u32 CRC-32C
 *   PATH-NNNNNNNN.log    segment: magic "UMBRAQS1", u32 version, u32 number, uuid[16],
 *                        then records back to back
 *   record               u32 CRC-32C of the rest | u8 type | u8[3] zero | u32 len |
 *                        u64 seq | u64 arrival_ms | u64 expires_ms | recipient[32] |
 *                        id[16] | len bytes of envelope (type 1; 0 for a tombstone, type 2)
 *
 * Integers little-endian. A segment whose uuid is not the head's belongs to a
 * queue that was deleted (its head removed): it is removed on open. Records
 * are appended to a buffer and written with one write + fdatasync per group
 * (um_qlog_sync); a torn tail of the last segment (short or bad CRC: a crash
 * during a write) is cut off on open. Files 0600; a file accessible by
 * group/others is refused (-UM_EPERM). */
#ifndef UM_STORE_QUEUE_LOG_H
#define UM_STORE_QUEUE_LOG_H

#include <stddef.h>
#include <stdint.h>

#define UM_QLOG_VERSION        1u
#define UM_QLOG_RECORD_HEADER  84u
#define UM_QLOG_SEGMENT_HEADER 32u
#define UM_QLOG_SEGMENT_MAX    (64ull << 20) /* rotated past this size */
#define UM_QLOG_SPILL          (16u << 20)   /* a group's buffer written (not synced) past this */

enum um_qlog_type { UM_QLOG_PUT = 1, UM_QLOG_TOMBSTONE = 2 };

struct um_qlog_record {
	uint8_t type;
	uint32_t len;
	uint64_t seq, arrival_ms, expires_ms;
	uint8_t recipient[32], id[16];
};

struct um_qlog_segment {
	uint32_t number;
	int fd;
	uint64_t size; /* durable end (synced) */
	uint64_t live; /* bytes of records the index still uses (kept by queue.c) */
};

struct um_qlog {
	char *path; /* the head's */
	uint8_t uuid[16];
	struct um_qlog_segment *seg; /* by number; the last is the active one */
	size_t n_seg, cap_seg;
	uint64_t written; /* past the active segment's size, written, not synced */
	uint8_t *buf;     /* appended, not written yet */
	size_t buf_len, buf_cap;
	uint64_t segment_max;
	uint64_t rotate_retry; /* after a failed rotation: not before this size */
	int dir_fd;
};

/* Called for each valid record found on open, in log order; off is the
 * record's offset in segment number seg. A nonzero return stops the open. */
typedef int (*um_qlog_scan_fn)(void *ctx, const struct um_qlog_record *r, uint32_t seg, uint64_t off);

/* Opens (creating the head 0600 when missing) the log at path into *log
 * (caller's storage; release with um_qlog_close) and replays it through cb.
 * -UM_EVERSION: path is not a queue log of this version (e.g. an SQLite
 * queue of an older umbra). */
int um_qlog_open(struct um_qlog *log, const char *path, um_qlog_scan_fn cb, void *ctx);
void um_qlog_close(struct um_qlog *log);
/* Appends r (len bytes of body, borrowed) to the group; *seg and *off say
 * where it will be. An error (from a spill: -ENOSPC, -EIO) means the group's
 * unsynced records are gone (the file is cut back). */
int um_qlog_append(struct um_qlog *log, const struct um_qlog_record *r, const uint8_t *body, uint32_t *seg,
		   uint64_t *off);
/* Writes the group and fdatasyncs: 0 when durable. On failure the group is
 * dropped and the file cut back to its last durable size. */
int um_qlog_sync(struct um_qlog *log);
/* Drops the group (not written parts: cut back). */
void um_qlog_discard(struct um_qlog *log);
/* Starts a new segment when the active one is past segment_max and no group
 * is open. 0 also when it did not (a failure is logged, the old one goes on). */
void um_qlog_rotate(struct um_qlog *log);
/* Reads the record at (seg, off) and its body (cap >= its len) and checks its
 * CRC: 0, -EIO (damaged), -UM_ENOTFOUND (no such segment). */
int um_qlog_read(struct um_qlog *log, uint32_t seg, uint64_t off, struct um_qlog_record *r, uint8_t *body, size_t cap);
/* The segment numbered seg, NULL when none. */
struct um_qlog_segment *um_qlog_segment(struct um_qlog *log, uint32_t seg);
/* Closes and removes the oldest segment (never the active one). */
int um_qlog_drop_oldest(struct um_qlog *log);
/* Every record of every segment checked (CRC, lengths): 0 or -EIO. */
int um_qlog_verify(struct um_qlog *log);
/* Size in bytes of a record with len bytes of body. */
static inline uint64_t um_qlog_record_size(uint32_t len)
{
	return UM_QLOG_RECORD_HEADER + (uint64_t)len;
}

#endif
