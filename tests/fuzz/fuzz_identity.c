/* SPDX-License-Identifier: MIT */
/* Identity file and peer-ID text parsers on arbitrary bytes. Both must
 * reject garbage without crashing, and whatever they accept must be the
 * canonical text: formatting the parsed value gives the input back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct um_identity identity;
	struct um_peer_id id;
	char line[UM_IDENTITY_TEXT_MAX], text[UM_PEER_ID_TEXT_MAX + 16], again[UM_PEER_ID_TEXT_MAX];
	size_t len = size;
	int rc;

	rc = um_identity_parse(&identity, (const char *)data, size);
	if (rc == 0) {
		/* Canonical: the input is the formatted line, newline optional. */
		if (um_identity_format(&identity, line, sizeof(line)) != 0)
			abort();
		if (len && data[len - 1] == '\n')
			len--;
		if (len && data[len - 1] == '\r')
			len--;
		if (len != strlen(line) - 1 || memcmp(line, data, len) != 0)
			abort();
	} else if (rc != -UM_EINVAL && rc != -UM_ETRUNC && rc != -UM_ECHECKSUM && rc != -UM_EVERSION) {
		abort();
	}
	um_identity_wipe(&identity);

	/* Peer-ID text: the input as a C string (cut at 80 bytes). */
	len = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, len);
	text[len] = '\0';
	rc = um_peer_id_parse(&id, text);
	if (rc == 0) {
		if (um_peer_id_format(&id, again, sizeof(again)) != 0 || strcmp(again, text) != 0)
			abort();
	} else if (rc != -UM_EINVAL && rc != -UM_ETRUNC && rc != -UM_ECHECKSUM) {
		abort();
	}
	return 0;
}
