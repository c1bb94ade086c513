/* SPDX-License-Identifier: MIT */
/* Path messages (wire/path.h) on arbitrary input: the decoder never
 * crashes, anything it accepts re-encodes to the same bytes (MAC under the
 * fixed test key included, so the seeds also pass um_path_verify), the
 * header peek agrees with the decoder, and the MAC check never crashes on
 * any length. Then the path engine (path/punch.h) takes the same input
 * under the seeds' key, from a direct address or through the relay, and
 * runs its timers once. Seeds: version 2 messages (counter under the MAC),
 * written by tests/unit/wire/test_path.c (UM_PATH_SEEDS_DIR), and one
 * version-1 probe (probe-v1), which must be refused as another version. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path/punch.h"
#include "util/error.h"
#include "wire/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[UM_PATH_KEY_BYTES], out[UM_PATH_CANDIDATES_MAX_BYTES];
	struct um_path_msg m;

	memset(key, 0x42, sizeof(key)); /* the seeds' key */
	bool authentic = um_path_verify(data, size, key) == 0;
	struct um_peer_id sender;
	bool peeked = um_path_peek_sender(data, size, &sender) == 0;
	int decoded = um_path_decode(&m, data, size);
	if (decoded == -UM_EVERSION && (size < 3 || data[2] == UM_PATH_VERSION))
		abort(); /* "another version" only for another version byte */
	if (decoded == 0) {
		if (!peeked || memcmp(sender.bytes, m.sender.bytes, sizeof(sender.bytes)))
			abort();
		int n = um_path_encode(out, sizeof(out), &m, key);
		if (n != (int)size || memcmp(out, data, size - UM_PATH_MAC_BYTES))
			abort();
		if (authentic != !memcmp(out, data, size))
			abort();
	}
	/* The engine, keyed like the seeds (sender 0x17...), on this input. */
	static struct um_punch p;
	static struct um_punch_output po;
	struct um_punch_config c = {.connect_timeout_ns = 5000000000ULL,
				    .retry_interval_ns = 60000000000ULL,
				    .health_interval_ns = 1000000000ULL};
	memset(c.self.bytes, 0x18, sizeof(c.self.bytes));
	memset(c.peer.bytes, 0x17, sizeof(c.peer.bytes));
	um_punch_init(&p, &c);
	memcpy(p.keys[0], key, sizeof(key));
	p.n_keys = 1;
	struct um_punch_env env = {.now = 1000000000000ULL,
				   .wall_ms = 1700000000000ULL,
				   .enabled = true,
				   .relay_ready = true,
				   .via_relay = size & 1};
	struct um_addr from = {.family = 4, .addr = {198, 51, 100, 6}, .port = 51820};
	if (um_punch_input(&p, data, size, &from, size & 2, &env, &po) == 0 && po.candidates_wanted)
		um_punch_candidates_send(&p, NULL, 0, &env, &po);
	env.now = um_punch_next_deadline(&p) == UINT64_MAX ? env.now : um_punch_next_deadline(&p);
	um_punch_tick(&p, &env, &po);
	return 0;
}
