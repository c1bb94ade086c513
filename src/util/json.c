/* SPDX-License-Identifier: MIT */
/* Strict JSON parser: recursive descent with a bounded depth. Values are
 * built on a scratch stack; when an array or object closes, its children
 * are moved into one contiguous block of the document's arena, so the
 * finished tree needs no per-node allocation and frees in one sweep. */
#include "util/json.h"

#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/hex.h"

enum {
	JSON_DEFAULT_DEPTH = 64,
	JSON_BLOCK_SIZE = 64 * 1024,
	JSON_MAX_NUMBER_CHARS = 512,
	JSON_SMALL_OBJECT = 8, /* up to this many members: quadratic duplicate check */
};
#define JSON_DEFAULT_MEMORY ((size_t)256 * 1024 * 1024)

struct um_json_value {
	enum um_json_type type;
	int has_integer;
	size_t length; /* string bytes, array elements or object members */
	union {
		const char *string;
		const struct um_json_value *items; /* object: key, value, key, value... */
		double number;
	} u;
	int64_t integer;
};

struct json_block {
	struct json_block *next;
	size_t used;
	size_t size;
	max_align_t data[];
};

struct um_json_doc {
	struct json_block *blocks;
	struct um_json_value root;
};

struct json_parser {
	const unsigned char *text;
	size_t len;
	size_t pos;
	unsigned depth;
	unsigned max_depth;
	size_t memory;
	size_t max_memory;
	struct um_json_doc *doc;
	struct um_json_value *stack;
	size_t stack_len;
	size_t stack_cap;
	const char *message;
};

/* Records the first error; returns the code so callers can `return fail(...)`. */
static int json_fail(struct json_parser *p, int code, const char *message)
{
	if (!p->message)
		p->message = message;
	return code;
}

static int json_charge(struct json_parser *p, size_t bytes)
{
	if (bytes > p->max_memory - p->memory)
		return json_fail(p, -UM_ELIMIT, "memory limit exceeded");
	p->memory += bytes;
	return 0;
}

static int json_alloc(struct json_parser *p, size_t size, void **out)
{
	const size_t align = alignof(max_align_t);
	struct json_block *b = p->doc->blocks;

	if (size > SIZE_MAX / 2)
		return json_fail(p, -UM_ELIMIT, "memory limit exceeded");
	size = (size + align - 1) & ~(align - 1);
	if (!b || b->size - b->used < size) {
		size_t block = size > JSON_BLOCK_SIZE ? size : JSON_BLOCK_SIZE;
		int rc = json_charge(p, block + sizeof(*b));

		if (rc < 0)
			return rc;
		b = malloc(sizeof(*b) + block);
		if (!b)
			return json_fail(p, -UM_ENOMEM, "out of memory");
		b->size = block;
		b->used = 0;
		b->next = p->doc->blocks;
		p->doc->blocks = b;
	}
	*out = (unsigned char *)b->data + b->used;
	b->used += size;
	return 0;
}

static int json_push(struct json_parser *p, const struct um_json_value *v)
{
	if (p->stack_len == p->stack_cap) {
		size_t cap = p->stack_cap ? p->stack_cap * 2 : 256;
		int rc = json_charge(p, (cap - p->stack_cap) * sizeof(*p->stack));

		if (rc < 0)
			return rc;
		struct um_json_value *s = realloc(p->stack, cap * sizeof(*s));
		if (!s)
			return json_fail(p, -UM_ENOMEM, "out of memory");
		p->stack = s;
		p->stack_cap = cap;
	}
	p->stack[p->stack_len++] = *v;
	return 0;
}

/* Moves stack[base..] into the arena as the children of container v. */
static int json_pop_children(struct json_parser *p, size_t base, struct um_json_value *v)
{
	size_t n = p->stack_len - base;

	v->u.items = NULL;
	if (n) {
		void *items;
		int rc = json_alloc(p, n * sizeof(struct um_json_value), &items);

		if (rc < 0)
			return rc;
		memcpy(items, p->stack + base, n * sizeof(struct um_json_value));
		v->u.items = items;
	}
	p->stack_len = base;
	return 0;
}

static void json_skip_ws(struct json_parser *p)
{
	while (p->pos < p->len) {
		unsigned char c = p->text[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int json_read_u4(struct json_parser *p, unsigned *out)
{
	unsigned v = 0;

	if (p->len - p->pos < 4)
		return json_fail(p, -UM_EINVAL, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		int d = um_hex_digit(p->text[p->pos + i]);
		if (d < 0)
			return json_fail(p, -UM_EINVAL, "bad hex digit in \\u escape");
		v = v << 4 | (unsigned)d;
	}
	p->pos += 4;
	*out = v;
	return 0;
}

static size_t json_put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Validates one raw UTF-8 sequence starting at p->pos (first byte >= 0x80)
 * and returns its length, or 0 if invalid (overlong, surrogate, > U+10FFFF). */
static size_t json_utf8_length(const struct json_parser *p)
{
	const unsigned char *s = p->text + p->pos;
	size_t avail = p->len - p->pos;
	unsigned char c = s[0];
	size_t n;
	unsigned min, cp;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, min = 0x80, cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, min = 0x800, cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, min = 0x10000, cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* p->pos is just after the opening quote. */
static int json_parse_string(struct json_parser *p, struct um_json_value *v)
{
	size_t end = p->pos;

	/* Find the closing quote first: the decoded text is never longer. */
	while (end < p->len && p->text[end] != '"')
		end += p->text[end] == '\\' ? 2 : 1;
	if (end >= p->len)
		return json_fail(p, -UM_EINVAL, "unterminated string");

	void *mem;
	int rc = json_alloc(p, end - p->pos + 1, &mem);

	if (rc < 0)
		return rc;
	char *out = mem;
	size_t n = 0;

	while (p->text[p->pos] != '"') {
		unsigned char c = p->text[p->pos];

		if (c < 0x20)
			return json_fail(p, -UM_EINVAL, "control character in string");
		if (c >= 0x80) {
			size_t k = json_utf8_length(p);
			if (!k)
				return json_fail(p, -UM_EINVAL, "invalid UTF-8 in string");
			memcpy(out + n, p->text + p->pos, k);
			n += k;
			p->pos += k;
			continue;
		}
		p->pos++;
		if (c != '\\') {
			out[n++] = (char)c;
			continue;
		}
		/* end - p->pos >= 1 here: the scan above skipped the escaped byte. */
		c = p->text[p->pos++];
		switch (c) {
		case '"':
			out[n++] = '"';
			break;
		case '\\':
			out[n++] = '\\';
			break;
		case '/':
			out[n++] = '/';
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u': {
			unsigned cp, low;

			rc = json_read_u4(p, &cp);
			if (rc < 0)
				return rc;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return json_fail(p, -UM_EINVAL, "lone low surrogate");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p->len - p->pos < 2 || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u')
					return json_fail(p, -UM_EINVAL, "lone high surrogate");
				p->pos += 2;
				rc = json_read_u4(p, &low);
				if (rc < 0)
					return rc;
				if (low < 0xdc00 || low > 0xdfff)
					return json_fail(p, -UM_EINVAL, "lone high surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
			}
			/* A \u escape (6 or 12 input bytes) never outgrows its UTF-8 form. */
			n += json_put_utf8(out + n, cp);
			break;
		}
		default:
			p->pos--;
			return json_fail(p, -UM_EINVAL, "invalid escape in string");
		}
	}
	p->pos++; /* closing quote */
	out[n] = '\0';
	v->type = UM_JSON_STRING;
	v->length = n;
	v->u.string = out;
	return 0;
}

static int json_is_digit(const struct json_parser *p)
{
	return p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9';
}

static int json_parse_number(struct json_parser *p, struct um_json_value *v)
{
	size_t start = p->pos;
	int negative = 0, integral = 1;

	if (p->text[p->pos] == '-') {
		negative = 1;
		p->pos++;
	}
	if (!json_is_digit(p))
		return json_fail(p, -UM_EINVAL, "invalid number");
	if (p->text[p->pos] == '0') {
		p->pos++;
		if (json_is_digit(p))
			return json_fail(p, -UM_EINVAL, "leading zero in number");
	} else {
		while (json_is_digit(p))
			p->pos++;
	}
	if (p->pos < p->len && p->text[p->pos] == '.') {
		integral = 0;
		p->pos++;
		if (!json_is_digit(p))
			return json_fail(p, -UM_EINVAL, "digit expected after decimal point");
		while (json_is_digit(p))
			p->pos++;
	}
	if (p->pos < p->len && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E')) {
		integral = 0;
		p->pos++;
		if (p->pos < p->len && (p->text[p->pos] == '+' || p->text[p->pos] == '-'))
			p->pos++;
		if (!json_is_digit(p))
			return json_fail(p, -UM_EINVAL, "digit expected in exponent");
		while (json_is_digit(p))
			p->pos++;
	}

	size_t n = p->pos - start;
	char buf[JSON_MAX_NUMBER_CHARS + 1];

	if (n > JSON_MAX_NUMBER_CHARS)
		return json_fail(p, -UM_EINVAL, "number too long");
	memcpy(buf, p->text + start, n);
	buf[n] = '\0';
	double d = strtod(buf, NULL);
	if (isinf(d))
		return json_fail(p, -UM_EINVAL, "number out of range");

	v->type = UM_JSON_NUMBER;
	v->u.number = d;
	v->has_integer = 0;
	if (integral) {
		/* Exact int64 when it fits: magnitude up to 2^63 for negatives. */
		uint64_t mag = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		int fits = 1;

		for (size_t i = (size_t)negative; i < n; i++) {
			unsigned digit = (unsigned)(buf[i] - '0');
			if (mag > (limit - digit) / 10) {
				fits = 0;
				break;
			}
			mag = mag * 10 + digit;
		}
		if (fits) {
			v->has_integer = 1;
			v->integer =
			    negative ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
		}
	}
	return 0;
}

static int json_parse_literal(struct json_parser *p, const char *word, enum um_json_type type, struct um_json_value *v)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
		return json_fail(p, -UM_EINVAL, "invalid literal");
	p->pos += n;
	v->type = type;
	return 0;
}

static int json_key_compare(const void *a, const void *b)
{
	const struct um_json_value *x = *(const struct um_json_value *const *)a;
	const struct um_json_value *y = *(const struct um_json_value *const *)b;
	size_t n = x->length < y->length ? x->length : y->length;
	int c = memcmp(x->u.string, y->u.string, n);

	if (c)
		return c;
	return x->length < y->length ? -1 : x->length > y->length;
}

static int json_keys_equal(const struct um_json_value *x, const struct um_json_value *y)
{
	return x->length == y->length && memcmp(x->u.string, y->u.string, x->length) == 0;
}

/* Rejects duplicate keys among the members stored at stack[base..]. */
static int json_check_duplicates(struct json_parser *p, size_t base)
{
	size_t count = (p->stack_len - base) / 2;

	if (count < 2)
		return 0; /* also: the stack may not even be allocated yet */
	const struct um_json_value *m = p->stack + base;

	if (count <= JSON_SMALL_OBJECT) {
		for (size_t i = 0; i < count; i++)
			for (size_t j = i + 1; j < count; j++)
				if (json_keys_equal(&m[2 * i], &m[2 * j]))
					return json_fail(p, -UM_EINVAL, "duplicate key in object");
		return 0;
	}
	int rc = json_charge(p, count * sizeof(void *));
	if (rc < 0)
		return rc;
	const struct um_json_value **keys = malloc(count * sizeof(*keys));
	if (!keys)
		return json_fail(p, -UM_ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++)
		keys[i] = &m[2 * i];
	qsort(keys, count, sizeof(*keys), json_key_compare);
	for (size_t i = 1; i < count && rc == 0; i++)
		if (json_keys_equal(keys[i - 1], keys[i]))
			rc = json_fail(p, -UM_EINVAL, "duplicate key in object");
	free(keys);
	p->memory -= count * sizeof(void *);
	return rc;
}

static int json_parse_value(struct json_parser *p, struct um_json_value *v);

static int json_parse_container(struct json_parser *p, struct um_json_value *v, int is_object)
{
	const unsigned char close = is_object ? '}' : ']';
	size_t base = p->stack_len;
	int rc;

	if (++p->depth > p->max_depth)
		return json_fail(p, -UM_ELIMIT, "nesting too deep");
	p->pos++; /* opening bracket */
	json_skip_ws(p);
	if (p->pos < p->len && p->text[p->pos] == close) {
		p->pos++;
		goto done;
	}
	for (;;) {
		struct um_json_value item = {0};

		json_skip_ws(p);
		if (is_object) {
			if (p->pos >= p->len || p->text[p->pos] != '"')
				return json_fail(p, -UM_EINVAL, "object key expected");
			p->pos++;
			rc = json_parse_string(p, &item);
			if (rc < 0)
				return rc;
			rc = json_push(p, &item);
			if (rc < 0)
				return rc;
			json_skip_ws(p);
			if (p->pos >= p->len || p->text[p->pos] != ':')
				return json_fail(p, -UM_EINVAL, "':' expected after object key");
			p->pos++;
			json_skip_ws(p);
			memset(&item, 0, sizeof(item));
		}
		rc = json_parse_value(p, &item);
		if (rc < 0)
			return rc;
		rc = json_push(p, &item);
		if (rc < 0)
			return rc;
		json_skip_ws(p);
		if (p->pos >= p->len)
			return json_fail(p, -UM_EINVAL, is_object ? "unterminated object" : "unterminated array");
		if (p->text[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->text[p->pos] == close) {
			p->pos++;
			break;
		}
		return json_fail(p, -UM_EINVAL, is_object ? "',' or '}' expected" : "',' or ']' expected");
	}
done:
	if (is_object) {
		rc = json_check_duplicates(p, base);
		if (rc < 0)
			return rc;
	}
	v->type = is_object ? UM_JSON_OBJECT : UM_JSON_ARRAY;
	v->length = (p->stack_len - base) / (is_object ? 2 : 1);
	p->depth--;
	return json_pop_children(p, base, v);
}

static int json_parse_value(struct json_parser *p, struct um_json_value *v)
{
	if (p->pos >= p->len)
		return json_fail(p, -UM_EINVAL, "value expected");
	switch (p->text[p->pos]) {
	case '{':
		return json_parse_container(p, v, 1);
	case '[':
		return json_parse_container(p, v, 0);
	case '"':
		p->pos++;
		return json_parse_string(p, v);
	case 't':
		return json_parse_literal(p, "true", UM_JSON_TRUE, v);
	case 'f':
		return json_parse_literal(p, "false", UM_JSON_FALSE, v);
	case 'n':
		return json_parse_literal(p, "null", UM_JSON_NULL, v);
	default:
		if (p->text[p->pos] == '-' || (p->text[p->pos] >= '0' && p->text[p->pos] <= '9'))
			return json_parse_number(p, v);
		return json_fail(p, -UM_EINVAL, "value expected");
	}
}

void um_json_free(struct um_json_doc *doc)
{
	if (!doc)
		return;
	struct json_block *b = doc->blocks;
	while (b) {
		struct json_block *next = b->next;
		free(b);
		b = next;
	}
	free(doc);
}

int um_json_parse(struct um_json_doc **doc_out, const char *text, size_t len, const struct um_json_limits *limits,
		  struct um_json_error *err)
{
	struct json_parser p = {
	    .text = (const unsigned char *)text,
	    .len = len,
	    .max_depth = limits && limits->max_depth ? limits->max_depth : JSON_DEFAULT_DEPTH,
	    .max_memory = limits && limits->max_memory ? limits->max_memory : JSON_DEFAULT_MEMORY,
	};
	int rc;

	*doc_out = NULL;
	if (!text && len)
		return -UM_EINVAL;
	p.doc = calloc(1, sizeof(*p.doc));
	if (!p.doc)
		return -UM_ENOMEM;
	json_skip_ws(&p);
	rc = json_parse_value(&p, &p.doc->root);
	if (rc == 0) {
		json_skip_ws(&p);
		if (p.pos != p.len)
			rc = json_fail(&p, -UM_EINVAL, "trailing characters after the value");
	}
	free(p.stack);
	if (rc < 0) {
		if (err) {
			err->offset = p.pos < len ? p.pos : len;
			err->line = 1;
			for (size_t i = 0; i < err->offset; i++)
				err->line += text[i] == '\n';
			err->message = p.message ? p.message : "error";
		}
		um_json_free(p.doc);
		return rc;
	}
	*doc_out = p.doc;
	return 0;
}

const struct um_json_value *um_json_root(const struct um_json_doc *doc)
{
	return doc ? &doc->root : NULL;
}

enum um_json_type um_json_type(const struct um_json_value *v)
{
	return v ? v->type : UM_JSON_NONE;
}

size_t um_json_length(const struct um_json_value *v)
{
	if (!v || (v->type != UM_JSON_STRING && v->type != UM_JSON_ARRAY && v->type != UM_JSON_OBJECT))
		return 0;
	return v->length;
}

const struct um_json_value *um_json_index(const struct um_json_value *array, size_t i)
{
	if (!array || array->type != UM_JSON_ARRAY || i >= array->length)
		return NULL;
	return &array->u.items[i];
}

const struct um_json_value *um_json_get(const struct um_json_value *object, const char *key)
{
	if (!object || object->type != UM_JSON_OBJECT || !key)
		return NULL;
	size_t n = strlen(key);
	for (size_t i = 0; i < object->length; i++) {
		const struct um_json_value *k = &object->u.items[2 * i];
		if (k->length == n && memcmp(k->u.string, key, n) == 0)
			return &object->u.items[2 * i + 1];
	}
	return NULL;
}

const char *um_json_member_key(const struct um_json_value *object, size_t i, size_t *len)
{
	if (!object || object->type != UM_JSON_OBJECT || i >= object->length)
		return NULL;
	if (len)
		*len = object->u.items[2 * i].length;
	return object->u.items[2 * i].u.string;
}

const struct um_json_value *um_json_member_value(const struct um_json_value *object, size_t i)
{
	if (!object || object->type != UM_JSON_OBJECT || i >= object->length)
		return NULL;
	return &object->u.items[2 * i + 1];
}

const char *um_json_string(const struct um_json_value *v, size_t *len)
{
	if (!v || v->type != UM_JSON_STRING)
		return NULL;
	if (len)
		*len = v->length;
	return v->u.string;
}

int um_json_string_is(const struct um_json_value *v, const char *s)
{
	if (!v || v->type != UM_JSON_STRING || !s)
		return 0;
	size_t n = strlen(s);
	return v->length == n && memcmp(v->u.string, s, n) == 0;
}

int um_json_int64(const struct um_json_value *v, int64_t *out)
{
	if (!v || v->type != UM_JSON_NUMBER || !v->has_integer)
		return -UM_EINVAL;
	*out = v->integer;
	return 0;
}

int um_json_double(const struct um_json_value *v, double *out)
{
	if (!v || v->type != UM_JSON_NUMBER)
		return -UM_EINVAL;
	*out = v->u.number;
	return 0;
}

int um_json_bool(const struct um_json_value *v, int *out)
{
	if (!v || (v->type != UM_JSON_TRUE && v->type != UM_JSON_FALSE))
		return -UM_EINVAL;
	*out = v->type == UM_JSON_TRUE;
	return 0;
}

int um_json_hex_decode(uint8_t *out, size_t out_size, size_t *out_len, const char *hex, size_t hex_len)
{
	if (hex_len % 2 || (!hex && hex_len))
		return -UM_EINVAL;
	if (hex_len / 2 > out_size)
		return -UM_ERANGE;
	for (size_t i = 0; i < hex_len; i += 2) {
		int hi = um_hex_digit((unsigned char)hex[i]);
		int lo = um_hex_digit((unsigned char)hex[i + 1]);
		if (hi < 0 || lo < 0)
			return -UM_EINVAL;
	}
	for (size_t i = 0; i < hex_len; i += 2)
		out[i / 2] =
		    (uint8_t)(um_hex_digit((unsigned char)hex[i]) << 4 | um_hex_digit((unsigned char)hex[i + 1]));
	*out_len = hex_len / 2;
	return 0;
}
