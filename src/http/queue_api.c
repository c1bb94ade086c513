/* SPDX-License-Identifier: MIT */
/* The queue API's HTTP side (queue_api.h): body parsers, challenges, the
 * admission proof, per-source rate limits, and the handlers, which hand
 * the backend work to the committer (queue_commit.c). Cheap refusals
 * first: rate, body shape, challenge, then MAC or signature. */
#include "http/queue_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "http/queue_internal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define API_PREFIX   "/api/relay/"
#define QUEUE_PATH   API_PREFIX "queue"
#define PENDING_PATH API_PREFIX "pending"

/* ---- parsing ---- */

static bool member_in(const char *key, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(key, names[i]))
			return true;
	return false;
}

void um_queue_put_request_clear(struct um_queue_put_request *q)
{
	free(q->data);
	memset(q, 0, sizeof(*q));
}

/* The binary form (docs/PROTOCOL.md §21): "UMQB" | u8 version 1 | u8 flags
 * (1: admission MAC, 2: public key + signature) | u16 count | challenge[32]
 * | admission[32]? | public_key, signature? | count x (u32 length |
 * envelope); integers big-endian, nothing after the last envelope. */
static int parse_put_binary(const uint8_t *body, size_t len, struct um_queue_put_request *q, const char **error)
{
	size_t count, at = UM_QUEUE_API_BINARY_HEADER;
	uint8_t flags;

	*error = "binary body: bad header";
	if (len < UM_QUEUE_API_BINARY_HEADER || body[4] != 1 || (body[5] & ~3u) != 0)
		return -UM_EINVAL;
	flags = body[5];
	count = (size_t)body[6] << 8 | body[7];
	*error = "binary body: 1 to 256 envelopes";
	if (count == 0 || count > UM_QUEUE_API_PUT_MAX)
		return -UM_EINVAL;
	/* One copy: the job outlives the server's buffer. */
	q->data = malloc(len);
	if (!q->data) {
		*error = "out of memory";
		return -UM_ENOMEM;
	}
	memcpy(q->data, body, len);
	memcpy(q->challenge, body + 8, 32);
	*error = "binary body: truncated";
	if (flags & 1) {
		if (len - at < UM_QUEUE_API_MAC_BYTES)
			return -UM_EINVAL;
		memcpy(q->admission, body + at, UM_QUEUE_API_MAC_BYTES);
		q->has_admission = true;
		at += UM_QUEUE_API_MAC_BYTES;
	}
	if (flags & 2) {
		if (len - at < UM_HSIG_PK_BYTES + UM_HSIG_BYTES)
			return -UM_EINVAL;
		q->public_key = q->data + at;
		q->signature = q->data + at + UM_HSIG_PK_BYTES;
		q->has_signature = true;
		at += UM_HSIG_PK_BYTES + UM_HSIG_BYTES;
	}
	for (size_t i = 0; i < count; i++) {
		size_t n;

		if (len - at < 4)
			return -UM_EINVAL;
		n = (size_t)body[at] << 24 | (size_t)body[at + 1] << 16 | (size_t)body[at + 2] << 8 | body[at + 3];
		at += 4;
		*error = "binary body: an envelope empty or past the end";
		if (n == 0 || n > len - at)
			return -UM_EINVAL;
		q->envelope[i] = q->data + at;
		q->len[i] = n;
		at += n;
	}
	*error = "binary body: bytes after the last envelope";
	if (at != len)
		return -UM_EINVAL;
	q->n = count;
	*error = NULL;
	return 0;
}

int um_queue_api_parse_put_json(const uint8_t *body, size_t len, struct um_queue_put_request *q, const char **error)
{
	static const char *const names[] = {"envelopes", "challenge", "admission", "public_key", "signature"};
	json_t *root;
	const char *key;
	json_t *v, *list;
	size_t i, total = UM_HSIG_PK_BYTES + UM_HSIG_BYTES, used = 0;
	int r = -UM_EINVAL;

	memset(q, 0, sizeof(*q));
	root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL);
	*error = "body: not a JSON object";
	if (!root || !json_is_object(root))
		goto out;
	json_object_foreach(root, key, v)
	{
		if (!member_in(key, names, sizeof(names) / sizeof(names[0]))) {
			*error = "unknown member";
			goto out;
		}
	}
	list = json_object_get(root, "envelopes");
	*error = "envelopes: a list of 1 to 256 base64 envelopes";
	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > UM_QUEUE_API_PUT_MAX)
		goto out;
	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) == 0)
			goto out;
		total += json_string_length(v) / 4 * 3 + 3;
	}
	q->data = malloc(total);
	if (!q->data) {
		*error = "out of memory";
		r = -UM_ENOMEM;
		goto out;
	}
	json_array_foreach(list, i, v)
	{
		size_t bin_len = 0, n = json_string_length(v);
		const char *end = NULL;
		if (sodium_base642bin(q->data + used, total - used, json_string_value(v), n, NULL, &bin_len, &end,
				      sodium_base64_VARIANT_ORIGINAL) ||
		    end != json_string_value(v) + n || bin_len == 0) {
			*error = "envelopes: not base64";
			goto out;
		}
		q->envelope[i] = q->data + used;
		q->len[i] = bin_len;
		used += bin_len;
	}
	q->n = json_array_size(list);
	*error = "challenge: not base64 of 32 bytes";
	if (um_http_json_base64_exact(json_object_get(root, "challenge"), q->challenge, sizeof(q->challenge)))
		goto out;
	v = json_object_get(root, "admission");
	*error = "admission: not base64 of 32 bytes";
	if (v && um_http_json_base64_exact(v, q->admission, sizeof(q->admission)))
		goto out;
	q->has_admission = v != NULL;
	v = json_object_get(root, "signature");
	if (v || json_object_get(root, "public_key")) {
		q->public_key = q->data + used;
		q->signature = q->public_key + UM_HSIG_PK_BYTES;
		*error = "public_key: not a base64 hybrid public key";
		if (um_http_json_base64_exact(json_object_get(root, "public_key"), q->public_key, UM_HSIG_PK_BYTES))
			goto out;
		*error = "signature: not a base64 hybrid signature";
		if (um_http_json_base64_exact(v, q->signature, UM_HSIG_BYTES))
			goto out;
		q->has_signature = true;
	}
	*error = NULL;
	r = 0;
out:
	json_decref(root);
	if (r)
		um_queue_put_request_clear(q);
	return r;
}

int um_queue_api_parse_put(const uint8_t *body, size_t len, struct um_queue_put_request *q, const char **error)
{
	int r;

	if (len >= 4 && memcmp(body, UM_QUEUE_API_BINARY_MAGIC, 4) == 0) {
		memset(q, 0, sizeof(*q));
		r = parse_put_binary(body, len, q, error);
		if (r)
			um_queue_put_request_clear(q);
		return r;
	}
	if (um_queue_api_parse_put_fast(body, len, q) == 0) {
		*error = NULL;
		return 0;
	}
	return um_queue_api_parse_put_json(body, len, q, error);
}

/* The recipient request's members of root (others checked by the caller). */
static int auth_fields(json_t *root, struct um_queue_auth_request *q, const char **error)
{
	json_t *v = json_object_get(root, "peer_id");

	*error = "peer_id: not a peer ID";
	if (!json_is_string(v) || json_string_length(v) >= UM_PEER_ID_TEXT_MAX ||
	    um_peer_id_parse(&q->id, json_string_value(v)))
		return -UM_EINVAL;
	*error = "public_key: not a base64 hybrid public key";
	if (um_http_json_base64_exact(json_object_get(root, "public_key"), q->public_key, sizeof(q->public_key)))
		return -UM_EINVAL;
	*error = "challenge: not base64 of 32 bytes";
	if (um_http_json_base64_exact(json_object_get(root, "challenge"), q->challenge, sizeof(q->challenge)))
		return -UM_EINVAL;
	*error = "signature: not a base64 hybrid signature";
	if (um_http_json_base64_exact(json_object_get(root, "signature"), q->signature, sizeof(q->signature)))
		return -UM_EINVAL;
	*error = NULL;
	return 0;
}

/* root as a JSON object whose members are all in names, else NULL. */
static json_t *auth_object(const uint8_t *body, size_t len, const char *const *names, size_t n, const char **error)
{
	json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *key;
	json_t *v;

	*error = "body: not a JSON object";
	if (!root || !json_is_object(root))
		goto refused;
	json_object_foreach(root, key, v)
	{
		if (!member_in(key, names, n)) {
			*error = "unknown member";
			goto refused;
		}
	}
	return root;
refused:
	json_decref(root);
	return NULL;
}

int um_queue_api_parse_auth(const uint8_t *body, size_t len, bool with_limit, struct um_queue_auth_request *q,
			    const char **error)
{
	static const char *const names[] = {"peer_id", "public_key", "challenge", "signature", "limit"};
	json_t *root, *v;
	int r = -UM_EINVAL;

	memset(q, 0, sizeof(*q));
	root = auth_object(body, len, names, with_limit ? 5 : 4, error);
	if (!root || auth_fields(root, q, error))
		goto out;
	v = json_object_get(root, "limit");
	*error = "limit: a number from 1 to 1000";
	if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > UM_QUEUE_API_PENDING_MAX))
		goto out;
	q->limit = v ? (uint32_t)json_integer_value(v) : 0;
	*error = NULL;
	r = 0;
out:
	json_decref(root);
	return r;
}

static int hex_id(const char *text, uint8_t id[16]);

int um_queue_api_parse_delete(const uint8_t *body, size_t len, struct um_queue_auth_request *q, uint8_t (*ids)[16],
			      size_t *n_ids, const char **error)
{
	static const char *const names[] = {"peer_id", "public_key", "challenge", "signature", "ids"};
	json_t *root, *list, *v;
	size_t i;
	int r = -UM_EINVAL;

	memset(q, 0, sizeof(*q));
	*n_ids = 0;
	root = auth_object(body, len, names, 5, error);
	if (!root || auth_fields(root, q, error))
		goto out;
	list = json_object_get(root, "ids");
	*error = "ids: a list of 1 to 128 envelope IDs (32 hex digits)";
	if (!json_is_array(list) || json_array_size(list) < 1 || json_array_size(list) > UM_QUEUE_API_DELETE_MAX)
		goto out;
	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v) || json_string_length(v) != 32 || hex_id(json_string_value(v), ids[i]))
			goto out;
	}
	*n_ids = json_array_size(list);
	*error = NULL;
	r = 0;
out:
	json_decref(root);
	return r;
}

void um_queue_api_ids_hash(const uint8_t peer[32], const uint8_t (*ids)[16], size_t n, uint8_t out[32])
{
	crypto_generichash_state st;
	uint8_t be[2] = {(uint8_t)(n >> 8), (uint8_t)n};

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, peer, 32);
	crypto_generichash_update(&st, be, sizeof(be));
	for (size_t i = 0; i < n; i++)
		crypto_generichash_update(&st, ids[i], 16);
	crypto_generichash_final(&st, out, 32);
}

void um_queue_api_body_hash(const uint8_t *const *envelope, const size_t *len, size_t n, uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	for (size_t i = 0; i < n; i++) {
		uint8_t be[4] = {(uint8_t)(len[i] >> 24), (uint8_t)(len[i] >> 16), (uint8_t)(len[i] >> 8),
				 (uint8_t)len[i]};
		crypto_generichash_update(&st, be, sizeof(be));
		crypto_generichash_update(&st, envelope[i], len[i]);
	}
	crypto_generichash_final(&st, out, 32);
}

size_t um_queue_api_message(uint8_t *out, const uint8_t challenge[32], const char *method, const char *path,
			    const uint8_t binding[32], uint32_t limit)
{
	size_t m = strlen(method), p = strlen(path), n = 0;

	m = m > 16 ? 16 : m;
	p = p > 64 ? 64 : p; /* every path the API signs is shorter */
	memcpy(out, challenge, 32);
	n = 32;
	out[n++] = (uint8_t)m;
	memcpy(out + n, method, m);
	n += m;
	out[n++] = (uint8_t)p;
	memcpy(out + n, path, p);
	n += p;
	memcpy(out + n, binding, 32);
	n += 32;
	for (int i = 3; i >= 0; i--)
		out[n++] = (uint8_t)(limit >> (8 * i));
	return n;
}

void um_queue_api_mac(uint8_t out[32], const uint8_t key[32], const uint8_t *message, size_t len)
{
	crypto_generichash(out, 32, message, len, key, 32);
}

/* ---- challenges and rate limits (HTTP thread only) ---- */

static uint64_t wall_ms(const struct um_queue_api *api)
{
	return api->config.wall_ms ? api->config.wall_ms() : um_wall_ms();
}

/* A challenge's last 4 bytes name its slot: found without a search. */
static void challenge_issue(struct um_queue_api *api, const struct um_addr *source, uint8_t out[32])
{
	uint32_t slot = api->next_challenge++ % QUEUE_CHALLENGES;
	struct queue_challenge *c = &api->challenges[slot];

	randombytes_buf(c->bytes, 28);
	memcpy(c->bytes + 28, &slot, 4);
	c->source = *source;
	c->expires_ms = wall_ms(api) + api->config.challenge_ttl_ms;
	c->live = true;
	memcpy(out, c->bytes, 32);
}

/* Single use: consumed whether or not what it authorizes passes. */
static bool challenge_consume(struct um_queue_api *api, const struct um_addr *source, const uint8_t bytes[32])
{
	uint32_t slot;
	struct queue_challenge *c;

	memcpy(&slot, bytes + 28, 4);
	if (slot >= QUEUE_CHALLENGES)
		return false;
	c = &api->challenges[slot];
	if (!c->live || sodium_memcmp(c->bytes, bytes, 32) != 0)
		return false;
	c->live = false;
	return c->expires_ms > wall_ms(api) && um_addr_same_host(&c->source, source);
}

/* Token bucket of the source's hashed slot (sources colliding share one). */
static bool rate_admit(struct um_queue_api *api, const struct um_addr *source)
{
	uint8_t h[8];
	uint64_t now = wall_ms(api), slot, cap = (uint64_t)api->config.request_burst * 1000;

	crypto_shorthash(h, source->addr, sizeof(source->addr), api->rate_key);
	memcpy(&slot, h, 8);
	struct queue_rate *r = &api->rates[slot % QUEUE_RATE_SLOTS];
	uint64_t refill = (now - r->last_ms) * api->config.requests_per_s;
	r->milli_tokens = r->last_ms == 0 || refill > cap - r->milli_tokens ? cap : r->milli_tokens + refill;
	r->last_ms = now;
	if (r->milli_tokens < 1000)
		return false;
	r->milli_tokens -= 1000;
	return true;
}

static void count(struct um_queue_api *api, uint64_t *counter)
{
	pthread_mutex_lock(&api->lock);
	(*counter)++;
	pthread_mutex_unlock(&api->lock);
}

/* ---- handlers ---- */

static bool admitted(struct um_queue_api *api, const struct um_http_request *req, struct um_http_response *resp)
{
	if (!req->source.family) {
		um_http_response_error(resp, 400, "no source address");
		return false;
	}
	if (!rate_admit(api, &req->source)) {
		count(api, &api->stats.rate_limited);
		um_http_response_error(resp, 429, "too many requests");
		return false;
	}
	return true;
}

static void on_challenge(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	struct um_queue_api *api = ctx;
	uint8_t challenge[32];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];

	if (!admitted(api, req, resp))
		return;
	challenge_issue(api, &req->source, challenge);
	sodium_bin2base64(b64, sizeof(b64), challenge, sizeof(challenge), sodium_base64_VARIANT_ORIGINAL);
	um_http_response_json(
	    resp, 200,
	    json_pack("{s:s,s:I}", "challenge", b64, "expires_in", (json_int_t)(api->config.challenge_ttl_ms / 1000)));
}

/* Hands job to the committer and defers the response; on failure answers
 * 503 itself. Takes job. */
static void submit(struct um_queue_api *api, struct queue_job *job, struct um_http_response *resp)
{
	job->deferred = um_http_response_defer(resp);
	if (!job->deferred || !um_queue_commit_submit(api, job)) {
		/* Deferred but refused: answered here, the server sends it at once. */
		struct um_http_response r = {0};
		um_http_response_error(&r, 503, "queue stopping");
		if (job->deferred)
			um_http_deferred_finish(job->deferred, &r);
		else
			*resp = r;
		um_queue_job_free(job);
	}
}

/* Does the enqueue's proof pass the relay's admission policy? */
static bool put_authorized(struct um_queue_api *api, const struct um_queue_put_request *q, const char **error)
{
	uint8_t hash[32], message[UM_QUEUE_API_MESSAGE_MAX], mac[32];
	size_t len;
	bool ok = true;

	/* Open relays check no proof: no hash of megabytes for nothing. */
	if (!api->config.has_admission_key && !api->config.n_allow)
		return true;
	um_queue_api_body_hash(q->envelope, q->len, q->n, hash);
	len = um_queue_api_message(message, q->challenge, "POST", QUEUE_PATH, hash, 0);
	if (api->config.has_admission_key) {
		um_queue_api_mac(mac, api->config.admission_key, message, len);
		*error = "admission proof missing or wrong";
		ok = q->has_admission && sodium_memcmp(mac, q->admission, 32) == 0;
		sodium_memzero(mac, sizeof(mac));
	}
	if (ok && api->config.n_allow) {
		struct um_peer_id id;
		bool listed = false;
		*error = "sender not allowed";
		if (!q->has_signature)
			return false;
		um_peer_id_from_public_key(&id, q->public_key);
		for (size_t i = 0; i < api->config.n_allow && !listed; i++)
			listed = !memcmp(api->config.allow[i].bytes, id.bytes, sizeof(id.bytes));
		ok =
		    listed && um_hsig_verify(q->signature, message, len, UM_QUEUE_API_SIGN_CONTEXT, q->public_key) == 0;
	}
	return ok;
}

static void on_put(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	struct um_queue_api *api = ctx;
	struct queue_job *job;
	const char *error;
	size_t valid = 0;

	if (!admitted(api, req, resp))
		return;
	job = calloc(1, sizeof(*job));
	if (!job) {
		um_http_response_error(resp, 503, "out of memory");
		return;
	}
	job->kind = JOB_PUT;
	if (um_queue_api_parse_put(req->body, req->body_len, &job->put, &error)) {
		count(api, &api->stats.malformed);
		um_http_response_error(resp, 400, error);
		goto refused;
	}
	if (!challenge_consume(api, &req->source, job->put.challenge)) {
		count(api, &api->stats.bad_challenge);
		um_http_response_error(resp, 403, "challenge unknown, expired, used or issued to another address");
		goto refused;
	}
	if (!put_authorized(api, &job->put, &error)) {
		count(api, &api->stats.bad_auth);
		um_http_response_error(resp, 403, error);
		goto refused;
	}
	for (size_t i = 0; i < job->put.n; i++) {
		job->result[i] = um_envelope_header_parse(job->put.envelope[i], job->put.len[i], &job->header[i]);
		if (job->result[i])
			memset(&job->header[i], 0, sizeof(job->header[i]));
		valid += job->result[i] == 0;
	}
	if (!valid) {
		count(api, &api->stats.malformed);
		um_http_response_error(resp, 400, "no well-formed envelope");
		goto refused;
	}
	challenge_issue(api, &req->source, job->next_challenge);
	job->has_next_challenge = true;
	submit(api, job, resp);
	return;
refused:
	um_queue_job_free(job);
}

/* The recipient's proof: a fresh challenge, its key, and its signature over
 * this method and path. */
static struct queue_job *recipient_job(struct um_queue_api *api, enum queue_job_kind kind,
				       const struct um_http_request *req, struct um_http_response *resp,
				       const char *signed_method)
{
	struct um_queue_auth_request *q = NULL;
	struct queue_job *job = NULL;
	struct um_peer_id id;
	uint8_t message[UM_QUEUE_API_MESSAGE_MAX], binding[32];
	const char *error;
	size_t len;
	int parsed;

	if (!admitted(api, req, resp))
		return NULL;
	q = malloc(sizeof(*q)); /* 7 KB: off the HTTP thread's stack */
	job = calloc(1, sizeof(*job));
	if (!q || !job) {
		um_http_response_error(resp, 503, "out of memory");
		goto refused;
	}
	if (kind == JOB_DELETE_MANY) {
		job->ids = malloc(UM_QUEUE_API_DELETE_MAX * sizeof(*job->ids));
		parsed = job->ids
			     ? um_queue_api_parse_delete(req->body, req->body_len, q, job->ids, &job->n_ids, &error)
			     : -UM_ENOMEM;
		if (parsed == -UM_ENOMEM) {
			um_http_response_error(resp, 503, "out of memory");
			goto refused;
		}
	} else {
		parsed = um_queue_api_parse_auth(req->body, req->body_len, kind == JOB_PENDING, q, &error);
	}
	if (parsed) {
		count(api, &api->stats.malformed);
		um_http_response_error(resp, 400, error);
		goto refused;
	}
	if (!challenge_consume(api, &req->source, q->challenge)) {
		count(api, &api->stats.bad_challenge);
		um_http_response_error(resp, 403, "challenge unknown, expired, used or issued to another address");
		goto refused;
	}
	um_peer_id_from_public_key(&id, q->public_key);
	/* A batch delete binds its IDs, the others the recipient's ID. */
	if (kind == JOB_DELETE_MANY)
		um_queue_api_ids_hash(q->id.bytes, (const uint8_t(*)[16])job->ids, job->n_ids, binding);
	else
		memcpy(binding, q->id.bytes, 32);
	len = um_queue_api_message(message, q->challenge, signed_method, req->path, binding, q->limit);
	if (memcmp(id.bytes, q->id.bytes, sizeof(id.bytes)) != 0 ||
	    um_hsig_verify(q->signature, message, len, UM_QUEUE_API_SIGN_CONTEXT, q->public_key) != 0) {
		count(api, &api->stats.bad_auth);
		um_http_response_error(resp, 403, "peer ID, key and signature do not match");
		goto refused;
	}
	job->kind = kind;
	memcpy(job->recipient, q->id.bytes, 32);
	job->limit = q->limit ? q->limit : UM_QUEUE_API_PENDING_MAX;
	free(q);
	return job;
refused:
	free(q);
	if (job)
		free(job->ids);
	free(job);
	return NULL;
}

static void on_pending(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	struct um_queue_api *api = ctx;
	/* GET and POST sign as "GET": the same request either way. */
	struct queue_job *job = recipient_job(api, JOB_PENDING, req, resp, "GET");

	if (job)
		submit(api, job, resp);
}

static int hex_id(const char *text, uint8_t id[16])
{
	size_t bin_len = 0;
	const char *end = NULL;

	if (strlen(text) != 32 || sodium_hex2bin(id, 16, text, 32, NULL, &bin_len, &end) || bin_len != 16)
		return -UM_EINVAL;
	return 0;
}

static void on_delete(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	struct um_queue_api *api = ctx;
	const char *rest = req->path + strlen(PENDING_PATH);
	uint8_t id[16];
	struct queue_job *job;

	if (*rest == '/' && hex_id(rest + 1, id)) {
		count(api, &api->stats.malformed);
		um_http_response_error(resp, 400, "not an envelope ID (32 hex digits)");
		return;
	}
	if (*rest && *rest != '/') {
		um_http_response_error(resp, 404, "not found");
		return;
	}
	job = recipient_job(api, *rest ? JOB_DELETE : JOB_DELETE_ALL, req, resp, "DELETE");
	if (!job)
		return;
	memcpy(job->id, id, sizeof(id));
	submit(api, job, resp);
}

/* POST /api/relay/pending/delete: many IDs, one challenge and signature. */
static void on_delete_many(void *ctx, const struct um_http_request *req, struct um_http_response *resp)
{
	struct um_queue_api *api = ctx;
	struct queue_job *job = recipient_job(api, JOB_DELETE_MANY, req, resp, "DELETE");

	if (job)
		submit(api, job, resp);
}

int um_queue_api_attach(struct um_http_server *server, struct um_queue_api *api)
{
	size_t body = api->config.max_body;
	int r = 0;

	r = r ? r : um_http_server_route(server, "POST", API_PREFIX "challenge", false, on_challenge, api);
	r = r ? r : um_http_server_route_body(server, "POST", QUEUE_PATH, false, body, on_put, api);
	r = r ? r : um_http_server_route(server, "GET", PENDING_PATH, false, on_pending, api);
	r = r ? r : um_http_server_route(server, "POST", PENDING_PATH, false, on_pending, api);
	r = r ? r : um_http_server_route(server, "DELETE", PENDING_PATH, true, on_delete, api);
	r = r ? r : um_http_server_route(server, "POST", UM_QUEUE_API_DELETE_PATH, false, on_delete_many, api);
	return r;
}

int um_queue_api_create(struct um_queue_api **out, const struct um_queue_api_config *config,
			const struct um_queue_backend *backend)
{
	struct um_queue_api *api = calloc(1, sizeof(*api));
	int r;

	*out = NULL;
	if (!api)
		return -UM_ENOMEM;
	api->config = *config;
	api->backend = *backend;
	if (!api->config.max_body)
		api->config.max_body = UM_QUEUE_API_BODY_MAX;
	if (!api->config.requests_per_s)
		api->config.requests_per_s = 100;
	if (!api->config.request_burst)
		api->config.request_burst = 400;
	if (!api->config.challenge_ttl_ms)
		api->config.challenge_ttl_ms = 30000;
	if (!api->config.purge_interval_ms)
		api->config.purge_interval_ms = 60000;
	randombytes_buf(api->rate_key, sizeof(api->rate_key));
	api->tail = &api->head;
	pthread_mutex_init(&api->lock, NULL);
	pthread_cond_init(&api->wake, NULL);
	r = um_queue_commit_start(api);
	if (r) {
		um_queue_api_free(api);
		return r;
	}
	*out = api;
	return 0;
}

void um_queue_api_stop(struct um_queue_api *api)
{
	if (api)
		um_queue_commit_stop(api);
}

void um_queue_api_free(struct um_queue_api *api)
{
	if (!api)
		return;
	um_queue_commit_stop(api);
	pthread_cond_destroy(&api->wake);
	pthread_mutex_destroy(&api->lock);
	sodium_memzero(api->config.admission_key, sizeof(api->config.admission_key));
	free(api);
}

void um_queue_api_stats(struct um_queue_api *api, struct um_queue_api_stats *out)
{
	pthread_mutex_lock(&api->lock);
	*out = api->stats;
	pthread_mutex_unlock(&api->lock);
}
