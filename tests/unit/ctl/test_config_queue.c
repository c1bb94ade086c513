/* SPDX-License-Identifier: MIT */
/* [relay] queue keys (issue 17): the path, TTL, count and byte limits, their
 * defaults and their errors. */
#include <stdio.h>
#include <string.h>

#define CONFIG_TEST_FILE "q.conf"
#include "config_harness.h"

static void test_defaults(void)
{
	char err[UM_CONFIG_ERROR_MAX];
	struct um_config c;

	CHECK_EQ(parse(&c, "[relay]\napi = 127.0.0.1:8080\n", err), 0);
	CHECK_EQ(c.relay.queue_path[0], 0); /* no queue unless given */
	CHECK_EQ(c.relay.queue_ttl_ms, 0);  /* the queue's default: 72 h */
	CHECK_EQ(c.relay.queue_max_messages, 100);
	CHECK_EQ(c.relay.queue_max_bytes, 1048576);
	CHECK_EQ(c.relay.queue_rate, 100);
	um_config_free(&c);
}

static void test_given(void)
{
	char err[UM_CONFIG_ERROR_MAX];
	struct um_config c;

	CHECK_EQ(parse(&c,
		       "[relay]\napi = 127.0.0.1:8080\nqueue = /var/lib/umbra/queue.db\nqueue-ttl = 90m\n"
		       "queue-max-messages = 7\nqueue-max-bytes = 65536\nqueue-rate = 5000\n",
		       err),
		 0);
	CHECK(!strcmp(c.relay.queue_path, "/var/lib/umbra/queue.db"));
	CHECK_EQ(c.relay.queue_ttl_ms, 90ULL * 60 * 1000);
	CHECK_EQ(c.relay.queue_max_messages, 7);
	CHECK_EQ(c.relay.queue_max_bytes, 65536);
	CHECK_EQ(c.relay.queue_rate, 5000);
	um_config_free(&c);
}

static void test_ttl_units(void)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} cases[] = {{"72h", 72ULL * 3600000}, {"3d", 3ULL * 86400000}, {"365d", 365ULL * 86400000}, {"45s", 45000}};
	char text[128], err[UM_CONFIG_ERROR_MAX];
	struct um_config c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[relay]\nqueue-ttl = %s\n", cases[i].text);
		CHECK_EQ(parse(&c, text, err), 0);
		CHECK_EQ(c.relay.queue_ttl_ms, cases[i].ms);
		um_config_free(&c);
	}
}

static void test_errors(void)
{
	expect_error("[relay]\nqueue-max-messages = 0\n",
		     "q.conf:2: key 'queue-max-messages': '0' is not a number between 1 and 1000000");
	expect_error("[relay]\nqueue-ttl = 10ms\n",
		     "q.conf:2: key 'queue-ttl': '10ms' is not a duration from 1 s to 365 days (e.g. 72h, 3d, 90m)");
	expect_error("[relay]\nqueue-ttl = 366d\n",
		     "q.conf:2: key 'queue-ttl': '366d' is not a duration from 1 s to 365 days (e.g. 72h, 3d, 90m)");
	expect_error("[relay]\nqueue-max-bytes = 100\n",
		     "q.conf:2: key 'queue-max-bytes': '100' is not a number of bytes from 8192 to 1099511627776");
	expect_error("[relay]\nqueue = /a\nqueue = /b\n", "q.conf:3: key 'queue': given twice in this section");
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_given);
	RUN(test_ttl_units);
	RUN(test_errors);
	return um_test_end();
}
