/* SPDX-License-Identifier: MIT */
/* The store-and-forward config keys ([node] mailbox, mailbox-delay,
 * mailbox-poll; [peer] mailbox): defaults, given values, refusals. */
#define CONFIG_TEST_FILE "mailbox.conf"
#include "config_harness.h"

static void test_defaults(void)
{
	struct um_config c;
	char err[UM_CONFIG_ERROR_MAX], text[512];

	snprintf(text, sizeof(text), "[node]\nidentity = /k\n[peer \"b\"]\nid = %s\n", id_b);
	CHECK_EQ(parse(&c, text, err), 0);
	CHECK_EQ(c.mailbox[0], 0);
	CHECK_EQ(c.mailbox_delay_ms, 10000);
	CHECK_EQ(c.mailbox_poll_ms, 30000);
	CHECK_EQ(c.peers[0].mailbox[0], 0);
	um_config_free(&c);
}

static void test_given(void)
{
	struct um_config c;
	char err[UM_CONFIG_ERROR_MAX], text[1024];

	snprintf(text, sizeof(text),
		 "[node]\nidentity = /k\nmailbox = http://203.0.113.2:8080, https://relay.example:443\n"
		 "mailbox-delay = 1ms\nmailbox-poll = 2m\n"
		 "[peer \"a\"]\nid = %s\nmailbox = http://198.51.100.9:8080\n[peer \"b\"]\nid = %s\n",
		 id_a, id_b);
	CHECK_EQ(parse(&c, text, err), 0);
	CHECK(!strcmp(c.mailbox, "http://203.0.113.2:8080, https://relay.example:443"));
	CHECK_EQ(c.mailbox_delay_ms, 1);
	CHECK_EQ(c.mailbox_poll_ms, 120000);
	CHECK(!strcmp(c.peers[0].mailbox, "http://198.51.100.9:8080"));
	CHECK_EQ(c.peers[1].mailbox[0], 0);
	um_config_free(&c);
}

static void test_errors(void)
{
	struct um_config c;
	char err[UM_CONFIG_ERROR_MAX], text[1200];

	/* The poll has a floor (each poll signs a request per mailbox). */
	CHECK(parse(&c, "[node]\nidentity = /k\nmailbox-poll = 10ms\n", err) != 0);
	CHECK(strstr(err, "mailbox-poll") != NULL);
	CHECK(parse(&c, "[node]\nidentity = /k\nmailbox-delay = soon\n", err) != 0);
	CHECK(strstr(err, "mailbox-delay") != NULL);
	CHECK(parse(&c, "[node]\nidentity = /k\nmailbox = http://a:1\nmailbox = http://b:1\n", err) != 0);
	CHECK(strstr(err, "given twice") != NULL);
	/* Longer than the field. */
	memset(text, 0, sizeof(text));
	strcpy(text, "[node]\nidentity = /k\nmailbox = ");
	memset(text + strlen(text), 'x', UM_CONFIG_MAILBOX_MAX + 10);
	strcat(text, "\n");
	CHECK(parse(&c, text, err) != 0);
	/* mailbox-poll is a [node] key. */
	snprintf(text, sizeof(text), "[node]\nidentity = /k\n[peer \"a\"]\nid = %s\nmailbox-poll = 1s\n", id_a);
	CHECK(parse(&c, text, err) != 0);
	CHECK(strstr(err, "unknown key in [peer]") != NULL);
}

int main(void)
{
	make_ids();
	RUN(test_defaults);
	RUN(test_given);
	RUN(test_errors);
	return um_test_end();
}
