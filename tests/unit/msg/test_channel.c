/* SPDX-License-Identifier: MIT */
/* The message channel (msg/channel.h) and its segment codec
 * (wire/channel.h): 10 MB through a link that drops, reorders, duplicates
 * and delays; restarts with a new epoch; a closed and reopened window;
 * malformed segments. Every case builds its own link and clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel_link.h"
#include "msg/channel.h"
#include "test.h"
#include "util/error.h"
#include "wire/channel.h"
#include "wire/types.h"

#define MS     UINT64_C(1000000)
#define SECOND UINT64_C(1000000000)

/* The byte at stream offset i of stream `tag`. */
static uint8_t pattern(uint64_t i, unsigned tag)
{
	uint64_t x = (i / 251) * 0x9E3779B97F4A7C15u + tag * 0x51u;
	return (uint8_t)(x >> 56 ^ i);
}

/* A one-way transfer of `total` bytes from side 0 to side 1. */
struct transfer {
	uint64_t total, written, received;
	unsigned tag;
	bool corrupt;
};

static void transfer_step(struct link *l, struct transfer *t, int from)
{
	uint8_t buf[16384];

	while (t->written < t->total) {
		size_t n = um_channel_writable(l->ch[from]);
		if (n > sizeof(buf))
			n = sizeof(buf);
		if (n > t->total - t->written)
			n = (size_t)(t->total - t->written);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(t->written + i, t->tag);
		if (um_channel_write(l->ch[from], buf, n) != 0)
			break;
		t->written += n;
	}
	size_t got;
	while ((got = um_channel_read(l->ch[1 - from], buf, sizeof(buf))) > 0) {
		for (size_t i = 0; i < got; i++)
			if (buf[i] != pattern(t->received + i, t->tag))
				t->corrupt = true;
		t->received += got;
	}
}

/* Runs a transfer to the end (or the simulated time limit); returns the
 * simulated time it took. */
static uint64_t run_transfer(struct link *l, uint64_t total, uint64_t limit_ns)
{
	struct transfer t = {.total = total, .tag = 1};
	uint64_t start = l->now;

	while (t.received < total && l->now - start < limit_ns) {
		transfer_step(l, &t, 0);
		if (!link_pump(l))
			break;
	}
	transfer_step(l, &t, 0);
	CHECK(!t.corrupt);
	CHECK_EQ(t.received, total);
	CHECK_EQ(um_channel_readable(l->ch[1]), 0);
	return l->now - start;
}

static void print_stats(const char *what, struct link *l, uint64_t took)
{
	struct um_channel_stats s;

	um_channel_stats(l->ch[0], &s);
	fprintf(stderr,
		"  %s: %.2f s simulated, srtt %.1f ms, rto %.0f ms, cwnd %u, sent %llu segs (%llu retransmits, "
		"%llu timeouts), dropped %llu+%llu\n",
		what, (double)took / SECOND, (double)s.srtt_ns / MS, (double)s.rto_ns / MS, s.cwnd,
		(unsigned long long)s.segments_sent, (unsigned long long)s.retransmits, (unsigned long long)s.timeouts,
		(unsigned long long)l->dropped[0], (unsigned long long)l->dropped[1]);
}

static void test_clean_10mb(void)
{
	struct link_params p = {.delay_ns = 20 * MS};
	struct link *l = link_new(&p, 11);
	uint64_t took = run_transfer(l, 10 << 20, 120 * SECOND);
	struct um_channel_stats s;

	um_channel_stats(l->ch[0], &s);
	print_stats("clean", l, took);
	CHECK_EQ(s.retransmits, 0);
	CHECK_EQ(s.timeouts, 0);
	/* RTT 40 ms (2 x 20): the estimate within slack. */
	CHECK(s.srtt_ns >= 38 * MS && s.srtt_ns <= 60 * MS);
	/* Slow start reaches the 4 MiB buffer in ~10 RTT: 10 MB well under 3 s. */
	CHECK(took < 3 * SECOND);

	/* After idling longer than an RTO the sender restarts from the
	 * initial window instead of bursting its old one. */
	um_channel_stats(l->ch[0], &s);
	CHECK(s.cwnd > 100 * 1122);
	l->now += 10 * SECOND;
	static uint8_t burst[1 << 20];
	CHECK_EQ(um_channel_write(l->ch[0], burst, sizeof(burst)), 0);
	link_flush(l);
	um_channel_stats(l->ch[0], &s);
	CHECK_EQ(s.cwnd, 10 * (UM_CHANNEL_SEGMENT_DEFAULT - UM_CHANNEL_DATA_HEADER));
	CHECK(s.in_flight <= s.cwnd);
	while (link_pump(l))
		um_channel_read(l->ch[1], burst, sizeof(burst));
	struct um_channel_stats r;
	um_channel_stats(l->ch[1], &r);
	CHECK_EQ(r.bytes_delivered, (10 << 20) + (1 << 20));
	link_free(l);
}

static void lossy(double loss, uint64_t seed, const char *what)
{
	struct link_params p = {
	    .loss = loss, .duplicate = 0.01, .reorder = 0.05, .reorder_ns = 5 * MS, .delay_ns = 20 * MS};
	struct link *l = link_new(&p, seed);
	uint64_t took = run_transfer(l, 10 << 20, 3600 * SECOND);
	struct um_channel_stats s, r;

	um_channel_stats(l->ch[0], &s);
	um_channel_stats(l->ch[1], &r);
	print_stats(what, l, took);
	CHECK(s.retransmits > 0);
	CHECK_EQ(r.bytes_delivered, 10 << 20);
	/* Loss recovery mostly by SACK, not by timeouts. */
	CHECK(s.timeouts * 10 < s.retransmits);
	CHECK_EQ(s.segments_malformed + r.segments_malformed, 0);
	link_free(l);
}

static void test_loss_2(void)
{
	lossy(0.02, 22, "2% loss");
}

static void test_loss_10(void)
{
	lossy(0.10, 33, "10% loss");
}

/* Small buffers (64 KiB window, 128 KiB send buffer) under 5% loss and
 * reordering, with a reader that drains only every 50 ms: the window
 * closes and reopens all the time, losses and probes interleave. */
static void test_small_window_lossy(void)
{
	struct link_params p = {.loss = 0.05,
				.duplicate = 0.01,
				.reorder = 0.1,
				.reorder_ns = 8 * MS,
				.delay_ns = 10 * MS,
				.config = {{.send_buffer = 128 << 10}, {.receive_buffer = 64 << 10}}};
	struct link *l = link_new(&p, 141);
	struct transfer t = {.total = 4 << 20, .tag = 11};
	uint8_t buf[4096];
	uint64_t next_read = l->now, start = l->now;

	while (t.received < t.total && l->now - start < 3600 * SECOND) {
		while (t.written < t.total && um_channel_writable(l->ch[0]) > 0) {
			size_t n = um_channel_writable(l->ch[0]);
			if (n > sizeof(buf))
				n = sizeof(buf);
			if (n > t.total - t.written)
				n = (size_t)(t.total - t.written);
			for (size_t i = 0; i < n; i++)
				buf[i] = pattern(t.written + i, t.tag);
			if (um_channel_write(l->ch[0], buf, n) != 0)
				t.corrupt = true; /* writable() promised room */
			t.written += n;
		}
		if (l->now >= next_read) {
			size_t got;
			while ((got = um_channel_read(l->ch[1], buf, sizeof(buf))) > 0) {
				for (size_t i = 0; i < got; i++)
					if (buf[i] != pattern(t.received + i, t.tag))
						t.corrupt = true;
				t.received += got;
			}
			next_read = l->now + 50 * MS;
		}
		if (!link_pump(l))
			l->now = next_read; /* nothing pending but the reader */
	}
	CHECK(!t.corrupt);
	CHECK_EQ(t.received, t.total);
	struct um_channel_stats s;
	um_channel_stats(l->ch[0], &s);
	CHECK(s.retransmits > 0);
	print_stats("small window, 5% loss", l, l->now - start);
	link_free(l);
}

/* Both directions at once, 2% loss. */
static void test_bidirectional(void)
{
	struct link_params p = {.loss = 0.02, .reorder = 0.05, .reorder_ns = 5 * MS, .delay_ns = 20 * MS};
	struct link *l = link_new(&p, 44);
	struct transfer ab = {.total = 2 << 20, .tag = 2}, ba = {.total = 1 << 20, .tag = 3};

	for (int i = 0; i < 10000000 && (ab.received < ab.total || ba.received < ba.total); i++) {
		transfer_step(l, &ab, 0);
		transfer_step(l, &ba, 1);
		if (!link_pump(l))
			break;
	}
	CHECK(!ab.corrupt && !ba.corrupt);
	CHECK_EQ(ab.received, ab.total);
	CHECK_EQ(ba.received, ba.total);
	link_free(l);
}

/* Old-epoch segments seen by the restarted side: none may be delivered. */
static uint64_t stale_seen, stale_epoch;
static uint8_t stale_saved[UM_CHANNEL_SEGMENT_MAX];
static size_t stale_saved_len;

static void watch_old_epoch(struct link *l, int to, const uint8_t *seg, size_t len)
{
	struct um_channel_segment s;

	(void)l;
	if (to != 1 || um_channel_segment_decode(&s, seg, len) != 0)
		return;
	if (s.type == UM_TYPE_CHANNEL_DATA && s.receiver_epoch == stale_epoch) {
		stale_seen++;
		memcpy(stale_saved, seg, len);
		stale_saved_len = len;
	}
}

static void test_epoch_restart(void)
{
	struct link_params p = {.delay_ns = 20 * MS, .loss = 0.02};
	struct link *l = link_new(&p, 55);
	struct transfer old = {.total = 1 << 20, .tag = 4};
	struct um_channel_stats s0, s1;

	/* Half a megabyte of the old stream, then side 1 restarts mid-transfer. */
	for (int i = 0; i < 1000000 && old.received < 512 * 1024; i++) {
		transfer_step(l, &old, 0);
		link_pump(l);
	}
	CHECK(old.received >= 512 * 1024 && old.received < old.total);
	CHECK(!um_channel_take_reset(l->ch[0]));
	CHECK(!um_channel_take_reset(l->ch[1]));
	stale_epoch = um_channel_epoch(l->ch[1]);
	CHECK_EQ(um_channel_peer_epoch(l->ch[0]), stale_epoch);
	link_restart(l, 1);
	l->on_deliver = watch_old_epoch;

	/* The restarted side writes first; side 0 still has old data queued
	 * and in flight, addressed to the old epoch. */
	struct transfer back = {.total = 100000, .tag = 5}, fresh = {.total = 300000, .tag = 6};
	int resets = 0;
	bool fresh_started = false;
	for (int i = 0; i < 2000000 && (back.received < back.total || fresh.received < fresh.total); i++) {
		transfer_step(l, &back, 1);
		if (um_channel_take_reset(l->ch[0])) {
			resets++;
			fresh_started = true;
		}
		CHECK(!um_channel_take_reset(l->ch[1]));
		if (fresh_started)
			transfer_step(l, &fresh, 0);
		else /* nothing of the old stream may reach the new side */
			CHECK_EQ(um_channel_readable(l->ch[1]), 0);
		if (!link_pump(l))
			break;
	}
	CHECK_EQ(resets, 1);
	CHECK(!back.corrupt && !fresh.corrupt);
	CHECK_EQ(back.received, back.total);
	CHECK_EQ(fresh.received, fresh.total);
	CHECK(stale_seen > 0);
	um_channel_stats(l->ch[0], &s0);
	um_channel_stats(l->ch[1], &s1);
	CHECK_EQ(s0.resets, 1);
	CHECK_EQ(s1.resets, 0);
	CHECK(s1.segments_stale >= stale_seen);
	CHECK_EQ(um_channel_peer_epoch(l->ch[0]), um_channel_epoch(l->ch[1]));
	CHECK_EQ(um_channel_peer_epoch(l->ch[1]), um_channel_epoch(l->ch[0]));

	/* A late segment of the old epoch: answered with RESET, not delivered,
	 * and no second reset on either side. */
	CHECK(stale_saved_len > 0);
	CHECK_EQ(um_channel_input(l->ch[1], stale_saved, stale_saved_len, l->now), 0);
	CHECK_EQ(um_channel_readable(l->ch[1]), 0);
	uint8_t out[UM_CHANNEL_SEGMENT_MAX];
	size_t len;
	l->now += SECOND;
	CHECK_EQ(um_channel_output(l->ch[1], l->now, out, sizeof(out), &len), 0);
	struct um_channel_segment seg;
	CHECK_EQ(um_channel_segment_decode(&seg, out, len), 0);
	CHECK_EQ(seg.type, UM_TYPE_CHANNEL_RESET);
	CHECK_EQ(seg.sender_epoch, um_channel_epoch(l->ch[1]));
	CHECK_EQ(um_channel_input(l->ch[0], out, len, l->now), 0);
	CHECK(!um_channel_take_reset(l->ch[0]));
	CHECK(!um_channel_take_reset(l->ch[1]));
	link_free(l);
}

/* A late segment from the peer's previous run, after the reset to its
 * new one, is dropped: it does not flip the channel back. */
static void test_epoch_no_flap(void)
{
	struct link_params p = {.delay_ns = 5 * MS};
	struct link *l = link_new(&p, 66);
	uint8_t seg[256];
	uint64_t e0 = um_channel_epoch(l->ch[0]);
	int n;

	n = um_channel_data_encode(seg, sizeof(seg), 0x1111, 0, 0, 0, "old", 3);
	CHECK_EQ(um_channel_input(l->ch[0], seg, (size_t)n, l->now), 0);
	CHECK_EQ(um_channel_readable(l->ch[0]), 3);
	CHECK(!um_channel_take_reset(l->ch[0])); /* first contact */
	n = um_channel_data_encode(seg, sizeof(seg), 0x2222, e0, 0, 0, "new", 3);
	CHECK_EQ(um_channel_input(l->ch[0], seg, (size_t)n, l->now), 0);
	CHECK(um_channel_take_reset(l->ch[0]));
	CHECK(!um_channel_take_reset(l->ch[0]));
	char buf[8] = {0};
	CHECK_EQ(um_channel_read(l->ch[0], buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "new", 3) == 0);
	n = um_channel_data_encode(seg, sizeof(seg), 0x1111, e0, 3, 0, "zzz", 3);
	CHECK_EQ(um_channel_input(l->ch[0], seg, (size_t)n, l->now), 0);
	CHECK(!um_channel_take_reset(l->ch[0]));
	CHECK_EQ(um_channel_readable(l->ch[0]), 0);
	CHECK_EQ(um_channel_peer_epoch(l->ch[0]), 0x2222);
	link_free(l);
}

static void test_zero_window(bool lose_update)
{
	struct link_params p = {.delay_ns = 10 * MS, .config = {{0}, {.receive_buffer = 64 << 10}}};
	struct link *l = link_new(&p, lose_update ? 77 : 78);
	static uint8_t data[1 << 20];
	struct um_channel_stats s;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = pattern(i, 7);
	CHECK_EQ(um_channel_write(l->ch[0], data, sizeof(data)), 0);
	uint64_t start = l->now;
	while (l->now - start < 30 * SECOND && link_pump(l)) {
	}
	/* The receiver's application reads nothing: the window is full. */
	CHECK_EQ(um_channel_readable(l->ch[1]), 64 << 10);
	um_channel_stats(l->ch[0], &s);
	CHECK_EQ(s.peer_window, 0);
	CHECK_EQ(s.in_flight, 0);
	uint64_t segments = s.segments_sent;
	/* Probes go out with backoff: a few in 30 s, not a flood. */
	CHECK(segments > 64 && segments < 64 + 40);
	start = l->now;
	while (l->now - start < 30 * SECOND && link_pump(l)) {
	}
	um_channel_stats(l->ch[0], &s);
	CHECK(s.segments_sent > segments && s.segments_sent < segments + 10);

	/* Reopen: the receiver reads; its window update reaches the sender,
	 * or (lost) the next probe finds the window open. */
	if (lose_update)
		l->drop_next[1] = 1;
	uint64_t got = 0;
	uint8_t buf[8192];
	bool ok = true;
	start = l->now;
	while (got < sizeof(data) && l->now - start < 600 * SECOND) {
		size_t n;
		while ((n = um_channel_read(l->ch[1], buf, sizeof(buf))) > 0) {
			ok = ok && memcmp(buf, data + got, n) == 0;
			got += n;
		}
		if (!link_pump(l))
			break;
	}
	CHECK(ok);
	CHECK_EQ(got, sizeof(data));
	if (!lose_update)
		CHECK(l->now - start < 2 * SECOND);
	link_free(l);
}

static void test_zero_window_update(void)
{
	test_zero_window(false);
}

static void test_zero_window_update_lost(void)
{
	test_zero_window(true);
}

static void test_codec(void)
{
	uint8_t buf[UM_CHANNEL_SEGMENT_MAX + 8], payload[UM_CHANNEL_SEGMENT_MAX];
	struct um_channel_segment seg, ack;
	int n;

	memset(payload, 0xab, sizeof(payload));
	n = um_channel_data_encode(buf, sizeof(buf), 7, 9, 123456, 42, payload, 100);
	CHECK_EQ(n, UM_CHANNEL_DATA_HEADER + 100);
	CHECK_EQ(um_channel_segment_decode(&seg, buf, (size_t)n), 0);
	CHECK_EQ(seg.type, UM_TYPE_CHANNEL_DATA);
	CHECK_EQ(seg.sender_epoch, 7);
	CHECK_EQ(seg.receiver_epoch, 9);
	CHECK_EQ(seg.offset, 123456);
	CHECK_EQ(seg.timestamp_us, 42);
	CHECK_EQ(seg.payload_len, 100);
	CHECK(seg.payload == buf + UM_CHANNEL_DATA_HEADER);
	for (int cut = 0; cut < n; cut++)
		CHECK_EQ(um_channel_segment_decode(&seg, buf, (size_t)cut),
			 cut < UM_CHANNEL_COMMON_BYTES || cut <= UM_CHANNEL_DATA_HEADER ? -UM_ETRUNC : 0);
	/* Largest payload fits, one more does not. */
	CHECK_EQ(um_channel_data_encode(buf, sizeof(buf), 7, 0, 0, 0, payload,
					UM_CHANNEL_SEGMENT_MAX - UM_CHANNEL_DATA_HEADER),
		 UM_CHANNEL_SEGMENT_MAX);
	CHECK_EQ(um_channel_data_encode(buf, sizeof(buf), 7, 0, 0, 0, payload,
					UM_CHANNEL_SEGMENT_MAX - UM_CHANNEL_DATA_HEADER + 1),
		 -UM_EINVAL);
	CHECK_EQ(um_channel_segment_decode(&seg, buf, UM_CHANNEL_SEGMENT_MAX + 1), -UM_EINVAL);
	CHECK_EQ(um_channel_data_encode(buf, sizeof(buf), 0, 0, 0, 0, payload, 1), -UM_EINVAL);
	CHECK_EQ(um_channel_data_encode(buf, 40, 7, 0, 0, 0, payload, 100), -UM_ERANGE);
	CHECK_EQ(um_channel_data_encode(buf, sizeof(buf), 7, 0, UM_CHANNEL_OFFSET_LIMIT - 1, 0, payload, 1),
		 -UM_EINVAL);

	memset(&ack, 0, sizeof(ack));
	ack.sender_epoch = 5;
	ack.receiver_epoch = 6;
	ack.ack = 1000;
	ack.window = 65536;
	ack.echo_valid = true;
	ack.echo_us = 77;
	ack.delay_us = 3;
	ack.sack_count = 3;
	ack.sack[0] = (struct um_channel_sack){5000, 6000};
	ack.sack[1] = (struct um_channel_sack){2000, 3000};
	ack.sack[2] = (struct um_channel_sack){8000, 9000};
	n = um_channel_ack_encode(buf, sizeof(buf), &ack);
	CHECK_EQ(n, UM_CHANNEL_ACK_MAX);
	CHECK_EQ(um_channel_segment_decode(&seg, buf, (size_t)n), 0);
	CHECK_EQ(seg.type, UM_TYPE_CHANNEL_ACK);
	CHECK_EQ(seg.ack, 1000);
	CHECK_EQ(seg.window, 65536);
	CHECK(seg.echo_valid);
	CHECK_EQ(seg.echo_us, 77);
	CHECK_EQ(seg.delay_us, 3);
	CHECK_EQ(seg.sack_count, 3);
	CHECK_EQ(seg.sack[1].start, 2000);
	CHECK_EQ(seg.sack[2].end, 9000);
	CHECK_EQ(um_channel_segment_decode(&seg, buf, (size_t)n - 1), -UM_ETRUNC);
	CHECK_EQ(um_channel_segment_decode(&seg, buf, (size_t)n + 1), -UM_EINVAL);
	/* A SACK block at or below the ACK point, or empty. */
	ack.sack[1] = (struct um_channel_sack){1000, 3000};
	CHECK_EQ(um_channel_ack_encode(buf, sizeof(buf), &ack), -UM_EINVAL);
	ack.sack_count = 1;
	ack.sack[0] = (struct um_channel_sack){2000, 2000};
	CHECK_EQ(um_channel_ack_encode(buf, sizeof(buf), &ack), -UM_EINVAL);
	ack.sack[0] = (struct um_channel_sack){2000, 2500};
	n = um_channel_ack_encode(buf, sizeof(buf), &ack);
	CHECK_EQ(n, UM_CHANNEL_ACK_HEADER + 16);
	buf[UM_CHANNEL_ACK_HEADER + 7] = 0xe8; /* start 1000 = ack */
	buf[UM_CHANNEL_ACK_HEADER + 6] = 0x03;
	CHECK_EQ(um_channel_segment_decode(&seg, buf, (size_t)n), -UM_EINVAL);
	n = um_channel_ack_encode(buf, sizeof(buf), &ack);
	buf[1] |= 0x80; /* unknown flag */
	CHECK_EQ(um_channel_segment_decode(&seg, buf, (size_t)n), -UM_EINVAL);

	n = um_channel_reset_encode(buf, sizeof(buf), 5, 6);
	CHECK_EQ(n, UM_CHANNEL_RESET_BYTES);
	CHECK_EQ(um_channel_segment_decode(&seg, buf, (size_t)n), 0);
	CHECK_EQ(seg.type, UM_TYPE_CHANNEL_RESET);
	CHECK_EQ(um_channel_reset_encode(buf, sizeof(buf), 5, 0), -UM_EINVAL);
	buf[17] = 0; /* receiver epoch 6 -> 0 */
	CHECK_EQ(um_channel_segment_decode(&seg, buf, (size_t)n), -UM_EINVAL);
	buf[0] = 0x43;
	CHECK_EQ(um_channel_segment_decode(&seg, buf, (size_t)n), -UM_EINVAL);
	buf[0] = UM_TYPE_CHANNEL_DATA;
	CHECK_EQ(um_channel_segment_decode(&seg, buf, (size_t)n), -UM_ETRUNC);
}

/* Malformed segments fed to a channel: refused, counted, no effect. */
static void test_malformed_input(void)
{
	struct link_params p = {.delay_ns = 5 * MS};
	struct link *l = link_new(&p, 88);
	uint8_t seg[64] = {UM_TYPE_CHANNEL_DATA};
	struct um_channel_stats s;

	CHECK_EQ(um_channel_input(l->ch[0], seg, 0, l->now), -UM_ETRUNC);
	CHECK_EQ(um_channel_input(l->ch[0], seg, 10, l->now), -UM_ETRUNC);
	CHECK_EQ(um_channel_input(l->ch[0], seg, 40, l->now), -UM_EINVAL); /* sender epoch 0 */
	seg[0] = 0x4f;
	seg[9] = 1;
	CHECK_EQ(um_channel_input(l->ch[0], seg, 40, l->now), -UM_EINVAL); /* unknown type */
	seg[0] = UM_TYPE_CHANNEL_ACK;
	CHECK_EQ(um_channel_input(l->ch[0], seg, 40, l->now), -UM_EINVAL); /* 2 bytes too long */
	CHECK_EQ(um_channel_input(l->ch[0], seg, 30, l->now), -UM_ETRUNC);
	um_channel_stats(l->ch[0], &s);
	CHECK_EQ(s.segments_malformed, 6);
	CHECK_EQ(s.segments_received, 0);
	CHECK_EQ(um_channel_peer_epoch(l->ch[0]), 0);
	CHECK_EQ(um_channel_deadline(l->ch[0]), UINT64_MAX);
	/* An ACK for bytes never sent is ignored, not fatal. */
	struct um_channel_segment a = {.sender_epoch = 9, .ack = 5000, .window = 1};
	int n = um_channel_ack_encode(seg, sizeof(seg), &a);
	CHECK_EQ(um_channel_input(l->ch[0], seg, (size_t)n, l->now), 0);
	um_channel_stats(l->ch[0], &s);
	CHECK_EQ(s.peer_window, 64 << 10);
	link_free(l);
}

static void test_api_edges(void)
{
	struct um_channel *ch = NULL;
	struct um_channel_config bad = {.segment_max = 64};
	uint8_t small[64], out[UM_CHANNEL_SEGMENT_MAX];
	size_t len = 99;

	CHECK_EQ(um_channel_new(NULL, 0, 0, &ch), -UM_EINVAL);
	CHECK(ch == NULL);
	CHECK_EQ(um_channel_new(&bad, 1, 0, &ch), -UM_EINVAL);
	bad = (struct um_channel_config){.receive_buffer = 1000};
	CHECK_EQ(um_channel_new(&bad, 1, 0, &ch), -UM_EINVAL);
	struct um_channel_config cfg = {.send_buffer = 10000};
	CHECK_EQ(um_channel_new(&cfg, 1, 0, &ch), 0);
	CHECK_EQ(um_channel_writable(ch), 10000);
	CHECK_EQ(um_channel_write(ch, out, 0), -UM_EINVAL);
	CHECK_EQ(um_channel_write(ch, out, 10001 > sizeof(out) ? sizeof(out) : 10001), 0);
	CHECK_EQ(um_channel_writable(ch), 10000 - sizeof(out));
	static uint8_t big[10000];
	CHECK_EQ(um_channel_write(ch, big, sizeof(big)), -UM_EAGAIN);
	CHECK_EQ(um_channel_output(ch, 0, small, sizeof(small), &len), -UM_EINVAL);
	CHECK_EQ(len, 0);
	CHECK_EQ(um_channel_deadline(ch), 0);
	CHECK_EQ(um_channel_output(ch, 0, out, sizeof(out), &len), 0);
	CHECK_EQ(len, UM_CHANNEL_SEGMENT_DEFAULT);
	um_channel_free(ch);
	um_channel_free(NULL);
}

/* One segment waits for the delayed ACK (20 ms); a second one is
 * acknowledged at once. */
static void test_delayed_ack(void)
{
	struct link_params p = {.delay_ns = 0};
	struct link *l = link_new(&p, 99);
	uint8_t seg[UM_CHANNEL_SEGMENT_MAX], data[3000] = {0};
	struct um_channel_segment s;
	size_t len;

	CHECK_EQ(um_channel_write(l->ch[0], data, 100), 0);
	CHECK_EQ(um_channel_output(l->ch[0], l->now, seg, sizeof(seg), &len), 0);
	CHECK_EQ(len, UM_CHANNEL_DATA_HEADER + 100);
	CHECK_EQ(um_channel_input(l->ch[1], seg, len, l->now), 0);
	CHECK_EQ(um_channel_deadline(l->ch[1]), l->now + 20 * MS);
	CHECK_EQ(um_channel_output(l->ch[1], l->now + 19 * MS, seg, sizeof(seg), &len), 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(um_channel_output(l->ch[1], l->now + 20 * MS, seg, sizeof(seg), &len), 0);
	CHECK_EQ(um_channel_segment_decode(&s, seg, len), 0);
	CHECK_EQ(s.type, UM_TYPE_CHANNEL_ACK);
	CHECK_EQ(s.ack, 100);
	CHECK(s.echo_valid);
	CHECK_EQ(s.delay_us, 20000);
	CHECK_EQ(um_channel_input(l->ch[0], seg, len, l->now + 20 * MS), 0);
	struct um_channel_stats st;
	um_channel_stats(l->ch[0], &st);
	CHECK_EQ(st.srtt_ns, 0); /* the held time is not RTT: 0 here (same instant) */
	CHECK_EQ(st.in_flight, 0);

	l->now += 20 * MS;
	CHECK_EQ(um_channel_write(l->ch[0], data, sizeof(data)), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(um_channel_output(l->ch[0], l->now, seg, sizeof(seg), &len), 0);
		CHECK_EQ(um_channel_input(l->ch[1], seg, len, l->now), 0);
	}
	CHECK_EQ(um_channel_deadline(l->ch[1]), 0);
	CHECK_EQ(um_channel_output(l->ch[1], l->now, seg, sizeof(seg), &len), 0);
	CHECK_EQ(um_channel_segment_decode(&s, seg, len), 0);
	CHECK_EQ(s.ack, 100 + 2 * (UM_CHANNEL_SEGMENT_DEFAULT - UM_CHANNEL_DATA_HEADER));
	link_free(l);
}

/* The link goes dark for 20 s: timeouts back off (not one per 200 ms),
 * the RTO doubles, and the transfer completes once the link is back. */
static void test_rto_backoff(void)
{
	struct link_params p = {.delay_ns = 20 * MS};
	struct link *l = link_new(&p, 111);
	struct transfer t = {.total = 4 << 20, .tag = 8};
	struct um_channel_stats s;

	um_channel_set_rtt_hint(l->ch[0], 100 * MS);
	um_channel_stats(l->ch[0], &s);
	CHECK_EQ(s.rto_ns, 300 * MS);
	do
		transfer_step(l, &t, 0);
	while (t.received < 1 << 20 && link_pump(l));
	um_channel_stats(l->ch[0], &s);
	uint64_t rto = s.rto_ns, timeouts = s.timeouts;
	CHECK(rto >= 200 * MS && rto < 300 * MS);
	l->hold[0] = l->hold[1] = true;
	uint64_t start = l->now;
	while (l->now - start < 20 * SECOND && link_pump(l))
		transfer_step(l, &t, 0);
	um_channel_stats(l->ch[0], &s);
	/* 0.2 + 0.4 + ... + 12.8 s: 7 expiries in 20 s, give or take one. */
	CHECK(s.timeouts - timeouts >= 6 && s.timeouts - timeouts <= 8);
	CHECK(s.rto_ns >= rto << 6);
	l->hold[0] = l->hold[1] = false;
	start = l->now;
	while (t.received < t.total && l->now - start < 120 * SECOND && link_pump(l))
		transfer_step(l, &t, 0);
	transfer_step(l, &t, 0);
	CHECK(!t.corrupt);
	CHECK_EQ(t.received, t.total);
	um_channel_stats(l->ch[0], &s);
	CHECK(s.rto_ns < rto * 2); /* new samples undo the backoff */
	link_free(l);
}

/* A segment handed back is output again, unchanged, and costs nothing. */
static void test_unsend(void)
{
	struct link_params p = {.delay_ns = 0};
	struct link *l = link_new(&p, 121);
	uint8_t a[UM_CHANNEL_SEGMENT_MAX], b[UM_CHANNEL_SEGMENT_MAX], data[5000] = {1};
	struct um_channel_stats s;
	size_t alen, blen;

	CHECK_EQ(um_channel_unsend(l->ch[0]), -UM_ESTATE);
	CHECK_EQ(um_channel_write(l->ch[0], data, sizeof(data)), 0);
	CHECK_EQ(um_channel_output(l->ch[0], l->now, a, sizeof(a), &alen), 0);
	CHECK_EQ(um_channel_unsend(l->ch[0]), 0);
	CHECK_EQ(um_channel_unsend(l->ch[0]), -UM_ESTATE);
	um_channel_stats(l->ch[0], &s);
	CHECK_EQ(s.segments_sent, 0);
	CHECK_EQ(s.in_flight, 0);
	CHECK_EQ(s.bytes_sent, 0);
	CHECK_EQ(um_channel_deadline(l->ch[0]), 0);
	CHECK_EQ(um_channel_output(l->ch[0], l->now, b, sizeof(b), &blen), 0);
	CHECK_EQ(alen, blen);
	CHECK(memcmp(a, b, alen) == 0);
	/* An ACK handed back comes out again. */
	CHECK_EQ(um_channel_input(l->ch[1], b, blen, l->now), 0);
	CHECK_EQ(um_channel_output(l->ch[0], l->now, b, sizeof(b), &blen), 0);
	CHECK_EQ(um_channel_input(l->ch[1], b, blen, l->now), 0);
	CHECK_EQ(um_channel_output(l->ch[1], l->now, a, sizeof(a), &alen), 0);
	CHECK_EQ(a[0], UM_TYPE_CHANNEL_ACK);
	CHECK_EQ(um_channel_unsend(l->ch[1]), 0);
	CHECK_EQ(um_channel_output(l->ch[1], l->now, b, sizeof(b), &blen), 0);
	CHECK_EQ(blen, alen);
	CHECK(memcmp(a, b, alen) == 0);
	link_free(l);

	/* 10 MB through a "socket" that takes 4 segments per flush: every
	 * segment refused is handed back, none is retransmitted. */
	struct link_params q = {.delay_ns = 20 * MS};
	l = link_new(&q, 122);
	l->flush_budget = 4;
	run_transfer(l, 10 << 20, 600 * SECOND);
	um_channel_stats(l->ch[0], &s);
	CHECK(l->unsent > 1000);
	CHECK_EQ(s.retransmits, 0);
	CHECK_EQ(s.timeouts, 0);
	CHECK_EQ(s.bytes_sent, 10 << 20);
	link_free(l);
}

/* The largest DATA segment side 0 sent at or after resize_us (its own
 * timestamp: retransmissions carry the time they went out again). */
static uint32_t resize_us;
static size_t resize_largest, resize_largest_before;
static void watch_sizes(struct link *l, int to, const uint8_t *seg, size_t len)
{
	struct um_channel_segment d;

	(void)l;
	if (to != 1 || um_channel_segment_decode(&d, seg, len) || d.type != UM_TYPE_CHANNEL_DATA)
		return;
	size_t *largest = d.timestamp_us >= resize_us ? &resize_largest : &resize_largest_before;
	if (len > *largest)
		*largest = len;
}

/* A relayed path becoming direct grows the segments to 1408; back on a
 * relay with segments of 1408 in flight and some of them lost, they are
 * cut: nothing larger than 1152 leaves after the change, retransmissions
 * included, and the stream arrives whole. */
static void test_segment_resize(void)
{
	struct link_params p = {.delay_ns = 20 * MS, .loss = 0.01};
	struct link *l = link_new(&p, 141);
	struct transfer t = {.total = 4 << 20, .tag = 11};
	struct um_channel_stats s;

	CHECK_EQ(um_channel_set_segment_max(l->ch[0], 127), -UM_EINVAL);
	CHECK_EQ(um_channel_set_segment_max(l->ch[0], UM_CHANNEL_SEGMENT_MAX + 1), -UM_EINVAL);
	CHECK_EQ(um_channel_set_segment_max(l->ch[0], UM_CHANNEL_SEGMENT_MAX), 0);
	l->on_deliver = watch_sizes;
	resize_us = UINT32_MAX;
	do
		transfer_step(l, &t, 0);
	while (t.received < 1 << 20 && link_pump(l));
	CHECK_EQ(resize_largest_before, UM_CHANNEL_SEGMENT_MAX);
	um_channel_stats(l->ch[0], &s);
	CHECK(s.in_flight > 8 * (UM_CHANNEL_SEGMENT_MAX - UM_CHANNEL_DATA_HEADER));
	/* The old path loses what side 0 sends for 45 ms (a round trip), then the path
	 * changes: those segments (1408 bytes) go again, cut. */
	uint64_t cut_at = l->now + 45 * MS, dropped = l->dropped[0];
	l->hold[0] = true;
	while (l->now < cut_at && link_pump(l))
		transfer_step(l, &t, 0);
	l->hold[0] = false;
	CHECK(l->dropped[0] > dropped);
	resize_us = (uint32_t)(l->now / 1000); /* the DATA timestamp: microseconds */
	CHECK_EQ(um_channel_set_segment_max(l->ch[0], UM_CHANNEL_SEGMENT_DEFAULT), 0);
	um_channel_stats(l->ch[0], &s);
	uint64_t retransmits = s.retransmits;
	while (t.received < t.total && link_pump(l))
		transfer_step(l, &t, 0);
	transfer_step(l, &t, 0);
	CHECK(!t.corrupt);
	CHECK_EQ(t.received, t.total);
	CHECK(resize_largest > 0);
	CHECK(resize_largest <= UM_CHANNEL_SEGMENT_DEFAULT);
	um_channel_stats(l->ch[0], &s);
	CHECK(s.retransmits > retransmits); /* the loss hit segments cut in flight as well */
	link_free(l);
}

/* A path change mid-transfer (relay to direct: RTT 120 ms -> 10 ms, the
 * first segments on the new path overtaking the last on the old one):
 * nothing lost or reordered for the reader, the RTT follows. */
static void test_path_change(void)
{
	struct link_params p = {.delay_ns = 60 * MS, .loss = 0.01};
	struct link *l = link_new(&p, 131);
	struct transfer t = {.total = 6 << 20, .tag = 9};
	struct um_channel_stats s;
	uint64_t start = l->now;

	do
		transfer_step(l, &t, 0);
	while (t.received < 2 << 20 && link_pump(l));
	l->p.delay_ns = 5 * MS;
	while (t.received < t.total && l->now - start < 600 * SECOND) {
		transfer_step(l, &t, 0);
		if (!link_pump(l))
			break;
	}
	transfer_step(l, &t, 0);
	CHECK(!t.corrupt);
	CHECK_EQ(t.received, t.total);
	um_channel_stats(l->ch[0], &s);
	CHECK(s.srtt_ns < 20 * MS); /* follows the new path */
	fprintf(stderr, "  path change: %llu retransmits, %llu timeouts\n", (unsigned long long)s.retransmits,
		(unsigned long long)s.timeouts);
	/* 1% loss costs a few timeouts over 6 MB (a lost retransmission at
	 * the tail); the path change itself must not add a storm of them. */
	CHECK(s.timeouts <= 10);

	/* Idle again: trimming gives the grown buffers back, and the next
	 * transfer grows them again. */
	while (link_pump(l)) {
	}
	struct um_channel_stats r;
	um_channel_stats(l->ch[0], &s);
	um_channel_stats(l->ch[1], &r);
	fprintf(stderr, "  memory after the transfer: sender %llu, receiver %llu bytes\n",
		(unsigned long long)s.memory_bytes, (unsigned long long)r.memory_bytes);
	CHECK(s.memory_bytes > 4 << 20); /* the application filled the send buffer */
	CHECK(r.memory_bytes > 64 << 10);
	um_channel_trim(l->ch[0]);
	um_channel_trim(l->ch[1]);
	um_channel_stats(l->ch[0], &s);
	um_channel_stats(l->ch[1], &r);
	CHECK(s.memory_bytes < 64 << 10);
	CHECK(r.memory_bytes < 64 << 10);
	run_transfer(l, 1 << 20, 60 * SECOND);
	link_free(l);
}

int main(void)
{
	RUN(test_codec);
	RUN(test_api_edges);
	RUN(test_malformed_input);
	RUN(test_delayed_ack);
	RUN(test_unsend);
	RUN(test_rto_backoff);
	RUN(test_clean_10mb);
	RUN(test_loss_2);
	RUN(test_loss_10);
	RUN(test_bidirectional);
	RUN(test_small_window_lossy);
	RUN(test_path_change);
	RUN(test_segment_resize);
	RUN(test_epoch_restart);
	RUN(test_epoch_no_flap);
	RUN(test_zero_window_update);
	RUN(test_zero_window_update_lost);
	return um_test_end();
}
