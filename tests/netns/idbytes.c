/* SPDX-License-Identifier: MIT */
/* um_idbytes: prints what an observer could look for in a capture to name
 * a node, for the capture_ids test.
 *
 *   um_idbytes IDENTITY_FILE
 *
 * Output, one per line: "id HEX" (the 32-byte peer ID), "pk HEX" (the
 * hybrid public key), "text FORM" (the peer ID's full and short text forms,
 * as `umbra pubkey` and `umbra status` print them). */
#include <stdio.h>

#include <sodium.h>

#include "crypto/identity.h"

static void print_hex(const char *label, const uint8_t *bytes, size_t len)
{
	printf("%s ", label);
	for (size_t i = 0; i < len; i++)
		printf("%02x", bytes[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	struct um_identity identity;
	char text[UM_PEER_ID_TEXT_MAX];

	if (argc != 2) {
		fprintf(stderr, "usage: um_idbytes IDENTITY_FILE\n");
		return 2;
	}
	if (sodium_init() < 0 || um_identity_load(&identity, argv[1])) {
		fprintf(stderr, "um_idbytes: cannot load %s\n", argv[1]);
		return 1;
	}
	print_hex("id", identity.id.bytes, sizeof(identity.id.bytes));
	print_hex("pk", identity.public_key, sizeof(identity.public_key));
	if (um_peer_id_format(&identity.id, text, sizeof(text)) == 0)
		printf("text %s\n", text);
	if (um_peer_id_format_short(&identity.id, text, sizeof(text)) == 0)
		printf("text %s\n", text);
	um_identity_wipe(&identity);
	return 0;
}
