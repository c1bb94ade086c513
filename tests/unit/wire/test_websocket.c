/* SPDX-License-Identifier: MIT */
/* WebSocket codec: the RFC 6455 accept vector, request/response round
 * trips and rejections, frames (masked/unmasked, both length forms), the
 * incremental decoder fed byte by byte, and every rejected frame kind. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "util/error.h"
#include "wire/websocket.h"

static const uint8_t test_key[UM_WS_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void test_accept_vector(void)
{
	/* RFC 6455 section 1.3. */
	char accept[UM_WS_ACCEPT_TEXT + 1];
	CHECK_EQ(um_ws_accept_compute("dGhlIHNhbXBsZSBub25jZQ==", 24, accept), 0);
	CHECK(!strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
	CHECK(um_ws_accept_compute("short", 5, accept) < 0);
}

static void test_handshake_round_trip(void)
{
	char req[UM_WS_HTTP_MAX], resp[UM_WS_HTTP_MAX], key_text[UM_WS_KEY_TEXT + 1];
	int n = um_ws_request_build(req, sizeof(req), "203.0.113.3:443", test_key);
	CHECK(n > 0);
	/* Every prefix is incomplete, the whole is complete. */
	for (int i = 0; i < n; i++)
		CHECK_EQ(um_ws_request_parse((uint8_t *)req, (size_t)i, key_text), 0);
	CHECK_EQ(um_ws_request_parse((uint8_t *)req, (size_t)n, key_text), n);
	CHECK(!strcmp(key_text, "AQIDBAUGBwgJCgsMDQ4PEA=="));
	int m = um_ws_response_build(resp, sizeof(resp), key_text);
	CHECK(m > 0);
	for (int i = 0; i < m; i++)
		CHECK_EQ(um_ws_response_parse((uint8_t *)resp, (size_t)i, test_key), 0);
	CHECK_EQ(um_ws_response_parse((uint8_t *)resp, (size_t)m, test_key), m);
	/* Trailing frame bytes after the block are not part of it. */
	memcpy(resp + m, "\x82\x01x", 3);
	CHECK_EQ(um_ws_response_parse((uint8_t *)resp, (size_t)m + 3, test_key), m);
	uint8_t other[UM_WS_KEY_BYTES] = {0};
	CHECK_EQ(um_ws_response_parse((uint8_t *)resp, (size_t)m, other), -UM_EBADMSG);
	CHECK(um_ws_request_build(req, sizeof(req), "evil\r\nX: y", test_key) < 0);
	CHECK(um_ws_request_build(req, 20, "203.0.113.3:443", test_key) < 0);
	n = um_ws_response_reject(resp, sizeof(resp));
	CHECK(n > 0);
	CHECK(um_ws_response_parse((uint8_t *)resp, (size_t)n, test_key) < 0);
}

static int parse_request_text(const char *text)
{
	char key_text[UM_WS_KEY_TEXT + 1];
	return um_ws_request_parse((const uint8_t *)text, strlen(text), key_text);
}

#define KEY "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
#define GOOD_REST                                                                                                      \
	"Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" KEY "Sec-WebSocket-Version: 13\r\n"                \
	"Sec-WebSocket-Protocol: chat, umbra-relay-v1\r\n\r\n"

static void test_request_rejects(void)
{
	CHECK(parse_request_text("GET / HTTP/1.1\r\nHost: x\r\n" GOOD_REST) > 0);
	CHECK(parse_request_text("get / HTTP/1.1\r\n" GOOD_REST) < 0);
	CHECK(parse_request_text("POST / HTTP/1.1\r\n" GOOD_REST) < 0);
	CHECK(parse_request_text("GET / HTTP/1.0\r\n" GOOD_REST) < 0);
	CHECK(parse_request_text("GET /a b HTTP/1.1\r\n" GOOD_REST) < 0);
	CHECK(parse_request_text("GET http://x/ HTTP/1.1\r\n" GOOD_REST) < 0);
	/* Missing pieces. */
	CHECK(parse_request_text("GET / HTTP/1.1\r\nConnection: Upgrade\r\n" KEY
				 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: umbra-relay-v1\r\n\r\n") < 0);
	CHECK(parse_request_text("GET / HTTP/1.1\r\nUpgrade: websocket\r\n" KEY
				 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: umbra-relay-v1\r\n\r\n") < 0);
	CHECK(parse_request_text("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY
				 "Sec-WebSocket-Version: 13\r\n\r\n") < 0);
	CHECK(parse_request_text("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY
				 "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Protocol: umbra-relay-v1\r\n\r\n") < 0);
	CHECK(parse_request_text("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
				 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: umbra-relay-v1\r\n\r\n") < 0);
	/* Two keys; a key that is not 16 bytes of base64. */
	CHECK(parse_request_text("GET / HTTP/1.1\r\n" KEY GOOD_REST) < 0);
	CHECK(parse_request_text("GET / HTTP/1.1\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEBE=\r\n"
				 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
				 "Sec-WebSocket-Protocol: umbra-relay-v1\r\n\r\n") < 0);
	/* Syntax: bare LF, NUL, line folding, no colon, space in the name. */
	CHECK(parse_request_text("GET / HTTP/1.1\nHost: x\r\n" GOOD_REST) < 0);
	CHECK(parse_request_text("GET / HTTP/1.1\r\nHost: x\rX\r\n" GOOD_REST) < 0);
	CHECK(parse_request_text("GET / HTTP/1.1\r\n X: y\r\n" GOOD_REST) < 0);
	CHECK(parse_request_text("GET / HTTP/1.1\r\nNoColon\r\n" GOOD_REST) < 0);
	CHECK(parse_request_text("GET / HTTP/1.1\r\nBad Name: y\r\n" GOOD_REST) < 0);
	const char nul[] = "GET / HTTP/1.1\r\nX: \0\r\n\r\n";
	char key_text[UM_WS_KEY_TEXT + 1];
	CHECK(um_ws_request_parse((const uint8_t *)nul, sizeof(nul) - 1, key_text) < 0);
	/* Limits: too many lines, too many bytes without an end. */
	char *big = malloc(UM_WS_HTTP_MAX * 2);
	CHECK(big != NULL);
	if (!big)
		return;
	strcpy(big, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < UM_WS_HTTP_LINES; i++)
		strcat(big, "X: y\r\n");
	strcat(big, GOOD_REST);
	CHECK_EQ(parse_request_text(big), -UM_ERANGE);
	memset(big, 'a', UM_WS_HTTP_MAX * 2);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	CHECK_EQ(um_ws_request_parse((uint8_t *)big, UM_WS_HTTP_MAX - 1, key_text), 0);
	CHECK_EQ(um_ws_request_parse((uint8_t *)big, UM_WS_HTTP_MAX, key_text), -UM_ERANGE);
	CHECK_EQ(um_ws_request_parse((uint8_t *)big, UM_WS_HTTP_MAX * 2, key_text), -UM_ERANGE);
	free(big);
}

static int parse_response_text(const char *text)
{
	return um_ws_response_parse((const uint8_t *)text, strlen(text), test_key);
}

#define ACCEPT_LINE "Sec-WebSocket-Accept: C/0nmHhBztSRGR1CwL6Tf4ZjwpY=\r\n"

static void test_response_rejects(void)
{
	char accept[UM_WS_ACCEPT_TEXT + 1];
	CHECK_EQ(um_ws_accept_compute("AQIDBAUGBwgJCgsMDQ4PEA==", 24, accept), 0);
	CHECK(!strcmp(accept, "C/0nmHhBztSRGR1CwL6Tf4ZjwpY="));
	CHECK(parse_response_text("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" ACCEPT_LINE
				  "Sec-WebSocket-Protocol: umbra-relay-v1\r\n\r\n") > 0);
	CHECK(parse_response_text("HTTP/1.1 1010 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" ACCEPT_LINE
				  "Sec-WebSocket-Protocol: umbra-relay-v1\r\n\r\n") < 0);
	CHECK(parse_response_text("HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" ACCEPT_LINE
				  "Sec-WebSocket-Protocol: umbra-relay-v1\r\n\r\n") < 0);
	/* Another subprotocol, none, an extension, two accepts. */
	CHECK(parse_response_text("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" ACCEPT_LINE
				  "Sec-WebSocket-Protocol: chat\r\n\r\n") < 0);
	CHECK(parse_response_text("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" ACCEPT_LINE
				  "\r\n") < 0);
	CHECK(parse_response_text("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" ACCEPT_LINE
				  "Sec-WebSocket-Protocol: umbra-relay-v1\r\nSec-WebSocket-Extensions: x\r\n\r\n") < 0);
	CHECK(parse_response_text(
		  "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" ACCEPT_LINE ACCEPT_LINE
		  "Sec-WebSocket-Protocol: umbra-relay-v1\r\n\r\n") < 0);
}

/* Feeds bytes one at a time; returns the decoder's last result. */
static int feed_slowly(struct um_ws_decoder *d, const uint8_t *in, size_t len, struct um_ws_frame *frame,
		       size_t *frames)
{
	*frames = 0;
	for (size_t i = 0; i < len; i++) {
		size_t used = 0;
		int r = um_ws_decode(d, in + i, 1, &used, frame);
		if (r < 0)
			return r;
		if (used != 1)
			return -1000;
		if (r == 1)
			(*frames)++;
	}
	return 0;
}

static void test_frames(void)
{
	uint8_t payload[UM_WS_MAX_PAYLOAD], wire[UM_WS_FRAME_MAX + 16];
	const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
	struct um_ws_decoder d;
	struct um_ws_frame f;
	size_t used, frames;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 1);
	/* RFC 6455 5.7: masked "Hello" is 81 85 37 fa 21 3d 7f 9f 4d 51 58 (as text; ours is binary). */
	int n = um_ws_frame_encode(wire, sizeof(wire), UM_WS_OP_PING, (const uint8_t *)"Hello", 5, mask);
	const uint8_t expect[] = {0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	CHECK_EQ(n, (int)sizeof(expect));
	CHECK_MEM(wire, expect, sizeof(expect));

	size_t sizes[] = {1, 125, 126, 127, 1000, UM_WS_MAX_PAYLOAD};
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (int masked = 0; masked < 2; masked++) {
			n = um_ws_frame_encode(wire, sizeof(wire), UM_WS_OP_BINARY, payload, sizes[s],
					       masked ? mask : NULL);
			CHECK(n > 0);
			CHECK_EQ(n, (int)(sizes[s] + 2 + (sizes[s] >= 126 ? 2 : 0) + (masked ? 4 : 0)));
			um_ws_decoder_init(&d, masked);
			CHECK_EQ(um_ws_decode(&d, wire, (size_t)n, &used, &f), 1);
			CHECK_EQ(used, n);
			CHECK_EQ(f.opcode, UM_WS_OP_BINARY);
			CHECK_EQ(f.len, sizes[s]);
			CHECK_MEM(f.payload, payload, sizes[s]);
			um_ws_decoder_init(&d, masked);
			CHECK_EQ(feed_slowly(&d, wire, (size_t)n, &f, &frames), 0);
			CHECK_EQ(frames, 1);
			CHECK_MEM(f.payload, payload, sizes[s]);
			/* The wrong side rejects it. */
			um_ws_decoder_init(&d, !masked);
			CHECK(um_ws_decode(&d, wire, (size_t)n, &used, &f) < 0);
		}
	}
	/* Several frames in one buffer come out one per call. */
	size_t total = 0;
	for (int i = 0; i < 3; i++) {
		n = um_ws_frame_encode(wire + total, sizeof(wire) - total, i == 1 ? UM_WS_OP_PONG : UM_WS_OP_BINARY,
				       payload, 100, NULL);
		CHECK(n > 0);
		total += (size_t)n;
	}
	um_ws_decoder_init(&d, false);
	size_t off = 0;
	int got = 0;
	while (off < total) {
		int r = um_ws_decode(&d, wire + off, total - off, &used, &f);
		CHECK(r >= 0);
		if (r < 0)
			break;
		off += used;
		if (r == 1) {
			CHECK_EQ(f.opcode, got == 1 ? UM_WS_OP_PONG : UM_WS_OP_BINARY);
			got++;
		}
	}
	CHECK_EQ(got, 3);
	CHECK_EQ(um_ws_decode(&d, wire, 0, &used, &f), 0);

	/* Encoder limits. */
	CHECK(um_ws_frame_encode(wire, sizeof(wire), UM_WS_OP_BINARY, payload, 0, NULL) < 0);
	CHECK(um_ws_frame_encode(wire, sizeof(wire), UM_WS_OP_BINARY, payload, UM_WS_MAX_PAYLOAD + 1, NULL) < 0);
	CHECK(um_ws_frame_encode(wire, sizeof(wire), UM_WS_OP_PING, payload, 126, NULL) < 0);
	CHECK(um_ws_frame_encode(wire, sizeof(wire), UM_WS_OP_CLOSE, payload, 1, NULL) < 0);
	CHECK(um_ws_frame_encode(wire, sizeof(wire), 0x1, payload, 10, NULL) < 0);
	CHECK(um_ws_frame_encode(wire, 10, UM_WS_OP_BINARY, payload, 10, NULL) < 0);
	CHECK(um_ws_frame_encode(wire, sizeof(wire), UM_WS_OP_CLOSE, NULL, 0, mask) == 6);
}

static int decode_bytes(const uint8_t *in, size_t len, bool server)
{
	struct um_ws_decoder d;
	struct um_ws_frame f;
	size_t used;

	um_ws_decoder_init(&d, server);
	return um_ws_decode(&d, in, len, &used, &f);
}

static void test_frame_rejects(void)
{
	uint8_t b[300] = {0};

	CHECK_EQ(decode_bytes((const uint8_t[]){0x82, 0x01, 0x55}, 3, false), 1);
	CHECK(decode_bytes((const uint8_t[]){0x02, 0x01, 0x55}, 3, false) < 0); /* no FIN */
	CHECK(decode_bytes((const uint8_t[]){0x80, 0x01, 0x55}, 3, false) < 0); /* continuation */
	CHECK(decode_bytes((const uint8_t[]){0x81, 0x01, 0x55}, 3, false) < 0); /* text */
	CHECK(decode_bytes((const uint8_t[]){0xc2, 0x01, 0x55}, 3, false) < 0); /* RSV1 */
	CHECK(decode_bytes((const uint8_t[]){0xa2, 0x01, 0x55}, 3, false) < 0); /* RSV2 */
	CHECK(decode_bytes((const uint8_t[]){0x92, 0x01, 0x55}, 3, false) < 0); /* RSV3 */
	CHECK(decode_bytes((const uint8_t[]){0x83, 0x01, 0x55}, 3, false) < 0); /* reserved opcode */
	CHECK(decode_bytes((const uint8_t[]){0x8b, 0x01, 0x55}, 3, false) < 0); /* reserved control */
	CHECK(decode_bytes((const uint8_t[]){0x82, 0x00}, 2, false) < 0);       /* empty datagram */
	CHECK(decode_bytes((const uint8_t[]){0x82, 0x01, 0x55}, 3, true) < 0);  /* unmasked from a client */
	CHECK(decode_bytes((const uint8_t[]){0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2}, 12, false) < 0); /* 64-bit */
	CHECK(decode_bytes((const uint8_t[]){0x82, 0x7e, 0x00, 0x05, 1, 2, 3, 4, 5}, 9, false) < 0); /* non-minimal */
	CHECK(decode_bytes((const uint8_t[]){0x82, 0x7e, 0x05, 0x01}, 4, false) < 0);                /* 1281 > max */
	CHECK(decode_bytes((const uint8_t[]){0x89, 0x7e, 0x00, 0x80}, 4, false) < 0);                /* big ping */
	CHECK(decode_bytes((const uint8_t[]){0x88, 0x01, 0x03}, 3, false) < 0);                      /* 1-byte close */
	b[0] = 0x88;
	b[1] = 0x02;
	b[2] = 0x03;
	b[3] = 0xe8;
	CHECK_EQ(decode_bytes(b, 4, false), 1); /* close 1000 */
	CHECK_EQ(decode_bytes(b, 3, false), 0); /* incomplete */
}

int main(void)
{
	RUN(test_accept_vector);
	RUN(test_handshake_round_trip);
	RUN(test_request_rejects);
	RUN(test_response_rejects);
	RUN(test_frames);
	RUN(test_frame_rejects);
	return um_test_end();
}
