/* SPDX-License-Identifier: MIT */
/* A small strict JSON (RFC 8259) parser for untrusted input.
 *
 * um_json_parse() reads the whole text into a read-only tree owned by a
 * document; every value pointer stays valid until um_json_free(). Strict:
 * no comments, no trailing commas, no leading zeros, no BOM, no control
 * characters or invalid UTF-8 in strings, no lone surrogates in \u escapes,
 * no duplicate keys in an object, no trailing garbage. Nesting depth and
 * total memory are bounded (struct um_json_limits). The parser never reads
 * outside [text, text + len) and does not need a terminating NUL.
 *
 * Accessors accept NULL and values of the wrong type, and then return
 * NULL / 0 / an error, so lookups can be chained without checks at each step.
 * Arrays and objects are stored contiguously: indexing is O(1), key lookup
 * is a linear scan (objects in our inputs are small). */
#ifndef UM_UTIL_JSON_H
#define UM_UTIL_JSON_H

#include <stddef.h>
#include <stdint.h>

enum um_json_type {
	UM_JSON_NONE = 0, /* "no value": what the accessors report for NULL */
	UM_JSON_NULL,
	UM_JSON_FALSE,
	UM_JSON_TRUE,
	UM_JSON_NUMBER,
	UM_JSON_STRING,
	UM_JSON_ARRAY,
	UM_JSON_OBJECT,
};

struct um_json_doc;
struct um_json_value;

struct um_json_limits {
	unsigned max_depth; /* arrays/objects nested deeper are rejected; 0 = default (64) */
	size_t max_memory;  /* bytes the tree may use; 0 = default (256 MiB) */
};

/* Where parsing stopped and why (static text), for error messages. */
struct um_json_error {
	size_t offset;
	size_t line; /* 1-based */
	const char *message;
};

/* Parses text[0..len). On success *doc_out owns a new document (free with
 * um_json_free). Returns 0, -UM_EINVAL (syntax, with err filled in if given),
 * -UM_ELIMIT (depth or memory limit) or -UM_ENOMEM. limits and err may be NULL. */
int um_json_parse(struct um_json_doc **doc_out, const char *text, size_t len, const struct um_json_limits *limits,
		  struct um_json_error *err);
void um_json_free(struct um_json_doc *doc);

const struct um_json_value *um_json_root(const struct um_json_doc *doc);
enum um_json_type um_json_type(const struct um_json_value *v);

/* Elements of an array, members of an object, bytes of a string; else 0. */
size_t um_json_length(const struct um_json_value *v);
/* i-th element of an array, or NULL. */
const struct um_json_value *um_json_index(const struct um_json_value *array, size_t i);
/* Value of member key (a C string; keys containing NUL never match), or NULL. */
const struct um_json_value *um_json_get(const struct um_json_value *object, const char *key);
/* i-th member of an object in document order: its key (NUL-terminated, *len
 * set if len is not NULL) and its value; NULL if out of range. */
const char *um_json_member_key(const struct um_json_value *object, size_t i, size_t *len);
const struct um_json_value *um_json_member_value(const struct um_json_value *object, size_t i);

/* String contents, NUL-terminated (may also contain NUL: use *len), or NULL. */
const char *um_json_string(const struct um_json_value *v, size_t *len);
/* 1 if v is a string equal to s, else 0. */
int um_json_string_is(const struct um_json_value *v, const char *s);
/* A number written without fraction or exponent that fits int64_t. */
int um_json_int64(const struct um_json_value *v, int64_t *out);
int um_json_double(const struct um_json_value *v, double *out);
/* *out = 1 for true, 0 for false; -UM_EINVAL for anything else. */
int um_json_bool(const struct um_json_value *v, int *out);

/* Decodes hex (either case, even length, no separators) into out and sets
 * *out_len. Returns 0, -UM_EINVAL for bad hex, or -UM_ERANGE if it needs more
 * than out_size bytes (then nothing is written). */
int um_json_hex_decode(uint8_t *out, size_t out_size, size_t *out_len, const char *hex, size_t hex_len);

#endif
