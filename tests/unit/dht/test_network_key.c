/* SPDX-License-Identifier: MIT */
/* The network key: the file (round trip, 0600 whatever the umask, no
 * overwrite, refusals), and the derivations (deterministic, separated by
 * peer, day and network, the labels as documented). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/sha3.h"
#include "dht/network_key.h"
#include "test.h"
#include "util/error.h"

static char tmpdir[] = "/tmp/umbra-test-netkey-XXXXXX";
static struct um_network_key key;

static void path_in_tmp(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
	unlink(out);
}

static void write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, data, len), (long long)len);
	CHECK_EQ(fchmod(fd, mode), 0);
	close(fd);
}

static void fixture(void)
{
	CHECK_EQ(um_network_key_generate(&key), 0);
}

static void test_text(void)
{
	struct um_network_key parsed, again;
	char line[UM_NETWORK_KEY_TEXT_MAX], fp1[UM_NETWORK_KEY_FINGERPRINT_MAX], fp2[UM_NETWORK_KEY_FINGERPRINT_MAX];
	size_t len;

	fixture();
	CHECK_EQ(um_network_key_format(&key, line, sizeof(line)), 0);
	len = strlen(line);
	CHECK_EQ(len, 74);
	CHECK(strncmp(line, "umbra-network-key-1 ", 20) == 0);
	CHECK_EQ(um_network_key_parse(&parsed, line, len), 0);
	CHECK_MEM(parsed.bytes, key.bytes, 32);
	CHECK_EQ(um_network_key_parse(&parsed, line, len - 1), 0); /* newline optional */
	/* Every cut is a truncation; a changed key character a checksum error. */
	for (size_t cut = 0; cut < len - 1; cut++)
		CHECK(um_network_key_parse(&parsed, line, cut) < 0);
	CHECK_EQ(um_network_key_parse(&parsed, line, 30), -UM_ETRUNC);
	line[25] = line[25] == 'A' ? 'B' : 'A';
	CHECK_EQ(um_network_key_parse(&parsed, line, len), -UM_ECHECKSUM);
	CHECK_EQ(um_network_key_format(&key, line, sizeof(line)), 0);
	line[18] = '2';
	CHECK_EQ(um_network_key_parse(&parsed, line, len), -UM_EVERSION);
	CHECK_EQ(um_network_key_parse(&parsed, "umbra-identity-1 x", 18), -UM_EINVAL);
	CHECK_EQ(um_network_key_parse(&parsed, "", 0), -UM_ETRUNC);
	CHECK_EQ(um_network_key_format(&key, line, 10), -UM_ERANGE);
	/* Fingerprint: stable, public, different per key. */
	CHECK_EQ(um_network_key_fingerprint(&key, fp1, sizeof(fp1)), 0);
	CHECK_EQ(um_network_key_fingerprint(&key, fp2, sizeof(fp2)), 0);
	CHECK(strcmp(fp1, fp2) == 0);
	CHECK_EQ(strlen(fp1), 18);
	CHECK_EQ(um_network_key_generate(&again), 0);
	CHECK(memcmp(again.bytes, key.bytes, 32) != 0);
	CHECK_EQ(um_network_key_fingerprint(&again, fp2, sizeof(fp2)), 0);
	CHECK(strcmp(fp1, fp2) != 0);
	um_network_key_wipe(&again);
	CHECK(sodium_is_zero(again.bytes, 32));
}

static void test_file(void)
{
	struct um_network_key loaded;
	char path[256], line[UM_NETWORK_KEY_TEXT_MAX];
	struct stat st;
	mode_t old;

	fixture();
	path_in_tmp(path, sizeof(path), "net.key");
	old = umask(0);
	CHECK_EQ(um_network_key_save(&key, path), 0);
	umask(old);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(um_network_key_load(&loaded, path), 0);
	CHECK_MEM(loaded.bytes, key.bytes, 32);
	/* No overwrite, even of a key file. */
	CHECK_EQ(um_network_key_save(&loaded, path), -EEXIST);
	/* Readable by others: refused. */
	CHECK_EQ(chmod(path, 0640), 0);
	CHECK_EQ(um_network_key_load(&loaded, path), -UM_EPERM);
	CHECK_EQ(chmod(path, 0604), 0);
	CHECK_EQ(um_network_key_load(&loaded, path), -UM_EPERM);
	/* Damaged, oversized, a directory, missing. */
	CHECK_EQ(um_network_key_format(&key, line, sizeof(line)), 0);
	line[30] = line[30] == 'x' ? 'y' : 'x';
	write_file(path, line, strlen(line), 0600);
	CHECK_EQ(um_network_key_load(&loaded, path), -UM_ECHECKSUM);
	{
		char big[400];

		memset(big, 'a', sizeof(big));
		write_file(path, big, sizeof(big), 0600);
		CHECK_EQ(um_network_key_load(&loaded, path), -UM_EINVAL);
	}
	CHECK_EQ(um_network_key_load(&loaded, tmpdir), -UM_EINVAL);
	unlink(path);
	CHECK_EQ(um_network_key_load(&loaded, path), -ENOENT);
	um_network_key_wipe(&loaded);
}

static void test_derivations(void)
{
	struct um_network_key other;
	struct um_peer_id alice, bob;
	uint8_t pk1[32], sk1[64], pk2[32], sk2[64], k1[32], k2[32], expect[32], input[64];

	fixture();
	memset(alice.bytes, 0xaa, 32);
	memset(bob.bytes, 0xbb, 32);
	memset(other.bytes, 0x55, 32);
	CHECK_EQ(um_dht_day(0), 0);
	CHECK_EQ(um_dht_day(86399), 0);
	CHECK_EQ(um_dht_day(86400), 1);
	/* Deterministic; separated by peer, day and network. */
	CHECK_EQ(um_dht_private_keypair(pk1, sk1, &key, &alice, 100), 0);
	CHECK_EQ(um_dht_private_keypair(pk2, sk2, &key, &alice, 100), 0);
	CHECK_MEM(pk1, pk2, 32);
	CHECK_MEM(sk1, sk2, 64);
	CHECK_EQ(um_dht_private_keypair(pk2, sk2, &key, &bob, 100), 0);
	CHECK(memcmp(pk1, pk2, 32) != 0);
	CHECK_EQ(um_dht_private_keypair(pk2, sk2, &key, &alice, 101), 0);
	CHECK(memcmp(pk1, pk2, 32) != 0);
	CHECK_EQ(um_dht_private_keypair(pk2, sk2, &other, &alice, 100), 0);
	CHECK(memcmp(pk1, pk2, 32) != 0);
	/* The relay key pair of the same (network, day) is another one. */
	CHECK_EQ(um_dht_relay_keypair(pk2, sk2, &key, 100), 0);
	CHECK(memcmp(pk1, pk2, 32) != 0);
	sodium_memzero(sk1, sizeof(sk1));
	sodium_memzero(sk2, sizeof(sk2));
	/* DHT keys as documented: SHA3-256(label || outer pk). */
	CHECK_EQ(um_dht_private_keypair(pk1, sk1, &key, &alice, 100), 0);
	sodium_memzero(sk1, sizeof(sk1));
	CHECK_EQ(um_dht_private_key(k1, &key, &alice, 100), 0);
	memcpy(input, "umbra dht private key", 21);
	memcpy(input + 21, pk1, 32);
	um_sha3_256(expect, input, 21 + 32);
	CHECK_MEM(k1, expect, 32);
	um_dht_relay_key_public(k1);
	um_sha3_256(expect, (const uint8_t *)"umbra dht relays", 16);
	CHECK_MEM(k1, expect, 32);
	CHECK_EQ(um_dht_relay_key_private(k2, &key, 100), 0);
	CHECK(memcmp(k1, k2, 32) != 0);
	CHECK_EQ(um_dht_relay_key_private(k1, &other, 100), 0);
	CHECK(memcmp(k1, k2, 32) != 0);
	/* Seal key and owner tags: per network; tags per relay and day. */
	um_dht_seal_key(k1, &key);
	um_dht_seal_key(k2, &other);
	CHECK(memcmp(k1, k2, 32) != 0);
	CHECK(memcmp(k1, key.bytes, 32) != 0);
	um_dht_relay_owner_tag(k1, &key, &alice, 100);
	um_dht_relay_owner_tag(k2, &key, &alice, 101);
	CHECK(memcmp(k1, k2, 32) != 0);
	um_dht_relay_owner_tag(k2, &key, &bob, 100);
	CHECK(memcmp(k1, k2, 32) != 0);
	CHECK_EQ(um_dht_private_keypair(pk1, sk1, NULL, &alice, 100), -UM_EINVAL);
	CHECK_EQ(um_dht_private_keypair(pk1, sk1, &key, NULL, 100), -UM_EINVAL);
	um_network_key_wipe(&other);
}

int main(void)
{
	if (sodium_init() < 0 || !mkdtemp(tmpdir))
		return 1;
	RUN(test_text);
	RUN(test_file);
	RUN(test_derivations);
	um_network_key_wipe(&key);
	rmdir(tmpdir);
	return um_test_end();
}
