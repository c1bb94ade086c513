/* SPDX-License-Identifier: MIT */
/* Path messages (wire/path.h, version 3) on arbitrary input: the header
 * decoder and the opener never crash and agree with each other; anything
 * that opens under the fixed test key re-seals to the very same bytes (the
 * counter is the nonce, so sealing is deterministic); "another version"
 * means exactly a version byte other than 3, and only such input names a
 * legacy sender. Then the path engine (path/punch.h) takes the same input
 * under the seeds' key and index, from a direct address or through the
 * relay, and runs its timers once. Seeds: version 3 messages written by
 * tests/unit/wire/test_path.c (UM_PATH_SEEDS_DIR: key 0x42..., receiver
 * index 0x18181818), and a version-1 and a version-2 probe, which must be
 * refused as another version. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path/punch.h"
#include "util/error.h"
#include "wire/path.h"

#define SEED_INDEX 0x18181818u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[UM_PATH_KEY_BYTES], out[UM_PATH_CANDIDATES_MAX_BYTES];
	struct um_path_header h;
	struct um_path_msg m;
	struct um_peer_id sender;

	memset(key, 0x42, sizeof(key)); /* the seeds' key */
	int header = um_path_header_decode(&h, data, size);
	int opened = um_path_open(&m, data, size, key);
	if (header == -UM_EVERSION && (size < 2 || data[1] == UM_PATH_VERSION))
		abort(); /* "another version" only for another version byte */
	if (header && opened != header)
		abort(); /* the opener checks the header first */
	if (um_path_legacy_sender(data, size, &sender) == 0 && header != -UM_EVERSION)
		abort();
	if (opened == 0) {
		if (m.type != h.type || m.receiver_index != h.receiver_index || m.counter != h.counter)
			abort();
		int n = um_path_seal(out, sizeof(out), &m, key);
		if (n != (int)size || memcmp(out, data, size))
			abort();
	}
	/* The engine, keyed like the seeds, on this input. */
	static struct um_punch p;
	static struct um_punch_output po;
	struct um_punch_config c = {.connect_timeout_ns = 5000000000ULL,
				    .retry_interval_ns = 60000000000ULL,
				    .health_interval_ns = 1000000000ULL};
	um_punch_init(&p, &c);
	memcpy(p.keys[0].recv, key, sizeof(key));
	memset(p.keys[0].send, 0x43, sizeof(p.keys[0].send));
	p.keys[0].local_index = SEED_INDEX;
	p.keys[0].remote_index = 0x17171717u;
	um_replay_init(&p.keys[0].window);
	p.n_keys = 1;
	struct um_punch_env env = {.now = 1000000000000ULL,
				   .wall_ms = 1700000000000ULL,
				   .enabled = true,
				   .relay_ready = true,
				   .via_relay = size & 1};
	struct um_addr from = {.family = 4, .addr = {198, 51, 100, 6}, .port = 51820};
	int r = um_punch_input(&p, data, size, &from, size & 2, &env, &po);
	if (r == 0 && opened != 0)
		abort(); /* the engine accepted what does not open */
	if (r == 0 && po.candidates_wanted)
		um_punch_candidates_send(&p, NULL, 0, &env, &po);
	env.now = um_punch_next_deadline(&p) == UINT64_MAX ? env.now : um_punch_next_deadline(&p);
	um_punch_tick(&p, &env, &po);
	return 0;
}
