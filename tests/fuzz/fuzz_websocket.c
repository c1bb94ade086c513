/* SPDX-License-Identifier: MIT */
/* WebSocket codec on arbitrary bytes: the request and response parsers
 * never crash or read past the input; the frame decoder, fed the input in
 * both roles and in chunks whose sizes come from the first byte, never
 * crashes, only returns frames within the limits, and every frame it
 * returns re-encodes (same opcode and payload) and decodes back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_frame(const struct um_ws_frame *f, bool masked)
{
	static const uint8_t mask[4] = {1, 2, 3, 4};
	uint8_t wire[UM_WS_FRAME_MAX];
	struct um_ws_decoder d;
	struct um_ws_frame g;
	size_t used;

	if (f->opcode == UM_WS_OP_BINARY ? f->len < 1 || f->len > UM_WS_MAX_PAYLOAD : f->len > UM_WS_CONTROL_MAX)
		abort();
	int n = um_ws_frame_encode(wire, sizeof(wire), f->opcode, f->payload, f->len, masked ? mask : NULL);
	if (n < 0)
		abort();
	um_ws_decoder_init(&d, masked);
	if (um_ws_decode(&d, wire, (size_t)n, &used, &g) != 1 || used != (size_t)n || g.opcode != f->opcode ||
	    g.len != f->len || memcmp(g.payload, f->payload, f->len))
		abort();
}

static void decode_all(const uint8_t *data, size_t size, bool masked, size_t chunk)
{
	static struct um_ws_decoder d;
	struct um_ws_frame f;
	size_t off = 0;

	um_ws_decoder_init(&d, masked);
	while (off < size) {
		size_t len = size - off < chunk ? size - off : chunk, used = 0;
		int r = um_ws_decode(&d, data + off, len, &used, &f);
		if (used > len)
			abort();
		if (r < 0)
			return;
		off += used;
		if (r == 1) {
			/* Copy out: the re-encoding check uses a decoder of its own. */
			static uint8_t copy[UM_WS_MAX_PAYLOAD];
			memcpy(copy, f.payload, f.len);
			f.payload = copy;
			check_frame(&f, masked);
		} else if (used != len) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char key_text[UM_WS_KEY_TEXT + 1];
	static const uint8_t key[UM_WS_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

	int r = um_ws_request_parse(data, size, key_text);
	if (r > (int)size || (r > 0 && strlen(key_text) != UM_WS_KEY_TEXT))
		abort();
	r = um_ws_response_parse(data, size, key);
	if (r > (int)size)
		abort();
	if (size == 0)
		return 0;
	size_t chunk = (size_t)(data[0] % 16) + 1;
	decode_all(data + 1, size - 1, true, chunk);
	decode_all(data + 1, size - 1, false, size);
	return 0;
}
