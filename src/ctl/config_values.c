/* SPDX-License-Identifier: MIT */
/* The config's value parsers: numbers, durations, CIDR prefixes and
 * endpoints (pure string functions, no I/O, shared by the config parser,
 * the control protocol and tests; declared in ctl/config.h), and the typed
 * rows' one routine that sets defaults, parses, validates and renders every
 * key by its type (ctl/config_rows.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl/config.h"
#include "ctl/config_rows.h"
#include "util/error.h"
#include "util/json.h"

int um_config_parse_uint(const char *text, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (!isdigit((unsigned char)text[0]))
		return -UM_EINVAL;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno == ERANGE || v > max)
		return -UM_ERANGE;
	if (*end)
		return -UM_EINVAL;
	*out = v;
	return 0;
}

int um_duration_parse(const char *text, uint64_t *ms)
{
	char number[24];
	size_t digits = strspn(text, "0123456789");
	const char *unit = text + digits;
	unsigned long long v, scale;

	if (digits == 0 || digits >= sizeof(number))
		return digits ? -UM_ERANGE : -UM_EINVAL;
	memcpy(number, text, digits);
	number[digits] = '\0';
	if (!*unit || !strcmp(unit, "s"))
		scale = 1000;
	else if (!strcmp(unit, "ms"))
		scale = 1;
	else if (!strcmp(unit, "m"))
		scale = 60 * 1000;
	else
		return -UM_EINVAL;
	int r = um_config_parse_uint(number, 86400ULL * 1000, &v);
	if (r)
		return r;
	if (v == 0 || v * scale > 86400ULL * 1000)
		return -UM_ERANGE;
	*ms = v * scale;
	return 0;
}

/* ---- typed rows (ctl/config_rows.h): the one routine behind every key ---- */

static void *field_of(const struct um_config_row *row, void *base)
{
	return (uint8_t *)base + row->offset;
}

static void set_flag(const struct um_config_row *row, void *base, bool value)
{
	if (row->has_flag)
		*(bool *)((uint8_t *)base + row->flag) = value;
}

static void store_uint(const struct um_config_row *row, void *base, unsigned long long v)
{
	void *f = field_of(row, base);

	switch (row->size) {
	case 1:
		*(uint8_t *)f = (uint8_t)v;
		break;
	case 2:
		*(uint16_t *)f = (uint16_t)v;
		break;
	case 4:
		*(uint32_t *)f = (uint32_t)v;
		break;
	default:
		*(uint64_t *)f = (uint64_t)v;
		break;
	}
}

static unsigned long long load_uint(const struct um_config_row *row, const void *base)
{
	const void *f = (const uint8_t *)base + row->offset;

	switch (row->size) {
	case 1:
		return *(const uint8_t *)f;
	case 2:
		return *(const uint16_t *)f;
	case 4:
		return *(const uint32_t *)f;
	default:
		return *(const uint64_t *)f;
	}
}

void um_config_row_default(const struct um_config_row *row, void *base)
{
	void *f = field_of(row, base);

	if (row->type == UM_CONFIG_CUSTOM || row->optional)
		return;
	switch (row->type) {
	case UM_CONFIG_BOOL:
		*(bool *)f = row->def != 0;
		break;
	case UM_CONFIG_STRING:
	case UM_CONFIG_PATH:
	case UM_CONFIG_IFNAME:
		snprintf(f, row->size, "%s", row->def_text ? row->def_text : "");
		break;
	case UM_CONFIG_ENUM:
		*(int *)f = (int)row->def;
		break;
	case UM_CONFIG_CPU:
		store_uint(row, base, row->def);
		set_flag(row, base, true);
		break;
	case UM_CONFIG_UINT:
	case UM_CONFIG_DURATION:
		store_uint(row, base, row->def);
		break;
	default:
		break; /* CIDR, ENDPOINT, KEY: always optional */
	}
}

/* "1 h", "65535 s", "500 ms": a duration as errors word it. */
static void duration_words(uint64_t ms, char *out, size_t size)
{
	if (ms % 3600000 == 0)
		snprintf(out, size, "%llu h", (unsigned long long)(ms / 3600000));
	else if (ms % 1000 == 0)
		snprintf(out, size, "%llu s", (unsigned long long)(ms / 1000));
	else
		snprintf(out, size, "%llu ms", (unsigned long long)ms);
}

static int set_uint(struct um_config_parser *p, const struct um_config_row *row, void *base, const char *v)
{
	unsigned long long n;

	if (um_config_parse_uint(v, row->max, &n) == 0 && n >= row->min) {
		store_uint(row, base, n);
		return 0;
	}
	switch (row->words) {
	case UM_CONFIG_WORDS_BETWEEN:
		return um_config_fail(p, row->name, "'%s' is not %s between %llu and %llu", v, row->what, row->min,
				      row->max);
	case UM_CONFIG_WORDS_FROM_TO:
		return um_config_fail(p, row->name, "'%s' is not %s from %llu to %llu", v, row->what, row->min,
				      row->max);
	default:
		return um_config_fail(p, row->name, "'%s' is not %s (%llu-%llu)", v, row->what, row->min, row->max);
	}
}

static int set_duration(struct um_config_parser *p, const struct um_config_row *row, void *base, const char *v)
{
	uint64_t ms;
	char low[32], high[32];

	if (um_duration_parse(v, &ms))
		return um_config_fail(p, row->name, "'%s' is not a duration (e.g. 15, 15s, 500ms, 2m; at most 1 day)",
				      v);
	if (ms < row->min || ms > row->max) {
		duration_words(row->min, low, sizeof(low));
		duration_words(row->max, high, sizeof(high));
		if (row->max >= UM_CONFIG_DURATION_MAX_MS)
			return um_config_fail(p, row->name, "at least %s", low);
		return um_config_fail(p, row->name, "between %s and %s", low, high);
	}
	store_uint(row, base, ms);
	return 0;
}

static int set_string(struct um_config_parser *p, const struct um_config_row *row, void *base, const char *v)
{
	size_t len = strlen(v);

	if (row->type == UM_CONFIG_PATH && v[0] != '/')
		return um_config_fail(p, row->name, "must be an absolute path");
	if (row->type == UM_CONFIG_IFNAME)
		for (const char *c = v; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
				return um_config_fail(p, row->name,
						      "interface names use letters, digits, '-', '_', '.'");
	if (len >= row->size)
		return um_config_fail(p, row->name, "too long (at most %zu bytes)", row->size - 1);
	memcpy(field_of(row, base), v, len + 1);
	return 0;
}

static int set_enum(struct um_config_parser *p, const struct um_config_row *row, void *base, const char *v)
{
	char list[128] = "";
	size_t n = 0, used = 0;

	for (; row->names[n]; n++) {
		if (!strcmp(v, row->names[n])) {
			*(int *)field_of(row, base) = (int)n;
			return 0;
		}
	}
	/* "a, b, c or d" */
	for (size_t i = 0; i < n && used < sizeof(list); i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%s",
				 i == 0       ? ""
				 : i + 1 == n ? " or "
					      : ", ",
				 row->names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return um_config_fail(p, row->name, "'%s' is not %s", v, list);
}

static int set_key(struct um_config_parser *p, const struct um_config_row *row, void *base, const char *v)
{
	size_t len = 0;
	uint8_t key[UM_CONFIG_KEY_BYTES];
	int r = 0;

	if (strlen(v) != 2 * UM_CONFIG_KEY_BYTES || um_json_hex_decode(key, sizeof(key), &len, v, strlen(v)) ||
	    len != sizeof(key)) {
		r = um_config_fail(p, row->name, "not a key of %d hex digits", 2 * UM_CONFIG_KEY_BYTES);
		goto out;
	}
	memcpy(field_of(row, base), key, sizeof(key));
out:
	sodium_memzero(key, sizeof(key));
	return r;
}

int um_config_row_set(struct um_config_parser *p, const struct um_config_row *row, void *base, const char *v)
{
	unsigned long long n;
	int r = 0;

	switch (row->type) {
	case UM_CONFIG_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
			*(bool *)field_of(row, base) = true;
		else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
			*(bool *)field_of(row, base) = false;
		else
			return um_config_fail(p, row->name, "'%s' is not true or false", v);
		break;
	case UM_CONFIG_UINT:
		r = set_uint(p, row, base, v);
		break;
	case UM_CONFIG_DURATION:
		r = set_duration(p, row, base, v);
		break;
	case UM_CONFIG_IFNAME:
		if (row->has_flag) {
			/* "none": no interface; the name keeps its default. */
			bool none = !strcmp(v, "none");
			set_flag(row, base, none);
			return none ? 0 : set_string(p, row, base, v);
		}
		r = set_string(p, row, base, v);
		break;
	case UM_CONFIG_STRING:
	case UM_CONFIG_PATH:
		r = set_string(p, row, base, v);
		break;
	case UM_CONFIG_ENUM:
		r = set_enum(p, row, base, v);
		break;
	case UM_CONFIG_CIDR:
		if (um_addr_prefix_parse(field_of(row, base), v, true))
			return um_config_fail(p, row->name, "'%s' is not an address/prefix", v);
		break;
	case UM_CONFIG_ENDPOINT:
		if (um_addr_parse(field_of(row, base), v))
			return um_config_fail(p, row->name, "'%s' is not IPv4:port or [IPv6]:port", v);
		break;
	case UM_CONFIG_KEY:
		r = set_key(p, row, base, v);
		break;
	case UM_CONFIG_CPU:
		if (!strcmp(v, "none")) {
			set_flag(row, base, false);
			return 0;
		}
		if (um_config_parse_uint(v, row->max, &n) || n < row->min)
			return um_config_fail(p, row->name, "'%s' is not %s (%llu-%llu) or none", v, row->what,
					      row->min, row->max);
		store_uint(row, base, n);
		break;
	case UM_CONFIG_CUSTOM:
		return row->parse(p, row, v);
	}
	if (r == 0)
		set_flag(row, base, true);
	return r;
}

int um_config_row_render(const struct um_config_row *row, const void *base, char *out, size_t out_size)
{
	const void *f = (const uint8_t *)base + row->offset;
	unsigned long long v;
	int n;

	switch (row->type) {
	case UM_CONFIG_BOOL:
		n = snprintf(out, out_size, "%s", *(const bool *)f ? "true" : "false");
		break;
	case UM_CONFIG_UINT:
		n = snprintf(out, out_size, "%llu", load_uint(row, base));
		break;
	case UM_CONFIG_DURATION:
		v = load_uint(row, base);
		if (v && v % 60000 == 0)
			n = snprintf(out, out_size, "%llum", v / 60000);
		else if (v % 1000 == 0)
			n = snprintf(out, out_size, "%llus", v / 1000);
		else
			n = snprintf(out, out_size, "%llums", v);
		break;
	case UM_CONFIG_IFNAME:
		if (row->has_flag && *(const bool *)((const uint8_t *)base + row->flag)) {
			n = snprintf(out, out_size, "none");
			break;
		}
		/* fall through */
	case UM_CONFIG_STRING:
	case UM_CONFIG_PATH:
		n = snprintf(out, out_size, "%.*s", (int)row->size, (const char *)f);
		break;
	case UM_CONFIG_ENUM: {
		int i = *(const int *)f;
		n = snprintf(out, out_size, "%s", i >= 0 ? row->names[i] : "?");
		break;
	}
	case UM_CONFIG_CIDR:
		return um_addr_prefix_format(f, out, out_size);
	case UM_CONFIG_ENDPOINT:
		return um_addr_format(f, out, out_size);
	case UM_CONFIG_CPU:
		if (row->has_flag && !*(const bool *)((const uint8_t *)base + row->flag))
			n = snprintf(out, out_size, "none");
		else
			n = snprintf(out, out_size, "%llu", load_uint(row, base));
		break;
	default:
		return -UM_EINVAL; /* KEY (a secret), CUSTOM (lists, repeated lines) */
	}
	return n < 0 || (size_t)n >= out_size ? -UM_ERANGE : 0;
}
