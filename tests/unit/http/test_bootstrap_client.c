/* SPDX-License-Identifier: MIT */
/* The node's bootstrap client (http/bootstrap_client.h) against the real
 * server on 127.0.0.1: register -> peers -> peer by ID (both paths) ->
 * heartbeat -> unregister, the error codes it maps, its response parsers on
 * hostile bodies, and a throughput measurement (register: challenge + sign
 * + verify per request; GET peers) printed for docs/BENCHMARKS.md. */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "http/bootstrap_api.h"
#include "http/bootstrap_client.h"
#include "test.h"
#include "util/clock.h"
#include "util/error.h"

static struct um_identity ids[2];
static struct um_bootstrap_service *service;
static struct um_bootstrap_client client;

static void start(const struct um_bootstrap_config *rc)
{
	struct um_http_server_config hc = {0};
	struct um_bootstrap_config def;
	char url[64];

	um_addr_parse_host(&hc.listen, "127.0.0.1");
	if (!rc) {
		um_bootstrap_default_config(&def);
		def.requests_per_s = def.request_burst = 1000000;
		def.verifications_per_s = def.verification_burst = 1000000;
		def.registrations_per_source = 1000; /* every client is 127.0.0.1 */
		rc = &def;
	}
	CHECK_EQ(um_bootstrap_service_start(&service, &hc, rc), 0);
	snprintf(url, sizeof(url), "127.0.0.1:%u/", service ? um_http_server_port(service->server) : 0);
	CHECK_EQ(um_bootstrap_client_init(&client, url), 0);
	CHECK(!strncmp(client.http.base, "http://127.0.0.1:", 17));
}

static void stop(void)
{
	um_bootstrap_client_close(&client);
	um_bootstrap_service_stop(service);
	service = NULL;
}

static void test_flow(void)
{
	struct um_addr eps[2];
	struct um_bootstrap_peer peers[UM_BOOTSTRAP_LIST_MAX], p;
	size_t n = 99;
	uint64_t ttl = 0;

	start(NULL);
	um_addr_parse(&eps[0], "192.0.2.5:51820");
	um_addr_parse(&eps[1], "[2001:db8::5]:51820");
	CHECK_EQ(um_bootstrap_client_peers(&client, peers, UM_BOOTSTRAP_LIST_MAX, &n), 0);
	CHECK_EQ(n, 0);
	CHECK_EQ(um_bootstrap_client_register(&client, &ids[0], eps, 2, true, &ttl), 0);
	CHECK_EQ(ttl, 120);
	CHECK_EQ(um_bootstrap_client_register(&client, &ids[1], eps, 1, false, NULL), 0);
	CHECK_EQ(um_bootstrap_client_peers(&client, peers, UM_BOOTSTRAP_LIST_MAX, &n), 0);
	CHECK_EQ(n, 2);
	/* The private one is listed by address only. */
	CHECK_EQ(peers[0].has_id + peers[1].has_id, 1);
	const struct um_bootstrap_peer *private_one = peers[0].has_id ? &peers[1] : &peers[0];
	CHECK_EQ(private_one->n_endpoints, 1);
	CHECK(um_addr_equal(&private_one->endpoints[0], &eps[0]));
	CHECK_MEM(&(peers[0].has_id ? &peers[0] : &peers[1])->id, &ids[0].id, sizeof(ids[0].id));
	CHECK_EQ(um_bootstrap_client_peers(&client, peers, 1, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(um_bootstrap_client_peer(&client, &ids[0].id, false, &p), 0);
	CHECK_MEM(&p.id, &ids[0].id, sizeof(p.id));
	CHECK_EQ(p.n_endpoints, 2);
	CHECK(um_addr_equal(&p.endpoints[1], &eps[1]));
	CHECK_EQ(p.observed.family, UM_ADDR_IPV4);
	CHECK_EQ(um_bootstrap_client_peer(&client, &ids[0].id, true, &p), 0);
	CHECK_EQ(um_bootstrap_client_peer(&client, &ids[1].id, false, &p), -UM_ENOTFOUND);
	CHECK_EQ(um_bootstrap_client_peer(&client, &ids[1].id, true, &p), -UM_ENOTFOUND);
	CHECK_EQ(client.http.last_status, 404);
	ttl = 0;
	CHECK_EQ(um_bootstrap_client_heartbeat(&client, &ids[0], &ttl), 0);
	CHECK_EQ(ttl, 120);
	CHECK_EQ(um_bootstrap_client_unregister(&client, &ids[0]), 0);
	CHECK_EQ(um_bootstrap_client_peer(&client, &ids[0].id, false, &p), -UM_ENOTFOUND);
	CHECK_EQ(um_bootstrap_client_heartbeat(&client, &ids[0], &ttl), -UM_ENOTFOUND);
	CHECK_EQ(um_bootstrap_client_register(&client, &ids[0], eps, 0, true, NULL), -UM_EINVAL);
	/* The longest entry (8 of the longest IPv6 endpoints) comes back whole
	 * and parses (the listing's JSON is written by hand). */
	struct um_addr longest[UM_BOOTSTRAP_ENDPOINTS_MAX];
	char text[64];
	for (int i = 0; i < UM_BOOTSTRAP_ENDPOINTS_MAX; i++) {
		snprintf(text, sizeof(text), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff%d]:65535", i);
		CHECK_EQ(um_addr_parse(&longest[i], text), 0);
	}
	CHECK_EQ(um_bootstrap_client_register(&client, &ids[0], longest, UM_BOOTSTRAP_ENDPOINTS_MAX, true, NULL), 0);
	CHECK_EQ(um_bootstrap_client_peer(&client, &ids[0].id, true, &p), 0);
	CHECK_EQ(p.n_endpoints, UM_BOOTSTRAP_ENDPOINTS_MAX);
	CHECK(um_addr_equal(&p.endpoints[7], &longest[7]));
	CHECK_EQ(um_bootstrap_client_peers(&client, peers, UM_BOOTSTRAP_LIST_MAX, &n), 0);
	CHECK_EQ(n, 2);
	stop();
	/* Nobody listening: a quick -UM_EAGAIN. */
	CHECK_EQ(um_bootstrap_client_init(&client, "http://127.0.0.1:1"), 0);
	client.http.timeout_ms = 500;
	CHECK_EQ(um_bootstrap_client_peers(&client, peers, UM_BOOTSTRAP_LIST_MAX, &n), -UM_EAGAIN);
	um_bootstrap_client_close(&client);
	CHECK_EQ(um_bootstrap_client_init(&client, "ftp://127.0.0.1:1"), -UM_EINVAL);
	CHECK_EQ(um_bootstrap_client_init(&client, ""), -UM_EINVAL);
}

static void test_rate_codes(void)
{
	struct um_bootstrap_config c;
	struct um_bootstrap_peer peers[4];
	size_t n;
	int limited = 0;

	um_bootstrap_default_config(&c);
	c.request_burst = 3;
	c.requests_per_s = 1;
	start(&c);
	for (int i = 0; i < 6; i++)
		limited += um_bootstrap_client_peers(&client, peers, 4, &n) == -UM_ELIMIT;
	CHECK(limited >= 2);
	stop();
}

static void test_parsers(void)
{
	struct um_bootstrap_peer peers[3], p;
	uint8_t ch[32];
	uint64_t ttl;
	size_t n;
	char id[UM_PEER_ID_TEXT_MAX], body[512];

	um_peer_id_format(&ids[0].id, id, sizeof(id));
	CHECK_EQ(um_bootstrap_client_parse_challenge("{}", 2, ch), -UM_ETRUNC);
	CHECK_EQ(um_bootstrap_client_parse_challenge("{\"challenge\":\"AAAA\"}", 20, ch), -UM_ETRUNC);
	CHECK_EQ(um_bootstrap_client_parse_ttl("{\"ttl\":-1}", 10, &ttl), -UM_ETRUNC);
	CHECK_EQ(um_bootstrap_client_parse_ttl("{\"ttl\":7}", 9, &ttl), 0);
	CHECK_EQ(ttl, 7);
	CHECK_EQ(um_bootstrap_client_parse_peer("[]", 2, &p), -UM_ETRUNC);
	snprintf(body, sizeof(body), "{\"peer_id\":\"%s\",\"endpoints\":[\"1.2.3.4:0\"]}", id);
	CHECK_EQ(um_bootstrap_client_parse_peer(body, strlen(body), &p), -UM_ETRUNC);
	snprintf(
	    body, sizeof(body),
	    "{\"peers\":[{\"peer_id\":\"bad\",\"endpoints\":[]},{\"peer_id\":\"%s\",\"endpoints\":[\"1.2.3.4:5\"]},"
	    "7,{\"peer_id\":\"%s\",\"endpoints\":[]},{\"peer_id\":\"%s\",\"endpoints\":[]}]}",
	    id, id, id);
	CHECK_EQ(um_bootstrap_client_parse_peers(body, strlen(body), peers, 2, &n), 0);
	CHECK_EQ(n, 2); /* the bad entries skipped, capped at max */
	CHECK_EQ(peers[0].n_endpoints, 1);
	CHECK_EQ(um_bootstrap_client_parse_peers("{\"peers\":{}}", 12, peers, 2, &n), -UM_ETRUNC);
}

/* Requests per second, one client, one connection at a time (keep-alive
 * reused by the curl handle). Printed; asserted only to be non-trivial. */
static void test_throughput(void)
{
	struct um_identity *many = calloc(200, sizeof(*many));
	struct um_bootstrap_peer peers[UM_BOOTSTRAP_LIST_MAX];
	struct um_addr ep;
	size_t n;
	int fails = 0;

	start(NULL);
	um_addr_parse(&ep, "192.0.2.9:51820");
	for (int i = 0; i < 200; i++)
		um_identity_generate(&many[i]);
	uint64_t t0 = um_now_ns();
	for (int i = 0; i < 200; i++)
		fails += um_bootstrap_client_register(&client, &many[i], &ep, 1, true, NULL) != 0;
	uint64_t t1 = um_now_ns();
	for (int i = 0; i < 2000; i++)
		fails += um_bootstrap_client_peers(&client, peers, UM_BOOTSTRAP_LIST_MAX, &n) != 0 || n != 20;
	uint64_t t2 = um_now_ns();
	CHECK_EQ(fails, 0);
	double reg = 200.0 / ((double)(t1 - t0) / 1e9), list = 2000.0 / ((double)(t2 - t1) / 1e9);
	fprintf(stderr,
		"throughput: register %.0f/s (challenge + sign + register, client and server on one machine), "
		"GET peers %.0f/s (20 of 200 listed)\n",
		reg, list);
	CHECK(reg > 2 && list > 20); /* slack: sanitizers, a loaded machine */
	for (int i = 0; i < 200; i++)
		um_identity_wipe(&many[i]);
	free(many);
	stop();
}

int main(void)
{
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT))
		return 1;
	for (int i = 0; i < 2; i++)
		if (um_identity_generate(&ids[i]))
			return 1;
	RUN(test_flow);
	RUN(test_rate_codes);
	RUN(test_parsers);
	RUN(test_throughput);
	for (int i = 0; i < 2; i++)
		um_identity_wipe(&ids[i]);
	curl_global_cleanup();
	return um_test_end();
}
