/* SPDX-License-Identifier: MIT */
/* Engine plumbing: peers, the responder's pending table, datagram dispatch,
 * the DoS gate in front of HELLO, and timers. The cryptographic message
 * handling is in handshake_msgs.c. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secmem.h"
#include "session/handshake_internal.h"
#include "util/error.h"

void um_hs_output_reset(struct um_handshake_output *out)
{
	/* Cheap reset (this runs for every flood datagram): the big datagram
	 * area is left as is, the keypair is wiped only if it was filled. */
	if (out->event == UM_HS_EVENT_ESTABLISHED || out->event == UM_HS_EVENT_KEYS)
		sodium_memzero(&out->keypair, sizeof(out->keypair));
	out->n_datagrams = 0;
	out->event = UM_HS_EVENT_NONE;
	out->peer = NULL;
	out->peer_user = NULL;
	memset(&out->to, 0, sizeof(out->to));
	out->route = 0;
	out->work = NULL;
}

void um_handshake_output_wipe(struct um_handshake_output *out)
{
	sodium_memzero(out, sizeof(*out));
}

/* ---- engine lifetime ---- */

int um_handshake_engine_new(struct um_handshake_engine **out, const struct um_handshake_config *config)
{
	struct um_handshake_engine *e;
	int ret;

	*out = NULL;
	if (!config || !config->identity)
		return -UM_EINVAL;
	if (!(e = calloc(1, sizeof(*e))))
		return -UM_ENOMEM;
	e->config = *config;
	e->identity = config->identity;
	if (!e->config.max_pending)
		e->config.max_pending = 64;
	if (!e->config.load_threshold)
		e->config.load_threshold = 8;
	if (!e->config.hello_per_second)
		e->config.hello_per_second = 10;
	if (!e->config.hello_burst)
		e->config.hello_burst = 10;
	if (!e->config.max_pending_per_source)
		e->config.max_pending_per_source = 4;
	if (!e->config.prefix_hello_per_second)
		e->config.prefix_hello_per_second = 40;
	if (!e->config.prefix_hello_burst)
		e->config.prefix_hello_burst = 40;
	if (!e->config.challenges_per_second)
		e->config.challenges_per_second = 200;
	if (!e->config.challenge_burst)
		e->config.challenge_burst = 50;
	if (!e->config.clock_window_ms)
		e->config.clock_window_ms = 120000;
	if (!e->config.mtu)
		e->config.mtu = 1420;
	if (!e->config.heartbeat_s)
		e->config.heartbeat_s = 10;
	if (!e->config.rotation_s)
		e->config.rotation_s = 120;

	ret = -UM_ENOMEM;
	e->pending = um_secmem_alloc((size_t)e->config.max_pending * sizeof(*e->pending));
	e->hello_seen = calloc(UM_HS_HELLO_FILTER_SLOTS, sizeof(*e->hello_seen));
	if (!e->pending || !e->hello_seen)
		goto out;
	randombytes_buf(e->hello_seen_key, sizeof(e->hello_seen_key));
	um_cookie_checker_init(&e->cookie, &e->identity->id);
	if ((ret = um_ratelimit_init(&e->ratelimit, 4096, e->config.hello_per_second, e->config.hello_burst)) < 0)
		goto out;
	if ((ret = um_ratelimit_init_prefix(&e->prefix_ratelimit, 4096, e->config.prefix_hello_per_second,
					    e->config.prefix_hello_burst, 3, 6)) < 0)
		goto out;
	if ((ret = um_token_bucket_init(&e->challenge_budget, e->config.challenges_per_second,
					e->config.challenge_burst)) < 0)
		goto out;
	unsigned reserve = e->config.challenges_per_second / 4;
	if ((ret = um_token_bucket_init(&e->challenge_reserve, reserve ? reserve : 1, 10)) < 0)
		goto out;
	/* Handshake messages have fixed sizes and one sender per state: one
	 * slot per state (released with it), each exactly one message long. */
	struct um_reasm_limits limits;
	um_reasm_default_limits(&limits);
	limits.one_slot_per_index = true;
	if ((ret = um_reasm_init(&e->reasm, &limits)) < 0)
		goto out;
	if (e->config.defer_challenge && (ret = um_hs_work_pool_init(e)) < 0)
		goto out;
	/* A relay's engine: room for its registrants, up to a bound (~11 MB). */
	unsigned keys = e->config.key_cache_entries, admitted = e->config.max_admitted;
	if (!keys)
		keys = e->config.admit && admitted > UM_HS_KEY_CACHE_DEFAULT
			   ? (admitted < UM_HS_KEY_CACHE_ADMIT_MAX ? admitted : UM_HS_KEY_CACHE_ADMIT_MAX)
			   : UM_HS_KEY_CACHE_DEFAULT;
	if ((ret = um_key_cache_init(&e->key_cache, e->config.no_key_cache ? 0 : keys)) < 0)
		goto out;
	/* Never 0 with a cache: 0 tells peers we keep no keys. */
	while (!e->config.no_key_cache && !e->key_epoch)
		randombytes_buf(&e->key_epoch, sizeof(e->key_epoch));
	*out = e;
	return 0;
out:
	um_handshake_engine_free(e);
	return ret;
}

static void peer_free(struct um_handshake_engine *engine, struct um_handshake_peer *peer)
{
	um_hs_peer_reset(engine, peer);
	um_cookie_maker_wipe(&peer->cookie);
	sodium_memzero(peer, sizeof(*peer));
	free(peer);
}

void um_handshake_engine_free(struct um_handshake_engine *engine)
{
	if (!engine)
		return;
	for (size_t i = 0; i < engine->n_peers; i++)
		peer_free(engine, engine->peers[i]);
	free(engine->peers);
	if (engine->pending)
		um_secmem_free(engine->pending); /* zeroes */
	um_hs_work_pool_free(engine);
	free(engine->hello_seen);
	um_cookie_checker_wipe(&engine->cookie);
	if (engine->ratelimit.entries)
		um_ratelimit_destroy(&engine->ratelimit);
	if (engine->prefix_ratelimit.entries)
		um_ratelimit_destroy(&engine->prefix_ratelimit);
	um_reasm_destroy(&engine->reasm);
	um_key_cache_destroy(&engine->key_cache);
	sodium_memzero(engine, sizeof(*engine));
	free(engine);
}

/* ---- peers ---- */

struct um_handshake_peer *um_hs_find_peer_by_id(struct um_handshake_engine *engine, const struct um_peer_id *id)
{
	for (size_t i = 0; i < engine->n_peers; i++)
		if (memcmp(engine->peers[i]->id.bytes, id->bytes, UM_PEER_ID_BYTES) == 0)
			return engine->peers[i];
	return NULL;
}

int um_handshake_peer_add(struct um_handshake_engine *engine, const struct um_peer_id *id, void *user,
			  struct um_handshake_peer **out)
{
	if (out)
		*out = NULL;
	if (um_hs_find_peer_by_id(engine, id))
		return -EEXIST;
	if (engine->n_peers == engine->cap_peers) {
		size_t cap = engine->cap_peers ? engine->cap_peers * 2 : 8;
		struct um_handshake_peer **p = realloc(engine->peers, cap * sizeof(*p));
		if (!p)
			return -UM_ENOMEM;
		engine->peers = p;
		engine->cap_peers = cap;
	}
	struct um_handshake_peer *peer = calloc(1, sizeof(*peer));
	if (!peer)
		return -UM_ENOMEM;
	peer->id = *id;
	peer->user = user;
	um_cookie_maker_init(&peer->cookie, id);
	engine->peers[engine->n_peers++] = peer;
	if (out)
		*out = peer;
	return 0;
}

void um_handshake_peer_remove(struct um_handshake_engine *engine, struct um_handshake_peer *peer)
{
	for (size_t i = 0; i < engine->n_peers; i++) {
		if (engine->peers[i] != peer)
			continue;
		engine->peers[i] = engine->peers[--engine->n_peers];
		peer_free(engine, peer);
		return;
	}
}

bool um_handshake_peer_busy(const struct um_handshake_peer *peer)
{
	return peer->state != UM_HS_STATE_ZEROED;
}

void um_hs_peer_reset(struct um_handshake_engine *engine, struct um_handshake_peer *peer)
{
	/* Its reassembly slot goes with it (a CHALLENGE in pieces). */
	if (peer->state != UM_HS_STATE_ZEROED)
		um_reasm_release(&engine->reasm, UM_MSG_CHALLENGE, peer->local_index);
	free(peer->response);
	free(peer->response_short);
	free(peer->responder_key);
	peer->response = peer->response_short = peer->responder_key = NULL;
	peer->response_is_short = peer->hello_renew = false;
	peer->challenge_epoch = 0;
	peer->state = UM_HS_STATE_ZEROED;
	peer->local_index = peer->remote_index = 0;
	peer->challenge_attempts = 0;
	memset(&peer->response_sender, 0, sizeof(peer->response_sender));
	sodium_memzero(peer->ephemeral_secret, sizeof(peer->ephemeral_secret));
	sodium_memzero(&peer->sym, sizeof(peer->sym));
	sodium_memzero(peer->h_short, sizeof(peer->h_short));
}

void um_hs_pending_release(struct um_handshake_engine *engine, struct um_hs_pending *pending)
{
	if (pending->state != UM_HS_STATE_ZEROED)
		um_reasm_release(&engine->reasm, UM_MSG_RESPONSE, pending->local_index);
	sodium_memzero(pending, sizeof(*pending));
}

static unsigned pending_count(const struct um_handshake_engine *engine)
{
	/* Handshakes still waiting for RESPONSE (or for their CHALLENGE);
	 * finished ones do not count. */
	unsigned n = 0;
	for (unsigned i = 0; i < engine->config.max_pending; i++)
		n += engine->pending[i].state == UM_HS_STATE_CHALLENGE_SENT ||
		     engine->pending[i].state == UM_HS_STATE_CHALLENGE_PREPARING;
	return n;
}

void um_handshake_set_under_load(struct um_handshake_engine *engine, bool under_load)
{
	engine->forced_load = under_load;
}

bool um_handshake_under_load(const struct um_handshake_engine *engine)
{
	return engine->forced_load || pending_count(engine) >= engine->config.load_threshold;
}

const struct um_handshake_stats *um_handshake_get_stats(const struct um_handshake_engine *engine)
{
	return &engine->stats;
}

static bool index_taken(struct um_handshake_engine *engine, uint32_t index)
{
	if (index == 0)
		return true;
	for (size_t i = 0; i < engine->n_peers; i++)
		if (engine->peers[i]->state != UM_HS_STATE_ZEROED && engine->peers[i]->local_index == index)
			return true;
	for (unsigned i = 0; i < engine->config.max_pending; i++)
		if (engine->pending[i].state != UM_HS_STATE_ZEROED && engine->pending[i].local_index == index)
			return true;
	return engine->config.index_in_use && engine->config.index_in_use(engine->config.index_ctx, index);
}

uint32_t um_hs_new_index(struct um_handshake_engine *engine)
{
	uint32_t index;
	do
		index = randombytes_random();
	while (index_taken(engine, index));
	return index;
}

/* A message of one datagram in its first round: twice with
 * config.repeat_single (handshake.h). */
static int output_single(const struct um_handshake_engine *engine, struct um_handshake_output *out, uint8_t type,
			 const uint8_t *msg, size_t len)
{
	int ret = um_hs_output_message(out, type, 0, 0, msg, len);
	if (ret == 0 && engine->config.repeat_single)
		ret = um_hs_output_message(out, type, 0, 0, msg, len);
	return ret;
}

/* ---- initiator ---- */

int um_handshake_initiate(struct um_handshake_engine *engine, struct um_handshake_peer *peer, const struct um_addr *to,
			  struct um_handshake_time now, struct um_handshake_output *out)
{
	return um_handshake_initiate_via(engine, peer, to, 0, now, out);
}

int um_handshake_initiate_via(struct um_handshake_engine *engine, struct um_handshake_peer *peer,
			      const struct um_addr *to, uint32_t route, struct um_handshake_time now,
			      struct um_handshake_output *out)
{
	int ret;

	um_hs_output_reset(out);
	um_hs_peer_reset(engine, peer);
	peer->local_index = um_hs_new_index(engine);
	peer->to = *to;
	peer->to_route = route;
	peer->started_ns = now.mono_ns;
	if ((ret = um_hs_create_hello(engine, peer, now)) < 0) {
		um_hs_peer_reset(engine, peer);
		return ret;
	}
	out->to = *to;
	out->route = route;
	out->peer = peer;
	out->peer_user = peer->user;
	return output_single(engine, out, UM_MSG_HELLO, peer->hello, sizeof(peer->hello));
}

static struct um_handshake_peer *find_initiation(struct um_handshake_engine *engine, uint32_t index,
						 enum um_handshake_state state)
{
	for (size_t i = 0; i < engine->n_peers; i++) {
		struct um_handshake_peer *p = engine->peers[i];
		if (p->state == state && p->local_index == index)
			return p;
	}
	return NULL;
}

static int handle_cookie_reply(struct um_handshake_engine *engine, const uint8_t *dgram, size_t len,
			       struct um_handshake_time now, struct um_handshake_output *out)
{
	struct um_hs_cookie_reply reply;
	struct um_handshake_peer *peer;
	int ret;

	if ((ret = um_hs_cookie_reply_decode(&reply, dgram, len)) < 0)
		return ret;
	if (!(peer = find_initiation(engine, reply.receiver_index, UM_HS_STATE_HELLO_SENT)))
		return -UM_ENOTFOUND;
	if ((ret = um_cookie_reply_consume(&peer->cookie, &reply, now.mono_ns)) < 0)
		return ret;
	/* Answer at once with a HELLO carrying mac2: one extra round trip. */
	if ((ret = um_hs_create_hello(engine, peer, now)) < 0)
		return ret;
	out->to = peer->to;
	out->route = peer->to_route;
	out->peer = peer;
	out->peer_user = peer->user;
	return um_hs_output_message(out, UM_MSG_HELLO, 0, 0, peer->hello, sizeof(peer->hello));
}

static int handle_established(struct um_handshake_engine *engine, const uint8_t *dgram, size_t len,
			      struct um_handshake_time now, struct um_handshake_output *out)
{
	struct um_hs_established est;
	struct um_handshake_peer *peer;
	int ret;

	if ((ret = um_hs_established_decode(&est, dgram, len)) < 0)
		return ret;
	if (!(peer = find_initiation(engine, est.receiver_index, UM_HS_STATE_RESPONSE_SENT)))
		return -UM_ENOTFOUND;
	if ((ret = um_hs_consume_established(engine, peer, dgram, len, now, out)) < 0)
		return ret;
	um_hs_exchange_answered(peer, now.mono_ns); /* RESPONSE -> ESTABLISHED */
	engine->stats.established++;
	return 0;
}

/* ---- responder ---- */

static struct um_hs_pending *find_pending(struct um_handshake_engine *engine, uint32_t index,
					  const struct um_addr *source)
{
	for (unsigned i = 0; i < engine->config.max_pending; i++) {
		struct um_hs_pending *p = &engine->pending[i];
		if (p->state != UM_HS_STATE_ZEROED && p->state != UM_HS_STATE_CHALLENGE_PREPARING &&
		    p->local_index == index && um_addr_equal(&p->source, source) &&
		    p->source_route == engine->from_route)
			return p;
	}
	return NULL;
}

/* IPv4 /24 or IPv6 /48: the unit an attacker with real addresses has many
 * hosts in, and the key of the aggregate HELLO bucket. */
static bool same_site(const struct um_addr *a, const struct um_addr *b)
{
	return um_addr_same_network(a, b, 24, 48);
}

/* A free slot, or when full one chosen at random among the entries of the
 * most-represented /24 or /48. Recycling the oldest would let a flood from
 * real addresses turn the table over before a legitimate RESPONSE arrives
 * (64 entries at a few hundred CHALLENGEs/s); this way a flood mostly
 * recycles its own entries, and a lone initiator's entry is at risk only
 * when every site holds one. A state preparing its CHALLENGE (deferred) is
 * never the victim; NULL when every one is (only then). */
static struct um_hs_pending *claim_pending(struct um_handshake_engine *engine)
{
	unsigned n = engine->config.max_pending, most = 0, candidates = 0;
	for (unsigned i = 0; i < n; i++)
		if (engine->pending[i].state == UM_HS_STATE_ZEROED)
			return &engine->pending[i];
	for (unsigned i = 0; i < n; i++) {
		unsigned count = 0;
		if (engine->pending[i].state == UM_HS_STATE_CHALLENGE_PREPARING)
			continue;
		for (unsigned j = 0; j < n; j++)
			count += same_site(&engine->pending[i].source, &engine->pending[j].source);
		if (count > most) {
			most = count;
			candidates = 0;
		}
		candidates += count == most;
	}
	if (!candidates)
		return NULL;
	uint32_t pick = randombytes_uniform(candidates);
	struct um_hs_pending *victim = NULL;
	for (unsigned i = 0; i < n && !victim; i++) {
		unsigned count = 0;
		if (engine->pending[i].state == UM_HS_STATE_CHALLENGE_PREPARING)
			continue;
		for (unsigned j = 0; j < n; j++)
			count += same_site(&engine->pending[i].source, &engine->pending[j].source);
		if (count == most && pick-- == 0)
			victim = &engine->pending[i];
	}
	engine->stats.table_full++;
	um_hs_pending_release(engine, victim);
	return victim;
}

bool um_hs_pending_expired(const struct um_hs_pending *p, uint64_t now_ns)
{
	uint64_t life = p->state == UM_HS_STATE_ESTABLISHED_SENT ? UM_HS_DONE_LIFE_NS : UM_HS_PENDING_LIFE_NS;
	return p->state != UM_HS_STATE_ZEROED && now_ns - p->created_ns >= life;
}

/* Recently seen HELLO bodies: a cheap early drop for replays. The real
 * replay guarantee is the per-peer timestamp check once RESPONSE proves who
 * the initiator is (an attacker can mint fresh anonymous HELLOs anyway). */
static struct um_hs_hello_seen *hello_seen_slot(struct um_handshake_engine *engine, const uint8_t *body,
						uint8_t digest[16])
{
	crypto_generichash(digest, 16, body, UM_HS_HELLO_BODY_BYTES, engine->hello_seen_key,
			   sizeof(engine->hello_seen_key));
	uint32_t slot;
	memcpy(&slot, digest, sizeof(slot));
	return &engine->hello_seen[slot % UM_HS_HELLO_FILTER_SLOTS];
}

/* The key a HELLO is rate-limited under. Handshakes through a relay all
 * arrive from the relay's address; the caller's route tag (a configured
 * peer behind one of its relays) tells them apart, so each (relay, route)
 * gets its own buckets and one peer behind a relay cannot starve the others
 * (protocol review #9). The tag goes into the bytes the buckets key on (an
 * IPv6 /48 and /64), the relay's address is folded in after it. Tags come
 * only from the caller's table of configured peers and relays, so this adds
 * at most peers x relays keys. */
static struct um_addr rate_limit_source(const struct um_addr *from, uint32_t route)
{
	struct um_addr key;
	uint16_t fold = 0;

	if (!route)
		return *from;
	for (unsigned i = 0; i < sizeof(from->addr); i++)
		fold = (uint16_t)((fold << 5 | fold >> 11) ^ from->addr[i]);
	memset(&key, 0, sizeof(key));
	key.family = UM_ADDR_IPV6;
	key.addr[0] = 0xfd; /* never a relay's own address: those are global */
	key.addr[1] = (uint8_t)(route >> 24);
	key.addr[2] = (uint8_t)(route >> 16);
	key.addr[3] = (uint8_t)(route >> 8);
	key.addr[4] = (uint8_t)route;
	key.addr[5] = (uint8_t)(fold >> 8);
	key.addr[6] = (uint8_t)fold;
	key.port = from->port;
	return key;
}

struct um_addr um_hs_rate_limit_source(const struct um_addr *from, uint32_t route)
{
	return rate_limit_source(from, route);
}

static int handle_hello(struct um_handshake_engine *engine, const struct um_addr *from, const uint8_t *dgram,
			size_t len, struct um_handshake_time now, struct um_handshake_output *out)
{
	struct um_hs_hello hello;
	int ret;

	if ((ret = um_hs_hello_decode(&hello, dgram, len)) < 0) {
		/* Another protocol version with a valid mac1: a real node that
		 * runs an incompatible release. Counted apart so it is visible. */
		if (ret == -UM_EVERSION &&
		    um_cookie_validate(&engine->cookie, dgram, len, from, now.mono_ns) != UM_COOKIE_MAC_INVALID)
			engine->stats.version_mismatch++;
		else
			engine->stats.malformed++;
		return ret;
	}
	/* 1. mac1: one BLAKE2b, rejects anything not meant for us. */
	enum um_cookie_mac_state mac = um_cookie_validate(&engine->cookie, dgram, len, from, now.mono_ns);
	if (mac == UM_COOKIE_MAC_INVALID) {
		engine->stats.bad_mac++;
		return -UM_EBADMSG;
	}
	/* Expired responder state no longer counts towards load (tick may lag). */
	for (unsigned i = 0; i < engine->config.max_pending; i++)
		if (um_hs_pending_expired(&engine->pending[i], now.mono_ns))
			um_hs_pending_release(engine, &engine->pending[i]);
	/* 2. Under load: prove the source address first (stateless). */
	if (um_handshake_under_load(engine) && mac != UM_COOKIE_MAC_VALID_WITH_COOKIE) {
		ret = um_cookie_reply_create(&engine->cookie, out->datagrams[0], UM_HS_MAX_DATAGRAM, hello.sender_index,
					     hello.mac1, from, now.mono_ns);
		if (ret < 0)
			return ret;
		out->lengths[0] = (uint16_t)ret;
		out->n_datagrams = 1;
		out->to = *from;
		out->route = engine->from_route;
		engine->stats.cookies_sent++;
		return 0;
	}
	/* 3. Per-source token bucket, then the aggregate one of its site. */
	uint64_t site_idle_ns;
	struct um_addr limited = rate_limit_source(from, engine->from_route);
	if (!um_ratelimit_allow(&engine->ratelimit, &limited, now.mono_ns) ||
	    !um_ratelimit_allow_idle(&engine->prefix_ratelimit, &limited, now.mono_ns, &site_idle_ns)) {
		engine->stats.rate_limited++;
		return -UM_ELIMIT;
	}
	/* 4. Freshness window. */
	uint64_t window = engine->config.clock_window_ms;
	if (hello.timestamp_ms + window < now.wall_ms || hello.timestamp_ms > now.wall_ms + window) {
		engine->stats.replays++;
		return -UM_EREPLAY;
	}
	/* 5. A retransmitted HELLO for a handshake we hold: resend CHALLENGE. */
	unsigned from_source = 0;
	for (unsigned i = 0; i < engine->config.max_pending; i++) {
		struct um_hs_pending *p = &engine->pending[i];
		bool preparing = p->state == UM_HS_STATE_CHALLENGE_PREPARING;
		if (p->state == UM_HS_STATE_ZEROED)
			continue;
		if ((p->state == UM_HS_STATE_CHALLENGE_SENT || preparing) && um_addr_same_host(&p->source, from) &&
		    p->source_route == engine->from_route)
			from_source++;
		/* Its CHALLENGE is being prepared: it goes out when ready. */
		if (preparing && um_addr_equal(&p->source, from) && p->source_route == engine->from_route &&
		    memcmp(p->hello_ephemeral, hello.ephemeral, 32) == 0 &&
		    memcmp(p->hello_nonce, hello.nonce, UM_HS_NONCE_BYTES) == 0)
			return 0;
		if (p->state == UM_HS_STATE_CHALLENGE_SENT && um_addr_equal(&p->source, from) &&
		    p->source_route == engine->from_route && memcmp(p->hello_ephemeral, hello.ephemeral, 32) == 0 &&
		    memcmp(p->hello_nonce, hello.nonce, UM_HS_NONCE_BYTES) == 0) {
			/* The copy sent right behind it (repeat_single): the
			 * CHALLENGE is on its way. A retransmission waits an RTO,
			 * at least UM_HS_RTO_MIN_NS, longer than the gap. */
			if (now.mono_ns - p->created_ns < UM_REASM_ACK_GAP_NS) {
				engine->stats.repeats_ignored++;
				return 0;
			}
			p->challenge_resent = true;
			out->to = *from;
			out->route = engine->from_route;
			/* Only the pieces the initiator did not acknowledge. */
			ret = um_hs_output_pieces(out, UM_MSG_CHALLENGE, p->remote_index, p->challenge_message_id,
						  p->challenge, p->challenge_len,
						  um_frag_sender_on_timer(&p->challenge_sender, now.mono_ns));
			engine->stats.fragments_retransmitted += out->n_datagrams;
			return ret;
		}
	}
	/* 6. Replay filter. */
	uint8_t digest[16];
	struct um_hs_hello_seen *seen = hello_seen_slot(engine, dgram, digest);
	if (seen->expires_ns > now.mono_ns && memcmp(seen->digest, digest, sizeof(digest)) == 0) {
		engine->stats.replays++;
		return -UM_EREPLAY;
	}
	if (from_source >= engine->config.max_pending_per_source) {
		engine->stats.rate_limited++;
		return -UM_ELIMIT;
	}
	if (engine->config.defer_challenge && !um_hs_work_can_start(engine)) {
		engine->stats.deferred_refused++;
		return -UM_ELIMIT;
	}
	/* 6b. The global CHALLENGE budget bounds the CPU a flood from many real
	 * addresses can take; a site idle for a while may use the reserve.
	 * Before the filter records the HELLO, so its retransmission counts. */
	if (!um_token_bucket_take(&engine->challenge_budget, now.mono_ns) &&
	    !(site_idle_ns >= UM_HS_PREFIX_IDLE_MS * UM_NSEC_PER_MSEC &&
	      um_token_bucket_take(&engine->challenge_reserve, now.mono_ns))) {
		engine->stats.challenge_budget++;
		return -UM_ELIMIT;
	}
	memcpy(seen->digest, digest, sizeof(digest));
	seen->expires_ns = now.mono_ns + 2 * window * UM_NSEC_PER_MSEC;

	/* 7. The expensive part: ML-KEM keygen, X25519, ML-DSA signature. */
	struct um_hs_pending *pending = claim_pending(engine);
	if (!pending)
		return -UM_ELIMIT; /* every slot preparing: um_hs_work_can_start said no */
	pending->remote_index = hello.sender_index;
	pending->source = *from;
	pending->source_route = engine->from_route;
	memcpy(pending->hello_ephemeral, hello.ephemeral, 32);
	memcpy(pending->hello_nonce, hello.nonce, UM_HS_NONCE_BYTES);
	pending->hello_ts_ms = hello.timestamp_ms;
	pending->created_ns = now.mono_ns;
	pending->local_index = um_hs_new_index(engine);
	if (engine->config.defer_challenge)
		return um_hs_work_start(engine, pending, dgram, site_idle_ns >= UM_HS_PREFIX_IDLE_MS * UM_NSEC_PER_MSEC,
					out);
	if ((ret = um_hs_create_challenge(engine, pending, &hello, dgram)) < 0) {
		um_hs_pending_release(engine, pending);
		return ret;
	}
	engine->stats.hellos++;
	engine->stats.challenges++;
	engine->stats.short_challenges += pending->challenge_len == UM_HS_CHALLENGE_SHORT_BYTES;
	out->to = *from;
	out->route = engine->from_route;
	return um_hs_output_first_round(engine, out, UM_MSG_CHALLENGE, pending->remote_index,
					pending->challenge_message_id, pending->challenge, pending->challenge_len);
}

/* ---- fragments ---- */

static int handle_fragment(struct um_handshake_engine *engine, const struct um_addr *from, const uint8_t *dgram,
			   size_t len, struct um_handshake_time now, struct um_handshake_output *out)
{
	struct um_fragment frag;
	struct um_fragment_ack ack;
	struct um_handshake_peer *peer = NULL;
	struct um_hs_pending *pending = NULL;
	int ret;

	if ((ret = um_fragment_decode(&frag, dgram, len)) < 0 ||
	    (engine->acks_disabled && um_fragment_is_parity(&frag))) {
		engine->stats.malformed++; /* (a node before parity pieces refused them so) */
		return ret < 0 ? ret : -UM_EINVAL;
	}
	/* Admission: reassembly memory only for the exact size of a message we
	 * expect, for state we hold. A sender may own that state (its own
	 * HELLO), so the state's single slot is also freed with the state. */
	if ((frag.msg_type == UM_MSG_CHALLENGE && frag.total_len != UM_HS_CHALLENGE_BYTES &&
	     frag.total_len != UM_HS_CHALLENGE_SHORT_BYTES) ||
	    (frag.msg_type == UM_MSG_RESPONSE && frag.total_len != UM_HS_RESPONSE_BYTES &&
	     frag.total_len != UM_HS_RESPONSE_SHORT_BYTES)) {
		engine->stats.malformed++;
		return -UM_EINVAL;
	}
	if (frag.msg_type == UM_MSG_CHALLENGE)
		peer = find_initiation(engine, frag.receiver_index, UM_HS_STATE_HELLO_SENT);
	else if (frag.msg_type == UM_MSG_RESPONSE)
		pending = find_pending(engine, frag.receiver_index, from);
	if (!peer && !pending) {
		/* The parity piece trails the data pieces that completed the
		 * CHALLENGE: nothing to do. */
		if (um_fragment_is_parity(&frag) && frag.msg_type == UM_MSG_CHALLENGE &&
		    find_initiation(engine, frag.receiver_index, UM_HS_STATE_RESPONSE_SENT)) {
			engine->stats.parity_late++;
			return 0;
		}
		engine->stats.unknown_index++;
		return -UM_ENOTFOUND;
	}
	/* Like the responder's decapsulations: a few CHALLENGEs per initiation,
	 * then it waits for its timeout (no reassembly, no verification). */
	if (peer && peer->challenge_attempts >= UM_HS_MAX_CHALLENGE_ATTEMPTS) {
		engine->stats.challenge_attempts_exceeded++;
		return -UM_ELIMIT;
	}
	/* The short CHALLENGE only when our HELLO asked for it. */
	if (peer && frag.total_len == UM_HS_CHALLENGE_SHORT_BYTES && !peer->responder_key) {
		engine->stats.malformed++;
		return -UM_EINVAL;
	}
	/* A piece of the short RESPONSE we could not verify: nothing to gain. */
	if (pending && pending->key_unknown && frag.message_id == pending->key_unknown_message_id)
		return -UM_EAGAIN;
	/* A piece of the RESPONSE we answered: ESTABLISHED was lost; unless
	 * it is the parity piece, sent once right after the others. */
	if (pending && pending->state == UM_HS_STATE_ESTABLISHED_SENT &&
	    frag.message_id == pending->response_message_id) {
		if (um_fragment_is_parity(&frag)) {
			engine->stats.parity_late++;
			return 0;
		}
		return um_hs_resend_established(engine, pending, from, now.mono_ns, out);
	}
	ret = um_reasm_add_ack(&engine->reasm, from, &frag, now.mono_ns, engine->scratch, sizeof(engine->scratch),
			       engine->acks_disabled ? NULL : &ack);
	if (ret == 0 && !engine->acks_disabled && ack.count) {
		/* Incomplete: tell the sender what is missing. The answer now
		 * takes an extra round (no RTT sample from it). */
		if (peer)
			um_hs_exchange_repaired(peer, now.mono_ns);
		else
			pending->challenge_resent = true;
		out->to = *from;
		out->route = engine->from_route;
		return um_hs_output_ack(out, &ack);
	}
	if (ret <= 0)
		return ret;
	size_t msg_len = (size_t)ret;

	if (peer) {
		peer->challenge_attempts++;
		if ((ret = um_hs_consume_challenge(engine, peer, engine->scratch, msg_len)) < 0) {
			engine->stats.auth_failed++;
			return ret;
		}
		peer->to = *from; /* the responder answered from here */
		peer->to_route = engine->from_route;
		um_hs_exchange_answered(peer, now.mono_ns); /* HELLO -> CHALLENGE */
		um_hs_exchange_start(peer, now.mono_ns);
		out->to = *from;
		out->route = engine->from_route;
		out->peer = peer;
		out->peer_user = peer->user;
		if (engine->config.early_keys)
			um_hs_early_keys(peer, now.mono_ns, out);
		engine->stats.responses++;
		size_t response_len;
		const uint8_t *response = um_hs_response_in_flight(peer, &response_len);
		engine->stats.short_responses += peer->response_is_short;
		return um_hs_output_first_round(engine, out, UM_MSG_RESPONSE, peer->remote_index,
						peer->response_message_id, response, response_len);
	}

	if (pending->state == UM_HS_STATE_ESTABLISHED_SENT) {
		/* ESTABLISHED was lost and the initiator resent RESPONSE (maybe
		 * the full form of the short one we took: same header). */
		uint8_t digest[UM_HS_HASH_BYTES];
		crypto_generichash(digest, sizeof(digest), engine->scratch, UM_HS_RESPONSE_HEADER_BYTES, NULL, 0);
		if (memcmp(digest, pending->response_digest, sizeof(digest)) != 0) {
			engine->stats.replays++;
			return -UM_EREPLAY;
		}
		out->to = *from;
		out->route = engine->from_route;
		return um_hs_output_message(out, UM_MSG_ESTABLISHED, 0, 0, pending->established,
					    sizeof(pending->established));
	}
	/* CHALLENGE -> RESPONSE is an RTT sample (read before the state moves
	 * on; Karn's rule: not when we resent the CHALLENGE). */
	uint64_t challenge_ns = pending->created_ns;
	bool resent = pending->challenge_resent;
	ret = um_hs_consume_response(engine, pending, engine->scratch, msg_len, now, out);
	if (ret == 0 && !resent && out->peer)
		um_hs_rtt_sample(out->peer, now.mono_ns - challenge_ns);
	if (ret < 0) {
		if (ret == -UM_EAGAIN) {
			engine->stats.key_unknown++;
			pending->key_unknown = true;
			pending->key_unknown_message_id = frag.message_id;
		} else if (ret == -UM_ENOTFOUND)
			engine->stats.unknown_peer++;
		else if (ret == -UM_EREPLAY)
			engine->stats.replays++;
		else
			engine->stats.auth_failed++;
		return ret;
	}
	pending->response_message_id = frag.message_id;
	pending->established_resent_ns = now.mono_ns;
	engine->stats.established++;
	out->to = *from;
	out->route = engine->from_route;
	return output_single(engine, out, UM_MSG_ESTABLISHED, pending->established, sizeof(pending->established));
}

int um_handshake_receive(struct um_handshake_engine *engine, const struct um_addr *from, const uint8_t *datagram,
			 size_t len, struct um_handshake_time now, struct um_handshake_output *out)
{
	return um_handshake_receive_via(engine, from, 0, datagram, len, now, out);
}

int um_handshake_receive_via(struct um_handshake_engine *engine, const struct um_addr *from, uint32_t route,
			     const uint8_t *datagram, size_t len, struct um_handshake_time now,
			     struct um_handshake_output *out)
{
	int ret;

	um_hs_output_reset(out);
	engine->from_route = route;
	if (len == 0 || len > UM_HS_MAX_DATAGRAM) {
		engine->stats.malformed++;
		return -UM_EINVAL;
	}
	switch (datagram[0]) {
	case UM_MSG_HELLO:
		ret = handle_hello(engine, from, datagram, len, now, out);
		break;
	case UM_MSG_COOKIE_REPLY:
		ret = handle_cookie_reply(engine, datagram, len, now, out);
		break;
	case UM_MSG_ESTABLISHED:
		ret = handle_established(engine, datagram, len, now, out);
		break;
	case UM_MSG_FRAGMENT:
		ret = handle_fragment(engine, from, datagram, len, now, out);
		break;
	case UM_TYPE_FRAGMENT_ACK:
		ret = um_hs_receive_fragment_ack(engine, from, datagram, len, now, out);
		break;
	default: /* CHALLENGE/RESPONSE never fit one datagram; DATA is not ours */
		engine->stats.malformed++;
		ret = -UM_EINVAL;
		break;
	}
	if (ret < 0)
		um_hs_output_reset(out);
	um_hs_count_output(engine, out);
	return ret;
}
