/* SPDX-License-Identifier: MIT */
/* The messenger: one per peer, the frame layer over that peer's message
 * channel (msg/channel.h). It owns the channel, writes whole frames into
 * it (wire/message.h) and turns the bytes the channel delivers into events:
 * messages, receipts, presence, file frames (for msg/file.h), channel
 * resets and protocol errors. docs/PROTOCOL.md section 18.
 *
 * I/O free, one thread, no clock of its own:
 *
 *   um_messenger_new(&cfg, random_nonzero_epoch, now, &m);
 *   on a received segment:  n = 0; um_messenger_input(m, seg, len, now, ev, &n);
 *                           handle ev[0..n); while (um_messenger_pending(m)) { n = 0;
 *                           um_messenger_input(m, NULL, 0, now, ev, &n); handle ev[0..n); }
 *   to send:                um_messenger_send / _ack / _presence / _send_frame
 *                           (-UM_EAGAIN: the channel is full, try again after output)
 *   after any call and at um_messenger_deadline():
 *                           while (um_messenger_output(m, now, buf, cap, &len) == 0 && len) send
 *
 * A frame goes into the channel whole or not at all, so the stream is at a
 * frame boundary after every call and after a channel reset. Delivery is
 * at least once: after UM_MSG_EVENT_RESET the owner writes again every
 * message not yet acknowledged (ACK delivered) and the receiver dedupes by
 * message ID (the store's -UM_EEXIST), acknowledging again. */
#ifndef UM_MSG_MESSENGER_H
#define UM_MSG_MESSENGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg/channel.h"
#include "wire/message.h"

struct um_messenger;

struct um_messenger_config {
	/* The channel's; its send_buffer must hold the largest frame
	 * (0 = the channel's default, or >= UM_FRAME_HEADER_BYTES +
	 * UM_FRAME_PAYLOAD_MAX). */
	struct um_channel_config channel;
	size_t max_message; /* largest body sent or accepted; 0 = UM_MESSAGE_BODY_MAX (65536) */
};

enum um_messenger_event_kind {
	UM_MSG_EVENT_MESSAGE = 1,    /* id, message_kind, time_ms = sent_ms, data/len = body */
	UM_MSG_EVENT_ACK,            /* id, what (enum um_receipt), data/len = reason (len 0: none) */
	UM_MSG_EVENT_PRESENCE,       /* state, time_ms = last_seen_ms, data/len = text */
	UM_MSG_EVENT_FILE_FRAME,     /* frame_type (FILE_*), data/len = the raw payload for msg/file.h */
	UM_MSG_EVENT_RESET,          /* the channel reset: write again whatever was not acknowledged */
	UM_MSG_EVENT_PROTOCOL_ERROR, /* a bad frame (counted): frame_type, data/len = what was wrong (text);
				      * what = 1 when id holds the ID of the malformed DATA or ACK */
};

/* Texts and payloads are not NUL-terminated: use len. */
struct um_messenger_event {
	enum um_messenger_event_kind kind;
	uint8_t id[UM_MESSAGE_ID_BYTES];
	union {
		uint8_t what_or_kind_or_state;
		uint8_t what;         /* ACK: enum um_receipt */
		uint8_t message_kind; /* MESSAGE: enum um_message_kind */
		uint8_t state;        /* PRESENCE: enum um_presence_state */
	};
	uint64_t time_ms;
	const uint8_t *data; /* in the messenger's buffer, see um_messenger_input; never NULL */
	size_t len;
	uint8_t frame_type;
};

enum { UM_MESSENGER_EVENTS_MAX = 32 };

struct um_messenger_stats {
	uint64_t frames_sent, frames_received;
	uint64_t messages_sent, messages_received;
	uint64_t acks_sent, acks_received;
	uint64_t presence_sent, presence_received;
	uint64_t file_frames_sent, file_frames_received;
	uint64_t bytes_sent, bytes_received; /* frame bytes, headers included */
	uint64_t send_full;                  /* sends refused with -UM_EAGAIN (channel full) */
	uint64_t frames_unknown;             /* unknown types within limits: skipped */
	uint64_t frames_malformed;           /* a payload that does not decode: skipped */
	uint64_t frames_too_long;            /* a length above its type's maximum: channel reset */
	uint64_t protocol_errors;            /* malformed + too long: the PROTOCOL_ERROR events */
	uint64_t resets;                     /* RESET events (channel resets, ours included) */
	uint64_t segments_malformed;         /* segments um_channel_input refused */
};

/* Creates a messenger and its channel (epoch: nonzero, random per run,
 * see msg/channel.h). *out is owned by the caller: um_messenger_free.
 * 0, -UM_EINVAL (bad config or epoch), -UM_ENOMEM. */
int um_messenger_new(const struct um_messenger_config *cfg, uint64_t epoch, uint64_t now, struct um_messenger **out);
void um_messenger_free(struct um_messenger *m); /* NULL ok */

/* The channel the messenger owns (for its stats, deadline, RTT hint).
 * Borrowed: do not keep it across calls, the messenger replaces it after
 * a frame length it cannot trust (see section 18). */
struct um_channel *um_messenger_channel(struct um_messenger *m);

/* Feeds one received segment (borrowed; NULL/0 = none, only parse what
 * is already readable) and appends the events of the frames that became
 * complete to ev, an array of UM_MESSENGER_EVENTS_MAX entries of which
 * *n_ev are in use (in/out). The data of the events stays valid until a
 * later um_messenger_input with *n_ev == 0 or um_messenger_free: a caller
 * that handles the events and starts again at 0 reuses the buffer. Stops
 * when ev is full or the frame buffer is (then um_messenger_pending is
 * true: call again). 0; -UM_EINVAL / -UM_ETRUNC when the segment was
 * malformed (counted; events may still have been appended); -UM_ENOMEM. */
int um_messenger_input(struct um_messenger *m, const uint8_t *segment, size_t len, uint64_t now,
		       struct um_messenger_event *ev, size_t *n_ev);
/* Bytes or events wait for another um_messenger_input. */
bool um_messenger_pending(const struct um_messenger *m);

/* Queue one frame: all of it or nothing. 0; -UM_EAGAIN when the channel
 * has no room for the whole frame now (counted in send_full; retry after
 * output: um_messenger_writable); -UM_EINVAL / -UM_ERANGE for fields the
 * peer would refuse. Pointers are borrowed for the call. */
int um_messenger_send(struct um_messenger *m, const uint8_t id[UM_MESSAGE_ID_BYTES], uint64_t sent_ms, uint8_t kind,
		      const void *body, size_t len);
/* reason: NULL or "" = none; UTF-8, at most UM_MESSAGE_REASON_MAX bytes. */
int um_messenger_ack(struct um_messenger *m, const uint8_t id[UM_MESSAGE_ID_BYTES], uint8_t what, const char *reason);
/* text: NULL or "" = none; UTF-8, at most UM_PRESENCE_TEXT_MAX bytes. */
int um_messenger_presence(struct um_messenger *m, uint8_t state, uint64_t last_seen_ms, const char *text);
/* Any frame (the file frames of msg/file.h): payload of at most
 * um_frame_payload_max(type) bytes; DATA, ACK and PRESENCE payloads are
 * checked like the peer will. */
int um_messenger_send_frame(struct um_messenger *m, uint8_t type, const void *payload, size_t len);
/* A file frame written in place: where its len payload bytes go in the
 * channel's buffer (the frame header already there), to fill and commit;
 * NULL when send_frame must be used instead (no room, the buffer wraps
 * there, or a DATA, ACK or PRESENCE frame, which send_frame checks). */
uint8_t *um_messenger_frame_buffer(struct um_messenger *m, uint8_t type, size_t len);
int um_messenger_frame_commit(struct um_messenger *m, size_t len);
/* The largest frame payload a send accepts now (a DATA body: this minus
 * UM_MESSAGE_DATA_HEAD_BYTES). */
size_t um_messenger_writable(const struct um_messenger *m);

/* The channel's output and deadline (msg/channel.h), for owners that do
 * not hold the channel. */
int um_messenger_output(struct um_messenger *m, uint64_t now, uint8_t *out, size_t cap, size_t *len);
uint64_t um_messenger_deadline(const struct um_messenger *m);

void um_messenger_stats(const struct um_messenger *m, struct um_messenger_stats *out);

#endif
