/* SPDX-License-Identifier: MIT */
/* Path messages (wire/path.h) on arbitrary input: the decoder never
 * crashes, anything it accepts re-encodes to the same bytes (MAC under the
 * fixed test key included, so the seeds also pass um_path_verify), and the
 * MAC check never crashes on any length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "wire/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[UM_PATH_KEY_BYTES], out[UM_PATH_CANDIDATES_MAX_BYTES];
	struct um_path_msg m;

	memset(key, 0x42, sizeof(key)); /* the seeds' key */
	bool authentic = um_path_verify(data, size, key) == 0;
	if (um_path_decode(&m, data, size) == 0) {
		int n = um_path_encode(out, sizeof(out), &m, key);
		if (n != (int)size || memcmp(out, data, size - UM_PATH_MAC_BYTES))
			abort();
		if (authentic != !memcmp(out, data, size))
			abort();
	}
	return 0;
}
