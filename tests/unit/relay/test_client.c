/* SPDX-License-Identifier: MIT */
/* The relay client engine on a fake clock, against real relay cores
 * (relay/relay.c) in memory as the far end: registration, keepalive RTT,
 * home and backup by RTT, standby, relay lost, "not registered" (rate
 * limited), retry backoff, the wss:// fallback (and leaving it to a
 * transport policy: probes), the state setter, and
 * replies that do not match what was sent. Each case builds its own world. */
#include "client_world.h"

/* ---- case set-ups (what most cases share) ---- */

/* One pinned relay, registered: the opening of most cases. */
static void world_registered(void)
{
	world_new(1, NULL, 1 * SEC);
	start();
	run_until(T0 + 100 * MS);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
}

/* n pinned relays at these one-way delays (delay[i] for relay i),
 * keepalives every second, started. */
static void world_started(unsigned n, const uint64_t *delay)
{
	world_new(n, NULL, 1 * SEC);
	for (unsigned i = 0; i < n; i++)
		w->delay[i] = delay[i];
	start();
}

/* Relay 0 on two lines: uplink 0 UDP, uplink 1 wss:// (the README's
 * example), with their one-way delays. */
static void world_same_relay(uint64_t udp_delay, uint64_t wss_delay)
{
	struct um_relay_client_config cc = {.identity = &identity,
					    .keepalive_max_ns = SEC,
					    .n_uplinks = 2,
					    .stream = {false, true},
					    .has_relay_id = {true, true}};
	cc.relay_id[0] = cc.relay_id[1] = relay_identity[0].id;
	w = calloc(1, sizeof(*w));
	w->n = 2;
	w->now = T0;
	relay_init(0, &relay_identity[0]);
	w->relay_up[0] = true;
	w->target[0] = w->target[1] = 0;
	w->delay[0] = udp_delay;
	w->delay[1] = wss_delay;
	CHECK_EQ(um_relay_client_init(&w->client, &cc), 0);
}

/* One relay, 20 ms away, keepalives every 25 s: started and run until the
 * REGISTER has gone out (the relay answers at once: its ACK is queued). */
static void world_register_sent(void)
{
	world_new(1, NULL, 25 * SEC);
	w->delay[0] = 20 * MS;
	start();
	while (!w->client.uplinks[0].register_sends && w->now < T0 + 5 * SEC)
		run_until(w->now + 1 * MS);
}

/* Relay i is down (until relay_restart, with relay_up set again). */
static void relay_down(unsigned i)
{
	w->relay_up[i] = false;
	um_relay_destroy(&w->relays[i]);
}

/* The glue connects (up) or loses (!up) uplink i's stream; what the client
 * sends in answer is delivered. */
static void transport(unsigned i, bool up)
{
	if (up)
		CHECK_EQ(um_relay_client_transport_up(&w->client, i, w->now), 0);
	else
		CHECK_EQ(um_relay_client_transport_down(&w->client, i, w->now), 0);
	drain();
}

/* An unsealed NOT_REGISTERED with ref, into uplink 0; want: the input's
 * return. */
static void not_registered_input(const uint8_t ref[UM_RELAY_HASH_BYTES], int want)
{
	struct um_relay_error e = {.code = UM_RELAY_ERR_NOT_REGISTERED};
	uint8_t buf[UM_RELAY_ERROR_BYTES];

	if (ref)
		memcpy(e.ref, ref, sizeof(e.ref));
	CHECK_EQ(um_relay_error_encode(buf, sizeof(buf), &e), UM_RELAY_ERROR_BYTES);
	CHECK_EQ(um_relay_client_input(&w->client, 0, buf, sizeof(buf), w->now, WALL), want);
	drain();
}

/* ---- cases ---- */

static void test_register_and_keepalive(void)
{
	world_new(1, NULL, 2 * SEC);
	w->delay[0] = 10 * MS;
	start();
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERING);
	CHECK_EQ(w->n_registers[0], 1);
	run_until(T0 + 100 * MS);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->client.home, 0);
	CHECK_EQ(w->client.backup, -1);
	CHECK_EQ(w->relays[0].stats.registered, 1);
	CHECK_EQ(w->client.uplinks[0].registrations, 1);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_REGISTERED, 0), 1);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_HOME, -1), 1);
	/* idle -> registering -> registered, reported in that order. */
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_STATE, 0), 2);
	CHECK_EQ(w->events[0].type, UM_RELAY_CLIENT_EVENT_STATE);
	CHECK_EQ(w->events[0].old_state, UM_RELAY_CLIENT_IDLE);
	CHECK_EQ(w->events[0].new_state, UM_RELAY_CLIENT_REGISTERING);
	struct um_addr me = node_addr();
	CHECK(um_addr_equal(&w->client.uplinks[0].observed, &me));
	/* Keepalive capped by config (the relay advertises 25 s). */
	CHECK_EQ(w->client.uplinks[0].keepalive_ns, 2 * SEC);
	/* One keepalive right after the ACK, answered: RTT 20 ms (slack 2 ms). */
	CHECK_EQ(w->keepalives_sent[0], 1);
	uint64_t rtt = w->client.uplinks[0].rtt_ns;
	CHECK(rtt >= 18 * MS && rtt <= 22 * MS);
	/* Then one per period, each answered. */
	run_until(T0 + 100 * MS + 10 * SEC);
	CHECK(w->keepalives_sent[0] >= 5 && w->keepalives_sent[0] <= 6);
	CHECK_EQ(w->client.uplinks[0].ka_missed, 0);
	CHECK_EQ(w->relays[0].stats.keepalives, w->keepalives_sent[0]);
	CHECK_EQ(w->n_registers[0], 1);
	CHECK_EQ(w->client.stats.illegal_transitions, 0);
	world_free();
}

static void test_home_by_rtt(void)
{
	world_started(2, (const uint64_t[]){5 * MS, 15 * MS});
	run_until(T0 + 200 * MS);
	CHECK_EQ(w->client.home, 0);
	CHECK_EQ(w->client.backup, 1);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_REGISTERED); /* the backup keeps its keepalives */
	/* Close RTTs (within 20%) do not move home. */
	w->delay[0] = 16 * MS;
	run_until(T0 + 30 * SEC);
	CHECK_EQ(w->client.home, 0);
	/* Relay 0 becomes much slower: home moves to relay 1, 0 is backup. */
	w->delay[0] = 60 * MS;
	run_until(T0 + 60 * SEC);
	CHECK_EQ(w->client.home, 1);
	CHECK_EQ(w->client.backup, 0);
	bool moved = false;
	for (unsigned k = 0; k < w->n_events; k++)
		if (w->events[k].type == UM_RELAY_CLIENT_EVENT_HOME && w->events[k].home == 1 &&
		    w->events[k].old_home == 0)
			moved = true;
	CHECK(moved);
	CHECK(w->client.uplinks[0].rtt_ns > w->client.uplinks[1].rtt_ns * 5 / 4);
	world_free();
}

static void test_standby_and_relay_lost(void)
{
	world_started(3, (const uint64_t[]){5 * MS, 10 * MS, 20 * MS});
	run_until(T0 + 500 * MS);
	CHECK_EQ(w->client.home, 0);
	CHECK_EQ(w->client.backup, 1);
	CHECK_EQ(state(2), UM_RELAY_CLIENT_STANDBY);
	unsigned parked = w->keepalives_sent[2];
	run_until(T0 + 10 * SEC);
	CHECK_EQ(w->keepalives_sent[2], parked); /* parked: no keepalives */

	/* Home goes silent: three unanswered keepalives, then it registers
	 * again; the backup becomes home and the parked one wakes as backup. */
	w->relay_silent[0] = true;
	uint64_t silent_at = w->now;
	unsigned answered = w->keepalives_sent[0];
	run_until(silent_at + 5 * SEC);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_RELAY_LOST, 0), 1);
	CHECK_EQ(w->keepalives_at_lost[0] - answered, 3);
	for (unsigned k = 0; k < w->n_events; k++)
		if (w->events[k].type == UM_RELAY_CLIENT_EVENT_RELAY_LOST)
			CHECK_EQ(w->events[k].missed, 3);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERING);
	CHECK_EQ(w->client.home, 1);
	CHECK_EQ(w->client.backup, 2);
	CHECK_EQ(state(2), UM_RELAY_CLIENT_REGISTERED);
	CHECK(w->n_registers[0] >= 2);
	CHECK_EQ(w->client.uplinks[2].registrations, 2);
	/* Relay 0 answers again: registered, faster, but home stays put unless
	 * 20% faster; either way all three are used as home/backup/standby. */
	w->relay_silent[0] = false;
	run_until(w->now + 20 * SEC);
	CHECK_EQ(state(0) == UM_RELAY_CLIENT_REGISTERED || state(0) == UM_RELAY_CLIENT_STANDBY, 1);
	unsigned registered = 0, standby = 0;
	for (unsigned i = 0; i < 3; i++) {
		registered += state(i) == UM_RELAY_CLIENT_REGISTERED;
		standby += state(i) == UM_RELAY_CLIENT_STANDBY;
	}
	CHECK_EQ(registered, 2);
	CHECK_EQ(standby, 1);
	CHECK_EQ(w->client.stats.illegal_transitions, 0);
	world_free();
}

/* The relay restarts (same identity): the next keepalive gets an
 * unsealed NOT_REGISTERED whose ref is that keepalive's hash. A hint only:
 * the registration stays up while a new handshake runs beside it, then
 * the new session replaces the old one. */
static void test_not_registered(void)
{
	world_registered();
	relay_restart(0);
	uint64_t restart = w->now;
	run_until(restart + 1100 * MS);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_REFRESH, 0), 1);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_NOT_REGISTERED, 0), 0);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_RELAY_LOST, 0), 0);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->client.uplinks[0].registrations, 2);
	CHECK_EQ(w->relays[0].stats.registered, 1);
	/* Never left REGISTERED: idle -> registering -> registered only. */
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_STATE, 0), 2);
	struct um_relay_node_info info;
	CHECK_EQ(um_relay_lookup(&w->relays[0], &identity.id, &info), 0);
	CHECK(info.registered);
	struct um_addr me = node_addr();
	CHECK(um_addr_equal(&info.endpoint, &me));
	world_free();
}

/* A refresh whose RESPONSE loses a piece: the relay has the new session
 * only once the piece is repaired, so the REGISTER goes at ESTABLISHED
 * (a first registration's early REGISTER is resent after ESTABLISHED;
 * nothing would resend a refresh's: it stayed unregistered). */
static void test_refresh_response_piece_lost(void)
{
	world_registered();
	w->drop_response_pieces = 1;
	relay_restart(0);
	uint64_t restart = w->now;
	run_until(restart + 3 * SEC);
	CHECK_EQ(w->drop_response_pieces, 0u);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_REFRESH, 0), 1);
	CHECK_EQ(w->client.uplinks[0].registrations, 2);
	CHECK(!w->client.uplinks[0].refreshing);
	CHECK_EQ(w->relays[0].stats.registered, 1);
	world_free();
}

/* review #8: an unsealed NOT_REGISTERED that does not carry the hash of
 * our last sealed datagram (anyone can send one from the relay's address)
 * is ignored: no new handshake. */
static void test_spoofed_not_registered(void)
{
	world_registered();
	/* A keepalive in flight (the relay keeps quiet), over a second after
	 * the REGISTER: a NOT_REGISTERED taken now would register at once. */
	w->relay_silent[0] = true;
	unsigned keepalives = w->keepalives_sent[0];
	while (w->keepalives_sent[0] == keepalives)
		run_until(w->now + 1 * MS);
	CHECK(w->client.uplinks[0].ka_outstanding);
	unsigned registers = w->n_registers[0];
	/* No ref (as answers to FORWARDs carry), our peer ID, a wrong hash. */
	not_registered_input(NULL, -UM_EBADMSG);
	not_registered_input(identity.id.bytes, -UM_EBADMSG);
	uint8_t wrong_hash[UM_RELAY_HASH_BYTES];
	memcpy(wrong_hash, w->client.uplinks[0].last_hash, sizeof(wrong_hash));
	wrong_hash[31] ^= 1;
	not_registered_input(wrong_hash, -UM_EBADMSG);
	run_until(w->now + 10 * MS);
	CHECK_EQ(w->n_registers[0], registers);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK(!w->client.uplinks[0].refreshing);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_NOT_REGISTERED, 0), 0);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_REFRESH, 0), 0);
	CHECK_EQ(w->client.uplinks[0].registrations, 1);
	world_free();
}

/* review #8: handshakes are limited by time in every state. Right after a
 * refresh, an on-path forger (who saw our last sealed datagram) sends a
 * matching hint: the next handshake still waits a full second after the
 * previous one. */
static void test_reregister_rate(void)
{
	world_registered();
	relay_restart(0);
	unsigned first = w->n_registers[0];
	while (w->n_registers[0] == first && w->now < T0 + 3 * SEC)
		run_until(w->now + 1 * MS);
	CHECK_EQ(w->n_registers[0], first + 1);
	uint64_t sent = w->register_times[0][first];
	run_until(sent + 100 * MS); /* the refresh completes */
	CHECK_EQ(w->client.uplinks[0].registrations, 2);
	CHECK(!w->client.uplinks[0].refreshing);
	not_registered_input(w->client.uplinks[0].last_hash, 0);
	run_until(sent + 900 * MS);
	CHECK_EQ(w->n_registers[0], first + 1); /* held back */
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	run_until(sent + 1100 * MS);
	CHECK_EQ(w->n_registers[0], first + 2);
	CHECK(w->register_times[0][first + 1] - sent >= 1 * SEC);
	run_until(sent + 1300 * MS);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->client.uplinks[0].registrations, 3);
	world_free();
}

/* A real NAT rebinding still moves the registration: the relay challenges
 * the new endpoint, the client echoes at once, and only then traffic for
 * the node goes there. */
static void test_nat_rebinding(void)
{
	struct um_relay_node_info info;
	world_registered();
	CHECK_EQ(um_relay_lookup(&w->relays[0], &identity.id, &info), 0);
	struct um_addr first = node_addr();
	CHECK(um_addr_equal(&info.endpoint, &first));
	w->node = harness_endpoint(2, 50123);
	unsigned keepalives = w->keepalives_sent[0];
	run_until(w->now + 1100 * MS);
	/* The keepalive from the new port drew a challenge; its echo moved us. */
	CHECK_EQ(w->keepalives_sent[0], keepalives + 2);
	CHECK_EQ(w->relays[0].stats.challenges_sent, 1);
	CHECK_EQ(w->relays[0].stats.rebinds, 1);
	CHECK_EQ(um_relay_lookup(&w->relays[0], &identity.id, &info), 0);
	CHECK(um_addr_equal(&info.endpoint, &w->node));
	CHECK_EQ(info.pending.family, 0);
	CHECK(um_addr_equal(&w->client.uplinks[0].observed, &w->node));
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_OBSERVED, 0), 1);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->client.uplinks[0].registrations, 1);
	world_free();
}

static void test_retry_backoff(void)
{
	/* A pinned relay that is down: a handshake retransmits its HELLO by
	 * itself (RTT-adaptive, doubling) and gives up after 10 s; then the
	 * next attempt. */
	world_new(1, NULL, 0);
	relay_down(0);
	start();
	run_until(T0 + 40 * SEC);
	CHECK(w->n_registers[0] >= 4 && w->n_registers[0] <= 5);
	CHECK_EQ(w->register_times[0][0], T0);
	for (unsigned k = 0; k + 1 < w->n_registers[0] && k < 4; k++) {
		uint64_t gap = w->register_times[0][k + 1] - w->register_times[0][k];
		CHECK(gap >= 10 * SEC && gap <= 12 * SEC);
	}
	/* The first HELLO of each goes twice (repeat_single), then 2-4 resends. */
	CHECK(w->hellos[0] >= 4 * w->n_registers[0] && w->hellos[0] <= 6 * w->n_registers[0]);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_NO_ANSWER, 0), 1);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERING);
	CHECK_EQ(w->client.home, -1);
	w->relay_up[0] = true; /* the relay comes (back) up */
	relay_restart(0);
	run_until(w->now + 15 * SEC);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	world_free();

	/* Its ID unknown and the relay down: ID requests at 0, then after 1,
	 * 2, 4, 8, 8 ... s, each with up to 1/8 jitter. */
	world_new_ids(1, NULL, 0, false);
	relay_down(0);
	start();
	run_until(T0 + 40 * SEC);
	static const uint64_t gaps[] = {1, 2, 4, 8, 8};
	CHECK(w->n_registers[0] >= 6);
	for (unsigned k = 0; k < 5 && k + 1 < w->n_registers[0]; k++) {
		uint64_t gap = w->register_times[0][k + 1] - w->register_times[0][k];
		CHECK(gap >= gaps[k] * SEC && gap <= gaps[k] * SEC + gaps[k] * SEC / 8);
	}
	CHECK_EQ(w->hellos[0], 0);
	world_free();
}

static void test_wss_fallback(void)
{
	const bool stream[2] = {false, true};

	/* UDP gets no answer: the wss:// uplink waits, idle, until the glue
	 * (its transport policy, relay/transport.h) connects it. */
	world_new(2, stream, 1 * SEC);
	w->relay_silent[0] = true;
	start();
	CHECK_EQ(state(1), UM_RELAY_CLIENT_IDLE);
	run_until(T0 + 5 * SEC);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_IDLE);
	CHECK_EQ(w->n_registers[1], 0); /* nothing over a connection that is not there */
	/* The glue connects; the stream uplink registers and becomes home. */
	transport(1, true);
	run_until(w->now + 200 * MS);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->client.home, 1);
	CHECK_EQ(w->client.uplinks[1].observed.family, 0); /* no reflexive candidate over TLS */
	/* UDP answers after all: a UDP uplink ranks first, whatever the RTT. */
	w->relay_silent[0] = false;
	w->delay[0] = 50 * MS;
	run_until(w->now + 10 * SEC);
	CHECK_EQ(w->client.home, 0);
	CHECK_EQ(w->client.backup, 1);
	/* The connection drops: not usable until it is back. */
	transport(1, false);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_IDLE);
	CHECK_EQ(w->client.backup, -1);
	world_free();

	/* Only wss:// relays: at once. A relay that never answers over the
	 * connection: two handshakes (10 s each), then a new connection. */
	const bool only[1] = {true};
	world_new(1, only, 1 * SEC);
	w->relay_silent[0] = true;
	start();
	CHECK_EQ(state(0), UM_RELAY_CLIENT_IDLE);
	transport(0, true);
	run_until(w->now + 30 * SEC);
	CHECK_EQ(w->n_registers[0], 2);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_RECONNECT, 0), 1);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_IDLE);
	CHECK(!w->client.uplinks[0].transport_open);
	/* The caller drops the connection (transport_down: already idle). */
	CHECK_EQ(um_relay_client_transport_down(&w->client, 0, w->now), 0);
	CHECK_EQ(w->client.stats.illegal_transitions, 0);
	world_free();
}

static void test_illegal_transition(void)
{
	world_registered();
	uint64_t transitions = w->client.uplinks[0].transitions;
	unsigned events = w->n_events;
	/* A UDP uplink has no transport to lose or gain. */
	CHECK_EQ(um_relay_client_transport_down(&w->client, 0, w->now), -UM_EINVAL);
	CHECK_EQ(um_relay_client_transport_up(&w->client, 0, w->now), -UM_EINVAL);
	drain();
	CHECK_EQ(w->client.stats.illegal_transitions, 2);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->client.uplinks[0].transitions, transitions);
	CHECK_EQ(w->n_events, events);
	CHECK_EQ(um_relay_client_transport_down(&w->client, 5, w->now), -UM_EINVAL);
	world_free();
}

static void test_mismatched_replies(void)
{
	world_registered();
	uint64_t ignored = w->client.uplinks[0].ignored;
	/* The last thing the relay sent (a sealed keepalive reply), replayed:
	 * refused by the replay window. */
	struct pending last = w->last_in[0];
	CHECK_EQ(last.data[0], UM_MSG_RELAY_SEALED);
	CHECK_EQ(um_relay_client_input(&w->client, 0, last.data, last.len, w->now, WALL), -UM_EREPLAY);
	/* A bit flipped: refused by the AEAD; truncated: by its size. */
	last.data[40] ^= 1;
	last.data[8] ^= 0x40; /* a fresh counter, so the window does not decide */
	CHECK_EQ(um_relay_client_input(&w->client, 0, last.data, last.len, w->now, WALL), -UM_EBADMSG);
	CHECK_EQ(um_relay_client_input(&w->client, 0, last.data, 10, w->now, WALL), -UM_ETRUNC);
	/* Sealed under a key we do not share, or to an index we do not use. */
	struct um_relay_control m = {.kind = UM_RELAY_CTL_ERROR, .code = UM_RELAY_ERR_NOT_REGISTERED};
	uint8_t buf[UM_RELAY_SEALED_BYTES], wrong[32] = {1};
	const struct um_relay_client_session *cur = &w->client.uplinks[0].cur;
	CHECK_EQ(um_relay_sealed_encode(buf, sizeof(buf), cur->local_index, 1000, wrong, &m), UM_RELAY_SEALED_BYTES);
	CHECK_EQ(um_relay_client_input(&w->client, 0, buf, sizeof(buf), w->now, WALL), -UM_EBADMSG);
	CHECK_EQ(um_relay_sealed_encode(buf, sizeof(buf), cur->local_index + 1, 1000, cur->recv_key, &m),
		 UM_RELAY_SEALED_BYTES);
	CHECK_EQ(um_relay_client_input(&w->client, 0, buf, sizeof(buf), w->now, WALL), -UM_EBADMSG);
	/* An ID reply nobody asked for. */
	struct um_relay_id_msg id = {.reply = true, .id = other_identity.id};
	CHECK_EQ(um_relay_id_encode(buf, sizeof(buf), &id), UM_RELAY_ID_BYTES);
	CHECK_EQ(um_relay_client_input(&w->client, 0, buf, UM_RELAY_ID_BYTES, w->now, WALL), -UM_EBADMSG);
	/* A handshake message when none is running. */
	uint8_t hs[64] = {UM_MSG_RELAY_HANDSHAKE, UM_MSG_ESTABLISHED};
	CHECK_EQ(um_relay_client_input(&w->client, 0, hs, sizeof(hs), w->now, WALL), -UM_ESTATE);
	CHECK_EQ(w->client.uplinks[0].ignored - ignored, 6);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	/* Not a message for the client at all. */
	buf[0] = UM_MSG_RELAY_FORWARDED;
	CHECK_EQ(um_relay_client_input(&w->client, 0, buf, sizeof(buf), w->now, WALL), -UM_EINVAL);
	world_free();
}

static void test_unknown_peer(void)
{
	world_started(3, (const uint64_t[]){5 * MS, 10 * MS, 20 * MS});
	run_until(T0 + 300 * MS);
	CHECK_EQ(w->client.home, 0);
	/* Unsealed, it is not believed (it would name a peer in clear). */
	struct um_relay_error e = {.code = UM_RELAY_ERR_UNKNOWN_PEER};
	uint8_t buf[UM_RELAY_MAX_DATAGRAM];
	memset(e.ref, 0xab, sizeof(e.ref));
	um_relay_error_encode(buf, sizeof(buf), &e);
	CHECK_EQ(um_relay_client_input(&w->client, 0, buf, UM_RELAY_ERROR_BYTES, w->now, WALL), -UM_ESTATE);
	/* A LOOKUP of a peer the relay lacks: HANDLE "not found", sealed. */
	CHECK_EQ(um_relay_client_lookup(&w->client, 0, &other_identity.id), 0);
	drain();
	run_until(w->now + 50 * MS);
	bool answered = false;
	for (unsigned k = 0; k < w->n_events; k++)
		if (w->events[k].type == UM_RELAY_CLIENT_EVENT_HANDLE && w->events[k].uplink == 0) {
			answered = true;
			CHECK_EQ(w->events[k].handle, 0);
			CHECK_MEM(w->events[k].peer.bytes, other_identity.id.bytes, UM_PEER_ID_BYTES);
		}
	CHECK(answered);
	CHECK_EQ(w->client.uplinks[0].lookups, 1);
	/* A FORWARD with a handle we were never given: UNKNOWN_HANDLE, sealed. */
	uint8_t payload[8] = {1};
	struct um_relay_output o;
	struct um_addr from = node_addr();
	int n = harness_forward(buf, sizeof(buf), 0x1234, payload, sizeof(payload));
	CHECK_EQ(um_relay_input(&w->relays[0], &from, buf, (size_t)n, w->now, WALL, &o), 1);
	CHECK_EQ(um_relay_client_input(&w->client, 0, o.data, o.len, w->now, WALL), 0);
	drain();
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_UNKNOWN_HANDLE, 0), 1);
	CHECK_EQ(w->events[w->n_events - 1].handle, 0x1234);
	/* Not registered: no lookups. */
	CHECK_EQ(um_relay_client_lookup(&w->client, 2, &other_identity.id), -UM_ESTATE);
	/* Next registered after 0 skips the parked one (2 is standby). */
	CHECK_EQ(state(2), UM_RELAY_CLIENT_STANDBY);
	CHECK_EQ(um_relay_client_next_registered(&w->client, 0), 1);
	CHECK_EQ(um_relay_client_next_registered(&w->client, 1), 0);
	world_free();
}

/* The same relay on a UDP and a wss:// line (README's example): once UDP
 * registers, the wss:// uplink is parked, so the two do not replace each
 * other's registration at the relay over and over. */
static void test_same_relay_twice(void)
{
	world_same_relay(5 * MS, 5 * MS);
	w->relay_silent[0] = true; /* UDP gets no answer at first */
	start();
	run_until(T0 + 600 * MS);
	transport(1, true);
	run_until(w->now + 500 * MS);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_REGISTERED);
	w->relay_silent[0] = false; /* UDP works after all */
	run_until(w->now + 15 * SEC);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_STANDBY);
	CHECK_EQ(w->client.home, 0);
	unsigned handshakes[2] = {w->n_registers[0], w->n_registers[1]};
	run_until(w->now + 30 * SEC);
	CHECK_EQ(w->n_registers[0], handshakes[0]); /* stable: no ping-pong */
	CHECK_EQ(w->n_registers[1], handshakes[1]);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->relays[0].stats.registered, 1);
	world_free();
}

/* PROBE_UDP (um_relay_client_probe) moves the next UDP attempt up, within
 * the one-attempt-per-second rule, so UDP that comes back is used without
 * waiting for the backoff (8 s here). */
static void test_probe(void)
{
	const bool stream[2] = {false, true};

	world_new_ids(2, stream, SEC, false);
	w->relay_silent[0] = true;
	start();
	/* ID requests at 0, 1, 3, 7 s (+ up to 1/8 jitter each); the next one
	 * not before 15 s. */
	run_until(T0 + 8900 * MS);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_IDLE);
	CHECK_EQ(w->n_registers[0], 4);
	CHECK_EQ(um_relay_client_probe(&w->client, 1, w->now), -UM_EINVAL); /* wss:// */
	CHECK_EQ(um_relay_client_probe(&w->client, 2, w->now), -UM_EINVAL);
	CHECK_EQ(um_relay_client_probe(&w->client, 0, w->now), 0);
	drain();
	CHECK_EQ(w->n_registers[0], 5);
	CHECK_EQ(w->register_times[0][4], T0 + 8900 * MS);
	/* Again 100 ms later: not before a second has passed. */
	run_until(w->now + 100 * MS);
	CHECK_EQ(um_relay_client_probe(&w->client, 0, w->now), 0);
	drain();
	CHECK_EQ(w->n_registers[0], 5);
	run_until(T0 + 9899 * MS);
	CHECK_EQ(w->n_registers[0], 5);
	run_until(T0 + 9901 * MS);
	CHECK_EQ(w->n_registers[0], 6);
	CHECK_EQ(w->register_times[0][5], T0 + 9900 * MS);
	/* UDP comes back: the next probe registers, long before the backoff's
	 * next attempt (8 s after the last). */
	w->relay_silent[0] = false;
	run_until(T0 + 11 * SEC);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERING);
	CHECK_EQ(um_relay_client_probe(&w->client, 0, w->now), 0);
	drain();
	run_until(w->now + 200 * MS);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_IDLE);
	/* Registered: a probe is a keepalive now (none outstanding). */
	run_until(w->now + 100 * MS);
	unsigned sent = w->keepalives_sent[0];
	CHECK(!w->client.uplinks[0].ka_outstanding);
	CHECK_EQ(um_relay_client_probe(&w->client, 0, w->now), 0);
	drain();
	CHECK_EQ(w->keepalives_sent[0], sent + 1);
	world_free();
}

/* No pinned ID: learned on first contact (one event), kept; a relay that
 * comes back with another identity is refused (never registered with),
 * and said so once its ID is asked again. */
static void test_trust_on_first_use(void)
{
	world_new_ids(1, NULL, 1 * SEC, false);
	start();
	run_until(T0 + 200 * MS);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_ID_LEARNED, 0), 1);
	CHECK_MEM(w->client.uplinks[0].relay_id.bytes, relay_identity[0].id.bytes, UM_PEER_ID_BYTES);
	CHECK_EQ(w->relays[0].stats.id_requests, 1);
	relay_restart_as(0, &other_identity);
	run_until(w->now + 90 * SEC);
	CHECK(state(0) != UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->relays[0].stats.registered, 0);
	CHECK(count_events(UM_RELAY_CLIENT_EVENT_ID_REFUSED, 0) >= 1);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_ID_LEARNED, 0), 1);
	CHECK_MEM(w->client.uplinks[0].relay_id.bytes, relay_identity[0].id.bytes, UM_PEER_ID_BYTES);
	world_free();
}

/* The race of a slow UDP answer with the TLS fallback: the wss:// line of
 * the same relay connects after the UDP line registered. Registering over
 * it too would replace the UDP session at the relay (one entry per node)
 * and the node would flap between the two; it stays idle, connected,
 * until the UDP line is lost, and then registers. */
static void test_same_relay_connects_late(void)
{
	world_same_relay(5 * MS, 5 * MS);
	start();
	run_until(T0 + 500 * MS);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	transport(1, true);
	run_until(w->now + 5 * SEC);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_IDLE);
	CHECK_EQ(w->n_registers[1], 0);
	CHECK_EQ(w->relays[0].stats.reregistrations, 0);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	/* UDP goes silent: the connected wss:// line registers. */
	w->relay_silent[0] = true;
	run_until(w->now + 10 * SEC);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->client.home, 1);
	world_free();
}

/* The same race the other way round (issue 14): the wss:// line connects
 * while the UDP line is still registering (a lost HELLO), and the UDP line
 * registers first. The wss:// handshake finishing would replace the UDP
 * session at the relay (the node then re-registered over UDP, replacing
 * it back, and lost its handles for seconds): it is dropped at once and
 * the line waits, connected, until the UDP line is lost. */
static void test_same_relay_races(void)
{
	world_same_relay(5 * MS, 100 * MS); /* the TLS line's handshake takes 400 ms */
	start();
	transport(1, true);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_REGISTERING);
	run_until(T0 + 100 * MS);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_IDLE);
	run_until(w->now + 5 * SEC);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_IDLE);
	CHECK_EQ(w->client.uplinks[1].register_sends, 0u);
	CHECK_EQ(w->relays[0].stats.reregistrations, 0);
	CHECK_EQ(w->client.uplinks[0].registrations, 1);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	/* UDP is blocked from now on: the connected wss:// line registers. */
	w->target[0] = 1; /* no relay there */
	run_until(w->now + 10 * SEC);
	CHECK_EQ(state(1), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->client.home, 1);
	world_free();
}

/* A lost ACK (or REGISTER): resent a moment after ESTABLISHED, which the
 * ACK follows within a few ms (issue 14); without ESTABLISHED either, after
 * three RTTs of the handshake (at least 200 ms), not a fixed second. */
static void test_register_resent_at_rtt(void)
{
	world_register_sent();
	CHECK_EQ(w->client.uplinks[0].register_sends, 1u);
	/* The REGISTER went right behind the RESPONSE (early keys): ESTABLISHED
	 * comes back, the ACK behind it is lost. */
	while (w->client.uplinks[0].hs_running && w->n_pending) {
		unsigned first = 0;
		for (unsigned k = 1; k < w->n_pending; k++)
			if (w->pending[k].at < w->pending[first].at)
				first = k;
		struct pending p = w->pending[first];
		memmove(&w->pending[first], &w->pending[first + 1],
			(--w->n_pending - first) * sizeof(p)); /* in order */
		if (p.at > w->now)
			w->now = p.at;
		um_relay_client_input(&w->client, p.uplink, p.data, p.len, w->now, WALL + (w->now - T0) / MS);
		drain();
	}
	CHECK(!w->client.uplinks[0].hs_running);
	uint64_t established = w->now;
	w->n_pending = 0;
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERING);
	/* Resent a moment after ESTABLISHED, not a timer's 3 RTTs later. */
	run_until(established + 100 * MS);
	CHECK_EQ(w->client.uplinks[0].register_sends, 2u);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->n_registers[0], 1); /* one handshake */
	/* No sample from a resent REGISTER: the handshake's round trip (40 ms
	 * here, plus the crypto), not "unknown". */
	CHECK(w->client.uplinks[0].rtt_ns >= 40 * MS && w->client.uplinks[0].rtt_ns < 100 * MS);
	world_free();
}

/* The REGISTER rides right behind the RESPONSE (the handshake engine's
 * early keys): registered two round trips after the first HELLO, not three. */
static void test_register_behind_response(void)
{
	world_new(1, NULL, 25 * SEC);
	w->delay[0] = 20 * MS;
	start();
	uint64_t started = w->now;
	while (state(0) != UM_RELAY_CLIENT_REGISTERED && w->now < T0 + 5 * SEC)
		run_until(w->now + 1 * MS);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK(w->now - started <= 2 * 40 * MS + 2 * MS);
	CHECK_EQ(w->client.uplinks[0].register_sends, 1u);
	world_free();
}

/* A LOOKUP asked while registering rides right behind the REGISTER, so
 * its answer comes with the ACK (two round trips from the first HELLO),
 * not a round trip after it; once registered it is asked again (cheap, in
 * case the early one was lost). */
static unsigned handle_events(void)
{
	unsigned n = 0;
	for (unsigned k = 0; k < w->n_events; k++)
		if (w->events[k].type == UM_RELAY_CLIENT_EVENT_HANDLE &&
		    !memcmp(w->events[k].peer.bytes, other_identity.id.bytes, UM_PEER_ID_BYTES))
			n++;
	return n;
}

static void test_lookup_behind_register(void)
{
	world_new(1, NULL, 25 * SEC);
	w->delay[0] = 20 * MS;
	start();
	uint64_t started = w->now;
	CHECK_EQ(um_relay_client_lookup(&w->client, 0, &other_identity.id), 0);
	CHECK_EQ(um_relay_client_resolve(&w->client, 0, 0x1234), -UM_ESTATE); /* only LOOKUPs wait */
	while (!handle_events() && w->now < T0 + 5 * SEC)
		run_until(w->now + 1 * MS);
	CHECK_EQ(handle_events(), 1u);
	CHECK(w->now - started <= 2 * 40 * MS + 2 * MS);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->client.uplinks[0].early_lookups, 1u);
	run_until(w->now + 100 * MS);
	CHECK_EQ(w->client.uplinks[0].lookups, 2u);
	CHECK_EQ(handle_events(), 2u);
	world_free();
}

/* The REGISTER is lost, the LOOKUP behind it arrives: the relay refuses it
 * (sealed NOT_REGISTERED, since it knows the session). That must not
 * restart the registration: the REGISTER is resent, and the LOOKUP once
 * registered. */
static void test_lookup_behind_lost_register(void)
{
	world_new(1, NULL, 25 * SEC);
	w->delay[0] = 20 * MS;
	start();
	CHECK_EQ(um_relay_client_lookup(&w->client, 0, &other_identity.id), 0);
	w->drop_sealed = 1;
	run_until(T0 + 2 * SEC);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK_EQ(w->n_registers[0], 1); /* one handshake */
	CHECK_EQ(w->client.uplinks[0].early_refused, 1u);
	CHECK_EQ(count_events(UM_RELAY_CLIENT_EVENT_NOT_REGISTERED, 0), 0u);
	CHECK(handle_events() >= 1);
	world_free();
}

/* Registered by the early REGISTER's ACK while every ESTABLISHED is lost,
 * then the relay forgets us (restart; in the NAT lab: our racing wss://
 * handshake replaced the session): the refresh starts once the relay says
 * so, not after the first handshake's 10 s timeout. */
static void test_refresh_after_lost_established(void)
{
	world_new(1, NULL, 1 * SEC);
	w->delay[0] = 20 * MS;
	w->drop_established_until = T0 + 2 * SEC;
	start();
	run_until(T0 + 1 * SEC);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK(!w->client.uplinks[0].hs_running);
	relay_restart(0);
	run_until(T0 + 5 * SEC);
	CHECK_EQ(w->client.uplinks[0].registrations, 2);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	world_free();
}

/* The echo that binds us at the relay (or its reply) is lost: until the
 * relay binds us it forwards nothing to us, so the echo is resent at RTT
 * pace (three RTTs, at least 200 ms), not at the keepalive interval. */
static void test_echo_lost(void)
{
	world_register_sent();
	/* Silent right after the REGISTER went out: its ACK (queued) arrives,
	 * the echo's reply not. */
	unsigned before = w->keepalives_sent[0];
	w->relay_silent[0] = true;
	run_until(w->now + 400 * MS);
	CHECK_EQ(state(0), UM_RELAY_CLIENT_REGISTERED);
	CHECK(w->client.uplinks[0].echo_unconfirmed);
	w->relay_silent[0] = false;
	run_until(w->now + 2 * SEC);
	CHECK(w->keepalives_sent[0] >= before + 2); /* resent within 2.4 s, not after 25 s */
	CHECK(!w->client.uplinks[0].echo_unconfirmed);
	CHECK_EQ(w->client.uplinks[0].ka_missed, 0u);
	struct um_relay_node_info info;
	CHECK_EQ(um_relay_lookup(&w->relays[0], &identity.id, &info), 0);
	CHECK(um_addr_equal(&info.endpoint, &w->client.uplinks[0].observed));
	/* Then the keepalive interval again. */
	unsigned settled = w->keepalives_sent[0];
	run_until(w->now + 20 * SEC);
	CHECK_EQ(w->keepalives_sent[0], settled);
	world_free();
}

int main(void)
{
	if (sodium_init() < 0 || harness_identity(&identity, 1) || harness_identity(&other_identity, 99))
		return 1;
	for (unsigned i = 0; i < MAX_RELAYS; i++)
		if (harness_identity(&relay_identity[i], 500 + i))
			return 1;
	RUN(test_register_and_keepalive);
	RUN(test_home_by_rtt);
	RUN(test_standby_and_relay_lost);
	RUN(test_not_registered);
	RUN(test_refresh_response_piece_lost);
	RUN(test_spoofed_not_registered);
	RUN(test_reregister_rate);
	RUN(test_nat_rebinding);
	RUN(test_retry_backoff);
	RUN(test_same_relay_connects_late);
	RUN(test_echo_lost);
	RUN(test_same_relay_races);
	RUN(test_register_resent_at_rtt);
	RUN(test_register_behind_response);
	RUN(test_lookup_behind_register);
	RUN(test_lookup_behind_lost_register);
	RUN(test_refresh_after_lost_established);
	RUN(test_wss_fallback);
	RUN(test_illegal_transition);
	RUN(test_mismatched_replies);
	RUN(test_unknown_peer);
	RUN(test_trust_on_first_use);
	RUN(test_same_relay_twice);
	RUN(test_probe);
	return um_test_end();
}
