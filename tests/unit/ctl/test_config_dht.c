/* SPDX-License-Identifier: MIT */
/* The DHT's config keys ([node] network-key, dht, dht-k, dht-alpha,
 * dht-diversity, dht-state), a peer named by ID alone, and the control
 * socket's dht requests (node/dht.h). */
#define CONFIG_TEST_FILE "dht.conf"
#include "config_harness.h"
#include "ctl/control.h"

static void test_defaults(void)
{
	struct um_config c;
	char err[UM_CONFIG_ERROR_MAX], text[512];

	snprintf(text, sizeof(text), "[node]\nidentity = /k\n[peer \"b\"]\nid = %s\n", id_b);
	CHECK_EQ(parse(&c, text, err), 0);
	CHECK(c.dht);
	CHECK_EQ(c.dht_k, 8);
	CHECK_EQ(c.dht_alpha, 3);
	CHECK(c.dht_diversity);
	CHECK_EQ(c.network_key[0], 0);
	CHECK_EQ(c.dht_state[0], 0);
	/* A peer by ID alone: no endpoint, no relay. */
	CHECK_EQ(c.n_peers, 1);
	CHECK_EQ(c.peers[0].endpoint.family, 0);
	CHECK_EQ(c.n_relays, 0);
	um_config_free(&c);
}

static void test_given(void)
{
	struct um_config c;
	char err[UM_CONFIG_ERROR_MAX];
	const char *text = "[node]\nidentity = /k\nnetwork-key = /etc/umbra/net.key\ndht = off\ndht-k = 20\n"
			   "dht-alpha = 5\ndht-diversity = off\ndht-state = /var/lib/umbra/dht\n"
			   "bootstrap = http://203.0.113.2:8080\nbootstrap = 198.51.100.7:51820\n";

	CHECK_EQ(parse(&c, text, err), 0);
	CHECK(!c.dht);
	CHECK_EQ(c.dht_k, 20);
	CHECK_EQ(c.dht_alpha, 5);
	CHECK(!c.dht_diversity);
	CHECK(!strcmp(c.network_key, "/etc/umbra/net.key"));
	CHECK(!strcmp(c.dht_state, "/var/lib/umbra/dht"));
	CHECK_EQ(c.n_bootstrap, 2);
	um_config_free(&c);
}

static void test_errors(void)
{
	expect_error("[node]\nidentity = /k\ndht-k = 0\n",
		     "dht.conf:3: key 'dht-k': '0' is not a bucket size between 1 and 20");
	expect_error("[node]\nidentity = /k\ndht-k = 21\n",
		     "dht.conf:3: key 'dht-k': '21' is not a bucket size between 1 and 20");
	expect_error("[node]\nidentity = /k\ndht-alpha = 9\n",
		     "dht.conf:3: key 'dht-alpha': '9' is not a number of parallel requests between 1 and 8");
	expect_error("[node]\nidentity = /k\ndht = maybe\n", "dht.conf:3: key 'dht': 'maybe' is not true or false");
}

/* [relay] bootstrap, dht, dht-diversity, dht-state: the relay's DHT node,
 * its lines kept apart from [node]'s. */
static void test_relay_keys(void)
{
	struct um_config c;
	char err[UM_CONFIG_ERROR_MAX];

	CHECK_EQ(parse(&c, "[relay]\nlisten-port = 51821\n", err), 0);
	CHECK(c.relay.dht);
	CHECK(c.relay.dht_diversity);
	CHECK_EQ(c.relay.n_bootstrap, 0);
	CHECK_EQ(c.relay.dht_state[0], 0);
	um_config_free(&c);
	CHECK_EQ(parse(&c,
		       "[node]\nidentity = /k\nbootstrap = 198.51.100.7:51820\n[relay]\nlisten-port = 51821\n"
		       "bootstrap = http://203.0.113.2:8080\nbootstrap = 198.51.100.7:51820\n"
		       "bootstrap = https://relay.example:443/\ndht = off\ndht-diversity = off\ndht-state = /r.dht\n",
		       err),
		 0);
	CHECK(!c.relay.dht);
	CHECK(!c.relay.dht_diversity);
	CHECK(!strcmp(c.relay.dht_state, "/r.dht"));
	CHECK_EQ(c.relay.n_bootstrap, 3);
	CHECK(c.relay.bootstrap[0].http && !strcmp(c.relay.bootstrap[0].url, "http://203.0.113.2:8080"));
	CHECK(!c.relay.bootstrap[1].http && c.relay.bootstrap[1].udp.port == 51820);
	CHECK(!strcmp(c.relay.bootstrap[2].url, "https://relay.example:443"));
	CHECK_EQ(c.n_bootstrap, 1); /* [node]'s own */
	CHECK(c.dht);
	um_config_free(&c);
	expect_error("[relay]\nbootstrap = 1.2.3.4:5\nbootstrap = 1.2.3.4:5\n",
		     "dht.conf:3: key 'bootstrap': '1.2.3.4:5' listed twice");
	expect_error(
	    "[relay]\nbootstrap = ftp://x:1\n",
	    "dht.conf:2: key 'bootstrap': 'ftp://x:1' is not http://HOST:PORT or a UDP IPv4:port / [IPv6]:port");
}

static void test_control(void)
{
	struct um_control_request req;
	const char *r;

#define PARSE(text) um_control_parse_request(&req, text, strlen(text))
	CHECK_EQ(PARSE("dht=status\n\n"), 0);
	CHECK_EQ(req.op, UM_CONTROL_DHT);
	CHECK_EQ(req.dht, UM_CONTROL_DHT_STATUS);
	CHECK_EQ(PARSE("dht=json\n\n"), 0);
	CHECK_EQ(req.dht, UM_CONTROL_DHT_JSON);
	CHECK_EQ(PARSE("dht=other\n\n"), -UM_EINVAL);
	CHECK_EQ(PARSE("dht-lookup=alpha\n\n"), 0);
	CHECK_EQ(req.dht, UM_CONTROL_DHT_LOOKUP);
	CHECK(!strcmp(req.arg, "alpha"));
	CHECK_EQ(PARSE("dht-lookup=a b\n\n"), -UM_EINVAL);
	CHECK_EQ(PARSE("dht-result=12\n\n"), 0);
	CHECK_EQ(req.dht, UM_CONTROL_DHT_RESULT);
	CHECK_EQ(PARSE("dht-get=00ff\n\n"), 0);
	CHECK_EQ(req.dht, UM_CONTROL_DHT_GET);
	/* put: the value in value= lines, decoded and concatenated. */
	CHECK_EQ(PARSE("dht-put=00\nvalue=0102\nvalue=ff\n\n"), 0);
	CHECK_EQ(req.dht, UM_CONTROL_DHT_PUT);
	CHECK_EQ(req.value_len, 3);
	CHECK(req.value[0] == 1 && req.value[1] == 2 && req.value[2] == 0xff);
	CHECK_EQ(PARSE("dht-put=00\nvalue=012\n\n"), -UM_EINVAL); /* odd */
	CHECK_EQ(PARSE("dht-put=00\nvalue=0g\n\n"), -UM_EINVAL);  /* not hex */
	CHECK_EQ(PARSE("dht-get=00\nvalue=01\n\n"), -UM_EINVAL);  /* only put takes a value */
	CHECK_EQ(PARSE("get=1\nvalue=01\n\n"), -UM_EINVAL);
	/* At most UM_CONTROL_VALUE_MAX bytes. */
	static char big[UM_CONTROL_REQUEST_MAX];
	size_t used = (size_t)snprintf(big, sizeof(big), "dht-put=00\n");
	for (int i = 0; i < 68 && used + 260 < sizeof(big); i++)
		used += (size_t)snprintf(big + used, sizeof(big) - used, "value=%0240d\n", 0);
	big[used++] = '\n';
	r = big;
	CHECK_EQ(um_control_parse_request(&req, r, used), 0);
	CHECK_EQ(req.value_len, 68 * 120);
	used -= 1;
	used += (size_t)snprintf(big + used, sizeof(big) - used, "value=%0240d\n\n", 0);
	CHECK_EQ(um_control_parse_request(&req, big, used), -UM_EINVAL); /* 8,280 > 8,192 bytes */
#undef PARSE
}

int main(void)
{
	make_ids();
	RUN(test_defaults);
	RUN(test_given);
	RUN(test_errors);
	RUN(test_relay_keys);
	RUN(test_control);
	return um_test_end();
}
