/* SPDX-License-Identifier: MIT */
/* The bootstrap config keys (ctl/config_keys.c): [relay] api,
 * api-certificate, api-key; [node] bootstrap (http(s)://HOST:PORT or a UDP
 * IP:PORT, repeatable). */
#include <string.h>

#include "ctl/config.h"
#include "test.h"
#include "util/error.h"

static int parse(struct um_config *c, const char *text, char *err)
{
	return um_config_parse_buffer(c, text, strlen(text), "b.conf", err, UM_CONFIG_ERROR_MAX);
}

static void expect_error(const char *text, const char *want)
{
	char err[UM_CONFIG_ERROR_MAX] = "";
	struct um_config c;

	CHECK_EQ(parse(&c, text, err), -UM_ECONFIG);
	if (strcmp(err, want))
		fprintf(stderr, "  got  '%s'\n  want '%s'\n", err, want);
	CHECK(!strcmp(err, want));
}

static void test_relay_api(void)
{
	char err[UM_CONFIG_ERROR_MAX];
	struct um_config c;

	CHECK_EQ(parse(&c, "[relay]\n", err), 0);
	CHECK_EQ(c.relay.api.family, UM_ADDR_NONE);
	um_config_free(&c);
	CHECK_EQ(parse(&c, "[relay]\napi = 127.0.0.1:8080\n", err), 0);
	CHECK_EQ(c.relay.api.family, UM_ADDR_IPV4);
	CHECK_EQ(c.relay.api.port, 8080);
	CHECK_EQ(c.relay.api_certificate[0], 0);
	um_config_free(&c);
	CHECK_EQ(parse(&c, "[relay]\napi = [::1]:443\napi-certificate = /c.pem\napi-key = /k.pem\n", err), 0);
	CHECK_EQ(c.relay.api.family, UM_ADDR_IPV6);
	CHECK(!strcmp(c.relay.api_certificate, "/c.pem"));
	CHECK(!strcmp(c.relay.api_key, "/k.pem"));
	um_config_free(&c);
	expect_error("[relay]\napi = 127.0.0.1\n", "b.conf:2: key 'api': '127.0.0.1' is not IPv4:port or [IPv6]:port");
	expect_error("[relay]\napi = 127.0.0.1:1\napi-key = /k\n",
		     "b.conf: [relay]: key 'api-certificate': required with the other API keys");
	expect_error("[relay]\napi = 127.0.0.1:1\napi-certificate = /c\n",
		     "b.conf: [relay]: key 'api-key': required with the other API keys");
	expect_error("[relay]\napi-certificate = /c\napi-key = /k\n",
		     "b.conf: [relay]: key 'api': required with the other API keys");
	expect_error("[node]\nidentity = /k\napi = 127.0.0.1:1\n", "b.conf:3: key 'api': unknown key in [node]");
}

static void test_node_bootstrap(void)
{
	char err[UM_CONFIG_ERROR_MAX];
	struct um_config c;

	CHECK_EQ(parse(&c,
		       "[node]\nidentity = /k\nbootstrap = http://relay.example.net:8080\n"
		       "bootstrap = https://[2001:db8::1]:443/\nbootstrap = 203.0.113.5:51820\n"
		       "bootstrap = http://203.0.113.5:8080\n",
		       err),
		 0);
	CHECK_EQ(c.n_bootstrap, 4);
	CHECK(c.bootstrap[0].http);
	CHECK(!strcmp(c.bootstrap[0].url, "http://relay.example.net:8080"));
	CHECK(!strcmp(c.bootstrap[1].url, "https://[2001:db8::1]:443"));
	CHECK(!c.bootstrap[2].http);
	CHECK_EQ(c.bootstrap[2].udp.port, 51820);
	CHECK(c.bootstrap[3].http);
	um_config_free(&c);
	CHECK_EQ(parse(&c, "[node]\nidentity = /k\n", err), 0);
	CHECK_EQ(c.n_bootstrap, 0);
	um_config_free(&c);
	expect_error("[node]\nidentity = /k\nbootstrap = http://relay.example.net\n",
		     "b.conf:3: key 'bootstrap': 'http://relay.example.net' is not http://HOST:PORT or "
		     "https://HOST:PORT");
	expect_error("[node]\nidentity = /k\nbootstrap = http://a:0\n",
		     "b.conf:3: key 'bootstrap': 'http://a:0': not a port number (1-65535)");
	expect_error("[node]\nidentity = /k\nbootstrap = http://a b:1\n",
		     "b.conf:3: key 'bootstrap': 'http://a b:1' is not http://HOST:PORT or https://HOST:PORT");
	expect_error("[node]\nidentity = /k\nbootstrap = ftp://a:1\n",
		     "b.conf:3: key 'bootstrap': 'ftp://a:1' is not http://HOST:PORT or a UDP IPv4:port / "
		     "[IPv6]:port");
	expect_error("[node]\nidentity = /k\nbootstrap = relay.example.net:1\n",
		     "b.conf:3: key 'bootstrap': 'relay.example.net:1' is not http://HOST:PORT or a UDP "
		     "IPv4:port / [IPv6]:port");
	expect_error("[node]\nidentity = /k\nbootstrap = 1.2.3.4:5\nbootstrap = 1.2.3.4:5\n",
		     "b.conf:4: key 'bootstrap': '1.2.3.4:5' listed twice");
	char many[1024] = "[node]\nidentity = /k\n";
	for (int i = 0; i < 9; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "bootstrap = 10.0.0.%d:1\n", i + 1);
	expect_error(many, "b.conf:11: key 'bootstrap': more than 8 bootstrap lines");
}

int main(void)
{
	RUN(test_relay_api);
	RUN(test_node_bootstrap);
	return um_test_end();
}
