/* SPDX-License-Identifier: MIT */
/* The config keys as typed rows (as Redis' static_configs[]): one row per
 * key and section says where the value lives, its type, default and bounds;
 * one generic routine parses, validates, sets defaults and words errors.
 * What a type cannot say (repeatable relay/stun lines, lists, a peer ID
 * unique across peers, keys that exclude each other's side effects) is a
 * small parser named in the row (UM_CONFIG_CUSTOM).
 *
 * Internal to ctl/ (config.c, config_keys.c, config_values.c) and its unit
 * tests; the public interface stays ctl/config.h. */
#ifndef UM_CTL_CONFIG_ROWS_H
#define UM_CTL_CONFIG_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/config.h"

enum um_config_type {
	UM_CONFIG_BOOL,     /* true|yes|on or false|no|off; bool */
	UM_CONFIG_UINT,     /* decimal in [min, max]; unsigned field of 1, 2, 4 or 8 bytes */
	UM_CONFIG_DURATION, /* um_duration_parse(), then [min, max] ms; uint64_t */
	UM_CONFIG_STRING,   /* non-empty text shorter than the char array */
	UM_CONFIG_PATH,     /* a STRING that must be an absolute path */
	UM_CONFIG_IFNAME,   /* a STRING of interface-name characters; with a flag,
			     * "none" sets the flag instead (no interface) */
	UM_CONFIG_ENUM,     /* one of names[] (value = index); an enum field */
	UM_CONFIG_CIDR,     /* struct um_addr_prefix (host bits kept) */
	UM_CONFIG_ENDPOINT, /* struct um_addr (numeric, port > 0) */
	UM_CONFIG_KEY,      /* 2 * UM_CONFIG_KEY_BYTES hex digits; a secret, never rendered */
	UM_CONFIG_CPU,      /* a CPU number in [min, max] or "none" (flag false); unsigned */
	UM_CONFIG_CUSTOM,   /* row->parse does it all */
};

/* How a UINT row words its range in errors: "'x' is not <what> ...". */
enum um_config_range_words {
	UM_CONFIG_WORDS_PAREN,   /* "(min-max)" */
	UM_CONFIG_WORDS_BETWEEN, /* "between min and max" */
	UM_CONFIG_WORDS_FROM_TO, /* "from min to max" */
};

/* The longest duration um_duration_parse() accepts (1 day), in ms. */
#define UM_CONFIG_DURATION_MAX_MS (86400ULL * 1000)

struct um_config_row;
/* A custom row's parser: value is non-empty and NUL-terminated; errors via
 * um_config_fail(). Returns 0, -UM_ECONFIG or -UM_ENOMEM. */
typedef int (*um_config_row_parse_fn)(struct um_config_parser *p, const struct um_config_row *row, const char *value);

struct um_config_row {
	const char *name;
	int section; /* UM_SECTION_NODE, _RELAY or _PEER */
	enum um_config_type type;
	/* The field, in struct um_config ([node], [relay]) or struct
	 * um_config_peer ([peer]). */
	size_t offset, size;
	/* A bool in the same struct set to true when the key is given (and,
	 * for CPU rows, false for "none"); has_flag false: none. */
	size_t flag;
	bool has_flag;
	/* Default (numbers, ms, enum index, bool) and bounds (UINT, DURATION,
	 * CPU); def_text for the string types. optional: no default, the
	 * field stays zero / empty until given. */
	unsigned long long def, min, max;
	const char *def_text;
	bool optional;
	const char *what; /* UINT, CPU: "a port number", for errors */
	enum um_config_range_words words;
	const char *const *names; /* ENUM, NULL-terminated */
	const char *conflict;     /* a key of this section that excludes this one */
	um_config_row_parse_fn parse;
	bool repeatable; /* may be given more than once (lists, relay/stun lines) */
	bool required;   /* the section is incomplete without it */
	bool reloadable; /* may change without a restart (nothing reloads yet) */
};

extern const struct um_config_row um_config_rows[];
extern const size_t um_config_rows_count;

/* The row for key `name` in `section`, or NULL. */
const struct um_config_row *um_config_row_find(int section, const char *name);
/* The row's bit in its section's `seen` mask (the rows of one section are
 * numbered in table order; at most 64 per section). */
unsigned um_config_row_bit(const struct um_config_row *row);
/* The struct a row of this section writes to: the config for [node] and
 * [relay], the current (last) peer for [peer]. */
void *um_config_row_base(struct um_config_parser *p, int section);

/* Sets the row's default in base (the struct for its section). */
void um_config_row_default(const struct um_config_row *row, void *base);
/* Parses value (non-empty) into the row's field in base; errors name the
 * key via um_config_fail(). Returns 0, -UM_ECONFIG or -UM_ENOMEM. */
int um_config_row_set(struct um_config_parser *p, const struct um_config_row *row, void *base, const char *value);
/* Renders the row's current value in base as config text that
 * um_config_row_set() accepts. -UM_EINVAL for CUSTOM and KEY rows (lists,
 * secrets), -UM_ERANGE when out is too small. */
int um_config_row_render(const struct um_config_row *row, const void *base, char *out, size_t out_size);

/* Sets p->error to "FILE:LINE: key 'KEY': reason" (or "FILE:LINE: reason"
 * when key is NULL). Returns -UM_ECONFIG. */
__attribute__((format(printf, 3, 4))) int um_config_fail(struct um_config_parser *p, const char *key, const char *fmt,
							 ...);

#endif
