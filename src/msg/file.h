/* SPDX-License-Identifier: MIT */
/* File transfers between two peers, I/O-free (docs/PROTOCOL.md section 19).
 * The node reads, writes, fsyncs and renames; these state machines say
 * which chunk to read or ask for next and check what arrives.
 *
 *   sender                                   receiver
 *   um_file_send_new (zero hash),
 *   um_file_send_hash_as_sent,
 *   um_file_send_meta                    -> FILE_META (hash zero: it follows)
 *                                            um_file_receive_meta (limits,
 *                                            name), policy, um_file_receive_new
 *                                            (+ um_file_receive_import on resume)
 *   um_file_send_request                <-  FILE_REQUEST um_file_receive_request
 *   loop: um_file_send_next, read,
 *         um_file_chunk_encode          ->  FILE_CHUNK   um_file_receive_chunk,
 *                                            pwrite (+ fsync) and store the
 *                                            chunk done; um_file_receive_wants_request
 *                                            -> another FILE_REQUEST
 *   every chunk sent once: hash_known,
 *   um_file_send_meta                    -> FILE_META (the list hash)
 *                                            all done: um_file_receive_verify
 *   (finished)                          <-  FILE_DONE (or FILE_REFUSE: either way)
 *
 * Chunks the sender sends are those the receiver asked for and it has not
 * sent since: a FILE_REQUEST adds ranges to the sender's wanted set, a sent
 * chunk leaves it. The receiver asks each missing chunk once and asks
 * again only for one that failed (wrong hash or length) or, after the
 * channel reset (UM_MSG_EVENT_RESET: the bytes in flight are gone), for
 * everything missing: both sides call their _restart then. A chunk the
 * receiver did not ask for (or already has) is refused and counted.
 * Resume after a restart: the receiver imports its done bitmap from the
 * store and asks for the rest; a new sender state sends only that. */
#ifndef UM_MSG_FILE_H
#define UM_MSG_FILE_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/message_file.h"

/* The longest sanitised name in bytes (the NUL not counted). */
#define UM_FILE_NAME_MAX 200

/* Turns an offered name (len bytes, anything) into a safe leaf name in out
 * (cap bytes, NUL-terminated; cap > UM_FILE_NAME_MAX always suffices):
 * only the last path component ('/' and '\' both separate), leading dots
 * and spaces and trailing spaces removed (no "..", no hidden file),
 * control characters (C0, DEL, C1), bidirectional and line-separator
 * format characters and invalid UTF-8 bytes each replaced by '_', at most
 * UM_FILE_NAME_MAX bytes (cut at a character boundary, keeping an
 * extension of up to 32 bytes). Valid UTF-8 is kept as it is.
 * 0, -UM_EINVAL when nothing is left, -UM_ERANGE when cap is too small. */
int um_file_name_sanitize(const char *offered, size_t len, char *out, size_t cap);

/* SHA-256 of one chunk. */
void um_file_chunk_hash(const void *data, size_t len, uint8_t out[UM_FILE_HASH_LEN]);

/* The whole-file hash (hash_alg 2, a hash list): SHA-256 over the n chunk
 * hashes of the file in index order (n x UM_FILE_HASH_LEN bytes, borrowed).
 * Each byte of the file is hashed once, by its chunk hash: the sender's
 * chunk hashes from the offer's pass serve its FILE_CHUNKs, the receiver's
 * checked chunk hashes serve the whole-file check. */
void um_file_list_hash(const uint8_t *chunk_hashes, uint32_t n, uint8_t out[UM_FILE_HASH_LEN]);

/* A set of chunk indexes 0..n-1. Exported for the store as (n + 7) / 8
 * bytes, chunk i in byte i / 8, bit i % 8 (least significant first); the
 * bits past n are zero. */
struct um_file_bitmap {
	uint8_t *bits; /* owned */
	uint32_t n;
	uint32_t count; /* bits set */
};
size_t um_file_bitmap_bytes(uint32_t n);
/* Allocates an empty set of n chunks: 0 or -UM_ENOMEM. */
int um_file_bitmap_init(struct um_file_bitmap *b, uint32_t n);
void um_file_bitmap_free(struct um_file_bitmap *b);
bool um_file_bitmap_test(const struct um_file_bitmap *b, uint32_t i);
void um_file_bitmap_set(struct um_file_bitmap *b, uint32_t i);
void um_file_bitmap_clear(struct um_file_bitmap *b, uint32_t i);
void um_file_bitmap_reset(struct um_file_bitmap *b);
/* Sets first .. first + count - 1 (the caller checked the range is within
 * n): a whole-file request costs a memset, not a loop per chunk. */
void um_file_bitmap_set_range(struct um_file_bitmap *b, uint32_t first, uint32_t count);
/* The first index >= from whose bit equals `value`, or b->n if none. */
uint32_t um_file_bitmap_find(const struct um_file_bitmap *b, uint32_t from, bool value);
/* Copies the bits to out: 0 or -UM_ERANGE (cap < um_file_bitmap_bytes). */
int um_file_bitmap_export(const struct um_file_bitmap *b, uint8_t *out, size_t cap);
/* Replaces the bits from in (borrowed): 0, or -UM_EINVAL when len is not
 * um_file_bitmap_bytes(b->n) or a bit past n is set (b unchanged). */
int um_file_bitmap_import(struct um_file_bitmap *b, const uint8_t *in, size_t len);

/* ---- Sender ---- */

struct um_file_send_stats {
	uint64_t chunks_sent, bytes_sent, requeued;
	uint64_t requests, requests_refused; /* FILE_REQUESTs taken / refused */
};

struct um_file_send {
	uint8_t id[UM_FILE_ID_LEN];
	uint64_t size;
	uint32_t chunk_size;
	uint32_t n_chunks;
	uint8_t hash[UM_FILE_HASH_LEN];
	char name[UM_FILE_NAME_WIRE_MAX + 1];
	uint8_t *chunk_hashes;        /* owned, n_chunks x UM_FILE_HASH_LEN, or NULL (hashed as sent) */
	struct um_file_bitmap hashed; /* um_file_send_hash_as_sent: chunk_hashes[i] known */
	bool hash_known;              /* hash is the file's (else zero in FILE_META: it follows) */
	bool accepted;                /* a FILE_REQUEST came */
	struct um_file_bitmap wanted; /* asked for and not sent since */
	uint32_t next;                /* where um_file_send_next looks first */
	struct um_file_send_stats stats;
};

/* A sender for a file of `size` bytes with whole-file `hash` (computed
 * before: um_file_list_hash; all zero = not yet, see
 * um_file_send_hash_as_sent), offered under `name` (copied; 1 ..
 * UM_FILE_NAME_WIRE_MAX bytes, NUL-terminated). *out is the caller's to
 * release with um_file_send_free. 0, -UM_EINVAL (chunk_size, name, or more
 * than 2^32-1 chunks), -UM_ENOMEM. */
int um_file_send_new(const uint8_t id[UM_FILE_ID_LEN], uint64_t size, uint32_t chunk_size,
		     const uint8_t hash[UM_FILE_HASH_LEN], const char *name, struct um_file_send **out);
void um_file_send_free(struct um_file_send *fs); /* NULL ok */
/* The chunk hashes computed with the offer's hash (n_chunks x
 * UM_FILE_HASH_LEN bytes, malloc'd: taken, freed by um_file_send_free):
 * um_file_chunk_encode then copies them instead of hashing again. The
 * node checks the file did not change since (its mtime and size). */
void um_file_send_adopt_hashes(struct um_file_send *fs, uint8_t *chunk_hashes);
/* The offer goes before the file is hashed (new with hash_alg 2, no pass
 * before the first chunk): FILE_META carries a zero hash, each chunk is
 * hashed the first time it is sent (kept for the list), and once every
 * chunk was, hash_known turns true and hash holds the list hash: the node
 * sends FILE_META again with it. 0 or -UM_ENOMEM. */
int um_file_send_hash_as_sent(struct um_file_send *fs);
/* FILE_META payload (UM_FILE_META_FRAME_MAX bytes always suffice). */
int um_file_send_meta(const struct um_file_send *fs, uint8_t *out, size_t cap, size_t *len);
/* A FILE_REQUEST payload for this file: its ranges join the wanted set.
 * 0; -UM_ETRUNC/-UM_EINVAL malformed, -UM_ENOTFOUND another file's id,
 * -UM_ERANGE a range past the last chunk (all counted, nothing changes). */
int um_file_send_request(struct um_file_send *fs, const uint8_t *payload, size_t len);
/* The next chunk to read and send: 0 and *index, or -UM_EAGAIN when the
 * receiver wants nothing now (wait for a FILE_REQUEST or FILE_DONE). */
int um_file_send_next(struct um_file_send *fs, uint32_t *index);
/* The exact length of chunk `index` (chunk_size, the last one shorter). */
size_t um_file_chunk_len(uint64_t size, uint32_t chunk_size, uint32_t index);
/* Hashes chunk `index` (or takes its adopted hash; data: len bytes read
 * from the file, borrowed, best read to out + UM_FILE_CHUNK_HEADER_LEN: no
 * copy then),
 * writes the FILE_CHUNK payload to out (UM_FILE_CHUNK_FRAME_MAX bytes
 * always suffice) and marks the chunk sent. 0; -UM_ESTATE the receiver
 * does not want it, -UM_EINVAL len is not the chunk's length, -UM_ERANGE
 * out too small. */
int um_file_chunk_encode(struct um_file_send *fs, uint32_t index, const void *data, size_t len, uint8_t *out,
			 size_t cap, size_t *outlen);
/* The chunk's frame could not be queued (the channel was full): wanted
 * again. */
void um_file_send_requeue(struct um_file_send *fs, uint32_t index);
/* The channel reset: forget the wanted set (the receiver asks again). */
void um_file_send_restart(struct um_file_send *fs);

/* ---- Receiver ---- */

struct um_file_limits {
	uint64_t max_size;        /* the largest file accepted (the node's max-file-size) */
	uint32_t max_outstanding; /* chunks asked for and not yet arrived; 0 = no limit */
};

/* A validated offer. */
struct um_file_meta {
	uint8_t id[UM_FILE_ID_LEN];
	uint64_t size;
	uint32_t chunk_size;
	uint32_t n_chunks;
	uint8_t hash[UM_FILE_HASH_LEN];
	char name[UM_FILE_NAME_MAX + 1]; /* sanitised */
};

/* Decodes and checks a FILE_META payload: 0; -UM_ETRUNC/-UM_EINVAL
 * malformed or no safe name left, -UM_ELIMIT size above limits->max_size.
 * The caller answers a refusal with FILE_REFUSE. */
int um_file_receive_meta(const uint8_t *payload, size_t len, const struct um_file_limits *limits,
			 struct um_file_meta *meta);

struct um_file_receive_stats {
	uint64_t chunks_received, bytes_received;
	uint64_t chunks_unsolicited; /* not asked for (or already done): refused */
	uint64_t chunks_bad_hash;    /* -UM_EBADMSG: asked for again */
	uint64_t chunks_malformed;   /* bad frame, other id, wrong length */
	uint64_t requests_sent, chunks_requested;
};

struct um_file_receive {
	struct um_file_meta meta;
	struct um_file_limits limits;
	struct um_file_bitmap done;        /* verified and handed to the node */
	struct um_file_bitmap outstanding; /* asked for, not arrived */
	struct um_file_bitmap hashed;      /* chunk_hashes[i] known (checked in this run, or set) */
	uint8_t *chunk_hashes;             /* owned, n_chunks x UM_FILE_HASH_LEN */
	uint32_t scan;                     /* no chunk below is missing and unasked */
	uint64_t bytes_done;
	struct um_file_receive_stats stats;
};

/* A receiver for an accepted offer (meta copied; limits may be NULL = no
 * window). *out is the caller's to release with um_file_receive_free.
 * 0, -UM_EINVAL, -UM_ENOMEM. */
int um_file_receive_new(const struct um_file_meta *meta, const struct um_file_limits *limits,
			struct um_file_receive **out);
void um_file_receive_free(struct um_file_receive *fr); /* NULL ok */
/* Resume: the chunks already on disk (the store's bitmap, borrowed).
 * 0 or -UM_EINVAL (wrong length or stray bits: nothing changes). */
int um_file_receive_import(struct um_file_receive *fr, const uint8_t *bitmap, size_t len);
/* Checks a FILE_CHUNK payload: on 0, chunk *index of *dlen bytes at *data
 * (borrowed from payload) is verified and counted done: the node writes it
 * (and calls um_file_receive_chunk_forget if it cannot). -UM_ETRUNC/
 * -UM_EINVAL malformed, another file's id or a wrong length (asked again
 * when it was asked), -UM_ESTATE not asked for or already done,
 * -UM_EBADMSG wrong hash (asked again). Every refusal is counted. */
int um_file_receive_chunk(struct um_file_receive *fr, const uint8_t *payload, size_t len, uint32_t *index,
			  const uint8_t **data, size_t *dlen);
/* The node could not write chunk `index`: missing again. */
void um_file_receive_chunk_forget(struct um_file_receive *fr, uint32_t index);
/* True when a FILE_REQUEST should go out now (missing chunks not asked
 * for, and room in the window). */
bool um_file_receive_wants_request(const struct um_file_receive *fr);
/* Encodes one FILE_REQUEST payload (UM_FILE_REQUEST_FRAME_MAX bytes always
 * suffice) for missing chunks not asked for yet (at most
 * UM_FILE_REQUEST_RANGES_MAX ranges, within the window) and marks them
 * asked. *len = 0 when there is nothing to ask: call in a loop until then.
 * 0 or -UM_ERANGE (out too small). */
int um_file_receive_request(struct um_file_receive *fr, uint8_t *out, size_t cap, size_t *len);
/* The channel reset: what was asked is lost; everything missing is asked
 * again by the next um_file_receive_request. */
void um_file_receive_restart(struct um_file_receive *fr);
/* Every chunk is done: the node verifies the whole file (meta.hash). */
bool um_file_receive_complete(const struct um_file_receive *fr);
/* Whole-file check: the hash of each chunk checked in this run is kept;
 * the node hashes the others (done before a restart) from the disk with
 * um_file_chunk_hash and hands them over with _set_chunk_hash, then
 * um_file_receive_verify compares the hash list with the offer's hash:
 * 0, -UM_ESTATE (a chunk hash still unknown, or meta.hash still zero: the
 * sender announces it in a later FILE_META), -UM_EBADMSG (mismatch). */
bool um_file_receive_chunk_hash_known(const struct um_file_receive *fr, uint32_t index);
void um_file_receive_set_chunk_hash(struct um_file_receive *fr, uint32_t index, const uint8_t hash[UM_FILE_HASH_LEN]);
int um_file_receive_verify(const struct um_file_receive *fr);

#endif
