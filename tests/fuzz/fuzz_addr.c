/* SPDX-License-Identifier: MIT */
/* libFuzzer target for util/addr: the text parsers (endpoint, bare host,
 * prefix with and without host bits) and the 20-byte wire decoder. Whatever
 * is accepted must survive a round trip: text -> value -> text -> value
 * gives an equal value, and an accepted encoding re-encodes to the same
 * bytes (the encoding is canonical). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_endpoint_text(const char *text)
{
	struct um_addr a, b;
	char out[UM_ADDR_TEXT_MAX];

	if (um_addr_parse(&a, text) == 0) {
		if (um_addr_format(&a, out, sizeof(out)) || um_addr_parse(&b, out) || !um_addr_equal(&a, &b))
			__builtin_trap();
		if (a.family == UM_ADDR_IPV6 && a.addr[10] == 0xff && a.addr[11] == 0xff &&
		    !memcmp(a.addr, "\0\0\0\0\0\0\0\0\0\0", 10))
			__builtin_trap(); /* v4-mapped must have been unmapped */
	} else if (a.family || a.port) {
		__builtin_trap(); /* zeroed on error */
	}
	if (um_addr_parse_host(&a, text) == 0) {
		if (um_addr_format_host(&a, out, sizeof(out)) || um_addr_parse_host(&b, out) ||
		    !um_addr_same_host(&a, &b))
			__builtin_trap();
	}
}

static void check_prefix_text(const char *text)
{
	struct um_addr_prefix p, q;
	char out[UM_ADDR_PREFIX_TEXT_MAX];

	for (int host_bits = 0; host_bits < 2; host_bits++) {
		if (um_addr_prefix_parse(&p, text, host_bits) != 0)
			continue;
		if (um_addr_prefix_format(&p, out, sizeof(out)) || um_addr_prefix_parse(&q, out, host_bits) ||
		    !um_addr_prefix_equal(&p, &q) || memcmp(p.addr, q.addr, sizeof(p.addr)))
			__builtin_trap();
		q = p;
		um_addr_prefix_mask(&q);
		if (!um_addr_prefix_equal(&p, &q) || !um_addr_prefix_contains_bytes(&p, q.family, q.addr))
			__builtin_trap();
	}
}

static void check_wire(const uint8_t *data, size_t size)
{
	struct um_reader r;
	struct um_addr a;
	uint8_t again[UM_ADDR_WIRE_BYTES];

	for (int allow_unset = 0; allow_unset < 2; allow_unset++) {
		um_reader_init(&r, data, size);
		while (um_reader_left(&r) > 0) {
			const uint8_t *start = r.data + r.pos;
			if (um_addr_read(&r, &a, allow_unset) != 0)
				break;
			um_addr_encode(&a, again);
			if (memcmp(again, start, sizeof(again)))
				__builtin_trap();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_endpoint_text(text);
	check_prefix_text(text);
	free(text);
	check_wire(data, size);
	return 0;
}
