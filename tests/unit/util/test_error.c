/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "test.h"
#include "util/error.h"

static void test_codes_have_text(void)
{
	for (int c = UM_EBASE + 1; c < UM_ELAST; c++) {
		CHECK(strcmp(um_strerror(-c), "unknown error") != 0);
		CHECK(strcmp(um_strerror(c), um_strerror(-c)) == 0);
	}
	CHECK(strcmp(um_strerror(0), "success") == 0);
	CHECK(strcmp(um_strerror(-ENOENT), strerror(ENOENT)) == 0);
	CHECK(strcmp(um_strerror(UM_ELAST + 5), "unknown error") == 0);
}

int main(void)
{
	RUN(test_codes_have_text);
	return um_test_end();
}
