/* SPDX-License-Identifier: MIT */
/* The bootstrap registry a relay serves over HTTP (http/bootstrap_api.c):
 * nodes register their UDP endpoints under their peer ID so that newcomers
 * can seed a routing table (a listing of up to 20 live nodes) or find one
 * node by ID. I/O-free like the other engines: requests are fed already
 * parsed, with the requester's address and `now` (CLOCK_MONOTONIC ns); no
 * sockets, no timers, no globals (randomness comes from libsodium).
 *
 * Writes (register, heartbeat, unregister) are signed by the node's hybrid
 * identity over a fresh challenge the registry handed to the same source
 * address (um_bootstrap_challenge): single use, short expiry. The signed
 * message (um_bootstrap_message) binds the challenge, the operation (HTTP
 * method and path) and the canonical fields, so a signature for one
 * operation or one set of endpoints cannot be replayed for another.
 *
 * Order of checks (signature verification costs ~0.3 ms, so it comes last
 * and has a global budget): per-source request rate (um_bootstrap_admit),
 * field sizes, challenge known + unexpired + issued to this address (then
 * consumed: a failed signature burns it), peer ID == H(public key), the
 * verification budget, the signature. Every refusal leaves the registrations
 * as they were and is counted in stats.
 *
 * Memory is bounded: max_registrations entries (each holds the verified
 * public key, so heartbeats need no key), max_challenges outstanding
 * challenges (at most challenges_per_source per source), a fixed-size
 * per-source rate table. A source, for every per-source cap, is an IPv4
 * address or an IPv6 /64; a challenge is bound to the exact address.
 * Not thread safe: one owner (the HTTP thread). */
#ifndef UM_DHT_BOOTSTRAP_H
#define UM_DHT_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "util/addr.h"

enum {
	UM_BOOTSTRAP_CHALLENGE_BYTES = 32,
	UM_BOOTSTRAP_ENDPOINTS_MAX = 8, /* endpoints per registration */
	UM_BOOTSTRAP_LIST_MAX = 20,     /* nodes per listing */
	/* The signed message: 32 + 1 + 6 + 1 + 26 + 32 + 1 + 1 + 8 * 20 = 260. */
	UM_BOOTSTRAP_MESSAGE_MAX = 320,
};

/* The hybrid signature's domain-separation label. */
#define UM_BOOTSTRAP_SIGN_CONTEXT "umbra bootstrap v1"

enum um_bootstrap_op {
	UM_BOOTSTRAP_OP_REGISTER = 0, /* POST /api/bootstrap/register */
	UM_BOOTSTRAP_OP_HEARTBEAT,    /* POST /api/bootstrap/heartbeat */
	UM_BOOTSTRAP_OP_UNREGISTER,   /* DELETE /api/bootstrap/unregister */
};

struct um_bootstrap_config {
	uint32_t max_registrations;                       /* registry size cap (default 4096) */
	uint32_t max_challenges;                          /* outstanding challenges (default 1024) */
	uint32_t challenges_per_source;                   /* outstanding per source (default 8) */
	uint32_t registrations_per_source;                /* per source (default 64) */
	uint64_t challenge_ttl_ns;                        /* default 30 s */
	uint64_t registration_ttl_ns;                     /* without a heartbeat (default 120 s) */
	uint32_t requests_per_s, request_burst;           /* per source address (default 10, 40) */
	uint32_t rate_entries;                            /* sources tracked (default 4096) */
	uint32_t verifications_per_s, verification_burst; /* global (default 200, 400) */
};

/* A write request, parsed (http/bootstrap_api.c does the JSON). Pointers
 * are borrowed for the call. public_key: register only (NULL otherwise);
 * endpoints and is_public: register only. */
struct um_bootstrap_request {
	enum um_bootstrap_op op;
	struct um_peer_id id;
	const uint8_t *public_key; /* UM_HSIG_PK_BYTES */
	struct um_addr endpoints[UM_BOOTSTRAP_ENDPOINTS_MAX];
	size_t n_endpoints;
	bool is_public;
	uint8_t challenge[UM_BOOTSTRAP_CHALLENGE_BYTES];
	const uint8_t *signature; /* UM_HSIG_BYTES */
};

/* A live registration as listed (copies, no pointers into the registry). */
struct um_bootstrap_peer {
	struct um_peer_id id; /* zero when !has_id (a private node as listed) */
	bool has_id;
	struct um_addr endpoints[UM_BOOTSTRAP_ENDPOINTS_MAX];
	size_t n_endpoints;
	struct um_addr observed; /* the address it registered from (port 0) */
	bool is_public;
	uint64_t expires_ns;
};

struct um_bootstrap_stats {
	uint64_t challenges, registered, refreshed, unregistered, expired;
	uint64_t rate_limited, challenge_refused, challenge_evicted;
	uint64_t bad_challenge, key_mismatch, bad_signature, verify_budget;
	uint64_t unknown_peer, registry_full, source_full, invalid;
	uint64_t listings, lookups;
};

struct um_bootstrap;

void um_bootstrap_default_config(struct um_bootstrap_config *config);
/* New registry (config NULL: defaults); *out owned by the caller, release
 * with um_bootstrap_free. 0, -UM_EINVAL (a zero limit) or -UM_ENOMEM. */
int um_bootstrap_create(struct um_bootstrap **out, const struct um_bootstrap_config *config);
void um_bootstrap_free(struct um_bootstrap *registry);

/* Charges one request to source's rate bucket: 0, or -UM_ELIMIT (refuse it
 * before any parsing). */
int um_bootstrap_admit(struct um_bootstrap *registry, const struct um_addr *source, uint64_t now_ns);
/* A fresh challenge for source into out; *ttl_ns its lifetime. 0, or
 * -UM_ELIMIT (source has too many outstanding). A full table drops its
 * oldest challenge to make room. */
int um_bootstrap_challenge(struct um_bootstrap *registry, const struct um_addr *source, uint64_t now_ns,
			   uint8_t out[UM_BOOTSTRAP_CHALLENGE_BYTES], uint64_t *ttl_ns);
/* A signed write (register, heartbeat or unregister) from source. Returns 0
 * (*ttl_ns: the registration's lifetime; 0 for unregister), or
 * -UM_EINVAL (malformed: bad op, endpoint count, unset endpoint, no key),
 * -UM_EREPLAY (challenge unknown, expired, used or issued to another address),
 * -UM_EBADMSG (peer ID is not the key's, or the signature does not verify),
 * -UM_ENOTFOUND (heartbeat/unregister of an ID not registered),
 * -UM_ELIMIT (verification budget spent, or source has too many registrations),
 * -UM_ENOMEM (registry full). Nothing changes on error, except that a
 * challenge that matched is consumed. */
int um_bootstrap_write(struct um_bootstrap *registry, const struct um_addr *source,
		       const struct um_bootstrap_request *request, uint64_t now_ns, uint64_t *ttl_ns);
/* Up to max (<= UM_BOOTSTRAP_LIST_MAX) live registrations in random order,
 * one per /24 (IPv4) or /48 (IPv6) of the observed address first, then the
 * rest. Returns how many were written to out. */
size_t um_bootstrap_list(struct um_bootstrap *registry, uint64_t now_ns, struct um_bootstrap_peer *out, size_t max);
/* The live registration of id into *out: 0 or -UM_ENOTFOUND (unknown,
 * expired, or not public when public_only). */
int um_bootstrap_find(struct um_bootstrap *registry, const struct um_peer_id *id, bool public_only, uint64_t now_ns,
		      struct um_bootstrap_peer *out);
/* Drops expired registrations and challenges (also done lazily). */
void um_bootstrap_expire(struct um_bootstrap *registry, uint64_t now_ns);
size_t um_bootstrap_count(const struct um_bootstrap *registry);
void um_bootstrap_get_stats(const struct um_bootstrap *registry, struct um_bootstrap_stats *out);

/* The HTTP method and path of an operation ("POST", "/api/bootstrap/register"). */
const char *um_bootstrap_op_method(enum um_bootstrap_op op);
const char *um_bootstrap_op_path(enum um_bootstrap_op op);
/* The message a write's signature covers, into out (UM_BOOTSTRAP_MESSAGE_MAX
 * bytes suffice): challenge || len || method || len || path || peer ID ||
 * public flag || count || each endpoint's 20-byte encoding (util/addr.h).
 * The key needs no place: the peer ID is its hash and is checked against
 * it. *len set. 0 or -UM_EINVAL. */
int um_bootstrap_message(const struct um_bootstrap_request *request, uint8_t *out, size_t out_size, size_t *len);
/* Signs request (its op, ID, key, endpoints, challenge) with identity into
 * signature (UM_HSIG_BYTES). The client's half of um_bootstrap_write. */
int um_bootstrap_sign(const struct um_bootstrap_request *request, const struct um_identity *identity,
		      uint8_t *signature);

#endif
