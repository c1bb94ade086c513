/* SPDX-License-Identifier: MIT */
/* The messenger (msg/messenger.h): two of them wired through an in-memory
 * link that loses, delays and reorders segments, on a fake clock.
 * Messages of random sizes arrive in order and once; receipts and
 * presence go both ways; a full channel refuses whole frames; malformed
 * and unknown frames are counted and skipped; a channel reset raises
 * RESET on both sides and the messages re-sent after it arrive once. */
#include <sodium.h>
#include <stdlib.h>

#include "msg/messenger.h"
#include "test.h"
#include "util/error.h"
#include "wire/channel.h"

#define MS         1000000ULL
#define N_MESSAGES 1000
#define LINK_MAX   16384

struct packet {
	int to;
	uint64_t at;
	size_t len;
	uint8_t data[UM_CHANNEL_SEGMENT_MAX];
};

/* One end: its messenger and what the test's application saw. */
struct side {
	struct um_messenger *m;
	uint32_t next_send;     /* index of the next message to write */
	uint32_t n_to_send;     /* messages this side sends */
	uint32_t next_expected; /* index of the next new message from the peer */
	uint32_t duplicates;    /* messages seen again (after a reset) */
	uint32_t out_of_order;  /* a new message that is not the next */
	uint32_t bad_body;
	uint32_t acks[4];    /* receipts received, by what */
	uint32_t acked_upto; /* the sender's lowest index not acknowledged delivered */
	bool *acked;         /* per index */
	uint32_t presence_seen;
	uint8_t last_state;
	char last_text[UM_PRESENCE_TEXT_MAX + 1];
	uint32_t resets, protocol_errors, file_frames;
	bool ack_read; /* answer each message with a read receipt too */
	bool paused;   /* write no messages (room for injected bytes) */
};

static struct packet *link_q;
static size_t link_n;
static uint64_t now;
static unsigned loss_percent;
static uint64_t delay_ns, jitter_ns;
static uint64_t link_sent, link_lost;
static struct side sides[2];

static uint32_t message_size(uint32_t i)
{
	/* Random but reproducible on both sides: a hash of the index. */
	uint8_t h[4], in[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
	crypto_generichash(h, sizeof(h), in, sizeof(in), NULL, 0);
	uint32_t v = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (i % 10 == 0)
		return UM_MESSAGE_BODY_MAX - (v % 3); /* the limit and just below */
	return v % (UM_MESSAGE_BODY_MAX + 1);
}

static uint8_t message_kind(uint32_t i)
{
	return i % 3 == 0 ? UM_MESSAGE_TEXT : UM_MESSAGE_BINARY;
}

/* Body i of side `from`: text is letters, binary any byte. */
static void message_body(int from, uint32_t i, uint8_t *out, size_t len)
{
	uint8_t key[crypto_stream_chacha20_KEYBYTES] = {(uint8_t)from};
	uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
							    (uint8_t)i};
	crypto_stream_chacha20(out, len, nonce, key);
	if (message_kind(i) == UM_MESSAGE_TEXT)
		for (size_t k = 0; k < len; k++)
			out[k] = (uint8_t)('a' + out[k] % 26);
}

static void message_id(int from, uint32_t i, uint8_t id[UM_MESSAGE_ID_BYTES])
{
	memset(id, 0, UM_MESSAGE_ID_BYTES);
	id[0] = 'M';
	id[1] = (uint8_t)from;
	id[12] = (uint8_t)(i >> 24), id[13] = (uint8_t)(i >> 16), id[14] = (uint8_t)(i >> 8), id[15] = (uint8_t)i;
}

static bool id_parse(const uint8_t id[UM_MESSAGE_ID_BYTES], int *from, uint32_t *i)
{
	*from = id[1];
	*i = (uint32_t)id[12] << 24 | (uint32_t)id[13] << 16 | (uint32_t)id[14] << 8 | id[15];
	return id[0] == 'M' && *from <= 1;
}

static uint8_t body_buf[UM_MESSAGE_BODY_MAX];
static uint8_t check_buf[UM_MESSAGE_BODY_MAX];

static void setup(unsigned loss, uint64_t delay, uint64_t jitter, uint32_t n_a, uint32_t n_b)
{
	struct um_messenger_config cfg = {0};
	now = 1000 * MS;
	loss_percent = loss;
	delay_ns = delay;
	jitter_ns = jitter;
	link_n = link_sent = link_lost = 0;
	if (!link_q)
		link_q = calloc(LINK_MAX, sizeof(*link_q));
	for (int s = 0; s < 2; s++) {
		memset(&sides[s], 0, sizeof(sides[s]));
		CHECK_EQ(um_messenger_new(&cfg, 0x1000 + (uint64_t)s + randombytes_random(), now, &sides[s].m), 0);
		sides[s].n_to_send = s ? n_b : n_a;
		sides[s].acked = calloc(N_MESSAGES + 1, sizeof(bool)); /* tests raise n_to_send up to it */
	}
}

static void teardown(void)
{
	for (int s = 0; s < 2; s++) {
		um_messenger_free(sides[s].m);
		free(sides[s].acked);
		sides[s].m = NULL;
		sides[s].acked = NULL;
	}
}

/* A new messenger for side s (a daemon restart): new epoch, nothing kept. */
static void restart(int s)
{
	struct um_messenger_config cfg = {0};
	um_messenger_free(sides[s].m);
	CHECK_EQ(um_messenger_new(&cfg, 0x9000 + randombytes_random(), now, &sides[s].m), 0);
}

static size_t file_payload_len(uint32_t k)
{
	return 20000 + (k * 7919) % 40000;
}

static void file_payload(uint32_t k, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(k * 31 + i * 7 + (i >> 8));
}

static void handle_event(int s, const struct um_messenger_event *e)
{
	struct side *me = &sides[s];
	int from;
	uint32_t i;

	switch (e->kind) {
	case UM_MSG_EVENT_MESSAGE:
		CHECK(id_parse(e->id, &from, &i));
		CHECK_EQ(from, 1 - s);
		if (i < me->next_expected) {
			me->duplicates++;
		} else {
			if (i != me->next_expected)
				me->out_of_order++;
			me->next_expected = i + 1;
			CHECK_EQ(e->message_kind, message_kind(i));
			CHECK(e->time_ms == 1765000000000ULL + i);
			if (e->len != message_size(i)) {
				me->bad_body++;
			} else {
				message_body(from, i, check_buf, e->len);
				if (e->len && memcmp(check_buf, e->data, e->len) != 0)
					me->bad_body++;
			}
		}
		/* Acknowledged again after a duplicate: the first ACK may be
		 * what the reset lost. */
		CHECK_EQ(um_messenger_ack(me->m, e->id, UM_RECEIPT_DELIVERED, NULL), 0);
		if (me->ack_read)
			CHECK_EQ(um_messenger_ack(me->m, e->id, UM_RECEIPT_READ, NULL), 0);
		break;
	case UM_MSG_EVENT_ACK:
		CHECK(id_parse(e->id, &from, &i));
		CHECK_EQ(from, s);
		CHECK(e->what >= 1 && e->what <= 3);
		me->acks[e->what & 3]++;
		if (e->what == UM_RECEIPT_DELIVERED && i < me->n_to_send) {
			me->acked[i] = true;
			while (me->acked_upto < me->n_to_send && me->acked[me->acked_upto])
				me->acked_upto++;
		}
		break;
	case UM_MSG_EVENT_PRESENCE:
		me->presence_seen++;
		me->last_state = e->state;
		CHECK(e->len <= UM_PRESENCE_TEXT_MAX);
		memcpy(me->last_text, e->data, e->len);
		me->last_text[e->len] = 0;
		break;
	case UM_MSG_EVENT_RESET:
		/* Write again everything not acknowledged. */
		me->resets++;
		me->next_send = me->acked_upto;
		break;
	case UM_MSG_EVENT_PROTOCOL_ERROR:
		me->protocol_errors++;
		CHECK(e->len > 0);
		break;
	case UM_MSG_EVENT_FILE_FRAME:
		/* In test_frames_in_place: frame k is file_payload(k). */
		if (e->frame_type == UM_FRAME_FILE_CHUNK && e->len > 4) {
			file_payload(me->file_frames, check_buf, e->len);
			if (memcmp(check_buf, e->data, e->len) != 0)
				me->bad_body++;
		}
		me->file_frames++;
		break;
	}
}

static void deliver(int s, const uint8_t *seg, size_t len)
{
	struct um_messenger_event ev[UM_MESSENGER_EVENTS_MAX];
	size_t n = 0;
	int ret = um_messenger_input(sides[s].m, seg, len, now, ev, &n);
	CHECK(ret == 0);
	for (;;) {
		CHECK(n <= UM_MESSENGER_EVENTS_MAX);
		for (size_t k = 0; k < n; k++)
			handle_event(s, &ev[k]);
		if (!um_messenger_pending(sides[s].m))
			break;
		n = 0;
		CHECK_EQ(um_messenger_input(sides[s].m, NULL, 0, now, ev, &n), 0);
	}
}

/* Writes the side's next messages while the channel takes them. */
static void send_more(int s)
{
	struct side *me = &sides[s];
	while (!me->paused && me->next_send < me->n_to_send) {
		uint32_t i = me->next_send;
		uint8_t id[UM_MESSAGE_ID_BYTES];
		size_t len = message_size(i);
		message_id(s, i, id);
		message_body(s, i, body_buf, len);
		int ret = um_messenger_send(me->m, id, 1765000000000ULL + i, message_kind(i), body_buf, len);
		if (ret == -UM_EAGAIN) {
			CHECK(um_messenger_writable(me->m) < UM_MESSAGE_DATA_HEAD_BYTES + len);
			return;
		}
		CHECK_EQ(ret, 0);
		if (ret < 0)
			return;
		me->next_send++;
	}
}

static void flush_output(int s)
{
	for (;;) {
		struct packet *p = link_n < LINK_MAX ? &link_q[link_n] : NULL;
		uint8_t scratch[UM_CHANNEL_SEGMENT_MAX];
		size_t len = 0;
		int ret = um_messenger_output(sides[s].m, now, p ? p->data : scratch, UM_CHANNEL_SEGMENT_MAX, &len);
		CHECK_EQ(ret, 0);
		if (ret < 0 || len == 0)
			return;
		link_sent++;
		if (!p || randombytes_uniform(100) < loss_percent) {
			link_lost++;
			continue;
		}
		p->to = 1 - s;
		p->len = len;
		p->at = now + delay_ns + (jitter_ns ? randombytes_uniform((uint32_t)jitter_ns) : 0);
		link_n++;
	}
}

/* Runs the link until done() or the simulated time limit; returns
 * whether done() became true. */
static bool run(bool (*done)(void), uint64_t limit_ns)
{
	uint64_t end = now + limit_ns;
	while (now < end) {
		for (int s = 0; s < 2; s++) {
			send_more(s);
			flush_output(s);
		}
		if (done())
			return true;
		/* Deliver what is due, in arrival order (jitter reorders). */
		bool any = false;
		for (size_t k = 0; k < link_n;) {
			if (link_q[k].at <= now) {
				struct packet p = link_q[k];
				link_q[k] = link_q[--link_n];
				deliver(p.to, p.data, p.len);
				any = true;
			} else {
				k++;
			}
		}
		if (any)
			continue;
		uint64_t next = UINT64_MAX;
		for (size_t k = 0; k < link_n; k++)
			if (link_q[k].at < next)
				next = link_q[k].at;
		for (int s = 0; s < 2; s++) {
			uint64_t d = um_messenger_deadline(sides[s].m);
			if (d < next)
				next = d;
		}
		if (next == UINT64_MAX)
			return done(); /* nothing in flight, nothing scheduled */
		now = next > now ? next : now + 1;
	}
	return done();
}

static bool all_delivered(void)
{
	for (int s = 0; s < 2; s++) {
		if (sides[1 - s].next_expected < sides[s].n_to_send || sides[s].acked_upto < sides[s].n_to_send)
			return false;
	}
	return true;
}

static void check_delivery(void)
{
	for (int s = 0; s < 2; s++) {
		CHECK_EQ(sides[1 - s].next_expected, sides[s].n_to_send);
		CHECK_EQ(sides[s].acked_upto, sides[s].n_to_send);
		CHECK_EQ(sides[s].out_of_order, 0);
		CHECK_EQ(sides[s].bad_body, 0);
	}
}

/* 1,000 messages of random sizes up to 64 KiB over 2% loss, 20 ms delay
 * with reordering: in order, once, all acknowledged. */
static void test_thousand_messages(void)
{
	setup(2, 20 * MS, 5 * MS, N_MESSAGES, 0);
	CHECK(run(all_delivered, 3600ULL * 1000 * MS));
	check_delivery();
	CHECK_EQ(sides[1].duplicates, 0);
	CHECK_EQ(sides[0].acks[UM_RECEIPT_DELIVERED], N_MESSAGES);
	CHECK(link_lost > 0);
	struct um_messenger_stats st;
	um_messenger_stats(sides[0].m, &st);
	CHECK_EQ(st.messages_sent, N_MESSAGES);
	CHECK(st.send_full > 0); /* 32 MB do not fit a 4 MiB send buffer at once */
	CHECK_EQ(st.acks_received, N_MESSAGES);
	um_messenger_stats(sides[1].m, &st);
	CHECK_EQ(st.messages_received, N_MESSAGES);
	CHECK_EQ(st.protocol_errors, 0);
	CHECK_EQ(st.resets, 0);
	fprintf(stderr, "  %llu segments, %llu lost, %.1f s simulated\n", (unsigned long long)link_sent,
		(unsigned long long)link_lost, (double)(now - 1000 * MS) / 1e9);
	teardown();
}

static bool presence_both(void)
{
	return all_delivered() && sides[0].presence_seen >= 2 && sides[1].presence_seen >= 2;
}

/* Messages, delivered and read receipts, a refusal with a reason and
 * presence, both ways at once. */
static void test_receipts_and_presence(void)
{
	setup(0, 10 * MS, 0, 50, 40);
	sides[0].ack_read = sides[1].ack_read = true;
	CHECK_EQ(um_messenger_presence(sides[0].m, UM_PRESENCE_ONLINE, 0, NULL), 0);
	CHECK_EQ(um_messenger_presence(sides[1].m, UM_PRESENCE_BUSY, 1765000000123ULL, "in a call"), 0);
	CHECK_EQ(um_messenger_presence(sides[0].m, UM_PRESENCE_AWAY, 1765000000999ULL, "back at 5 \xe2\x98\x95"), 0);
	CHECK_EQ(um_messenger_presence(sides[1].m, UM_PRESENCE_OFFLINE, 1765000001000ULL, ""), 0);
	uint8_t id[UM_MESSAGE_ID_BYTES];
	message_id(0, 12345, id);
	CHECK_EQ(um_messenger_ack(sides[1].m, id, UM_RECEIPT_REFUSED, "too big"), 0);
	CHECK(run(presence_both, 600ULL * 1000 * MS));
	check_delivery();
	CHECK_EQ(sides[0].acks[UM_RECEIPT_READ], 50);
	CHECK_EQ(sides[1].acks[UM_RECEIPT_READ], 40);
	CHECK_EQ(sides[0].acks[UM_RECEIPT_REFUSED], 1);
	CHECK_EQ(sides[1].presence_seen, 2);
	CHECK_EQ(sides[1].last_state, UM_PRESENCE_AWAY);
	CHECK(strcmp(sides[1].last_text, "back at 5 \xe2\x98\x95") == 0);
	CHECK_EQ(sides[0].presence_seen, 2);
	CHECK_EQ(sides[0].last_state, UM_PRESENCE_OFFLINE);
	CHECK_EQ(sides[0].last_text[0], 0);
	/* What a peer would refuse is refused here first. */
	char long_text[UM_PRESENCE_TEXT_MAX + 2];
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = 0;
	CHECK_EQ(um_messenger_presence(sides[0].m, UM_PRESENCE_ONLINE, 0, long_text), -UM_EINVAL);
	CHECK_EQ(um_messenger_presence(sides[0].m, 9, 0, NULL), -UM_EINVAL);
	CHECK_EQ(um_messenger_ack(sides[0].m, id, 0, NULL), -UM_EINVAL);
	CHECK_EQ(um_messenger_send(sides[0].m, id, 0, UM_MESSAGE_TEXT, "\xff", 1), -UM_EINVAL);
	CHECK_EQ(um_messenger_send(sides[0].m, id, 0, 7, "x", 1), -UM_EINVAL);
	CHECK_EQ(um_messenger_send(sides[0].m, id, 0, UM_MESSAGE_BINARY, body_buf, UM_MESSAGE_BODY_MAX + 1),
		 -UM_ERANGE);
	CHECK_EQ(um_messenger_send_frame(sides[0].m, UM_FRAME_PRESENCE, "\x09", 1), -UM_EINVAL);
	CHECK_EQ(um_messenger_send_frame(sides[0].m, UM_FRAME_FILE_CHUNK, body_buf, UM_FRAME_PAYLOAD_MAX + 1),
		 -UM_ERANGE);
	teardown();
}

/* A frame goes in whole or not at all: fill the channel until it says
 * EAGAIN, then everything written arrives intact. */
static void test_full_channel(void)
{
	setup(0, 5 * MS, 0, 0, 0);
	struct um_messenger *a = sides[0].m;
	uint32_t written = 0;
	for (uint32_t i = 0; i < 1000; i++) {
		uint8_t id[UM_MESSAGE_ID_BYTES];
		size_t len = message_size(i);
		message_id(0, i, id);
		message_body(0, i, body_buf, len);
		size_t room = um_messenger_writable(a);
		int ret = um_messenger_send(a, id, 1765000000000ULL + i, message_kind(i), body_buf, len);
		CHECK_EQ(ret == 0, room >= UM_MESSAGE_DATA_HEAD_BYTES + len);
		if (ret == -UM_EAGAIN)
			break;
		written++;
	}
	CHECK(written > 0 && written < 1000);
	struct um_messenger_stats st;
	um_messenger_stats(a, &st);
	CHECK_EQ(st.send_full, 1);
	CHECK_EQ(st.messages_sent, written);
	sides[0].n_to_send = sides[0].next_send = written;
	CHECK(run(all_delivered, 600ULL * 1000 * MS));
	check_delivery();
	teardown();
}

static size_t inject_len;
static int inject_side;

static bool inject_room(void)
{
	return um_channel_writable(um_messenger_channel(sides[inject_side].m)) >= inject_len;
}

/* Raw bytes straight into a side's channel, as a broken or hostile peer
 * would write them (between two whole frames). */
static void inject(int s, const void *bytes, size_t len)
{
	inject_side = s;
	inject_len = len;
	sides[s].paused = true;
	CHECK(run(inject_room, 600ULL * 1000 * MS));
	CHECK_EQ(um_channel_write(um_messenger_channel(sides[s].m), bytes, len), 0);
	sides[s].paused = false;
}

static bool got_errors(void)
{
	return all_delivered() && sides[1].protocol_errors >= 2 && sides[1].file_frames >= 1;
}

/* Malformed payloads are counted and skipped; an unknown type is skipped;
 * the frames after them still arrive. */
static void test_malformed_and_unknown(void)
{
	setup(0, 5 * MS, 0, 3, 0);
	static const uint8_t bad_presence[] = {0, 0, 0, 11, UM_FRAME_PRESENCE, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t bad_data[] = {
	    0, 0, 0, 25, UM_FRAME_DATA, 'M', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 5};
	static const uint8_t unknown[] = {0, 0, 0, 3, 0x63, 'n', 'e', 'w'};
	static const uint8_t file[] = {0, 0, 0, 2, UM_FRAME_FILE_DONE, 1, 2};
	sides[0].n_to_send = 1;
	CHECK(run(all_delivered, 600ULL * 1000 * MS)); /* the channel knows its peer */
	inject(0, bad_presence, sizeof(bad_presence));
	inject(0, unknown, sizeof(unknown));
	inject(0, bad_data, sizeof(bad_data));
	inject(0, file, sizeof(file));
	sides[0].n_to_send = 3;
	CHECK(run(got_errors, 600ULL * 1000 * MS));
	check_delivery();
	struct um_messenger_stats st;
	um_messenger_stats(sides[1].m, &st);
	CHECK_EQ(st.frames_malformed, 2);
	CHECK_EQ(st.protocol_errors, 2);
	CHECK_EQ(st.frames_unknown, 1);
	CHECK_EQ(st.file_frames_received, 1);
	CHECK_EQ(st.resets, 0);
	CHECK_EQ(sides[1].protocol_errors, 2);
	CHECK_EQ(sides[1].resets, 0);
	teardown();
}

static bool half_delivered(void)
{
	return sides[1].next_expected >= sides[0].n_to_send / 2;
}

static bool both_reset(void)
{
	return all_delivered() && sides[0].resets >= 1 && sides[1].resets >= 1;
}

/* An over-long length mid-stream: b reports it and resets its channel; a
 * sees the reset too; a writes again what b did not acknowledge and every
 * message arrives once (b drops the duplicates by ID, as the store does). */
static void test_reset_mid_stream(void)
{
	setup(2, 20 * MS, 5 * MS, N_MESSAGES / 2, 0);
	CHECK(run(half_delivered, 3600ULL * 1000 * MS));
	static const uint8_t too_long[] = {0x7f, 0xff, 0xff, 0xff, UM_FRAME_DATA};
	inject(0, too_long, sizeof(too_long));
	CHECK(run(both_reset, 3600ULL * 1000 * MS));
	check_delivery();
	CHECK_EQ(sides[0].resets, 1);
	CHECK_EQ(sides[1].resets, 1);
	CHECK_EQ(sides[1].protocol_errors, 1);
	struct um_messenger_stats st;
	um_messenger_stats(sides[1].m, &st);
	CHECK_EQ(st.frames_too_long, 1);
	fprintf(stderr, "  %u duplicates dropped by ID after the reset\n", sides[1].duplicates);
	teardown();
}

static bool restarted_done(void)
{
	return sides[1].next_expected >= sides[0].n_to_send && sides[0].resets >= 1;
}

/* The peer restarts (a new messenger, a new epoch): the sender sees a
 * reset and writes the unacknowledged messages again. */
static void test_peer_restart(void)
{
	setup(0, 10 * MS, 0, 200, 0);
	CHECK(run(half_delivered, 600ULL * 1000 * MS));
	uint32_t before = sides[1].next_expected;
	restart(1);
	CHECK(run(restarted_done, 600ULL * 1000 * MS));
	CHECK_EQ(sides[0].resets, 1);
	CHECK_EQ(sides[1].next_expected, 200);
	CHECK(before > 0);
	CHECK_EQ(sides[1].out_of_order, 0);
	CHECK_EQ(sides[1].bad_body, 0);
	teardown();
}

static size_t room_wanted;

static bool room_for_frame(void)
{
	return um_messenger_writable(sides[0].m) >= room_wanted;
}

static uint32_t frames_wanted;

static bool frames_arrived(void)
{
	return sides[1].file_frames == frames_wanted;
}

/* File frames written in place in the channel's buffer arrive as if
 * written by send_frame; where the buffer wraps, the writer is told to
 * use send_frame (both happen over 400 frames, ~16 MB through a 4 MiB
 * buffer). Messages are never written in place (send_frame checks them). */
static void test_frames_in_place(void)
{
	uint32_t in_place = 0, copied = 0;

	setup(0, 5 * MS, 0, 0, 0);
	CHECK(um_messenger_frame_buffer(sides[0].m, UM_FRAME_DATA, 100) == NULL);
	CHECK(um_messenger_frame_buffer(sides[0].m, UM_FRAME_FILE_CHUNK, 0) == NULL);
	CHECK(um_messenger_frame_buffer(sides[0].m, UM_FRAME_FILE_CHUNK, UM_FRAME_PAYLOAD_MAX + 1) == NULL);
	frames_wanted = 400;
	for (uint32_t k = 0; k < frames_wanted; k++) {
		size_t len = file_payload_len(k);
		room_wanted = UM_FRAME_HEADER_BYTES + len;
		CHECK(run(room_for_frame, 600ULL * 1000 * MS));
		uint8_t *p = um_messenger_frame_buffer(sides[0].m, UM_FRAME_FILE_CHUNK, len);
		if (p) {
			file_payload(k, p, len);
			CHECK_EQ(um_messenger_frame_commit(sides[0].m, len), 0);
			in_place++;
		} else {
			file_payload(k, body_buf, len);
			CHECK_EQ(um_messenger_send_frame(sides[0].m, UM_FRAME_FILE_CHUNK, body_buf, len), 0);
			copied++;
		}
	}
	CHECK(run(frames_arrived, 600ULL * 1000 * MS));
	CHECK_EQ(sides[1].file_frames, frames_wanted);
	CHECK_EQ(sides[1].bad_body, 0);
	CHECK(in_place > copied && copied > 0);
	struct um_messenger_stats st;
	um_messenger_stats(sides[0].m, &st);
	CHECK_EQ(st.file_frames_sent, frames_wanted);
	teardown();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_receipts_and_presence);
	RUN(test_full_channel);
	RUN(test_malformed_and_unknown);
	RUN(test_thousand_messages);
	RUN(test_reset_mid_stream);
	RUN(test_peer_restart);
	RUN(test_frames_in_place);
	free(link_q);
	return um_test_end();
}
