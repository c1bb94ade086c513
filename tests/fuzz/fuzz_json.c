/* SPDX-License-Identifier: MIT */
/* libFuzzer target for util/json: parse arbitrary bytes under tight limits,
 * then walk the whole tree through the public accessors, so every stored
 * pointer and length is touched under ASan. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fuzz_walk(const struct um_json_value *v, unsigned depth)
{
	size_t sum = 0, len;
	int64_t i;
	double d;
	int b;
	const char *s;

	if (depth > 100)
		__builtin_trap(); /* the parser's depth limit must hold */
	switch (um_json_type(v)) {
	case UM_JSON_ARRAY:
		for (size_t k = 0; k < um_json_length(v); k++)
			sum += fuzz_walk(um_json_index(v, k), depth + 1);
		break;
	case UM_JSON_OBJECT:
		for (size_t k = 0; k < um_json_length(v); k++) {
			s = um_json_member_key(v, k, &len);
			sum += len + (s && len ? (uint8_t)s[len - 1] : 0);
			/* Keys are unique, so lookup by a NUL-free key finds this member. */
			if (s && strlen(s) == len && um_json_get(v, s) != um_json_member_value(v, k))
				__builtin_trap();
			sum += fuzz_walk(um_json_member_value(v, k), depth + 1);
		}
		break;
	case UM_JSON_STRING:
		s = um_json_string(v, &len);
		if (s[len] != '\0')
			__builtin_trap();
		sum += len + (len ? (uint8_t)s[0] : 0);
		break;
	case UM_JSON_NUMBER:
		sum += um_json_int64(v, &i) == 0 ? (size_t)i : 0;
		sum += um_json_double(v, &d) == 0 && d > 0;
		break;
	default:
		sum += um_json_bool(v, &b) == 0 ? (size_t)b : 0;
		break;
	}
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct um_json_doc *doc = NULL;
	struct um_json_error err;
	struct um_json_limits limits = {.max_depth = 64, .max_memory = 64u << 20};
	volatile size_t sink;

	if (um_json_parse(&doc, (const char *)data, size, &limits, &err) == 0)
		sink = fuzz_walk(um_json_root(doc), 0);
	else if (err.offset > size)
		__builtin_trap();
	(void)sink;
	um_json_free(doc);

	/* The hex decoder on the same bytes. */
	uint8_t out[64];
	size_t out_len;
	if (um_json_hex_decode(out, sizeof(out), &out_len, (const char *)data, size) == 0 && out_len != size / 2)
		__builtin_trap();
	return 0;
}
