/* SPDX-License-Identifier: MIT */
/* umbra keygen: create a new private identity file and print its peer ID. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "crypto/identity.h"
#include "crypto/secmem.h"
#include "util/error.h"

static void keygen_usage(FILE *f)
{
	fprintf(f, "usage: umbra keygen -o FILE\n"
		   "\n"
		   "Generate a new node identity (Ed25519 + ML-DSA-87 seeds) and write it to\n"
		   "FILE, which must not exist yet; it is created with mode 0600 whatever the\n"
		   "umask. Prints the peer ID (full and short; JSON with --json).\n"
		   "\n"
		   "  -o FILE   write the identity to FILE (required)\n"
		   "  -o -      write the identity line to standard output instead, only if\n"
		   "            that is not a terminal; the peer ID then goes to stderr.\n"
		   "            Keep the result private: umbra refuses to load an identity\n"
		   "            file readable by group or others (chmod 600 it).\n");
}

/* Writes the identity line to stdout (checked not to be a terminal). */
static int keygen_to_stdout(const struct um_identity *identity)
{
	char line[UM_IDENTITY_TEXT_MAX];
	size_t len;
	int rc = um_identity_format(identity, line, sizeof(line));

	if (rc == 0) {
		len = strlen(line);
		if (fwrite(line, 1, len, stdout) != len || fflush(stdout) != 0)
			rc = -EIO;
	}
	sodium_memzero(line, sizeof(line));
	return rc;
}

int keygen_main(int argc, char **argv)
{
	const char *out_path = NULL;
	struct um_identity *identity = NULL;
	char full[UM_PEER_ID_TEXT_MAX], short_id[UM_PEER_ID_SHORT_MAX];
	FILE *info = stdout;
	int rc, status = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			keygen_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc && !out_path) {
			out_path = argv[++i];
		} else {
			fprintf(stderr, "umbra keygen: unexpected argument '%s'\n", argv[i]);
			keygen_usage(stderr);
			return 2;
		}
	}
	if (!out_path) {
		fprintf(stderr, "umbra keygen: missing -o FILE\n");
		keygen_usage(stderr);
		return 2;
	}
	if (!strcmp(out_path, "-")) {
		if (isatty(STDOUT_FILENO)) {
			fprintf(stderr, "umbra keygen: refusing to print a private key to a terminal; use -o FILE\n");
			return 2;
		}
		info = stderr;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "umbra keygen: libsodium failed to initialise\n");
		return 1;
	}
	identity = um_secmem_alloc(sizeof(*identity)); /* locked where permitted, zeroed on free */
	if (!identity) {
		fprintf(stderr, "umbra keygen: out of memory\n");
		return 1;
	}
	rc = um_identity_generate(identity);
	if (rc < 0) {
		fprintf(stderr, "umbra keygen: key generation failed: %s\n", um_strerror(rc));
		goto out;
	}
	rc = info == stderr ? keygen_to_stdout(identity) : um_identity_save(identity, out_path);
	if (rc < 0) {
		if (rc == -EEXIST)
			fprintf(stderr, "umbra keygen: %s: file exists; refusing to overwrite an identity\n", out_path);
		else
			fprintf(stderr, "umbra keygen: %s: %s\n", out_path, um_strerror(rc));
		goto out;
	}
	um_peer_id_format(&identity->id, full, sizeof(full));
	um_peer_id_format_short(&identity->id, short_id, sizeof(short_id));
	if (um_cli.json)
		fprintf(info, "{\"peer_id\":\"%s\",\"short_id\":\"%s\"}\n", full, short_id);
	else
		fprintf(info, "peer_id  %s\nshort_id %s\n", full, short_id);
	status = 0;
out:
	um_secmem_free(identity);
	return status;
}
