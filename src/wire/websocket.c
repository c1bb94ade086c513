/* SPDX-License-Identifier: MIT */
#include "wire/websocket.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "util/bytes.h"
#include "util/error.h"

/* RFC 6455 section 1.3: the fixed GUID appended to the key. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int um_ws_accept_compute(const char *key_text, size_t key_len, char accept[UM_WS_ACCEPT_TEXT + 1])
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned digest_len = 0;
	EVP_MD_CTX *ctx;
	int r = -UM_EINVAL;

	if (key_len != UM_WS_KEY_TEXT)
		return -UM_EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -UM_ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 || EVP_DigestUpdate(ctx, key_text, key_len) != 1 ||
	    EVP_DigestUpdate(ctx, ws_guid, sizeof(ws_guid) - 1) != 1 ||
	    EVP_DigestFinal_ex(ctx, digest, &digest_len) != 1 || digest_len != 20)
		goto out;
	sodium_bin2base64(accept, UM_WS_ACCEPT_TEXT + 1, digest, 20, sodium_base64_VARIANT_ORIGINAL);
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

int um_ws_request_build(char *out, size_t cap, const char *host, const uint8_t key[UM_WS_KEY_BYTES])
{
	char key_text[UM_WS_KEY_TEXT + 1];

	for (const char *c = host; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return -UM_EINVAL; /* no header injection */
	sodium_bin2base64(key_text, sizeof(key_text), key, UM_WS_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL);
	int n = snprintf(out, cap,
			 "GET " UM_WS_PATH " HTTP/1.1\r\n"
			 "Host: %s\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "Sec-WebSocket-Protocol: " UM_WS_PROTOCOL "\r\n"
			 "\r\n",
			 host, key_text);
	if (n < 0 || (size_t)n >= cap || n > UM_WS_HTTP_MAX)
		return -UM_ERANGE;
	return n;
}

int um_ws_response_build(char *out, size_t cap, const char *key_text)
{
	char accept[UM_WS_ACCEPT_TEXT + 1];
	int r = um_ws_accept_compute(key_text, strlen(key_text), accept);

	if (r)
		return r;
	int n = snprintf(out, cap,
			 "HTTP/1.1 101 Switching Protocols\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n"
			 "Sec-WebSocket-Protocol: " UM_WS_PROTOCOL "\r\n"
			 "\r\n",
			 accept);
	if (n < 0 || (size_t)n >= cap)
		return -UM_ERANGE;
	return n;
}

int um_ws_response_reject(char *out, size_t cap)
{
	static const char text[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

	if (cap < sizeof(text) - 1)
		return -UM_ERANGE;
	memcpy(out, text, sizeof(text) - 1);
	return (int)(sizeof(text) - 1);
}

/* ---- header block parsing ---- */

/* Finds the end of the header block: > 0 its length including the empty
 * line, 0 incomplete, < 0 too long or containing bytes HTTP forbids. */
static int header_block(const uint8_t *in, size_t len)
{
	size_t limit = len < UM_WS_HTTP_MAX ? len : UM_WS_HTTP_MAX;

	for (size_t i = 0; i < limit; i++) {
		uint8_t c = in[i];
		if (c == '\r') {
			if (i + 1 < limit && in[i + 1] != '\n')
				return -UM_EINVAL; /* bare CR */
			if (i + 3 < limit && in[i + 1] == '\n' && in[i + 2] == '\r' && in[i + 3] == '\n')
				return (int)(i + 4);
			continue;
		}
		if (c == '\n') {
			if (i == 0 || in[i - 1] != '\r')
				return -UM_EINVAL; /* bare LF */
			continue;
		}
		if ((c < ' ' && c != '\t') || c == 0x7f)
			return -UM_EINVAL;
	}
	return len >= UM_WS_HTTP_MAX ? -UM_ERANGE : 0;
}

struct span {
	const char *p;
	size_t len;
};

static bool span_is(struct span s, const char *text)
{
	return s.len == strlen(text) && !strncasecmp(s.p, text, s.len);
}

static struct span span_trim(struct span s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t'))
		s.p++, s.len--;
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

/* A comma-separated list contains token (case-insensitive). */
static bool list_contains(struct span value, const char *token)
{
	size_t start = 0;

	for (size_t i = 0; i <= value.len; i++) {
		if (i < value.len && value.p[i] != ',')
			continue;
		struct span item = span_trim((struct span){value.p + start, i - start});
		if (span_is(item, token))
			return true;
		start = i + 1;
	}
	return false;
}

static bool is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

struct headers {
	bool upgrade, connection, version, protocol, extensions;
	int key_count, accept_count, protocol_count;
	struct span key, accept, protocol_value;
};

/* Walks the header lines after the start line (block = whole header
 * block, start = offset of the first header line). */
static int parse_headers(const char *block, size_t block_len, size_t start, struct headers *h)
{
	size_t pos = start;
	unsigned lines = 1;

	memset(h, 0, sizeof(*h));
	while (pos + 2 <= block_len) {
		const char *line = block + pos;
		const char *end = memchr(line, '\r', block_len - pos);
		if (!end)
			return -UM_EINVAL;
		size_t line_len = (size_t)(end - line);
		pos += line_len + 2;
		if (line_len == 0)
			return 0; /* the empty line ends the block */
		if (++lines > UM_WS_HTTP_LINES)
			return -UM_ERANGE;
		const char *colon = memchr(line, ':', line_len);
		if (!colon || colon == line)
			return -UM_EINVAL;
		struct span name = {line, (size_t)(colon - line)};
		for (size_t i = 0; i < name.len; i++)
			if (!is_token_char(name.p[i]))
				return -UM_EINVAL; /* also refuses obsolete line folding */
		struct span value = span_trim((struct span){colon + 1, line_len - name.len - 1});
		if (span_is(name, "Upgrade")) {
			h->upgrade = h->upgrade || list_contains(value, "websocket");
		} else if (span_is(name, "Connection")) {
			h->connection = h->connection || list_contains(value, "upgrade");
		} else if (span_is(name, "Sec-WebSocket-Version")) {
			h->version = span_is(value, "13");
			if (!h->version)
				return -UM_EVERSION;
		} else if (span_is(name, "Sec-WebSocket-Key")) {
			h->key = value;
			h->key_count++;
		} else if (span_is(name, "Sec-WebSocket-Accept")) {
			h->accept = value;
			h->accept_count++;
		} else if (span_is(name, "Sec-WebSocket-Protocol")) {
			h->protocol = h->protocol || list_contains(value, UM_WS_PROTOCOL);
			h->protocol_value = value;
			h->protocol_count++;
		} else if (span_is(name, "Sec-WebSocket-Extensions")) {
			h->extensions = true;
		}
	}
	return -UM_EINVAL;
}

int um_ws_request_parse(const uint8_t *in, size_t len, char key_text[UM_WS_KEY_TEXT + 1])
{
	struct headers h;
	uint8_t key[UM_WS_KEY_BYTES];
	size_t key_len = 0;
	int block_len = header_block(in, len);

	if (block_len <= 0)
		return block_len;
	const char *block = (const char *)in;
	const char *eol = memchr(block, '\r', (size_t)block_len);
	size_t line_len = (size_t)(eol - block);
	/* "GET /path HTTP/1.1": origin-form target, no spaces inside. */
	static const char get[] = "GET /", version[] = " HTTP/1.1";
	if (line_len < sizeof(get) - 1 + sizeof(version) - 1 || memcmp(block, get, sizeof(get) - 1) ||
	    memcmp(block + line_len - (sizeof(version) - 1), version, sizeof(version) - 1))
		return -UM_EINVAL;
	if (memchr(block + 4, ' ', line_len - 4 - (sizeof(version) - 1)))
		return -UM_EINVAL;
	int r = parse_headers(block, (size_t)block_len, line_len + 2, &h);
	if (r)
		return r;
	if (!h.upgrade || !h.connection || !h.version || !h.protocol || h.key_count != 1 || h.key.len != UM_WS_KEY_TEXT)
		return -UM_EINVAL;
	if (sodium_base642bin(key, sizeof(key), h.key.p, h.key.len, NULL, &key_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    key_len != UM_WS_KEY_BYTES)
		return -UM_EINVAL;
	memcpy(key_text, h.key.p, UM_WS_KEY_TEXT);
	key_text[UM_WS_KEY_TEXT] = '\0';
	return block_len;
}

int um_ws_response_parse(const uint8_t *in, size_t len, const uint8_t key[UM_WS_KEY_BYTES])
{
	struct headers h;
	char key_text[UM_WS_KEY_TEXT + 1], accept[UM_WS_ACCEPT_TEXT + 1];
	int block_len = header_block(in, len);

	if (block_len <= 0)
		return block_len;
	const char *block = (const char *)in;
	const char *eol = memchr(block, '\r', (size_t)block_len);
	size_t line_len = (size_t)(eol - block);
	static const char status[] = "HTTP/1.1 101";
	if (line_len < sizeof(status) - 1 || memcmp(block, status, sizeof(status) - 1) ||
	    (line_len > sizeof(status) - 1 && block[sizeof(status) - 1] != ' '))
		return -UM_EINVAL;
	int r = parse_headers(block, (size_t)block_len, line_len + 2, &h);
	if (r)
		return r;
	/* The server must pick exactly our subprotocol and no extension. */
	if (!h.upgrade || !h.connection || h.extensions || h.accept_count != 1 || h.protocol_count != 1 ||
	    !span_is(h.protocol_value, UM_WS_PROTOCOL) || h.accept.len != UM_WS_ACCEPT_TEXT)
		return -UM_EINVAL;
	sodium_bin2base64(key_text, sizeof(key_text), key, UM_WS_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL);
	r = um_ws_accept_compute(key_text, UM_WS_KEY_TEXT, accept);
	if (r)
		return r;
	if (memcmp(h.accept.p, accept, UM_WS_ACCEPT_TEXT))
		return -UM_EBADMSG;
	return block_len;
}

/* ---- frames ---- */

static bool is_control(uint8_t opcode)
{
	return opcode & 0x8;
}

static int check_payload(uint8_t opcode, size_t len)
{
	switch (opcode) {
	case UM_WS_OP_BINARY:
		return len >= 1 && len <= UM_WS_MAX_PAYLOAD ? 0 : -UM_ERANGE;
	case UM_WS_OP_CLOSE:
		/* Empty, or a 2-byte status code and an optional reason. */
		return len != 1 && len <= UM_WS_CONTROL_MAX ? 0 : -UM_EINVAL;
	case UM_WS_OP_PING:
	case UM_WS_OP_PONG:
		return len <= UM_WS_CONTROL_MAX ? 0 : -UM_ERANGE;
	default:
		return -UM_EINVAL; /* continuation, text, reserved */
	}
}

int um_ws_frame_encode(uint8_t *out, size_t cap, uint8_t opcode, const uint8_t *payload, size_t len,
		       const uint8_t *mask)
{
	size_t header = 2;
	int r = check_payload(opcode, len);

	if (r)
		return r;
	if (len >= 126)
		header += 2;
	if (mask)
		header += 4;
	if (cap < header + len)
		return -UM_ERANGE;
	out[0] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		out[1] = (uint8_t)len;
	} else {
		out[1] = 126;
		um_store16_be(out + 2, (uint16_t)len);
	}
	if (!mask) {
		if (len)
			memcpy(out + header, payload, len);
		return (int)(header + len);
	}
	out[1] |= 0x80;
	memcpy(out + header - 4, mask, 4);
	for (size_t i = 0; i < len; i++)
		out[header + i] = payload[i] ^ mask[i & 3];
	return (int)(header + len);
}

void um_ws_decoder_init(struct um_ws_decoder *d, bool expect_masked)
{
	d->expect_masked = expect_masked;
	d->have = 0;
	d->need = 2;
	d->header_len = 0;
}

/* The first two bytes: everything but the extended length. Returns the
 * header length or a negative code. */
static int check_start(const struct um_ws_decoder *d)
{
	uint8_t b0 = d->buf[0], b1 = d->buf[1], opcode = b0 & 0x0f, len7 = b1 & 0x7f;
	bool masked = b1 & 0x80;

	if (b0 & 0x70)
		return -UM_EINVAL; /* reserved bits: no extension was negotiated */
	if (!(b0 & 0x80))
		return -UM_EINVAL; /* fragmented messages are not used */
	if (opcode != UM_WS_OP_BINARY && opcode != UM_WS_OP_CLOSE && opcode != UM_WS_OP_PING && opcode != UM_WS_OP_PONG)
		return -UM_EINVAL;
	if (masked != d->expect_masked)
		return -UM_EINVAL;
	if (len7 == 127 || (is_control(opcode) && len7 > UM_WS_CONTROL_MAX))
		return -UM_ERANGE; /* 64-bit lengths are far beyond a datagram */
	return 2 + (len7 == 126 ? 2 : 0) + (masked ? 4 : 0);
}

int um_ws_decode(struct um_ws_decoder *d, const uint8_t *in, size_t len, size_t *consumed, struct um_ws_frame *frame)
{
	size_t used = 0;

	for (;;) {
		if (d->have < d->need) {
			size_t take = d->need - d->have;
			if (take > len - used)
				take = len - used;
			if (take)
				memcpy(d->buf + d->have, in + used, take);
			d->have += take;
			used += take;
			if (d->have < d->need) {
				*consumed = used;
				return 0;
			}
		}
		if (!d->header_len) {
			int header = check_start(d);
			if (header < 0) {
				*consumed = used;
				return header;
			}
			if (d->have < (size_t)header) {
				d->need = (size_t)header;
				continue;
			}
			uint8_t opcode = d->buf[0] & 0x0f, len7 = d->buf[1] & 0x7f;
			size_t payload_len = len7;
			if (len7 == 126) {
				payload_len = um_load16_be(d->buf + 2);
				if (payload_len < 126) {
					*consumed = used;
					return -UM_EINVAL; /* not the minimal encoding */
				}
			}
			int r = check_payload(opcode, payload_len);
			if (r) {
				*consumed = used;
				return r;
			}
			d->header_len = (size_t)header;
			d->need = (size_t)header + payload_len;
			if (d->have < d->need)
				continue;
		}
		/* Complete: unmask in place and hand it out. */
		uint8_t *payload = d->buf + d->header_len;
		size_t payload_len = d->need - d->header_len;
		if (d->expect_masked) {
			const uint8_t *mask = d->buf + d->header_len - 4;
			for (size_t i = 0; i < payload_len; i++)
				payload[i] ^= mask[i & 3];
		}
		frame->opcode = d->buf[0] & 0x0f;
		frame->payload = payload;
		frame->len = payload_len;
		d->have = 0;
		d->need = 2;
		d->header_len = 0;
		*consumed = used;
		return 1;
	}
}
