/* SPDX-License-Identifier: MIT */
/* Direct paths to one peer (punch.h; why in docs/ARCHITECTURE.md).
 *
 * Keys. When a keypair is installed we derive its two path keys (one per
 * direction, wire/path.h) and keep the newest UM_PUNCH_KEYS pairs with the
 * keypair's session indices: the two sides install a rotation at slightly
 * different times, so we accept under any of them and send under the
 * newest. A message names the receiver's local index in clear, as DATA
 * does, so the receiver finds the key without trying each; nothing in it
 * names either peer.
 *
 * Punching. On the peer's candidates both sides probe every candidate at
 * once, then every 100 ms (250 ms after the first second) until
 * connect-timeout. A probe opens our NAT's mapping towards the candidate, so
 * the other side's probes get in; each PATH_PROBE is answered with a
 * PATH_PROBE_REPLY echoing its nonce, sealed under the path keys. While we punch, a
 * probe from an address we did not know (the peer's NAT chose another
 * port) is also probed back at once (peer-reflexive candidate).
 *
 * Freshness (review #4). Every message carries the sender's counter (the
 * AEAD nonce, authenticated) and is accepted once (a replay window per
 * path key), so a
 * recorded probe replayed from a third address is dropped before anything
 * answers it. Fresh probes are answered within a small per-source budget,
 * and a probe never starts an attempt or teaches a candidate outside
 * PUNCHING: whoever holds a probe cannot make us probe an address of its
 * choice, which is what made us an echo oracle for a path hijack.
 *
 * Migration. The first fresh reply from the very address we probed makes
 * it the direct path (event DIRECT).
 *
 * Health and fallback. On the direct path we probe every health-interval/4;
 * when neither a reply nor direct DATA arrived for health-interval the
 * relay path comes back (event FALLBACK) and a new attempt starts
 * retry-interval later (5 s after the first fallback in a minute: a path
 * that just worked often works again). A failed punch waits retry-interval. */
#include "path/punch.h"

#include <string.h>

#include <sodium.h>

#include "util/clock.h"
#include "util/error.h"

#define ROUND_FAST_NS        (100 * UM_NSEC_PER_MSEC)
#define ROUND_SLOW_NS        (250 * UM_NSEC_PER_MSEC)
#define FAST_ROUNDS          10
#define PROBE_MAX_AGE_NS     (10 * UM_NSEC_PER_SEC)
#define QUICK_RETRY_NS       (5 * UM_NSEC_PER_SEC)
#define QUICK_RETRY_EVERY_NS (60 * UM_NSEC_PER_SEC)
/* Replies per source: a burst of REPLY_BURST, then one per REPLY_EVERY_NS.
 * A punching peer probes each of our candidates every 100 ms from one
 * address, plus health probes and pings: well below that. */
#define REPLY_EVERY_NS (25 * UM_NSEC_PER_MSEC)
#define REPLY_BURST    16

const char *um_punch_state_name(enum um_punch_state state)
{
	switch (state) {
	case UM_PUNCH_NONE:
		return "none";
	case UM_PUNCH_PUNCHING:
		return "punching";
	case UM_PUNCH_DIRECT:
		return "direct";
	case UM_PUNCH_RELAY:
		return "relay";
	}
	return "?";
}

void um_punch_output_reset(struct um_punch_output *out)
{
	out->n_datagrams = 0;
	out->n_events = 0;
	out->candidates_wanted = false;
	out->candidates_need = false;
}

void um_punch_init(struct um_punch *p, const struct um_punch_config *config)
{
	memset(p, 0, sizeof(*p));
	p->config = *config;
	p->state = UM_PUNCH_NONE;
	p->deadline = UINT64_MAX;
}

uint64_t um_punch_next_deadline(const struct um_punch *p)
{
	return p->deadline;
}

static void arm(struct um_punch *p, const struct um_punch_env *env, uint64_t delay_ns)
{
	p->deadline = env->now + delay_ns;
}

static struct um_punch_event *event(struct um_punch_output *out, enum um_punch_event_kind kind)
{
	if (!out)
		return NULL;
	if (out->n_events >= UM_PUNCH_OUT_EVENTS) {
		out->dropped++;
		return NULL;
	}
	struct um_punch_event *e = &out->events[out->n_events++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	return e;
}

static bool legal(enum um_punch_state from, enum um_punch_state to)
{
	if (from == to)
		return false;
	if (to == UM_PUNCH_NONE)
		return true;
	switch (from) {
	case UM_PUNCH_NONE:
		return to == UM_PUNCH_PUNCHING || to == UM_PUNCH_DIRECT;
	case UM_PUNCH_PUNCHING:
		return to == UM_PUNCH_DIRECT || to == UM_PUNCH_RELAY;
	case UM_PUNCH_DIRECT:
		return to == UM_PUNCH_RELAY || to == UM_PUNCH_PUNCHING;
	case UM_PUNCH_RELAY:
		return to == UM_PUNCH_PUNCHING || to == UM_PUNCH_DIRECT;
	}
	return false;
}

int um_punch_set_state(struct um_punch *p, enum um_punch_state to, struct um_punch_output *out)
{
	if (!legal(p->state, to)) {
		p->transitions_refused++;
		return -UM_ESTATE;
	}
	struct um_punch_event *e = event(out, UM_PUNCH_EVENT_STATE);
	if (e) {
		e->from = p->state;
		e->to = to;
	}
	p->state = to;
	p->transitions++;
	return 0;
}

/* ---- sending ---- */

static struct um_punch_datagram *datagram(struct um_punch_output *out)
{
	if (out->n_datagrams >= UM_PUNCH_OUT_DATAGRAMS) {
		out->dropped++;
		return NULL;
	}
	return &out->datagrams[out->n_datagrams++];
}

/* Seals m under the newest send path key into out, to `to` (NULL: through
 * the relay). */
static int emit(struct um_punch *p, struct um_path_msg *m, const struct um_addr *to, struct um_punch_output *out)
{
	if (!p->n_keys)
		return -UM_ESTATE;
	struct um_punch_datagram *d = datagram(out);
	if (!d)
		return -UM_ELIMIT;
	m->receiver_index = p->keys[0].remote_index;
	m->counter = p->send_counter;
	int n = um_path_seal(d->data, sizeof(d->data), m, p->keys[0].send);
	if (n < 0) {
		out->n_datagrams--;
		return n;
	}
	p->send_counter++;
	d->len = (uint16_t)n;
	d->via_relay = to == NULL;
	memset(&d->to, 0, sizeof(d->to));
	if (to)
		d->to = *to;
	return 0;
}

static void want_candidates(struct um_punch_output *out, bool need)
{
	out->candidates_wanted = true;
	out->candidates_need |= need;
}

static bool add_candidate(struct um_path_msg *m, uint8_t kind, const struct um_addr *addr)
{
	if (!addr->family || m->count >= UM_PATH_MAX_CANDIDATES)
		return false;
	for (unsigned i = 0; i < m->count; i++)
		if (um_addr_equal(&m->candidates[i].addr, addr))
			return false;
	m->candidates[m->count].kind = kind;
	m->candidates[m->count].addr = *addr;
	m->count++;
	return true;
}

/* need: ask for the peer's candidates in return. The responder's first
 * message can arrive before the initiator has the session keys (it installs
 * them on ESTABLISHED, which follows); the initiator's always finds the
 * responder's keys, so its NEED gets the answer. */
void um_punch_candidates_send(struct um_punch *p, const struct um_path_candidate *local, size_t n_local,
			      const struct um_punch_env *env, struct um_punch_output *out)
{
	bool need = out->candidates_need;
	struct um_path_msg m = {.type = UM_MSG_PATH_CANDIDATES, .flags = need ? UM_PATH_FLAG_NEED : 0};

	out->candidates_wanted = out->candidates_need = false;
	p->local_generation = env->wall_ms > p->local_generation ? env->wall_ms : p->local_generation + 1;
	m.generation = p->local_generation;
	/* Reflexive endpoints first: they work across NATs. */
	for (size_t i = 0; i < n_local; i++)
		if (local[i].kind == UM_PATH_CAND_REFLEXIVE)
			add_candidate(&m, UM_PATH_CAND_REFLEXIVE, &local[i].addr);
	for (size_t i = 0; i < n_local; i++)
		if (local[i].kind != UM_PATH_CAND_REFLEXIVE)
			add_candidate(&m, UM_PATH_CAND_LOCAL, &local[i].addr);
	if (env->via_relay)
		(void)emit(p, &m, NULL, out);
	else if (env->endpoint.family)
		(void)emit(p, &m, &env->endpoint, out);
}

/* to == NULL: through the relay. */
static int send_probe(struct um_punch *p, const struct um_addr *to, bool ping, const struct um_punch_env *env,
		      struct um_punch_output *out)
{
	struct um_path_msg m = {.type = UM_MSG_PATH_PROBE, .flags = ping ? UM_PATH_FLAG_PING : 0};

	randombytes_buf(m.nonce, sizeof(m.nonce));
	int r = emit(p, &m, to, out);
	if (r)
		return r;
	struct um_punch_probe *slot = &p->probes[p->next_probe++ % UM_PUNCH_PROBES];
	memcpy(slot->nonce, m.nonce, sizeof(m.nonce));
	memset(&slot->to, 0, sizeof(slot->to));
	if (to)
		slot->to = *to;
	slot->sent_ns = env->now;
	slot->ping = ping;
	slot->used = false;
	p->probes_sent++;
	return 0;
}

/* ---- state changes ---- */

static void start_punch(struct um_punch *p, bool send_ours, const struct um_punch_env *env, struct um_punch_output *out)
{
	if (!env->enabled || !p->n_keys || p->state == UM_PUNCH_DIRECT)
		return;
	if (send_ours)
		want_candidates(out, true);
	if (p->state != UM_PUNCH_PUNCHING) {
		if (um_punch_set_state(p, UM_PUNCH_PUNCHING, out))
			return;
		p->punch_started_ns = env->now;
		p->punch_rounds = 0;
		/* An old STUN answer may be stale (NAT rebinding): the caller
		 * asks again; a changed address reaches the peer while we punch. */
		event(out, UM_PUNCH_EVENT_PUNCH_STARTED);
	}
	arm(p, env, 0);
}

/* Direct with a path proven at `addr` (a probe reply, or the handshake). */
static void enter_direct(struct um_punch *p, const struct um_addr *addr, const struct um_punch_env *env,
			 struct um_punch_output *out)
{
	if (um_punch_set_state(p, UM_PUNCH_DIRECT, out))
		return;
	p->direct = *addr;
	p->direct_since_ns = p->last_direct_rx_ns = env->now;
	p->rx_direct_seen = env->rx_direct;
	arm(p, env, p->config.health_interval_ns / 4);
}

static void go_direct(struct um_punch *p, const struct um_addr *addr, uint64_t rtt_ns, const struct um_punch_env *env,
		      struct um_punch_output *out)
{
	enter_direct(p, addr, env, out);
	if (p->state != UM_PUNCH_DIRECT)
		return;
	p->rtt_ns = rtt_ns;
	p->switches_direct++;
	if (p->relay_since_ns)
		p->time_to_direct_ns = env->now - p->relay_since_ns;
	struct um_punch_event *e = event(out, UM_PUNCH_EVENT_DIRECT);
	if (e) {
		e->addr = *addr;
		e->rtt_ns = rtt_ns;
	}
}

static void fall_back(struct um_punch *p, const struct um_punch_env *env, struct um_punch_output *out)
{
	uint64_t now = env->now;

	/* No relay to go to: stay and keep checking. */
	if (!env->relay_ready || um_punch_set_state(p, UM_PUNCH_RELAY, out)) {
		arm(p, env, p->config.health_interval_ns / 4);
		return;
	}
	p->relay_since_ns = now;
	p->fallback_ns = now - p->last_direct_rx_ns;
	p->fallbacks++;
	/* A path that just worked often works again (a burst of loss, a
	 * stalled host): the first retry comes soon, at most once a minute so
	 * a flapping path settles on the relay. */
	uint64_t retry = p->config.retry_interval_ns;
	if (retry > QUICK_RETRY_NS && (!p->quick_retry_ns || now - p->quick_retry_ns >= QUICK_RETRY_EVERY_NS)) {
		retry = QUICK_RETRY_NS;
		p->quick_retry_ns = now;
	}
	p->retry_at_ns = now + retry;
	arm(p, env, retry);
	struct um_punch_event *e = event(out, UM_PUNCH_EVENT_FALLBACK);
	if (e) {
		e->silence_ns = p->fallback_ns;
		e->retry_ns = retry;
	}
}

void um_punch_direct_refused(struct um_punch *p, enum um_punch_state back, const struct um_punch_env *env,
			     struct um_punch_output *out)
{
	if (p->state != UM_PUNCH_DIRECT || um_punch_set_state(p, back, out))
		return;
	if (p->switches_direct)
		p->switches_direct--;
	arm(p, env, 0); /* the tick carries on from `back` */
}

void um_punch_fallback_refused(struct um_punch *p, const struct um_punch_env *env, struct um_punch_output *out)
{
	if (p->state != UM_PUNCH_RELAY || um_punch_set_state(p, UM_PUNCH_DIRECT, out))
		return;
	arm(p, env, p->config.health_interval_ns / 4);
}

void um_punch_tick(struct um_punch *p, const struct um_punch_env *env, struct um_punch_output *out)
{
	uint64_t now = env->now;

	um_punch_output_reset(out);
	if (now < p->deadline)
		return;
	p->deadline = UINT64_MAX;
	if (!p->n_keys)
		return;
	switch (p->state) {
	case UM_PUNCH_PUNCHING:
		if (now - p->punch_started_ns >= p->config.connect_timeout_ns) {
			if (um_punch_set_state(p, UM_PUNCH_RELAY, out))
				return;
			p->retry_at_ns = now + p->config.retry_interval_ns;
			arm(p, env, p->config.retry_interval_ns);
			struct um_punch_event *e = event(out, UM_PUNCH_EVENT_GAVE_UP);
			if (e)
				e->retry_ns = p->config.retry_interval_ns;
			return;
		}
		for (unsigned i = 0; i < p->n_remote; i++)
			send_probe(p, &p->remote[i].addr, false, env, out);
		p->punch_rounds++;
		arm(p, env, p->punch_rounds < FAST_ROUNDS ? ROUND_FAST_NS : ROUND_SLOW_NS);
		return;
	case UM_PUNCH_DIRECT:
		if (env->rx_direct != p->rx_direct_seen) {
			p->rx_direct_seen = env->rx_direct;
			p->last_direct_rx_ns = now;
		}
		if (env->via_relay) { /* a handshake through the relay moved us */
			if (um_punch_set_state(p, UM_PUNCH_RELAY, out))
				return;
			p->relay_since_ns = now;
			start_punch(p, true, env, out);
			return;
		}
		if (now - p->last_direct_rx_ns > p->config.health_interval_ns) {
			fall_back(p, env, out);
			return;
		}
		send_probe(p, &p->direct, false, env, out);
		arm(p, env, p->config.health_interval_ns / 4);
		return;
	case UM_PUNCH_RELAY:
		if (now + UM_NSEC_PER_MSEC >= p->retry_at_ns)
			start_punch(p, true, env, out);
		else
			p->deadline = p->retry_at_ns;
		return;
	case UM_PUNCH_NONE:
		return;
	}
}

/* ---- events from the caller ---- */

void um_punch_session_installed(struct um_punch *p, const uint8_t send_key[32], const uint8_t recv_key[32],
				uint32_t local_index, uint32_t remote_index, const struct um_punch_env *env,
				struct um_punch_output *out)
{
	struct um_punch_key *k = &p->keys[0];

	um_punch_output_reset(out);
	/* The oldest pair is overwritten by the move: no copy of it remains. */
	memmove(&p->keys[1], &p->keys[0], (UM_PUNCH_KEYS - 1) * sizeof(p->keys[0]));
	um_path_keys_derive(k->send, k->recv, send_key, recv_key);
	k->local_index = local_index;
	k->remote_index = remote_index;
	um_replay_init(&k->window);
	if (p->n_keys < UM_PUNCH_KEYS)
		p->n_keys++;
	if (!env->enabled)
		return;
	if (!env->via_relay) {
		/* The handshake itself went direct: that path is proven. */
		if (p->state != UM_PUNCH_DIRECT && env->endpoint.family)
			enter_direct(p, &env->endpoint, env, out);
		return;
	}
	switch (p->state) {
	case UM_PUNCH_DIRECT:
		(void)um_punch_set_state(p, UM_PUNCH_NONE, out);
		/* fall through */
	case UM_PUNCH_NONE:
		p->relay_since_ns = env->now;
		start_punch(p, true, env, out);
		break;
	case UM_PUNCH_PUNCHING:
		want_candidates(out, true); /* under the new key, in case the old one is gone */
		break;
	case UM_PUNCH_RELAY:
		break; /* the retry deadline runs */
	}
}

void um_punch_local_candidates_changed(struct um_punch *p, const struct um_punch_env *env, struct um_punch_output *out)
{
	um_punch_output_reset(out);
	if (!env->enabled)
		return;
	switch (p->state) {
	case UM_PUNCH_PUNCHING:
		if (p->n_keys)
			want_candidates(out, false); /* the peer probes the new one too */
		break;
	case UM_PUNCH_RELAY:
		start_punch(p, true, env, out); /* the last attempt lacked it */
		break;
	case UM_PUNCH_NONE:
	case UM_PUNCH_DIRECT:
		break;
	}
}

void um_punch_session_cleared(struct um_punch *p)
{
	sodium_memzero(p->keys, sizeof(p->keys));
	p->n_keys = 0;
	if (p->state != UM_PUNCH_NONE)
		(void)um_punch_set_state(p, UM_PUNCH_NONE, NULL);
	p->deadline = UINT64_MAX;
	p->n_remote = 0;
	p->remote_generation = 0;
	memset(p->probes, 0, sizeof(p->probes));
	memset(p->sources, 0, sizeof(p->sources));
}

/* ---- receiving ---- */

/* The kept keys addressed by our local index `index`, or NULL. */
static struct um_punch_key *key_for(struct um_punch *p, uint32_t index)
{
	for (unsigned i = 0; i < p->n_keys; i++)
		if (p->keys[i].local_index == index)
			return &p->keys[i];
	return NULL;
}

/* May we answer one more probe from `from` now? A GCRA bucket per source;
 * an unknown source takes the slot that has been idle longest, so a few
 * sources cannot lock out the peer's real one. */
static bool reply_allowed(struct um_punch *p, const struct um_addr *from, uint64_t now)
{
	struct um_punch_source *slot = &p->sources[0];

	for (unsigned i = 0; i < UM_PUNCH_REPLY_SOURCES; i++) {
		struct um_punch_source *q = &p->sources[i];
		if (q->addr.family && um_addr_equal(&q->addr, from)) {
			slot = q;
			goto found;
		}
		if (q->tat < slot->tat)
			slot = q;
	}
	slot->addr = *from;
	slot->tat = 0;
found:
	if (slot->tat < now)
		slot->tat = now;
	if (slot->tat - now > (uint64_t)(REPLY_BURST - 1) * REPLY_EVERY_NS) {
		p->replies_limited++;
		return false;
	}
	slot->tat += REPLY_EVERY_NS;
	return true;
}

static void add_remote(struct um_punch *p, uint8_t kind, const struct um_addr *addr)
{
	for (unsigned i = 0; i < p->n_remote; i++)
		if (um_addr_equal(&p->remote[i].addr, addr))
			return;
	if (p->n_remote >= UM_PUNCH_REMOTE_MAX)
		return;
	p->remote[p->n_remote].kind = kind;
	p->remote[p->n_remote].addr = *addr;
	p->n_remote++;
}

static void on_candidates(struct um_punch *p, const struct um_path_msg *m, const struct um_punch_env *env,
			  struct um_punch_output *out)
{
	if (m->generation <= p->remote_generation)
		return; /* replayed or reordered */
	p->remote_generation = m->generation;
	p->n_remote = 0;
	for (unsigned i = 0; i < m->count; i++)
		add_remote(p, m->candidates[i].kind, &m->candidates[i].addr);
	event(out, UM_PUNCH_EVENT_CANDIDATES);
	if (!env->enabled)
		return;
	if (m->flags & UM_PATH_FLAG_NEED)
		want_candidates(out, false);
	/* The peer (re)started an attempt: join it. */
	if (p->state != UM_PUNCH_DIRECT)
		start_punch(p, false, env, out);
}

static void on_probe(struct um_punch *p, const struct um_path_msg *m, const struct um_addr *from, bool via_relay,
		     const struct um_punch_env *env, struct um_punch_output *out)
{
	struct um_path_msg reply = {.type = UM_MSG_PATH_PROBE_REPLY, .flags = m->flags};

	if (!reply_allowed(p, from, env->now))
		return;
	memcpy(reply.nonce, m->nonce, sizeof(reply.nonce));
	reply.observed = *from;
	if (emit(p, &reply, via_relay ? NULL : from, out) || via_relay)
		return;
	/* Only while we punch ourselves: outside an attempt a probe must not
	 * make us probe (or later migrate to) an address its sender chose.
	 * The peer's CANDIDATES, through the relay, start attempts. */
	if ((m->flags & UM_PATH_FLAG_PING) || !env->enabled || p->state != UM_PUNCH_PUNCHING)
		return;
	/* Triggered check: the peer's probe got through to us, so ours to
	 * its source should too (its NAT mapping is open towards us). */
	add_remote(p, UM_PATH_CAND_REFLEXIVE, from);
	send_probe(p, from, false, env, out);
}

static void on_reply(struct um_punch *p, const struct um_path_msg *m, const struct um_addr *from, bool via_relay,
		     const struct um_punch_env *env, struct um_punch_output *out)
{
	uint64_t now = env->now;
	struct um_punch_probe *probe = NULL;

	for (unsigned i = 0; i < UM_PUNCH_PROBES; i++) {
		struct um_punch_probe *q = &p->probes[i];
		if (q->sent_ns && !q->used && !memcmp(q->nonce, m->nonce, sizeof(q->nonce))) {
			probe = q;
			break;
		}
	}
	if (!probe || now - probe->sent_ns > PROBE_MAX_AGE_NS)
		return;
	/* The reply must come back the way the probe went. */
	if (via_relay != (probe->to.family == 0) || (!via_relay && !um_addr_equal(&probe->to, from)))
		return;
	probe->used = true;
	p->probes_answered++;
	uint64_t rtt = now - probe->sent_ns;
	if (probe->ping) {
		p->ping_answered = p->ping_sequence;
		p->ping_rtt_ns = rtt;
		p->ping_direct = !via_relay;
		p->ping_from = *from;
		struct um_punch_event *e = event(out, UM_PUNCH_EVENT_PING);
		if (e) {
			e->addr = *from;
			e->rtt_ns = rtt;
			e->direct = !via_relay;
		}
		return;
	}
	if (via_relay)
		return;
	if (p->state == UM_PUNCH_DIRECT) {
		if (um_addr_equal(&p->direct, from)) {
			p->last_direct_rx_ns = now;
			p->rtt_ns = p->rtt_ns ? (p->rtt_ns * 7 + rtt) / 8 : rtt;
		}
		return;
	}
	if (env->enabled)
		go_direct(p, from, rtt, env, out);
}

int um_punch_input(struct um_punch *p, const uint8_t *data, size_t len, const struct um_addr *from, bool via_relay,
		   const struct um_punch_env *env, struct um_punch_output *out)
{
	struct um_path_header h;
	struct um_path_msg m;

	um_punch_output_reset(out);
	int r = um_path_header_decode(&h, data, len);
	if (r == -UM_EVERSION)
		p->version_refused++;
	if (r)
		return r;
	if (!p->n_keys)
		return -UM_ESTATE;
	struct um_punch_key *key = key_for(p, h.receiver_index);
	if (!key) {
		p->unknown_index++;
		return -UM_ENOTFOUND;
	}
	/* A cheap look first (a replay costs no AEAD); the window moves only
	 * after the tag verified, so a forged counter cannot advance it. */
	if (um_replay_check(&key->window, h.counter)) {
		p->replays++;
		return -UM_EREPLAY;
	}
	r = um_path_open(&m, data, len, key->recv);
	if (r == -UM_EBADMSG)
		p->bad_mac++;
	if (r)
		return r;
	if (um_replay_update(&key->window, m.counter)) {
		p->replays++;
		return -UM_EREPLAY;
	}
	switch (m.type) {
	case UM_MSG_PATH_CANDIDATES:
		on_candidates(p, &m, env, out);
		break;
	case UM_MSG_PATH_PROBE:
		on_probe(p, &m, from, via_relay, env, out);
		break;
	case UM_MSG_PATH_PROBE_REPLY:
		on_reply(p, &m, from, via_relay, env, out);
		break;
	default:
		break;
	}
	return 0;
}

int um_punch_ping(struct um_punch *p, const struct um_punch_env *env, uint64_t *sequence, struct um_punch_output *out)
{
	int r;

	um_punch_output_reset(out);
	if (!p->n_keys)
		return -UM_ESTATE;
	p->ping_sequence++;
	if (p->state == UM_PUNCH_DIRECT && !env->via_relay)
		r = send_probe(p, &p->direct, true, env, out);
	else if (env->via_relay)
		r = send_probe(p, NULL, true, env, out);
	else if (env->endpoint.family)
		r = send_probe(p, &env->endpoint, true, env, out);
	else
		r = -UM_ESTATE;
	if (r == 0)
		*sequence = p->ping_sequence;
	return r;
}
