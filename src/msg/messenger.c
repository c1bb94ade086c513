/* SPDX-License-Identifier: MIT */
#include "msg/messenger.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

struct um_messenger {
	struct um_channel_config channel_config;
	struct um_channel *channel; /* owned */
	struct um_frame_reader reader;
	size_t max_message;
	bool reset_pending;   /* a RESET event still to raise (ours: no room when it happened) */
	bool restart_pending; /* a write left half a frame: replace the channel at the next call with a clock */
	struct um_messenger_stats stats;
};

int um_messenger_new(const struct um_messenger_config *cfg, uint64_t epoch, uint64_t now, struct um_messenger **out)
{
	struct um_messenger *m = NULL;
	int ret;

	*out = NULL;
	if (epoch == 0 || cfg->max_message > UM_MESSAGE_BODY_MAX ||
	    (cfg->channel.send_buffer && cfg->channel.send_buffer < UM_FRAME_HEADER_BYTES + UM_FRAME_PAYLOAD_MAX))
		return -UM_EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -UM_ENOMEM;
	m->channel_config = cfg->channel;
	m->max_message = cfg->max_message ? cfg->max_message : UM_MESSAGE_BODY_MAX;
	um_frame_reader_init(&m->reader);
	ret = um_channel_new(&cfg->channel, epoch, now, &m->channel);
	if (ret < 0)
		goto out;
	*out = m;
	m = NULL;
out:
	um_messenger_free(m);
	return ret;
}

void um_messenger_free(struct um_messenger *m)
{
	if (!m)
		return;
	um_channel_free(m->channel);
	um_frame_reader_destroy(&m->reader);
	free(m);
}

struct um_channel *um_messenger_channel(struct um_messenger *m)
{
	return m->channel;
}

/* The stream cannot be trusted any more (a length beyond its type's
 * maximum, or a write that left half a frame): the channel has no reset
 * call, so it is replaced by a fresh one under a new epoch. The peer sees
 * a restart (its segments to our old epoch are answered with RESET, or it
 * learns the new epoch) and resets too: both sides write again what was
 * not acknowledged. On allocation failure the old channel stays and the
 * reader keeps refusing the stream (broken) until a reset. */
static int replace_channel(struct um_messenger *m, uint64_t now)
{
	struct um_channel *fresh;
	uint64_t old = um_channel_epoch(m->channel), epoch;

	do
		randombytes_buf(&epoch, sizeof(epoch));
	while (epoch == 0 || epoch == old);
	int ret = um_channel_new(&m->channel_config, epoch, now, &fresh);
	if (ret < 0)
		return ret;
	um_channel_free(m->channel);
	m->channel = fresh;
	um_frame_reader_reset(&m->reader);
	m->reset_pending = true;
	m->restart_pending = false;
	return 0;
}

static struct um_messenger_event *event_add(struct um_messenger_event *ev, size_t *n_ev,
					    enum um_messenger_event_kind kind, uint8_t frame_type)
{
	struct um_messenger_event *e = &ev[(*n_ev)++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->frame_type = frame_type;
	e->data = (const uint8_t *)""; /* never NULL: memcpy(dst, data, 0) stays defined */
	return e;
}

static void protocol_error(struct um_messenger *m, struct um_messenger_event *ev, size_t *n_ev,
			   const struct um_frame *f, const char *why)
{
	struct um_messenger_event *e = event_add(ev, n_ev, UM_MSG_EVENT_PROTOCOL_ERROR, f->type);
	e->data = (const uint8_t *)why;
	e->len = strlen(why);
	m->stats.protocol_errors++;
	/* The ID of a malformed DATA or ACK still lets the owner refuse it
	 * (ACK refused) instead of leaving the sender to retry forever. */
	if ((f->type == UM_FRAME_DATA || f->type == UM_FRAME_ACK) && f->payload && f->len >= UM_MESSAGE_ID_BYTES) {
		memcpy(e->id, f->payload, UM_MESSAGE_ID_BYTES);
		e->what = 1;
	}
}

/* One whole frame of a known type: one event. */
static void frame_event(struct um_messenger *m, const struct um_frame *f, struct um_messenger_event *ev, size_t *n_ev)
{
	struct um_messenger_event *e;

	m->stats.frames_received++;
	m->stats.bytes_received += UM_FRAME_HEADER_BYTES + (uint64_t)f->len;
	switch (f->type) {
	case UM_FRAME_DATA: {
		struct um_message_data d;
		if (um_message_data_decode(&d, f->payload, f->len) < 0 || d.len > m->max_message)
			goto malformed;
		m->stats.messages_received++;
		e = event_add(ev, n_ev, UM_MSG_EVENT_MESSAGE, f->type);
		memcpy(e->id, d.id, sizeof(e->id));
		e->message_kind = d.kind;
		e->time_ms = d.sent_ms;
		if (d.body)
			e->data = d.body;
		e->len = d.len;
		return;
	}
	case UM_FRAME_ACK: {
		struct um_message_ack a;
		if (um_message_ack_decode(&a, f->payload, f->len) < 0)
			goto malformed;
		m->stats.acks_received++;
		e = event_add(ev, n_ev, UM_MSG_EVENT_ACK, f->type);
		memcpy(e->id, a.id, sizeof(e->id));
		e->what = a.what;
		if (a.reason)
			e->data = a.reason;
		e->len = a.reason_len;
		return;
	}
	case UM_FRAME_PRESENCE: {
		struct um_message_presence p;
		if (um_message_presence_decode(&p, f->payload, f->len) < 0)
			goto malformed;
		m->stats.presence_received++;
		e = event_add(ev, n_ev, UM_MSG_EVENT_PRESENCE, f->type);
		e->state = p.state;
		e->time_ms = p.last_seen_ms;
		if (p.text)
			e->data = p.text;
		e->len = p.text_len;
		return;
	}
	default: /* the FILE_* frames: msg/file.h validates their payloads */
		m->stats.file_frames_received++;
		e = event_add(ev, n_ev, UM_MSG_EVENT_FILE_FRAME, f->type);
		e->data = f->payload;
		e->len = f->len;
		return;
	}
malformed:
	m->stats.frames_malformed++;
	protocol_error(m, ev, n_ev, f, "malformed payload");
}

/* Turns readable bytes into events until ev is full, the stream is
 * drained or the frame buffer waits for a release. Reads from the channel
 * only what the frame in progress needs: the rest waits there, counted
 * against the receive window (backpressure on a peer faster than us). */
static int parse_frames(struct um_messenger *m, uint64_t now, struct um_messenger_event *ev, size_t *n_ev)
{
	while (*n_ev < UM_MESSENGER_EVENTS_MAX) {
		if (um_channel_take_reset(m->channel) || m->reset_pending) {
			/* The stream restarts at offset 0, a frame boundary:
			 * a partial frame of the old one is gone. */
			um_frame_reader_reset(&m->reader);
			m->reset_pending = false;
			m->stats.resets++;
			event_add(ev, n_ev, UM_MSG_EVENT_RESET, 0);
			continue;
		}
		size_t avail = um_channel_readable(m->channel);
		if (avail == 0)
			return 0;
		uint8_t *dst;
		size_t want;
		int ret = um_frame_reader_space(&m->reader, &dst, &want);
		if (ret == -UM_EAGAIN)
			return 0; /* the buffer holds frames of events handed out */
		if (ret == -UM_ERANGE) {
			/* Still broken: an earlier replacement failed. */
			ret = replace_channel(m, now);
			if (ret < 0)
				return ret;
			continue;
		}
		if (ret < 0)
			return ret;
		size_t got = um_channel_read(m->channel, dst, want < avail ? want : avail);
		if (got == 0)
			return 0;
		struct um_frame f;
		ret = um_frame_reader_commit(&m->reader, got, &f);
		if (ret == UM_FRAME_MORE)
			continue;
		if (ret == UM_FRAME_SKIPPED) {
			m->stats.frames_unknown++;
			continue;
		}
		if (ret == UM_FRAME_READY) {
			frame_event(m, &f, ev, n_ev);
			continue;
		}
		/* A length beyond its type's maximum: the next frame boundary
		 * is unknown. Reported, then the channel starts over. */
		m->stats.frames_too_long++;
		protocol_error(m, ev, n_ev, &f, "frame length above its type's maximum");
		ret = replace_channel(m, now);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse(struct um_messenger *m, uint64_t now, struct um_messenger_event *ev, size_t *n_ev)
{
	int ret = parse_frames(m, now, ev, n_ev);

	/* A reset the full event array could not take yet: remembered, so
	 * that um_messenger_pending says so (take_reset answers only once). */
	if (um_channel_take_reset(m->channel))
		m->reset_pending = true;
	return ret;
}

int um_messenger_input(struct um_messenger *m, const uint8_t *segment, size_t len, uint64_t now,
		       struct um_messenger_event *ev, size_t *n_ev)
{
	int in = 0;

	if (*n_ev > UM_MESSENGER_EVENTS_MAX)
		return -UM_EINVAL;
	if (*n_ev == 0)
		um_frame_reader_release(&m->reader);
	if (m->restart_pending) {
		int ret = replace_channel(m, now);
		if (ret < 0)
			return ret;
	}
	if (segment && len) {
		in = um_channel_input(m->channel, segment, len, now);
		if (in < 0)
			m->stats.segments_malformed++;
	}
	int ret = parse(m, now, ev, n_ev);
	return ret < 0 ? ret : in;
}

bool um_messenger_pending(const struct um_messenger *m)
{
	/* A broken reader whose channel could not be replaced (no memory)
	 * makes no progress: not pending, so no caller loops on it. */
	return m->reset_pending || (um_channel_readable(m->channel) > 0 && !m->reader.broken);
}

size_t um_messenger_writable(const struct um_messenger *m)
{
	size_t room = um_channel_writable(m->channel);
	return room > UM_FRAME_HEADER_BYTES ? room - UM_FRAME_HEADER_BYTES : 0;
}

/* Writes header + head (the frame's fixed fields) + body, all or none:
 * the room for the whole frame is checked first, so the second write
 * cannot fail for lack of room. */
static int write_frame(struct um_messenger *m, uint8_t type, const uint8_t *head, size_t head_len, const void *body,
		       size_t body_len)
{
	uint8_t first[UM_FRAME_HEADER_BYTES + UM_MESSAGE_ACK_MAX];
	size_t len = head_len + body_len;
	int ret;

	if (head_len > sizeof(first) - UM_FRAME_HEADER_BYTES)
		return -UM_EINVAL;
	if (m->restart_pending)
		return -UM_EAGAIN; /* the channel is about to be replaced: nothing written now survives */
	ret = um_frame_header_encode(first, type, len);
	if (ret < 0)
		return ret;
	if (um_channel_writable(m->channel) < UM_FRAME_HEADER_BYTES + len) {
		m->stats.send_full++;
		return -UM_EAGAIN;
	}
	if (head_len)
		memcpy(first + UM_FRAME_HEADER_BYTES, head, head_len);
	ret = um_channel_write(m->channel, first, UM_FRAME_HEADER_BYTES + head_len);
	if (ret < 0)
		return ret;
	if (body_len) {
		ret = um_channel_write(m->channel, body, body_len);
		if (ret < 0) {
			/* Half a frame is in the stream: the peer would read
			 * garbage. Start over (at the next call that has the
			 * clock) rather than send it. */
			m->restart_pending = true;
			return ret;
		}
	}
	m->stats.frames_sent++;
	m->stats.bytes_sent += UM_FRAME_HEADER_BYTES + (uint64_t)len;
	return 0;
}

int um_messenger_send(struct um_messenger *m, const uint8_t id[UM_MESSAGE_ID_BYTES], uint64_t sent_ms, uint8_t kind,
		      const void *body, size_t len)
{
	struct um_message_data d = {.sent_ms = sent_ms, .kind = kind, .body = body, .len = len};
	uint8_t head[UM_MESSAGE_DATA_HEAD_BYTES];

	if (len > m->max_message)
		return -UM_ERANGE;
	memcpy(d.id, id, UM_MESSAGE_ID_BYTES);
	int ret = um_message_data_encode_head(head, &d);
	if (ret < 0)
		return ret;
	ret = write_frame(m, UM_FRAME_DATA, head, sizeof(head), body, len);
	if (ret == 0)
		m->stats.messages_sent++;
	return ret;
}

int um_messenger_ack(struct um_messenger *m, const uint8_t id[UM_MESSAGE_ID_BYTES], uint8_t what, const char *reason)
{
	struct um_message_ack a = {.what = what};
	uint8_t payload[UM_MESSAGE_ACK_MAX];

	memcpy(a.id, id, UM_MESSAGE_ID_BYTES);
	if (reason) {
		a.reason_len = strnlen(reason, UM_MESSAGE_REASON_MAX + 1);
		a.reason = (const uint8_t *)reason;
	}
	int n = um_message_ack_encode(payload, sizeof(payload), &a);
	if (n < 0)
		return n;
	int ret = write_frame(m, UM_FRAME_ACK, payload, (size_t)n, NULL, 0);
	if (ret == 0)
		m->stats.acks_sent++;
	return ret;
}

int um_messenger_presence(struct um_messenger *m, uint8_t state, uint64_t last_seen_ms, const char *text)
{
	struct um_message_presence p = {.state = state, .last_seen_ms = last_seen_ms};
	uint8_t payload[UM_MESSAGE_PRESENCE_MAX];

	if (text) {
		p.text_len = strnlen(text, UM_PRESENCE_TEXT_MAX + 1);
		p.text = (const uint8_t *)text;
	}
	int n = um_message_presence_encode(payload, sizeof(payload), &p);
	if (n < 0)
		return n;
	int ret = write_frame(m, UM_FRAME_PRESENCE, payload, (size_t)n, NULL, 0);
	if (ret == 0)
		m->stats.presence_sent++;
	return ret;
}

uint8_t *um_messenger_frame_buffer(struct um_messenger *m, uint8_t type, size_t len)
{
	uint8_t *p;

	if (type == UM_FRAME_DATA || type == UM_FRAME_ACK || type == UM_FRAME_PRESENCE || m->restart_pending ||
	    len == 0 || !(p = um_channel_write_buffer(m->channel, UM_FRAME_HEADER_BYTES + len)) ||
	    um_frame_header_encode(p, type, len) < 0)
		return NULL;
	return p + UM_FRAME_HEADER_BYTES;
}

int um_messenger_frame_commit(struct um_messenger *m, size_t len)
{
	int ret = um_channel_write_commit(m->channel, UM_FRAME_HEADER_BYTES + len);

	if (ret < 0)
		return ret;
	m->stats.frames_sent++;
	m->stats.bytes_sent += UM_FRAME_HEADER_BYTES + (uint64_t)len;
	m->stats.file_frames_sent++;
	return 0;
}

int um_messenger_send_frame(struct um_messenger *m, uint8_t type, const void *payload, size_t len)
{
	int ret;

	if (len && !payload)
		return -UM_EINVAL;
	switch (type) {
	case UM_FRAME_DATA: {
		struct um_message_data d;
		ret = um_message_data_decode(&d, payload, len);
		if (ret == 0 && d.len > m->max_message)
			ret = -UM_ERANGE;
		break;
	}
	case UM_FRAME_ACK: {
		struct um_message_ack a;
		ret = um_message_ack_decode(&a, payload, len);
		break;
	}
	case UM_FRAME_PRESENCE: {
		struct um_message_presence p;
		ret = um_message_presence_decode(&p, payload, len);
		break;
	}
	default:
		ret = 0;
	}
	if (ret < 0)
		return ret == -UM_ERANGE ? ret : -UM_EINVAL;
	ret = write_frame(m, type, NULL, 0, payload, len);
	if (ret < 0)
		return ret;
	if (type == UM_FRAME_DATA)
		m->stats.messages_sent++;
	else if (type == UM_FRAME_ACK)
		m->stats.acks_sent++;
	else if (type == UM_FRAME_PRESENCE)
		m->stats.presence_sent++;
	else
		m->stats.file_frames_sent++;
	return 0;
}

int um_messenger_output(struct um_messenger *m, uint64_t now, uint8_t *out, size_t cap, size_t *len)
{
	*len = 0;
	if (m->restart_pending) {
		int ret = replace_channel(m, now);
		if (ret < 0)
			return ret;
	}
	return um_channel_output(m->channel, now, out, cap, len);
}

uint64_t um_messenger_deadline(const struct um_messenger *m)
{
	return um_channel_deadline(m->channel);
}

void um_messenger_stats(const struct um_messenger *m, struct um_messenger_stats *out)
{
	*out = m->stats;
}
