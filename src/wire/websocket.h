/* SPDX-License-Identifier: MIT */
/* WebSocket (RFC 6455) for the relay protocol over TLS on TCP: the HTTP/1.1
 * Upgrade exchange and the frame codec. Pure: no I/O, no allocation.
 *
 * Only what the relay needs is accepted, everything else is an error:
 *  - handshake: GET with Upgrade: websocket, Connection containing
 *    "upgrade", Sec-WebSocket-Version 13, a 16-byte Sec-WebSocket-Key and
 *    the subprotocol "umbra-relay-v1"; the header block is at most
 *    UM_WS_HTTP_MAX bytes, UM_WS_HTTP_LINES lines;
 *  - frames: FIN set (no fragmentation), reserved bits zero, minimal length
 *    encoding; binary frames carry exactly one relay datagram (1 ..
 *    UM_WS_MAX_PAYLOAD bytes); ping/pong/close are returned to the caller
 *    (payload <= 125); text and unknown opcodes are rejected. Frames from
 *    the client must be masked and frames from the server must not be. */
#ifndef UM_WIRE_WEBSOCKET_H
#define UM_WIRE_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/relay.h"

#define UM_WS_PROTOCOL "umbra-relay-v1"
#define UM_WS_PATH     "/umbra-relay"

enum {
	UM_WS_KEY_BYTES = 16,
	UM_WS_KEY_TEXT = 24,    /* base64 of the key, without NUL */
	UM_WS_ACCEPT_TEXT = 28, /* base64 of SHA-1, without NUL */
	UM_WS_HTTP_MAX = 4096,  /* request or response header block */
	UM_WS_HTTP_LINES = 32,
	UM_WS_FRAME_HEADER_MAX = 8, /* 2 + 2 (16-bit length) + 4 (mask): enough below 64 KiB */
	UM_WS_CONTROL_MAX = 125,
	UM_WS_MAX_PAYLOAD = UM_RELAY_MAX_DATAGRAM,
	UM_WS_FRAME_MAX = UM_WS_FRAME_HEADER_MAX + UM_WS_MAX_PAYLOAD,
};

enum um_ws_opcode {
	UM_WS_OP_BINARY = 0x2,
	UM_WS_OP_CLOSE = 0x8,
	UM_WS_OP_PING = 0x9,
	UM_WS_OP_PONG = 0xa,
};

/* Sec-WebSocket-Accept for a key's text: base64(SHA-1(key || GUID)).
 * accept gets UM_WS_ACCEPT_TEXT characters and a NUL. */
int um_ws_accept_compute(const char *key_text, size_t key_len, char accept[UM_WS_ACCEPT_TEXT + 1]);

/* Client: the Upgrade request for host (the Host header, e.g. "203.0.113.3:443")
 * with a 16-byte random key. Returns the length or a negative code. */
int um_ws_request_build(char *out, size_t cap, const char *host, const uint8_t key[UM_WS_KEY_BYTES]);

/* Server: parses the request at the start of in. Returns the header
 * block's length (> 0) when complete and valid, 0 when more bytes are
 * needed, or a negative code (malformed, not ours, or over the limits).
 * key_text gets the client's key as sent, NUL-terminated. */
int um_ws_request_parse(const uint8_t *in, size_t len, char key_text[UM_WS_KEY_TEXT + 1]);

/* Server: the 101 response for key_text. Returns the length or < 0. */
int um_ws_response_build(char *out, size_t cap, const char *key_text);

/* Server: a short error response (400) before closing. */
int um_ws_response_reject(char *out, size_t cap);

/* Client: parses the response; as um_ws_request_parse (> 0 complete and
 * valid for key, 0 more needed, < 0 error, including a non-101 status). */
int um_ws_response_parse(const uint8_t *in, size_t len, const uint8_t key[UM_WS_KEY_BYTES]);

/* Encodes one frame (FIN set). mask NULL: unmasked (server); else the
 * 4-byte masking key (client). payload may be NULL when len is 0. Returns
 * the frame's length or a negative code (payload over the limits). */
int um_ws_frame_encode(uint8_t *out, size_t cap, uint8_t opcode, const uint8_t *payload, size_t len,
		       const uint8_t *mask);

/* Incremental decoder over a byte stream: bytes go in as they arrive, one
 * frame comes out at a time. ~1.3 KB, no allocation. */
struct um_ws_decoder {
	bool expect_masked; /* true on the server side */
	size_t have;        /* bytes of the current frame in buf */
	size_t need;        /* bytes the current frame needs so far */
	size_t header_len;  /* 0 until the header is known */
	uint8_t buf[UM_WS_FRAME_MAX];
};

struct um_ws_frame {
	uint8_t opcode;
	uint8_t *payload; /* unmasked, in the decoder's buffer: valid until the next call */
	size_t len;
};

void um_ws_decoder_init(struct um_ws_decoder *decoder, bool expect_masked);

/* Consumes bytes from in (len may be 0). Returns 1 with *frame set when a
 * frame is complete, 0 when all of in was consumed without completing one,
 * or a negative code on a protocol violation (the connection must close).
 * *consumed says how many bytes of in were used either way; call again
 * with the rest after a frame. */
int um_ws_decode(struct um_ws_decoder *decoder, const uint8_t *in, size_t len, size_t *consumed,
		 struct um_ws_frame *frame);

#endif
