/* SPDX-License-Identifier: MIT */
/* HELLO MACs and the stateless cookie round trip (WireGuard's idea, keyed
 * by peer IDs instead of static DH keys).
 *
 * mac1 = BLAKE2b-128(key = BLAKE2b-256("umbra-hs-v1 mac1" || responder_id),
 *                    message up to mac1)
 *   Anyone who knows the responder's peer ID can compute it; it proves the
 *   sender meant this responder and costs the responder one hash to check,
 *   so random junk never reaches anything more expensive.
 * mac2 = BLAKE2b-128(key = cookie, message up to mac2), or zeros.
 * cookie = BLAKE2b-128(key = secret, source address), where the 32-byte
 *   secret is random and replaced every UM_COOKIE_SECRET_LIFE_NS.
 *   Holding a valid cookie proves the sender receives packets at its source
 *   address (it could decrypt a COOKIE_REPLY sent there).
 * COOKIE_REPLY carries the cookie sealed with XChaCha20-Poly1305 under
 *   BLAKE2b-256("umbra-hs-v1 cookie" || responder_id), random 24-byte nonce,
 *   with the HELLO's mac1 as associated data: only the initiator that sent
 *   that HELLO accepts it, and only once.
 * No state here is shared between threads; the engine owns these structs. */
#ifndef UM_SESSION_COOKIE_H
#define UM_SESSION_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "wire/handshake.h"

#define UM_COOKIE_SECRET_LIFE_NS (120ULL * 1000000000ULL)
/* The initiator stops using a cookie a little before the responder would
 * rotate it away. */
#define UM_COOKIE_USE_LIFE_NS (UM_COOKIE_SECRET_LIFE_NS - 5ULL * 1000000000ULL)

enum um_cookie_mac_state {
	UM_COOKIE_MAC_INVALID,
	UM_COOKIE_MAC_VALID_NO_COOKIE,   /* mac1 good, mac2 missing or wrong */
	UM_COOKIE_MAC_VALID_WITH_COOKIE, /* both good */
};

/* Responder side: one per engine. Holds a secret: wipe when done. */
struct um_cookie_checker {
	uint8_t mac1_key[32];
	uint8_t seal_key[32];
	uint8_t secret[32];
	uint64_t secret_birth_ns;
	bool secret_set;
};

void um_cookie_checker_init(struct um_cookie_checker *checker, const struct um_peer_id *our_id);
void um_cookie_checker_wipe(struct um_cookie_checker *checker);

/* msg is a whole message whose last 32 bytes are mac1 || mac2. mac2 is only
 * checked when mac1 is valid. */
enum um_cookie_mac_state um_cookie_validate(struct um_cookie_checker *checker, const uint8_t *msg, size_t len,
					    const struct um_addr *source, uint64_t now_ns);

/* Builds a COOKIE_REPLY for a HELLO (its sender_index and mac1) from source.
 * Returns the reply length or a negative code. */
int um_cookie_reply_create(struct um_cookie_checker *checker, uint8_t *out, size_t cap, uint32_t receiver_index,
			   const uint8_t mac1[UM_HS_MAC_BYTES], const struct um_addr *source, uint64_t now_ns);

/* Initiator side: one per peer we initiate to. */
struct um_cookie_maker {
	uint8_t mac1_key[32];
	uint8_t seal_key[32];
	uint8_t cookie[UM_HS_COOKIE_BYTES];
	uint64_t cookie_birth_ns;
	bool have_cookie;
	uint8_t last_mac1[UM_HS_MAC_BYTES];
	bool last_mac1_valid; /* a reply to the last message is still acceptable */
};

void um_cookie_maker_init(struct um_cookie_maker *maker, const struct um_peer_id *responder_id);
void um_cookie_maker_wipe(struct um_cookie_maker *maker);

/* Fills the last 32 bytes of msg with mac1 and mac2 (mac2 zero when no
 * fresh cookie is held) and remembers mac1 for a reply. */
void um_cookie_add_macs(struct um_cookie_maker *maker, uint8_t *msg, size_t len, uint64_t now_ns);

/* Opens a COOKIE_REPLY; on success stores the cookie. -UM_EBADMSG if it
 * does not open against the last mac1, -UM_ESTATE if no reply is expected. */
int um_cookie_reply_consume(struct um_cookie_maker *maker, const struct um_hs_cookie_reply *reply, uint64_t now_ns);

#endif
