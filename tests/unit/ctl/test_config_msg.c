/* SPDX-License-Identifier: MIT */
/* The messaging config keys ([node] device = none, store, download-dir,
 * max-file-size; [peer] accept-files): defaults, given values, and refusals
 * that name file, line and key. */
#define CONFIG_TEST_FILE "msg.conf"
#include "config_harness.h"
#include "ctl/config_rows.h"

static void test_defaults(void)
{
	struct um_config c;
	char err[UM_CONFIG_ERROR_MAX], text[512];

	snprintf(text, sizeof(text), "[node]\nidentity = /k\n[peer \"b\"]\nid = %s\n", id_b);
	CHECK_EQ(parse(&c, text, err), 0);
	CHECK(!c.no_device);
	CHECK(!strcmp(c.device, UM_CONFIG_DEFAULT_DEVICE));
	CHECK_EQ(c.store_path[0], 0);
	CHECK_EQ(c.download_dir[0], 0);
	CHECK_EQ(c.max_file_size, 4ULL * 1024 * 1024 * 1024);
	CHECK_EQ(c.n_peers, 1);
	CHECK_EQ(c.peers[0].accept_files, UM_ACCEPT_ASK);
	um_config_free(&c);
}

static void test_given(void)
{
	struct um_config c;
	char err[UM_CONFIG_ERROR_MAX], text[1024];

	snprintf(text, sizeof(text),
		 "[node]\nidentity = /k\ndevice = none\nstore = /var/lib/umbra/m.db\n"
		 "download-dir = /home/u/Downloads\nmax-file-size = 1048576\n"
		 "[peer \"a\"]\nid = %s\naccept-files = always\n[peer \"b\"]\nid = %s\naccept-files = never\n",
		 id_a, id_b);
	CHECK_EQ(parse(&c, text, err), 0);
	CHECK(c.no_device);
	CHECK(!strcmp(c.device, UM_CONFIG_DEFAULT_DEVICE)); /* the name keeps its default */
	CHECK(!strcmp(c.store_path, "/var/lib/umbra/m.db"));
	CHECK(!strcmp(c.download_dir, "/home/u/Downloads"));
	CHECK_EQ(c.max_file_size, 1048576);
	CHECK_EQ(c.n_peers, 2);
	CHECK_EQ(c.peers[0].accept_files, UM_ACCEPT_ALWAYS);
	CHECK_EQ(c.peers[1].accept_files, UM_ACCEPT_NEVER);
	um_config_free(&c);

	/* An ordinary name is a device, not "none". */
	CHECK_EQ(parse(&c, "[node]\nidentity = /k\ndevice = um7\n", err), 0);
	CHECK(!c.no_device);
	CHECK(!strcmp(c.device, "um7"));
	um_config_free(&c);

	/* The largest file size. */
	CHECK_EQ(parse(&c, "[node]\nidentity = /k\nmax-file-size = 1125899906842624\n", err), 0);
	CHECK_EQ(c.max_file_size, 1ULL << 50);
	um_config_free(&c);
}

/* device renders "none" when none was given, and parses back to the flag. */
static void test_device_none_round_trip(void)
{
	const struct um_config_row *row = um_config_row_find(UM_SECTION_NODE, "device");
	struct um_config c, d;
	struct um_config_parser p;
	char text[64];

	CHECK(row != NULL);
	um_config_init(&c);
	um_config_parser_init(&p, &c, "msg.conf");
	CHECK_EQ(um_config_row_set(&p, row, &c, "none"), 0);
	CHECK(c.no_device);
	CHECK_EQ(um_config_row_render(row, &c, text, sizeof(text)), 0);
	CHECK(!strcmp(text, "none"));
	um_config_init(&d);
	um_config_parser_init(&p, &d, "msg.conf");
	CHECK_EQ(um_config_row_set(&p, row, &d, text), 0);
	CHECK(d.no_device);
	/* A name after none (another parse of the same struct) clears it. */
	CHECK_EQ(um_config_row_set(&p, row, &d, "um1"), 0);
	CHECK(!d.no_device);
	CHECK(!strcmp(d.device, "um1"));
	CHECK_EQ(um_config_row_render(row, &d, text, sizeof(text)), 0);
	CHECK(!strcmp(text, "um1"));
	um_config_free(&c);
	um_config_free(&d);
}

static void test_errors(void)
{
	char text[512], want[256];

	expect_error("[node]\nidentity = /k\ndevice = no$ne\n",
		     "msg.conf:3: key 'device': interface names use letters, digits, '-', '_', '.'");
	expect_error("[node]\nidentity = /k\ndevice = none\ndevice = none\n",
		     "msg.conf:4: key 'device': given twice in this section");
	expect_error("[node]\nidentity = /k\nstore = messages.db\n",
		     "msg.conf:3: key 'store': must be an absolute path");
	expect_error("[node]\nidentity = /k\ndownload-dir = ./dl\n",
		     "msg.conf:3: key 'download-dir': must be an absolute path");
	expect_error("[node]\nidentity = /k\nmax-file-size = 0\n",
		     "msg.conf:3: key 'max-file-size': '0' is not a number of bytes from 1 to 1125899906842624");
	expect_error("[node]\nidentity = /k\nmax-file-size = 1125899906842625\n",
		     "msg.conf:3: key 'max-file-size': '1125899906842625' is not a number of bytes from 1 to "
		     "1125899906842624");
	expect_error("[node]\nidentity = /k\nmax-file-size = 4G\n",
		     "msg.conf:3: key 'max-file-size': '4G' is not a number of bytes from 1 to 1125899906842624");
	expect_error("[node]\nidentity = /k\nmax-file-size = -1\n",
		     "msg.conf:3: key 'max-file-size': '-1' is not a number of bytes from 1 to 1125899906842624");
	snprintf(text, sizeof(text), "[node]\nidentity = /k\n[peer \"a\"]\nid = %s\naccept-files = maybe\n", id_a);
	snprintf(want, sizeof(want), "msg.conf:5: key 'accept-files': 'maybe' is not ask, always or never");
	expect_error(text, want);
	/* accept-files is a [peer] key, store a [node] key. */
	expect_error("[node]\nidentity = /k\naccept-files = always\n",
		     "msg.conf:3: key 'accept-files': unknown key in [node]");
	snprintf(text, sizeof(text), "[node]\nidentity = /k\n[peer \"a\"]\nid = %s\nstore = /m.db\n", id_a);
	expect_error(text, "msg.conf:5: key 'store': unknown key in [peer]");
}

int main(void)
{
	make_ids();
	RUN(test_defaults);
	RUN(test_given);
	RUN(test_device_none_round_trip);
	RUN(test_errors);
	return um_test_end();
}
