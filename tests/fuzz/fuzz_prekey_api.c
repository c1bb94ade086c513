/* SPDX-License-Identifier: MIT */
/* The prekey API's body parser (http/prekey_api.h: a PUT body on the relay,
 * a GET answer on the node) and what follows it on the relay: the bundle
 * verification against the key the body carries. A parse either fails with
 * an error text or yields a body that formats back to the same bundle and
 * key (one encoding per value). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/prekey_api.h"
#include "msg/prekey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t bundle[UM_PREKEY_BUNDLE_BYTES], pk[UM_HSIG_PK_BYTES];
	static uint8_t bundle2[UM_PREKEY_BUNDLE_BYTES], pk2[UM_HSIG_PK_BYTES];
	struct um_prekey_public pub;
	const char *error = NULL;

	if (um_prekey_api_parse((const char *)data, size, bundle, pk, &error)) {
		if (!error)
			__builtin_trap();
		return 0;
	}
	if (error)
		__builtin_trap();
	char *text = um_prekey_api_format(bundle, pk);
	if (!text)
		return 0;
	if (um_prekey_api_parse(text, strlen(text), bundle2, pk2, &error) || memcmp(bundle, bundle2, sizeof(bundle)) ||
	    memcmp(pk, pk2, sizeof(pk)))
		__builtin_trap();
	free(text);
	(void)um_prekey_bundle_verify(bundle, sizeof(bundle), pk, 1800000000000ULL, &pub);
	return 0;
}
