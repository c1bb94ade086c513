/* SPDX-License-Identifier: MIT */
/* ChaCha20-Poly1305 (crypto/chacha20poly1305.h): the RFC 8439 test vectors
 * (sections 2.4.2, 2.5.2, 2.6.2, 2.8.2 and appendices A.1-A.5), then a
 * differential test against libsodium on every message length 0..600 with
 * associated data of 0..40 bytes, random and all-0xff keys and data, and
 * tamper tests: open must refuse any single flipped bit of ad, ciphertext or
 * tag and leave the buffer untouched. The PRNG is a fixed-seed splitmix64,
 * so a failure replays exactly. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>

#include "crypto/chacha20poly1305.h"
#include "test.h"
#include "util/error.h"
#include "util/json.h"

enum { MAX_MSG = 600, MAX_AD = 40, MAX_VECTOR = 400 };

/* ---- helpers ---- */

static uint64_t prng_state = 0x2545f4914f6cdd1dULL;

static uint64_t prng_next(void)
{
	uint64_t z = (prng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void prng_fill(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)prng_next();
}

/* Hex text (spaces allowed between bytes) to bytes; returns the count. A
 * malformed literal aborts: it is a bug in this file, not in the code. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	char digits[2 * MAX_VECTOR + 1];
	size_t n = 0, len = 0;

	for (; *hex && n < sizeof(digits); hex++)
		if (*hex != ' ')
			digits[n++] = *hex;
	if (*hex || um_json_hex_decode(out, cap, &len, digits, n) < 0) {
		fprintf(stderr, "bad hex literal '%.16s'\n", digits);
		abort();
	}
	return len;
}

/* ---- RFC 8439 texts (ASCII, typed from the RFC) ---- */

static const char sunscreen[] =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    "sunscreen would be it.";

static const char ietf_text[] =
    "Any submission to the IETF intended by the Contributor for publication as all or part of an "
    "IETF Internet-Draft or RFC and any statement made within the context of an IETF activity is "
    "considered an \"IETF Contribution\". Such statements include oral statements in IETF "
    "sessions, as well as written and electronic communications made at any time or place, which "
    "are addressed to";

static const char jabberwocky[] = "'Twas brillig, and the slithy toves\nDid gyre and gimble in the "
				  "wabe:\nAll mimsy were the borogoves,\nAnd the mome raths outgrabe.";

static const char drafts_text[] =
    "Internet-Drafts are draft documents valid for a maximum of six months and may be updated, "
    "replaced, or obsoleted by other documents at any time. It is inappropriate to use "
    "Internet-Drafts as reference material or to cite them other than as "
    "/\xe2\x80\x9cwork in progress./\xe2\x80\x9d";

static const char key_0_to_1f[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char key_80_to_9f[] = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
static const char key_1c92[] = "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0";
static const char zero32[] = "0000000000000000000000000000000000000000000000000000000000000000";
static const char zero31_one[] = "0000000000000000000000000000000000000000000000000000000000000001";

static void test_text_lengths(void)
{
	/* Guards the typed texts against a dropped or extra character. */
	CHECK_EQ(strlen(sunscreen), 114);
	CHECK_EQ(strlen(ietf_text), 375);
	CHECK_EQ(strlen(jabberwocky), 127);
	CHECK_EQ(strlen(drafts_text), 265);
}

/* ---- ChaCha20 ---- */

struct chacha_vector {
	const char *name, *key, *nonce;
	uint32_t counter;
	const char *plaintext; /* ASCII; NULL = zero bytes */
	const char *out;       /* hex: ciphertext (keystream if plaintext NULL) */
};

static const struct chacha_vector chacha_vectors[] = {
    {"2.4.2", key_0_to_1f, "000000000000004a00000000", 1, sunscreen,
     "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
     "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
     "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
     "5af90bbf74a35be6b40b8eedf2785e42874d"},
    {"2.6.2 (Poly1305 key generation)", key_80_to_9f, "000000000001020304050607", 0, NULL,
     "8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646"},
    {"A.1 #1", zero32, "000000000000000000000000", 0, NULL,
     "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
     "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"},
    {"A.1 #2", zero32, "000000000000000000000000", 1, NULL,
     "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
     "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"},
    {"A.1 #3", zero31_one, "000000000000000000000000", 1, NULL,
     "3aeb5224ecf849929b9d828db1ced4dd832025e8018b8160b82284f3c949aa5a"
     "8eca00bbb4a73bdad192b5c42f73f2fd4e273644c8b36125a64addeb006c13a0"},
    {"A.1 #4", "00ff000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", 2, NULL,
     "72d54dfbf12ec44b362692df94137f328fea8da73990265ec1bbbea1ae9af0ca"
     "13b25aa26cb4a648cb9b9d1be65b2c0924a66c54d545ec1b7374f4872e99f096"},
    {"A.1 #5", zero32, "000000000000000000000002", 0, NULL,
     "c2c64d378cd536374ae204b9ef933fcd1a8b2288b3dfa49672ab765b54ee27c7"
     "8a970e0e955c14f3a88e741b97c286f75f8fc299e8148362fa198a39531bed6d"},
    {"A.2 #2", zero31_one, "000000000000000000000002", 1, ietf_text,
     "a3fbf07df3fa2fde4f376ca23e82737041605d9f4f4f57bd8cff2c1d4b7955ec"
     "2a97948bd3722915c8f3d337f7d370050e9e96d647b7c39f56e031ca5eb6250d"
     "4042e02785ececfa4b4bb5e8ead0440e20b6e8db09d881a7c6132f420e527950"
     "42bdfa7773d8a9051447b3291ce1411c680465552aa6c405b7764d5e87bea85a"
     "d00f8449ed8f72d0d662ab052691ca66424bc86d2df80ea41f43abf937d3259d"
     "c4b2d0dfb48a6c9139ddd7f76966e928e635553ba76c5c879d7b35d49eb2e62b"
     "0871cdac638939e25e8a1e0ef9d5280fa8ca328b351c3c765989cbcf3daa8b6c"
     "cc3aaf9f3979c92b3720fc88dc95ed84a1be059c6499b9fda236e7e818b04b0b"
     "c39c1e876b193bfe5569753f88128cc08aaa9b63d1a16f80ef2554d7189c411f"
     "5869ca52c5b83fa36ff216b9c1d30062bebcfd2dc5bce0911934fda79a86f6e6"
     "98ced759c3ff9b6477338f3da4f9cd8514ea9982ccafb341b2384dd902f3d1ab"
     "7ac61dd29c6f21ba5b862f3730e37cfdc4fd806c22f221"},
    {"A.2 #3", key_1c92, "000000000000000000000002", 42, jabberwocky,
     "62e6347f95ed87a45ffae7426f27a1df5fb69110044c0d73118effa95b01e5cf"
     "166d3df2d721caf9b21e5fb14c616871fd84c54f9d65b283196c7fe4f60553eb"
     "f39c6402c42234e32a356b3e764312a61a5532055716ead6962568f87d3f3f77"
     "04c6a8d1bcd1bf4d50d6154b6da731b187b58dfd728afa36757a797ac188d1"},
    {"A.4 #2 (Poly1305 key generation)", zero31_one, "000000000000000000000002", 0, NULL,
     "ecfa254f845f647473d3cb140da9e87606cb33066c447b87bc2666dde3fbb739"},
    {"A.4 #3 (Poly1305 key generation)", key_1c92, "000000000000000000000002", 0, NULL,
     "965e3bc6f9ec7ed9560808f4d229f94b137ff275ca9b3fcbdd59deaad23310ae"},
};

static void test_chacha20_vectors(void)
{
	for (size_t v = 0; v < sizeof(chacha_vectors) / sizeof(chacha_vectors[0]); v++) {
		const struct chacha_vector *t = &chacha_vectors[v];
		uint8_t key[32], nonce[12], in[MAX_VECTOR] = {0}, expect[MAX_VECTOR], out[MAX_VECTOR];
		int before = um_test_failures;

		CHECK_EQ(unhex(t->key, key, sizeof(key)), 32);
		CHECK_EQ(unhex(t->nonce, nonce, sizeof(nonce)), 12);
		size_t len = unhex(t->out, expect, sizeof(expect));
		if (t->plaintext) {
			CHECK_EQ(strlen(t->plaintext), len);
			memcpy(in, t->plaintext, len);
		}
		/* Separate output, then in place. */
		um_chacha20_xor(key, nonce, t->counter, in, out, len);
		CHECK_MEM(out, expect, len);
		um_chacha20_xor(key, nonce, t->counter, in, in, len);
		CHECK_MEM(in, expect, len);
		/* Decryption is the same operation. */
		um_chacha20_xor(key, nonce, t->counter, in, in, len);
		if (t->plaintext)
			CHECK_MEM(in, t->plaintext, len);
		if (um_test_failures != before)
			fprintf(stderr, "  ChaCha20 vector %s\n", t->name);
	}
}

/* ---- Poly1305 ---- */

struct poly_vector {
	const char *name, *key;
	const char *text; /* ASCII, or NULL to use hex */
	const char *hex;  /* message as hex when text is NULL */
	const char *tag;
};

static const struct poly_vector poly_vectors[] = {
    {"2.5.2", "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b", "Cryptographic Forum Research Group",
     NULL, "a8061dc1305136c6c22b8baf0c0127a9"},
    {"A.3 #1", zero32, NULL,
     "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000000000000000000000000000",
     "00000000000000000000000000000000"},
    {"A.3 #2", "0000000000000000000000000000000036e5f6b5c5e06070f0efca96227a863e", ietf_text, NULL,
     "36e5f6b5c5e06070f0efca96227a863e"},
    {"A.3 #3", "36e5f6b5c5e06070f0efca96227a863e00000000000000000000000000000000", ietf_text, NULL,
     "f3477e7cd95417af89a6b8794c310cf0"},
    {"A.3 #4", key_1c92, jabberwocky, NULL, "4541669a7eaaee61e708dc7cbcc5eb62"},
    /* #5-#11: the reduction edge cases. */
    {"A.3 #5", "0200000000000000000000000000000000000000000000000000000000000000", NULL,
     "ffffffffffffffffffffffffffffffff", "03000000000000000000000000000000"},
    {"A.3 #6", "02000000000000000000000000000000ffffffffffffffffffffffffffffffff", NULL,
     "02000000000000000000000000000000", "03000000000000000000000000000000"},
    {"A.3 #7", "0100000000000000000000000000000000000000000000000000000000000000", NULL,
     "ffffffffffffffffffffffffffffffff f0ffffffffffffffffffffffffffffff"
     " 11000000000000000000000000000000",
     "05000000000000000000000000000000"},
    {"A.3 #8", "0100000000000000000000000000000000000000000000000000000000000000", NULL,
     "ffffffffffffffffffffffffffffffff fbfefefefefefefefefefefefefefefe"
     " 01010101010101010101010101010101",
     "00000000000000000000000000000000"},
    {"A.3 #9", "0200000000000000000000000000000000000000000000000000000000000000", NULL,
     "fdffffffffffffffffffffffffffffff", "faffffffffffffffffffffffffffffff"},
    {"A.3 #10", "0100000000000000040000000000000000000000000000000000000000000000", NULL,
     "e33594d7505e43b90000000000000000 3394d7505e4379cd0100000000000000"
     " 00000000000000000000000000000000 01000000000000000000000000000000",
     "14000000000000005500000000000000"},
    {"A.3 #11", "0100000000000000040000000000000000000000000000000000000000000000", NULL,
     "e33594d7505e43b90000000000000000 3394d7505e4379cd0100000000000000"
     " 00000000000000000000000000000000",
     "13000000000000000000000000000000"},
};

static void test_poly1305_vectors(void)
{
	for (size_t v = 0; v < sizeof(poly_vectors) / sizeof(poly_vectors[0]); v++) {
		const struct poly_vector *t = &poly_vectors[v];
		uint8_t key[32], msg[MAX_VECTOR], expect[16], tag[16], ref[16];
		size_t len;
		int before = um_test_failures;

		CHECK_EQ(unhex(t->key, key, sizeof(key)), 32);
		CHECK_EQ(unhex(t->tag, expect, sizeof(expect)), 16);
		if (t->text) {
			len = strlen(t->text);
			memcpy(msg, t->text, len);
		} else {
			len = unhex(t->hex, msg, sizeof(msg));
		}
		um_poly1305(key, msg, len, tag);
		CHECK_MEM(tag, expect, 16);
		/* The transcription itself, checked against libsodium. */
		crypto_onetimeauth_poly1305(ref, msg, len, key);
		CHECK_MEM(ref, expect, 16);
		if (um_test_failures != before)
			fprintf(stderr, "  Poly1305 vector %s\n", t->name);
	}
}

/* ---- AEAD ---- */

struct aead_vector {
	const char *name, *key, *nonce, *ad, *plaintext, *ciphertext, *tag;
};

static const struct aead_vector aead_vectors[] = {
    {"2.8.2", key_80_to_9f, "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7", sunscreen,
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
     "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
     "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
     "3ff4def08e4b7a9de576d26586cec64b6116",
     "1ae10b594f09e26a7e902ecbd0600691"},
    {"A.5", key_1c92, "000000000102030405060708", "f33388860000000000004e91", drafts_text,
     "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
     "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
     "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
     "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
     "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
     "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
     "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
     "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
     "a6ad5cb4022b02709b",
     "eead9d67890cbb22392336fea1851f38"},
};

static void test_aead_vectors(void)
{
	for (size_t v = 0; v < sizeof(aead_vectors) / sizeof(aead_vectors[0]); v++) {
		const struct aead_vector *t = &aead_vectors[v];
		uint8_t key[32], nonce[12], ad[16], ct[MAX_VECTOR], tag[16], buf[MAX_VECTOR], got[16];
		int before = um_test_failures;

		CHECK_EQ(unhex(t->key, key, sizeof(key)), 32);
		CHECK_EQ(unhex(t->nonce, nonce, sizeof(nonce)), 12);
		CHECK_EQ(unhex(t->tag, tag, sizeof(tag)), 16);
		size_t ad_len = unhex(t->ad, ad, sizeof(ad));
		size_t len = unhex(t->ciphertext, ct, sizeof(ct));
		CHECK_EQ(strlen(t->plaintext), len);

		/* Seal (2.8.2 is given as an encryption example). */
		memcpy(buf, t->plaintext, len);
		um_chacha20poly1305_seal(key, nonce, ad, ad_len, buf, len, got);
		CHECK_MEM(buf, ct, len);
		CHECK_MEM(got, tag, 16);

		/* Open (A.5 is given as a decryption example). */
		memcpy(buf, ct, len);
		CHECK_EQ(um_chacha20poly1305_open(key, nonce, ad, ad_len, buf, len, tag), 0);
		CHECK_MEM(buf, t->plaintext, len);

		/* A wrong tag is refused and the ciphertext stays as it was. */
		memcpy(buf, ct, len);
		tag[15] ^= 0x80;
		CHECK_EQ(um_chacha20poly1305_open(key, nonce, ad, ad_len, buf, len, tag), -UM_EBADMSG);
		CHECK_MEM(buf, ct, len);
		if (um_test_failures != before)
			fprintf(stderr, "  AEAD vector %s\n", t->name);
	}
}

/* ---- differential against libsodium ---- */

/* Data patterns: random everything, or key and data all 0xff (the largest
 * limbs, which stresses carries and the final reduction). */
enum { PATTERN_RANDOM, PATTERN_FF, PATTERN_COUNT };

static void fill(uint8_t *buf, size_t len, int pattern)
{
	if (pattern == PATTERN_FF)
		memset(buf, 0xff, len);
	else
		prng_fill(buf, len);
}

static void test_poly1305_differential(void)
{
	static uint8_t msg[MAX_MSG];
	uint8_t key[32], tag[16], ref[16];

	for (int pattern = 0; pattern < PATTERN_COUNT; pattern++) {
		for (size_t len = 0; len <= MAX_MSG; len++) {
			fill(key, sizeof(key), pattern);
			fill(msg, len, pattern);
			um_poly1305(key, msg, len, tag);
			crypto_onetimeauth_poly1305(ref, msg, len, key);
			CHECK_MEM(tag, ref, 16);
		}
	}
	/* Messages of 0xff under random keys and random messages under the
	 * all-0xff key: h lands near p often, where a wrong final reduction or
	 * a lost carry shows. */
	for (int i = 0; i < 2000; i++) {
		size_t len = 1 + (size_t)(prng_next() % 96);
		prng_fill(key, sizeof(key));
		memset(msg, 0xff, len);
		if (i & 1) {
			memset(key, 0xff, sizeof(key));
			prng_fill(msg, len);
		}
		um_poly1305(key, msg, len, tag);
		crypto_onetimeauth_poly1305(ref, msg, len, key);
		CHECK_MEM(tag, ref, 16);
	}
}

static void test_chacha20_differential(void)
{
	static uint8_t in[MAX_MSG], out[MAX_MSG], ref[MAX_MSG];
	uint8_t key[32], nonce[12];
	/* Counters near the top leave room for MAX_MSG / 64 + 1 blocks. */
	static const uint32_t counters[] = {0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffff0};

	for (size_t len = 0; len <= MAX_MSG; len++) {
		int pattern = (int)(len % PATTERN_COUNT);
		uint32_t counter = counters[len % (sizeof(counters) / sizeof(counters[0]))];

		fill(key, sizeof(key), pattern);
		fill(nonce, sizeof(nonce), pattern);
		fill(in, len, pattern);
		um_chacha20_xor(key, nonce, counter, in, out, len);
		crypto_stream_chacha20_ietf_xor_ic(ref, in, len, nonce, counter, key);
		CHECK_MEM(out, ref, len);
	}
	/* The last allowed block is counter 2^32 - 1. */
	static const size_t edge_lens[] = {1, 63, 64, 65, 128, MAX_MSG};
	for (size_t i = 0; i < sizeof(edge_lens) / sizeof(edge_lens[0]); i++) {
		size_t len = edge_lens[i];
		uint32_t counter = (uint32_t)((1ULL << 32) - (len + 63) / 64);

		prng_fill(key, sizeof(key));
		prng_fill(nonce, sizeof(nonce));
		prng_fill(in, len);
		um_chacha20_xor(key, nonce, counter, in, out, len);
		crypto_stream_chacha20_ietf_xor_ic(ref, in, len, nonce, counter, key);
		CHECK_MEM(out, ref, len);
	}
}

/* Flip bits of the region [at, at + n) of the sealed message one at a time
 * (ad, ciphertext or tag): open must refuse and leave buf unchanged. With
 * every_bit, all of them; otherwise two random bits. */
static void tamper_region(const uint8_t key[32], const uint8_t nonce[12], uint8_t *ad, size_t ad_len, uint8_t *ct,
			  size_t len, uint8_t tag[16], uint8_t *region, size_t n, int every_bit)
{
	static uint8_t buf[MAX_MSG];
	size_t tries = every_bit ? n * 8 : (n ? 2 : 0);

	for (size_t i = 0; i < tries; i++) {
		size_t bit = every_bit ? i : (size_t)(prng_next() % (n * 8));

		region[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memcpy(buf, ct, len);
		int rc = um_chacha20poly1305_open(key, nonce, ad, ad_len, buf, len, tag);
		int changed = memcmp(buf, ct, len) != 0; /* ct as presented, maybe flipped */
		region[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		/* CHECK on the failing path only: millions of passing CHECKs would
		 * only slow the run. */
		if (rc != -UM_EBADMSG || changed) {
			CHECK_EQ(rc, -UM_EBADMSG);
			CHECK(!changed);
			fprintf(stderr, "  tampered bit %zu of a %zu-byte region (ad %zu, len %zu)\n", bit, n, ad_len,
				len);
			return;
		}
	}
}

/* Every bit for the lengths around block boundaries and the small-packet
 * range (the data plane's DATA sizes); a sample elsewhere. */
static int tamper_every_bit(size_t len, size_t ad_len)
{
	static const size_t full_len[] = {0, 1, 15, 16, 17, 63, 64, 65, 84, 127, 128, 129};
	static const size_t full_ad[] = {0, 1, 12, 16, 17, 40};
	int len_full = 0, ad_full = 0;

	for (size_t i = 0; i < sizeof(full_len) / sizeof(full_len[0]); i++)
		len_full |= full_len[i] == len;
	for (size_t i = 0; i < sizeof(full_ad) / sizeof(full_ad[0]); i++)
		ad_full |= full_ad[i] == ad_len;
	return len_full && ad_full;
}

static void test_aead_differential(void)
{
	static uint8_t msg[MAX_MSG], buf[MAX_MSG], ref[MAX_MSG], back[MAX_MSG];
	uint8_t key[32], nonce[12], ad[MAX_AD], tag[16], ref_tag[16];
	unsigned long long ref_tag_len = 0;
	long sealed = 0;

	for (int pattern = 0; pattern < PATTERN_COUNT; pattern++) {
		for (size_t len = 0; len <= MAX_MSG; len++) {
			for (size_t ad_len = 0; ad_len <= MAX_AD; ad_len++) {
				int before = um_test_failures;

				fill(key, sizeof(key), pattern);
				fill(nonce, sizeof(nonce), pattern);
				fill(ad, ad_len, pattern);
				fill(msg, len, pattern);

				memcpy(buf, msg, len);
				um_chacha20poly1305_seal(key, nonce, ad, ad_len, buf, len, tag);
				crypto_aead_chacha20poly1305_ietf_encrypt_detached(ref, ref_tag, &ref_tag_len, msg, len,
										   ad, ad_len, NULL, nonce, key);
				if (memcmp(buf, ref, len) != 0 || memcmp(tag, ref_tag, 16) != 0) {
					CHECK_MEM(buf, ref, len);
					CHECK_MEM(tag, ref_tag, 16);
				}
				sealed++;

				/* libsodium opens what we sealed, and we open it too. */
				if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(back, NULL, buf, len, tag, ad,
										       ad_len, nonce, key) != 0 ||
				    memcmp(back, msg, len) != 0)
					CHECK(!"libsodium refuses or misdecrypts our seal");
				memcpy(back, buf, len);
				if (um_chacha20poly1305_open(key, nonce, ad, ad_len, back, len, tag) != 0 ||
				    memcmp(back, msg, len) != 0)
					CHECK(!"open refuses or misdecrypts a fresh seal");

				int every_bit = tamper_every_bit(len, ad_len);
				tamper_region(key, nonce, ad, ad_len, buf, len, tag, ad, ad_len, every_bit);
				tamper_region(key, nonce, ad, ad_len, buf, len, tag, buf, len, every_bit);
				tamper_region(key, nonce, ad, ad_len, buf, len, tag, tag, 16, every_bit);
				if (um_test_failures != before) {
					fprintf(stderr, "  AEAD differential: pattern %d, len %zu, ad %zu\n", pattern,
						len, ad_len);
					return;
				}
			}
		}
	}
	CHECK_EQ(sealed, (long)PATTERN_COUNT * (MAX_MSG + 1) * (MAX_AD + 1));
}

/* ad == NULL with ad_len 0, and a wrong nonce or key is refused. */
static void test_aead_misc(void)
{
	uint8_t key[32], nonce[12], msg[84], buf[84], tag[16], ref[84], ref_tag[16];
	unsigned long long ref_tag_len = 0;

	prng_fill(key, sizeof(key));
	prng_fill(nonce, sizeof(nonce));
	prng_fill(msg, sizeof(msg));
	memcpy(buf, msg, sizeof(buf));
	um_chacha20poly1305_seal(key, nonce, NULL, 0, buf, sizeof(buf), tag);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(ref, ref_tag, &ref_tag_len, msg, sizeof(msg), NULL, 0, NULL,
							   nonce, key);
	CHECK_MEM(buf, ref, sizeof(buf));
	CHECK_MEM(tag, ref_tag, 16);

	nonce[11] ^= 1;
	CHECK_EQ(um_chacha20poly1305_open(key, nonce, NULL, 0, buf, sizeof(buf), tag), -UM_EBADMSG);
	CHECK_MEM(buf, ref, sizeof(buf));
	nonce[11] ^= 1;
	key[31] ^= 0x40;
	CHECK_EQ(um_chacha20poly1305_open(key, nonce, NULL, 0, buf, sizeof(buf), tag), -UM_EBADMSG);
	CHECK_MEM(buf, ref, sizeof(buf));
	key[31] ^= 0x40;
	/* Same bytes moved from ciphertext to ad: the lengths block tells them apart. */
	CHECK_EQ(um_chacha20poly1305_open(key, nonce, buf, 16, buf + 16, sizeof(buf) - 16, tag), -UM_EBADMSG);
	CHECK_EQ(um_chacha20poly1305_open(key, nonce, NULL, 0, buf, sizeof(buf), tag), 0);
	CHECK_MEM(buf, msg, sizeof(buf));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(test_text_lengths);
	RUN(test_chacha20_vectors);
	RUN(test_poly1305_vectors);
	RUN(test_aead_vectors);
	RUN(test_poly1305_differential);
	RUN(test_chacha20_differential);
	RUN(test_aead_differential);
	RUN(test_aead_misc);
	return um_test_end();
}
