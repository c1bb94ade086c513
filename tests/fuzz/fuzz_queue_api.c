/* SPDX-License-Identifier: MIT */
/* The relay queue API's body parsers (http/queue_api.h: the server's
 * enqueue and recipient bodies; http/queue_client.h: the client's put and
 * pending answers). The first byte picks the parser, the rest is the body.
 * Checks what a parse promises: at most UM_QUEUE_API_PUT_MAX envelopes, each
 * non-empty and inside the parser's buffer (the binary form: inside the
 * body's copy, envelopes in order without overlap), the key and signature present together, a
 * limit within 1..1000; an answer never reports more envelopes than the
 * body could hold. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/queue_api.h"
#include "http/queue_client.h"
#include "http/queue_internal.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(void *ctx, const uint8_t id[16], uint64_t arrival_ms, const uint8_t *env, size_t len)
{
	(void)id;
	(void)arrival_ms;
	if (len && env[len - 1] == 0xA5 && env[0] == 0x5A)
		(*(size_t *)ctx) += 2; /* touches both ends: ASan checks the bounds */
	else
		(*(size_t *)ctx)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *error;

	if (size < 1)
		return 0;
	uint8_t selector = data[0] % 4;
	const uint8_t *body = data + 1;
	size_t len = size - 1;

	if (selector == 0) {
		struct um_queue_put_request q;
		if (um_queue_api_parse_put(body, len, &q, &error) == 0) {
			if (q.n == 0 || q.n > UM_QUEUE_API_PUT_MAX || error)
				__builtin_trap();
			bool binary = len >= 4 && memcmp(body, UM_QUEUE_API_BINARY_MAGIC, 4) == 0;
			const uint8_t *floor = q.data + UM_QUEUE_API_BINARY_HEADER;
			for (size_t i = 0; i < q.n; i++) {
				if (!q.len[i] || q.envelope[i] < q.data)
					__builtin_trap();
				if (binary && (q.envelope[i] < floor + 4 || q.envelope[i] + q.len[i] > q.data + len))
					__builtin_trap();
				if (binary)
					floor = q.envelope[i] + q.len[i];
				if (binary && memcmp(q.envelope[i], body + (q.envelope[i] - q.data), q.len[i]) != 0)
					__builtin_trap();
			}
			if (q.has_signature != (q.public_key && q.signature))
				__builtin_trap();
			uint8_t hash[32];
			um_queue_api_body_hash(q.envelope, q.len, q.n, hash);
			/* The JSON fast path agrees with jansson's parse. */
			struct um_queue_put_request ref;
			const char *ref_error;
			if (!binary && um_queue_api_parse_put_fast(body, len, &ref) == 0) {
				um_queue_put_request_clear(&ref);
				if (um_queue_api_parse_put_json(body, len, &ref, &ref_error) != 0 || ref.n != q.n ||
				    ref.has_admission != q.has_admission || ref.has_signature != q.has_signature ||
				    memcmp(ref.challenge, q.challenge, 32) != 0 ||
				    (q.has_admission && memcmp(ref.admission, q.admission, 32) != 0) ||
				    (q.has_signature && (memcmp(ref.public_key, q.public_key, UM_HSIG_PK_BYTES) != 0 ||
							 memcmp(ref.signature, q.signature, UM_HSIG_BYTES) != 0)))
					__builtin_trap();
				for (size_t i = 0; i < q.n; i++)
					if (ref.len[i] != q.len[i] ||
					    memcmp(ref.envelope[i], q.envelope[i], q.len[i]) != 0)
						__builtin_trap();
				um_queue_put_request_clear(&ref);
			}
			um_queue_put_request_clear(&q);
		} else if (!error) {
			__builtin_trap();
		}
	} else if (selector == 1) {
		struct um_queue_auth_request *q = malloc(sizeof(*q));
		if (q && um_queue_api_parse_auth(body, len, data[0] & 4, q, &error) == 0 &&
		    q->limit > UM_QUEUE_API_PENDING_MAX)
			__builtin_trap();
		/* The batch delete's body: 1..UM_QUEUE_API_DELETE_MAX IDs, or an error text. */
		static uint8_t del_ids[UM_QUEUE_API_DELETE_MAX][16];
		size_t n_ids = 0;
		if (q) {
			int dr = um_queue_api_parse_delete(body, len, q, del_ids, &n_ids, &error);
			if (dr == 0 && (n_ids < 1 || n_ids > UM_QUEUE_API_DELETE_MAX || error))
				__builtin_trap();
			if (dr != 0 && !error)
				__builtin_trap();
		}
		free(q);
	} else if (selector == 2) {
		uint8_t ids[4][16];
		int results[4];
		memset(ids, 0, sizeof(ids));
		if (len >= 16)
			memcpy(ids[1], body, 16);
		if (um_queue_client_parse_put((const char *)body, len, (const uint8_t(*)[16])ids, 4, results) == 0)
			for (size_t i = 0; i < 4; i++)
				if (results[i] > 0)
					__builtin_trap();
	} else {
		size_t n = 0;
		if (um_queue_client_parse_pending((const char *)body, len, count, &n) == 0 && n > 2 * len)
			__builtin_trap();
	}
	return 0;
}
