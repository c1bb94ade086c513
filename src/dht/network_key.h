/* SPDX-License-Identifier: MIT */
/* The network key of a private network: 32 random bytes shared by its
 * members (as a Nebula CA or a ZeroTier network ID is), and what the DHT
 * derives from it. A node with a network key publishes its peer record
 * sealed under a key only members know, at a DHT key only members can
 * compute, rotating every UTC day (docs/PROTOCOL.md, "DHT records").
 *
 * File: one line, mode 0600 (loading refuses a file readable by group or
 * others), like the identity file:
 *   umbra-network-key-1 <key> <check>\n
 * <key>: the 32 bytes in standard padded base64 (44 characters); <check>:
 * 8 lowercase hex digits, the first 4 bytes of SHA3-256 of everything before
 * the last space. Errors as um_identity_parse: -UM_ETRUNC, -UM_EVERSION,
 * -UM_ECHECKSUM, -UM_EINVAL.
 *
 * Every derived secret is the caller's to wipe (sodium_memzero). */
#ifndef UM_DHT_NETWORK_KEY_H
#define UM_DHT_NETWORK_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"

enum {
	UM_NETWORK_KEY_BYTES = 32,
	UM_NETWORK_KEY_TEXT_MAX = 96,        /* buffer for the file line, incl. newline and NUL */
	UM_NETWORK_KEY_FINGERPRINT_MAX = 20, /* buffer for the fingerprint text, incl. NUL */
	UM_DHT_DAY_SECONDS = 86400,
	UM_DHT_OUTER_PK_BYTES = 32, /* Ed25519 */
	UM_DHT_OUTER_SK_BYTES = 64, /* libsodium's seed || pk form */
	UM_DHT_SEAL_KEY_BYTES = 32,
};

/* Holds a secret: release with um_network_key_wipe(). */
struct um_network_key {
	uint8_t bytes[UM_NETWORK_KEY_BYTES];
};

/* New key from OS randomness. */
int um_network_key_generate(struct um_network_key *key);
void um_network_key_wipe(struct um_network_key *key);
/* Write the file atomically, mode 0600; -EEXIST if path exists. */
int um_network_key_save(const struct um_network_key *key, const char *path);
/* Load and check; -UM_EPERM if group/world readable (checked before
 * reading), parse errors as above. */
int um_network_key_load(struct um_network_key *key, const char *path);
/* From an in-memory line (the loader and the fuzzer). */
int um_network_key_parse(struct um_network_key *key, const char *text, size_t len);
/* The file line (newline, NUL) into out, which then holds the secret: the
 * caller wipes it. -UM_ERANGE if out is too small. */
int um_network_key_format(const struct um_network_key *key, char *out, size_t out_size);
/* A public name for the network ("umbra-net-" + 8 hex digits of a hash of
 * the key) that members can compare without revealing the key. */
int um_network_key_fingerprint(const struct um_network_key *key, char *out, size_t out_size);

/* UTC day number of a unix time (seconds / 86,400). */
uint64_t um_dht_day(uint64_t unix_seconds);

/* Private peer records. The outer Ed25519 key pair of (network key, peer,
 * day): whoever holds the network key can derive any member's, so it
 * proves membership, not identity (the inner hybrid signature does that).
 * sk is a secret the caller wipes. */
int um_dht_private_keypair(uint8_t pk[UM_DHT_OUTER_PK_BYTES], uint8_t sk[UM_DHT_OUTER_SK_BYTES],
			   const struct um_network_key *key, const struct um_peer_id *peer, uint64_t day);
/* DHT key = SHA3-256("umbra dht private key" || outer pk). */
void um_dht_private_key_from_outer(uint8_t dht_key[32], const uint8_t outer_pk[UM_DHT_OUTER_PK_BYTES]);
/* Where (network key, peer) publishes on day: both of the above. */
int um_dht_private_key(uint8_t dht_key[32], const struct um_network_key *key, const struct um_peer_id *peer,
		       uint64_t day);
/* Where a member looks for peer at unix time now: today's key, and in the
 * first UM_DHT_PRIVATE_OVERLAP seconds of a day also yesterday's (the peer
 * may not have republished since midnight). Returns the number of keys
 * written to keys (1 or 2), or -UM_EINVAL. */
int um_dht_private_lookup_keys(uint8_t keys[2][32], const struct um_network_key *key, const struct um_peer_id *peer,
			       uint64_t now);
enum { UM_DHT_PRIVATE_OVERLAP = 2 * 3600 };

/* The AEAD key sealing private records (and private relay records). */
void um_dht_seal_key(uint8_t seal[UM_DHT_SEAL_KEY_BYTES], const struct um_network_key *key);

/* Relay records: the well-known public key SHA3-256("umbra dht relays"),
 * and a private network's: an outer key pair of (network key, day), shared
 * by the network's relays, and DHT key SHA3-256("umbra dht relays" ||
 * outer pk). */
void um_dht_relay_key_public(uint8_t dht_key[32]);
int um_dht_relay_keypair(uint8_t pk[UM_DHT_OUTER_PK_BYTES], uint8_t sk[UM_DHT_OUTER_SK_BYTES],
			 const struct um_network_key *key, uint64_t day);
void um_dht_relay_key_from_outer(uint8_t dht_key[32], const uint8_t outer_pk[UM_DHT_OUTER_PK_BYTES]);
int um_dht_relay_key_private(uint8_t dht_key[32], const struct um_network_key *key, uint64_t day);
/* The owner a private relay record is stored under (one value per relay
 * and key): keyed by the network key and day, so storers can neither name
 * the relay nor link it across days. */
void um_dht_relay_owner_tag(uint8_t tag[32], const struct um_network_key *key, const struct um_peer_id *relay,
			    uint64_t day);

#endif
