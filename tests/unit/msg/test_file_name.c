/* SPDX-License-Identifier: MIT */
/* The name rule of file offers (msg/file.h um_file_name_sanitize): fixed
 * cases, long names, random bytes. Moved out of test_file.c (its size). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "msg/file.h"
#include "test.h"
#include "util/error.h"

/* ---- the name rule ---- */

static int sanitize(const char *in, size_t len, char *out)
{
	return um_file_name_sanitize(in, len, out, UM_FILE_NAME_MAX + 1);
}

#define EXPECT_NAME(in, want)                                                                                          \
	do {                                                                                                           \
		char out_[UM_FILE_NAME_MAX + 1];                                                                       \
		CHECK_EQ(sanitize(in, sizeof(in) - 1, out_), 0);                                                       \
		CHECK(strcmp(out_, want) == 0);                                                                        \
	} while (0)

#define EXPECT_NO_NAME(in)                                                                                             \
	do {                                                                                                           \
		char out_[UM_FILE_NAME_MAX + 1];                                                                       \
		CHECK_EQ(sanitize(in, sizeof(in) - 1, out_), -UM_EINVAL);                                              \
	} while (0)

static void test_sanitize_rules(void)
{
	EXPECT_NAME("report.pdf", "report.pdf");
	EXPECT_NAME("../../etc/passwd", "passwd");
	EXPECT_NAME("/etc/shadow", "shadow");
	EXPECT_NAME("..\\..\\Windows\\system.ini", "system.ini");
	EXPECT_NAME("dir/sub/", "sub");
	EXPECT_NAME(".bashrc", "bashrc");
	EXPECT_NAME("...hidden", "hidden");
	EXPECT_NAME(" . name ", "name");
	EXPECT_NAME("a..b", "a..b"); /* not a path component */
	EXPECT_NAME("evil\0.txt", "evil_.txt");
	EXPECT_NAME("a\nb\tc\x7f", "a_b_c_");
	EXPECT_NAME("x\xc2\x85y", "x_y"); /* C1 NEL */
	EXPECT_NAME("a\xc0\xaf"
		    "b",
		    "a__b"); /* overlong '/' is no separator */
	EXPECT_NAME("\xff\xfe"
		    "ab",
		    "__ab"); /* invalid UTF-8 */
	EXPECT_NAME("\xed\xa0\x80"
		    "z",
		    "___z");                                    /* a surrogate */
	EXPECT_NAME("evil\xe2\x80\xaetxt.exe", "evil_txt.exe"); /* RIGHT-TO-LEFT OVERRIDE */
	EXPECT_NAME("r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80.pdf",
		    "r\xc3\xa9sum\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80.pdf");
	EXPECT_NO_NAME("");
	EXPECT_NO_NAME("..");
	EXPECT_NO_NAME("../");
	EXPECT_NO_NAME("/");
	EXPECT_NO_NAME("...");
	EXPECT_NO_NAME("   ");
	EXPECT_NO_NAME("a/..");

	char small[4];
	CHECK_EQ(um_file_name_sanitize("abcd", 4, small, sizeof(small)), -UM_ERANGE);
	CHECK_EQ(um_file_name_sanitize("abc", 3, small, sizeof(small)), 0);
}

static void test_sanitize_long(void)
{
	char in[1024], out[UM_FILE_NAME_MAX + 1];
	size_t n = 0;

	/* ASCII with a short extension: cut to 200, the extension kept. */
	memset(in, 'a', 300);
	memcpy(in + 300, ".tar.gz", 7);
	CHECK_EQ(sanitize(in, 307, out), 0);
	CHECK_EQ(strlen(out), UM_FILE_NAME_MAX);
	CHECK(strcmp(out + strlen(out) - 3, ".gz") == 0);

	/* Two-byte characters: never cut inside one. */
	for (int i = 0; i < 150; i++) {
		in[n++] = (char)0xc3;
		in[n++] = (char)0xa9;
	}
	memcpy(in + n, ".txt", 4);
	n += 4;
	CHECK_EQ(sanitize(in, n, out), 0);
	CHECK(strlen(out) <= UM_FILE_NAME_MAX);
	CHECK(strlen(out) >= UM_FILE_NAME_MAX - 1);
	CHECK(um_file_text_valid((const uint8_t *)out, strlen(out)));
	CHECK(strcmp(out + strlen(out) - 4, ".txt") == 0);

	/* No dot: a plain cut; four-byte characters. */
	n = 0;
	for (int i = 0; i < 100; i++) {
		memcpy(in + n, "\xf0\x9f\x98\x80", 4);
		n += 4;
	}
	CHECK_EQ(sanitize(in, n, out), 0);
	CHECK_EQ(strlen(out), UM_FILE_NAME_MAX);
	CHECK(um_file_text_valid((const uint8_t *)out, strlen(out)));
}

/* Any bytes at all: the result is a leaf name or nothing. */
static void test_sanitize_random(void)
{
	static const char alphabet[] = {'a',        '.',        '/',        '\\',       '\0',       '\n',       ' ',
					(char)0xc3, (char)0xa9, (char)0xe2, (char)0x80, (char)0xae, (char)0xff, 'Z'};
	char in[400], out[UM_FILE_NAME_MAX + 1];
	int ok = 0, refused = 0, bad = 0;

	for (int t = 0; t < 5000; t++) {
		size_t len = randombytes_uniform(sizeof(in));
		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[randombytes_uniform(sizeof(alphabet))];
		int ret = sanitize(in, len, out);
		if (ret == -UM_EINVAL) {
			refused++;
			continue;
		}
		size_t olen = strlen(out);
		if (ret != 0 || olen == 0 || olen > UM_FILE_NAME_MAX || out[0] == '.' || out[0] == ' ' ||
		    strchr(out, '/') || strchr(out, '\\') || !um_file_text_valid((const uint8_t *)out, olen))
			bad++;
		ok++;
	}
	CHECK_EQ(bad, 0);
	CHECK(ok > 0);
	CHECK(refused > 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_sanitize_rules);
	RUN(test_sanitize_long);
	RUN(test_sanitize_random);
	return um_test_end();
}
