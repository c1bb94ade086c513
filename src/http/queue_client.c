/* SPDX-License-Identifier: MIT */
/* The queue API client (queue_client.h) on the shared HTTP client
 * (client.h): bodies written by hand (megabytes of base64 need no JSON
 * tree), jansson for the answers. */
#include "http/queue_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "http/client.h"
#include "http/mailbox_wait.h"
#include "util/clock.h"
#include "util/error.h"

#define QUEUE_PATH   "/api/relay/queue"
#define PENDING_PATH "/api/relay/pending"

int um_queue_client_init(struct um_queue_client *c, const char *url)
{
	memset(c, 0, sizeof(*c));
	return um_http_client_init(&c->http, url, UM_QUEUE_CLIENT_TIMEOUT_MS, UM_QUEUE_CLIENT_RESPONSE_MAX);
}

void um_queue_client_close(struct um_queue_client *c)
{
	um_http_client_close(&c->http);
	sodium_memzero(c->admission_key, sizeof(c->admission_key));
}

static int cancelled(void *ctx)
{
	return *(const _Atomic bool *)ctx;
}

/* um_http_client_request, aborted when c->cancel is set. */
static int request(struct um_queue_client *c, const char *method, const char *path, const char *body, size_t len,
		   struct um_http_client_response *b)
{
	c->http.abort_check = c->cancel ? cancelled : NULL;
	c->http.abort_ctx = (void *)c->cancel;
	return um_http_client_request(&c->http, method, path, body, len, b);
}

int um_queue_client_challenge(struct um_queue_client *c, uint8_t out[UM_QUEUE_API_CHALLENGE_BYTES])
{
	struct um_http_client_response b;
	int r = request(c, "POST", "/api/relay/challenge", "", 0, &b);
	json_t *root = r ? NULL : um_http_client_load_object(b.data, b.len);
	const json_t *v = root ? json_object_get(root, "challenge") : NULL;

	if (!r)
		r = um_http_client_json_bytes(v, out, UM_QUEUE_API_CHALLENGE_BYTES);
	json_decref(root);
	free(b.data);
	return r;
}

/* The code of a refusal's word (queue_commit.c's words). */
static int refusal_code(const char *word)
{
	if (!strcmp(word, "queue full for recipient"))
		return -UM_ELIMIT;
	if (!strcmp(word, "envelope too large"))
		return -UM_ERANGE;
	if (!strcmp(word, "relay storage full"))
		return -ENOSPC;
	if (!strcmp(word, "malformed envelope"))
		return -UM_EINVAL;
	return -UM_EAGAIN;
}

static int hex16(const char *text, uint8_t out[16])
{
	size_t bin_len = 0;

	if (!text || strlen(text) != 32 || sodium_hex2bin(out, 16, text, 32, NULL, &bin_len, NULL) || bin_len != 16)
		return -UM_ETRUNC;
	return 0;
}

int um_queue_client_parse_put(const char *body, size_t len, const uint8_t (*ids)[16], size_t n, int *results)
{
	json_t *root = um_http_client_load_object(body, len), *queued, *refused, *v;
	size_t i;
	uint8_t id[16];
	int r = -UM_ETRUNC;

	for (i = 0; i < n; i++)
		results[i] = -UM_EAGAIN; /* not mentioned: not queued */
	queued = root ? json_object_get(root, "queued") : NULL;
	refused = root ? json_object_get(root, "refused") : NULL;
	if (!json_is_array(queued) || !json_is_array(refused))
		goto out;
	json_array_foreach(queued, i, v)
	{
		if (hex16(json_string_value(v), id))
			goto out;
		for (size_t k = 0; k < n; k++)
			if (!memcmp(ids[k], id, 16))
				results[k] = 0;
	}
	json_array_foreach(refused, i, v)
	{
		const char *word = json_string_value(json_object_get(v, "error"));
		if (!word)
			goto out;
		if (hex16(json_string_value(json_object_get(v, "id")), id))
			continue; /* a malformed envelope: no ID */
		for (size_t k = 0; k < n; k++)
			if (!memcmp(ids[k], id, 16) && results[k])
				results[k] = refusal_code(word);
	}
	r = 0;
out:
	json_decref(root);
	return r;
}

/* The challenge a put answer carries for our next request (queue_api.h). */
static void keep_next_challenge(struct um_queue_client *c, const struct um_http_client_response *b)
{
	json_t *root = um_http_client_load_object(b->data, b->len);
	const json_t *v = root ? json_object_get(root, "challenge") : NULL;

	c->has_next_challenge = um_http_client_json_bytes(v, c->next_challenge, sizeof(c->next_challenge)) == 0;
	json_decref(root);
}

/* One put in the binary form ("UMQB", queue_api.h) under challenge. */
static int put_binary(struct um_queue_client *c, const uint8_t challenge[32], const uint8_t *const *envelope,
		      const size_t *len, size_t n, const uint8_t (*ids)[16], int *results)
{
	uint8_t hash[32], message[UM_QUEUE_API_MESSAGE_MAX], *body = NULL;
	size_t size = 8 + 32 + 32 + UM_HSIG_PK_BYTES + UM_HSIG_BYTES, used = 0, mlen;
	struct um_http_client_response b = {0};
	int r;

	for (size_t i = 0; i < n; i++)
		size += 4 + len[i];
	body = malloc(size);
	if (!body)
		return -UM_ENOMEM;
	um_queue_api_body_hash(envelope, len, n, hash);
	mlen = um_queue_api_message(message, challenge, "POST", QUEUE_PATH, hash, 0);
	memcpy(body, UM_QUEUE_API_BINARY_MAGIC, 4);
	body[4] = 1;
	body[5] = (uint8_t)((c->has_admission_key ? 1 : 0) | (c->sender ? 2 : 0));
	body[6] = (uint8_t)(n >> 8);
	body[7] = (uint8_t)n;
	memcpy(body + 8, challenge, 32);
	used = 40;
	if (c->has_admission_key) {
		um_queue_api_mac(body + used, c->admission_key, message, mlen);
		used += 32;
	}
	if (c->sender) {
		memcpy(body + used, c->sender->public_key, UM_HSIG_PK_BYTES);
		used += UM_HSIG_PK_BYTES;
		r = um_hsig_sign(body + used, message, mlen, UM_QUEUE_API_SIGN_CONTEXT, c->sender->secret_key);
		if (r)
			goto out;
		used += UM_HSIG_BYTES;
	}
	for (size_t i = 0; i < n; i++) {
		body[used++] = (uint8_t)(len[i] >> 24);
		body[used++] = (uint8_t)(len[i] >> 16);
		body[used++] = (uint8_t)(len[i] >> 8);
		body[used++] = (uint8_t)len[i];
		memcpy(body + used, envelope[i], len[i]);
		used += len[i];
	}
	r = request(c, "POST", QUEUE_PATH, (const char *)body, used, &b);
	keep_next_challenge(c, &b);
	/* A refusal of every envelope still lists them: read it. */
	if ((r == 0 || r == -UM_ELIMIT || r == -UM_ERANGE || r == -ENOSPC || r == -UM_EAGAIN || r == -UM_EINVAL) &&
	    b.data && um_queue_client_parse_put(b.data, b.len, ids, n, results) == 0 && c->http.last_status != 429)
		r = 0;
out:
	free(b.data);
	free(body);
	return r;
}

int um_queue_client_put(struct um_queue_client *c, const uint8_t *const *envelope, const size_t *len, size_t n,
			int *results)
{
	uint8_t challenge[32], (*ids)[16] = NULL;
	bool reused = c->has_next_challenge;
	int r;

	if (n == 0 || n > UM_QUEUE_API_PUT_MAX)
		return -UM_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!envelope[i] || len[i] == 0 || len[i] > UINT32_MAX)
			return -UM_EINVAL;
	ids = calloc(n, sizeof(*ids));
	if (!ids)
		return -UM_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (len[i] >= UM_ENVELOPE_HEADER_BYTES)
			memcpy(ids[i], envelope[i] + 34, 16);
	/* The previous answer's challenge saves a round trip; it may have
	 * expired (30 s) or been issued to another address: once more with a
	 * fresh one. */
	if (reused) {
		memcpy(challenge, c->next_challenge, 32);
		c->has_next_challenge = false;
		r = put_binary(c, challenge, envelope, len, n, (const uint8_t(*)[16])ids, results);
		if (r != -UM_EBADMSG)
			goto out;
	}
	r = um_queue_client_challenge(c, challenge);
	if (r == 0)
		r = put_binary(c, challenge, envelope, len, n, (const uint8_t(*)[16])ids, results);
out:
	free(ids);
	return r;
}

/* A recipient request's body: its ID, key, a fresh challenge and its
 * signature over method, path and limit. *out malloc'ed (the caller's). */
static int auth_body_ids(struct um_queue_client *c, const struct um_identity *me, const char *method, const char *path,
			 uint32_t limit, const uint8_t (*ids)[16], size_t n_ids, char **out)
{
	uint8_t binding[32];
	uint8_t challenge[32], message[UM_QUEUE_API_MESSAGE_MAX];
	uint8_t *signature = malloc(UM_HSIG_BYTES);
	char id[UM_PEER_ID_TEXT_MAX], *key_b64 = NULL, *sig_b64 = NULL, ch_b64[64];
	size_t key_len = sodium_base64_ENCODED_LEN(UM_HSIG_PK_BYTES, sodium_base64_VARIANT_ORIGINAL);
	size_t sig_len = sodium_base64_ENCODED_LEN(UM_HSIG_BYTES, sodium_base64_VARIANT_ORIGINAL);
	json_t *o = NULL;
	int r;

	*out = NULL;
	key_b64 = malloc(key_len);
	sig_b64 = malloc(sig_len);
	if (!signature || !key_b64 || !sig_b64) {
		r = -UM_ENOMEM;
		goto out;
	}
	r = um_queue_client_challenge(c, challenge);
	if (r)
		goto out;
	/* A batch delete signs its IDs, the others our ID (queue_api.h). */
	if (n_ids)
		um_queue_api_ids_hash(me->id.bytes, ids, n_ids, binding);
	else
		memcpy(binding, me->id.bytes, 32);
	size_t mlen = um_queue_api_message(message, challenge, method, path, binding, limit);
	r = um_hsig_sign(signature, message, mlen, UM_QUEUE_API_SIGN_CONTEXT, me->secret_key);
	if (r)
		goto out;
	um_peer_id_format(&me->id, id, sizeof(id));
	sodium_bin2base64(key_b64, key_len, me->public_key, UM_HSIG_PK_BYTES, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(sig_b64, sig_len, signature, UM_HSIG_BYTES, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(ch_b64, sizeof(ch_b64), challenge, 32, sodium_base64_VARIANT_ORIGINAL);
	o = json_pack("{s:s,s:s,s:s,s:s}", "peer_id", id, "public_key", key_b64, "challenge", ch_b64, "signature",
		      sig_b64);
	if (o && limit)
		json_object_set_new(o, "limit", json_integer(limit));
	if (o && n_ids) {
		json_t *list = json_array();
		for (size_t i = 0; list && i < n_ids; i++) {
			char hex[33];
			sodium_bin2hex(hex, sizeof(hex), ids[i], 16);
			json_array_append_new(list, json_string(hex));
		}
		if (!list || json_object_set_new(o, "ids", list)) {
			json_decref(o);
			o = NULL;
		}
	}
	*out = o ? json_dumps(o, JSON_COMPACT) : NULL;
	r = *out ? 0 : -UM_ENOMEM;
out:
	json_decref(o);
	free(signature);
	free(key_b64);
	free(sig_b64);
	return r;
}

static int auth_body(struct um_queue_client *c, const struct um_identity *me, const char *method, const char *path,
		     uint32_t limit, char **out)
{
	return auth_body_ids(c, me, method, path, limit, NULL, 0, out);
}

int um_queue_client_parse_pending(const char *body, size_t len, um_queue_client_envelope_fn fn, void *ctx)
{
	json_t *root = um_http_client_load_object(body, len), *list, *v;
	size_t i;
	uint8_t *buf = NULL;
	int r = -UM_ETRUNC;

	list = root ? json_object_get(root, "envelopes") : NULL;
	if (!json_is_array(list))
		goto out;
	json_array_foreach(list, i, v)
	{
		const json_t *env = json_object_get(v, "envelope"), *arrival = json_object_get(v, "arrival_ms");
		uint8_t id[16];
		size_t bin_len = 0, n;
		if (hex16(json_string_value(json_object_get(v, "id")), id) || !json_is_string(env) ||
		    !json_is_integer(arrival) || json_integer_value(arrival) < 0)
			goto out;
		n = json_string_length(env);
		free(buf);
		buf = malloc(n / 4 * 3 + 3);
		if (!buf) {
			r = -UM_ENOMEM;
			goto out;
		}
		if (sodium_base642bin(buf, n / 4 * 3 + 3, json_string_value(env), n, NULL, &bin_len, NULL,
				      sodium_base64_VARIANT_ORIGINAL))
			goto out;
		r = fn(ctx, id, (uint64_t)json_integer_value(arrival), buf, bin_len);
		if (r)
			goto out;
		r = -UM_ETRUNC;
	}
	r = 0;
out:
	free(buf);
	json_decref(root);
	return r;
}

int um_queue_client_pending(struct um_queue_client *c, const struct um_identity *me, uint32_t limit,
			    um_queue_client_envelope_fn fn, void *ctx)
{
	struct um_http_client_response b = {0};
	char *body;
	int r = auth_body(c, me, "GET", PENDING_PATH, limit, &body);

	if (r)
		return r;
	r = request(c, "POST", PENDING_PATH, body, strlen(body), &b);
	if (!r)
		r = um_queue_client_parse_pending(b.data, b.len, fn, ctx);
	free(body);
	free(b.data);
	return r;
}

static int delete_request(struct um_queue_client *c, const struct um_identity *me, const char *path,
			  const uint8_t (*ids)[16], size_t n_ids, uint64_t *deleted)
{
	struct um_http_client_response b = {0};
	char *body;
	int r = auth_body_ids(c, me, "DELETE", path, 0, ids, n_ids, &body);

	if (r)
		return r;
	r = request(c, n_ids ? "POST" : "DELETE", path, body, strlen(body), &b);
	if (!r && deleted) {
		json_t *root = um_http_client_load_object(b.data, b.len);
		const json_t *v = root ? json_object_get(root, "deleted") : NULL;
		if (json_is_integer(v) && json_integer_value(v) >= 0)
			*deleted = (uint64_t)json_integer_value(v);
		else
			r = -UM_ETRUNC;
		json_decref(root);
	}
	free(body);
	free(b.data);
	return r;
}

int um_queue_client_delete(struct um_queue_client *c, const struct um_identity *me, const uint8_t id[16])
{
	char path[sizeof(PENDING_PATH) + 40], hex[33];

	sodium_bin2hex(hex, sizeof(hex), id, 16);
	snprintf(path, sizeof(path), PENDING_PATH "/%s", hex);
	return delete_request(c, me, path, NULL, 0, NULL);
}

int um_queue_client_delete_many(struct um_queue_client *c, const struct um_identity *me, const uint8_t (*ids)[16],
				size_t n, uint64_t *deleted)
{
	if (!ids || n < 1 || n > UM_QUEUE_API_DELETE_MAX)
		return -UM_EINVAL;
	return delete_request(c, me, UM_QUEUE_API_DELETE_PATH, ids, n, deleted);
}

int um_queue_client_delete_all(struct um_queue_client *c, const struct um_identity *me, uint64_t *deleted)
{
	return delete_request(c, me, PENDING_PATH, NULL, 0, deleted);
}

int um_queue_client_prekey_put(struct um_queue_client *c, const uint8_t *bundle, const uint8_t *public_key)
{
	struct um_http_client_response b;
	char *body = um_prekey_api_format(bundle, public_key);
	int r;

	if (!body)
		return -UM_ENOMEM;
	r = request(c, "PUT", UM_PREKEY_API_PATH, body, strlen(body), &b);
	free(body);
	free(b.data);
	return r;
}

int um_queue_client_prekey_get(struct um_queue_client *c, const uint8_t owner[32], uint8_t *bundle, uint8_t *public_key)
{
	char path[sizeof(UM_PREKEY_API_PATH) + 70];
	struct um_http_client_response b;
	const char *error = NULL;
	size_t n = sizeof(UM_PREKEY_API_PATH "/") - 1;
	int r;

	memcpy(path, UM_PREKEY_API_PATH "/", n);
	sodium_bin2hex(path + n, sizeof(path) - n, owner, 32);
	r = request(c, "GET", path, NULL, 0, &b);
	if (r == 0 && um_prekey_api_parse(b.data, b.len, bundle, public_key, &error))
		r = -UM_ETRUNC;
	free(b.data);
	return r;
}

int um_queue_client_wait(struct um_queue_client *c, const struct um_identity *me, uint64_t after_ms, uint32_t wait_s,
			 bool *arrived, uint64_t *now_ms)
{
	struct um_mailbox_wait_request req = {.time_ms = um_wall_ms(), .after_ms = after_ms, .wait_s = wait_s};
	uint8_t msg[UM_MAILBOX_WAIT_SIGNED_BYTES];
	struct um_http_client_response b;
	long timeout = c->http.timeout_ms;
	char *body;
	int r;

	memcpy(req.peer_id, me->id.bytes, 32);
	memcpy(req.public_key, me->public_key, UM_HSIG_PK_BYTES);
	um_mailbox_wait_message(msg, &req);
	r = um_hsig_sign(req.signature, msg, sizeof(msg), UM_MAILBOX_WAIT_CONTEXT, me->secret_key);
	if (r)
		return r;
	body = um_mailbox_wait_format(&req);
	if (!body)
		return -UM_ENOMEM;
	c->http.timeout_ms = timeout + (long)wait_s * 1000;
	r = request(c, "POST", UM_MAILBOX_WAIT_PATH, body, strlen(body), &b);
	c->http.timeout_ms = timeout;
	free(body);
	if (r == 0 && um_mailbox_wait_parse_answer(b.data, b.len, arrived, now_ms))
		r = -UM_ETRUNC;
	free(b.data);
	return r;
}
