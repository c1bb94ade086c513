/* SPDX-License-Identifier: MIT */
/* The bootstrap API over real HTTP: libcurl against the listener on
 * 127.0.0.1 (ephemeral port). Every endpoint, every 4xx (and 503), the body
 * cap (declared and chunked), the per-source rate limit, TLS; after each
 * refusal the registrations are checked unchanged. A fresh service per case. */
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "http/bootstrap_api.h"
#include "http_reply.h"
#include "test.h"
#include "util/clock.h"
#include "util/error.h"

static struct um_identity ids[2];
static char base[128];
static struct um_bootstrap_service *service;
static const char *scheme = "http";

/* Reads from a callback: an unknown-length (chunked) upload. */
struct upload {
	size_t left;
};
static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t k = size * n < u->left ? size * n : u->left;
	memset(buf, ' ', k);
	u->left -= k;
	return k;
}

/* method path body (NULL: none; chunked_size > 0: a chunked upload of it). */
static long http(const char *method, const char *path, const char *body, size_t chunked_size, struct reply *r)
{
	char url[512];
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct upload up = {chunked_size};

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (chunked_size) {
		h = curl_slist_append(h, "Transfer-Encoding: chunked");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
	}
	return reply_perform(c, h, r);
}

static void start(const struct um_bootstrap_config *rc, const char *cert, const char *key)
{
	struct um_http_server_config hc = {.certificate = cert, .key = key};
	struct um_bootstrap_config def;

	um_addr_parse_host(&hc.listen, "127.0.0.1");
	if (!rc) {
		um_bootstrap_default_config(&def);
		def.requests_per_s = def.request_burst = 100000;
		rc = &def;
	}
	CHECK_EQ(um_bootstrap_service_start(&service, &hc, rc), 0);
	snprintf(base, sizeof(base), "%s://127.0.0.1:%u", scheme, service ? um_http_server_port(service->server) : 0);
}

static void stop(void)
{
	um_bootstrap_service_stop(service);
	service = NULL;
}

static bool get_challenge(uint8_t out[32])
{
	struct reply r;
	size_t n = 0;
	if (http("POST", "/api/bootstrap/challenge", "{}", 0, &r) != 200)
		return false;
	json_t *o = json_loads(r.body, 0, NULL);
	const char *b64 = json_string_value(json_object_get(o, "challenge"));
	bool ok = b64 &&
		  !sodium_base642bin(out, 32, b64, strlen(b64), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) &&
		  n == 32 && json_integer_value(json_object_get(o, "expires_in")) > 0;
	json_decref(o);
	return ok;
}

static char *b64(const uint8_t *bin, size_t len)
{
	size_t size = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *t = malloc(size);
	sodium_bin2base64(t, size, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return t;
}

/* A signed body for op by `who` (key: `key_of`), with a fresh challenge;
 * tamper: 1 flips a signature bit. Returned text owned by the caller. */
static char *signed_body(enum um_bootstrap_op op, const struct um_identity *who, const struct um_identity *key_of,
			 bool is_public, int tamper)
{
	struct um_bootstrap_request q = {.op = op, .id = who->id, .is_public = is_public};
	uint8_t *sig = malloc(UM_HSIG_BYTES);
	char id[UM_PEER_ID_TEXT_MAX];

	if (op == UM_BOOTSTRAP_OP_REGISTER) {
		um_addr_parse(&q.endpoints[0], "192.0.2.1:51820");
		q.n_endpoints = 1;
	}
	CHECK(get_challenge(q.challenge));
	CHECK_EQ(um_bootstrap_sign(&q, key_of, sig), 0);
	if (tamper)
		sig[10] ^= 1;
	um_peer_id_format(&who->id, id, sizeof(id));
	char *s = b64(sig, UM_HSIG_BYTES), *c = b64(q.challenge, 32), *k = b64(key_of->public_key, UM_HSIG_PK_BYTES);
	json_t *o = json_pack("{s:s,s:s,s:s}", "peer_id", id, "challenge", c, "signature", s);
	if (op == UM_BOOTSTRAP_OP_REGISTER) {
		json_object_set_new(o, "public_key", json_string(k));
		json_object_set_new(o, "endpoints", json_pack("[s]", "192.0.2.1:51820"));
		json_object_set_new(o, "public", json_boolean(is_public));
	}
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(s);
	free(c);
	free(k);
	free(sig);
	return text;
}

static long send_signed(enum um_bootstrap_op op, const struct um_identity *who, const struct um_identity *key_of,
			bool is_public, int tamper, struct reply *r)
{
	char *body = signed_body(op, who, key_of, is_public, tamper);
	long status = http(um_bootstrap_op_method(op), um_bootstrap_op_path(op), body, 0, r);
	free(body);
	return status;
}

static int listed(void)
{
	struct reply r;
	if (http("GET", "/api/bootstrap/peers", NULL, 0, &r) != 200)
		return -1;
	json_t *o = json_loads(r.body, 0, NULL);
	int n = json_is_array(json_object_get(o, "peers")) ? (int)json_array_size(json_object_get(o, "peers")) : -1;
	json_decref(o);
	return n;
}

static void path_of(char *out, size_t size, const char *prefix, const struct um_identity *who)
{
	char id[UM_PEER_ID_TEXT_MAX];
	um_peer_id_format(&who->id, id, sizeof(id));
	snprintf(out, size, "%s%s", prefix, id);
}

static void test_endpoints(void)
{
	struct reply r, unknown;
	char path[160];

	start(NULL, NULL, NULL);
	CHECK_EQ(listed(), 0);
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[0], true, 0, &r), 200);
	CHECK(strstr(r.body, "\"registered\":true") != NULL);
	CHECK(strstr(r.body, "\"ttl\":120") != NULL);
	CHECK_EQ(listed(), 1);
	path_of(path, sizeof(path), "/api/bootstrap/peer/", &ids[0]);
	CHECK_EQ(http("GET", path, NULL, 0, &r), 200);
	CHECK(strstr(r.body, "192.0.2.1:51820") != NULL);
	CHECK(strstr(r.body, "\"observed\":\"127.0.0.1\"") != NULL);
	path_of(path, sizeof(path), "/peer/", &ids[0]);
	CHECK_EQ(http("GET", path, NULL, 0, &r), 200);
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_HEARTBEAT, &ids[0], &ids[0], false, 0, &r), 200);
	CHECK(strstr(r.body, "\"ttl\":") != NULL);
	/* A private registration: listed by address only, found by ID by
	 * neither path, and /peer/ID's answer is the unknown ID's, byte for
	 * byte. */
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_REGISTER, &ids[1], &ids[1], false, 0, &r), 200);
	char private_id[UM_PEER_ID_TEXT_MAX];
	um_peer_id_format(&ids[1].id, private_id, sizeof(private_id));
	CHECK_EQ(http("GET", "/api/bootstrap/peers", NULL, 0, &r), 200);
	CHECK(strstr(r.body, "\"endpoints\"") != NULL);
	CHECK(strstr(r.body, private_id) == NULL);
	path_of(path, sizeof(path), "/api/bootstrap/peer/", &ids[1]);
	CHECK_EQ(http("GET", path, NULL, 0, &r), 404);
	path_of(path, sizeof(path), "/peer/", &ids[1]);
	CHECK_EQ(http("GET", path, NULL, 0, &r), 404);
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_UNREGISTER, &ids[0], &ids[0], false, 0, &unknown), 200);
	CHECK(strstr(unknown.body, "\"unregistered\":true") != NULL);
	path_of(path, sizeof(path), "/peer/", &ids[0]);
	CHECK_EQ(http("GET", path, NULL, 0, &unknown), 404);
	CHECK(r.len == unknown.len && !memcmp(r.body, unknown.body, r.len));
	CHECK(reply_is_error_json(&r));
	CHECK_EQ(listed(), 1);
	stop();
}

static void test_errors(void)
{
	struct reply r;
	char path[160];

	start(NULL, NULL, NULL);
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[0], true, 0, &r), 200);
	/* 400: the body's shape. */
	static const char *const bad[] = {"",
					  "not json",
					  "[]",
					  "{\"peer_id\":1}",
					  "{\"peer_id\":\"x\",\"challenge\":\"AA==\",\"signature\":\"AA==\"}",
					  "{\"extra\":1}",
					  "{\"a\":1,\"a\":2}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(http("POST", "/api/bootstrap/register", bad[i], 0, &r), 400);
		CHECK(reply_is_error_json(&r));
	}
	/* A valid signed body with a field spoiled after the fact. */
	char *body = signed_body(UM_BOOTSTRAP_OP_REGISTER, &ids[1], &ids[1], true, 0);
	char *spoiled = strdup(body);
	char *e = strstr(spoiled, "192.0.2.1:51820");
	memcpy(e, "192.0.2.1:70000", 15);
	CHECK_EQ(http("POST", "/api/bootstrap/register", spoiled, 0, &r), 400);
	free(spoiled);
	/* The same body on the heartbeat path has members heartbeat refuses. */
	CHECK_EQ(http("POST", "/api/bootstrap/heartbeat", body, 0, &r), 400);
	/* Now as sent: accepted; then replayed: 403. */
	CHECK_EQ(http("POST", "/api/bootstrap/register", body, 0, &r), 200);
	CHECK_EQ(http("POST", "/api/bootstrap/register", body, 0, &r), 403);
	CHECK(reply_is_error_json(&r));
	free(body);
	CHECK_EQ(listed(), 2);
	/* 403: a wrong signature, someone else's key. */
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_UNREGISTER, &ids[0], &ids[0], false, 1, &r), 403);
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_UNREGISTER, &ids[0], &ids[1], false, 0, &r), 403);
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[1], true, 0, &r), 403);
	CHECK(reply_is_error_json(&r));
	CHECK_EQ(listed(), 2);
	/* 404: unknown path, unknown peer, heartbeat of an unknown ID. */
	CHECK_EQ(http("GET", "/nothing", NULL, 0, &r), 404);
	CHECK(reply_is_error_json(&r));
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_UNREGISTER, &ids[1], &ids[1], false, 0, &r), 200);
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_HEARTBEAT, &ids[1], &ids[1], false, 0, &r), 404);
	path_of(path, sizeof(path), "/api/bootstrap/peer/", &ids[1]);
	CHECK_EQ(http("GET", path, NULL, 0, &r), 404);
	/* 400: not a peer ID. */
	CHECK_EQ(http("GET", "/api/bootstrap/peer/nope", NULL, 0, &r), 400);
	CHECK_EQ(http("GET", "/peer/", NULL, 0, &r), 400);
	/* 405: a known path, another method. */
	CHECK_EQ(http("GET", "/api/bootstrap/register", NULL, 0, &r), 405);
	CHECK_EQ(http("POST", "/api/bootstrap/unregister", "{}", 0, &r), 405);
	CHECK_EQ(http("DELETE", "/api/bootstrap/peers", NULL, 0, &r), 405);
	CHECK(reply_is_error_json(&r));
	/* 413: declared and chunked. */
	char *big = malloc(20000);
	memset(big, ' ', 19999);
	big[19999] = 0;
	CHECK_EQ(http("POST", "/api/bootstrap/register", big, 0, &r), 413);
	CHECK(reply_is_error_json(&r));
	CHECK_EQ(http("POST", "/api/bootstrap/register", NULL, 20000, &r), 413);
	/* Just under the cap is parsed (and refused as JSON, not as size). */
	big[16000] = 0;
	CHECK_EQ(http("POST", "/api/bootstrap/register", big, 0, &r), 400);
	free(big);
	CHECK_EQ(listed(), 1);
	stop();
}

static void test_limits(void)
{
	struct um_bootstrap_config c;
	struct reply r;
	int ok = 0, limited = 0;

	um_bootstrap_default_config(&c);
	c.requests_per_s = 1;
	c.request_burst = 10;
	start(&c, NULL, NULL);
	for (int i = 0; i < 30; i++) {
		long s = http("GET", "/api/bootstrap/peers", NULL, 0, &r);
		ok += s == 200;
		limited += s == 429;
		if (s == 429)
			CHECK(reply_is_error_json(&r));
	}
	/* 10 in the burst, perhaps one more refilled while the loop ran. */
	CHECK(ok >= 10 && ok <= 12);
	CHECK_EQ(ok + limited, 30);
	stop();

	/* 503: a full registry. */
	um_bootstrap_default_config(&c);
	c.requests_per_s = c.request_burst = 100000;
	c.max_registrations = 1;
	start(&c, NULL, NULL);
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[0], true, 0, &r), 200);
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_REGISTER, &ids[1], &ids[1], true, 0, &r), 503);
	CHECK(reply_is_error_json(&r));
	CHECK_EQ(listed(), 1);
	stop();
}

/* Server-side throughput of register (bodies signed beforehand, so the
 * figure is the server's: parse, challenge, key hash, verification) and of
 * GET peers; printed for docs/BENCHMARKS.md. */
static void test_throughput(void)
{
	enum { N = 300 };
	struct um_bootstrap_config c;
	struct um_identity *many = calloc(N, sizeof(*many));
	char **bodies = calloc(N, sizeof(*bodies));
	struct reply r;
	int fails = 0;

	um_bootstrap_default_config(&c);
	c.requests_per_s = c.request_burst = 1000000;
	c.verifications_per_s = c.verification_burst = 1000000;
	c.registrations_per_source = c.challenges_per_source = N;
	start(&c, NULL, NULL);
	for (int i = 0; i < N; i++) {
		um_identity_generate(&many[i]);
		bodies[i] = signed_body(UM_BOOTSTRAP_OP_REGISTER, &many[i], &many[i], true, 0);
	}
	CURL *h = curl_easy_init();
	char url[256];
	uint64_t t0 = um_now_ns();
	snprintf(url, sizeof(url), "%s/api/bootstrap/register", base);
	for (int i = 0; i < N; i++) {
		long status = 0;
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, bodies[i]);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, reply_on_data);
		memset(&r, 0, sizeof(r));
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
		fails += curl_easy_perform(h) != CURLE_OK;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		fails += status != 200;
	}
	uint64_t t1 = um_now_ns();
	snprintf(url, sizeof(url), "%s/api/bootstrap/peers", base);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	for (int i = 0; i < 3000; i++) {
		long status = 0;
		memset(&r, 0, sizeof(r));
		fails += curl_easy_perform(h) != CURLE_OK;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		fails += status != 200;
	}
	uint64_t t2 = um_now_ns();
	curl_easy_cleanup(h);
	CHECK_EQ(fails, 0);
	double reg = N / ((double)(t1 - t0) / 1e9), list = 3000 / ((double)(t2 - t1) / 1e9);
	fprintf(stderr,
		"server throughput, one keep-alive connection: register %.0f/s (pre-signed), GET peers %.0f/s\n", reg,
		list);
	CHECK(reg > 5 && list > 20); /* slack: sanitizers, a loaded machine */
	for (int i = 0; i < N; i++) {
		free(bodies[i]);
		um_identity_wipe(&many[i]);
	}
	free(bodies);
	free(many);
	stop();
}

static void test_tls(void)
{
	char dir[] = "/tmp/um_http_tlsXXXXXX", cert[96], key[96], cmd[512];
	struct reply r;

	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s -days 1 "
		 "-subj /CN=127.0.0.1 >/dev/null 2>&1",
		 key, cert);
	CHECK_EQ(system(cmd), 0);
	scheme = "https";
	start(NULL, cert, key);
	CHECK_EQ(send_signed(UM_BOOTSTRAP_OP_REGISTER, &ids[0], &ids[0], true, 0, &r), 200);
	CHECK_EQ(listed(), 1);
	/* Plain HTTP on the TLS port gets nothing useful. */
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", um_http_server_port(service->server));
	CHECK(http("GET", "/api/bootstrap/peers", NULL, 0, &r) != 200);
	stop();
	scheme = "http";
	/* A missing key file: the listener refuses to start. */
	struct um_http_server_config hc = {.certificate = cert, .key = "/nonexistent/key.pem"};
	um_addr_parse_host(&hc.listen, "127.0.0.1");
	CHECK_EQ(um_bootstrap_service_start(&service, &hc, NULL), -UM_ECONFIG);
	CHECK(service == NULL);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

int main(void)
{
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT))
		return 1;
	for (int i = 0; i < 2; i++)
		if (um_identity_generate(&ids[i]))
			return 1;
	RUN(test_endpoints);
	RUN(test_errors);
	RUN(test_limits);
	RUN(test_tls);
	RUN(test_throughput);
	for (int i = 0; i < 2; i++)
		um_identity_wipe(&ids[i]);
	curl_global_cleanup();
	return um_test_end();
}
