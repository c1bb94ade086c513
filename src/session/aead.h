/* SPDX-License-Identifier: MIT */
/* ChaCha20-Poly1305 (IETF, RFC 8439) for DATA packets through OpenSSL's EVP
 * interface, which is the fastest implementation on this CPU for all but
 * small messages (UM_AEAD_SMALL_MAX). One struct
 * um_aead per thread: it holds preallocated EVP contexts and remembers which
 * key each one holds (by key_id), so a batch under one key sets the key once
 * and then only the nonce per packet. Nothing is allocated per packet.
 * Nonce: 4 zero bytes followed by the 64-bit counter in little-endian order
 * (as in WireGuard). Operates in place. */
#ifndef UM_SESSION_AEAD_H
#define UM_SESSION_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Messages up to this many bytes (pings, TCP ACKs, keepalives, DNS, SSH
 * keystrokes, voice) are sealed and opened by crypto/chacha20poly1305.c
 * instead: the same bytes on the wire from a compact scalar code path. On an
 * idle tunnel every packet meets cold caches, and four seals/opens lie on
 * each ping round trip. bench-aead, 84 bytes after a cache flush: EVP 12-13
 * us, libsodium 9-10 us, compact 3.4 us. Warm, the compact code matches EVP
 * up to 128 bytes and costs ~0.6 us more at 256; MTU-sized bulk packets stay
 * on EVP (about 4x faster warm at 1400 bytes). */
#define UM_AEAD_SMALL_MAX 256

#define UM_AEAD_KEY_LEN 32
#define UM_AEAD_TAG_LEN 16

struct evp_cipher_ctx_st;
struct evp_cipher_st;

struct um_aead {
	struct evp_cipher_ctx_st *seal_ctx, *open_ctx;
	struct evp_cipher_st *cipher;
	uint64_t seal_key_id, open_key_id; /* 0: no key cached */
	bool fast_nonce;                   /* nonce through a parameter (verified at init) */
	struct um_aead_params *params;     /* prebuilt OSSL_PARAM arrays (aead.c) */
};

/* Allocate the contexts; free with um_aead_free (which also wipes them). */
int um_aead_init(struct um_aead *aead);
void um_aead_free(struct um_aead *aead);

/* key_id names the key for caching: a nonzero id must always denote the same
 * key bytes (the data plane gives every keypair a unique id); 0 = no cache.
 * seal: encrypts buf[0..len) in place and writes the tag. Returns 0 or -UM_EINVAL. */
int um_aead_seal(struct um_aead *aead, uint64_t key_id, const uint8_t key[UM_AEAD_KEY_LEN], uint64_t counter,
		 const uint8_t *ad, size_t ad_len, uint8_t *buf, size_t len, uint8_t tag[UM_AEAD_TAG_LEN]);

/* seal from several plaintext pieces into out (their total length); each
 * piece either lies exactly in place (iov_base == out + its offset) or does
 * not overlap out. Lets the data plane encrypt straight from a super-packet
 * without copying the payload first. */
int um_aead_seal_parts(struct um_aead *aead, uint64_t key_id, const uint8_t key[UM_AEAD_KEY_LEN], uint64_t counter,
		       const uint8_t *ad, size_t ad_len, const struct iovec *parts, int nparts, uint8_t *out,
		       uint8_t tag[UM_AEAD_TAG_LEN]);

/* open: authenticates and decrypts buf in place. Returns 0 or -UM_EBADMSG
 * (buf then holds garbage and must be discarded). */
int um_aead_open(struct um_aead *aead, uint64_t key_id, const uint8_t key[UM_AEAD_KEY_LEN], uint64_t counter,
		 const uint8_t *ad, size_t ad_len, uint8_t *buf, size_t len, const uint8_t tag[UM_AEAD_TAG_LEN]);

/* Forget cached keys (call after a key was wiped). */
void um_aead_forget(struct um_aead *aead);
/* Forget cached keys and overwrite the key material the cipher contexts
 * still hold (a retired key must not outlive its wipe in an idle thread's
 * context). Only from the thread that owns aead, outside seal/open. */
void um_aead_wipe(struct um_aead *aead);

#endif
