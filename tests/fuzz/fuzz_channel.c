/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the message channel's segment codec and its state
 * machine (msg/channel.h).
 * Input: first decoded whole as one segment (an accepted one re-encodes to
 * the same bytes). Then a script of 8-byte records
 * [u8 op][u8 time step][u16 x][u16 y][u16 z] driving one channel with a
 * moving clock: op & 7 = 0 raw segment (the next x % 200 input bytes),
 * 1 DATA, 2 ACK (with SACK blocks), 3 RESET (epochs picked by op's high
 * bits among ours, 0, two peers and a stranger), 4 write, 5 read,
 * 6 a clock jump (then the y % 4-th segment output is handed back with
 * um_channel_unsend), 7 an RTT hint (and um_channel_trim when z is odd).
 * After every record the output is drained.
 * Invariants: every segment output decodes and carries our epoch; data
 * read is the peer's pattern at its stream offset (restarting at 0 after a
 * reset; unless a raw record carried DATA); a drained channel's deadline is in the future (no busy loop);
 * the drain ends; in_flight never exceeds what was written. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg/channel.h"
#include "util/buf.h"
#include "util/error.h"
#include "wire/channel.h"
#include "wire/types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OURS UINT64_C(0x1111111111111111)

static uint8_t peer_byte(uint64_t offset)
{
	return (uint8_t)(offset * 7 + (offset >> 8));
}

static void check_codec(const uint8_t *data, size_t size)
{
	struct um_channel_segment seg;
	uint8_t again[UM_CHANNEL_SEGMENT_MAX];
	int n = -1;

	if (um_channel_segment_decode(&seg, data, size) != 0)
		return;
	if (seg.type == UM_TYPE_CHANNEL_DATA)
		n = um_channel_data_encode(again, sizeof(again), seg.sender_epoch, seg.receiver_epoch, seg.offset,
					   seg.timestamp_us, seg.payload, seg.payload_len);
	else if (seg.type == UM_TYPE_CHANNEL_ACK)
		n = um_channel_ack_encode(again, sizeof(again), &seg);
	else if (seg.type == UM_TYPE_CHANNEL_RESET)
		n = um_channel_reset_encode(again, sizeof(again), seg.sender_epoch, seg.receiver_epoch);
	if (n < 0 || (size_t)n != size || memcmp(again, data, size) != 0)
		abort();
}

static uint64_t pick_epoch(unsigned v)
{
	static const uint64_t epochs[] = {OURS, 0, UINT64_C(0x2222), UINT64_C(0x3333), UINT64_C(0x9999)};
	return epochs[v % 5];
}

static uint64_t read_pos, written;
static bool raw_data; /* a raw segment carried DATA: reads are not checked */

/* Drains the output; with unsend_at > 0 the unsend_at-th segment is
 * handed back (a full socket) and the drain stops there. */
static void drain(struct um_channel *ch, uint64_t now, unsigned unsend_at)
{
	uint8_t out[UM_CHANNEL_SEGMENT_MAX];
	struct um_channel_segment seg;
	struct um_channel_stats st;
	size_t len;
	int i;

	for (i = 0; i < 5000; i++) {
		if (um_channel_output(ch, now, out, sizeof(out), &len) != 0)
			abort();
		if (len == 0)
			break;
		if (um_channel_segment_decode(&seg, out, len) != 0 || seg.sender_epoch != OURS)
			abort();
		if (i + 1 == (int)unsend_at) {
			if (um_channel_unsend(ch) != 0 || um_channel_unsend(ch) != -UM_ESTATE)
				abort();
			return;
		}
		if (seg.type == UM_TYPE_CHANNEL_DATA && seg.offset + seg.payload_len > written + 1)
			abort(); /* only bytes written (a window probe may be 1 past the window, not past the data) */
	}
	if (i == 5000 || um_channel_deadline(ch) <= now)
		abort();
	um_channel_stats(ch, &st);
	if (st.in_flight > written)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct um_channel_config cfg = {.send_buffer = 64 << 10, .receive_buffer = 64 << 10};
	struct um_channel *ch;
	struct um_reader r;
	uint8_t seg[UM_CHANNEL_SEGMENT_MAX], buf[8192];
	uint64_t now = 1000000000;

	check_codec(data, size);
	if (um_channel_new(&cfg, OURS, now, &ch) != 0)
		abort();
	read_pos = written = 0;
	raw_data = false;
	um_reader_init(&r, data, size);
	while (um_reader_left(&r) >= 8) {
		uint8_t op = um_read_u8(&r), dt = um_read_u8(&r);
		uint16_t x = um_read_u16(&r), y = um_read_u16(&r), z = um_read_u16(&r);
		uint64_t from = pick_epoch(op >> 3), to = pick_epoch(op >> 5);
		int n = -1;

		now += (uint64_t)dt * 100000;
		if (from == 0)
			from = UINT64_C(0x2222);
		switch (op & 7) {
		case 0: {
			size_t take = x % 200 < um_reader_left(&r) ? x % 200 : um_reader_left(&r);
			const uint8_t *raw = um_read_bytes(&r, take);
			struct um_channel_segment check;
			if (raw && um_channel_segment_decode(&check, raw, take) == 0 &&
			    check.type == UM_TYPE_CHANNEL_DATA)
				raw_data = true; /* its bytes are not the peer's pattern */
			if (raw)
				um_channel_input(ch, raw, take, now);
			break;
		}
		case 1: {
			uint64_t offset = (uint64_t)x * 61;
			size_t len = 1 + y % (UM_CHANNEL_SEGMENT_MAX - UM_CHANNEL_DATA_HEADER);
			for (size_t i = 0; i < len; i++)
				seg[UM_CHANNEL_DATA_HEADER + i] = peer_byte(offset + i);
			n = um_channel_data_header_encode(seg, sizeof(seg), from, to, offset, z, len);
			break;
		}
		case 2: {
			struct um_channel_segment a = {.sender_epoch = from, .receiver_epoch = to};
			a.ack = (uint64_t)x * 37 % 70000;
			a.window = (uint32_t)y * 16;
			a.echo_valid = z & 4;
			a.echo_us = a.echo_valid ? (uint32_t)(now / 1000) - (z >> 3) * 100 : 0;
			a.sack_count = z & 3;
			for (unsigned i = 0; i < a.sack_count; i++) {
				a.sack[i].start = a.ack + 1 + (uint64_t)((z >> 3) + i * 7) * 1122;
				a.sack[i].end = a.sack[i].start + 1122 * (1 + (x & 3));
			}
			n = um_channel_ack_encode(seg, sizeof(seg), &a);
			break;
		}
		case 3:
			n = um_channel_reset_encode(seg, sizeof(seg), from, to);
			break;
		case 4: {
			size_t len = 1 + x % 5000;
			memset(buf, (int)y, len < sizeof(buf) ? len : sizeof(buf));
			if (len <= sizeof(buf) && um_channel_write(ch, buf, len) == 0)
				written += len;
			break;
		}
		case 5: {
			size_t got = um_channel_read(ch, buf, 1 + y % sizeof(buf));
			for (size_t i = 0; i < got && !raw_data; i++)
				if (buf[i] != peer_byte(read_pos + i))
					abort();
			read_pos += got;
			break;
		}
		case 6:
			now += (uint64_t)x * 1000000;
			break;
		case 7:
			um_channel_set_rtt_hint(ch, (uint64_t)x * y);
			if (z & 1)
				um_channel_trim(ch);
			break;
		}
		if (n > 0)
			um_channel_input(ch, seg, (size_t)n, now);
		if (um_channel_take_reset(ch)) {
			read_pos = 0;
			written = 0;
		}
		drain(ch, now, (op & 7) == 6 ? y % 4 : 0);
	}
	um_channel_free(ch);
	return 0;
}
