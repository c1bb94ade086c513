/* SPDX-License-Identifier: MIT */
/* The values the DHT carries (docs/PROTOCOL.md, "DHT records"):
 *
 *   peer record     key = the peer ID; body || hybrid pk || hybrid signature
 *   relay record    key = SHA3-256("umbra dht relays"); one per relay (owner
 *                   = the relay's peer ID), hybrid-signed like a peer record
 *   private record  a peer record sealed with a network key (network_key.h)
 *                   under a blinded key rotating daily; storers check the
 *                   outer Ed25519 signature and the key binding only
 *   private relay   a relay record sealed the same way under the network's
 *                   daily relay key
 *
 * Every value starts with a version byte (1) and a type byte, so one
 * validator (um_dht_record_check) serves the engine for all of them. Times
 * in records are unix seconds; a record lives at most 24 h and is refused
 * when expired (-UM_EREPLAY) or too far ahead (-UM_ERANGE, beyond now + 24 h
 * + UM_DHT_CLOCK_SKEW). Errors: -UM_ETRUNC / -UM_EINVAL / -UM_EVERSION for
 * malformed input, -UM_EBADMSG for a signature, key binding or AEAD that
 * does not verify. No function keeps a pointer to its arguments. */
#ifndef UM_DHT_RECORD_H
#define UM_DHT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "dht/network_key.h"

#if __has_include("dht/dht.h")
#include "dht/dht.h"
#else
/* The engine's header (dht-engine) is not in this tree yet: the shapes the
 * integrator fixed in DHT-CONTRACT.md, word for word. */
enum { UM_DHT_VALUE_MAX = 8192 };
struct um_dht_value_info {
	uint8_t owner[32];   /* who signed it (peer ID, or the private record's outer key hash) */
	uint64_t sequence;   /* higher replaces lower; equal or lower is refused (counted) */
	uint64_t expires_ns; /* monotonic clock (the validator converts wall-clock expiry) */
};
struct um_dht_value_ops {
	void *ctx;
	int (*check)(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
		     struct um_dht_value_info *info);
};
#endif

enum {
	UM_DHT_RECORD_VERSION = 1,
	UM_DHT_RECORD_PEER = 1,
	UM_DHT_RECORD_RELAY = 2,
	UM_DHT_RECORD_PRIVATE = 3,
	UM_DHT_RECORD_PRIVATE_RELAY = 4,

	UM_DHT_ENDPOINTS_MAX = 8,
	UM_DHT_HOME_RELAYS_MAX = 4,
	UM_DHT_RELAY_UDP_MAX = 4,
	UM_DHT_HOST_MAX = 64, /* IP literal or DNS name; bounded so every record fits UM_DHT_VALUE_MAX */
	UM_DHT_RECORD_LIFETIME_MAX = 86400,
	UM_DHT_CLOCK_SKEW = 600,

	UM_DHT_RECORD_BODY_FIXED = 64,
	UM_DHT_ENDPOINT_BYTES = 20,
	UM_DHT_HOME_RELAY_FIXED = 36, /* + host */
	UM_DHT_PEER_BODY_MAX = UM_DHT_RECORD_BODY_FIXED + UM_DHT_ENDPOINTS_MAX * UM_DHT_ENDPOINT_BYTES +
			       UM_DHT_HOME_RELAYS_MAX * (UM_DHT_HOME_RELAY_FIXED + UM_DHT_HOST_MAX),
	UM_DHT_RELAY_BODY_MAX =
	    UM_DHT_RECORD_BODY_FIXED + UM_DHT_RELAY_UDP_MAX * UM_DHT_ENDPOINT_BYTES + 2 + UM_DHT_HOST_MAX,
	UM_DHT_SIGNED_OVERHEAD = UM_HSIG_PK_BYTES + UM_HSIG_BYTES,
	UM_DHT_PEER_RECORD_MAX = UM_DHT_PEER_BODY_MAX + UM_DHT_SIGNED_OVERHEAD,
	UM_DHT_RELAY_RECORD_MAX = UM_DHT_RELAY_BODY_MAX + UM_DHT_SIGNED_OVERHEAD,
	/* Sealed envelope: version, type, reserved u16, outer pk, owner,
	 * sequence, expires, nonce || AEAD(inner) || Ed25519 signature. */
	UM_DHT_SEALED_HEADER = 4 + 32 + 32 + 8 + 8 + 24,
	UM_DHT_SEALED_OVERHEAD = UM_DHT_SEALED_HEADER + 16 + 64,
	UM_DHT_PRIVATE_RECORD_MAX = UM_DHT_PEER_RECORD_MAX + UM_DHT_SEALED_OVERHEAD,
	UM_DHT_PRIVATE_RELAY_MAX = UM_DHT_RELAY_RECORD_MAX + UM_DHT_SEALED_OVERHEAD,
};

enum um_dht_endpoint_kind {
	UM_DHT_ENDPOINT_REFLEXIVE = 1, /* as a STUN server or a relay saw it */
	UM_DHT_ENDPOINT_LAN = 2,       /* an interface address */
	UM_DHT_ENDPOINT_MAPPED = 3,    /* a port mapping (UPnP / NAT-PMP / PCP) */
};

enum um_dht_transport {
	UM_DHT_TRANSPORT_UDP = 1,
	UM_DHT_TRANSPORT_WSS = 2,
};

/* An address: family AF_INET (addr[0..4]) or AF_INET6, port in host order.
 * kind is one of um_dht_endpoint_kind in peer records, 0 in relay records. */
struct um_dht_endpoint {
	uint8_t kind;
	uint16_t family;
	uint16_t port;
	uint8_t addr[16];
};

struct um_dht_home_relay {
	struct um_peer_id id;
	uint8_t transport; /* um_dht_transport */
	uint16_t port;
	char host[UM_DHT_HOST_MAX + 1]; /* NUL-terminated; [A-Za-z0-9.:-] */
};

struct um_dht_peer_record {
	struct um_peer_id id; /* set by sign from the identity; filled by verify */
	uint64_t sequence;
	uint64_t issued; /* unix seconds */
	uint64_t expires;
	uint32_t features;
	unsigned endpoint_count;
	unsigned relay_count;
	struct um_dht_endpoint endpoints[UM_DHT_ENDPOINTS_MAX];
	struct um_dht_home_relay relays[UM_DHT_HOME_RELAYS_MAX];
};

struct um_dht_relay_record {
	struct um_peer_id id; /* the relay's own identity */
	uint64_t sequence;
	uint64_t issued;
	uint64_t expires;
	uint32_t features;
	unsigned udp_count;
	struct um_dht_endpoint udp[UM_DHT_RELAY_UDP_MAX];
	uint16_t wss_port; /* 0: no wss endpoint */
	char wss_host[UM_DHT_HOST_MAX + 1];
};

/* ---- public peer records (record.c) ---- */

/* Encode rec (id taken from identity), sign it with identity's secret key
 * and write body || pk || signature into out (cap bytes; UM_DHT_PEER_RECORD_MAX
 * is always enough). -UM_EINVAL for a record that verify would refuse on
 * its shape (counts, kinds, hosts, lifetime), -UM_ERANGE if out is short. */
int um_dht_peer_record_sign(uint8_t *out, size_t cap, size_t *out_len, const struct um_dht_peer_record *rec,
			    const struct um_identity *identity);
/* Parse and verify a value: exact size, fields, H(pk) == peer ID == key
 * (key NULL: any peer, for a record opened from a private one), lifetime
 * against now (unix seconds), hybrid signature. rec may be NULL. */
int um_dht_peer_record_verify(struct um_dht_peer_record *rec, const uint8_t key[32], const uint8_t *value, size_t len,
			      uint64_t now);

/* ---- relay records (relay_record.c) ---- */

int um_dht_relay_record_sign(uint8_t *out, size_t cap, size_t *out_len, const struct um_dht_relay_record *rec,
			     const struct um_identity *identity);
/* As um_dht_peer_record_verify; key NULL: skip the key check (inside a
 * private relay record), else it must be the public relay key. */
int um_dht_relay_record_verify(struct um_dht_relay_record *rec, const uint8_t key[32], const uint8_t *value, size_t len,
			       uint64_t now);

/* How a node finds relays (issue 15): with a network key (a private
 * network's member) the network's relay keys, today's and, in the first
 * UM_DHT_PRIVATE_OVERLAP seconds of a UTC day, yesterday's (a relay may not
 * have republished since midnight), then the public key if public_too;
 * without a key (NULL) the public key alone. now: unix seconds. Returns the
 * number of keys written (1..UM_DHT_RELAY_LOOKUP_KEYS_MAX) or -UM_E*. */
enum { UM_DHT_RELAY_LOOKUP_KEYS_MAX = 3 };
int um_dht_relay_lookup_keys(uint8_t keys[UM_DHT_RELAY_LOOKUP_KEYS_MAX][32], const struct um_network_key *key,
			     bool public_too, uint64_t now);
/* A value found under one of those keys: a public relay record under the
 * public key; under any other key, a sealed relay record of key's network
 * (key NULL: -UM_EBADMSG). Nothing else is a relay to use. rec may be NULL. */
int um_dht_relay_value_open(struct um_dht_relay_record *rec, const struct um_network_key *key,
			    const uint8_t dht_key[32], const uint8_t *value, size_t len, uint64_t now);

/* ---- private records (private_record.c) ---- */

/* Seal an encoded, signed peer record (from um_dht_peer_record_sign) for the
 * network of key on day; writes the DHT key to publish under into dht_key.
 * out: cap bytes (UM_DHT_PRIVATE_RECORD_MAX is enough). */
int um_dht_private_record_seal(uint8_t *out, size_t cap, size_t *out_len, uint8_t dht_key[32], const uint8_t *record,
			       size_t record_len, const struct um_network_key *key, uint64_t day);
/* Sign and seal in one step (the day of rec->issued). */
int um_dht_private_record_build(uint8_t *out, size_t cap, size_t *out_len, uint8_t dht_key[32],
				const struct um_dht_peer_record *rec, const struct um_identity *identity,
				const struct um_network_key *key);
/* A member opens a value found under key while looking for peer: the
 * storer's checks, the AEAD, the inner record as um_dht_peer_record_verify,
 * inner peer ID == peer, inner sequence and expiry == outer ones, and key ==
 * the blinded key of (network key, peer) for yesterday, today or tomorrow.
 * A different network key gives -UM_EBADMSG. */
int um_dht_private_record_open(struct um_dht_peer_record *rec, const struct um_network_key *key,
			       const struct um_peer_id *peer, const uint8_t dht_key[32], const uint8_t *value,
			       size_t len, uint64_t now);
/* The network's relays: seal a signed relay record under the day's private
 * relay key (written to dht_key), and open one (returns the relay record
 * after checking the owner tag names its relay). */
int um_dht_private_relay_seal(uint8_t *out, size_t cap, size_t *out_len, uint8_t dht_key[32], const uint8_t *record,
			      size_t record_len, const struct um_network_key *key, uint64_t day);
int um_dht_private_relay_open(struct um_dht_relay_record *rec, const struct um_network_key *key,
			      const uint8_t dht_key[32], const uint8_t *value, size_t len, uint64_t now);
/* What a storer (no network key) checks of a sealed value of type
 * UM_DHT_RECORD_PRIVATE or _PRIVATE_RELAY: shape, key == H(label || outer
 * pk), owner (== key for a peer), lifetime, outer signature. Fills owner,
 * sequence and expires (unix seconds) when not NULL. */
int um_dht_sealed_check(const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now, uint8_t owner[32],
			uint64_t *sequence, uint64_t *expires);

/* ---- validators for the engine (um_dht_value_ops.check) ---- */

/* The validators' ctx: the offset between the wall clock records carry and
 * the engine's monotonic clock, set by the embedder (and again when the wall
 * clock steps). */
struct um_dht_record_clock {
	int64_t unix_minus_mono_ns;
};
void um_dht_record_clock_set(struct um_dht_record_clock *clock, uint64_t unix_ns, uint64_t mono_ns);
/* Unix seconds at monotonic now_ns; monotonic ns at unix seconds (saturating). */
uint64_t um_dht_record_clock_unix(const struct um_dht_record_clock *clock, uint64_t now_ns);
uint64_t um_dht_record_clock_mono(const struct um_dht_record_clock *clock, uint64_t unix_seconds);

/* ctx: a struct um_dht_record_clock. Each returns 0 and fills *info, or
 * -UM_E* as above; (a) public peer records under their peer ID, (b) private
 * records as a storer sees them, (c) relay records (public under the
 * well-known key, sealed ones under any key bound to their outer key). */
int um_dht_peer_record_check(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
			     struct um_dht_value_info *info);
int um_dht_private_record_check(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
				struct um_dht_value_info *info);
int um_dht_relay_record_check(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
			      struct um_dht_value_info *info);
/* All of the above, chosen by the value's type byte: the one to give the
 * engine. */
int um_dht_record_check(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
			struct um_dht_value_info *info);

_Static_assert((int)UM_DHT_PRIVATE_RECORD_MAX <= (int)UM_DHT_VALUE_MAX, "a sealed peer record fits a DHT value");
_Static_assert((int)UM_DHT_PRIVATE_RELAY_MAX <= (int)UM_DHT_VALUE_MAX, "a sealed relay record fits a DHT value");

#endif
