/* SPDX-License-Identifier: MIT */
/* The mailbox wait's parsers (http/mailbox_wait.h): the relay's request
 * body parser (the first byte even) and the node's answer parser (odd). A
 * parsed request formats back to a body that parses to the same request
 * (one encoding per value); wait stays within 1..60. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/mailbox_wait.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct um_mailbox_wait_request r, again;
	const char *error = NULL;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		bool arrived;
		uint64_t now;
		(void)um_mailbox_wait_parse_answer((const char *)data + 1, size - 1, &arrived, &now);
		return 0;
	}
	if (um_mailbox_wait_parse((const char *)data + 1, size - 1, &r, &error)) {
		if (!error)
			__builtin_trap();
		return 0;
	}
	if (error || r.wait_s < 1 || r.wait_s > UM_MAILBOX_WAIT_MAX_S)
		__builtin_trap();
	char *text = um_mailbox_wait_format(&r);
	if (!text)
		return 0;
	if (um_mailbox_wait_parse(text, strlen(text), &again, &error) || memcmp(&r, &again, sizeof(r)))
		__builtin_trap();
	free(text);
	return 0;
}
