/* SPDX-License-Identifier: MIT */
/* Parsing of the messaging ops (ctl/control.h, control_message.h). Each op
 * takes a fixed set of argument keys; a key that repeats appends (text=,
 * body=, path=) or is refused (the others). */
#include "ctl/control_message.h"

#include <string.h>

#include "util/error.h"
#include "util/hex.h"

enum arg_bit {
	ARG_TEXT = 1u << 0,
	ARG_BODY = 1u << 1,
	ARG_AFTER = 1u << 2,
	ARG_LIMIT = 1u << 3,
	ARG_PEER = 1u << 4,
	ARG_PATH = 1u << 5,
	ARG_ID = 1u << 6,
	ARG_REASON = 1u << 7,
	ARG_STATE = 1u << 8,
};

size_t um_control_percent_encode(const void *data, size_t len, char *out, size_t cap)
{
	static const char digits[] = "0123456789ABCDEF";
	const uint8_t *in = data;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		bool escape = c < 0x20 || c == 0x7f || c == '%';
		size_t need = escape ? 3 : 1;
		if (n + need < cap) {
			if (escape) {
				out[n] = '%';
				out[n + 1] = digits[c >> 4];
				out[n + 2] = digits[c & 15];
			} else {
				out[n] = (char)c;
			}
		}
		n += need;
	}
	if (cap)
		out[n < cap ? n : cap - 1] = '\0';
	return n;
}

int um_control_percent_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)in[i];
		if (c == '%') {
			int hi = i + 2 < len ? um_hex_digit((unsigned char)in[i + 1]) : -1;
			int lo = i + 2 < len ? um_hex_digit((unsigned char)in[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return -UM_EINVAL;
			c = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else if (c < 0x20 || c == 0x7f) {
			return -UM_EINVAL; /* must have been encoded */
		}
		if (n == cap)
			return -UM_EINVAL;
		out[n++] = c;
	}
	*out_len = n;
	return 0;
}

static bool line_is(const char *line, size_t len, const char *key, const char **value, size_t *vlen)
{
	size_t klen = strlen(key);

	if (len <= klen || memcmp(line, key, klen) || line[klen] != '=')
		return false;
	*value = line + klen + 1;
	*vlen = len - klen - 1;
	return true;
}

static bool value_is(const char *value, size_t vlen, const char *word)
{
	return vlen == strlen(word) && !memcmp(value, word, vlen);
}

/* A peer's name or ID, or an ID: printable, no spaces, fits. */
static int copy_word(char *out, size_t cap, const char *value, size_t vlen)
{
	if (vlen == 0 || vlen >= cap)
		return -UM_EINVAL;
	for (size_t i = 0; i < vlen; i++)
		if ((unsigned char)value[i] <= ' ' || value[i] == 0x7f)
			return -UM_EINVAL;
	memcpy(out, value, vlen);
	out[vlen] = '\0';
	return 0;
}

static int parse_id(uint8_t id[16], const char *value, size_t vlen)
{
	if (vlen != 32)
		return -UM_EINVAL;
	for (size_t i = 0; i < 16; i++) {
		int hi = um_hex_digit((unsigned char)value[2 * i]), lo = um_hex_digit((unsigned char)value[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -UM_EINVAL;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int parse_u64(uint64_t *out, const char *value, size_t vlen, uint64_t max)
{
	uint64_t v = 0;

	if (vlen == 0 || vlen > 20)
		return -UM_EINVAL;
	for (size_t i = 0; i < vlen; i++) {
		if (value[i] < '0' || value[i] > '9')
			return -UM_EINVAL;
		uint64_t digit = (uint64_t)(value[i] - '0');
		if (v > (max - digit) / 10)
			return -UM_EINVAL;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

static int parse_format(struct um_control_request *req, const char *value, size_t vlen)
{
	if (value_is(value, vlen, "json"))
		req->format = UM_CONTROL_FORMAT_JSON;
	else if (value_is(value, vlen, "text"))
		req->format = UM_CONTROL_FORMAT_TEXT;
	else
		return -UM_EINVAL;
	return 0;
}

int um_control_parse_message_op(struct um_control_request *req, const char *line, size_t len)
{
	const char *value;
	size_t vlen;

	if (line_is(line, len, "send", &value, &vlen)) {
		req->op = UM_CONTROL_SEND;
		return copy_word(req->target, sizeof(req->target), value, vlen);
	}
	if (line_is(line, len, "file-send", &value, &vlen)) {
		req->op = UM_CONTROL_FILE_SEND;
		return copy_word(req->target, sizeof(req->target), value, vlen);
	}
	if (line_is(line, len, "inbox", &value, &vlen)) {
		req->op = UM_CONTROL_INBOX;
		return parse_format(req, value, vlen);
	}
	if (line_is(line, len, "inbox-follow", &value, &vlen)) {
		req->op = UM_CONTROL_INBOX_FOLLOW;
		if (value_is(value, vlen, "1")) {
			req->format = UM_CONTROL_FORMAT_JSON;
			return 0;
		}
		return parse_format(req, value, vlen);
	}
	if (line_is(line, len, "file-list", &value, &vlen)) {
		req->op = UM_CONTROL_FILE_LIST;
		return parse_format(req, value, vlen);
	}
	if (line_is(line, len, "presence", &value, &vlen)) {
		req->op = UM_CONTROL_PRESENCE;
		if (value_is(value, vlen, "set")) {
			req->presence_set = true;
			return 0;
		}
		if (value_is(value, vlen, "get"))
			return 0;
		return parse_format(req, value, vlen) || req->format != UM_CONTROL_FORMAT_JSON ? -UM_EINVAL : 0;
	}
	static const struct {
		const char *key;
		enum um_control_op op;
	} by_id[] = {{"file-accept", UM_CONTROL_FILE_ACCEPT},
		     {"file-reject", UM_CONTROL_FILE_REJECT},
		     {"read", UM_CONTROL_READ}};
	for (size_t i = 0; i < sizeof(by_id) / sizeof(by_id[0]); i++) {
		if (!line_is(line, len, by_id[i].key, &value, &vlen))
			continue;
		req->op = by_id[i].op;
		req->has_id = true;
		return parse_id(req->id, value, vlen);
	}
	return -UM_EINVAL;
}

/* text= / reason= into req->text (presence text <= 256 bytes). */
static int append_text(struct um_control_request *req, const char *value, size_t vlen, size_t max)
{
	size_t have = strlen(req->text), got;

	if (um_control_percent_decode(value, vlen, (uint8_t *)req->text + have, max - have, &got))
		return -UM_EINVAL;
	if (memchr(req->text + have, '\0', got))
		return -UM_EINVAL;
	req->text[have + got] = '\0';
	return 0;
}

int um_control_parse_message_arg(struct um_control_request *req, const char *line, size_t len)
{
	const char *value;
	size_t vlen, got;
	unsigned bit;
	int r = -UM_EINVAL;

	switch (req->op) {
	case UM_CONTROL_SEND:
		if (line_is(line, len, "text", &value, &vlen)) {
			bit = ARG_TEXT;
			r = um_control_percent_decode(value, vlen, req->body + req->body_len,
						      sizeof(req->body) - req->body_len, &got);
		} else if (line_is(line, len, "body", &value, &vlen)) {
			bit = ARG_BODY;
			r = vlen % 2 || vlen / 2 > sizeof(req->body) - req->body_len ? -UM_EINVAL : 0;
			for (size_t i = 0; r == 0 && i < vlen; i += 2) {
				int hi = um_hex_digit((unsigned char)value[i]),
				    lo = um_hex_digit((unsigned char)value[i + 1]);
				if (hi < 0 || lo < 0)
					r = -UM_EINVAL;
				else
					req->body[req->body_len + i / 2] = (uint8_t)(hi << 4 | lo);
			}
			got = vlen / 2;
			req->kind = 1;
		} else {
			return -UM_EINVAL;
		}
		if (r || (req->args_seen & (ARG_TEXT | ARG_BODY) & ~bit))
			return -UM_EINVAL; /* text and binary do not mix */
		req->body_len += got;
		req->args_seen |= bit;
		return 0;
	case UM_CONTROL_FILE_SEND:
		if (!line_is(line, len, "path", &value, &vlen))
			return -UM_EINVAL;
		got = strlen(req->path);
		size_t added;
		if (um_control_percent_decode(value, vlen, (uint8_t *)req->path + got, sizeof(req->path) - 1 - got,
					      &added) ||
		    memchr(req->path + got, '\0', added))
			return -UM_EINVAL;
		req->path[got + added] = '\0';
		req->args_seen |= ARG_PATH;
		return 0;
	case UM_CONTROL_INBOX:
	case UM_CONTROL_INBOX_FOLLOW:
		if (line_is(line, len, "after", &value, &vlen) && !(req->args_seen & ARG_AFTER)) {
			req->args_seen |= ARG_AFTER;
			req->has_after = true;
			return parse_u64(&req->after, value, vlen, INT64_MAX);
		}
		if (req->op == UM_CONTROL_INBOX_FOLLOW)
			return -UM_EINVAL;
		if (line_is(line, len, "limit", &value, &vlen) && !(req->args_seen & ARG_LIMIT)) {
			uint64_t limit = 0;
			req->args_seen |= ARG_LIMIT;
			r = parse_u64(&limit, value, vlen, UINT32_MAX);
			req->limit = (uint32_t)limit;
			return r;
		}
		if (line_is(line, len, "peer", &value, &vlen) && !(req->args_seen & ARG_PEER)) {
			req->args_seen |= ARG_PEER;
			return copy_word(req->peer_filter, sizeof(req->peer_filter), value, vlen);
		}
		return -UM_EINVAL;
	case UM_CONTROL_FILE_LIST:
		if (!line_is(line, len, "id", &value, &vlen) || (req->args_seen & ARG_ID))
			return -UM_EINVAL;
		req->args_seen |= ARG_ID;
		req->has_id = true;
		return parse_id(req->id, value, vlen);
	case UM_CONTROL_FILE_REJECT:
		if (!line_is(line, len, "reason", &value, &vlen))
			return -UM_EINVAL;
		req->args_seen |= ARG_REASON;
		return append_text(req, value, vlen, 256);
	case UM_CONTROL_PRESENCE:
		if (!req->presence_set)
			return -UM_EINVAL;
		if (line_is(line, len, "state", &value, &vlen) && !(req->args_seen & ARG_STATE)) {
			static const char *const states[] = {"offline", "online", "away", "busy"};
			req->args_seen |= ARG_STATE;
			for (uint8_t i = 0; i < 4; i++)
				if (value_is(value, vlen, states[i])) {
					req->state = i;
					return 0;
				}
			return -UM_EINVAL;
		}
		if (line_is(line, len, "text", &value, &vlen)) {
			req->args_seen |= ARG_TEXT;
			return append_text(req, value, vlen, 256);
		}
		return -UM_EINVAL;
	default:
		return -UM_EINVAL;
	}
}

int um_control_message_check(const struct um_control_request *req)
{
	switch (req->op) {
	case UM_CONTROL_SEND:
		return req->body_len ? 0 : -UM_EINVAL;
	case UM_CONTROL_FILE_SEND:
		return req->path[0] == '/' ? 0 : -UM_EINVAL;
	case UM_CONTROL_PRESENCE:
		return !req->presence_set || (req->args_seen & ARG_STATE) ? 0 : -UM_EINVAL;
	default:
		return 0;
	}
}

size_t um_control_request_cap(const char *start, size_t len)
{
	if (len >= 8 && !memcmp(start, "dht-put=", 8))
		return UM_CONTROL_REQUEST_MAX;
	if ((len >= 5 && !memcmp(start, "send=", 5)) || (len >= 10 && !memcmp(start, "file-send=", 10)))
		return UM_CONTROL_REQUEST_SEND_MAX;
	return UM_CONTROL_REQUEST_SMALL;
}
