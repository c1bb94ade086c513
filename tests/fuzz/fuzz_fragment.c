/* SPDX-License-Identifier: MIT */
/* libFuzzer target: FRAGMENT decoding and reassembly under tight caps.
 * Input: a sequence of records [u8 source][u8 time step][u16 length][bytes].
 * Invariants checked: memory in use never exceeds the global cap, a
 * completed message has exactly its announced length, and a message split
 * by the encoder always reassembles to itself, also with any one piece
 * lost and its parity piece (index == count) in its place. Parity pieces
 * in the records go through the same decoder and reassembler. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "wire/fragment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[UM_FRAG_MAX_MESSAGE];
static uint8_t dgram[UM_HS_MAX_DATAGRAM];

/* Any one data piece lost (chosen by the input), the parity piece after
 * the others: the message still comes out whole. */
static void roundtrip_parity(const uint8_t *msg, size_t len, unsigned count)
{
	struct um_reassembler r;
	struct um_addr src = {.family = 4, .addr = {1, 2, 3, 4}, .port = 5};
	unsigned lost = msg[len - 1] % count;
	int done = 0;
	if (um_reasm_init(&r, NULL) != 0)
		return;
	for (unsigned i = 0; i <= count; i++) {
		struct um_fragment f;
		if (i == lost)
			continue;
		int n = um_fragment_encode(dgram, sizeof(dgram), UM_MSG_RESPONSE, 1, 2, msg, len, i);
		if (n < 0 || um_fragment_decode(&f, dgram, (size_t)n) != 0 || um_fragment_is_parity(&f) != (i == count))
			abort();
		done = um_reasm_add(&r, &src, &f, 0, out, sizeof(out));
		if (done < 0 || (i < count && done != 0))
			abort();
	}
	if ((size_t)done != len || memcmp(out, msg, len) != 0 || r.stats.rebuilt != 1)
		abort();
	um_reasm_destroy(&r);
}

static void roundtrip(const uint8_t *msg, size_t len)
{
	struct um_reassembler r;
	struct um_addr src = {.family = 4, .addr = {1, 2, 3, 4}, .port = 5};
	unsigned count = um_fragment_count(len);
	if (count == 0 || um_reasm_init(&r, NULL) != 0)
		return;
	int done = 0;
	for (unsigned i = count; i-- > 0;) {
		struct um_fragment f;
		int n = um_fragment_encode(dgram, sizeof(dgram), UM_MSG_RESPONSE, 1, 2, msg, len, i);
		if (n < 0 || um_fragment_decode(&f, dgram, (size_t)n) != 0)
			abort();
		done = um_reasm_add(&r, &src, &f, 0, out, sizeof(out));
		if (done < 0 || (i > 0 && done != 0))
			abort();
	}
	if ((size_t)done != len || memcmp(out, msg, len) != 0)
		abort();
	um_reasm_destroy(&r);
	if (count >= 2)
		roundtrip_parity(msg, len, count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct um_reassembler r;
	struct um_reasm_limits lim;
	struct um_reader rd;
	uint64_t now = 0;

	roundtrip(data, size);

	um_reasm_default_limits(&lim);
	lim.per_source_bytes = 20000;
	lim.global_bytes = 40000;
	lim.max_slots = 6;
	lim.per_prefix_slots = 4;
	/* The engine's and the relay's modes, chosen by the first byte. */
	uint8_t mode = size ? data[0] : 0;
	lim.one_slot_per_index = mode & 1;
	lim.first_piece_only = mode & 2;
	lim.evict_when_full = mode & 4;
	if (um_reasm_init(&r, &lim) != 0)
		return 0;
	um_reader_init(&rd, data, size);
	while (um_reader_left(&rd) >= 4) {
		uint8_t source = um_read_u8(&rd);
		uint8_t step = um_read_u8(&rd);
		uint16_t len = um_read_u16(&rd);
		if (len > um_reader_left(&rd))
			len = (uint16_t)um_reader_left(&rd);
		const uint8_t *bytes = um_read_bytes(&rd, len);
		if (!bytes)
			break;
		now += (uint64_t)step * 100000000ULL; /* 0.1 s units */
		struct um_addr src = {.family = 4,
				      .addr = {10, 0, (uint8_t)((source >> 3) & 3), (uint8_t)(source & 7)},
				      .port = (uint16_t)(source >> 5)};
		struct um_fragment f;
		if (um_fragment_decode(&f, bytes, len) != 0) {
			if (len >= 5 && bytes[0] == 0xff) /* the owner's state went away */
				um_reasm_release(&r, bytes[1],
						 (uint32_t)bytes[2] << 24 | (uint32_t)bytes[3] << 16 |
						     (uint32_t)bytes[4] << 8);
			continue;
		}
		int ret = um_reasm_add(&r, &src, &f, now, out, sizeof(out));
		if (ret > 0 && ret != f.total_len)
			abort();
		if (r.bytes_in_use > lim.global_bytes || um_reasm_pending(&r) > lim.max_slots)
			abort();
	}
	um_reasm_destroy(&r);
	return 0;
}
