/* SPDX-License-Identifier: MIT */
/* um_bootstrap_tool: the node's bootstrap client (http/bootstrap_client.h)
 * from the shell, for the daemon tests.
 *
 *   um_bootstrap_tool URL KEY register [--public] IP:PORT...
 *   um_bootstrap_tool URL KEY heartbeat | unregister
 *   um_bootstrap_tool URL - peers              one line per node: ID observed endpoints...
 *   um_bootstrap_tool URL - peer ID [--public-path]
 *
 * Exit status: 0 done, 3 not found, 4 refused (403), 5 rate limited (429),
 * 6 no answer, 1 anything else. */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "http/bootstrap_client.h"
#include "util/error.h"

static int exit_code(int r)
{
	switch (r) {
	case 0:
		return 0;
	case -UM_ENOTFOUND:
		return 3;
	case -UM_EBADMSG:
		return 4;
	case -UM_ELIMIT:
		return 5;
	case -UM_EAGAIN:
		return 6;
	default:
		return 1;
	}
}

static void print_peer(const struct um_bootstrap_peer *p)
{
	char id[UM_PEER_ID_TEXT_MAX], text[UM_ADDR_TEXT_MAX];

	if (p->has_id)
		um_peer_id_format(&p->id, id, sizeof(id));
	else
		snprintf(id, sizeof(id), "private");
	um_addr_format_host(&p->observed, text, sizeof(text));
	printf("%s %s", id, text);
	for (size_t i = 0; i < p->n_endpoints; i++) {
		um_addr_format(&p->endpoints[i], text, sizeof(text));
		printf(" %s", text);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	struct um_bootstrap_client client;
	struct um_identity identity;
	struct um_bootstrap_peer peers[UM_BOOTSTRAP_LIST_MAX];
	struct um_addr endpoints[UM_BOOTSTRAP_ENDPOINTS_MAX];
	size_t n = 0;
	uint64_t ttl = 0;
	int r = -UM_EINVAL;

	if (argc < 4 || sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "usage: um_bootstrap_tool URL KEY|- COMMAND [ARGS]\n");
		return 1;
	}
	if (um_bootstrap_client_init(&client, argv[1])) {
		fprintf(stderr, "bad URL %s\n", argv[1]);
		return 1;
	}
	client.http.insecure = getenv("UM_BOOTSTRAP_INSECURE") != NULL;
	bool keyed = strcmp(argv[2], "-") != 0;
	if (keyed && (r = um_identity_load(&identity, argv[2]))) {
		fprintf(stderr, "%s: %s\n", argv[2], um_strerror(r));
		return 1;
	}
	const char *cmd = argv[3];
	if (!strcmp(cmd, "register") && keyed) {
		bool is_public = false;
		for (int i = 4; i < argc; i++) {
			if (!strcmp(argv[i], "--public"))
				is_public = true;
			else if (n < UM_BOOTSTRAP_ENDPOINTS_MAX && um_addr_parse(&endpoints[n], argv[i]) == 0)
				n++;
			else
				goto usage;
		}
		r = um_bootstrap_client_register(&client, &identity, endpoints, n, is_public, &ttl);
		if (!r)
			printf("registered ttl=%llu\n", (unsigned long long)ttl);
	} else if (!strcmp(cmd, "heartbeat") && keyed) {
		r = um_bootstrap_client_heartbeat(&client, &identity, &ttl);
		if (!r)
			printf("refreshed ttl=%llu\n", (unsigned long long)ttl);
	} else if (!strcmp(cmd, "unregister") && keyed) {
		r = um_bootstrap_client_unregister(&client, &identity);
	} else if (!strcmp(cmd, "peers")) {
		r = um_bootstrap_client_peers(&client, peers, UM_BOOTSTRAP_LIST_MAX, &n);
		for (size_t i = 0; !r && i < n; i++)
			print_peer(&peers[i]);
	} else if (!strcmp(cmd, "peer") && argc >= 5) {
		struct um_peer_id id;
		if (um_peer_id_parse(&id, argv[4]))
			goto usage;
		r = um_bootstrap_client_peer(&client, &id, argc > 5 && !strcmp(argv[5], "--public-path"), &peers[0]);
		if (!r)
			print_peer(&peers[0]);
	} else {
		goto usage;
	}
	if (r)
		fprintf(stderr, "%s: %s (HTTP %u)\n", cmd, um_strerror(r), client.http.last_status);
	um_bootstrap_client_close(&client);
	if (keyed)
		um_identity_wipe(&identity);
	curl_global_cleanup();
	return exit_code(r);
usage:
	fprintf(stderr, "bad arguments for %s\n", cmd);
	return 1;
}
