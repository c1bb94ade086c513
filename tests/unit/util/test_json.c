/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "util/error.h"
#include "util/json.h"

static struct um_json_doc *parse(const char *text)
{
	struct um_json_doc *doc = NULL;
	int rc = um_json_parse(&doc, text, strlen(text), NULL, NULL);

	CHECK_EQ(rc, 0);
	return doc;
}

static int parse_rc(const char *text)
{
	struct um_json_doc *doc = NULL;
	int rc = um_json_parse(&doc, text, strlen(text), NULL, NULL);

	CHECK(rc == 0 ? doc != NULL : doc == NULL);
	um_json_free(doc);
	return rc;
}

static void test_values(void)
{
	struct um_json_doc *doc = parse(" {\"a\": [1, -2, 3.5, true, false, null, \"x\"], \"b\": {}, \"c\": []}\n");
	const struct um_json_value *root = um_json_root(doc), *a = um_json_get(root, "a");
	int64_t i;
	double d;
	int b;

	CHECK_EQ(um_json_type(root), UM_JSON_OBJECT);
	CHECK_EQ(um_json_length(root), 3);
	CHECK_EQ(um_json_length(a), 7);
	CHECK(um_json_int64(um_json_index(a, 0), &i) == 0 && i == 1);
	CHECK(um_json_int64(um_json_index(a, 1), &i) == 0 && i == -2);
	CHECK(um_json_int64(um_json_index(a, 2), &i) < 0);
	CHECK(um_json_double(um_json_index(a, 2), &d) == 0 && d == 3.5);
	CHECK(um_json_bool(um_json_index(a, 3), &b) == 0 && b == 1);
	CHECK(um_json_bool(um_json_index(a, 4), &b) == 0 && b == 0);
	CHECK(um_json_bool(um_json_index(a, 5), &b) < 0);
	CHECK_EQ(um_json_type(um_json_index(a, 5)), UM_JSON_NULL);
	CHECK(um_json_string_is(um_json_index(a, 6), "x"));
	CHECK(um_json_index(a, 7) == NULL);
	CHECK_EQ(um_json_type(um_json_get(root, "b")), UM_JSON_OBJECT);
	CHECK_EQ(um_json_length(um_json_get(root, "c")), 0);
	CHECK(um_json_get(root, "missing") == NULL);
	/* Chained lookups through missing or wrong-typed values are safe. */
	CHECK(um_json_get(um_json_get(root, "missing"), "x") == NULL);
	CHECK(um_json_index(root, 0) == NULL);
	CHECK(um_json_string(a, NULL) == NULL);
	CHECK_EQ(um_json_type(NULL), UM_JSON_NONE);

	size_t len;
	CHECK(strcmp(um_json_member_key(root, 1, &len), "b") == 0 && len == 1);
	CHECK(um_json_member_value(root, 2) == um_json_get(root, "c"));
	CHECK(um_json_member_key(root, 3, NULL) == NULL);
	um_json_free(doc);
	um_json_free(NULL);
}

static void test_scalars_at_top(void)
{
	struct um_json_doc *doc = parse("-9223372036854775808");
	int64_t i;

	CHECK(um_json_int64(um_json_root(doc), &i) == 0 && i == INT64_MIN);
	um_json_free(doc);
	doc = parse("9223372036854775808"); /* too big for int64, still a number */
	CHECK(um_json_int64(um_json_root(doc), &i) < 0);
	CHECK_EQ(um_json_type(um_json_root(doc)), UM_JSON_NUMBER);
	um_json_free(doc);
	doc = parse("\"\"");
	CHECK(um_json_string_is(um_json_root(doc), ""));
	um_json_free(doc);
	doc = parse("1e3");
	double d;
	CHECK(um_json_double(um_json_root(doc), &d) == 0 && d == 1000.0);
	CHECK(um_json_int64(um_json_root(doc), &i) < 0);
	um_json_free(doc);
}

static void test_strings(void)
{
	struct um_json_doc *doc =
	    parse("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20ac\\ud83d\\ude00\", \"\\u0000z\", \"\xc3\xa9\"]");
	const struct um_json_value *root = um_json_root(doc);
	size_t len;
	const char *s;

	s = um_json_string(um_json_index(root, 0), &len);
	CHECK(s && len == 12 && memcmp(s, "a\"b\\c/d\b\f\n\r\t", 12) == 0);
	s = um_json_string(um_json_index(root, 1), &len);
	CHECK(s && len == 9 && memcmp(s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9) == 0);
	s = um_json_string(um_json_index(root, 2), &len);
	CHECK(s && len == 2 && s[0] == '\0' && s[1] == 'z');
	CHECK(!um_json_string_is(um_json_index(root, 2), "z"));
	s = um_json_string(um_json_index(root, 3), &len);
	CHECK(s && len == 2);
	um_json_free(doc);
}

static void test_rejects(void)
{
	static const char *const bad[] = {
	    "",
	    " ",
	    "{",
	    "}",
	    "[1,]",
	    "[,1]",
	    "{\"a\":1,}",
	    "{\"a\" 1}",
	    "{a:1}",
	    "[1 2]",
	    "01",
	    "-",
	    "1.",
	    ".5",
	    "1e",
	    "+1",
	    "0x10",
	    "[1]x",
	    "nul",
	    "tru",
	    "NaN",
	    "Infinity",
	    "1e999",
	    "\"abc",
	    "\"a\\x\"",
	    "\"\\u12\"",
	    "\"\\ud800\"",
	    "\"\\udc00\"",
	    "\"\\ud800\\u0041\"",
	    "\"a\tb\"",
	    "\"\xff\"",
	    "\"\xc0\xaf\"",
	    "\"\xed\xa0\x80\"",
	    "\"\xf4\x90\x80\x80\"",
	    "\"\xe2\x82\"",
	    "\xef\xbb\xbf{}",
	    "{\"a\":1,\"a\":2}",
	    "// c\n1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse_rc(bad[i]);
		if (rc == 0)
			fprintf(stderr, "accepted bad input #%zu\n", i);
		CHECK(rc < 0);
	}
	/* The NUL inside "[1]\0" is beyond strlen: check it with an explicit length. */
	struct um_json_doc *doc = NULL;
	CHECK(um_json_parse(&doc, "[1]\0", 4, NULL, NULL) == -UM_EINVAL);

	/* Duplicate keys are found in large objects too (sorted check). */
	char big[4096];
	size_t n = 0;
	big[n++] = '{';
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"k%d\":%d", i ? "," : "", i % 39, i);
	big[n++] = '}';
	big[n] = '\0';
	CHECK_EQ(parse_rc(big), -UM_EINVAL);
}

static void test_error_position(void)
{
	struct um_json_doc *doc = NULL;
	struct um_json_error err = {0};
	const char *text = "{\n  \"a\": [1,\n  2,]\n}";

	CHECK_EQ(um_json_parse(&doc, text, strlen(text), NULL, &err), -UM_EINVAL);
	CHECK_EQ(err.line, 3);
	CHECK(err.message != NULL);
}

static void test_limits(void)
{
	struct um_json_doc *doc = NULL;
	struct um_json_limits lim = {.max_depth = 4};
	char deep[200001];

	CHECK_EQ(um_json_parse(&doc, "[[[[1]]]]", 9, &lim, NULL), 0);
	um_json_free(doc);
	CHECK_EQ(um_json_parse(&doc, "[[[[[1]]]]]", 11, &lim, NULL), -UM_ELIMIT);
	CHECK(doc == NULL);

	/* Very deep input is refused by the default limit, not by a crash. */
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	CHECK_EQ(parse_rc(deep), -UM_ELIMIT);

	struct um_json_limits small = {.max_memory = 1000};
	const char *text = "[\"0123456789\", \"0123456789\"]";
	CHECK_EQ(um_json_parse(&doc, text, strlen(text), &small, NULL), -UM_ELIMIT);
}

static void test_many_values(void)
{
	/* 100k elements: exercises stack growth and contiguous children. */
	size_t count = 100000, n = 0;
	char *text = malloc(count * 8 + 16);
	struct um_json_doc *doc = NULL;
	int64_t v;

	CHECK(text != NULL);
	if (!text)
		return;
	text[n++] = '[';
	for (size_t i = 0; i < count; i++)
		n += (size_t)sprintf(text + n, "%s[%zu]", i ? "," : "", i);
	text[n++] = ']';
	CHECK_EQ(um_json_parse(&doc, text, n, NULL, NULL), 0);
	CHECK_EQ(um_json_length(um_json_root(doc)), count);
	CHECK(um_json_int64(um_json_index(um_json_index(um_json_root(doc), 12345), 0), &v) == 0 && v == 12345);
	um_json_free(doc);
	free(text);
}

static void test_hex(void)
{
	uint8_t out[4];
	size_t len = 99;

	CHECK_EQ(um_json_hex_decode(out, sizeof(out), &len, "00aFfE", 6), 0);
	CHECK(len == 3 && out[0] == 0x00 && out[1] == 0xaf && out[2] == 0xfe);
	CHECK_EQ(um_json_hex_decode(out, sizeof(out), &len, "", 0), 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(um_json_hex_decode(out, sizeof(out), &len, "abc", 3), -UM_EINVAL);
	CHECK_EQ(um_json_hex_decode(out, sizeof(out), &len, "0g", 2), -UM_EINVAL);
	CHECK_EQ(um_json_hex_decode(out, sizeof(out), &len, " 0", 2), -UM_EINVAL);
	CHECK_EQ(um_json_hex_decode(out, sizeof(out), &len, "0011223344", 10), -UM_ERANGE);
}

int main(void)
{
	RUN(test_values);
	RUN(test_scalars_at_top);
	RUN(test_strings);
	RUN(test_rejects);
	RUN(test_error_position);
	RUN(test_limits);
	RUN(test_many_values);
	RUN(test_hex);
	return um_test_end();
}
