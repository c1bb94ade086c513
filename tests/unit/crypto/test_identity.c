/* SPDX-License-Identifier: MIT */
/* Identities: derivation, peer-ID text (typos always caught), the private
 * file (round trip, 0600 whatever the umask, no overwrite, refusals). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/identity.h"
#include "crypto/sha3.h"
#include "test.h"
#include "util/error.h"

static char tmpdir[] = "/tmp/umbra-test-identity-XXXXXX";
static struct um_identity ident;
static const char alphabet[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static void path_in_tmp(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, data, len), (long long)len);
	CHECK_EQ(fchmod(fd, mode), 0);
	close(fd);
}

static void test_derivation(void)
{
	struct um_identity again;
	uint8_t expect[32], input[16 + UM_HSIG_PK_BYTES];

	CHECK_EQ(um_identity_from_seed(&again, ident.seed), 0);
	CHECK_MEM(&again, &ident, sizeof(again));
	/* Peer ID = SHA3-256("umbra-peer-id-v1" || ed25519 pk || ML-DSA pk). */
	memcpy(input, "umbra-peer-id-v1", 16);
	memcpy(input + 16, ident.public_key, UM_HSIG_PK_BYTES);
	um_sha3_256(expect, input, sizeof(input));
	CHECK_MEM(ident.id.bytes, expect, 32);
	um_identity_wipe(&again);
	CHECK(sodium_is_zero((const uint8_t *)&again, sizeof(again)));
	/* Two generated identities differ. */
	CHECK_EQ(um_identity_generate(&again), 0);
	CHECK(memcmp(again.id.bytes, ident.id.bytes, 32) != 0);
	um_identity_wipe(&again);
}

/* Cross-checked with an independent bech32m implementation (and BIP 350's
 * "a1lqfn3a" vector for that implementation). */
static void test_peer_id_known_text(void)
{
	struct um_peer_id id, parsed;
	char text[UM_PEER_ID_TEXT_MAX], short_id[UM_PEER_ID_SHORT_MAX];

	for (int i = 0; i < 32; i++)
		id.bytes[i] = (uint8_t)i;
	CHECK_EQ(um_peer_id_format(&id, text, sizeof(text)), 0);
	CHECK(!strcmp(text, "umbra1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0skh9jqx"));
	CHECK_EQ(um_peer_id_format_short(&id, short_id, sizeof(short_id)), 0);
	CHECK(!strcmp(short_id, "umbra1qqqsyqcy"));
	CHECK_EQ(um_peer_id_parse(&parsed, text), 0);
	CHECK_MEM(&parsed, &id, sizeof(id));
	memset(id.bytes, 0, 32);
	CHECK_EQ(um_peer_id_format(&id, text, sizeof(text)), 0);
	CHECK(!strcmp(text, "umbra1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqlrwsql"));
	CHECK_EQ(um_peer_id_format(&id, text, 64), -UM_ERANGE);
	CHECK_EQ(um_peer_id_format_short(&id, short_id, 14), -UM_ERANGE);
}

static void test_peer_id_parse_errors(void)
{
	struct um_peer_id id;
	char text[UM_PEER_ID_TEXT_MAX], buf[UM_PEER_ID_TEXT_MAX + 8];

	CHECK_EQ(um_peer_id_format(&ident.id, text, sizeof(text)), 0);
	CHECK_EQ(um_peer_id_parse(&id, ""), -UM_EINVAL);
	CHECK_EQ(um_peer_id_parse(&id, "wg1abc"), -UM_EINVAL);
	CHECK_EQ(um_peer_id_parse(&id, "umbra1"), -UM_ETRUNC);
	memcpy(buf, text, 63);
	buf[63] = '\0';
	CHECK_EQ(um_peer_id_parse(&id, buf), -UM_ETRUNC);
	snprintf(buf, sizeof(buf), "%sq", text);
	CHECK_EQ(um_peer_id_parse(&id, buf), -UM_EINVAL);
	snprintf(buf, sizeof(buf), "%s\n", text);
	CHECK_EQ(um_peer_id_parse(&id, buf), -UM_EINVAL);
	/* Uppercase is refused: one canonical spelling. */
	for (int i = 0; text[i]; i++)
		buf[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ? text[i] - 32 : text[i]);
	buf[64] = '\0';
	CHECK(um_peer_id_parse(&id, buf) < 0);
}

/* Exhaustive: every single-character substitution (any byte value 1..255 at
 * any of the 64 positions) and every adjacent transposition is rejected, on
 * a few IDs. The BCH code guarantees it; this checks we built it right. */
static void test_peer_id_typos(void)
{
	struct um_peer_id id, parsed;
	char text[UM_PEER_ID_TEXT_MAX], typo[UM_PEER_ID_TEXT_MAX];
	long accepted = 0, tried = 0, transposed = 0;

	for (int n = 0; n < 4; n++) {
		if (n == 0)
			id = ident.id;
		else
			randombytes_buf(id.bytes, sizeof(id.bytes));
		CHECK_EQ(um_peer_id_format(&id, text, sizeof(text)), 0);
		CHECK_EQ(strlen(text), 64);
		CHECK_EQ(um_peer_id_parse(&parsed, text), 0);
		CHECK_MEM(&parsed, &id, sizeof(id));
		for (int pos = 0; pos < 64; pos++) {
			for (int c = 1; c < 256; c++) {
				if (c == (unsigned char)text[pos])
					continue;
				memcpy(typo, text, sizeof(typo));
				typo[pos] = (char)c;
				accepted += um_peer_id_parse(&parsed, typo) == 0;
				tried++;
			}
			if (pos < 63 && text[pos] != text[pos + 1]) {
				memcpy(typo, text, sizeof(typo));
				typo[pos] = text[pos + 1];
				typo[pos + 1] = text[pos];
				accepted += um_peer_id_parse(&parsed, typo) == 0;
				transposed++;
			}
		}
		/* Two substitutions in the data part: still caught (BCH distance). */
		for (int k = 0; k < 2000; k++) {
			int a = 6 + (int)randombytes_uniform(58), b = 6 + (int)randombytes_uniform(58);

			memcpy(typo, text, sizeof(typo));
			typo[a] = alphabet[randombytes_uniform(32)];
			typo[b] = alphabet[randombytes_uniform(32)];
			if (strcmp(typo, text))
				accepted += um_peer_id_parse(&parsed, typo) == 0;
		}
	}
	CHECK_EQ(accepted, 0);
	CHECK_EQ(tried, 4 * 64 * 254);
	CHECK(transposed > 200);
}

static void test_file_round_trip(void)
{
	char path[256], path2[256];
	struct um_identity loaded;
	struct stat st;
	mode_t old = umask(0);

	/* umask 0 (would give 0666) and 077: the file is 0600 either way. */
	path_in_tmp(path, sizeof(path), "id-umask0");
	CHECK_EQ(um_identity_save(&ident, path), 0);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	CHECK_EQ(st.st_size, 115);
	umask(077);
	path_in_tmp(path2, sizeof(path2), "id-umask077");
	CHECK_EQ(um_identity_save(&ident, path2), 0);
	CHECK_EQ(stat(path2, &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	umask(old);

	CHECK_EQ(um_identity_load(&loaded, path), 0);
	CHECK_MEM(&loaded, &ident, sizeof(loaded));
	um_identity_wipe(&loaded);
	/* No overwrite, and the existing file is untouched. */
	CHECK_EQ(um_identity_save(&ident, path), -EEXIST);
	CHECK_EQ(um_identity_load(&loaded, path), 0);
	CHECK_MEM(&loaded, &ident, sizeof(loaded));
	um_identity_wipe(&loaded);
	/* No temp file left behind in the directory. */
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 2", tmpdir);
	CHECK_EQ(system(cmd), 0);
	unlink(path);
	unlink(path2);
	/* Missing directory: an errno code, nothing created. */
	path_in_tmp(path, sizeof(path), "no-such-dir/id");
	CHECK_EQ(um_identity_save(&ident, path), -ENOENT);
}

static void test_file_format(void)
{
	char line[UM_IDENTITY_TEXT_MAX], b64[89];
	uint8_t digest[32];
	char hex[9];

	CHECK_EQ(um_identity_format(&ident, line, 115), -UM_ERANGE);
	CHECK_EQ(um_identity_format(&ident, line, sizeof(line)), 0);
	CHECK_EQ(strlen(line), 115);
	sodium_bin2base64(b64, sizeof(b64), ident.seed, 64, sodium_base64_VARIANT_ORIGINAL);
	um_sha3_256(digest, (const uint8_t *)line, 17 + 88);
	sodium_bin2hex(hex, sizeof(hex), digest, 4);
	CHECK(!strncmp(line, "umbra-identity-1 ", 17));
	CHECK(!strncmp(line + 17, b64, 88));
	CHECK(line[105] == ' ');
	CHECK(!strncmp(line + 106, hex, 8));
	CHECK(line[114] == '\n');
	sodium_memzero(line, sizeof(line));
	sodium_memzero(b64, sizeof(b64));
}

static void test_file_refusals(void)
{
	char line[UM_IDENTITY_TEXT_MAX], path[256], bad[2 * UM_IDENTITY_TEXT_MAX];
	struct um_identity loaded;
	static const mode_t insecure[] = {0644, 0640, 0604, 0660, 0601, 0610, 0666};

	CHECK_EQ(um_identity_format(&ident, line, sizeof(line)), 0);
	path_in_tmp(path, sizeof(path), "id");
	for (size_t i = 0; i < sizeof(insecure) / sizeof(insecure[0]); i++) {
		write_file(path, line, 115, insecure[i]);
		CHECK_EQ(um_identity_load(&loaded, path), -UM_EPERM);
	}
	write_file(path, line, 115, 0400);
	CHECK_EQ(um_identity_load(&loaded, path), 0);
	write_file(path, line, 114, 0600); /* newline optional */
	CHECK_EQ(um_identity_load(&loaded, path), 0);
	/* Truncated anywhere (keeping the magic's prefix) -> ETRUNC. */
	for (size_t len = 0; len < 114; len++) {
		write_file(path, line, len, 0600);
		int rc = um_identity_load(&loaded, path);

		if (rc != -UM_ETRUNC)
			fprintf(stderr, "truncated to %zu: %d\n", len, rc);
		CHECK_EQ(rc, -UM_ETRUNC);
	}
	/* A base64 character changed for another valid one -> ECHECKSUM. */
	memcpy(bad, line, 116);
	bad[40] = bad[40] == 'A' ? 'B' : 'A';
	write_file(path, bad, 115, 0600);
	CHECK_EQ(um_identity_load(&loaded, path), -UM_ECHECKSUM);
	/* A checksum digit changed. */
	memcpy(bad, line, 116);
	bad[110] = bad[110] == '0' ? '1' : '0';
	write_file(path, bad, 115, 0600);
	CHECK_EQ(um_identity_load(&loaded, path), -UM_ECHECKSUM);
	/* Unknown version, garbage, trailing data, an extra line, a directory. */
	memcpy(bad, line, 116);
	bad[15] = '2';
	write_file(path, bad, 115, 0600);
	CHECK_EQ(um_identity_load(&loaded, path), -UM_EVERSION);
	write_file(path, "[Interface]\nPrivateKey = x\n", 27, 0600);
	CHECK_EQ(um_identity_load(&loaded, path), -UM_EINVAL);
	memcpy(bad, line, 114);
	memcpy(bad + 114, " x\n", 3);
	write_file(path, bad, 117, 0600);
	CHECK_EQ(um_identity_load(&loaded, path), -UM_EINVAL);
	memcpy(bad, line, 115);
	memcpy(bad + 115, line, 115);
	CHECK_EQ(um_identity_parse(&loaded, bad, 230), -UM_EINVAL);
	CHECK_EQ(um_identity_load(&loaded, tmpdir), -UM_EINVAL);
	path_in_tmp(bad, sizeof(bad), "missing");
	CHECK_EQ(um_identity_load(&loaded, bad), -ENOENT);
	/* A file far too large is refused without parsing. */
	char big[4096];

	memset(big, 'A', sizeof(big));
	write_file(path, big, sizeof(big), 0600);
	CHECK_EQ(um_identity_load(&loaded, path), -UM_EINVAL);
	unlink(path);
	um_identity_wipe(&loaded);
	sodium_memzero(line, sizeof(line));
	sodium_memzero(bad, sizeof(bad));
}

/* Every single-byte substitution in the line is rejected (none loads a
 * different identity). */
static void test_file_substitutions(void)
{
	char line[UM_IDENTITY_TEXT_MAX], bad[UM_IDENTITY_TEXT_MAX];
	struct um_identity loaded;
	long accepted = 0, with_checksum_code = 0;

	CHECK_EQ(um_identity_format(&ident, line, sizeof(line)), 0);
	for (int pos = 0; pos < 114; pos++) {
		for (int c = 1; c < 256; c++) {
			if (c == (unsigned char)line[pos] || c == '\n')
				continue;
			memcpy(bad, line, sizeof(bad));
			bad[pos] = (char)c;
			int rc = um_identity_parse(&loaded, bad, 115);

			accepted += rc == 0;
			with_checksum_code += rc == -UM_ECHECKSUM;
		}
	}
	CHECK_EQ(accepted, 0);
	CHECK(with_checksum_code > 90 * 200); /* most damage lands in the content */
	um_identity_wipe(&loaded);
	sodium_memzero(line, sizeof(line));
	sodium_memzero(bad, sizeof(bad));
}

int main(void)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];
	int rc;

	if (sodium_init() < 0 || !mkdtemp(tmpdir))
		return 1;
	for (int i = 0; i < UM_HSIG_SEED_BYTES; i++)
		seed[i] = (uint8_t)(0xa0 + i);
	if (um_identity_from_seed(&ident, seed) != 0) {
		fprintf(stderr, "identity derivation failed\n");
		return 1;
	}
	RUN(test_derivation);
	RUN(test_peer_id_known_text);
	RUN(test_peer_id_parse_errors);
	RUN(test_peer_id_typos);
	RUN(test_file_round_trip);
	RUN(test_file_format);
	RUN(test_file_refusals);
	RUN(test_file_substitutions);
	um_identity_wipe(&ident);
	rc = um_test_end();
	rmdir(tmpdir);
	return rc;
}
