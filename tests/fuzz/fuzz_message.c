/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the frames of the message channel (wire/message.h) and
 * the messenger over a channel (msg/messenger.h).
 * Input: byte 0 chooses the mode, the rest is data.
 * - The DATA, ACK and PRESENCE decoders on data: an accepted payload
 *   re-encodes to the same bytes and respects its limits.
 * - data as a stream of frames through the frame reader, once in one push
 *   and once in pieces (sizes from the mode byte, releases at random):
 *   both give the same frames, each within its type's limit, and nothing
 *   after an over-long length.
 * - mode bit 7 clear: data as the stream of a channel, in order, in DATA
 *   segments from a peer, into a messenger: its events are, in order, the
 *   frames the reference reader found (a prefix: the channel may hold
 *   some back), each within its limits. Mode bit 7 set: data as raw
 *   segments ([u16 length][bytes] records) into a messenger. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/messenger.h"
#include "util/buf.h"
#include "util/error.h"
#include "wire/channel.h"
#include "wire/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REF_MAX 8192

struct ref {
	uint8_t kind; /* enum um_messenger_event_kind */
	uint8_t frame_type;
	size_t len; /* the event's data length */
};

static struct ref refs[REF_MAX];
static size_t n_refs;
static bool ref_too_long; /* the reference stopped at an over-long length */
static uint8_t encoded[UM_FRAME_PAYLOAD_MAX];
static uint8_t segment[UM_CHANNEL_SEGMENT_MAX];

static void check_decoders(const uint8_t *in, size_t len)
{
	struct um_message_data d;
	struct um_message_ack a;
	struct um_message_presence p;

	if (um_message_data_decode(&d, in, len) == 0) {
		if (d.len > UM_MESSAGE_BODY_MAX || d.kind > UM_MESSAGE_BINARY ||
		    um_message_data_encode(encoded, sizeof(encoded), &d) != (int)len || memcmp(encoded, in, len))
			abort();
	}
	if (um_message_ack_decode(&a, in, len) == 0) {
		if (len > UM_MESSAGE_ACK_MAX || a.reason_len > UM_MESSAGE_REASON_MAX ||
		    um_message_ack_encode(encoded, sizeof(encoded), &a) != (int)len || memcmp(encoded, in, len))
			abort();
	}
	if (um_message_presence_decode(&p, in, len) == 0) {
		if (len > UM_MESSAGE_PRESENCE_MAX || p.state > UM_PRESENCE_BUSY ||
		    um_message_presence_encode(encoded, sizeof(encoded), &p) != (int)len || memcmp(encoded, in, len))
			abort();
	}
}

/* The event a whole frame of a known type gives, as the messenger must. */
static void ref_make(const struct um_frame *f, struct ref *r)
{
	struct um_message_data d;
	struct um_message_ack a;
	struct um_message_presence p;
	bool ok;

	r->frame_type = f->type;
	r->len = f->len;
	r->kind = UM_MSG_EVENT_FILE_FRAME;
	if (f->type == UM_FRAME_DATA) {
		ok = um_message_data_decode(&d, f->payload, f->len) == 0;
		r->kind = UM_MSG_EVENT_MESSAGE, r->len = d.len;
	} else if (f->type == UM_FRAME_ACK) {
		ok = um_message_ack_decode(&a, f->payload, f->len) == 0;
		r->kind = UM_MSG_EVENT_ACK, r->len = a.reason_len;
	} else if (f->type == UM_FRAME_PRESENCE) {
		ok = um_message_presence_decode(&p, f->payload, f->len) == 0;
		r->kind = UM_MSG_EVENT_PRESENCE, r->len = p.text_len;
	} else {
		ok = true;
	}
	if (!ok)
		r->kind = UM_MSG_EVENT_PROTOCOL_ERROR, r->len = 0;
}

/* Feeds in to a reader in pieces of piece bytes (0 = all at once),
 * releasing after every frame when release is set, else only when the
 * buffer is full. Records the frames in refs when record is set, else
 * checks them against refs. */
static void run_reader(const uint8_t *in, size_t len, size_t piece, bool release, bool record)
{
	struct um_frame_reader r;
	size_t pos = 0, n = 0;
	bool too_long = false;

	um_frame_reader_init(&r);
	while (pos < len && n < REF_MAX) {
		size_t take = piece && piece < len - pos ? piece : len - pos, used;
		struct um_frame f;
		int ret = um_frame_reader_push(&r, in + pos, take, &used, &f);
		pos += used;
		if (ret == -UM_EAGAIN) {
			if (release)
				abort(); /* an empty buffer always has room */
			um_frame_reader_release(&r);
			continue;
		}
		if (ret == -UM_ERANGE) {
			if (f.len <= um_frame_payload_max(f.type))
				abort();
			too_long = true;
			if (um_frame_reader_push(&r, in + pos, len - pos, &used, &f) != -UM_ERANGE || used)
				abort();
			break;
		}
		if (ret < 0)
			abort();
		if (ret == UM_FRAME_MORE)
			continue;
		if (f.len > um_frame_payload_max(f.type) || (ret == UM_FRAME_READY) != um_frame_type_known(f.type) ||
		    (ret == UM_FRAME_READY) != (f.payload != NULL))
			abort();
		if (ret == UM_FRAME_READY) {
			struct ref got;
			ref_make(&f, &got);
			if (record)
				refs[n] = got;
			else if (n < n_refs && (got.kind != refs[n].kind || got.frame_type != refs[n].frame_type ||
						got.len != refs[n].len))
				abort();
			n++;
		}
		if (release)
			um_frame_reader_release(&r);
	}
	if (record) {
		n_refs = n;
		ref_too_long = too_long;
	} else if (n < REF_MAX && (n != n_refs || too_long != ref_too_long)) {
		abort();
	}
	if (r.cap > UM_FRAME_PAYLOAD_MAX)
		abort();
	um_frame_reader_destroy(&r);
}

static void check_event(const struct um_messenger_event *e)
{
	switch (e->kind) {
	case UM_MSG_EVENT_MESSAGE:
		if (e->len > UM_MESSAGE_BODY_MAX || e->message_kind > UM_MESSAGE_BINARY)
			abort();
		break;
	case UM_MSG_EVENT_ACK:
		if (e->len > UM_MESSAGE_REASON_MAX || e->what < 1 || e->what > 3)
			abort();
		break;
	case UM_MSG_EVENT_PRESENCE:
		if (e->len > UM_PRESENCE_TEXT_MAX || e->state > UM_PRESENCE_BUSY)
			abort();
		break;
	case UM_MSG_EVENT_FILE_FRAME:
		if (e->len > UM_FRAME_PAYLOAD_MAX || !um_frame_type_known(e->frame_type))
			abort();
		break;
	case UM_MSG_EVENT_RESET:
	case UM_MSG_EVENT_PROTOCOL_ERROR:
		break;
	default:
		abort();
	}
	if (e->len && !e->data)
		abort();
	if (e->len)
		(void)memcmp(e->data, e->data + e->len - 1, 1); /* readable (ASan) */
}

/* Events so far, compared in order with refs; RESETs are not frames. */
static size_t matched;
static bool saw_too_long;

static void take_events(const struct um_messenger_event *ev, size_t n, bool compare)
{
	for (size_t i = 0; i < n; i++) {
		check_event(&ev[i]);
		if (!compare || ev[i].kind == UM_MSG_EVENT_RESET || saw_too_long || n_refs == REF_MAX)
			continue;
		if (matched == n_refs) {
			/* Only the over-long length after the last frame. */
			if (!ref_too_long || ev[i].kind != UM_MSG_EVENT_PROTOCOL_ERROR)
				abort();
			saw_too_long = true;
			continue;
		}
		const struct ref *r = &refs[matched++];
		if (ev[i].kind != r->kind || ev[i].frame_type != r->frame_type ||
		    (r->kind != UM_MSG_EVENT_PROTOCOL_ERROR && ev[i].len != r->len))
			abort();
	}
}

static void drain(struct um_messenger *m, bool compare)
{
	struct um_messenger_event ev[UM_MESSENGER_EVENTS_MAX];
	for (int guard = 0; guard < 100000 && um_messenger_pending(m); guard++) {
		size_t n = 0;
		if (um_messenger_input(m, NULL, 0, 0, ev, &n) < 0)
			abort();
		take_events(ev, n, compare);
	}
	if (um_messenger_pending(m))
		abort(); /* no progress */
}

static void run_messenger(const uint8_t *in, size_t len, uint8_t mode)
{
	struct um_messenger_config cfg = {0};
	struct um_messenger *m;
	struct um_messenger_event ev[UM_MESSENGER_EVENTS_MAX];
	const uint64_t peer_epoch = 0x1122334455667788ULL;
	uint64_t now = 1000000000ULL;

	if (um_messenger_new(&cfg, 0xa5a5a5a5a5a5a5a5ULL, now, &m) != 0)
		abort();
	matched = 0;
	saw_too_long = false;
	if (mode & 0x80) {
		struct um_reader rd;
		um_reader_init(&rd, in, len);
		while (um_reader_left(&rd) >= 2) {
			size_t n_seg = um_read_u16(&rd) % (UM_CHANNEL_SEGMENT_MAX + 1), n = 0;
			if (n_seg > um_reader_left(&rd))
				n_seg = um_reader_left(&rd);
			const uint8_t *seg = um_read_bytes(&rd, n_seg);
			now += 1000000;
			um_messenger_input(m, seg, n_seg, now, ev, &n);
			take_events(ev, n, false);
			drain(m, false);
		}
	} else {
		/* In-order DATA segments carrying the stream. */
		size_t piece = 1 + (mode & 0x7f) * 9, pos = 0;
		if (piece > UM_CHANNEL_SEGMENT_MAX - UM_CHANNEL_DATA_HEADER)
			piece = UM_CHANNEL_SEGMENT_MAX - UM_CHANNEL_DATA_HEADER;
		while (pos < len && !saw_too_long) {
			size_t take = piece < len - pos ? piece : len - pos, n = 0;
			int seg_len = um_channel_data_encode(segment, sizeof(segment), peer_epoch, 0, pos,
							     (uint32_t)(now / 1000), in + pos, take);
			if (seg_len < 0)
				abort();
			now += 1000000;
			if (um_messenger_input(m, segment, (size_t)seg_len, now, ev, &n) < 0)
				abort();
			take_events(ev, n, true);
			drain(m, true);
			pos += take;
		}
	}
	struct um_messenger_stats st;
	um_messenger_stats(m, &st);
	if (st.protocol_errors != st.frames_malformed + st.frames_too_long)
		abort();
	um_messenger_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++, size--;
	check_decoders(data, size);
	run_reader(data, size, 0, true, true);
	run_reader(data, size, 1 + (mode & 0x3f), (mode & 0x40) != 0, false);
	run_reader(data, size, 1, false, false);
	run_messenger(data, size, mode);
	return 0;
}
