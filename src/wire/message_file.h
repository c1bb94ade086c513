/* SPDX-License-Identifier: MIT */
/* File-transfer frame payloads (docs/PROTOCOL.md section 19). They travel
 * as frames on the message channel's byte stream ([u32 length][u8 type]
 * [payload], wire/message.h owns the framing and the type bytes: FILE_CHUNK
 * 0x02, FILE_META 0x03, FILE_REQUEST 0x06, FILE_REFUSE 0x07, FILE_DONE
 * 0x08). This file encodes and decodes the payloads only. All integers
 * big-endian; every decoder checks the exact length (no trailing bytes) and
 * every field's range, and a decoded frame borrows pointers into the
 * payload it was decoded from.
 *
 * FILE_META (sender -> receiver: an offer), 63 + name_len bytes:
 *    0  file_id[16] | u64 size | u32 chunk_size (4096..65536) |
 *   28  u8 hash_alg (2 = SHA-256 hash list) | hash[32] (the whole file) |
 *   61  u16 name_len (1..UM_FILE_NAME_WIRE_MAX) | name (the receiver
 *       sanitises it: msg/file.h um_file_name_sanitize)
 *   size / chunk_size rounded up (the chunk count) is at most 2^32-1.
 * FILE_CHUNK (sender -> receiver), 52 + data bytes:
 *    0  file_id[16] | u32 index | hash[32] (SHA-256 of data) |
 *   52  data (1..UM_FILE_CHUNK_MAX bytes: chunk_size, the last one shorter)
 * FILE_REQUEST (receiver -> sender: accept, and the chunks it still wants),
 *   20 + 8 n bytes:
 *    0  file_id[16] | u32 n (0..UM_FILE_REQUEST_RANGES_MAX) |
 *   20  n x (u32 first | u32 count): count >= 1, first + count <= 2^32-1,
 *       ranges ascending and not overlapping (adjacent allowed).
 * FILE_REFUSE (either way: an offer declined, a transfer abandoned),
 *   18 + reason_len bytes:
 *    0  file_id[16] | u16 reason_len (0..UM_FILE_REASON_MAX) | reason
 * FILE_DONE (receiver -> sender: the whole file verified or failed),
 *   19 + reason_len bytes:
 *    0  file_id[16] | u8 ok (1 verified and kept, 0 failed) |
 *   17  u16 reason_len (0..UM_FILE_REASON_MAX) | reason
 *   A reason is UTF-8 text without control characters (it is shown to a
 *   user and logged). */
#ifndef UM_WIRE_MESSAGE_FILE_H
#define UM_WIRE_MESSAGE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UM_FILE_ID_LEN   16
#define UM_FILE_HASH_LEN 32
/* hash_alg: the whole-file hash is SHA-256 over the concatenated SHA-256
 * hashes of its chunks (a hash list, PROTOCOL section 19: each side hashes
 * each byte once). 1 (BLAKE2b-256 of the bytes, chunks in BLAKE2b-256) is
 * retired. */
#define UM_FILE_HASH_SHA256_LIST   2
#define UM_FILE_CHUNK_MIN          4096
#define UM_FILE_CHUNK_MAX          65536
#define UM_FILE_CHUNKS_MAX         UINT32_MAX
#define UM_FILE_NAME_WIRE_MAX      1024
#define UM_FILE_REASON_MAX         256
#define UM_FILE_REQUEST_RANGES_MAX 1024

#define UM_FILE_META_HEADER_LEN    63
#define UM_FILE_CHUNK_HEADER_LEN   52
#define UM_FILE_REQUEST_HEADER_LEN 20
#define UM_FILE_REFUSE_HEADER_LEN  18
#define UM_FILE_DONE_HEADER_LEN    19
/* The largest payload of each frame type (B's frame parser stops on a
 * longer one). */
#define UM_FILE_META_FRAME_MAX    (UM_FILE_META_HEADER_LEN + UM_FILE_NAME_WIRE_MAX)
#define UM_FILE_CHUNK_FRAME_MAX   (UM_FILE_CHUNK_HEADER_LEN + UM_FILE_CHUNK_MAX)
#define UM_FILE_REQUEST_FRAME_MAX (UM_FILE_REQUEST_HEADER_LEN + 8 * UM_FILE_REQUEST_RANGES_MAX)
#define UM_FILE_REFUSE_FRAME_MAX  (UM_FILE_REFUSE_HEADER_LEN + UM_FILE_REASON_MAX)
#define UM_FILE_DONE_FRAME_MAX    (UM_FILE_DONE_HEADER_LEN + UM_FILE_REASON_MAX)

struct um_file_meta_frame {
	uint8_t id[UM_FILE_ID_LEN];
	uint64_t size;
	uint32_t chunk_size;
	uint8_t hash_alg;
	uint8_t hash[UM_FILE_HASH_LEN];
	const uint8_t *name; /* borrowed, not NUL-terminated, unsanitised */
	size_t name_len;
};

struct um_file_chunk_frame {
	uint8_t id[UM_FILE_ID_LEN];
	uint32_t index;
	uint8_t hash[UM_FILE_HASH_LEN];
	const uint8_t *data; /* borrowed */
	size_t len;
};

struct um_file_range {
	uint32_t first;
	uint32_t count;
};

struct um_file_request_frame {
	uint8_t id[UM_FILE_ID_LEN];
	uint32_t n_ranges;
	const uint8_t *ranges; /* borrowed: n_ranges x 8 bytes, already validated */
};

/* FILE_REFUSE (ok unused) and FILE_DONE. */
struct um_file_status_frame {
	uint8_t id[UM_FILE_ID_LEN];
	uint8_t ok;
	const char *reason; /* borrowed, not NUL-terminated */
	size_t reason_len;
};

/* The number of chunks of a file: size / chunk_size rounded up (0 for an
 * empty file); UINT64_MAX when chunk_size is 0. */
uint64_t um_file_chunk_count(uint64_t size, uint32_t chunk_size);

/* The encoders write into out (cap bytes) and set *len: 0, -UM_EINVAL
 * (a field out of its range: the same checks as the decoder), -UM_ERANGE
 * (out too small). The decoders return 0, -UM_ETRUNC (too short) or
 * -UM_EINVAL (any other violation); borrowed pointers point into p. */
int um_file_meta_frame_encode(const struct um_file_meta_frame *m, uint8_t *out, size_t cap, size_t *len);
int um_file_meta_frame_decode(const uint8_t *p, size_t len, struct um_file_meta_frame *m);

/* Encodes a chunk frame whose hash field is taken from c->hash as given.
 * c->data may already sit at out + UM_FILE_CHUNK_HEADER_LEN (the sender
 * reads the chunk there): it is then not copied. */
int um_file_chunk_frame_encode(const struct um_file_chunk_frame *c, uint8_t *out, size_t cap, size_t *len);
int um_file_chunk_frame_decode(const uint8_t *p, size_t len, struct um_file_chunk_frame *c);

int um_file_request_frame_encode(const uint8_t id[UM_FILE_ID_LEN], const struct um_file_range *ranges, size_t n,
				 uint8_t *out, size_t cap, size_t *len);
int um_file_request_frame_decode(const uint8_t *p, size_t len, struct um_file_request_frame *r);
/* Range i (< r->n_ranges) of a decoded request. */
struct um_file_range um_file_request_frame_range(const struct um_file_request_frame *r, uint32_t i);

int um_file_refuse_frame_encode(const struct um_file_status_frame *s, uint8_t *out, size_t cap, size_t *len);
int um_file_refuse_frame_decode(const uint8_t *p, size_t len, struct um_file_status_frame *s);
int um_file_done_frame_encode(const struct um_file_status_frame *s, uint8_t *out, size_t cap, size_t *len);
int um_file_done_frame_decode(const uint8_t *p, size_t len, struct um_file_status_frame *s);

/* Decodes the UTF-8 sequence at p[0..len) (len >= 1): its length in bytes
 * (1..4) and *cp, or 0 when it is not a valid, shortest-form sequence of a
 * scalar value (no surrogates, nothing above U+10FFFF). */
size_t um_file_utf8_next(const uint8_t *p, size_t len, uint32_t *cp);

/* True when text[0..len) is valid UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF) without C0/C1 control characters or DEL. */
bool um_file_text_valid(const uint8_t *text, size_t len);

#endif
