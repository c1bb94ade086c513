/* SPDX-License-Identifier: MIT */
/* The relay queue API over real HTTP: the client (queue_client.h) and raw
 * libcurl against the listener on 127.0.0.1, the real durable queue
 * (store/queue.h through node/relay_queue.h) in a fresh directory per case.
 * Order, delete only own, forged deletes, body cap (413), malformed JSON
 * (400), replayed signed requests (403), queue full (409), TTL expiry,
 * admission key, and group commit across concurrent senders. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "http/queue_client.h"
#include "http_reply.h"
#include "node/relay_queue.h"
#include "relay_fixture.h"
#include "test.h"
#include "util/bytes.h"
#include "util/error.h"
#include "wire/envelope.h"

enum { ENV_LEN = 8192 }; /* bucket 0 */

static struct um_identity ids[3];
static char base[128], dir[64], db[96];
static struct um_http_server *server;
static struct um_relay_queue *rq;
static _Atomic uint64_t fake_ms;

static uint64_t fake_clock(void)
{
	return fake_ms;
}

/* Starts a relay queue: max_messages/ttl for the store, key (NULL: none). */
static const struct um_peer_id *allow; /* the next start's allow-list (one entry) */

static void start(uint32_t max_messages, uint64_t ttl_ms, const uint8_t *key, size_t max_body)
{
	struct um_config_relay_server rc = {0};
	struct um_queue_api_config ac = {.requests_per_s = 100000,
					 .request_burst = 100000,
					 .max_body = max_body,
					 .purge_interval_ms = 50,
					 .wall_ms = fake_clock};

	fake_ms = 1700000000000ULL;
	snprintf(dir, sizeof(dir), "/tmp/um-queue-api-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(db, sizeof(db), "%s/queue.db", dir);
	snprintf(rc.queue_path, sizeof(rc.queue_path), "%s", db);
	rc.queue_ttl_ms = ttl_ms;
	rc.queue_max_messages = max_messages;
	rc.queue_max_bytes = 1 << 20;
	if (key) {
		memcpy(rc.admission_key, key, 32);
		rc.has_admission_key = true;
	}
	rc.allow = (struct um_peer_id *)allow;
	rc.n_allow = allow ? 1 : 0;
	relay_service_start(&rc, &ac, &rq, &server, base, sizeof(base));
}

static void stop(void)
{
	relay_service_stop(&rq, &server);
	relay_files_remove(db);
	CHECK_EQ(rmdir(dir), 0);
}

/* An envelope for recipient: a real header, random sealed part. */
static void make_envelope(uint8_t *env, const struct um_identity *to, uint32_t serial)
{
	struct um_envelope_header h = {.version = UM_ENVELOPE_VERSION, .bucket = 0};

	memcpy(h.recipient, to->id.bytes, 32);
	randombytes_buf(h.id, sizeof(h.id));
	memcpy(h.id, &serial, sizeof(serial));
	randombytes_buf(env, ENV_LEN);
	um_envelope_header_encode(env, &h);
}

static int put_one(struct um_queue_client *c, const uint8_t *env)
{
	size_t len = ENV_LEN;
	int result = 99, r = um_queue_client_put(c, &env, &len, 1, &result);
	return r ? r : result;
}

struct collected {
	size_t n;
	uint8_t id[64][16];
	uint32_t serial[64];
};

static int collect(void *ctx, const uint8_t id[16], uint64_t arrival_ms, const uint8_t *env, size_t len)
{
	struct collected *c = ctx;
	(void)arrival_ms;
	if (c->n >= 64 || len != ENV_LEN || memcmp(env + 34, id, 16))
		return -UM_EINVAL;
	memcpy(c->id[c->n], id, 16);
	memcpy(&c->serial[c->n], id, 4);
	c->n++;
	return 0;
}

static size_t count_pending(struct um_queue_client *c, const struct um_identity *who, struct collected *out)
{
	memset(out, 0, sizeof(*out));
	CHECK_EQ(um_queue_client_pending(c, who, 0, collect, out), 0);
	return out->n;
}

static void client(struct um_queue_client *c)
{
	CHECK_EQ(um_queue_client_init(c, base), 0);
}

/* n envelopes for ids[0] (serials 0..n-1), then one for ids[1] (serial
 * 100) left in env (ENV_LEN bytes, the caller's), each queued. */
static void put_for_both(struct um_queue_client *c, uint32_t n, uint8_t *env)
{
	for (uint32_t i = 0; i < n; i++) {
		make_envelope(env, &ids[0], i);
		CHECK_EQ(put_one(c, env), 0);
	}
	make_envelope(env, &ids[1], 100);
	CHECK_EQ(put_one(c, env), 0);
}

static void test_order_and_own(void)
{
	struct um_queue_client c;
	uint8_t env[ENV_LEN];
	struct collected got;
	uint64_t deleted = 0;

	start(100, 3600000, NULL, 0);
	client(&c);
	put_for_both(&c, 5, env);
	CHECK_EQ(put_one(&c, env), 0); /* idempotent: queued once */
	CHECK_EQ(count_pending(&c, &ids[0], &got), 5);
	for (uint32_t i = 0; i < 5; i++)
		CHECK_EQ(got.serial[i], i); /* arrival order */
	/* Another recipient cannot delete A's envelope: not found, still there. */
	CHECK_EQ(um_queue_client_delete(&c, &ids[1], got.id[2]), -UM_ENOTFOUND);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 5);
	CHECK_EQ(um_queue_client_delete(&c, &ids[0], got.id[2]), 0);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 4);
	CHECK_EQ(got.serial[2], 3);
	CHECK_EQ(count_pending(&c, &ids[1], &got), 1);
	CHECK_EQ(um_queue_client_delete_all(&c, &ids[0], &deleted), 0);
	CHECK_EQ(deleted, 4);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 0);
	CHECK_EQ(count_pending(&c, &ids[1], &got), 1); /* B's untouched */
	um_queue_client_close(&c);
	stop();
}

/* The batch delete: one signature for many IDs; another recipient's and
 * unknown IDs are skipped (counted out), the bounds refused. */
static void test_delete_many(void)
{
	struct um_queue_client c;
	uint8_t env[ENV_LEN], many[UM_QUEUE_API_DELETE_MAX + 1][16];
	struct collected got;
	uint64_t deleted = 99;

	start(100, 3600000, NULL, 0);
	client(&c);
	put_for_both(&c, 6, env);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 6);
	/* B names A's envelopes: none deleted. */
	CHECK_EQ(um_queue_client_delete_many(&c, &ids[1], (const uint8_t(*)[16])got.id, 3, &deleted), 0);
	CHECK_EQ(deleted, 0);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 6);
	/* A deletes 1, 3, 5 and an unknown ID. */
	memcpy(many[0], got.id[1], 16);
	memcpy(many[1], got.id[3], 16);
	memset(many[2], 0xee, 16);
	memcpy(many[3], got.id[5], 16);
	CHECK_EQ(um_queue_client_delete_many(&c, &ids[0], (const uint8_t(*)[16])many, 4, &deleted), 0);
	CHECK_EQ(deleted, 3);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 3);
	CHECK_EQ(got.serial[0], 0);
	CHECK_EQ(got.serial[1], 2);
	CHECK_EQ(got.serial[2], 4);
	/* The most a request holds; bounds. */
	for (size_t i = 0; i < UM_QUEUE_API_DELETE_MAX; i++)
		memcpy(many[i], got.id[i % 3], 16);
	CHECK_EQ(
	    um_queue_client_delete_many(&c, &ids[0], (const uint8_t(*)[16])many, UM_QUEUE_API_DELETE_MAX, &deleted), 0);
	CHECK_EQ(deleted, 3);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 0);
	CHECK_EQ(count_pending(&c, &ids[1], &got), 1); /* B's untouched */
	CHECK_EQ(um_queue_client_delete_many(&c, &ids[0], (const uint8_t(*)[16])many, 0, &deleted), -UM_EINVAL);
	CHECK_EQ(
	    um_queue_client_delete_many(&c, &ids[0], (const uint8_t(*)[16])many, UM_QUEUE_API_DELETE_MAX + 1, &deleted),
	    -UM_EINVAL);
	um_queue_client_close(&c);
	stop();
}

static long http(const char *method, const char *path, const char *body, size_t len, struct reply *r)
{
	char url[256];
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Expect:");

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	return reply_perform(c, h, r);
}

/* A signed recipient body as the client makes it: signer signs, claiming
 * claimed's peer ID. Returns malloc'ed JSON. */
static char *signed_body(struct um_queue_client *c, const struct um_identity *signer, const struct um_identity *claimed,
			 const char *method, const char *path)
{
	uint8_t challenge[32], message[UM_QUEUE_API_MESSAGE_MAX];
	static uint8_t sig[UM_HSIG_BYTES];
	static char key_b64[4096], sig_b64[8192];
	char id[UM_PEER_ID_TEXT_MAX], ch[64];

	CHECK_EQ(um_queue_client_challenge(c, challenge), 0);
	size_t len = um_queue_api_message(message, challenge, method, path, claimed->id.bytes, 0);
	CHECK_EQ(um_hsig_sign(sig, message, len, UM_QUEUE_API_SIGN_CONTEXT, signer->secret_key), 0);
	um_peer_id_format(&claimed->id, id, sizeof(id));
	sodium_bin2base64(key_b64, sizeof(key_b64), signer->public_key, UM_HSIG_PK_BYTES,
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(sig_b64, sizeof(sig_b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(ch, sizeof(ch), challenge, 32, sodium_base64_VARIANT_ORIGINAL);
	json_t *o =
	    json_pack("{s:s,s:s,s:s,s:s}", "peer_id", id, "public_key", key_b64, "challenge", ch, "signature", sig_b64);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static void test_hostile(void)
{
	struct um_queue_client c;
	uint8_t env[ENV_LEN];
	struct collected got;
	struct reply r;
	struct um_queue_api_stats st;
	char *body;

	start(100, 3600000, NULL, 64 * 1024);
	client(&c);
	make_envelope(env, &ids[0], 7);
	CHECK_EQ(put_one(&c, env), 0);
	/* Forged: B's key claiming A's peer ID. */
	body = signed_body(&c, &ids[1], &ids[0], "DELETE", "/api/relay/pending");
	CHECK_EQ(http("DELETE", "/api/relay/pending", body, strlen(body), &r), 403);
	CHECK(reply_is_error_json(&r));
	free(body);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 1);
	/* A signature for another path does not delete all. */
	body = signed_body(&c, &ids[0], &ids[0], "DELETE", "/api/relay/pending/00000000000000000000000000000000");
	CHECK_EQ(http("DELETE", "/api/relay/pending", body, strlen(body), &r), 403);
	free(body);
	/* Replayed: the same signed request twice (its challenge is spent). */
	body = signed_body(&c, &ids[0], &ids[0], "GET", "/api/relay/pending");
	CHECK_EQ(http("POST", "/api/relay/pending", body, strlen(body), &r), 200);
	CHECK_EQ(http("POST", "/api/relay/pending", body, strlen(body), &r), 403);
	CHECK(strstr(r.body, "challenge") != NULL);
	free(body);
	/* Malformed JSON, unknown members, bad IDs: 400. */
	CHECK_EQ(http("POST", "/api/relay/queue", "{\"envelopes\":", 13, &r), 400);
	CHECK(reply_is_error_json(&r));
	CHECK_EQ(http("POST", "/api/relay/queue", "[]", 2, &r), 400);
	CHECK_EQ(http("POST", "/api/relay/queue", "{\"envelopes\":[],\"x\":1}", 22, &r), 400);
	CHECK_EQ(http("POST", "/api/relay/pending", "{\"peer_id\":\"nope\"}", 18, &r), 400);
	CHECK_EQ(http("DELETE", "/api/relay/pending/xyz", "{}", 2, &r), 400);
	/* A well-formed body with a made-up challenge: 403. */
	char fake[256];
	snprintf(fake, sizeof(fake), "{\"envelopes\":[\"AAAA\"],\"challenge\":\"%s\"}",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	CHECK_EQ(http("POST", "/api/relay/queue", fake, strlen(fake), &r), 403);
	/* Oversized: the declared body above the route's cap. */
	size_t big = 65 * 1024;
	char *huge = malloc(big);
	memset(huge, ' ', big);
	CHECK_EQ(http("POST", "/api/relay/queue", huge, big, &r), 413);
	CHECK(reply_is_error_json(&r));
	free(huge);
	/* A malformed envelope (wrong length for its bucket) is refused, by name. */
	size_t short_len = ENV_LEN - 1;
	const uint8_t *p = env;
	int result = 0;
	CHECK_EQ(um_queue_client_put(&c, &p, &short_len, 1, &result), -UM_EINVAL);
	um_queue_api_stats(um_relay_queue_api(rq), &st);
	CHECK(st.bad_auth >= 2);
	CHECK(st.bad_challenge >= 2);
	CHECK(st.malformed >= 5);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 1); /* nothing changed */
	um_queue_client_close(&c);
	stop();
}

static void test_full_and_ttl(void)
{
	struct um_queue_client c;
	uint8_t env[4][ENV_LEN];
	const uint8_t *p[4] = {env[0], env[1], env[2], env[3]};
	size_t len[4] = {ENV_LEN, ENV_LEN, ENV_LEN, ENV_LEN};
	int results[4];
	struct collected got;
	struct reply r;

	start(3, 1000, NULL, 0);
	client(&c);
	for (uint32_t i = 0; i < 4; i++)
		make_envelope(env[i], &ids[0], i);
	CHECK_EQ(um_queue_client_put(&c, p, len, 4, results), 0);
	CHECK_EQ(results[0], 0);
	CHECK_EQ(results[2], 0);
	CHECK_EQ(results[3], -UM_ELIMIT); /* the fourth: queue full */
	/* Alone, a full queue's refusal is a 409 with its word. */
	CHECK_EQ(put_one(&c, env[3]), -UM_ELIMIT);
	CHECK_EQ(c.http.last_status, 409);
	(void)r;
	CHECK_EQ(count_pending(&c, &ids[0], &got), 3);
	/* TTL 1 s: two seconds later the purge timer drops them. */
	fake_ms += 2000;
	for (int i = 0; i < 100 && count_pending(&c, &ids[0], &got); i++)
		usleep(20000);
	CHECK_EQ(got.n, 0);
	CHECK_EQ(put_one(&c, env[3]), 0); /* room again */
	um_queue_client_close(&c);
	stop();
}

static void test_admission(void)
{
	struct um_queue_client c;
	uint8_t key[32], env[ENV_LEN];
	struct collected got;

	randombytes_buf(key, sizeof(key));
	start(100, 3600000, key, 0);
	client(&c);
	make_envelope(env, &ids[0], 1);
	CHECK_EQ(put_one(&c, env), -UM_EBADMSG); /* no proof */
	c.has_admission_key = true;
	randombytes_buf(c.admission_key, 32);
	CHECK_EQ(put_one(&c, env), -UM_EBADMSG); /* wrong key */
	memcpy(c.admission_key, key, 32);
	CHECK_EQ(put_one(&c, env), 0);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 1);
	um_queue_client_close(&c);
	stop();
}

/* The challenge an answer carries (0 when there is one). */
static int reply_challenge(const struct reply *r, uint8_t out[32])
{
	json_t *o = json_loads(r->body, 0, NULL);
	const char *b64 = json_string_value(json_object_get(o, "challenge"));
	size_t bin_len = 0;
	int rc = !b64 ||
		 sodium_base642bin(out, 32, b64, strlen(b64), NULL, &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL) ||
		 bin_len != 32;

	json_decref(o);
	return rc;
}

static size_t reply_queued(const struct reply *r)
{
	json_t *o = json_loads(r->body, 0, NULL);
	size_t n = json_array_size(json_object_get(o, "queued"));

	json_decref(o);
	return n;
}

/* A binary enqueue body (PROTOCOL §21) of n envelopes (serials first..),
 * MACed with key; returns its length. */
static size_t binary_body(uint8_t *out, const uint8_t challenge[32], const uint8_t key[32], uint32_t first, size_t n)
{
	const uint8_t *env[8];
	size_t len[8], at = UM_QUEUE_API_BINARY_HEADER + 32;
	uint8_t hash[32], message[UM_QUEUE_API_MESSAGE_MAX];

	memcpy(out, UM_QUEUE_API_BINARY_MAGIC, 4);
	out[4] = 1;
	out[5] = 1; /* an admission MAC */
	out[6] = 0;
	out[7] = (uint8_t)n;
	memcpy(out + 8, challenge, 32);
	for (size_t i = 0; i < n; i++) {
		um_store32_be(out + at, ENV_LEN);
		make_envelope(out + at + 4, &ids[0], first + (uint32_t)i);
		env[i] = out + at + 4;
		len[i] = ENV_LEN;
		at += 4 + ENV_LEN;
	}
	um_queue_api_body_hash(env, len, n, hash);
	size_t mlen = um_queue_api_message(message, challenge, "POST", "/api/relay/queue", hash, 0);
	um_queue_api_mac(out + UM_QUEUE_API_BINARY_HEADER, key, message, mlen);
	return at;
}

/* The binary form: queued like JSON, MAC checked, each answer's challenge
 * good for exactly one next request, malformed framing refused. */
static void test_binary(void)
{
	static uint8_t body[UM_QUEUE_API_BINARY_HEADER + 32 + 8 * (4 + ENV_LEN)];
	struct um_queue_client c;
	uint8_t key[32], challenge[32];
	struct collected got;
	struct reply r;
	size_t len;

	randombytes_buf(key, sizeof(key));
	start(100, 3600000, key, 0);
	client(&c);
	CHECK_EQ(um_queue_client_challenge(&c, challenge), 0);
	len = binary_body(body, challenge, key, 1, 3);
	CHECK_EQ(http("POST", "/api/relay/queue", (const char *)body, len, &r), 200);
	CHECK_EQ(reply_queued(&r), 3);
	CHECK_EQ(reply_challenge(&r, challenge), 0);
	/* The answer's challenge serves the next request, once. */
	len = binary_body(body, challenge, key, 4, 2);
	CHECK_EQ(http("POST", "/api/relay/queue", (const char *)body, len, &r), 200);
	CHECK_EQ(reply_queued(&r), 2);
	CHECK_EQ(http("POST", "/api/relay/queue", (const char *)body, len, &r), 403);
	/* A wrong MAC. */
	CHECK_EQ(reply_challenge(&r, challenge), 1); /* a refusal carries none */
	CHECK_EQ(um_queue_client_challenge(&c, challenge), 0);
	len = binary_body(body, challenge, key, 6, 1);
	body[UM_QUEUE_API_BINARY_HEADER] ^= 1;
	CHECK_EQ(http("POST", "/api/relay/queue", (const char *)body, len, &r), 403);
	/* Framing: a byte too many, a count too high, an unknown flag. */
	CHECK_EQ(um_queue_client_challenge(&c, challenge), 0);
	len = binary_body(body, challenge, key, 6, 1);
	CHECK_EQ(http("POST", "/api/relay/queue", (const char *)body, len + 1, &r), 400);
	CHECK(reply_is_error_json(&r));
	body[7] = 2;
	CHECK_EQ(http("POST", "/api/relay/queue", (const char *)body, len, &r), 400);
	body[7] = 1;
	body[5] = 5;
	CHECK_EQ(http("POST", "/api/relay/queue", (const char *)body, len, &r), 400);
	/* The five queued, in order, through the JSON reader. */
	c.has_admission_key = true;
	memcpy(c.admission_key, key, 32);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 5);
	for (size_t i = 0; i < got.n; i++)
		CHECK_EQ(got.serial[i], i + 1);
	um_queue_client_close(&c);
	stop();
}

/* An allow-list only: the sender signs (and the relay learns who it is). */
static void test_allow_list(void)
{
	struct um_queue_client c;
	uint8_t env[ENV_LEN];
	struct collected got;

	allow = &ids[1].id;
	start(100, 3600000, NULL, 0);
	allow = NULL;
	client(&c);
	make_envelope(env, &ids[0], 1);
	CHECK_EQ(put_one(&c, env), -UM_EBADMSG); /* unsigned */
	c.sender = &ids[2];
	CHECK_EQ(put_one(&c, env), -UM_EBADMSG); /* signed, not listed */
	c.sender = &ids[1];
	CHECK_EQ(put_one(&c, env), 0);
	CHECK_EQ(count_pending(&c, &ids[0], &got), 1);
	um_queue_client_close(&c);
	stop();
}

enum { SENDERS = 8, PUTS = 15 };

static int count_one(void *ctx, const uint8_t id[16], uint64_t arrival_ms, const uint8_t *env, size_t len)
{
	(void)id;
	(void)arrival_ms;
	(void)env;
	(void)len;
	(*(size_t *)ctx)++;
	return 0;
}

static void *sender(void *arg)
{
	struct um_queue_client c;
	uint8_t *env = malloc(ENV_LEN);
	uintptr_t k = (uintptr_t)arg;
	int fails = 0;

	um_queue_client_init(&c, base);
	for (uint32_t i = 0; i < PUTS; i++) {
		make_envelope(env, &ids[2], (uint32_t)(k * 1000 + i));
		fails += put_one(&c, env) != 0;
	}
	um_queue_client_close(&c);
	free(env);
	return (void *)(uintptr_t)fails;
}

static void test_group_commit(void)
{
	pthread_t t[SENDERS];
	struct um_queue_api_stats st;
	struct um_queue_client c;
	uintptr_t fails = 0;

	start(1000, 3600000, NULL, 0);
	for (uintptr_t k = 0; k < SENDERS; k++)
		CHECK_EQ(pthread_create(&t[k], NULL, sender, (void *)k), 0);
	for (int k = 0; k < SENDERS; k++) {
		void *f;
		pthread_join(t[k], &f);
		fails += (uintptr_t)f;
	}
	CHECK_EQ(fails, 0);
	um_queue_api_stats(um_relay_queue_api(rq), &st);
	CHECK_EQ(st.queued, SENDERS * PUTS);
	printf("  %d puts from %d senders in %llu commits\n", SENDERS * PUTS, SENDERS, (unsigned long long)st.batches);
	CHECK(st.batches < SENDERS * PUTS); /* some shared an fsync */
	client(&c);
	size_t n = 0;
	CHECK_EQ(um_queue_client_pending(&c, &ids[2], 0, count_one, &n), 0);
	CHECK_EQ(n, SENDERS * PUTS);
	um_queue_client_close(&c);
	stop();
}

int main(void)
{
	CHECK_EQ(sodium_init() >= 0, 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(um_identity_generate(&ids[i]), 0);
	RUN(test_order_and_own);
	RUN(test_delete_many);
	RUN(test_hostile);
	RUN(test_full_and_ttl);
	RUN(test_admission);
	RUN(test_allow_list);
	RUN(test_binary);
	RUN(test_group_commit);
	for (int i = 0; i < 3; i++)
		um_identity_wipe(&ids[i]);
	curl_global_cleanup();
	return um_test_end();
}
