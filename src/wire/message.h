/* SPDX-License-Identifier: MIT */
/* Frames on a peer's message channel (msg/channel.h, docs/PROTOCOL.md
 * section 18). The channel is a reliable ordered byte stream; on it every
 * frame is
 *
 *   u32 length | u8 type | payload[length]
 *
 * with length counting the payload only (the type byte excluded). Types:
 * DATA 0x01, FILE_CHUNK 0x02, FILE_META 0x03, PRESENCE 0x04, ACK 0x05,
 * FILE_REQUEST 0x06, FILE_REFUSE 0x07, FILE_DONE 0x08. This file codes the
 * framing and the payloads of DATA, ACK and PRESENCE; the FILE_* payloads
 * belong to wire/message_file.h.
 *
 * Every type has a payload maximum (um_frame_payload_max); a length above
 * it is refused before a byte of the payload is buffered: after it the
 * stream cannot be trusted (the reader stops, the owner resets the
 * channel). A frame within its maximum whose payload does not decode is
 * skipped whole: the length was read, the stream stays in sync. A frame of
 * an unknown type is skipped without being buffered (forward compatible).
 *
 * Payloads (big-endian):
 *   DATA      message_id[16] | u64 sent_ms | u8 kind (0 text, 1 binary) | body (<= 64 KiB;
 *             text is UTF-8)
 *   ACK       message_id[16] | u8 what (1 delivered, 2 read, 3 refused) |
 *             [u16 reason_len (>= 1) | reason (UTF-8, <= 256 bytes)]: the reason field is present
 *             only when there is a reason
 *   PRESENCE  u8 state (0 offline, 1 online, 2 away, 3 busy) | u64 last_seen_ms |
 *             u16 text_len | text (UTF-8, <= 256 bytes)
 * Texts never contain NUL (they come from and go to C strings). Decoders
 * accept exactly the bytes the encoders write: one encoding per value. */
#ifndef UM_WIRE_MESSAGE_H
#define UM_WIRE_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum um_frame_type {
	UM_FRAME_DATA = 0x01,
	UM_FRAME_FILE_CHUNK = 0x02,
	UM_FRAME_FILE_META = 0x03,
	UM_FRAME_PRESENCE = 0x04,
	UM_FRAME_ACK = 0x05,
	UM_FRAME_FILE_REQUEST = 0x06,
	UM_FRAME_FILE_REFUSE = 0x07,
	UM_FRAME_FILE_DONE = 0x08,
};

enum um_message_kind {
	UM_MESSAGE_TEXT = 0,
	UM_MESSAGE_BINARY = 1,
};

/* ACK "what": the receipts. */
enum um_receipt {
	UM_RECEIPT_DELIVERED = 1, /* committed to the receiver's store */
	UM_RECEIPT_READ = 2,
	UM_RECEIPT_REFUSED = 3,
};

enum um_presence_state {
	UM_PRESENCE_OFFLINE = 0,
	UM_PRESENCE_ONLINE = 1,
	UM_PRESENCE_AWAY = 2,
	UM_PRESENCE_BUSY = 3,
};

enum {
	UM_FRAME_HEADER_BYTES = 5,
	UM_MESSAGE_ID_BYTES = 16,
	UM_MESSAGE_BODY_MAX = 65536,
	/* The largest payload of DATA and of the file frames (64 KiB of body
	 * or chunk data plus a header of up to 64 bytes), and of a frame of an
	 * unknown type. */
	UM_FRAME_PAYLOAD_MAX = 65536 + 64,
	UM_MESSAGE_DATA_HEAD_BYTES = UM_MESSAGE_ID_BYTES + 8 + 1,
	UM_MESSAGE_REASON_MAX = 256,
	UM_MESSAGE_ACK_MIN = UM_MESSAGE_ID_BYTES + 1,
	UM_MESSAGE_ACK_MAX = UM_MESSAGE_ACK_MIN + 2 + UM_MESSAGE_REASON_MAX,
	UM_PRESENCE_TEXT_MAX = 256,
	UM_MESSAGE_PRESENCE_MIN = 1 + 8 + 2,
	UM_MESSAGE_PRESENCE_MAX = UM_MESSAGE_PRESENCE_MIN + UM_PRESENCE_TEXT_MAX,
};

_Static_assert(UM_MESSAGE_DATA_HEAD_BYTES + UM_MESSAGE_BODY_MAX <= UM_FRAME_PAYLOAD_MAX, "a full DATA fits");

/* True for the eight types above. */
bool um_frame_type_known(uint8_t type);
/* The largest payload a frame of this type may have: the length limit
 * the reader enforces (UM_FRAME_PAYLOAD_MAX for unknown types). */
uint32_t um_frame_payload_max(uint8_t type);
/* Writes the 5-byte frame header. -UM_ERANGE if len is above the type's
 * maximum (the peer would reset the channel). */
int um_frame_header_encode(uint8_t out[UM_FRAME_HEADER_BYTES], uint8_t type, size_t len);
/* Valid UTF-8 without NUL, surrogates, overlong forms or code points above
 * U+10FFFF: the texts of every frame. */
bool um_message_text_valid(const uint8_t *text, size_t len);

/* DATA. body is borrowed (points into the decoded payload). */
struct um_message_data {
	uint8_t id[UM_MESSAGE_ID_BYTES];
	uint64_t sent_ms;
	uint8_t kind; /* enum um_message_kind */
	const uint8_t *body;
	size_t len;
};
/* Checks d (kind known, len <= UM_MESSAGE_BODY_MAX, a text body valid
 * UTF-8) and writes the fixed part of its payload (the body follows it on
 * the wire): 0 or -UM_EINVAL / -UM_ERANGE. */
int um_message_data_encode_head(uint8_t out[UM_MESSAGE_DATA_HEAD_BYTES], const struct um_message_data *d);
/* The whole payload into out: its length, or -UM_EINVAL / -UM_ERANGE
 * (invalid, or cap too small). */
int um_message_data_encode(uint8_t *out, size_t cap, const struct um_message_data *d);
/* 0, -UM_ETRUNC (shorter than the fixed part) or -UM_EINVAL (unknown kind,
 * body too long, text not UTF-8). d->body points into payload. */
int um_message_data_decode(struct um_message_data *d, const uint8_t *payload, size_t len);

/* ACK. reason is borrowed; reason_len 0 = no reason field. */
struct um_message_ack {
	uint8_t id[UM_MESSAGE_ID_BYTES];
	uint8_t what; /* enum um_receipt */
	const uint8_t *reason;
	size_t reason_len;
};
int um_message_ack_encode(uint8_t *out, size_t cap, const struct um_message_ack *a);
/* 0, -UM_ETRUNC or -UM_EINVAL (unknown what, reason_len 0 or above
 * UM_MESSAGE_REASON_MAX, bytes after the reason, reason not text). */
int um_message_ack_decode(struct um_message_ack *a, const uint8_t *payload, size_t len);

/* PRESENCE. text is borrowed. */
struct um_message_presence {
	uint8_t state; /* enum um_presence_state */
	uint64_t last_seen_ms;
	const uint8_t *text;
	size_t text_len;
};
int um_message_presence_encode(uint8_t *out, size_t cap, const struct um_message_presence *p);
/* 0, -UM_ETRUNC or -UM_EINVAL (unknown state, text too long or not text,
 * bytes after the text). */
int um_message_presence_decode(struct um_message_presence *p, const uint8_t *payload, size_t len);

/* The incremental frame reader: stream bytes in, whole frames out. It
 * owns one buffer (grown on demand up to the largest payload seen, at most
 * UM_FRAME_PAYLOAD_MAX) in which the payloads of the frames it returns
 * stay, one after the other, until um_frame_reader_release: several
 * frames can be handed out and used together. The reader never takes a
 * byte past the end of the frame in progress, so its owner can read from
 * the channel exactly what it asks for and leave the rest there. */
struct um_frame {
	uint8_t type;
	uint32_t len;
	const uint8_t *payload; /* in the reader's buffer; NULL for a skipped frame */
};

enum um_frame_status {
	UM_FRAME_MORE = 0,    /* bytes taken, no frame complete yet */
	UM_FRAME_READY = 1,   /* a whole frame of a known type */
	UM_FRAME_SKIPPED = 2, /* a whole frame of an unknown type went by (payload NULL) */
};

struct um_frame_reader {
	uint8_t *buf; /* owned */
	size_t cap;
	size_t pos;  /* end of the payloads handed out since the last release */
	size_t have; /* payload bytes of the frame in progress (at buf + pos) */
	uint8_t head[UM_FRAME_HEADER_BYTES];
	uint8_t head_have;
	uint8_t type;
	uint32_t len;
	bool broken; /* a length above its maximum came: nothing more until reset */
};

/* An empty reader (no allocation until the first payload). Never fails. */
void um_frame_reader_init(struct um_frame_reader *r);
/* Frees the buffer; the reader can be initialised again. */
void um_frame_reader_destroy(struct um_frame_reader *r);
/* Drops the frame in progress (a channel reset: the stream starts again at
 * a frame boundary) and clears the broken state. Frames already handed
 * out stay valid until the next release. */
void um_frame_reader_reset(struct um_frame_reader *r);
/* The frames handed out so far are no longer used: their space is reused
 * (a partial payload moves to the front of the buffer). */
void um_frame_reader_release(struct um_frame_reader *r);
/* Where the next stream bytes go (*dst) and how many the reader takes
 * before the frame in progress ends (*n >= 1). 0; -UM_EAGAIN when the
 * buffer has no room for the payload until um_frame_reader_release;
 * -UM_ERANGE while broken; -UM_ENOMEM if growing the buffer failed. */
int um_frame_reader_space(struct um_frame_reader *r, uint8_t **dst, size_t *n);
/* n (<= the *n of the last space call) bytes were written at *dst.
 * Returns UM_FRAME_MORE, UM_FRAME_READY or UM_FRAME_SKIPPED (*out filled),
 * or -UM_ERANGE: the header just completed has a length above its type's
 * maximum (out->type and out->len say which; the reader is broken now). */
int um_frame_reader_commit(struct um_frame_reader *r, size_t n, struct um_frame *out);
/* Copying convenience over space/commit: takes bytes from in until a
 * frame completes or in is used up (*used says how many). Returns like
 * commit, or an error of space (then *used bytes were taken). */
int um_frame_reader_push(struct um_frame_reader *r, const uint8_t *in, size_t len, size_t *used, struct um_frame *out);

#endif
