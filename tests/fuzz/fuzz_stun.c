/* SPDX-License-Identifier: MIT */
/* STUN parser on arbitrary bytes: never crashes; what it accepts is
 * self-consistent (a mapped address it reports re-encodes and re-parses to
 * the same address), and the transaction matcher agrees with the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path/stun.h"
#include "path/stun_client.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct um_stun_message m, again;
	struct um_addr mapped;
	uint8_t out[UM_STUN_RESPONSE_MAX_BYTES];

	int rc = um_stun_parse(&m, data, size);
	if (rc == 0) {
		if (!um_stun_looks_like(data, size))
			abort();
		if (m.has_integrity)
			(void)um_stun_check_integrity(&m, data, size, (const uint8_t *)"key", 3);
		if (um_stun_mapped_address(&m, &mapped) == 0) {
			int n = um_stun_encode_response(out, sizeof(out), m.txid, &mapped);
			if (n < 0 || um_stun_parse(&again, out, (size_t)n) != 0 ||
			    !um_addr_equal(&again.xor_mapped, &mapped))
				abort();
		}
	}
	/* The transaction matcher: only a parseable response can match. */
	struct um_stun_transaction t;
	struct um_stun_result result;
	uint64_t deadline;
	um_stun_transaction_begin(&t, NULL, 0);
	(void)um_stun_transaction_poll(&t, 0, &deadline);
	if (size >= UM_STUN_HEADER_BYTES) {
		uint8_t *copy = malloc(size);
		if (!copy)
			return 0;
		memcpy(copy, data, size);
		memcpy(copy + 8, t.request + 8, UM_STUN_TXID_BYTES); /* make it ours */
		int r = um_stun_transaction_input(&t, copy, size, 1, &result);
		if (r == 0 && (result.mapped.family != 4 && result.mapped.family != 6))
			abort();
		free(copy);
	}
	return 0;
}
