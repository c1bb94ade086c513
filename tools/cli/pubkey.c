/* SPDX-License-Identifier: MIT */
/* umbra pubkey: print the public side of a private identity file. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "crypto/identity.h"
#include "crypto/secmem.h"
#include "util/error.h"

static void pubkey_usage(FILE *f)
{
	fprintf(f, "usage: umbra [--json] pubkey FILE\n"
		   "\n"
		   "Print the peer ID (full and short) of the identity in FILE. With --json,\n"
		   "print {\"peer_id\", \"short_id\", \"public_key\"} where public_key is the\n"
		   "base64 hybrid public key (Ed25519 || ML-DSA-87, 2624 bytes).\n");
}

/* A sentence a person can act on, for the load errors that have a cause. */
static const char *load_error_text(int rc)
{
	switch (rc) {
	case -UM_EPERM:
		return "readable by group or others; refusing to use a possibly leaked key (chmod 600 it)";
	case -UM_ECHECKSUM:
		return "corrupted (checksum mismatch)";
	case -UM_ETRUNC:
		return "truncated";
	case -UM_EVERSION:
		return "unsupported identity file version";
	case -UM_EINVAL:
		return "not an umbra identity file";
	default:
		return um_strerror(rc);
	}
}

int pubkey_main(int argc, char **argv)
{
	struct um_identity *identity = NULL;
	char full[UM_PEER_ID_TEXT_MAX], short_id[UM_PEER_ID_SHORT_MAX];
	char *b64 = NULL;
	size_t b64_size = sodium_base64_ENCODED_LEN(UM_HSIG_PK_BYTES, sodium_base64_VARIANT_ORIGINAL);
	int rc, status = 1;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		pubkey_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		pubkey_usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "umbra pubkey: libsodium failed to initialise\n");
		return 1;
	}
	identity = um_secmem_alloc(sizeof(*identity));
	if (!identity) {
		fprintf(stderr, "umbra pubkey: out of memory\n");
		return 1;
	}
	rc = um_identity_load(identity, argv[1]);
	if (rc < 0) {
		struct stat st;

		if (rc == -UM_EPERM && stat(argv[1], &st) == 0)
			fprintf(stderr, "umbra pubkey: %s: mode %04o is %s\n", argv[1], (unsigned)(st.st_mode & 07777),
				load_error_text(rc));
		else
			fprintf(stderr, "umbra pubkey: %s: %s\n", argv[1], load_error_text(rc));
		goto out;
	}
	um_peer_id_format(&identity->id, full, sizeof(full));
	um_peer_id_format_short(&identity->id, short_id, sizeof(short_id));
	if (um_cli.json) {
		b64 = malloc(b64_size);
		if (!b64) {
			fprintf(stderr, "umbra pubkey: out of memory\n");
			goto out;
		}
		sodium_bin2base64(b64, b64_size, identity->public_key, UM_HSIG_PK_BYTES,
				  sodium_base64_VARIANT_ORIGINAL);
		printf("{\"peer_id\":\"%s\",\"short_id\":\"%s\",\"public_key\":\"%s\"}\n", full, short_id, b64);
	} else {
		printf("peer_id  %s\nshort_id %s\n", full, short_id);
	}
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	free(b64);
	um_secmem_free(identity);
	return status;
}
