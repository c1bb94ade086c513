/* SPDX-License-Identifier: MIT */
/* DHT values from hostile peers: every record parser and validator on
 * arbitrary bytes. Input: a 32-byte DHT key, then the value. The clock is
 * fixed (unix 1,800,000,000) so seeds built for it stay valid; the member
 * side opens with a fixed network key and looks for a fixed identity
 * (seeds: corpus/dht_record/, made with that key and identity). Nothing may
 * crash, codes stay in the documented set, and an accepted value's info
 * names the owner the key binds. Also parses the input as a network key
 * file line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dht/network_key.h"
#include "dht/record.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NOW = 1800000000 };

static int allowed(int rc)
{
	return rc == 0 || rc == -UM_EINVAL || rc == -UM_ETRUNC || rc == -UM_EVERSION || rc == -UM_EBADMSG ||
	       rc == -UM_EREPLAY || rc == -UM_ERANGE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct um_identity member;
	static struct um_network_key net;
	static int ready;
	struct um_dht_record_clock clock;
	struct um_dht_value_info info;
	struct um_dht_peer_record peer;
	struct um_dht_relay_record relay;
	struct um_network_key parsed;
	uint8_t key[32] = {0};
	const uint8_t *value = data;
	size_t len = size;
	int rc;

	if (!ready) {
		uint8_t seed[UM_HSIG_SEED_BYTES];

		memset(seed, 7, sizeof(seed));
		if (um_identity_from_seed(&member, seed) != 0)
			abort();
		memset(net.bytes, 0x42, sizeof(net.bytes));
		ready = 1;
	}
	if (size >= 32) {
		memcpy(key, data, 32);
		value += 32;
		len -= 32;
	}
	um_dht_record_clock_set(&clock, (uint64_t)NOW * 1000000000ull, 1000000000ull);

	rc = um_dht_record_check(&clock, key, value, len, 1000000000ull, &info);
	if (!allowed(rc))
		abort();
	if (rc == 0 && value[1] == UM_DHT_RECORD_PEER && memcmp(info.owner, key, 32) != 0)
		abort(); /* a peer record is accepted only under its own ID */
	if (rc == 0 && value[1] == UM_DHT_RECORD_PRIVATE && memcmp(info.owner, key, 32) != 0)
		abort();
	if (!allowed(um_dht_peer_record_verify(&peer, NULL, value, len, NOW)))
		abort();
	if (!allowed(um_dht_relay_record_verify(&relay, NULL, value, len, NOW)))
		abort();
	rc = um_dht_private_record_open(&peer, &net, &member.id, key, value, len, NOW);
	if (!allowed(rc) || (rc == 0 && memcmp(peer.id.bytes, member.id.bytes, 32) != 0))
		abort();
	if (!allowed(um_dht_private_relay_open(&relay, &net, key, value, len, NOW)))
		abort();

	rc = um_network_key_parse(&parsed, (const char *)data, size);
	if (rc != 0 && rc != -UM_EINVAL && rc != -UM_ETRUNC && rc != -UM_ECHECKSUM && rc != -UM_EVERSION)
		abort();
	um_network_key_wipe(&parsed);
	return 0;
}
