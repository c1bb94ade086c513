/* SPDX-License-Identifier: MIT */
/* The public API as an embedder sees it: only include/umbra.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "umbra.h"

static char dir[] = "/tmp/umbra-api-XXXXXX";

static void test_identity_roundtrip(void)
{
	struct umbra_identity *a = NULL, *b = NULL;
	char path[128], id_a[UMBRA_PEER_ID_TEXT_MAX], id_b[UMBRA_PEER_ID_TEXT_MAX];
	char short_id[UMBRA_PEER_ID_SHORT_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/node.key", dir);
	CHECK_EQ(umbra_identity_generate(&a), 0);
	CHECK_EQ(umbra_identity_save(a, path), 0);
	CHECK(umbra_identity_save(a, path) < 0); /* never overwrites */
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(umbra_identity_load(&b, path), 0);
	CHECK_EQ(umbra_identity_peer_id(a, id_a, sizeof(id_a)), 0);
	CHECK_EQ(umbra_identity_peer_id(b, id_b, sizeof(id_b)), 0);
	CHECK(strcmp(id_a, id_b) == 0);
	CHECK_EQ(umbra_identity_short_id(a, short_id, sizeof(short_id)), 0);
	CHECK(strncmp(id_a, short_id, strlen(short_id)) == 0);
	CHECK_EQ(umbra_peer_id_check(id_a), 0);
	/* A typo is caught by the checksum. */
	id_a[20] = id_a[20] == 'q' ? 'p' : 'q';
	CHECK(umbra_peer_id_check(id_a) < 0);
	umbra_identity_free(a);
	umbra_identity_free(b);

	/* Group-readable key files are refused. */
	CHECK_EQ(chmod(path, 0640), 0);
	b = NULL;
	CHECK(umbra_identity_load(&b, path) < 0);
	CHECK(b == NULL);
	unlink(path);
}

static void test_node_config_error(void)
{
	struct umbra_node *node = NULL;
	char path[128], error[512] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("[node]\nlisten-port = 51820\nno-such-key = 1\n", f);
	fclose(f);
	CHECK(umbra_node_open(&node, path, error, sizeof(error)) < 0);
	CHECK(node == NULL);
	/* The message names the file, the line and the key. */
	CHECK(strstr(error, path) != NULL);
	CHECK(strstr(error, ":3") != NULL);
	CHECK(strstr(error, "no-such-key") != NULL);
	unlink(path);
}

int main(void)
{
	CHECK_EQ(umbra_init(), 0);
	CHECK(strlen(umbra_version()) > 0);
	CHECK(strcmp(umbra_strerror(0), "success") == 0);
	if (!mkdtemp(dir))
		return 1;
	RUN(test_identity_roundtrip);
	RUN(test_node_config_error);
	rmdir(dir);
	return um_test_end();
}
