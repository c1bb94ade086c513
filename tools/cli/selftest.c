/* SPDX-License-Identifier: MIT */
/* umbra selftest: quick known-answer checks of the crypto the node relies on,
 * so a broken build or CPU is caught before any key is used. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "crypto/sha3.h"

static int check_sha3(void)
{
	/* FIPS 202 example: SHA3-256("abc"). */
	static const uint8_t expect[32] = {
		0x3a, 0x98, 0x5d, 0xa7, 0x4f, 0xe2, 0x25, 0xb2, 0x04, 0x5c, 0x17, 0x2d, 0x6b, 0xd3, 0x90, 0xbd,
		0x85, 0x5f, 0x08, 0x6e, 0x3e, 0x9d, 0x52, 0x5b, 0x46, 0xbf, 0xe2, 0x45, 0x11, 0x43, 0x15, 0x32,
	};
	uint8_t out[32];

	um_sha3_256(out, (const uint8_t *)"abc", 3);
	return memcmp(out, expect, 32) ? -1 : 0;
}

int selftest_main(int argc, char **argv)
{
	int failed = 0;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0) {
		fprintf(stderr, "selftest: libsodium failed to initialise\n");
		return 1;
	}
	if (check_sha3()) {
		fprintf(stderr, "selftest: SHA3-256 known answer FAILED\n");
		failed++;
	} else {
		printf("selftest: SHA3-256 known answer ok\n");
	}
	printf("selftest: %s\n", failed ? "FAILED" : "all passed");
	return failed ? 1 : 0;
}
