/* SPDX-License-Identifier: MIT */
/* ctl/status: a snapshot filled by hand, rendered as key=value text and as
 * JSON. Checks the key names and formats the CLI and the netns tests read,
 * that the JSON parses back (util/json) and that it carries the same values
 * as the text. Every case builds its own snapshot. */
#include <stdlib.h>
#include <string.h>

#include "ctl/status.h"
#include "test.h"
#include "util/error.h"
#include "util/json.h"

/* The parts a snapshot borrows, per case. */
struct fixture {
	struct um_node_status st;
	struct um_addr_prefix allowed[2];
};

static struct um_addr addr(const char *text)
{
	struct um_addr a;
	if (um_addr_parse(&a, text))
		memset(&a, 0, sizeof(a));
	return a;
}

/* A node with two relays (the second wss://, home = first), STUN, a relay
 * server, and two peers: one relayed with traffic and a ping, one idle. */
static void fixture_fill(struct fixture *f)
{
	struct um_node_status *st = &f->st;

	memset(f, 0, sizeof(*f));
	CHECK_EQ(um_node_status_init(st, 2, 2), 0);
	st->version = "1.2.3";
	st->uptime_ms = 12345;
	for (int i = 0; i < UM_PEER_ID_BYTES; i++)
		st->id.bytes[i] = (uint8_t)(i * 7 + 1);
	st->device = "um0";
	st->has_address = true;
	CHECK_EQ(um_addr_prefix_parse(&st->address, "100.64.0.1/10", true), 0);
	st->listen_port = 51820;
	st->up = true;
	st->handshake.hellos = 11;
	st->handshake.cookies_sent = 3;
	st->handshake.version_mismatch = 4;
	st->handshake.unknown_peer = 2;
	st->handshake.auth_failed = 5;
	st->under_load = true;
	st->demux_dropped = 6;
	st->dataplane.unknown_index = 17;
	st->dataplane.busy_poll_hits = 9;

	struct um_uplink_status *u = &st->uplinks[0];
	u->address = addr("203.0.113.2:51821");
	u->state = "home";
	u->rtt_us = 850;
	u->observed = addr("198.51.100.2:40000");
	u->last_reply_age_ms = 1500;
	u->registrations = 2;
	u->early_lookups = 3;
	u->errors = 1;
	u = &st->uplinks[1];
	u->address = addr("203.0.113.3:443");
	u->tls = true;
	u->state = "standby";
	u->tls_stream = true;
	u->tls_state = "open";
	u->proxy = addr("127.0.0.1:39999");
	u->tls_connects = 4;
	u->tls_rx_frames = 40;
	st->home = 0;

	st->stun.servers = 2;
	st->stun.server = addr("[2001:db8::3478]:3478");
	st->stun.mapped = addr("198.51.100.2:40001");
	st->stun.rtt_us = 700;
	st->stun.last_answer_age_ms = 250;
	st->stun.answers = 6;
	st->stun.failures = 1;
	st->stun.last_error = -UM_ETRUNC;

	st->has_relay_server = true;
	st->relay_server.port = 51821;
	st->relay_server.registered = 2;
	st->relay_server.forwarded_packets = 99;
	st->relay_server.reg_not_admitted = 1;
	st->relay_server.rx_spoofed_stream = 4;
	st->relay_server.tls = true;
	st->relay_server.tls_connections = 3;
	st->relay_server.tls_tx_dropped_gone = 8;

	CHECK_EQ(um_addr_prefix_parse(&f->allowed[0], "10.1.0.0/16", false), 0);
	CHECK_EQ(um_addr_prefix_parse(&f->allowed[1], "fd00::/64", false), 0);

	struct um_peer_status *p = &st->peers[0];
	p->name = "beta";
	for (int i = 0; i < UM_PEER_ID_BYTES; i++)
		p->id.bytes[i] = (uint8_t)(255 - i);
	p->route = UM_ROUTE_STATUS_RELAY;
	p->endpoint = addr("203.0.113.2:51821");
	p->relay = addr("203.0.113.2:51821");
	p->direct_endpoint = addr("198.51.100.6:51820");
	p->state = "established";
	p->state_changes = 3;
	p->last_handshake_age_ms = 3200;
	p->handshakes = 2;
	p->rekeys = 1;
	p->handshake_srtt_us = 21500;
	p->handshake_rto_ms = 200;
	p->handshake_retransmitted_datagrams = 9;
	p->handshake_ack_resent_datagrams = 4;
	p->setup_role = "initiator";
	p->setup_ms = 2350;
	p->setup_first_reply_ms = 1200;
	p->setup_initiations = 2;
	p->setup_total_ms = 5400;
	p->transport = UM_ROUTE_STATUS_RELAY_TCP;
	p->has_traffic = true;
	p->traffic.rx_bytes = 1000;
	p->traffic.rx_packets = 10;
	p->traffic.tx_packets = 12;
	p->traffic.drop_replay = 4;
	p->traffic.drop_bad_mac = 5;
	p->traffic.tx_relay_packets = 12;
	p->rtt_us = 1234;
	p->keepalive_s = 25;
	p->path.state = "punching";
	p->path.fallbacks = 2;
	p->path.fallback_silence_ms = 3000;
	p->path.remote_candidates[0] = addr("192.168.1.5:51820");
	p->path.remote_candidates[1] = addr("[2001:db8::5]:51820");
	p->path.remote_candidates[2] = addr("198.51.100.6:51820");
	p->path.n_remote_candidates = 3;
	p->path.probes_sent = 30;
	p->path.replays = 7;
	p->path.replies_limited = 11;
	p->path.ping_sequence = 4;
	p->path.ping_answered = 3;
	p->path.ping_direct = false;
	p->path.ping_rtt_us = 2100;
	p->path.ping_from = addr("203.0.113.2:51821");
	p->allowed_ips = f->allowed;
	p->n_allowed_ips = 2;

	p = &st->peers[1];
	p->name = "gamma \"quoted\"";
	p->state = "idle";
	p->rtt_us = 90000;
	p->rtt_is_bound = true;
	p->path.state = "none";
}

/* The reply as lines "key=value" (modified in place) for lookups. */
struct lines {
	char *text;
	char *line[512];
	size_t n;
};

static void lines_split(struct lines *l, const struct um_control_reply *reply)
{
	memset(l, 0, sizeof(*l));
	l->text = malloc(reply->len + 1);
	if (!l->text)
		return;
	memcpy(l->text, reply->data, reply->len);
	l->text[reply->len] = '\0';
	for (char *p = l->text; *p && l->n < 512;) {
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		l->line[l->n++] = p;
		p = nl + 1;
	}
}

/* Index of the first line "key=value" at or after from, or -1. */
static long find_line(const struct lines *l, size_t from, const char *key_value)
{
	for (size_t i = from; i < l->n; i++)
		if (!strcmp(l->line[i], key_value))
			return (long)i;
	return -1;
}

static long find_key(const struct lines *l, size_t from, const char *key)
{
	size_t n = strlen(key);
	for (size_t i = from; i < l->n; i++)
		if (!strncmp(l->line[i], key, n) && l->line[i][n] == '=')
			return (long)i;
	return -1;
}

/* Each expected line present, in this order. */
static void expect_in_order(const struct lines *l, const char *const *expect, size_t n)
{
	long at = 0;
	for (size_t i = 0; i < n; i++) {
		long found = find_line(l, (size_t)at, expect[i]);
		if (found < 0)
			fprintf(stderr, "  missing or out of order: %s\n", expect[i]);
		CHECK(found >= 0);
		if (found >= 0)
			at = found + 1;
	}
}

static void test_text(void)
{
	struct fixture f;
	struct um_control_reply reply = {0};
	struct lines l;
	char id[UM_PEER_ID_TEXT_MAX], line[UM_PEER_ID_TEXT_MAX + 16];

	fixture_fill(&f);
	um_status_render_text(&f.st, &reply);
	CHECK(!reply.overflow);
	lines_split(&l, &reply);

	CHECK_EQ(um_peer_id_format(&f.st.id, id, sizeof(id)), 0);
	snprintf(line, sizeof(line), "node_id=%s", id);
	CHECK(!strcmp(l.line[0], line));
	static const char *const node[] = {
	    "version=1.2.3",
	    "device=um0",
	    "mode=tun",
	    "address=100.64.0.1/10",
	    "listen_port=51820",
	    "up=1",
	    "uptime_ms=12345",
	    "peers=2",
	    "hs_hellos=11",
	    "hs_established=0",
	    "hs_cookies_sent=3",
	    "hs_auth_failed=5",
	    "hs_unknown_peer=2",
	    "hs_timeouts=0",
	    "hs_version_mismatch=4",
	    "hs_challenge_budget=0",
	    "under_load=1",
	    "demux_dropped=6",
	    "path_dropped=0",
	    "dp_no_route=0",
	    "dp_unknown_index=17",
	    "dp_busy_poll_hits=9",
	    "dp_spreads=0",
	    "relays=2",
	    "home_relay=203.0.113.2:51821",
	    "home_relay_rtt_us=850",
	    "observed_endpoint=198.51.100.2:40000",
	    "uplink=203.0.113.2:51821",
	    "uplink_state=home",
	    "uplink_rtt_us=850",
	    "uplink_observed=198.51.100.2:40000",
	    "uplink_last_reply_age_ms=1500",
	    "uplink_registrations=2",
	    "uplink_early_lookups=3",
	    "uplink_errors=1",
	    "uplink=wss://203.0.113.3:443",
	    "uplink_state=standby",
	    "uplink_registrations=0",
	    "uplink_errors=0",
	    "uplink_transport=tls",
	    "uplink_tls_state=open",
	    "uplink_proxy=127.0.0.1:39999",
	    "uplink_tls_connects=4",
	    "uplink_tls_rx_frames=40",
	    "uplink_tls_rx_dropped=0",
	    "stun_servers=2",
	    "stun_server=[2001:db8::3478]:3478",
	    "stun_mapped=198.51.100.2:40001",
	    "stun_rtt_us=700",
	    "stun_last_answer_age_ms=250",
	    "stun_answers=6",
	    "stun_failures=1",
	    "relay_port=51821",
	    "relay_registered=2",
	    "relay_reg_not_admitted=1",
	    "relay_forwarded_packets=99",
	    "relay_rx_spoofed_stream=4",
	    "relay_tls_port=0",
	    "relay_tls_connections=3",
	    "relay_tls_tx_dropped_gone=8",
	    /* peer 1 */
	    "peer=beta",
	    "path=relay",
	    "endpoint=203.0.113.2:51821",
	    "relay=203.0.113.2:51821",
	    "direct_endpoint=198.51.100.6:51820",
	    "state=established",
	    "state_changes=3",
	    "last_handshake_age_ms=3200",
	    "handshakes=2",
	    "rekeys=1",
	    "handshake_srtt_us=21500",
	    "handshake_rto_ms=200",
	    "handshake_retransmitted_datagrams=9",
	    "handshake_ack_resent_datagrams=4",
	    "setup_role=initiator",
	    "setup_ms=2350",
	    "setup_first_reply_ms=1200",
	    "setup_initiations=2",
	    "setup_total_ms=5400",
	    "transport=relay-tcp",
	    "rx_bytes=1000",
	    "rx_packets=10",
	    "tx_bytes=0",
	    "tx_packets=12",
	    "drop_bad_mac=5",
	    "drop_replay=4",
	    "drop_send=0",
	    "rx_relay_packets=0",
	    "tx_relay_packets=12",
	    "tx_direct_packets=0",
	    "rtt_us=1234",
	    "keepalive=25",
	    "path_state=punching",
	    "direct_switches=0",
	    "fallbacks=2",
	    "fallback_silence_ms=3000",
	    "path_candidates=3",
	    "path_remote_candidates=192.168.1.5:51820,[2001:db8::5]:51820,198.51.100.6:51820",
	    "path_probes_sent=30",
	    "path_probes_answered=0",
	    "path_bad_mac=0",
	    "path_replays=7",
	    "path_replies_limited=11",
	    "ping_sequence=4",
	    "ping_answered=3",
	    "ping_path=relay",
	    "ping_rtt_us=2100",
	    "ping_from=203.0.113.2:51821",
	    "allowed_ip=10.1.0.0/16",
	    "allowed_ip=fd00::/64",
	    /* peer 2 */
	    "peer=gamma \"quoted\"",
	    "state=idle",
	    "state_changes=0",
	    "handshakes=0",
	    "rtt_bound_us=90000",
	    "keepalive=0",
	    "path_state=none",
	    "path_candidates=0",
	};
	expect_in_order(&l, node, sizeof(node) / sizeof(node[0]));
	/* The key list in one string: stun_last_error is text. */
	CHECK(find_key(&l, 0, "stun_last_error") >= 0);

	/* Unknown values are left out, not printed as 0 or -1. */
	long gamma = find_line(&l, 0, "peer=gamma \"quoted\"");
	CHECK(gamma > 0);
	if (gamma > 0) {
		CHECK_EQ(find_key(&l, (size_t)gamma, "last_handshake_age_ms"), -1);
		CHECK_EQ(find_key(&l, (size_t)gamma, "rtt_us"), -1);
		CHECK_EQ(find_key(&l, (size_t)gamma, "handshake_srtt_us"), -1);
		CHECK_EQ(find_key(&l, (size_t)gamma, "path"), -1);
		CHECK_EQ(find_key(&l, (size_t)gamma, "endpoint"), -1);
		CHECK_EQ(find_key(&l, (size_t)gamma, "rx_bytes"), -1);
		CHECK_EQ(find_key(&l, (size_t)gamma, "time_to_direct_ms"), -1);
		CHECK_EQ(find_key(&l, (size_t)gamma, "ping_sequence"), -1);
		CHECK_EQ(find_key(&l, (size_t)gamma, "allowed_ip"), -1);
		/* No session: no setup or transport keys. */
		CHECK_EQ(find_key(&l, (size_t)gamma, "setup_role"), -1);
		CHECK_EQ(find_key(&l, (size_t)gamma, "setup_ms"), -1);
		CHECK_EQ(find_key(&l, (size_t)gamma, "setup_initiations"), -1);
		CHECK_EQ(find_key(&l, (size_t)gamma, "transport"), -1);
	}
	long beta = find_line(&l, 0, "peer=beta");
	CHECK_EQ(find_key(&l, (size_t)beta, "time_to_direct_ms"), -1);
	CHECK_EQ(find_key(&l, (size_t)beta, "direct_path"), -1);
	CHECK_EQ(find_key(&l, 0, "uplink_rtt_us"), find_line(&l, 0, "uplink_rtt_us=850")); /* only the first */
	free(l.text);
	free(reply.data);
	um_node_status_free(&f.st);
}

static const struct um_json_value *parse_json(struct um_json_doc **doc, const char *text, size_t len)
{
	struct um_json_error err = {0};
	int r = um_json_parse(doc, text, len, NULL, &err);
	if (r)
		fprintf(stderr, "  JSON does not parse at %zu: %s\n%s", err.offset, err.message ? err.message : "?",
			text);
	CHECK_EQ(r, 0);
	return r ? NULL : um_json_root(*doc);
}

static int64_t json_int(const struct um_json_value *v)
{
	int64_t n = -1;
	CHECK_EQ(um_json_int64(v, &n), 0);
	return n;
}

static void test_json(void)
{
	struct fixture f;
	struct um_json_doc *doc = NULL;
	char *text = NULL;
	size_t len = 0;

	fixture_fill(&f);
	CHECK_EQ(um_status_render_json(&f.st, UM_STATUS_JSON_FULL, &text, &len), 0);
	CHECK(text && len == strlen(text) && strchr(text, '\n') == text + len - 1); /* one line */
	const struct um_json_value *root = parse_json(&doc, text, len);
	const struct um_json_value *node = um_json_get(root, "node");
	CHECK_EQ(um_json_type(node), UM_JSON_OBJECT);
	CHECK_EQ(json_int(um_json_get(node, "up")), 1);
	CHECK_EQ(json_int(um_json_get(node, "under_load")), 1);
	CHECK_EQ(json_int(um_json_get(node, "hs_cookies_sent")), 3);
	CHECK_EQ(json_int(um_json_get(node, "hs_unknown_peer")) + json_int(um_json_get(node, "hs_auth_failed")), 7);
	CHECK_EQ(json_int(um_json_get(node, "dp_unknown_index")), 17);
	CHECK_EQ(json_int(um_json_get(node, "relays")), 2);
	CHECK(um_json_string_is(um_json_get(node, "version"), "1.2.3"));
	CHECK(um_json_string_is(um_json_get(node, "address"), "100.64.0.1/10"));
	CHECK(um_json_string_is(um_json_get(node, "observed_endpoint"), "198.51.100.2:40000"));
	CHECK(um_json_string_is(um_json_get(node, "stun_mapped"), "198.51.100.2:40001"));
	CHECK_EQ(json_int(um_json_get(node, "stun_answers")), 6);
	CHECK_EQ(um_json_type(um_json_get(node, "stun_last_error")), UM_JSON_STRING);
	/* Uplinks and relay server keys are grouped elsewhere, not in node. */
	CHECK(!um_json_get(node, "uplink"));
	CHECK(!um_json_get(node, "uplink_state"));
	CHECK(!um_json_get(node, "relay_port"));

	const struct um_json_value *relays = um_json_get(root, "relays");
	CHECK_EQ(um_json_length(relays), 2);
	const struct um_json_value *r0 = um_json_index(relays, 0), *r1 = um_json_index(relays, 1);
	CHECK(um_json_string_is(um_json_get(r0, "address"), "203.0.113.2:51821"));
	CHECK(um_json_string_is(um_json_get(r0, "state"), "home"));
	CHECK_EQ(json_int(um_json_get(r0, "rtt_us")), 850);
	CHECK(um_json_string_is(um_json_get(r0, "observed"), "198.51.100.2:40000"));
	CHECK(!um_json_get(r0, "transport"));
	CHECK(um_json_string_is(um_json_get(r1, "address"), "wss://203.0.113.3:443"));
	CHECK(um_json_string_is(um_json_get(r1, "transport"), "tls"));
	CHECK_EQ(json_int(um_json_get(r1, "tls_connects")), 4);
	CHECK_EQ(json_int(um_json_get(r0, "early_lookups")), 3);
	CHECK(!um_json_get(r1, "rtt_us"));

	const struct um_json_value *relay = um_json_get(root, "relay");
	CHECK_EQ(json_int(um_json_get(relay, "forwarded_packets")), 99);
	CHECK_EQ(json_int(um_json_get(relay, "registered")), 2);
	CHECK_EQ(json_int(um_json_get(relay, "reg_not_admitted")), 1);
	CHECK_EQ(json_int(um_json_get(relay, "tls_connections")), 3);
	CHECK_EQ(json_int(um_json_get(relay, "tls_tx_dropped_gone")), 8);

	const struct um_json_value *peers = um_json_get(root, "peers");
	CHECK_EQ(um_json_length(peers), 2);
	const struct um_json_value *beta = um_json_index(peers, 0), *gamma = um_json_index(peers, 1);
	CHECK(um_json_string_is(um_json_get(beta, "name"), "beta"));
	CHECK(!um_json_get(beta, "peer"));
	CHECK(um_json_string_is(um_json_get(beta, "path"), "relay"));
	CHECK(um_json_string_is(um_json_get(beta, "relay"), "203.0.113.2:51821"));
	CHECK(um_json_string_is(um_json_get(beta, "endpoint"), "203.0.113.2:51821"));
	CHECK(um_json_string_is(um_json_get(beta, "state"), "established"));
	CHECK_EQ(json_int(um_json_get(beta, "rekeys")), 1);
	CHECK_EQ(json_int(um_json_get(beta, "handshake_srtt_us")), 21500);
	CHECK_EQ(json_int(um_json_get(beta, "handshake_rto_ms")), 200);
	CHECK_EQ(json_int(um_json_get(beta, "handshake_retransmitted_datagrams")), 9);
	CHECK(!um_json_get(gamma, "handshake_srtt_us"));
	CHECK(um_json_string_is(um_json_get(beta, "setup_role"), "initiator"));
	CHECK_EQ(json_int(um_json_get(beta, "setup_ms")), 2350);
	CHECK_EQ(json_int(um_json_get(beta, "setup_first_reply_ms")), 1200);
	CHECK_EQ(json_int(um_json_get(beta, "setup_initiations")), 2);
	CHECK_EQ(json_int(um_json_get(beta, "setup_total_ms")), 5400);
	CHECK(um_json_string_is(um_json_get(beta, "transport"), "relay-tcp"));
	CHECK(!um_json_get(gamma, "setup_role"));
	CHECK(!um_json_get(gamma, "setup_ms"));
	CHECK(!um_json_get(gamma, "transport"));
	CHECK_EQ(json_int(um_json_get(beta, "fallbacks")), 2);
	CHECK_EQ(json_int(um_json_get(beta, "path_replays")), 7);
	CHECK_EQ(json_int(um_json_get(beta, "path_replies_limited")), 11);
	CHECK_EQ(json_int(um_json_get(beta, "tx_relay_packets")), 12);
	CHECK(!um_json_get(beta, "drop_replay"));
	const struct um_json_value *dropped = um_json_get(beta, "dropped");
	CHECK_EQ(json_int(um_json_get(dropped, "replay")), 4);
	CHECK_EQ(json_int(um_json_get(dropped, "bad_mac")), 5);
	CHECK_EQ(um_json_length(dropped), 6);
	const struct um_json_value *ips = um_json_get(beta, "allowed_ips");
	CHECK_EQ(um_json_length(ips), 2);
	CHECK(um_json_string_is(um_json_index(ips, 1), "fd00::/64"));
	CHECK(um_json_string_is(um_json_get(gamma, "name"), "gamma \"quoted\""));
	CHECK_EQ(um_json_type(um_json_get(gamma, "allowed_ips")), UM_JSON_ARRAY);
	CHECK_EQ(um_json_length(um_json_get(gamma, "allowed_ips")), 0);
	CHECK(!um_json_get(gamma, "dropped"));
	CHECK(!um_json_get(gamma, "rtt_us"));
	CHECK_EQ(json_int(um_json_get(gamma, "rtt_bound_us")), 90000);
	um_json_free(doc);
	free(text);

	/* peers --json: only the peers. */
	CHECK_EQ(um_status_render_json(&f.st, UM_STATUS_JSON_PEERS, &text, &len), 0);
	root = parse_json(&doc, text, len);
	CHECK_EQ(um_json_length(root), 1);
	CHECK_EQ(um_json_length(um_json_get(root, "peers")), 2);
	um_json_free(doc);
	free(text);
	um_node_status_free(&f.st);
}

/* Every node-block key of the text is in the JSON node object with the same
 * value (numbers as numbers), and every peer key in its peer object. */
static void check_block(const struct lines *l, size_t from, size_t to, const struct um_json_value *obj)
{
	for (size_t i = from; i < to; i++) {
		char key[64];
		const char *eq = strchr(l->line[i], '=');
		if (!eq || (size_t)(eq - l->line[i]) >= sizeof(key))
			continue;
		memcpy(key, l->line[i], (size_t)(eq - l->line[i]));
		key[eq - l->line[i]] = '\0';
		const char *value = eq + 1;
		if (!strncmp(key, "uplink", 6) || !strncmp(key, "relay_", 6) || !strncmp(key, "drop_", 5) ||
		    !strcmp(key, "allowed_ip"))
			continue;
		const struct um_json_value *v = um_json_get(obj, !strcmp(key, "peer") ? "name" : key);
		char number[24];
		int64_t n;
		if (um_json_type(v) == UM_JSON_NUMBER && um_json_int64(v, &n) == 0)
			snprintf(number, sizeof(number), "%lld", (long long)n);
		else if (um_json_type(v) == UM_JSON_STRING)
			snprintf(number, sizeof(number), "%.23s", um_json_string(v, NULL));
		else
			number[0] = '\0';
		bool same = um_json_type(v) == UM_JSON_STRING ? um_json_string_is(v, value) : !strcmp(number, value);
		if (!same)
			fprintf(stderr, "  %s: text %s, JSON %s\n", key, value, number);
		CHECK(same);
	}
}

static void test_text_json_agree(void)
{
	struct fixture f;
	struct um_control_reply reply = {0};
	struct um_json_doc *doc = NULL;
	struct lines l;
	char *text = NULL;
	size_t len;

	fixture_fill(&f);
	um_status_render_text(&f.st, &reply);
	lines_split(&l, &reply);
	CHECK_EQ(um_status_render_json(&f.st, UM_STATUS_JSON_FULL, &text, &len), 0);
	const struct um_json_value *root = parse_json(&doc, text, len);
	long beta = find_line(&l, 0, "peer=beta"), gamma = find_key(&l, (size_t)beta + 1, "peer");
	CHECK(beta > 0 && gamma > beta);
	if (beta > 0 && gamma > beta) {
		check_block(&l, 0, (size_t)beta, um_json_get(root, "node"));
		check_block(&l, (size_t)beta, (size_t)gamma, um_json_index(um_json_get(root, "peers"), 0));
		check_block(&l, (size_t)gamma, l.n, um_json_index(um_json_get(root, "peers"), 1));
	}
	um_json_free(doc);
	free(text);
	free(l.text);
	free(reply.data);
	um_node_status_free(&f.st);
}

static void test_relay_only(void)
{
	struct um_node_status st;
	struct um_control_reply reply = {0};
	struct um_json_doc *doc = NULL;
	struct lines l;
	char *text = NULL;
	size_t len;

	CHECK_EQ(um_node_status_init(&st, 0, 0), 0);
	st.relay_only = true;
	st.version = "9.9";
	st.uptime_ms = 5;
	st.has_relay_server = true;
	st.relay_server.port = 3478;
	st.relay_server.registered = 7;
	um_status_render_text(&st, &reply);
	lines_split(&l, &reply);
	static const char *const expect[] = {"mode=relay",      "version=9.9",        "uptime_ms=5",
					     "relay_port=3478", "relay_registered=7", "relay_rx_spoofed_stream=0"};
	expect_in_order(&l, expect, sizeof(expect) / sizeof(expect[0]));
	CHECK(!strcmp(l.line[0], "mode=relay"));
	CHECK_EQ(find_key(&l, 0, "node_id"), -1);
	CHECK_EQ(find_key(&l, 0, "relay_tls_port"), -1); /* no TLS listener */
	CHECK_EQ(find_key(&l, 0, "peers"), -1);

	CHECK_EQ(um_status_render_json(&st, UM_STATUS_JSON_FULL, &text, &len), 0);
	const struct um_json_value *root = parse_json(&doc, text, len);
	CHECK(um_json_string_is(um_json_get(um_json_get(root, "node"), "mode"), "relay"));
	CHECK_EQ(um_json_length(um_json_get(root, "node")), 3);
	CHECK_EQ(um_json_length(um_json_get(root, "peers")), 0);
	CHECK_EQ(um_json_length(um_json_get(root, "relays")), 0);
	CHECK_EQ(json_int(um_json_get(um_json_get(root, "relay"), "registered")), 7);
	um_json_free(doc);
	free(text);
	free(l.text);
	free(reply.data);
	um_node_status_free(&st);
}

static void test_empty_node(void)
{
	struct um_node_status st;
	struct um_control_reply reply = {0};
	struct um_json_doc *doc = NULL;
	struct lines l;
	char *text = NULL;
	size_t len;

	/* No peers, relays, STUN or relay server: none of their keys. */
	CHECK_EQ(um_node_status_init(&st, 0, 0), 0);
	st.version = "1";
	st.device = "um0";
	st.tap = true;
	um_status_render_text(&st, &reply);
	lines_split(&l, &reply);
	CHECK(find_line(&l, 0, "mode=tap") >= 0);
	CHECK(find_line(&l, 0, "relays=0") >= 0);
	CHECK(find_line(&l, 0, "up=0") >= 0);
	CHECK_EQ(find_key(&l, 0, "address"), -1);
	CHECK_EQ(find_key(&l, 0, "home_relay"), -1);
	CHECK_EQ(find_key(&l, 0, "stun_servers"), -1);
	CHECK_EQ(find_key(&l, 0, "relay_port"), -1);
	CHECK_EQ(find_key(&l, 0, "peer"), -1);
	CHECK_EQ(um_status_render_json(&st, UM_STATUS_JSON_FULL, &text, &len), 0);
	const struct um_json_value *root = parse_json(&doc, text, len);
	CHECK(!um_json_get(root, "relay"));
	CHECK_EQ(um_json_length(root), 3); /* node, peers, relays */
	um_json_free(doc);
	free(text);
	free(l.text);
	free(reply.data);
	um_node_status_free(&st);
}

static void test_direct_peer(void)
{
	struct um_node_status st;
	struct um_control_reply reply = {0};
	struct um_json_doc *doc = NULL;
	struct lines l;
	char *text = NULL;
	size_t len;

	CHECK_EQ(um_node_status_init(&st, 1, 0), 0);
	struct um_peer_status *p = &st.peers[0];
	p->name = "alpha";
	p->route = UM_ROUTE_STATUS_DIRECT;
	p->endpoint = addr("[2001:db8::6]:51820");
	p->direct_endpoint = addr("198.51.100.9:1"); /* not shown on a direct route */
	p->state = "established";
	p->last_handshake_age_ms = 0; /* known and zero: shown */
	p->path.state = "direct";
	p->path.direct = addr("[2001:db8::6]:51820");
	p->path.time_to_direct_ms = 420;
	p->path.direct_rtt_us = 310;
	p->path.direct_switches = 1;
	p->path.ping_sequence = 2;   /* pinged, no answer yet */
	p->setup_role = "responder"; /* the peer's handshake: its times are unknown here */
	p->transport = UM_ROUTE_STATUS_DIRECT;
	um_status_render_text(&st, &reply);
	lines_split(&l, &reply);
	static const char *const expect[] = {
	    "peer=alpha",
	    "path=direct",
	    "endpoint=[2001:db8::6]:51820",
	    "state=established",
	    "last_handshake_age_ms=0",
	    "setup_role=responder",
	    "setup_initiations=0",
	    "transport=direct",
	    "path_state=direct",
	    "direct_path=[2001:db8::6]:51820",
	    "time_to_direct_ms=420",
	    "direct_rtt_us=310",
	    "direct_switches=1",
	    "ping_sequence=2",
	    "ping_answered=0",
	};
	expect_in_order(&l, expect, sizeof(expect) / sizeof(expect[0]));
	CHECK_EQ(find_key(&l, 0, "relay"), -1);
	CHECK_EQ(find_key(&l, 0, "direct_endpoint"), -1);
	CHECK_EQ(find_key(&l, 0, "ping_path"), -1);
	CHECK_EQ(find_key(&l, 0, "fallback_silence_ms"), -1);
	CHECK_EQ(find_key(&l, 0, "setup_ms"), -1);
	CHECK_EQ(find_key(&l, 0, "setup_first_reply_ms"), -1);
	CHECK_EQ(find_key(&l, 0, "setup_total_ms"), -1);
	CHECK_EQ(um_status_render_json(&st, UM_STATUS_JSON_PEERS, &text, &len), 0);
	const struct um_json_value *peer = um_json_index(um_json_get(parse_json(&doc, text, len), "peers"), 0);
	CHECK(um_json_string_is(um_json_get(peer, "path"), "direct"));
	CHECK_EQ(json_int(um_json_get(peer, "time_to_direct_ms")), 420);
	CHECK(um_json_string_is(um_json_get(peer, "transport"), "direct"));
	CHECK(um_json_string_is(um_json_get(peer, "setup_role"), "responder"));
	CHECK(!um_json_get(peer, "setup_ms"));
	CHECK(um_json_string_is(um_json_get(peer, "endpoint"), "[2001:db8::6]:51820"));
	um_json_free(doc);
	free(text);
	free(l.text);
	free(reply.data);
	um_node_status_free(&st);
}

/* Many long candidates: the list is cut after the last whole address that
 * fits one control line; path_candidates still counts them all. */
static void test_candidate_list_cut(void)
{
	struct um_node_status st;
	struct um_control_reply reply = {0};
	struct lines l;

	CHECK_EQ(um_node_status_init(&st, 1, 0), 0);
	struct um_peer_status *p = &st.peers[0];
	p->name = "many";
	p->state = "established";
	p->path.state = "punching";
	for (size_t i = 0; i < UM_STATUS_CANDIDATES_MAX; i++) {
		char text[UM_ADDR_TEXT_MAX];
		snprintf(text, sizeof(text), "[2001:db8:ffff:ffff:ffff:ffff:ffff:%zx]:65535", i + 0x1000);
		p->path.remote_candidates[i] = addr(text);
	}
	p->path.n_remote_candidates = UM_STATUS_CANDIDATES_MAX + 4;
	um_status_render_text(&st, &reply);
	lines_split(&l, &reply);
	char count[32];
	snprintf(count, sizeof(count), "path_candidates=%d", UM_STATUS_CANDIDATES_MAX + 4);
	CHECK(find_line(&l, 0, count) >= 0);
	long i = find_key(&l, 0, "path_remote_candidates");
	CHECK(i >= 0);
	if (i >= 0) {
		const char *list = strchr(l.line[i], '=') + 1;
		size_t n = strlen(list);
		CHECK(strlen(l.line[i]) < UM_CONTROL_LINE_MAX);
		CHECK(n > 0 && list[n - 1] == '5'); /* ends on a whole ":65535" */
		CHECK(strncmp(list, "[2001:db8:ffff:ffff:ffff:ffff:ffff:1000]:65535,", 47) == 0);
	}
	free(l.text);
	free(reply.data);
	um_node_status_free(&st);
}

/* The requests that ask for the snapshot: get=1 (text), get=json,
 * get=json-peers; nothing near them is taken. */
static void test_control_get_formats(void)
{
	struct um_control_request req;

	CHECK_EQ(um_control_parse_request(&req, "get=1\n\n", 7), 0);
	CHECK_EQ(req.op, UM_CONTROL_GET);
	CHECK_EQ(req.format, UM_CONTROL_FORMAT_TEXT);
	CHECK_EQ(um_control_parse_request(&req, "get=json\n\n", 10), 0);
	CHECK_EQ(req.op, UM_CONTROL_GET);
	CHECK_EQ(req.format, UM_CONTROL_FORMAT_JSON);
	CHECK_EQ(um_control_parse_request(&req, "get=json-peers\n\n", 16), 0);
	CHECK_EQ(req.op, UM_CONTROL_GET);
	CHECK_EQ(req.format, UM_CONTROL_FORMAT_JSON_PEERS);
	CHECK_EQ(um_control_parse_request(&req, "up=1\n\n", 6), 0);
	CHECK_EQ(req.format, UM_CONTROL_FORMAT_TEXT);
	static const char *const bad[] = {"get=jso\n\n",       "get=jsonx\n\n",       "get=JSON\n\n",
					  "get=json-peer\n\n", "get=json\nget=1\n\n", "get=json-peers\nup=1\n\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(um_control_parse_request(&req, bad[i], strlen(bad[i])), -UM_EINVAL);
}

/* A JSON document far longer than um_control_reply_add's 1024-byte value
 * goes out whole on one line; control characters cannot break the line. */
static void test_control_reply_raw(void)
{
	struct fixture f;
	struct um_control_reply reply = {0};
	char *json = NULL;
	size_t len = 0;

	fixture_fill(&f);
	CHECK_EQ(um_status_render_json(&f.st, UM_STATUS_JSON_FULL, &json, &len), 0);
	CHECK(len > 2048);
	um_control_reply_add_raw(&reply, "json", json, len - 1); /* without its '\n' */
	CHECK(!reply.overflow);
	CHECK_EQ(reply.len, len - 1 + 6);
	CHECK(reply.data && !memcmp(reply.data, "json=", 5) && !memcmp(reply.data + 5, json, len - 1));
	CHECK(reply.data && reply.data[reply.len - 1] == '\n');
	CHECK(reply.data && !memchr(reply.data, '\n', reply.len - 1));
	um_control_reply_add_raw(&reply, "x", "a\nb\x7f", 4);
	CHECK_EQ(reply.len, len - 1 + 6 + 7);
	CHECK(reply.data && !memcmp(reply.data + reply.len - 7, "x=a?b?\n", 7));
	free(reply.data);
	free(json);
	um_node_status_free(&f.st);
}

int main(void)
{
	RUN(test_text);
	RUN(test_json);
	RUN(test_text_json_agree);
	RUN(test_relay_only);
	RUN(test_empty_node);
	RUN(test_direct_peer);
	RUN(test_candidate_list_cut);
	RUN(test_control_get_formats);
	RUN(test_control_reply_raw);
	return um_test_end();
}
