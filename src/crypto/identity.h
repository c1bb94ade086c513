/* SPDX-License-Identifier: MIT */
/* Node identities: a hybrid Ed25519 + ML-DSA-87 signing key pair derived from
 * two 32-byte seeds, and the peer ID, a 32-byte hash of both public keys.
 *
 * Private identity file: one line of text, versioned and checksummed, mode
 * 0600; loading refuses a file readable by group or others. Only the seeds
 * are stored; keys are re-derived on load.
 * Peer ID text: a checksummed encoding that catches typos; the short form
 * (a prefix) is for humans only and never used to pin an identity. */
#ifndef UM_CRYPTO_IDENTITY_H
#define UM_CRYPTO_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hybrid.h"

enum {
	UM_PEER_ID_BYTES = 32,
	UM_PEER_ID_TEXT_MAX = 80,   /* buffer size for the full text form, incl. NUL */
	UM_PEER_ID_SHORT_MAX = 16,  /* buffer size for the short form, incl. NUL */
	UM_IDENTITY_TEXT_MAX = 128, /* buffer size for the private file line, incl. newline and NUL */
};

struct um_peer_id {
	uint8_t bytes[UM_PEER_ID_BYTES];
};

/* A loaded identity. Holds secrets: release with um_identity_wipe(). */
struct um_identity {
	uint8_t seed[UM_HSIG_SEED_BYTES];
	uint8_t public_key[UM_HSIG_PK_BYTES];
	uint8_t secret_key[UM_HSIG_SK_BYTES];
	struct um_peer_id id;
};

/* New identity from OS randomness. */
int um_identity_generate(struct um_identity *identity);
/* Derive keys and ID from seeds (deterministic). */
int um_identity_from_seed(struct um_identity *identity, const uint8_t seed[UM_HSIG_SEED_BYTES]);
void um_identity_wipe(struct um_identity *identity);

/* Write the private identity file atomically (temp file + rename), mode 0600.
 * Fails with -EEXIST if path exists (no silent overwrite). */
int um_identity_save(const struct um_identity *identity, const char *path);
/* Load and check: -UM_EPERM if group/world readable, -UM_ECHECKSUM if
 * corrupted, -UM_EVERSION for an unknown version, -UM_ETRUNC/-UM_EINVAL for
 * a malformed line. */
int um_identity_load(struct um_identity *identity, const char *path);
/* Same, from an in-memory line (used by the loader and the fuzzer). */
int um_identity_parse(struct um_identity *identity, const char *text, size_t len);
/* The private file line (with its newline, NUL terminated) into out, which
 * then holds a secret: the caller wipes it. -UM_ERANGE if out is too small. */
int um_identity_format(const struct um_identity *identity, char *out, size_t out_size);

/* Peer ID of a hybrid public key (hash of both halves, domain separated). */
void um_peer_id_from_public_key(struct um_peer_id *id, const uint8_t public_key[UM_HSIG_PK_BYTES]);
/* Text forms. um_peer_id_parse returns -UM_ECHECKSUM on a typo. */
int um_peer_id_format(const struct um_peer_id *id, char *out, size_t out_size);
int um_peer_id_format_short(const struct um_peer_id *id, char *out, size_t out_size);
int um_peer_id_parse(struct um_peer_id *id, const char *text);

#endif
