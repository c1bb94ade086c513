/* SPDX-License-Identifier: MIT */
/* bench-aead: ChaCha20-Poly1305 seal cost per implementation and message
 * size, warm (back to back) and cold (a 32 MiB buffer is walked between
 * calls, evicting caches and TLB entries the way an idle spell does).
 * Decides UM_AEAD_SMALL_MAX in session/aead.h.
 *   bench-aead [ITERATIONS]   (default 300 cold, 100x that warm) */
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/chacha20poly1305.h"
#include "session/aead.h"
#include "util/clock.h"

enum impl { IMPL_COMPACT, IMPL_SODIUM, IMPL_EVP, IMPL_COUNT };
static const char *const impl_names[IMPL_COUNT] = {"compact", "libsodium", "evp"};

static struct um_aead evp;
static uint8_t key[32], nonce[12], ad[16], msg[2048], tag[16];

static void seal(enum impl impl, size_t len, uint64_t counter)
{
	memcpy(nonce + 4, &counter, 8);
	switch (impl) {
	case IMPL_COMPACT:
		um_chacha20poly1305_seal(key, nonce, ad, sizeof(ad), msg, len, tag);
		break;
	case IMPL_SODIUM:
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(msg, tag, NULL, msg, len, ad, sizeof(ad), NULL,
								   nonce, key);
		break;
	default: {
		/* um_aead_seal_parts always takes the EVP path, whatever the size. */
		struct iovec part = {msg, len};
		um_aead_seal_parts(&evp, 1, key, counter, ad, sizeof(ad), &part, 1, msg, tag);
		break;
	}
	}
}

static int compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : 300;
	if (iterations < 10 || sodium_init() < 0 || um_aead_init(&evp) < 0) {
		fprintf(stderr, "usage: bench-aead [ITERATIONS >= 10]\n");
		return 2;
	}
	randombytes_buf(key, sizeof(key));
	size_t flush_len = 32u << 20;
	volatile uint8_t *flush = malloc(flush_len);
	uint64_t *samples = malloc((size_t)iterations * sizeof(*samples));
	if (!flush || !samples)
		return 1;
	memset((void *)flush, 1, flush_len);
	static const size_t sizes[] = {64, 84, 128, 256, 512, 1400};
	printf("%-10s %6s %10s %12s %12s\n", "impl", "bytes", "warm ns", "cold p50 ns", "cold p90 ns");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (int impl = 0; impl < IMPL_COUNT; impl++) {
			size_t len = sizes[s];
			long warm = iterations * 100;
			for (long i = 0; i < 1000; i++)
				seal((enum impl)impl, len, (uint64_t)i);
			uint64_t t0 = um_now_ns();
			for (long i = 0; i < warm; i++)
				seal((enum impl)impl, len, (uint64_t)i);
			double warm_ns = (double)(um_now_ns() - t0) / (double)warm;
			for (long i = 0; i < iterations; i++) {
				for (size_t j = 0; j < flush_len; j += 64)
					flush[j]++;
				uint64_t c0 = um_now_ns();
				seal((enum impl)impl, len, (uint64_t)i);
				samples[i] = um_now_ns() - c0;
			}
			qsort(samples, (size_t)iterations, sizeof(*samples), compare);
			printf("%-10s %6zu %10.0f %12llu %12llu\n", impl_names[impl], len, warm_ns,
			       (unsigned long long)samples[iterations / 2],
			       (unsigned long long)samples[iterations * 9 / 10]);
		}
	}
	um_aead_free(&evp);
	free(samples);
	free((void *)flush);
	return 0;
}
