/* SPDX-License-Identifier: MIT */
/* The transport policy (transport.h): the UDP-or-TLS race, probing UDP
 * while on TLS, and the hold that damps flapping. */
#include "relay/transport.h"

#include <string.h>

#include "util/clock.h"
#include "util/error.h"

#define NEVER UINT64_MAX

static uint64_t or_default(uint64_t value, uint64_t fallback)
{
	return value ? value : fallback;
}

int um_relay_transport_init(struct um_relay_transport *p, const struct um_relay_transport_config *config)
{
	if (!config || config->n_uplinks > UM_RELAY_TRANSPORT_MAX_UPLINKS)
		return -UM_EINVAL;
	memset(p, 0, sizeof(*p));
	p->config = *config;
	struct um_relay_transport_config *c = &p->config;
	c->first_retry_ns = or_default(c->first_retry_ns, UM_NSEC_PER_SEC);
	c->min_wait_ns = or_default(c->min_wait_ns, 500 * UM_NSEC_PER_MSEC);
	c->silent_wait_ns = or_default(c->silent_wait_ns, 250 * UM_NSEC_PER_MSEC);
	if (c->silent_wait_ns < 2 * c->rtt_hint_ns)
		c->silent_wait_ns = 2 * c->rtt_hint_ns;
	c->rtt_factor = c->rtt_factor ? c->rtt_factor : 3;
	c->rtt_unknown_ns = or_default(c->rtt_unknown_ns, 100 * UM_NSEC_PER_MSEC);
	c->probe_min_ns = or_default(c->probe_min_ns, UM_NSEC_PER_SEC);
	c->probe_max_ns = or_default(c->probe_max_ns, 4 * UM_NSEC_PER_SEC);
	if (c->probe_max_ns < c->probe_min_ns)
		c->probe_max_ns = c->probe_min_ns;
	c->hold_base_ns = or_default(c->hold_base_ns, 2 * UM_NSEC_PER_SEC);
	c->hold_max_ns = or_default(c->hold_max_ns, 30 * UM_NSEC_PER_SEC);
	c->flap_window_ns = or_default(c->flap_window_ns, 10 * UM_NSEC_PER_SEC);
	c->close_after_ns = or_default(c->close_after_ns, 30 * UM_NSEC_PER_SEC);
	p->mode = UM_RELAY_TRANSPORT_RACING;
	p->udp_uplink = p->stream_uplink = -1;
	p->fallback_due_ns = p->silent_due_ns = p->probe_due_ns = p->hold_due_ns = p->close_due_ns = NEVER;
	return 0;
}

/* ---- helpers ---- */

static void push(struct um_relay_transport *p, enum um_relay_transport_decision decision, unsigned uplink)
{
	if (p->queue_count == UM_RELAY_TRANSPORT_MAX_DECISIONS) {
		p->stats.decisions_dropped++;
		return;
	}
	unsigned at = (p->queue_head + p->queue_count++) % UM_RELAY_TRANSPORT_MAX_DECISIONS;
	p->queue[at] = (struct um_relay_transport_output){.decision = decision, .uplink = uplink};
}

static bool pop(struct um_relay_transport *p, struct um_relay_transport_output *out)
{
	if (!p->queue_count)
		return false;
	*out = p->queue[p->queue_head];
	p->queue_head = (p->queue_head + 1) % UM_RELAY_TRANSPORT_MAX_DECISIONS;
	p->queue_count--;
	return true;
}

static bool has_kind(const struct um_relay_transport *p, bool stream)
{
	for (unsigned i = 0; i < p->config.n_uplinks; i++)
		if (p->config.stream[i] == stream)
			return true;
	return false;
}

static bool udp_slot_valid(const struct um_relay_transport *p, unsigned slot)
{
	return slot == UM_RELAY_TRANSPORT_DIRECT || (slot < p->config.n_uplinks && !p->config.stream[slot]);
}

/* The UDP slot to carry traffic: the relay with the lowest RTT (a relay
 * before the direct paths, which are per peer: the path engine's business),
 * or -1 when nothing answers. */
static int best_udp(const struct um_relay_transport *p)
{
	int best = -1;

	for (unsigned i = 0; i < p->config.n_uplinks; i++) {
		if (!p->udp_alive[i])
			continue;
		if (best < 0 || p->udp_rtt_ns[i] < p->udp_rtt_ns[best])
			best = (int)i;
	}
	if (best < 0 && p->udp_alive[UM_RELAY_TRANSPORT_DIRECT])
		best = UM_RELAY_TRANSPORT_DIRECT;
	return best;
}

static int first_stream_up(const struct um_relay_transport *p)
{
	for (unsigned i = 0; i < p->config.n_uplinks; i++)
		if (p->stream_up[i])
			return (int)i;
	return -1;
}

static void arm_probes(struct um_relay_transport *p, uint64_t now)
{
	if (p->probe_due_ns != NEVER)
		return;
	p->probe_interval_ns = p->config.probe_min_ns;
	p->probe_due_ns = now + p->probe_interval_ns;
}

static void open_stream(struct um_relay_transport *p, uint64_t now)
{
	if (p->stream_requested || !has_kind(p, true))
		return;
	p->stream_requested = true;
	p->stream_warm = false; /* registered over from now on */
	p->stats.streams_opened++;
	push(p, UM_RELAY_TRANSPORT_OPEN_STREAM, 0);
	arm_probes(p, now);
}

/* How long UDP must have answered without a break before traffic moves
 * back, after `flaps` recent flaps. */
static uint64_t hold_for(const struct um_relay_transport *p)
{
	if (!p->flaps)
		return 0;
	uint64_t hold = p->config.hold_base_ns;
	for (unsigned i = 1; i < p->flaps && hold < p->config.hold_max_ns; i++)
		hold *= 2;
	return hold < p->config.hold_max_ns ? hold : p->config.hold_max_ns;
}

static void move_to_udp(struct um_relay_transport *p, uint64_t now)
{
	int best = best_udp(p);

	if (best < 0)
		return;
	p->mode = UM_RELAY_TRANSPORT_ON_UDP;
	p->udp_uplink = best;
	p->stream_uplink = -1;
	p->to_udp_ns = now;
	p->fallback_due_ns = p->probe_due_ns = p->hold_due_ns = NEVER;
	p->close_due_ns = p->stream_requested ? now + p->config.close_after_ns : NEVER;
	if (p->close_due_ns < now) /* close_after = UINT64_MAX wrapped: never */
		p->close_due_ns = NEVER;
	p->stats.to_udp++;
	push(p, UM_RELAY_TRANSPORT_USE_UDP, (unsigned)best);
	if (p->stream_warm) { /* nothing registered over it: it goes now */
		p->stream_warm = false;
		push(p, UM_RELAY_TRANSPORT_CLOSE_STREAM, 0);
	}
}

/* Nothing on UDP answers any more: traffic to a stream that is up, else
 * wait for one (opened now) while UDP is probed. */
static void fall_back(struct um_relay_transport *p, uint64_t now)
{
	if (p->mode == UM_RELAY_TRANSPORT_ON_UDP && p->to_udp_ns) {
		/* UDP that held for the whole window clears the count. */
		if (now - p->to_udp_ns < p->config.flap_window_ns) {
			p->flaps++;
			p->stats.flaps++;
		} else {
			p->flaps = 0;
		}
	}
	p->udp_uplink = -1;
	p->close_due_ns = NEVER;
	int stream = first_stream_up(p);
	if (stream >= 0) {
		p->mode = UM_RELAY_TRANSPORT_ON_STREAM;
		p->stream_uplink = stream;
		p->stats.to_stream++;
		push(p, UM_RELAY_TRANSPORT_USE_STREAM, (unsigned)stream);
	} else {
		p->mode = UM_RELAY_TRANSPORT_RACING;
		p->stream_uplink = -1;
		open_stream(p, now);
	}
	arm_probes(p, now);
}

/* ---- inputs ---- */

uint64_t um_relay_transport_fallback_wait(const struct um_relay_transport *p)
{
	const struct um_relay_transport_config *c = &p->config;
	uint64_t rtt = p->srtt_ns ? p->srtt_ns : c->rtt_hint_ns ? c->rtt_hint_ns : c->rtt_unknown_ns;
	uint64_t wait = c->first_retry_ns + c->rtt_factor * rtt;

	return wait > c->min_wait_ns ? wait : c->min_wait_ns;
}

void um_relay_transport_start(struct um_relay_transport *p, uint64_t now)
{
	p->started = true;
	p->race_start_ns = now;
	if (!has_kind(p, true) || p->mode != UM_RELAY_TRANSPORT_RACING)
		return;
	/* Every uplink wss://: nothing to race. */
	p->fallback_due_ns = has_kind(p, false) ? now + um_relay_transport_fallback_wait(p) : now;
	if (has_kind(p, false) && now + p->config.silent_wait_ns < p->fallback_due_ns)
		p->silent_due_ns = now + p->config.silent_wait_ns;
	if (has_kind(p, false) && p->config.warm_stream) {
		p->stream_warm = true;
		p->stats.streams_warmed++;
		push(p, UM_RELAY_TRANSPORT_WARM_STREAM, 0);
	}
}

void um_relay_transport_udp_heard(struct um_relay_transport *p)
{
	p->udp_heard = true;
	p->silent_due_ns = NEVER;
}

int um_relay_transport_udp_answered(struct um_relay_transport *p, unsigned slot, uint64_t rtt_ns, uint64_t now)
{
	if (!udp_slot_valid(p, slot))
		return -UM_EINVAL;
	if (rtt_ns) {
		p->udp_rtt_ns[slot] = rtt_ns;
		/* RFC 6298's 1/8 gain: one slow answer does not double the wait. */
		p->srtt_ns = p->srtt_ns ? p->srtt_ns - p->srtt_ns / 8 + rtt_ns / 8 : rtt_ns;
	}
	p->udp_alive[slot] = true;
	if (!p->udp_since_ns)
		p->udp_since_ns = now;
	switch (p->mode) {
	case UM_RELAY_TRANSPORT_RACING:
		/* Nothing carries traffic: anything beats waiting. */
		move_to_udp(p, now);
		break;
	case UM_RELAY_TRANSPORT_ON_STREAM: {
		uint64_t hold = hold_for(p);
		if (!hold) {
			move_to_udp(p, now);
		} else if (p->hold_due_ns == NEVER) {
			p->hold_due_ns = p->udp_since_ns + hold;
			p->stats.held++;
		}
		break;
	}
	case UM_RELAY_TRANSPORT_ON_UDP:
		/* Only direct paths answered so far: peers without one need a
		 * UDP relay, and now there is one. */
		if (p->udp_uplink == UM_RELAY_TRANSPORT_DIRECT && slot != UM_RELAY_TRANSPORT_DIRECT) {
			p->udp_uplink = (int)slot;
			push(p, UM_RELAY_TRANSPORT_USE_UDP, slot);
		}
		break;
	}
	return 0;
}

int um_relay_transport_udp_silent(struct um_relay_transport *p, unsigned slot, uint64_t now)
{
	if (!udp_slot_valid(p, slot))
		return -UM_EINVAL;
	p->udp_alive[slot] = false;
	int best = best_udp(p);
	if (best >= 0) {
		/* Another UDP relay still answers: traffic moves there. */
		if (p->mode == UM_RELAY_TRANSPORT_ON_UDP && p->udp_uplink == (int)slot) {
			p->udp_uplink = best;
			push(p, UM_RELAY_TRANSPORT_USE_UDP, (unsigned)best);
		}
		return 0;
	}
	p->udp_since_ns = 0;
	p->hold_due_ns = NEVER;
	if (p->mode == UM_RELAY_TRANSPORT_ON_UDP)
		fall_back(p, now);
	return 0;
}

int um_relay_transport_stream_up(struct um_relay_transport *p, unsigned uplink, uint64_t now)
{
	if (uplink >= p->config.n_uplinks || !p->config.stream[uplink])
		return -UM_EINVAL;
	p->stream_up[uplink] = true;
	if (p->mode != UM_RELAY_TRANSPORT_RACING)
		return 0;
	/* It won the race: traffic on it, UDP probed until it answers. */
	p->mode = UM_RELAY_TRANSPORT_ON_STREAM;
	p->stream_uplink = (int)uplink;
	p->fallback_due_ns = NEVER;
	p->stats.to_stream++;
	push(p, UM_RELAY_TRANSPORT_USE_STREAM, uplink);
	arm_probes(p, now);
	return 0;
}

int um_relay_transport_stream_down(struct um_relay_transport *p, unsigned uplink, uint64_t now)
{
	(void)now;
	if (uplink >= p->config.n_uplinks || !p->config.stream[uplink])
		return -UM_EINVAL;
	p->stream_up[uplink] = false;
	if (p->mode != UM_RELAY_TRANSPORT_ON_STREAM || p->stream_uplink != (int)uplink)
		return 0;
	int other = first_stream_up(p);
	if (other >= 0) {
		p->stream_uplink = other;
		push(p, UM_RELAY_TRANSPORT_USE_STREAM, (unsigned)other);
		return 0;
	}
	/* Nothing carries traffic until the stream is back (the caller
	 * reconnects it) or UDP answers a probe. */
	p->mode = UM_RELAY_TRANSPORT_RACING;
	p->stream_uplink = -1;
	return 0;
}

int um_relay_transport_stream_connected(struct um_relay_transport *p, unsigned uplink, uint64_t now)
{
	if (uplink >= p->config.n_uplinks || !p->config.stream[uplink])
		return -UM_EINVAL;
	/* silent_due is NEVER once anything came from UDP (udp_heard). */
	if (p->stream_warm && p->silent_due_ns != NEVER && p->mode == UM_RELAY_TRANSPORT_RACING) {
		uint64_t floor = p->race_start_ns + p->config.silent_wait_ns / 2;
		uint64_t due = now > floor ? now : floor;
		if (due < p->silent_due_ns)
			p->silent_due_ns = due;
	}
	return 0;
}

/* ---- timed work ---- */

int um_relay_transport_tick(struct um_relay_transport *p, uint64_t now, struct um_relay_transport_output *out)
{
	out->decision = UM_RELAY_TRANSPORT_NONE;
	out->uplink = 0;
	if (pop(p, out))
		return 1;
	if (p->silent_due_ns <= now) {
		p->silent_due_ns = NEVER;
		if (p->mode == UM_RELAY_TRANSPORT_RACING && !p->stream_requested && !p->udp_heard) {
			p->stats.last_fallback_ns = now - p->race_start_ns;
			open_stream(p, now);
		}
	}
	if (p->fallback_due_ns <= now) {
		p->fallback_due_ns = NEVER;
		if (p->mode == UM_RELAY_TRANSPORT_RACING && !p->stream_requested) {
			p->stats.last_fallback_ns = now - p->race_start_ns;
			open_stream(p, now);
		}
	}
	if (p->hold_due_ns <= now) {
		p->hold_due_ns = NEVER;
		if (p->mode == UM_RELAY_TRANSPORT_ON_STREAM)
			move_to_udp(p, now);
	}
	if (p->probe_due_ns <= now) {
		if (p->mode == UM_RELAY_TRANSPORT_ON_UDP) {
			p->probe_due_ns = NEVER;
		} else {
			p->stats.probes++;
			push(p, UM_RELAY_TRANSPORT_PROBE_UDP, 0);
			p->probe_interval_ns *= 2;
			if (p->probe_interval_ns > p->config.probe_max_ns)
				p->probe_interval_ns = p->config.probe_max_ns;
			p->probe_due_ns = now + p->probe_interval_ns;
		}
	}
	if (p->close_due_ns <= now) {
		p->close_due_ns = NEVER;
		if (p->mode == UM_RELAY_TRANSPORT_ON_UDP && p->stream_requested) {
			p->stream_requested = false;
			memset(p->stream_up, 0, sizeof(p->stream_up)); /* the caller closes them */
			push(p, UM_RELAY_TRANSPORT_CLOSE_STREAM, 0);
		}
	}
	return pop(p, out) ? 1 : 0;
}

uint64_t um_relay_transport_next_deadline(const struct um_relay_transport *p)
{
	uint64_t next = p->fallback_due_ns;

	if (p->queue_count)
		return 0;
	if (p->silent_due_ns < next)
		next = p->silent_due_ns;
	if (p->hold_due_ns < next)
		next = p->hold_due_ns;
	if (p->probe_due_ns < next)
		next = p->probe_due_ns;
	if (p->close_due_ns < next)
		next = p->close_due_ns;
	return next;
}

const char *um_relay_transport_decision_name(enum um_relay_transport_decision decision)
{
	switch (decision) {
	case UM_RELAY_TRANSPORT_NONE:
		return "none";
	case UM_RELAY_TRANSPORT_OPEN_STREAM:
		return "open-stream";
	case UM_RELAY_TRANSPORT_PROBE_UDP:
		return "probe-udp";
	case UM_RELAY_TRANSPORT_USE_UDP:
		return "use-udp";
	case UM_RELAY_TRANSPORT_USE_STREAM:
		return "use-stream";
	case UM_RELAY_TRANSPORT_CLOSE_STREAM:
		return "close-stream";
	case UM_RELAY_TRANSPORT_WARM_STREAM:
		return "warm-stream";
	}
	return "?";
}

const char *um_relay_transport_mode_name(enum um_relay_transport_mode mode)
{
	switch (mode) {
	case UM_RELAY_TRANSPORT_RACING:
		return "racing";
	case UM_RELAY_TRANSPORT_ON_UDP:
		return "udp";
	case UM_RELAY_TRANSPORT_ON_STREAM:
		return "stream";
	}
	return "?";
}
