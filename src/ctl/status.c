/* SPDX-License-Identifier: MIT */
/* Renders a status snapshot (ctl/status.h) as key=value lines or JSON. One
 * walk over the snapshot feeds a sink that is either the control reply or a
 * JSON buffer, so both forms carry the same keys in the same order; the
 * JSON only regroups (uplinks, relay_*, drop_*, allowed_ip) the way the CLI
 * did. Runs once per control request: allocation here is fine. */
#include "ctl/status.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* ---- JSON buffer -------------------------------------------------------- */

struct json {
	char *data;
	size_t len, cap;
	bool failed;
	bool first; /* no member/element yet in the innermost object/array */
};

static bool json_reserve(struct json *j, size_t n)
{
	if (j->failed)
		return false;
	if (j->cap - j->len > n)
		return true; /* keeps one byte for the NUL */
	size_t cap = j->cap ? j->cap : 4096;
	while (cap - j->len <= n)
		cap *= 2;
	char *grown = realloc(j->data, cap);
	if (!grown) {
		j->failed = true;
		return false;
	}
	j->data = grown;
	j->cap = cap;
	return true;
}

static void json_raw(struct json *j, const char *s, size_t n)
{
	if (!json_reserve(j, n))
		return;
	memcpy(j->data + j->len, s, n);
	j->len += n;
	j->data[j->len] = '\0';
}

static void json_text(struct json *j, const char *s)
{
	json_raw(j, s, strlen(s));
}

static void json_string(struct json *j, const char *s)
{
	char esc[8];

	json_raw(j, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			json_raw(j, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			json_text(j, esc);
		} else {
			json_raw(j, s, 1);
		}
	}
	json_raw(j, "\"", 1);
}

static void json_open(struct json *j, char bracket)
{
	json_raw(j, &bracket, 1);
	j->first = true;
}

static void json_close(struct json *j, char bracket)
{
	json_raw(j, &bracket, 1);
	j->first = false;
}

/* The comma before a member or element, then "key": if key is not NULL. */
static void json_next(struct json *j, const char *key)
{
	if (!j->first)
		json_raw(j, ",", 1);
	j->first = false;
	if (key) {
		json_string(j, key);
		json_raw(j, ":", 1);
	}
}

/* ---- sink: one key=value line or one JSON member ------------------------ */

struct sink {
	struct um_control_reply *reply; /* text, or */
	struct json *json;              /* JSON */
	const char *prefix;             /* text key prefix the JSON drops ("uplink_", "relay_") */
};

/* The text key: prefix + key (keys are short literals). */
static const char *text_key(const struct sink *s, const char *key, char full[64])
{
	snprintf(full, 64, "%s%s", s->prefix, key);
	return full;
}

static void put_u64(struct sink *s, const char *key, uint64_t value)
{
	char full[64];

	if (s->reply) {
		um_control_reply_add(s->reply, text_key(s, key, full), "%llu", (unsigned long long)value);
		return;
	}
	snprintf(full, sizeof(full), "%llu", (unsigned long long)value);
	json_next(s->json, key);
	json_text(s->json, full);
}

static void put_str(struct sink *s, const char *key, const char *value)
{
	char full[64];

	if (s->reply) {
		um_control_reply_add(s->reply, text_key(s, key, full), "%s", value);
		return;
	}
	json_next(s->json, key);
	json_string(s->json, value);
}

static void put_addr(struct sink *s, const char *key, const struct um_addr *a)
{
	char text[UM_ADDR_TEXT_MAX];

	if (um_addr_format(a, text, sizeof(text)) == 0)
		put_str(s, key, text);
}

/* Unknown values (UM_STATUS_NONE) are left out. */
static void put_known(struct sink *s, const char *key, uint64_t value)
{
	if (value != UM_STATUS_NONE)
		put_u64(s, key, value);
}

/* ---- key tables --------------------------------------------------------- */

struct counter_key {
	const char *key;
	size_t offset;
};

#define KEY(name, type, field)                                                                                         \
	{                                                                                                              \
		name, offsetof(type, field)                                                                            \
	}

static const struct counter_key handshake_keys[] = {
    KEY("hs_hellos", struct um_handshake_status, hellos),
    KEY("hs_established", struct um_handshake_status, established),
    KEY("hs_bad_mac", struct um_handshake_status, bad_mac),
    KEY("hs_cookies_sent", struct um_handshake_status, cookies_sent),
    KEY("hs_rate_limited", struct um_handshake_status, rate_limited),
    KEY("hs_replays", struct um_handshake_status, replays),
    KEY("hs_malformed", struct um_handshake_status, malformed),
    KEY("hs_auth_failed", struct um_handshake_status, auth_failed),
    KEY("hs_unknown_peer", struct um_handshake_status, unknown_peer),
    KEY("hs_timeouts", struct um_handshake_status, timeouts),
    KEY("hs_version_mismatch", struct um_handshake_status, version_mismatch),
    KEY("hs_challenge_budget", struct um_handshake_status, challenge_budget),
    KEY("hs_fragments_sent", struct um_handshake_status, fragments_sent),
    KEY("hs_fragments_retransmitted", struct um_handshake_status, fragments_retransmitted),
    KEY("hs_acks_sent", struct um_handshake_status, acks_sent),
    KEY("hs_acks_received", struct um_handshake_status, acks_received),
    KEY("hs_acks_dropped", struct um_handshake_status, acks_dropped),
    KEY("hs_challenges_deferred", struct um_handshake_status, challenges_deferred),
    KEY("hs_deferred_stale", struct um_handshake_status, deferred_stale),
    KEY("hs_deferred_refused", struct um_handshake_status, deferred_refused),
    KEY("hs_short_challenges", struct um_handshake_status, short_challenges),
    KEY("hs_short_responses", struct um_handshake_status, short_responses),
    KEY("hs_key_unknown", struct um_handshake_status, key_unknown),
    KEY("hs_repeats_ignored", struct um_handshake_status, repeats_ignored),
};

static const struct counter_key messaging_keys[] = {
    KEY("msg_messages_sent", struct um_messaging_status, messages_sent),
    KEY("msg_messages_received", struct um_messaging_status, messages_received),
    KEY("msg_duplicates", struct um_messaging_status, duplicates),
    KEY("msg_receipts", struct um_messaging_status, receipts),
    KEY("msg_segments_in", struct um_messaging_status, segments_in),
    KEY("msg_segments_out", struct um_messaging_status, segments_out),
    KEY("msg_segments_malformed", struct um_messaging_status, segments_malformed),
    KEY("msg_protocol_errors", struct um_messaging_status, protocol_errors),
    KEY("msg_resets", struct um_messaging_status, resets),
    KEY("msg_files_sent", struct um_messaging_status, files_sent),
    KEY("msg_files_received", struct um_messaging_status, files_received),
    KEY("msg_files_failed", struct um_messaging_status, files_failed),
    KEY("msg_files_refused", struct um_messaging_status, files_refused),
    KEY("msg_file_bytes_sent", struct um_messaging_status, file_bytes_sent),
    KEY("msg_file_bytes_received", struct um_messaging_status, file_bytes_received),
    KEY("msg_file_chunks_bad", struct um_messaging_status, file_chunks_bad),
};

static const struct counter_key dataplane_keys[] = {
    KEY("dp_no_route", struct um_dataplane_status, no_route),
    KEY("dp_unknown_index", struct um_dataplane_status, unknown_index),
    KEY("dp_malformed", struct um_dataplane_status, malformed),
    KEY("dp_ring_full", struct um_dataplane_status, ring_full),
    KEY("dp_tun_write_errors", struct um_dataplane_status, tun_write_errors),
    KEY("dp_busy_poll_hits", struct um_dataplane_status, busy_poll_hits),
    KEY("dp_busy_poll_misses", struct um_dataplane_status, busy_poll_misses),
    KEY("dp_gathers", struct um_dataplane_status, gathers),
    KEY("dp_spreads", struct um_dataplane_status, spreads),
};

#define RELAY(field) KEY(#field, struct um_relay_server_status, field)
static const struct counter_key relay_keys[] = {
    RELAY(port),
    RELAY(uptime_ms),
    RELAY(max_nodes),
    RELAY(memory_bytes),
    RELAY(registered),
    RELAY(registrations),
    RELAY(reregistrations),
    RELAY(expired),
    RELAY(reg_malformed),
    RELAY(reg_stale),
    RELAY(reg_not_admitted),
    RELAY(reg_replay),
    RELAY(reg_need_key),
    RELAY(reg_rate_limited),
    RELAY(reg_bad_signature),
    RELAY(reg_full),
    RELAY(reg_version),
    RELAY(fragments_buffered),
    RELAY(fragments_rejected),
    RELAY(keepalives),
    RELAY(keepalive_unknown),
    RELAY(rebinds),
    RELAY(bound_at_register),
    RELAY(forwarded_packets),
    RELAY(forwarded_bytes),
    RELAY(drop_malformed),
    RELAY(drop_unknown_type),
    RELAY(drop_not_registered),
    RELAY(drop_rate_limited_packets),
    RELAY(drop_rate_limited_bytes),
    RELAY(drop_unknown_peer),
    RELAY(drop_to_self),
    RELAY(errors_sent),
    RELAY(errors_suppressed),
    RELAY(rx_datagrams),
    RELAY(tx_datagrams),
    RELAY(rx_truncated),
    RELAY(send_errors),
    RELAY(rx_spoofed_stream),
};
static const struct counter_key relay_tls_keys[] = {
    RELAY(tls_port),
    RELAY(tls_connections),
    RELAY(tls_accepted),
    RELAY(tls_refused_full),
    RELAY(tls_failures),
    RELAY(tls_upgrade_failures),
    RELAY(tls_handshake_timeouts),
    RELAY(tls_idle_timeouts),
    RELAY(tls_protocol_errors),
    RELAY(tls_closed),
    RELAY(tls_rx_frames),
    RELAY(tls_rx_bytes),
    RELAY(tls_tx_frames),
    RELAY(tls_tx_bytes),
    RELAY(tls_tx_dropped_full),
    RELAY(tls_tx_dropped_gone),
};
#undef RELAY

#define TRAFFIC(field) KEY(#field, struct um_traffic_status, field)
/* Text order; the drop_ ones go into "dropped" in JSON. */
static const struct counter_key traffic_keys[] = {
    TRAFFIC(rx_bytes),         TRAFFIC(rx_packets),        TRAFFIC(tx_bytes),         TRAFFIC(tx_packets),
    TRAFFIC(drop_bad_mac),     TRAFFIC(drop_replay),       TRAFFIC(drop_malformed),   TRAFFIC(drop_not_allowed),
    TRAFFIC(drop_no_key),      TRAFFIC(drop_send),         TRAFFIC(rx_relay_packets), TRAFFIC(rx_direct_packets),
    TRAFFIC(tx_relay_packets), TRAFFIC(tx_direct_packets),
};
#undef TRAFFIC
#undef KEY

static uint64_t counter(const void *base, const struct counter_key *k)
{
	uint64_t v;
	memcpy(&v, (const char *)base + k->offset, sizeof(v));
	return v;
}

static void put_counters(struct sink *s, const void *base, const struct counter_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_u64(s, keys[i].key, counter(base, &keys[i]));
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- node --------------------------------------------------------------- */

static void uplink_name(const struct um_uplink_status *u, char *out, size_t size)
{
	char text[UM_ADDR_TEXT_MAX];

	if (um_addr_format(&u->address, text, sizeof(text)))
		snprintf(text, sizeof(text), "?");
	snprintf(out, size, "%s%s", u->tls ? "wss://" : "", text);
}

/* The node keys before the uplink blocks. */
static void node_head(struct sink *s, const struct um_node_status *st)
{
	char text[UM_PEER_ID_TEXT_MAX];

	if (st->relay_only) {
		put_str(s, "mode", "relay");
		put_str(s, "version", st->version ? st->version : "?");
		put_u64(s, "uptime_ms", st->uptime_ms);
		return;
	}
	if (um_peer_id_format(&st->id, text, sizeof(text)) == 0)
		put_str(s, "node_id", text);
	if (um_peer_id_format_short(&st->id, text, sizeof(text)) == 0)
		put_str(s, "short_id", text);
	put_str(s, "version", st->version ? st->version : "?");
	put_str(s, "device", st->device ? st->device : "");
	put_str(s, "mode", st->tap ? "tap" : "tun");
	if (st->has_address && um_addr_prefix_format(&st->address, text, sizeof(text)) == 0)
		put_str(s, "address", text);
	put_u64(s, "listen_port", st->listen_port);
	put_u64(s, "up", st->up);
	put_u64(s, "uptime_ms", st->uptime_ms);
	put_u64(s, "peers", st->n_peers);
	put_counters(s, &st->handshake, handshake_keys, COUNT(handshake_keys));
	put_u64(s, "under_load", st->under_load);
	put_u64(s, "demux_dropped", st->demux_dropped);
	put_u64(s, "path_dropped", st->path_dropped);
	put_counters(s, &st->dataplane, dataplane_keys, COUNT(dataplane_keys));
	put_u64(s, "relays", st->n_uplinks);
	if (st->relay_transport)
		put_str(s, "relay_transport", st->relay_transport);
	if (st->home >= 0 && (size_t)st->home < st->n_uplinks) {
		const struct um_uplink_status *h = &st->uplinks[st->home];
		uplink_name(h, text, sizeof(text));
		put_str(s, "home_relay", text);
		put_u64(s, "home_relay_rtt_us", h->rtt_us == UM_STATUS_NONE ? 0 : h->rtt_us);
		put_addr(s, "observed_endpoint", &h->observed); /* "(none)" until observed */
	}
}

/* One uplink's keys after its name: text "uplink_*", JSON without prefix. */
static void uplink_body(struct sink *s, const struct um_uplink_status *u)
{
	put_str(s, "state", u->state ? u->state : "?");
	put_known(s, "rtt_us", u->rtt_us);
	if (u->observed.family)
		put_addr(s, "observed", &u->observed);
	put_known(s, "last_reply_age_ms", u->last_reply_age_ms);
	put_u64(s, "registrations", u->registrations);
	put_u64(s, "early_lookups", u->early_lookups);
	put_u64(s, "errors", u->errors);
	if (!u->tls_stream)
		return;
	put_str(s, "transport", "tls");
	put_str(s, "tls_state", u->tls_state ? u->tls_state : "?");
	put_addr(s, "proxy", &u->proxy);
	put_u64(s, "tls_connects", u->tls_connects);
	put_u64(s, "tls_disconnects", u->tls_disconnects);
	put_u64(s, "tls_spares", u->tls_spares);
	put_u64(s, "tls_spares_won", u->tls_spares_won);
	put_u64(s, "tls_tx_frames", u->tls_tx_frames);
	put_u64(s, "tls_rx_frames", u->tls_rx_frames);
	put_u64(s, "tls_tx_dropped", u->tls_tx_dropped);
	put_u64(s, "tls_rx_dropped", u->tls_rx_dropped);
}

static void node_stun(struct sink *s, const struct um_stun_status *stun)
{
	if (!stun->servers)
		return;
	put_u64(s, "stun_servers", stun->servers);
	put_addr(s, "stun_server", &stun->server);
	if (stun->mapped.family)
		put_addr(s, "stun_mapped", &stun->mapped);
	put_known(s, "stun_rtt_us", stun->rtt_us);
	put_known(s, "stun_last_answer_age_ms", stun->last_answer_age_ms);
	put_u64(s, "stun_answers", stun->answers);
	put_u64(s, "stun_failures", stun->failures);
	if (stun->last_error)
		put_str(s, "stun_last_error", um_strerror(stun->last_error));
}

/* The control thread's timer lateness, last in the node's own keys
 * (after the messaging counters). */
static void node_loop(struct sink *s, const struct um_node_status *st)
{
	if (st->has_messaging)
		put_counters(s, &st->messaging, messaging_keys, COUNT(messaging_keys));
	put_u64(s, "loop_timer_late_samples", st->loop_timer_late_samples);
	put_u64(s, "loop_timer_late_max_us", st->loop_timer_late_max_us);
	put_u64(s, "loop_timer_late_p99_us", st->loop_timer_late_p99_us);
}

static void relay_server(struct sink *s, const struct um_relay_server_status *r)
{
	put_counters(s, r, relay_keys, COUNT(relay_keys));
	if (r->tls)
		put_counters(s, r, relay_tls_keys, COUNT(relay_tls_keys));
}

/* ---- peers -------------------------------------------------------------- */

static const char *route_name(enum um_route_status route)
{
	switch (route) {
	case UM_ROUTE_STATUS_DIRECT:
		return "direct";
	case UM_ROUTE_STATUS_RELAY:
		return "relay";
	case UM_ROUTE_STATUS_RELAY_TCP:
		return "relay-tcp";
	case UM_ROUTE_STATUS_NONE:
		break;
	}
	return NULL;
}

/* "a,b,c" of the remote candidates, cut at the last one that fits (the text
 * value must fit one control line with its key). */
static void candidate_list(const struct um_path_status *p, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < p->n_remote_candidates && i < UM_STATUS_CANDIDATES_MAX; i++) {
		char text[UM_ADDR_TEXT_MAX];
		if (um_addr_format(&p->remote_candidates[i], text, sizeof(text)))
			continue;
		int n = snprintf(out + used, size - used, "%s%s", used ? "," : "", text);
		if (n < 0 || (size_t)n >= size - used) {
			out[used] = '\0';
			return;
		}
		used += (size_t)n;
	}
}

static void peer_path(struct sink *s, const struct um_path_status *p)
{
	put_str(s, "path_state", p->state ? p->state : "?");
	if (p->direct.family)
		put_addr(s, "direct_path", &p->direct);
	put_known(s, "time_to_direct_ms", p->time_to_direct_ms);
	put_known(s, "direct_rtt_us", p->direct_rtt_us);
	put_u64(s, "direct_switches", p->direct_switches);
	put_u64(s, "fallbacks", p->fallbacks);
	put_known(s, "fallback_silence_ms", p->fallback_silence_ms);
	put_u64(s, "path_candidates", p->n_remote_candidates);
	if (p->n_remote_candidates) {
		char list[UM_CONTROL_LINE_MAX - 32];
		candidate_list(p, list, sizeof(list));
		put_str(s, "path_remote_candidates", list);
	}
	put_u64(s, "path_probes_sent", p->probes_sent);
	put_u64(s, "path_probes_answered", p->probes_answered);
	put_u64(s, "path_bad_mac", p->bad_mac);
	put_u64(s, "path_replays", p->replays);
	put_u64(s, "path_replies_limited", p->replies_limited);
	if (p->ping_sequence) {
		put_u64(s, "ping_sequence", p->ping_sequence);
		put_u64(s, "ping_answered", p->ping_answered);
	}
	if (p->ping_answered) {
		put_str(s, "ping_path", p->ping_direct ? "direct" : "relay");
		put_u64(s, "ping_rtt_us", p->ping_rtt_us);
		put_addr(s, "ping_from", &p->ping_from);
	}
}

/* Every key of a peer but allowed_ip; in JSON the drop_ counters are left
 * for the "dropped" object. */
static void peer_keys(struct sink *s, const struct um_peer_status *p)
{
	char text[UM_PEER_ID_TEXT_MAX];
	const char *route = route_name(p->route);
	bool relayed = p->route == UM_ROUTE_STATUS_RELAY || p->route == UM_ROUTE_STATUS_RELAY_TCP;

	put_str(s, s->json ? "name" : "peer", p->name ? p->name : "");
	if (um_peer_id_format(&p->id, text, sizeof(text)) == 0)
		put_str(s, "id", text);
	if (um_peer_id_format_short(&p->id, text, sizeof(text)) == 0)
		put_str(s, "short_id", text);
	if (route)
		put_str(s, "path", route);
	if (p->endpoint.family)
		put_addr(s, "endpoint", &p->endpoint);
	if (relayed) {
		put_addr(s, "relay", &p->relay);
		if (p->direct_endpoint.family)
			put_addr(s, "direct_endpoint", &p->direct_endpoint);
	}
	put_str(s, "state", p->state ? p->state : "?");
	if (p->found)
		put_str(s, "found", p->found);
	put_u64(s, "state_changes", p->state_changes);
	put_known(s, "last_handshake_age_ms", p->last_handshake_age_ms);
	put_u64(s, "handshakes", p->handshakes);
	put_u64(s, "rekeys", p->rekeys);
	put_known(s, "handshake_srtt_us", p->handshake_srtt_us);
	put_u64(s, "handshake_rto_ms", p->handshake_rto_ms);
	put_u64(s, "handshake_retransmitted_datagrams", p->handshake_retransmitted_datagrams);
	put_u64(s, "handshake_ack_resent_datagrams", p->handshake_ack_resent_datagrams);
	if (p->setup_role) {
		put_str(s, "setup_role", p->setup_role);
		put_known(s, "setup_ms", p->setup_ms);
		put_known(s, "setup_first_reply_ms", p->setup_first_reply_ms);
		put_u64(s, "setup_initiations", p->setup_initiations);
		put_known(s, "setup_total_ms", p->setup_total_ms);
	}
	if (route_name(p->transport))
		put_str(s, "transport", route_name(p->transport));
	for (size_t i = 0; p->has_traffic && i < COUNT(traffic_keys); i++)
		if (!s->json || strncmp(traffic_keys[i].key, "drop_", 5))
			put_u64(s, traffic_keys[i].key, counter(&p->traffic, &traffic_keys[i]));
	put_known(s, p->rtt_is_bound ? "rtt_bound_us" : "rtt_us", p->rtt_us);
	put_u64(s, "keepalive", p->keepalive_s);
	peer_path(s, &p->path);
}

static void peer_text(struct sink *s, const struct um_peer_status *p)
{
	char text[UM_ADDR_PREFIX_TEXT_MAX];

	peer_keys(s, p);
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		if (um_addr_prefix_format(&p->allowed_ips[i], text, sizeof(text)) == 0)
			put_str(s, "allowed_ip", text);
}

static void peer_json(struct sink *s, const struct um_peer_status *p)
{
	struct json *j = s->json;
	char text[UM_ADDR_PREFIX_TEXT_MAX];

	json_next(j, NULL);
	json_open(j, '{');
	peer_keys(s, p);
	if (p->has_traffic) {
		json_next(j, "dropped");
		json_open(j, '{');
		for (size_t i = 0; i < COUNT(traffic_keys); i++)
			if (!strncmp(traffic_keys[i].key, "drop_", 5))
				put_u64(s, traffic_keys[i].key + 5, counter(&p->traffic, &traffic_keys[i]));
		json_close(j, '}');
	}
	json_next(j, "allowed_ips");
	json_open(j, '[');
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		if (um_addr_prefix_format(&p->allowed_ips[i], text, sizeof(text)))
			continue;
		json_next(j, NULL);
		json_string(j, text);
	}
	json_close(j, ']');
	json_close(j, '}');
}

/* ---- public ------------------------------------------------------------- */

void um_status_render_text(const struct um_node_status *st, struct um_control_reply *reply)
{
	struct sink s = {.reply = reply, .prefix = ""};
	char name[UM_ADDR_TEXT_MAX + 8];

	node_head(&s, st);
	if (!st->relay_only) {
		for (size_t i = 0; i < st->n_uplinks; i++) {
			uplink_name(&st->uplinks[i], name, sizeof(name));
			s.prefix = "";
			put_str(&s, "uplink", name);
			s.prefix = "uplink_";
			uplink_body(&s, &st->uplinks[i]);
		}
		s.prefix = "";
		node_stun(&s, &st->stun);
		node_loop(&s, st);
	}
	if (st->has_relay_server) {
		s.prefix = "relay_";
		relay_server(&s, &st->relay_server);
		s.prefix = "";
	}
	if (st->relay_only)
		return;
	for (size_t i = 0; i < st->n_peers; i++)
		peer_text(&s, &st->peers[i]);
}

static void json_peers(struct sink *s, const struct um_node_status *st)
{
	json_next(s->json, "peers");
	json_open(s->json, '[');
	for (size_t i = 0; !st->relay_only && i < st->n_peers; i++)
		peer_json(s, &st->peers[i]);
	json_close(s->json, ']');
}

int um_status_render_json(const struct um_node_status *st, enum um_status_json_view view, char **out, size_t *out_len)
{
	struct json j = {0};
	struct sink s = {.json = &j, .prefix = ""};
	char name[UM_ADDR_TEXT_MAX + 8];

	*out = NULL;
	*out_len = 0;
	json_open(&j, '{');
	if (view == UM_STATUS_JSON_PEERS) {
		json_peers(&s, st);
		goto close;
	}
	json_next(&j, "node");
	json_open(&j, '{');
	node_head(&s, st);
	if (!st->relay_only) {
		node_stun(&s, &st->stun);
		node_loop(&s, st);
	}
	json_close(&j, '}');
	json_peers(&s, st);
	json_next(&j, "relays");
	json_open(&j, '[');
	for (size_t i = 0; !st->relay_only && i < st->n_uplinks; i++) {
		json_next(&j, NULL);
		json_open(&j, '{');
		uplink_name(&st->uplinks[i], name, sizeof(name));
		put_str(&s, "address", name);
		uplink_body(&s, &st->uplinks[i]);
		json_close(&j, '}');
	}
	json_close(&j, ']');
	if (st->has_relay_server) {
		json_next(&j, "relay");
		json_open(&j, '{');
		relay_server(&s, &st->relay_server);
		json_close(&j, '}');
	}
close:
	json_close(&j, '}');
	json_raw(&j, "\n", 1);
	if (j.failed) {
		free(j.data);
		return -UM_ENOMEM;
	}
	*out = j.data;
	*out_len = j.len;
	return 0;
}

void um_peer_status_reset(struct um_peer_status *peer)
{
	memset(peer, 0, sizeof(*peer));
	peer->last_handshake_age_ms = UM_STATUS_NONE;
	peer->rtt_us = UM_STATUS_NONE;
	peer->handshake_srtt_us = UM_STATUS_NONE;
	peer->setup_ms = UM_STATUS_NONE;
	peer->setup_first_reply_ms = UM_STATUS_NONE;
	peer->setup_total_ms = UM_STATUS_NONE;
	peer->path.time_to_direct_ms = UM_STATUS_NONE;
	peer->path.direct_rtt_us = UM_STATUS_NONE;
	peer->path.fallback_silence_ms = UM_STATUS_NONE;
}

int um_node_status_init(struct um_node_status *status, size_t n_peers, size_t n_uplinks)
{
	memset(status, 0, sizeof(*status));
	status->home = -1;
	status->stun.rtt_us = UM_STATUS_NONE;
	status->stun.last_answer_age_ms = UM_STATUS_NONE;
	if (n_peers && !(status->peers = calloc(n_peers, sizeof(*status->peers))))
		goto fail;
	if (n_uplinks && !(status->uplinks = calloc(n_uplinks, sizeof(*status->uplinks))))
		goto fail;
	status->n_peers = n_peers;
	status->n_uplinks = n_uplinks;
	for (size_t i = 0; i < n_peers; i++)
		um_peer_status_reset(&status->peers[i]);
	for (size_t i = 0; i < n_uplinks; i++) {
		status->uplinks[i].rtt_us = UM_STATUS_NONE;
		status->uplinks[i].last_reply_age_ms = UM_STATUS_NONE;
	}
	return 0;
fail:
	um_node_status_free(status);
	return -UM_ENOMEM;
}

void um_node_status_free(struct um_node_status *status)
{
	free(status->peers);
	free(status->uplinks);
	status->peers = NULL;
	status->uplinks = NULL;
	status->n_peers = 0;
	status->n_uplinks = 0;
}
