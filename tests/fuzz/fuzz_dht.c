/* SPDX-License-Identifier: MIT */
/* DHT messages (wire/dht.h) on arbitrary input: the decoder never crashes,
 * and whatever it accepts re-encodes to the very same bytes (one encoding
 * per message; padding as received). Then the engine (dht/dht.h) takes
 * the same input from a fixed address, with a table of one contact and a
 * lookup in flight, and runs its timers; and the saved-table loader
 * (um_dht_contacts_load) parses it. Seeds: one message of each type,
 * written by tests/unit/dht/test_dht_wire.c (UM_DHT_SEEDS_DIR). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "dht/dht.h"
#include "util/error.h"
#include "wire/dht.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int accept_all(void *ctx, const uint8_t key[32], const uint8_t *v, size_t len, uint64_t now_ns,
		      struct um_dht_value_info *info)
{
	(void)ctx, (void)key, (void)now_ns;
	if (len < 40)
		return -UM_EINVAL;
	memcpy(info->owner, v, 32);
	memcpy(&info->sequence, v + 32, 8);
	info->expires_ns = now_ns + 1000000000ULL;
	return 0;
}

static void fixed_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	memset(buf, 0x17, len); /* txids 0x1717...: seeds can answer them */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct um_identity id;
	static bool have_id;
	static struct um_dht_output out;
	struct um_dht_msg m;
	uint8_t again[UM_DHT_WIRE_MAX];

	int ret = um_dht_msg_decode(&m, data, size);
	if (ret == 0) {
		if (size > UM_DHT_WIRE_MAX && m.type != UM_DHT_TYPE_PING && m.type != UM_DHT_TYPE_FIND_NODE &&
		    m.type != UM_DHT_TYPE_FIND_VALUE)
			abort(); /* only padded requests may run past a datagram */
		if (size <= UM_DHT_WIRE_MAX) {
			int n = um_dht_msg_encode(&m, again, sizeof(again), size);
			if (n != (int)size || memcmp(again, data, size))
				abort();
		}
	} else if (ret != -UM_ETRUNC && ret != -UM_EINVAL && ret != -UM_EVERSION) {
		abort();
	}

	if (!have_id) {
		uint8_t seed[UM_HSIG_SEED_BYTES];
		memset(seed, 0x42, sizeof(seed));
		um_identity_from_seed(&id, seed);
		have_id = true;
	}
	struct um_dht *dht;
	struct um_dht_config c = {.identity = &id, .random = fixed_random};
	struct um_dht_value_ops ops = {.check = accept_all};
	uint64_t now = 1000000000000ULL;
	if (um_dht_create(&dht, &c, &ops, now))
		abort();
	struct um_addr from = {.family = UM_ADDR_IPV4, .addr = {198, 51, 100, 6}, .port = 4000};
	um_dht_add_contact_address(dht, &from, now, &out);
	uint8_t key[32];
	memset(key, 0xb2, sizeof(key));
	um_dht_receive(dht, &from, data, size, now, &out);
	um_dht_find_value(dht, key, now, NULL, &out);
	um_dht_receive(dht, &from, data, size, now + 1000, &out);
	uint64_t d = um_dht_next_deadline(dht);
	um_dht_tick(dht, d == UINT64_MAX ? now + 1 : (d > now ? d : now), &out);
	um_dht_contacts_load(dht, data, size, now, &out);
	um_dht_destroy(dht);
	return 0;
}
