/* SPDX-License-Identifier: MIT */
/* Frames of the message channel (wire/message.h): the DATA, ACK and
 * PRESENCE payloads, their truncations and limits, and the frame reader
 * across arbitrary splits of the stream. */
#include <sodium.h>
#include <stdlib.h>

#include "test.h"
#include "util/error.h"
#include "wire/message.h"

static uint8_t body[UM_MESSAGE_BODY_MAX + 16];
static uint8_t payload[UM_FRAME_PAYLOAD_MAX + 16];
static uint8_t stream[1 << 20];

static void fill_text(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)('a' + i % 26);
}

static void test_text_valid(void)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
	    {"", true},
	    {"hello", true},
	    {"caf\xc3\xa9", true},
	    {"\xe2\x82\xac", true},      /* U+20AC */
	    {"\xf0\x9f\x98\x80", true},  /* U+1F600 */
	    {"\xf4\x8f\xbf\xbf", true},  /* U+10FFFF */
	    {"\xc3", false},             /* cut */
	    {"\xe2\x82", false},         /* cut */
	    {"\xc0\xaf", false},         /* overlong '/' */
	    {"\xe0\x80\xaf", false},     /* overlong */
	    {"\xed\xa0\x80", false},     /* surrogate */
	    {"\xf4\x90\x80\x80", false}, /* above U+10FFFF */
	    {"\x80", false},             /* lone continuation */
	    {"\xff", false},
	    {"a\xc3(", false}, /* bad continuation */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = um_message_text_valid((const uint8_t *)cases[i].s, strlen(cases[i].s));
		if (ok != cases[i].ok)
			fprintf(stderr, "case %zu\n", i);
		CHECK_EQ(ok, cases[i].ok);
	}
	CHECK(!um_message_text_valid((const uint8_t *)"a\0b", 3)); /* NUL */
}

static void test_header(void)
{
	uint8_t h[UM_FRAME_HEADER_BYTES];
	CHECK_EQ(um_frame_header_encode(h, UM_FRAME_DATA, 0x010003), 0);
	CHECK_EQ(h[0], 0);
	CHECK_EQ(h[1], 1);
	CHECK_EQ(h[2], 0);
	CHECK_EQ(h[3], 3);
	CHECK_EQ(h[4], 0x01);
	for (unsigned t = 0; t < 256; t++) {
		uint32_t max = um_frame_payload_max((uint8_t)t);
		CHECK(max >= UM_MESSAGE_ACK_MIN);
		CHECK(max <= UM_FRAME_PAYLOAD_MAX);
		CHECK_EQ(um_frame_header_encode(h, (uint8_t)t, max), 0);
		CHECK_EQ(um_frame_header_encode(h, (uint8_t)t, (size_t)max + 1), -UM_ERANGE);
		CHECK_EQ(um_frame_type_known((uint8_t)t), t >= 1 && t <= 8);
	}
	CHECK_EQ(um_frame_payload_max(UM_FRAME_DATA), UM_FRAME_PAYLOAD_MAX);
	CHECK_EQ(um_frame_payload_max(UM_FRAME_FILE_CHUNK), UM_FRAME_PAYLOAD_MAX);
	CHECK_EQ(um_frame_payload_max(UM_FRAME_PRESENCE), 11 + 256);
	CHECK_EQ(um_frame_payload_max(UM_FRAME_ACK), 16 + 1 + 2 + 256);
}

static void test_data(void)
{
	struct um_message_data d = {.sent_ms = 0x0102030405060708ULL, .kind = UM_MESSAGE_BINARY, .body = body};
	struct um_message_data back;
	randombytes_buf(d.id, sizeof(d.id));
	randombytes_buf(body, sizeof(body));
	size_t sizes[] = {0, 1, 1000, UM_MESSAGE_BODY_MAX};
	for (size_t i = 0; i < 4; i++) {
		d.len = sizes[i];
		int n = um_message_data_encode(payload, sizeof(payload), &d);
		CHECK_EQ(n, UM_MESSAGE_DATA_HEAD_BYTES + d.len);
		CHECK_MEM(payload, d.id, 16);
		CHECK_EQ(payload[16], 0x01);
		CHECK_EQ(payload[23], 0x08);
		CHECK_EQ(payload[24], UM_MESSAGE_BINARY);
		uint8_t head[UM_MESSAGE_DATA_HEAD_BYTES];
		CHECK_EQ(um_message_data_encode_head(head, &d), 0);
		CHECK_MEM(head, payload, sizeof(head));
		CHECK_EQ(um_message_data_decode(&back, payload, (size_t)n), 0);
		CHECK_MEM(back.id, d.id, 16);
		CHECK(back.sent_ms == d.sent_ms);
		CHECK_EQ(back.kind, d.kind);
		CHECK_EQ(back.len, d.len);
		if (d.len)
			CHECK(back.body == payload + UM_MESSAGE_DATA_HEAD_BYTES);
		/* Every cut inside the fixed part is a truncation; a binary
		 * body can end anywhere. */
		for (size_t cut = 0; cut < (size_t)n; cut++) {
			int ret = um_message_data_decode(&back, payload, cut);
			CHECK_EQ(ret, cut < UM_MESSAGE_DATA_HEAD_BYTES ? -UM_ETRUNC : 0);
		}
	}
	d.len = UM_MESSAGE_BODY_MAX + 1;
	CHECK_EQ(um_message_data_encode(payload, sizeof(payload), &d), -UM_ERANGE);
	/* A body over the limit inside a frame within its limit: malformed. */
	d.len = UM_MESSAGE_BODY_MAX;
	CHECK_EQ(um_message_data_encode(payload, sizeof(payload), &d), UM_MESSAGE_DATA_HEAD_BYTES + d.len);
	CHECK_EQ(um_message_data_decode(&back, payload, UM_MESSAGE_DATA_HEAD_BYTES + d.len + 1), -UM_EINVAL);
	d.len = 10;
	CHECK_EQ(um_message_data_encode(payload, UM_MESSAGE_DATA_HEAD_BYTES + 9, &d), -UM_ERANGE);
	d.kind = 2;
	CHECK_EQ(um_message_data_encode(payload, sizeof(payload), &d), -UM_EINVAL);
	d.kind = UM_MESSAGE_BINARY;
	CHECK_EQ(um_message_data_encode(payload, sizeof(payload), &d), UM_MESSAGE_DATA_HEAD_BYTES + 10);
	payload[24] = 2;
	CHECK_EQ(um_message_data_decode(&back, payload, UM_MESSAGE_DATA_HEAD_BYTES + 10), -UM_EINVAL);

	/* Text: UTF-8 both ways; a cut inside a character is malformed. */
	static const uint8_t euro[] = "price: 5 \xe2\x82\xac";
	d.kind = UM_MESSAGE_TEXT;
	d.body = euro;
	d.len = sizeof(euro) - 1;
	int n = um_message_data_encode(payload, sizeof(payload), &d);
	CHECK_EQ(n, UM_MESSAGE_DATA_HEAD_BYTES + d.len);
	CHECK_EQ(um_message_data_decode(&back, payload, (size_t)n), 0);
	CHECK_EQ(back.kind, UM_MESSAGE_TEXT);
	CHECK_MEM(back.body, euro, d.len);
	CHECK_EQ(um_message_data_decode(&back, payload, (size_t)n - 1), -UM_EINVAL);
	CHECK_EQ(um_message_data_decode(&back, payload, (size_t)n - 3), 0);
	static const uint8_t bad[] = {'h', 0xc0, 0xaf};
	d.body = bad;
	d.len = sizeof(bad);
	CHECK_EQ(um_message_data_encode(payload, sizeof(payload), &d), -UM_EINVAL);
	d.kind = UM_MESSAGE_BINARY; /* any bytes as binary */
	CHECK_EQ(um_message_data_encode(payload, sizeof(payload), &d), UM_MESSAGE_DATA_HEAD_BYTES + 3);
	payload[24] = UM_MESSAGE_TEXT;
	CHECK_EQ(um_message_data_decode(&back, payload, UM_MESSAGE_DATA_HEAD_BYTES + 3), -UM_EINVAL);
}

static void test_ack(void)
{
	struct um_message_ack a = {.what = UM_RECEIPT_DELIVERED}, back;
	uint8_t buf[UM_MESSAGE_ACK_MAX + 8];
	randombytes_buf(a.id, sizeof(a.id));
	for (uint8_t what = 0; what < 6; what++) {
		a.what = what;
		int n = um_message_ack_encode(buf, sizeof(buf), &a);
		bool known = what >= 1 && what <= 3;
		CHECK_EQ(n, known ? UM_MESSAGE_ACK_MIN : -UM_EINVAL);
		buf[16] = what;
		CHECK_EQ(um_message_ack_decode(&back, buf, UM_MESSAGE_ACK_MIN), known ? 0 : -UM_EINVAL);
	}
	a.what = UM_RECEIPT_READ;
	CHECK_EQ(um_message_ack_encode(buf, sizeof(buf), &a), UM_MESSAGE_ACK_MIN);
	CHECK_EQ(um_message_ack_decode(&back, buf, UM_MESSAGE_ACK_MIN), 0);
	CHECK_MEM(back.id, a.id, 16);
	CHECK_EQ(back.what, UM_RECEIPT_READ);
	CHECK_EQ(back.reason_len, 0);
	CHECK(back.reason == NULL);
	for (size_t cut = 0; cut < UM_MESSAGE_ACK_MIN; cut++)
		CHECK_EQ(um_message_ack_decode(&back, buf, cut), -UM_ETRUNC);

	/* With a reason: every cut fails except the one without the field. */
	static const char reason[] = "file too large";
	a.what = UM_RECEIPT_REFUSED;
	a.reason = (const uint8_t *)reason;
	a.reason_len = strlen(reason);
	int n = um_message_ack_encode(buf, sizeof(buf), &a);
	CHECK_EQ(n, UM_MESSAGE_ACK_MIN + 2 + strlen(reason));
	CHECK_EQ(buf[17], 0);
	CHECK_EQ(buf[18], strlen(reason));
	CHECK_EQ(um_message_ack_decode(&back, buf, (size_t)n), 0);
	CHECK_EQ(back.what, UM_RECEIPT_REFUSED);
	CHECK_EQ(back.reason_len, strlen(reason));
	CHECK_MEM(back.reason, reason, strlen(reason));
	for (size_t cut = 0; cut < (size_t)n; cut++) {
		int ret = um_message_ack_decode(&back, buf, cut);
		CHECK_EQ(ret, cut < UM_MESSAGE_ACK_MIN ? -UM_ETRUNC : cut == UM_MESSAGE_ACK_MIN ? 0 : -UM_ETRUNC);
	}
	buf[n] = 'x'; /* trailing byte */
	CHECK_EQ(um_message_ack_decode(&back, buf, (size_t)n + 1), -UM_EINVAL);
	buf[17] = 0, buf[18] = 0; /* an empty reason field: not canonical */
	CHECK_EQ(um_message_ack_decode(&back, buf, UM_MESSAGE_ACK_MIN + 2), -UM_EINVAL);
	buf[18] = 3, buf[19] = 'a', buf[20] = 0, buf[21] = 'b'; /* NUL in the reason */
	CHECK_EQ(um_message_ack_decode(&back, buf, UM_MESSAGE_ACK_MIN + 5), -UM_EINVAL);

	/* The reason's limit, both ways. */
	uint8_t long_reason[UM_MESSAGE_REASON_MAX + 1];
	fill_text(long_reason, sizeof(long_reason));
	a.reason = long_reason;
	a.reason_len = UM_MESSAGE_REASON_MAX;
	n = um_message_ack_encode(buf, sizeof(buf), &a);
	CHECK_EQ(n, UM_MESSAGE_ACK_MAX);
	CHECK_EQ(um_message_ack_decode(&back, buf, (size_t)n), 0);
	CHECK_EQ(um_message_ack_encode(buf, (size_t)n - 1, &a), -UM_ERANGE);
	a.reason_len = UM_MESSAGE_REASON_MAX + 1;
	CHECK_EQ(um_message_ack_encode(buf, sizeof(buf), &a), -UM_EINVAL);
	buf[17] = (uint8_t)((UM_MESSAGE_REASON_MAX + 1) >> 8);
	buf[18] = (uint8_t)(UM_MESSAGE_REASON_MAX + 1);
	memcpy(buf + 19, long_reason, UM_MESSAGE_REASON_MAX + 1);
	CHECK_EQ(um_message_ack_decode(&back, buf, UM_MESSAGE_ACK_MAX + 1), -UM_EINVAL);
}

static void test_presence(void)
{
	struct um_message_presence p = {.state = UM_PRESENCE_AWAY, .last_seen_ms = 1765000000000ULL}, back;
	uint8_t buf[UM_MESSAGE_PRESENCE_MAX + 8];
	static const char text[] = "in a meeting \xe2\x98\x95";
	p.text = (const uint8_t *)text;
	p.text_len = strlen(text);
	int n = um_message_presence_encode(buf, sizeof(buf), &p);
	CHECK_EQ(n, UM_MESSAGE_PRESENCE_MIN + strlen(text));
	CHECK_EQ(buf[0], UM_PRESENCE_AWAY);
	CHECK_EQ(um_message_presence_decode(&back, buf, (size_t)n), 0);
	CHECK_EQ(back.state, UM_PRESENCE_AWAY);
	CHECK(back.last_seen_ms == p.last_seen_ms);
	CHECK_EQ(back.text_len, strlen(text));
	CHECK_MEM(back.text, text, strlen(text));
	for (size_t cut = 0; cut < (size_t)n; cut++)
		CHECK_EQ(um_message_presence_decode(&back, buf, cut), -UM_ETRUNC);
	CHECK_EQ(um_message_presence_decode(&back, buf, (size_t)n + 1), -UM_EINVAL); /* trailing */
	for (unsigned s = 0; s < 8; s++) {
		p.state = (uint8_t)s;
		CHECK_EQ(um_message_presence_encode(buf, sizeof(buf), &p) > 0, s <= 3);
		buf[0] = (uint8_t)s;
		CHECK_EQ(um_message_presence_decode(&back, buf, (size_t)n), s <= 3 ? 0 : -UM_EINVAL);
	}
	/* No text. */
	p.state = UM_PRESENCE_ONLINE;
	p.text = NULL;
	p.text_len = 0;
	CHECK_EQ(um_message_presence_encode(buf, sizeof(buf), &p), UM_MESSAGE_PRESENCE_MIN);
	CHECK_EQ(um_message_presence_decode(&back, buf, UM_MESSAGE_PRESENCE_MIN), 0);
	CHECK_EQ(back.text_len, 0);
	/* Text too long: refused by the encoder and the decoder. */
	uint8_t long_text[UM_PRESENCE_TEXT_MAX + 1];
	fill_text(long_text, sizeof(long_text));
	p.text = long_text;
	p.text_len = UM_PRESENCE_TEXT_MAX;
	n = um_message_presence_encode(buf, sizeof(buf), &p);
	CHECK_EQ(n, UM_MESSAGE_PRESENCE_MAX);
	CHECK_EQ(um_message_presence_decode(&back, buf, (size_t)n), 0);
	p.text_len = UM_PRESENCE_TEXT_MAX + 1;
	CHECK_EQ(um_message_presence_encode(buf, sizeof(buf), &p), -UM_EINVAL);
	buf[9] = (uint8_t)((UM_PRESENCE_TEXT_MAX + 1) >> 8);
	buf[10] = (uint8_t)(UM_PRESENCE_TEXT_MAX + 1);
	memcpy(buf + 11, long_text, sizeof(long_text));
	CHECK_EQ(um_message_presence_decode(&back, buf, UM_MESSAGE_PRESENCE_MAX + 1), -UM_EINVAL);
	/* Bad UTF-8 in the text. */
	buf[9] = 0, buf[10] = 1, buf[11] = 0xff;
	CHECK_EQ(um_message_presence_decode(&back, buf, UM_MESSAGE_PRESENCE_MIN + 1), -UM_EINVAL);
}

/* A random stream of frames of every type (unknown ones included) and the
 * list of what the reader must return for it. */
struct expect {
	uint8_t type;
	uint32_t len;
	size_t offset; /* of the payload in stream */
};
static struct expect expected[4096];

static size_t build_stream(size_t *n_frames)
{
	static const uint8_t types[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0x40, 0xff, 0};
	size_t pos = 0, n = 0;
	while (n < sizeof(expected) / sizeof(expected[0])) {
		uint8_t type = types[randombytes_uniform(sizeof(types))];
		uint32_t max = um_frame_payload_max(type);
		uint32_t len;
		switch (randombytes_uniform(4)) {
		case 0:
			len = 0;
			break;
		case 1:
			len = max;
			break;
		case 2:
			len = randombytes_uniform(max + 1);
			break;
		default:
			len = randombytes_uniform(64);
		}
		if (pos + UM_FRAME_HEADER_BYTES + len > sizeof(stream))
			break;
		CHECK_EQ(um_frame_header_encode(stream + pos, type, len), 0);
		randombytes_buf(stream + pos + UM_FRAME_HEADER_BYTES, len);
		expected[n++] = (struct expect){type, len, pos + UM_FRAME_HEADER_BYTES};
		pos += UM_FRAME_HEADER_BYTES + len;
	}
	*n_frames = n;
	return pos;
}

/* Feeds stream[0..len) in random pieces (1 byte up to 70 KiB), releasing
 * at random moments; checks every frame against expected[] (the payloads
 * handed out before a release must still be intact at the release). */
static void feed_split(size_t len, size_t n_frames, unsigned max_piece)
{
	struct um_frame_reader r;
	struct um_frame held[64];
	size_t n_held = 0, got = 0, pos = 0;
	um_frame_reader_init(&r);
	while (pos < len) {
		size_t piece = 1 + randombytes_uniform(max_piece);
		if (piece > len - pos)
			piece = len - pos;
		size_t off = 0;
		int ret = UM_FRAME_MORE;
		while (off < piece) {
			struct um_frame f;
			size_t used;
			if (ret == -UM_EAGAIN || n_held == 64 || randombytes_uniform(4) == 0) {
				for (size_t i = 0; i < n_held; i++) {
					struct expect *e = &expected[got - n_held + i];
					if (um_frame_type_known(e->type))
						CHECK_MEM(held[i].payload, stream + e->offset, e->len);
				}
				n_held = 0;
				um_frame_reader_release(&r);
			}
			ret = um_frame_reader_push(&r, stream + pos + off, piece - off, &used, &f);
			off += used;
			if (ret == -UM_EAGAIN)
				continue;
			CHECK(ret >= 0);
			if (ret < 0)
				goto out;
			if (ret == UM_FRAME_MORE)
				continue;
			if (got >= n_frames) {
				CHECK(!"too many frames");
				goto out;
			}
			struct expect *e = &expected[got++];
			bool known = um_frame_type_known(e->type);
			CHECK_EQ(ret, known ? UM_FRAME_READY : UM_FRAME_SKIPPED);
			CHECK_EQ(f.type, e->type);
			CHECK_EQ(f.len, e->len);
			CHECK_EQ(f.payload != NULL, known);
			if (known) {
				CHECK_MEM(f.payload, stream + e->offset, e->len);
				held[n_held++] = f;
			} else {
				held[n_held++] =
				    (struct um_frame){.type = e->type, .len = 0, .payload = (const uint8_t *)""};
			}
		}
		pos += piece;
	}
	CHECK_EQ(got, n_frames);
	CHECK(r.cap <= UM_FRAME_PAYLOAD_MAX);
out:
	um_frame_reader_destroy(&r);
}

static void test_reader_splits(void)
{
	size_t n_frames;
	size_t len = build_stream(&n_frames);
	CHECK(n_frames > 20);
	feed_split(len, n_frames, 1);
	feed_split(len, n_frames, 7);
	feed_split(len, n_frames, 1200);
	feed_split(len, n_frames, 70000);
}

/* A stream cut at every byte of its last frames gives exactly the frames
 * before the cut. */
static void test_reader_truncation(void)
{
	struct um_message_ack a = {.what = UM_RECEIPT_REFUSED, .reason = (const uint8_t *)"no", .reason_len = 2};
	struct um_message_presence p = {.state = UM_PRESENCE_BUSY, .text = (const uint8_t *)"x", .text_len = 1};
	size_t pos = 0;
	int n = um_message_ack_encode(stream + 5, 100, &a);
	um_frame_header_encode(stream, UM_FRAME_ACK, (size_t)n);
	pos += 5 + (size_t)n;
	size_t first_end = pos;
	n = um_message_presence_encode(stream + pos + 5, 100, &p);
	um_frame_header_encode(stream + pos, UM_FRAME_PRESENCE, (size_t)n);
	pos += 5 + (size_t)n;
	for (size_t cut = 0; cut <= pos; cut++) {
		struct um_frame_reader r;
		struct um_frame f;
		size_t used, off = 0, frames = 0;
		um_frame_reader_init(&r);
		while (off < cut) {
			int ret = um_frame_reader_push(&r, stream + off, cut - off, &used, &f);
			off += used;
			CHECK(ret >= 0);
			if (ret == UM_FRAME_READY) {
				frames++;
				if (frames == 1) {
					struct um_message_ack back;
					CHECK_EQ(f.type, UM_FRAME_ACK);
					CHECK_EQ(um_message_ack_decode(&back, f.payload, f.len), 0);
				}
			}
			if (ret < 0)
				break;
		}
		CHECK_EQ(frames, (cut >= pos) + (cut >= first_end));
		um_frame_reader_destroy(&r);
	}
}

static void test_reader_too_long(void)
{
	for (unsigned t = 0; t < 256; t += 1) {
		struct um_frame_reader r;
		struct um_frame f;
		uint8_t *dst;
		size_t used, n;
		uint8_t h[10];
		uint32_t bad = um_frame_payload_max((uint8_t)t) + 1;
		h[0] = (uint8_t)(bad >> 24), h[1] = (uint8_t)(bad >> 16), h[2] = (uint8_t)(bad >> 8);
		h[3] = (uint8_t)bad, h[4] = (uint8_t)t;
		um_frame_reader_init(&r);
		CHECK_EQ(um_frame_reader_push(&r, h, 5, &used, &f), -UM_ERANGE);
		CHECK_EQ(used, 5);
		CHECK_EQ(f.type, t);
		CHECK_EQ(f.len, bad);
		CHECK(r.buf == NULL); /* nothing buffered for it */
		CHECK_EQ(um_frame_reader_space(&r, &dst, &n), -UM_ERANGE);
		CHECK_EQ(um_frame_reader_push(&r, h, 5, &used, &f), -UM_ERANGE);
		CHECK_EQ(used, 0);
		/* The largest length, too. */
		um_frame_reader_reset(&r);
		memset(h, 0xff, 4);
		CHECK_EQ(um_frame_reader_push(&r, h, 5, &used, &f), -UM_ERANGE);
		/* A reset starts again at a frame boundary. */
		um_frame_reader_reset(&r);
		CHECK_EQ(um_frame_header_encode(h, (uint8_t)t, 5), 0);
		memcpy(h + 5, "hello", 5);
		CHECK_EQ(um_frame_reader_push(&r, h, 10, &used, &f),
			 um_frame_type_known((uint8_t)t) ? UM_FRAME_READY : UM_FRAME_SKIPPED);
		CHECK_EQ(used, 10);
		um_frame_reader_destroy(&r);
	}
}

static void test_reader_reset_and_room(void)
{
	struct um_frame_reader r;
	struct um_frame f, first;
	size_t used;
	uint8_t h[UM_FRAME_HEADER_BYTES];
	um_frame_reader_init(&r);

	/* A partial frame dropped by a reset. */
	um_frame_header_encode(h, UM_FRAME_DATA, 100);
	CHECK_EQ(um_frame_reader_push(&r, h, 5, &used, &f), UM_FRAME_MORE);
	CHECK_EQ(um_frame_reader_push(&r, body, 40, &used, &f), UM_FRAME_MORE);
	um_frame_reader_reset(&r);
	um_frame_header_encode(h, UM_FRAME_PRESENCE, 3);
	CHECK_EQ(um_frame_reader_push(&r, h, 5, &used, &f), UM_FRAME_MORE);
	CHECK_EQ(um_frame_reader_push(&r, (const uint8_t *)"abc", 3, &used, &f), UM_FRAME_READY);
	CHECK_EQ(f.type, UM_FRAME_PRESENCE);
	CHECK_MEM(f.payload, "abc", 3);
	first = f;

	/* A big frame behind a held one waits for a release; the held
	 * payload is intact until then. */
	um_frame_header_encode(h, UM_FRAME_FILE_CHUNK, 60000);
	CHECK_EQ(um_frame_reader_push(&r, h, 5, &used, &f), UM_FRAME_MORE);
	randombytes_buf(body, 60000);
	CHECK_EQ(um_frame_reader_push(&r, body, 60000, &used, &f), -UM_EAGAIN);
	CHECK_EQ(used, 0);
	CHECK_MEM(first.payload, "abc", 3);
	um_frame_reader_release(&r);
	CHECK_EQ(um_frame_reader_push(&r, body, 30000, &used, &f), UM_FRAME_MORE);
	CHECK_EQ(used, 30000);
	um_frame_reader_release(&r); /* a partial payload survives a release */
	CHECK_EQ(um_frame_reader_push(&r, body + 30000, 40000, &used, &f), UM_FRAME_READY);
	CHECK_EQ(used, 30000);
	CHECK_EQ(f.len, 60000);
	CHECK_MEM(f.payload, body, 60000);

	/* Unknown frames do not grow the buffer. */
	um_frame_reader_destroy(&r);
	um_frame_reader_init(&r);
	um_frame_header_encode(h, 0x77, UM_FRAME_PAYLOAD_MAX);
	CHECK_EQ(um_frame_reader_push(&r, h, 5, &used, &f), UM_FRAME_MORE);
	for (size_t left = UM_FRAME_PAYLOAD_MAX; left;) {
		size_t piece = left < 1000 ? left : 1000;
		int ret = um_frame_reader_push(&r, body, piece, &used, &f);
		CHECK_EQ(used, piece);
		left -= piece;
		CHECK_EQ(ret, left ? UM_FRAME_MORE : UM_FRAME_SKIPPED);
	}
	CHECK(r.cap <= 4096);
	/* A zero-length known frame. */
	um_frame_header_encode(h, UM_FRAME_DATA, 0);
	CHECK_EQ(um_frame_reader_push(&r, h, 5, &used, &f), UM_FRAME_READY);
	CHECK_EQ(f.len, 0);
	CHECK(f.payload != NULL);
	um_frame_reader_destroy(&r);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_text_valid);
	RUN(test_header);
	RUN(test_data);
	RUN(test_ack);
	RUN(test_presence);
	RUN(test_reader_splits);
	RUN(test_reader_truncation);
	RUN(test_reader_too_long);
	RUN(test_reader_reset_and_room);
	return um_test_end();
}
