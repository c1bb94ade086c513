/* SPDX-License-Identifier: MIT */
/* The fast path of the JSON enqueue body (queue_api.h): megabytes of base64
 * envelopes cost a JSON tree (jansson checks every character of every
 * string) and libsodium's constant-time base64 far more than the disk does
 * (measured: ~65% of the listener thread). Envelopes are ciphertext a
 * relay may not read: no secret is decoded here, so a table-driven decoder
 * is fine. This path accepts only the plain shape (no escapes, known
 * members once each, canonical base64); anything else goes to the jansson
 * parser, which gives the authoritative answer and error text. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "http/queue_internal.h"
#include "util/error.h"

static const char *const member_names[] = {"envelopes", "challenge", "admission", "public_key", "signature"};
enum { M_ENVELOPES, M_CHALLENGE, M_ADMISSION, M_PUBLIC_KEY, M_SIGNATURE, M_COUNT };

struct span {
	const char *p;
	size_t n;
};

struct scan {
	const char *p, *end;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool take(struct scan *s, char c)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

/* A string without escapes or control characters (the caller made sure
 * the body has no backslash). */
static bool string(struct scan *s, struct span *out)
{
	const char *q;

	if (!take(s, '"'))
		return false;
	q = memchr(s->p, '"', (size_t)(s->end - s->p));
	if (!q)
		return false;
	out->p = s->p;
	out->n = (size_t)(q - s->p);
	for (size_t i = 0; i < out->n; i++)
		if ((unsigned char)out->p[i] < 0x20)
			return false;
	s->p = q + 1;
	return true;
}

static signed char b64_value[256];

static void b64_init(void)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	memset(b64_value, -1, sizeof(b64_value));
	for (int i = 0; i < 64; i++)
		b64_value[(unsigned char)alphabet[i]] = (signed char)i;
}

/* Standard padded base64 of in (canonical: unused bits zero) into out
 * (room for n / 4 * 3); the decoded length or -1. */
static long b64_decode(const struct span *in, uint8_t *out)
{
	const unsigned char *p = (const unsigned char *)in->p;
	size_t n = in->n, pad = 0, o = 0;

	if (n == 0 || n % 4)
		return -1;
	pad = p[n - 1] == '=' ? (p[n - 2] == '=' ? 2 : 1) : 0;
	for (size_t i = 0; i + 4 <= n; i += 4) {
		bool last = i + 4 == n;
		int a = b64_value[p[i]], b = b64_value[p[i + 1]];
		int c = last && pad == 2 ? 0 : b64_value[p[i + 2]];
		int d = last && pad >= 1 ? 0 : b64_value[p[i + 3]];

		if ((a | b | c | d) < 0)
			return -1;
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		out[o++] = (uint8_t)(v >> 16);
		if (last && pad == 2) {
			if (v & 0xffff)
				return -1;
			break;
		}
		out[o++] = (uint8_t)(v >> 8);
		if (last && pad == 1) {
			if (v & 0xff)
				return -1;
			break;
		}
		out[o++] = (uint8_t)v;
	}
	return (long)o;
}

static bool b64_exact(const struct span *in, uint8_t *out, size_t want)
{
	uint8_t tmp[8192];

	return in->n / 4 * 3 <= sizeof(tmp) && b64_decode(in, tmp) == (long)want && (memcpy(out, tmp, want), true);
}

int um_queue_api_parse_put_fast(const uint8_t *body, size_t len, struct um_queue_put_request *q)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct span member[M_COUNT], env[UM_QUEUE_API_PUT_MAX];
	struct scan s = {(const char *)body, (const char *)body + len};
	bool seen[M_COUNT] = {false};
	size_t n = 0, total = UM_HSIG_PK_BYTES + UM_HSIG_BYTES, used = 0;

	pthread_once(&once, b64_init);
	memset(q, 0, sizeof(*q));
	if (memchr(body, '\\', len) || !take(&s, '{'))
		return -UM_EAGAIN;
	do {
		struct span key;
		int m = -1;

		if (!string(&s, &key) || !take(&s, ':'))
			return -UM_EAGAIN;
		for (int i = 0; i < M_COUNT; i++)
			if (key.n == strlen(member_names[i]) && memcmp(key.p, member_names[i], key.n) == 0)
				m = i;
		if (m < 0 || seen[m])
			return -UM_EAGAIN;
		seen[m] = true;
		if (m != M_ENVELOPES) {
			if (!string(&s, &member[m]))
				return -UM_EAGAIN;
			continue;
		}
		if (!take(&s, '['))
			return -UM_EAGAIN;
		do {
			if (n == UM_QUEUE_API_PUT_MAX || !string(&s, &env[n]) || env[n].n == 0)
				return -UM_EAGAIN;
			total += env[n].n / 4 * 3;
			n++;
		} while (take(&s, ','));
		if (!take(&s, ']'))
			return -UM_EAGAIN;
	} while (take(&s, ','));
	if (!take(&s, '}'))
		return -UM_EAGAIN;
	skip_ws(&s);
	if (s.p != s.end || n == 0 || !seen[M_CHALLENGE] || seen[M_PUBLIC_KEY] != seen[M_SIGNATURE])
		return -UM_EAGAIN;
	q->data = malloc(total);
	if (!q->data)
		return -UM_EAGAIN;
	for (size_t i = 0; i < n; i++) {
		long got = b64_decode(&env[i], q->data + used);

		if (got <= 0)
			goto fallback;
		q->envelope[i] = q->data + used;
		q->len[i] = (size_t)got;
		used += (size_t)got;
	}
	q->n = n;
	if (!b64_exact(&member[M_CHALLENGE], q->challenge, sizeof(q->challenge)))
		goto fallback;
	if (seen[M_ADMISSION] && !b64_exact(&member[M_ADMISSION], q->admission, sizeof(q->admission)))
		goto fallback;
	q->has_admission = seen[M_ADMISSION];
	if (seen[M_SIGNATURE]) {
		q->public_key = q->data + used;
		q->signature = q->public_key + UM_HSIG_PK_BYTES;
		if (!b64_exact(&member[M_PUBLIC_KEY], q->public_key, UM_HSIG_PK_BYTES) ||
		    !b64_exact(&member[M_SIGNATURE], q->signature, UM_HSIG_BYTES))
			goto fallback;
		q->has_signature = true;
	}
	return 0;
fallback:
	um_queue_put_request_clear(q);
	return -UM_EAGAIN;
}
