/* SPDX-License-Identifier: MIT */
/* Walks the config's row table (ctl/config_rows.h): every row is well
 * formed, its default is within its bounds and parses back from its own
 * rendering, its bounds are where the row says, and every refusal names the
 * file, line and key. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/config_rows.h"
#include "relay/relay.h"

#define CONFIG_TEST_FILE "w.conf"
#include "config_harness.h"

/* A config with every default set, and one peer with its defaults (the
 * struct a [peer] row writes to). Fresh per call. */
struct fixture {
	struct um_config config;
	struct um_config_peer peer;
};

static void fixture_init(struct fixture *f)
{
	um_config_init(&f->config);
	memset(&f->peer, 0, sizeof(f->peer));
	for (size_t i = 0; i < um_config_rows_count; i++)
		if (um_config_rows[i].section == UM_SECTION_PEER)
			um_config_row_default(&um_config_rows[i], &f->peer);
}

static void *base_of(struct fixture *f, const struct um_config_row *row)
{
	return row->section == UM_SECTION_PEER ? (void *)&f->peer : (void *)&f->config;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void test_rows_well_formed(void)
{
	unsigned per_section[4] = {0};

	CHECK(um_config_rows_count > 0);
	for (size_t i = 0; i < um_config_rows_count; i++) {
		const struct um_config_row *row = &um_config_rows[i];
		CHECK(row->name && row->name[0]);
		CHECK(row->section == UM_SECTION_NODE || row->section == UM_SECTION_RELAY ||
		      row->section == UM_SECTION_PEER);
		CHECK(row->size > 0);
		CHECK(um_config_row_find(row->section, row->name) == row); /* unique per section */
		CHECK_EQ(um_config_row_bit(row), per_section[row->section]);
		per_section[row->section]++;
		if (row->type == UM_CONFIG_CUSTOM)
			CHECK(row->parse != NULL);
		if (row->type == UM_CONFIG_ENUM)
			CHECK(row->names != NULL && row->names[0] != NULL);
		if (row->type == UM_CONFIG_UINT || row->type == UM_CONFIG_CPU)
			CHECK(row->what != NULL && row->min <= row->max);
		if (row->type == UM_CONFIG_UINT)
			CHECK(row->size == 1 || row->size == 2 || row->size == 4 || row->size == 8);
		if (row->type == UM_CONFIG_UINT && row->size < 8)
			CHECK(row->max < 1ULL << (8 * row->size));
		if (row->type == UM_CONFIG_DURATION)
			CHECK(row->size == 8 && row->min >= 1 && row->max <= UM_CONFIG_DURATION_MAX_MS);
		/* These have no text a default could be: they must be optional. */
		if (row->type == UM_CONFIG_CUSTOM || row->type == UM_CONFIG_KEY || row->type == UM_CONFIG_CIDR ||
		    row->type == UM_CONFIG_ENDPOINT)
			CHECK(row->optional);
		if (row->conflict) {
			const struct um_config_row *other = um_config_row_find(row->section, row->conflict);
			CHECK(other != NULL && other->conflict && !strcmp(other->conflict, row->name));
		}
		if (row->section == UM_SECTION_NODE || row->section == UM_SECTION_RELAY) {
			/* A key of both sections that sets one field reads it alike. */
			int other_section = row->section == UM_SECTION_NODE ? UM_SECTION_RELAY : UM_SECTION_NODE;
			const struct um_config_row *twin = um_config_row_find(other_section, row->name);
			if (twin && twin->offset == row->offset)
				CHECK(twin->type == row->type && twin->def == row->def && twin->size == row->size);
		}
	}
	for (int s = 0; s < 4; s++)
		CHECK(per_section[s] <= 64); /* the seen masks are 64 bits */
}

/* Every default is within bounds and parses back from its rendering to the
 * same bytes; optional rows start zero. */
static void test_rows_defaults_round_trip(void)
{
	for (size_t i = 0; i < um_config_rows_count; i++) {
		const struct um_config_row *row = &um_config_rows[i];
		struct fixture f, g;
		struct um_config_parser p;
		char text[UM_CONFIG_PATH_MAX + 8];

		fixture_init(&f);
		const unsigned char *field = (const unsigned char *)base_of(&f, row) + row->offset;
		if (row->optional) {
			if (!all_zero(field, row->size))
				fprintf(stderr, "  row %s: optional but not zero\n", row->name);
			CHECK(all_zero(field, row->size));
			if (row->has_flag)
				CHECK(!*((bool *)((unsigned char *)base_of(&f, row) + row->flag)));
			continue;
		}
		if (row->type == UM_CONFIG_UINT || row->type == UM_CONFIG_DURATION || row->type == UM_CONFIG_CPU)
			CHECK(row->def >= row->min && row->def <= row->max);
		if (row->type == UM_CONFIG_ENUM) {
			size_t n = 0;
			while (row->names[n])
				n++;
			CHECK(row->def < n);
		}
		if (row->type == UM_CONFIG_STRING || row->type == UM_CONFIG_PATH || row->type == UM_CONFIG_IFNAME)
			CHECK(row->def_text && row->def_text[0] && strlen(row->def_text) < row->size);
		CHECK_EQ(um_config_row_render(row, base_of(&f, row), text, sizeof(text)), 0);

		/* Parse into zeroed structs, so the bytes compared were written
		 * by the parse and not left by the defaults. */
		memset(&g, 0, sizeof(g));
		um_config_parser_init(&p, &g.config, "w.conf");
		int r = um_config_row_set(&p, row, base_of(&g, row), text);
		if (r)
			fprintf(stderr, "  row %s: default '%s' refused: %s\n", row->name, text, p.error);
		CHECK_EQ(r, 0);
		CHECK_MEM((unsigned char *)base_of(&g, row) + row->offset, field, row->size);
		if (row->has_flag)
			CHECK_EQ(*(bool *)((unsigned char *)base_of(&g, row) + row->flag),
				 *(bool *)((unsigned char *)base_of(&f, row) + row->flag));
		um_config_free(&f.config);
	}
}

/* The [relay] numbers are the relay core's. */
static void test_rows_relay_defaults(void)
{
	struct um_relay_config d;
	struct um_config c;

	um_relay_default_config(&d);
	um_config_init(&c);
	CHECK_EQ(c.relay.max_nodes, d.max_nodes);
	CHECK_EQ(c.relay.registration_timeout_ms, d.registration_timeout_ns / 1000000);
	CHECK_EQ(c.relay.keepalive_interval_ms, d.keepalive_interval_s * 1000ULL);
	CHECK_EQ(c.relay.packets_per_s, d.packets_per_s);
	CHECK_EQ(c.relay.packet_burst, d.packet_burst);
	CHECK_EQ(c.relay.bytes_per_s, d.bytes_per_s);
	CHECK_EQ(c.relay.byte_burst, d.byte_burst);
	CHECK_EQ(c.relay.verifications_per_s, d.verifications_per_s);
	um_config_free(&c);
}

/* set(text) on a zeroed fixture; 0 or the error. */
static int set_text(const struct um_config_row *row, const char *text, char *error)
{
	struct fixture f;
	struct um_config_parser p;

	memset(&f, 0, sizeof(f));
	um_config_parser_init(&p, &f.config, "w.conf");
	int r = um_config_row_set(&p, row, base_of(&f, row), text);
	snprintf(error, UM_CONFIG_ERROR_MAX, "%s", p.error);
	return r;
}

/* Numbers are accepted exactly from min to max. */
static void test_rows_bounds(void)
{
	char text[64], error[UM_CONFIG_ERROR_MAX];

	for (size_t i = 0; i < um_config_rows_count; i++) {
		const struct um_config_row *row = &um_config_rows[i];
		const char *unit = row->type == UM_CONFIG_DURATION ? "ms" : "";
		if (row->type != UM_CONFIG_UINT && row->type != UM_CONFIG_DURATION && row->type != UM_CONFIG_CPU)
			continue;
		snprintf(text, sizeof(text), "%llu%s", row->min, unit);
		CHECK_EQ(set_text(row, text, error), 0);
		snprintf(text, sizeof(text), "%llu%s", row->max, unit);
		CHECK_EQ(set_text(row, text, error), 0);
		if (row->min > (row->type == UM_CONFIG_DURATION ? 1 : 0)) {
			snprintf(text, sizeof(text), "%llu%s", row->min - 1, unit);
			CHECK_EQ(set_text(row, text, error), -UM_ECONFIG);
		}
		snprintf(text, sizeof(text), "%llu%s", row->max + 1, unit);
		CHECK_EQ(set_text(row, text, error), -UM_ECONFIG);
	}
}

/* A value every type refuses, for the row's type. */
static const char *bad_value(const struct um_config_row *row, char *buf, size_t size)
{
	switch (row->type) {
	case UM_CONFIG_STRING:
		/* Too long for the field but not for a line (else the line
		 * length is refused first, without the key). */
		if (row->size + 1 > size || row->size + strlen(row->name) + 4 >= UM_CONFIG_LINE_MAX)
			return NULL;
		memset(buf, 'x', row->size);
		buf[row->size] = '\0';
		return buf; /* too long */
	case UM_CONFIG_IFNAME:
		return "a$b";
	case UM_CONFIG_CUSTOM:
		return row->section == UM_SECTION_RELAY || !strcmp(row->name, "id") ? "umbra1nonsense" : "nonsense";
	default:
		return "nonsense";
	}
}

/* Through the whole parser: each refusal is "FILE:LINE: key 'KEY': ...". */
static void test_rows_errors_name_key(void)
{
	static char value[UM_CONFIG_PATH_MAX + 2], text[UM_CONFIG_PATH_MAX + 128];
	char want[128];

	for (size_t i = 0; i < um_config_rows_count; i++) {
		const struct um_config_row *row = &um_config_rows[i];
		struct um_config c;
		char err[UM_CONFIG_ERROR_MAX];
		const char *bad = bad_value(row, value, sizeof(value));
		unsigned line;

		if (!bad)
			continue;
		if (row->section == UM_SECTION_NODE) {
			bool is_identity = !strcmp(row->name, "identity");
			snprintf(text, sizeof(text), "[node]\n%s%s = %s\n", is_identity ? "" : "identity = k\n",
				 row->name, bad);
			line = is_identity ? 2 : 3;
		} else if (row->section == UM_SECTION_RELAY) {
			snprintf(text, sizeof(text), "[relay]\n%s = %s\n", row->name, bad);
			line = 2;
		} else {
			snprintf(text, sizeof(text), "[node]\nidentity = k\n[peer \"a\"]\n%s = %s\n", row->name, bad);
			line = 4;
		}
		CHECK_EQ(parse(&c, text, err), -UM_ECONFIG);
		snprintf(want, sizeof(want), "w.conf:%u: key '%s': ", line, row->name);
		if (strncmp(err, want, strlen(want)))
			fprintf(stderr, "  row %s: got '%s'\n", row->name, err);
		CHECK(!strncmp(err, want, strlen(want)));
		CHECK_EQ(c.n_peers, 0);
	}
}

/* [node] and [relay] each have their own listen-port (two sockets); the
 * shared control-socket is refused in the second section. */
static void test_rows_sections_share_fields_only(void)
{
	struct um_config c;
	char err[UM_CONFIG_ERROR_MAX];

	CHECK_EQ(parse(&c, "[node]\nidentity = k\nlisten-port = 1000\n[relay]\nlisten-port = 2000\n", err), 0);
	CHECK_EQ(c.listen_port, 1000);
	CHECK_EQ(c.relay.listen_port, 2000);
	um_config_free(&c);
	expect_error("[relay]\ncontrol-socket = /a\n[node]\nidentity = k\ncontrol-socket = /a\n",
		     "w.conf:5: key 'control-socket': already given in [relay]");
}

int main(void)
{
	make_ids();
	RUN(test_rows_well_formed);
	RUN(test_rows_defaults_round_trip);
	RUN(test_rows_relay_defaults);
	RUN(test_rows_bounds);
	RUN(test_rows_errors_name_key);
	RUN(test_rows_sections_share_fields_only);
	return um_test_end();
}
