/* SPDX-License-Identifier: MIT */
/* DATA receive path on arbitrary bytes: header decode, AEAD open under a
 * fixed key, replay window update. Must never crash. With the first byte
 * 0xff the rest is instead sealed and opened again (must round-trip). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session/aead.h"
#include "session/replay.h"
#include "wire/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct um_aead aead;
static struct um_replay replay;
static bool ready;
static const uint8_t key[32] = {7, 7, 7};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[65536 + 64];
	if (!ready) {
		if (um_aead_init(&aead) < 0)
			abort();
		um_replay_init(&replay);
		ready = true;
	}
	if (size > 65536)
		return 0;
	memcpy(buf, data, size);
	if (size > 0 && data[0] == 0xff && size >= 9) {
		uint64_t counter;
		memcpy(&counter, data + 1, 8);
		size_t len = size - 9;
		uint8_t tag[16], hdr[UM_DATA_HEADER_LEN];
		struct um_data_header h = {.flags = 0, .receiver_index = 1, .counter = counter};
		um_data_header_encode(hdr, &h);
		memcpy(buf, data + 9, len);
		if (um_aead_seal(&aead, 1, key, counter, hdr, sizeof(hdr), buf, len, tag) != 0)
			abort();
		if (um_aead_open(&aead, 1, key, counter, hdr, sizeof(hdr), buf, len, tag) != 0 ||
		    memcmp(buf, data + 9, len) != 0)
			abort();
		return 0;
	}
	struct um_data_header hdr;
	if (um_data_header_decode(buf, size, &hdr) != 0)
		return 0;
	size_t ct = size - UM_DATA_OVERHEAD;
	if (um_replay_check(&replay, hdr.counter) != 0)
		return 0;
	if (um_aead_open(&aead, 1, key, hdr.counter, buf, UM_DATA_HEADER_LEN, buf + UM_DATA_HEADER_LEN, ct,
			 buf + UM_DATA_HEADER_LEN + ct) != 0)
		return 0;
	(void)um_replay_update(&replay, hdr.counter);
	return 0;
}
