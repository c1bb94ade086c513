/* SPDX-License-Identifier: MIT */
#include "wire/message.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"

/* The first buffer of a reader: small frames (acks, presence, short
 * messages) never need more. */
#define READER_MIN_CAP 4096

bool um_frame_type_known(uint8_t type)
{
	return type >= UM_FRAME_DATA && type <= UM_FRAME_FILE_DONE;
}

uint32_t um_frame_payload_max(uint8_t type)
{
	switch (type) {
	case UM_FRAME_ACK:
		return UM_MESSAGE_ACK_MAX;
	case UM_FRAME_PRESENCE:
		return UM_MESSAGE_PRESENCE_MAX;
	default:
		/* DATA, the file frames (wire/message_file.h keeps theirs
		 * within it) and unknown types. */
		return UM_FRAME_PAYLOAD_MAX;
	}
}

int um_frame_header_encode(uint8_t out[UM_FRAME_HEADER_BYTES], uint8_t type, size_t len)
{
	struct um_writer w;

	if (len > um_frame_payload_max(type))
		return -UM_ERANGE;
	um_writer_init(&w, out, UM_FRAME_HEADER_BYTES);
	um_write_u32(&w, (uint32_t)len);
	um_write_u8(&w, type);
	return 0;
}

bool um_message_text_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			n = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false; /* a continuation byte or 0xf8..0xff */
		}
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

static int data_check(const struct um_message_data *d)
{
	if (d->kind != UM_MESSAGE_TEXT && d->kind != UM_MESSAGE_BINARY)
		return -UM_EINVAL;
	if (d->len > UM_MESSAGE_BODY_MAX)
		return -UM_ERANGE;
	if (d->len && !d->body)
		return -UM_EINVAL;
	if (d->kind == UM_MESSAGE_TEXT && !um_message_text_valid(d->body, d->len))
		return -UM_EINVAL;
	return 0;
}

int um_message_data_encode_head(uint8_t out[UM_MESSAGE_DATA_HEAD_BYTES], const struct um_message_data *d)
{
	struct um_writer w;
	int ret = data_check(d);

	if (ret < 0)
		return ret;
	um_writer_init(&w, out, UM_MESSAGE_DATA_HEAD_BYTES);
	um_write_bytes(&w, d->id, UM_MESSAGE_ID_BYTES);
	um_write_u64(&w, d->sent_ms);
	um_write_u8(&w, d->kind);
	return 0;
}

int um_message_data_encode(uint8_t *out, size_t cap, const struct um_message_data *d)
{
	int ret = data_check(d);

	if (ret < 0)
		return ret;
	if (cap < UM_MESSAGE_DATA_HEAD_BYTES + d->len)
		return -UM_ERANGE;
	um_message_data_encode_head(out, d);
	if (d->len)
		memcpy(out + UM_MESSAGE_DATA_HEAD_BYTES, d->body, d->len);
	return (int)(UM_MESSAGE_DATA_HEAD_BYTES + d->len);
}

int um_message_data_decode(struct um_message_data *d, const uint8_t *payload, size_t len)
{
	struct um_reader r;

	memset(d, 0, sizeof(*d));
	um_reader_init(&r, payload, len);
	um_read_copy(&r, d->id, UM_MESSAGE_ID_BYTES);
	d->sent_ms = um_read_u64(&r);
	d->kind = um_read_u8(&r);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	d->len = um_reader_left(&r);
	d->body = d->len ? payload + r.pos : NULL;
	return data_check(d) < 0 ? -UM_EINVAL : 0;
}

static bool receipt_known(uint8_t what)
{
	return what == UM_RECEIPT_DELIVERED || what == UM_RECEIPT_READ || what == UM_RECEIPT_REFUSED;
}

int um_message_ack_encode(uint8_t *out, size_t cap, const struct um_message_ack *a)
{
	struct um_writer w;

	if (!receipt_known(a->what) || a->reason_len > UM_MESSAGE_REASON_MAX ||
	    (a->reason_len && !um_message_text_valid(a->reason, a->reason_len)))
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_bytes(&w, a->id, UM_MESSAGE_ID_BYTES);
	um_write_u8(&w, a->what);
	if (a->reason_len) {
		um_write_u16(&w, (uint16_t)a->reason_len);
		um_write_bytes(&w, a->reason, a->reason_len);
	}
	if (um_writer_error(&w))
		return -UM_ERANGE;
	return (int)w.pos;
}

int um_message_ack_decode(struct um_message_ack *a, const uint8_t *payload, size_t len)
{
	struct um_reader r;

	memset(a, 0, sizeof(*a));
	um_reader_init(&r, payload, len);
	um_read_copy(&r, a->id, UM_MESSAGE_ID_BYTES);
	a->what = um_read_u8(&r);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (!receipt_known(a->what))
		return -UM_EINVAL;
	if (um_reader_left(&r) == 0)
		return 0;
	size_t n = um_read_u16(&r);
	const uint8_t *reason = um_read_bytes(&r, n);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (n == 0 || n > UM_MESSAGE_REASON_MAX || um_reader_left(&r) != 0 || !um_message_text_valid(reason, n))
		return -UM_EINVAL;
	a->reason = reason;
	a->reason_len = n;
	return 0;
}

static bool presence_known(uint8_t state)
{
	return state <= UM_PRESENCE_BUSY;
}

int um_message_presence_encode(uint8_t *out, size_t cap, const struct um_message_presence *p)
{
	struct um_writer w;

	if (!presence_known(p->state) || p->text_len > UM_PRESENCE_TEXT_MAX ||
	    (p->text_len && !um_message_text_valid(p->text, p->text_len)))
		return -UM_EINVAL;
	um_writer_init(&w, out, cap);
	um_write_u8(&w, p->state);
	um_write_u64(&w, p->last_seen_ms);
	um_write_u16(&w, (uint16_t)p->text_len);
	um_write_bytes(&w, p->text, p->text_len);
	if (um_writer_error(&w))
		return -UM_ERANGE;
	return (int)w.pos;
}

int um_message_presence_decode(struct um_message_presence *p, const uint8_t *payload, size_t len)
{
	struct um_reader r;

	memset(p, 0, sizeof(*p));
	um_reader_init(&r, payload, len);
	p->state = um_read_u8(&r);
	p->last_seen_ms = um_read_u64(&r);
	size_t n = um_read_u16(&r);
	const uint8_t *text = um_read_bytes(&r, n);
	if (um_reader_error(&r))
		return -UM_ETRUNC;
	if (!presence_known(p->state) || n > UM_PRESENCE_TEXT_MAX || um_reader_left(&r) != 0 ||
	    !um_message_text_valid(text, n))
		return -UM_EINVAL;
	p->text = n ? text : NULL;
	p->text_len = n;
	return 0;
}

void um_frame_reader_init(struct um_frame_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void um_frame_reader_destroy(struct um_frame_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

void um_frame_reader_reset(struct um_frame_reader *r)
{
	r->head_have = 0;
	r->have = 0;
	r->type = 0;
	r->len = 0;
	r->broken = false;
}

void um_frame_reader_release(struct um_frame_reader *r)
{
	/* Only a known type's payload in progress is kept; a skipped frame's
	 * bytes are thrown away as they come. */
	bool keep = r->head_have == UM_FRAME_HEADER_BYTES && um_frame_type_known(r->type) && r->have;

	if (keep && r->pos)
		memmove(r->buf, r->buf + r->pos, r->have);
	r->pos = 0;
}

/* Room for need bytes at buf + pos: grow an empty buffer, else wait for a
 * release (payloads handed out must not move). */
static int reader_room(struct um_frame_reader *r, size_t need)
{
	if (r->cap - r->pos >= need)
		return 0;
	if (r->pos)
		return -UM_EAGAIN;
	size_t cap = r->cap ? r->cap * 2 : READER_MIN_CAP;
	if (cap < need)
		cap = need;
	if (cap > UM_FRAME_PAYLOAD_MAX)
		cap = UM_FRAME_PAYLOAD_MAX;
	uint8_t *buf = realloc(r->buf, cap);
	if (!buf)
		return -UM_ENOMEM;
	r->buf = buf;
	r->cap = cap;
	return 0;
}

int um_frame_reader_space(struct um_frame_reader *r, uint8_t **dst, size_t *n)
{
	*dst = NULL;
	*n = 0;
	if (r->broken)
		return -UM_ERANGE;
	if (r->head_have < UM_FRAME_HEADER_BYTES) {
		*dst = r->head + r->head_have;
		*n = UM_FRAME_HEADER_BYTES - r->head_have;
		return 0;
	}
	size_t left = r->len - r->have;
	if (!um_frame_type_known(r->type)) {
		/* Skipped bytes land in the free part of the buffer and are
		 * forgotten: any room will do, not the whole frame. */
		int ret = reader_room(r, 1);
		if (ret < 0)
			return ret;
		size_t room = r->cap - r->pos;
		*dst = r->buf + r->pos;
		*n = left < room ? left : room;
		return 0;
	}
	int ret = reader_room(r, r->len);
	if (ret < 0)
		return ret;
	*dst = r->buf + r->pos + r->have;
	*n = left;
	return 0;
}

/* The frame in progress is complete: hand it out, start the next. */
static int reader_finish(struct um_frame_reader *r, struct um_frame *out)
{
	int status = UM_FRAME_SKIPPED;

	out->type = r->type;
	out->len = r->len;
	out->payload = NULL;
	if (um_frame_type_known(r->type)) {
		/* A zero-length payload still gets a valid pointer. */
		out->payload = r->buf ? r->buf + r->pos : (const uint8_t *)"";
		r->pos += r->len;
		status = UM_FRAME_READY;
	}
	r->head_have = 0;
	r->have = 0;
	return status;
}

int um_frame_reader_commit(struct um_frame_reader *r, size_t n, struct um_frame *out)
{
	memset(out, 0, sizeof(*out));
	if (r->broken)
		return -UM_ERANGE;
	if (r->head_have < UM_FRAME_HEADER_BYTES) {
		r->head_have = (uint8_t)(r->head_have + n);
		if (r->head_have < UM_FRAME_HEADER_BYTES)
			return UM_FRAME_MORE;
		r->len =
		    (uint32_t)r->head[0] << 24 | (uint32_t)r->head[1] << 16 | (uint32_t)r->head[2] << 8 | r->head[3];
		r->type = r->head[4];
		r->have = 0;
		if (r->len > um_frame_payload_max(r->type)) {
			r->broken = true;
			out->type = r->type;
			out->len = r->len;
			return -UM_ERANGE;
		}
	} else {
		r->have += n;
	}
	if (r->have < r->len)
		return UM_FRAME_MORE;
	return reader_finish(r, out);
}

int um_frame_reader_push(struct um_frame_reader *r, const uint8_t *in, size_t len, size_t *used, struct um_frame *out)
{
	*used = 0;
	memset(out, 0, sizeof(*out));
	if (r->broken)
		return -UM_ERANGE;
	for (;;) {
		uint8_t *dst;
		size_t n;
		/* A header that completes a zero-length frame is finished by
		 * the commit itself; otherwise stop when the input ends. */
		if (*used == len)
			return UM_FRAME_MORE;
		int ret = um_frame_reader_space(r, &dst, &n);
		if (ret < 0)
			return ret;
		if (n > len - *used)
			n = len - *used;
		memcpy(dst, in + *used, n);
		*used += n;
		ret = um_frame_reader_commit(r, n, out);
		if (ret != UM_FRAME_MORE)
			return ret;
	}
}
