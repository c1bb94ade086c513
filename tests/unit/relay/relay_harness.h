/* SPDX-License-Identifier: MIT */
/* Shared by the relay core test and benchmark: deterministic identities and
 * a helper that sends a (fragmented) REGISTER through the core. */
#ifndef UM_TEST_RELAY_HARNESS_H
#define UM_TEST_RELAY_HARNESS_H

#include <sodium.h>
#include <string.h>

#include "crypto/identity.h"
#include "relay/relay.h"
#include "wire/fragment.h"
#include "wire/relay.h"

static inline int harness_identity(struct um_identity *identity, unsigned n)
{
	uint8_t seed[UM_HSIG_SEED_BYTES];
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(n * 31 + i);
	seed[0] = (uint8_t)n;
	seed[1] = (uint8_t)(n >> 8);
	return um_identity_from_seed(identity, seed);
}

static inline struct um_addr harness_endpoint(unsigned host, uint16_t port)
{
	struct um_addr a = {.family = 4, .addr = {198, 51, (uint8_t)(100 + (host >> 8)), (uint8_t)host}, .port = port};
	return a;
}

/* What the last harness_register sent: enough to derive the key from the
 * ACK (harness_take_ack) and to MAC keepalives (harness_keepalive). */
struct harness_registration {
	uint8_t secret[UM_RELAY_X25519_BYTES], ephemeral[UM_RELAY_X25519_BYTES];
	uint8_t nonce[UM_RELAY_NONCE_BYTES];
	struct um_peer_id id;
	uint8_t key[UM_RELAY_KEY_BYTES];
	uint8_t challenge[UM_RELAY_CHALLENGE_BYTES];
	uint64_t sequence;
};
static struct harness_registration harness_last;
/* When set, harness_register also completes an accepted registration (the
 * first keepalive echoing the ACK's challenge, from the same endpoint, at
 * the same time) and leaves the ACK in out; the registration's keys are
 * kept in harness_regs (see harness_reg_of). */
static bool harness_auto_confirm;
enum { HARNESS_REGS = 8 };
static struct harness_registration harness_regs[HARNESS_REGS];
static uint8_t harness_ack_copy[UM_RELAY_REGISTER_ACK_BYTES];

static inline int harness_finish(struct um_relay *relay, const struct um_addr *from, uint64_t now_ns, uint64_t wall_ms,
				 int rc, struct um_relay_output *out);

/* Sends the registration of `identity` from `from` in FRAGMENTs (or whole
 * when whole is true); returns what the last input returned, out set. */
static inline int harness_register(struct um_relay *relay, const struct um_identity *identity,
				   const struct um_addr *from, uint64_t now_ns, uint64_t wall_ms, uint64_t timestamp_ms,
				   unsigned nonce_seed, bool include_key, const uint8_t *admission_key, bool whole,
				   struct um_relay_output *out)
{
	static uint8_t msg[UM_RELAY_REGISTER_MAX_BYTES];
	uint8_t piece[UM_HS_MAX_DATAGRAM];
	uint8_t nonce[UM_RELAY_NONCE_BYTES] = {0};
	memcpy(nonce, &nonce_seed, sizeof(nonce_seed));
	memcpy(nonce + 8, identity->id.bytes, 8);
	randombytes_buf(harness_last.secret, sizeof(harness_last.secret));
	crypto_scalarmult_base(harness_last.ephemeral, harness_last.secret);
	memcpy(harness_last.nonce, nonce, sizeof(nonce));
	harness_last.id = identity->id;
	harness_last.sequence = 0;
	int len = um_relay_register_build(msg, sizeof(msg), identity, timestamp_ms, nonce, harness_last.ephemeral,
					  include_key, admission_key);
	if (len < 0)
		return len;
	if (whole)
		return harness_finish(relay, from, now_ns, wall_ms,
				      um_relay_input(relay, from, msg, (size_t)len, now_ns, wall_ms, out), out);
	unsigned count = um_fragment_count((size_t)len);
	int rc = 0;
	for (unsigned i = 0; i < count; i++) {
		int n =
		    um_fragment_encode(piece, sizeof(piece), UM_MSG_RELAY_REGISTER, 0, nonce_seed, msg, (size_t)len, i);
		if (n < 0)
			return n;
		rc = um_relay_input(relay, from, piece, (size_t)n, now_ns, wall_ms, out);
	}
	return harness_finish(relay, from, now_ns, wall_ms, rc, out);
}

/* Checks an ACK for the last registration and derives its key (into reg,
 * which must be a copy of harness_last taken right after the register
 * call). 0 or negative. */
static inline int harness_take_ack(struct harness_registration *reg, const uint8_t *data, size_t len)
{
	struct um_relay_register_ack ack;
	int rc = um_relay_register_ack_decode(&ack, data, len);
	if (rc)
		return rc;
	if (memcmp(ack.nonce, reg->nonce, sizeof(reg->nonce)))
		return -1;
	rc = um_relay_registration_key(reg->key, reg->secret, ack.ephemeral, reg->ephemeral, ack.ephemeral, reg->nonce,
				       &reg->id);
	if (rc)
		return rc;
	memcpy(reg->challenge, ack.challenge, sizeof(reg->challenge));
	return um_relay_mac_check(data, len, reg->key);
}

/* Builds a KEEPALIVE request for reg (next sequence; echoing its
 * challenge when echo). Returns the length. */
static inline int harness_keepalive(struct harness_registration *reg, bool echo, uint8_t *buf, size_t cap)
{
	struct um_relay_keepalive k = {.id = reg->id, .sequence = ++reg->sequence};
	if (echo) {
		k.flags = UM_RELAY_KEEPALIVE_FLAG_CHALLENGE;
		memcpy(k.challenge, reg->challenge, sizeof(k.challenge));
	}
	return um_relay_keepalive_encode(buf, cap, &k, reg->key);
}

/* The rest of a registration after harness_register's ACK (in out): the
 * first keepalive, from the same endpoint, echoing the challenge, which
 * binds the endpoint. Returns the relay's answer (1 = a reply in out). */
static inline int harness_confirm(struct um_relay *relay, struct harness_registration *reg, const struct um_addr *from,
				  uint64_t now_ns, uint64_t wall_ms, struct um_relay_output *out)
{
	uint8_t buf[UM_RELAY_KEEPALIVE_BYTES];
	if (harness_take_ack(reg, out->data, out->len) != 0)
		return -1;
	int n = harness_keepalive(reg, true, buf, sizeof(buf));
	if (n < 0)
		return n;
	return um_relay_input(relay, from, buf, (size_t)n, now_ns, wall_ms, out);
}

/* The registration slot of a peer ID (the first free one when new). */
static inline struct harness_registration *harness_reg_of(const struct um_peer_id *id)
{
	for (unsigned i = 0; i < HARNESS_REGS; i++)
		if (!memcmp(harness_regs[i].id.bytes, id->bytes, UM_PEER_ID_BYTES))
			return &harness_regs[i];
	static const struct um_peer_id none;
	for (unsigned i = 0; i < HARNESS_REGS; i++)
		if (!memcmp(harness_regs[i].id.bytes, none.bytes, UM_PEER_ID_BYTES))
			return &harness_regs[i];
	return &harness_regs[0];
}

static inline int harness_finish(struct um_relay *relay, const struct um_addr *from, uint64_t now_ns, uint64_t wall_ms,
				 int rc, struct um_relay_output *out)
{
	if (!harness_auto_confirm || rc != 1 || out->data[0] != UM_MSG_RELAY_REGISTER_ACK ||
	    out->len != sizeof(harness_ack_copy))
		return rc;
	memcpy(harness_ack_copy, out->data, out->len);
	struct harness_registration *reg = harness_reg_of(&harness_last.id);
	*reg = harness_last;
	if (harness_confirm(relay, reg, from, now_ns, wall_ms, out) != 1)
		return -1;
	out->to = *from;
	out->data = harness_ack_copy;
	out->len = sizeof(harness_ack_copy);
	return 1;
}

#endif
