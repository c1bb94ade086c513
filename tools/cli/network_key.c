/* SPDX-License-Identifier: MIT */
/* umbra network-key: create a private network's key file (32 random bytes,
 * shared by the network's members) and print the network's public name. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "dht/network_key.h"
#include "util/error.h"

static void network_key_usage(FILE *f)
{
	fprintf(f, "usage: umbra network-key -o FILE\n"
		   "\n"
		   "Generate a new network key and write it to FILE, which must not exist\n"
		   "yet; it is created with mode 0600 whatever the umask. Give the file to\n"
		   "every member of the network ([node] network-key = FILE): their DHT\n"
		   "records are then sealed so that only members can find and read them.\n"
		   "Prints the network's fingerprint (JSON with --json), a name members can\n"
		   "compare without revealing the key.\n"
		   "\n"
		   "  -o FILE   write the key to FILE (required)\n");
}

int network_key_main(int argc, char **argv)
{
	const char *out_path = NULL;
	struct um_network_key key;
	char fingerprint[UM_NETWORK_KEY_FINGERPRINT_MAX];
	int rc, status = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			network_key_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc && !out_path) {
			out_path = argv[++i];
		} else {
			fprintf(stderr, "umbra network-key: unexpected argument '%s'\n", argv[i]);
			network_key_usage(stderr);
			return 2;
		}
	}
	if (!out_path || !*out_path) {
		fprintf(stderr, "umbra network-key: missing -o FILE\n");
		network_key_usage(stderr);
		return 2;
	}
	rc = um_network_key_generate(&key);
	if (rc < 0) {
		fprintf(stderr, "umbra network-key: key generation failed: %s\n", um_strerror(rc));
		goto out;
	}
	rc = um_network_key_save(&key, out_path);
	if (rc < 0) {
		if (rc == -EEXIST)
			fprintf(stderr, "umbra network-key: %s: file exists; refusing to overwrite a key\n", out_path);
		else
			fprintf(stderr, "umbra network-key: %s: %s\n", out_path, um_strerror(rc));
		goto out;
	}
	um_network_key_fingerprint(&key, fingerprint, sizeof(fingerprint));
	if (um_cli.json)
		printf("{\"network\":\"%s\"}\n", fingerprint);
	else
		printf("network %s\n", fingerprint);
	status = 0;
out:
	um_network_key_wipe(&key);
	return status;
}
