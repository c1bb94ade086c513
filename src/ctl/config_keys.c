/* SPDX-License-Identifier: MIT */
/* Every config key as a typed row (ctl/config_rows.h), and the few small
 * parsers the types cannot express: repeatable relay/stun lines, the peer
 * and allow lists, a peer ID unique across peers, and [relay] listen (which
 * also sets the port). Defaults live here and nowhere else; the [relay]
 * numbers are the relay core's (um_relay_default_config, checked by
 * tests/unit/ctl/test_config_rows.c). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/config_rows.h"
#include "util/error.h"

/* ---- custom parsers ---- */

static struct um_config_peer *current_peer(struct um_config_parser *p)
{
	return um_config_row_base(p, UM_SECTION_PEER);
}

/* Calls fn for each item of a comma-separated list (spaces around items
 * ignored; empty items, overlong items and a trailing comma are errors
 * naming the key). item is fn's scratch copy of size item_size. */
static int for_each_list_item(struct um_config_parser *p, const struct um_config_row *row, const char *v, char *item,
			      size_t item_size,
			      int (*fn)(struct um_config_parser *p, const struct um_config_row *row, const char *item))
{
	for (const char *s = v; *s;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		while (len && isspace((unsigned char)*s))
			s++, len--;
		while (len && isspace((unsigned char)s[len - 1]))
			len--;
		if (len == 0 || len >= item_size)
			return um_config_fail(p, row->name, "empty or overlong entry in the list");
		memcpy(item, s, len);
		item[len] = '\0';
		int r = fn(p, row, item);
		if (r)
			return r;
		if (!comma)
			break;
		s = comma + 1;
		if (!*s)
			return um_config_fail(p, row->name, "trailing comma");
	}
	return 0;
}

static int parse_peer_id(struct um_config_parser *p, const struct um_config_row *row, const char *v)
{
	struct um_config_peer *peer = current_peer(p);
	unsigned id_bit = um_config_row_bit(row);
	int r = um_peer_id_parse(&peer->id, v);

	if (r == -UM_ECHECKSUM)
		return um_config_fail(p, row->name, "checksum mismatch (a typo in the peer ID?)");
	if (r)
		return um_config_fail(p, row->name, "not a peer ID (%s)", um_strerror(r));
	for (size_t i = 0; i + 1 < p->config->n_peers; i++)
		if (p->config->peers[i].seen & (1ull << id_bit) &&
		    !memcmp(&p->config->peers[i].id, &peer->id, sizeof(peer->id)))
			return um_config_fail(p, row->name, "same ID as peer \"%s\"", p->config->peers[i].name);
	return 0;
}

static int allowed_ip_item(struct um_config_parser *p, const struct um_config_row *row, const char *item)
{
	struct um_config_peer *peer = current_peer(p);
	struct um_addr_prefix cidr;

	if (um_addr_prefix_parse(&cidr, item, true))
		return um_config_fail(p, row->name, "'%s' is not an address/prefix", item);
	for (size_t i = 0; i < p->config->n_peers; i++) {
		const struct um_config_peer *other = &p->config->peers[i];
		for (size_t j = 0; j < other->n_allowed_ips; j++) {
			if (!um_addr_prefix_equal(&other->allowed_ips[j], &cidr))
				continue;
			if (other == peer)
				return um_config_fail(p, row->name, "'%s' listed twice", item);
			return um_config_fail(p, row->name, "'%s' already belongs to peer \"%s\"", item, other->name);
		}
	}
	if (peer->n_allowed_ips >= UM_CONFIG_ALLOWED_MAX)
		return um_config_fail(p, row->name, "more than %d prefixes", UM_CONFIG_ALLOWED_MAX);
	struct um_addr_prefix *grown = realloc(peer->allowed_ips, (peer->n_allowed_ips + 1) * sizeof(*grown));
	if (!grown)
		return -UM_ENOMEM;
	peer->allowed_ips = grown;
	peer->allowed_ips[peer->n_allowed_ips++] = cidr;
	return 0;
}

static int parse_allowed_ips(struct um_config_parser *p, const struct um_config_row *row, const char *v)
{
	char item[INET6_ADDRSTRLEN + 8];

	return for_each_list_item(p, row, v, item, sizeof(item), allowed_ip_item);
}

/* The optional "RELAY-PEER-ID@" before a relay's address: the relay's
 * pinned identity. *rest is set past it. */
static int parse_relay_id(struct um_config_parser *p, const struct um_config_row *row, const char *v, const char **rest)
{
	struct um_config *c = p->config;
	const char *at = strchr(v, '@');
	char text[UM_PEER_ID_TEXT_MAX];

	*rest = v;
	c->relay_has_id[c->n_relays] = false;
	if (!at)
		return 0; /* learned on first contact (node/uplink.c logs it) */
	if ((size_t)(at - v) >= sizeof(text))
		return um_config_fail(p, row->name, "'%.*s' is not a relay peer ID (too long)", (int)(at - v), v);
	memcpy(text, v, (size_t)(at - v));
	text[at - v] = 0;
	int r = um_peer_id_parse(&c->relay_ids[c->n_relays], text);
	if (r == -UM_ECHECKSUM)
		return um_config_fail(p, row->name, "relay peer ID '%s': checksum mismatch (a typo?)", text);
	if (r)
		return um_config_fail(p, row->name, "'%s' is not a relay peer ID (%s)", text, um_strerror(r));
	c->relay_has_id[c->n_relays] = true;
	*rest = at + 1;
	return 0;
}

/* relay = [ID@]IP:port (UDP) or wss://[ID@]IP:port (TLS on TCP); at most
 * UM_CONFIG_RELAYS_MAX, no two alike. */
static int parse_relay(struct um_config_parser *p, const struct um_config_row *row, const char *v)
{
	struct um_config *c = p->config;
	static const char wss[] = "wss://";
	bool tls = !strncmp(v, wss, sizeof(wss) - 1);
	const char *addr;

	if (c->n_relays >= UM_CONFIG_RELAYS_MAX)
		return um_config_fail(p, row->name, "more than %d relays", UM_CONFIG_RELAYS_MAX);
	if (!tls && strstr(v, "://"))
		return um_config_fail(p, row->name, "'%s': only wss:// (TLS) or a plain UDP IPv4:port / [IPv6]:port",
				      v);
	if (parse_relay_id(p, row, tls ? v + sizeof(wss) - 1 : v, &addr))
		return -UM_ECONFIG;
	if (tls && (strchr(addr, '/') || um_addr_parse(&c->relays[c->n_relays], addr)))
		return um_config_fail(p, row->name, "'%s' is not wss://IPv4:port or wss://[IPv6]:port", v);
	if (!tls && um_addr_parse(&c->relays[c->n_relays], addr))
		return um_config_fail(p, row->name, "'%s' is not IPv4:port or [IPv6]:port", v);
	c->relay_tls[c->n_relays] = tls;
	for (size_t i = 0; i < c->n_relays; i++)
		if (c->relay_tls[i] == tls && um_addr_equal(&c->relays[i], &c->relays[c->n_relays]))
			return um_config_fail(p, row->name, "'%s' listed twice", v);
	c->n_relays++;
	return 0;
}

static int parse_stun(struct um_config_parser *p, const struct um_config_row *row, const char *v)
{
	struct um_config *c = p->config;

	if (c->n_stun >= UM_CONFIG_STUN_MAX)
		return um_config_fail(p, row->name, "more than %d STUN servers", UM_CONFIG_STUN_MAX);
	if (um_addr_parse(&c->stun[c->n_stun], v))
		return um_config_fail(p, row->name, "'%s' is not IPv4:port or [IPv6]:port", v);
	for (size_t i = 0; i < c->n_stun; i++)
		if (um_addr_equal(&c->stun[i], &c->stun[c->n_stun]))
			return um_config_fail(p, row->name, "'%s' listed twice", v);
	c->n_stun++;
	return 0;
}

/* HOST of a bootstrap URL: a DNS name or a numeric address ([v6]). */
static bool bootstrap_host_ok(const char *host, size_t len)
{
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		char text[UM_ADDR_TEXT_MAX];
		struct um_addr a;
		if (len - 2 >= sizeof(text))
			return false;
		memcpy(text, host + 1, len - 2);
		text[len - 2] = 0;
		return um_addr_parse_host(&a, text) == 0 && a.family == UM_ADDR_IPV6;
	}
	if (len == 0 || len > 253 || host[0] == '-' || host[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)host[i]) && host[i] != '-' && host[i] != '.')
			return false;
	return true;
}

/* bootstrap = http(s)://HOST:PORT (a relay's bootstrap API) or IP:PORT (a
 * node's UDP port); at most UM_CONFIG_BOOTSTRAP_MAX, no two alike. */
static int parse_bootstrap(struct um_config_parser *p, const struct um_config_row *row, const char *v)
{
	struct um_config *c = p->config;
	/* [node] and [relay] each keep their own lines. */
	bool relay = row->section == UM_SECTION_RELAY;
	struct um_config_bootstrap *lines = relay ? c->relay.bootstrap : c->bootstrap;
	size_t *n_lines = relay ? &c->relay.n_bootstrap : &c->n_bootstrap;
	struct um_config_bootstrap *b = &lines[*n_lines];
	const char *rest = NULL;

	if (*n_lines >= UM_CONFIG_BOOTSTRAP_MAX)
		return um_config_fail(p, row->name, "more than %d bootstrap lines", UM_CONFIG_BOOTSTRAP_MAX);
	memset(b, 0, sizeof(*b));
	if (!strncmp(v, "http://", 7))
		rest = v + 7;
	else if (!strncmp(v, "https://", 8))
		rest = v + 8;
	if (rest) {
		size_t len = strlen(rest);
		if (len && rest[len - 1] == '/')
			len--; /* one trailing slash is fine */
		const char *colon = memrchr(rest, ':', len);
		unsigned long long port;
		char digits[8];
		size_t host_len = colon ? (size_t)(colon - rest) : 0, port_len = colon ? len - host_len - 1 : 0;
		if (!colon || port_len == 0 || port_len >= sizeof(digits) || !bootstrap_host_ok(rest, host_len))
			return um_config_fail(p, row->name, "'%s' is not http://HOST:PORT or https://HOST:PORT", v);
		memcpy(digits, colon + 1, port_len);
		digits[port_len] = 0;
		if (um_config_parse_uint(digits, 65535, &port) || port == 0)
			return um_config_fail(p, row->name, "'%s': not a port number (1-65535)", v);
		if ((size_t)(rest - v) + len >= sizeof(b->url))
			return um_config_fail(p, row->name, "'%s' is too long", v);
		b->http = true;
		memcpy(b->url, v, (size_t)(rest - v) + len);
	} else if (strstr(v, "://") || um_addr_parse(&b->udp, v)) {
		return um_config_fail(p, row->name, "'%s' is not http://HOST:PORT or a UDP IPv4:port / [IPv6]:port", v);
	}
	for (size_t i = 0; i < *n_lines; i++)
		if (lines[i].http == b->http &&
		    (b->http ? !strcmp(lines[i].url, b->url) : um_addr_equal(&lines[i].udp, &b->udp)))
			return um_config_fail(p, row->name, "'%s' listed twice", v);
	(*n_lines)++;
	return 0;
}

/* [relay] listen = IP:port also sets listen_port (what a listen-port line
 * would have set; the two exclude each other, see the rows). */
/* queue-ttl: a duration as elsewhere, or whole hours ("72h") or days
 * ("3d"), 1 s to 365 days. Not given: 0, the queue's default (72 h). */
static int parse_queue_ttl(struct um_config_parser *p, const struct um_config_row *row, const char *v)
{
	size_t digits = strspn(v, "0123456789");
	unsigned long long n;
	uint64_t ms = 0;

	(void)row;
	if (digits && (!strcmp(v + digits, "h") || !strcmp(v + digits, "d"))) {
		char number[16];
		if (digits < sizeof(number)) {
			memcpy(number, v, digits);
			number[digits] = 0;
			if (um_config_parse_uint(number, 365ULL * 24, &n) == 0)
				ms = n * (v[digits] == 'h' ? 3600000ULL : 86400000ULL);
		}
	} else if (um_duration_parse(v, &ms)) {
		ms = 0;
	}
	if (ms < 1000 || ms > 365ULL * 86400000)
		return um_config_fail(p, "queue-ttl", "'%s' is not a duration from 1 s to 365 days (e.g. 72h, 3d, 90m)",
				      v);
	p->config->relay.queue_ttl_ms = ms;
	return 0;
}

static int parse_relay_listen(struct um_config_parser *p, const struct um_config_row *row, const char *v)
{
	struct um_config_relay_server *r = &p->config->relay;

	if (um_addr_parse(&r->listen, v))
		return um_config_fail(p, row->name, "'%s' is not IPv4:port or [IPv6]:port", v);
	r->listen_port = r->listen.port;
	return 0;
}

static int relay_allow_item(struct um_config_parser *p, const struct um_config_row *row, const char *item)
{
	struct um_config_relay_server *r = &p->config->relay;
	struct um_peer_id id;
	int rc = um_peer_id_parse(&id, item);

	if (rc == -UM_ECHECKSUM)
		return um_config_fail(p, row->name, "'%s': checksum mismatch (a typo in the peer ID?)", item);
	if (rc)
		return um_config_fail(p, row->name, "'%s' is not a peer ID", item);
	for (size_t i = 0; i < r->n_allow; i++)
		if (!memcmp(&r->allow[i], &id, sizeof(id)))
			return um_config_fail(p, row->name, "'%s' listed twice", item);
	if (r->n_allow >= UM_CONFIG_ALLOW_MAX)
		return um_config_fail(p, row->name, "more than %d entries", UM_CONFIG_ALLOW_MAX);
	struct um_peer_id *grown = realloc(r->allow, (r->n_allow + 1) * sizeof(*grown));
	if (!grown)
		return -UM_ENOMEM;
	r->allow = grown;
	r->allow[r->n_allow++] = id;
	return 0;
}

static int parse_relay_allow(struct um_config_parser *p, const struct um_config_row *row, const char *v)
{
	char item[UM_PEER_ID_TEXT_MAX + 1];

	return for_each_list_item(p, row, v, item, sizeof(item), relay_allow_item);
}

/* ---- the rows ---- */

static const char *const mode_names[] = {"tun", "tap", NULL};                    /* enum um_device_mode */
static const char *const log_names[] = {"error", "warn", "info", "debug", NULL}; /* enum um_log_level */
static const char *const accept_names[] = {"ask", "always", "never", NULL};      /* enum um_accept_files */

#define FIELD(sec, f)                                                                                                  \
	.section = sec, .offset = offsetof(struct um_config, f), .size = sizeof(((struct um_config *)0)->f)
#define NODE(f)  FIELD(UM_SECTION_NODE, f)
#define RELAY(f) FIELD(UM_SECTION_RELAY, relay.f)
#define PEER(f)                                                                                                        \
	.section = UM_SECTION_PEER, .offset = offsetof(struct um_config_peer, f),                                      \
	.size = sizeof(((struct um_config_peer *)0)->f)
#define NODE_FLAG(f)        .has_flag = true, .flag = offsetof(struct um_config, f)
#define RELAY_FLAG(f)       .has_flag = true, .flag = offsetof(struct um_config, relay.f)
#define CUSTOM(fn)          .type = UM_CONFIG_CUSTOM, .parse = fn, .optional = true
#define DURATION(d, lo, hi) .type = UM_CONFIG_DURATION, .def = d, .min = lo, .max = hi
#define MS_MAX              UM_CONFIG_DURATION_MAX_MS

/* One key per row (or two lines): clang-format would spread each over ten. */
/* clang-format off */
/* The rows of one section are numbered in table order for its `seen` mask:
 * reordering is harmless, but keep at most 64 per section. control-socket
 * and log-level are in both [node] and [relay] (given in one of them). */
const struct um_config_row um_config_rows[] = {
	/* [node] */
	{.name = "identity", NODE(identity_path), .type = UM_CONFIG_STRING, .optional = true, .required = true},
	{.name = "listen-port", NODE(listen_port), .type = UM_CONFIG_UINT, .def = 0, .min = 0, .max = 65535,
	 .what = "a port number"},
	/* none: no device (no_device; messages only, no CAP_NET_ADMIN). */
	{.name = "device", NODE(device), .type = UM_CONFIG_IFNAME, .def_text = UM_CONFIG_DEFAULT_DEVICE,
	 NODE_FLAG(no_device)},
	{.name = "mode", NODE(mode), .type = UM_CONFIG_ENUM, .names = mode_names, .def = UM_MODE_TUN},
	{.name = "address", NODE(address), .type = UM_CONFIG_CIDR, .optional = true, NODE_FLAG(has_address)},
	{.name = "control-socket", NODE(control_socket), .type = UM_CONFIG_PATH, .def_text = UM_CONFIG_DEFAULT_SOCKET},
	{.name = "log-level", NODE(log_level), .type = UM_CONFIG_ENUM, .names = log_names, .def = UM_LOG_INFO},
	{.name = "mtu", NODE(mtu), .type = UM_CONFIG_UINT, .def = 1420, .min = 576, .max = 9000, .what = "an MTU",
	 .words = UM_CONFIG_WORDS_BETWEEN},
	{.name = "heartbeat-interval", NODE(heartbeat_ms), DURATION(15000, 1, MS_MAX)},
	{.name = "rekey-interval", NODE(rekey_ms), DURATION(120000, 1, MS_MAX)},
	{.name = "relay", NODE(relays), CUSTOM(parse_relay), .repeatable = true},
	{.name = "relay-admission-key", NODE(relay_admission_key), .type = UM_CONFIG_KEY, .optional = true,
	 NODE_FLAG(has_relay_admission_key)},
	/* 0 (unset): what the relay advertises. */
	{.name = "relay-keepalive", NODE(relay_keepalive_ms), DURATION(0, 1000, MS_MAX), .optional = true},
	{.name = "direct", NODE(direct), .type = UM_CONFIG_BOOL, .def = true},
	/* The path timers need a floor (probes run at a quarter of health-interval). */
	{.name = "connect-timeout", NODE(connect_timeout_ms), DURATION(5000, 500, MS_MAX)},
	{.name = "health-interval", NODE(health_interval_ms), DURATION(1000, 200, MS_MAX)},
	{.name = "retry-interval", NODE(retry_interval_ms), DURATION(60000, 1000, MS_MAX)},
	{.name = "relay-ca", NODE(relay_ca), .type = UM_CONFIG_STRING, .optional = true},
	{.name = "stun", NODE(stun), CUSTOM(parse_stun), .repeatable = true},
	{.name = "busy-poll-us", NODE(busy_poll_us), .type = UM_CONFIG_UINT, .def = UM_CONFIG_DEFAULT_BUSY_POLL_US,
	 .min = 0, .max = UM_CONFIG_BUSY_POLL_MAX_US, .what = "a number of microseconds",
	 .words = UM_CONFIG_WORDS_FROM_TO},
	/* Gather on CPU 0, or the lowest the daemon may use. */
	{.name = "quiet-cpu", NODE(gather_cpu), .type = UM_CONFIG_CPU, .def = 0, .min = 0, .max = 1023,
	 .what = "a CPU number", NODE_FLAG(gather)},
	{.name = "bootstrap", NODE(bootstrap), CUSTOM(parse_bootstrap), .repeatable = true},
	/* The DHT (node/dht.c): bounds are the engine's (dht/dht.h). */
	{.name = "network-key", NODE(network_key), .type = UM_CONFIG_STRING, .optional = true},
	{.name = "public-relays", NODE(public_relays), .type = UM_CONFIG_BOOL, .def = false},
	{.name = "dht", NODE(dht), .type = UM_CONFIG_BOOL, .def = true},
	{.name = "dht-k", NODE(dht_k), .type = UM_CONFIG_UINT, .def = 8, .min = 1, .max = 20, .what = "a bucket size",
	 .words = UM_CONFIG_WORDS_BETWEEN},
	{.name = "dht-alpha", NODE(dht_alpha), .type = UM_CONFIG_UINT, .def = 3, .min = 1, .max = 8,
	 .what = "a number of parallel requests", .words = UM_CONFIG_WORDS_BETWEEN},
	{.name = "dht-diversity", NODE(dht_diversity), .type = UM_CONFIG_BOOL, .def = true},
	{.name = "dht-state", NODE(dht_state), .type = UM_CONFIG_STRING, .optional = true},
	/* Messaging: "" = derived by the node (ctl/config.h). */
	{.name = "store", NODE(store_path), .type = UM_CONFIG_PATH, .optional = true},
	{.name = "download-dir", NODE(download_dir), .type = UM_CONFIG_PATH, .optional = true},
	{.name = "max-file-size", NODE(max_file_size), .type = UM_CONFIG_UINT, .def = UM_CONFIG_DEFAULT_MAX_FILE_SIZE,
	 .min = 1, .max = 1ULL << 50, .what = "a number of bytes", .words = UM_CONFIG_WORDS_FROM_TO},
	/* Store-and-forward (node/offline.c). */
	{.name = "mailbox", NODE(mailbox), .type = UM_CONFIG_STRING, .optional = true},
	{.name = "mailbox-delay", NODE(mailbox_delay_ms), DURATION(10000, 1, MS_MAX)},
	{.name = "mailbox-poll", NODE(mailbox_poll_ms), DURATION(30000, 100, MS_MAX)},

	/* [relay] */
	/* The relay's identity file (the node's format; none: a new one per run). */
	{.name = "identity", RELAY(identity_path), .type = UM_CONFIG_STRING, .optional = true},
	{.name = "listen", RELAY(listen), CUSTOM(parse_relay_listen), .conflict = "listen-port"},
	{.name = "listen-port", RELAY(listen_port), .type = UM_CONFIG_UINT, .def = UM_CONFIG_RELAY_PORT, .min = 1,
	 .max = 65535, .what = "a port number", .conflict = "listen"},
	{.name = "allow", RELAY(allow), CUSTOM(parse_relay_allow), .repeatable = true},
	{.name = "admission-key", RELAY(admission_key), .type = UM_CONFIG_KEY, .optional = true,
	 RELAY_FLAG(has_admission_key)},
	{.name = "max-nodes", RELAY(max_nodes), .type = UM_CONFIG_UINT, .def = 65536, .min = 1, .max = 1u << 24,
	 .what = "a number", .words = UM_CONFIG_WORDS_BETWEEN},
	{.name = "registration-timeout", RELAY(registration_timeout_ms), DURATION(90000, 2000, 65535000)},
	{.name = "keepalive-interval", RELAY(keepalive_interval_ms), DURATION(25000, 1000, 3600000)},
	{.name = "packets-per-second", RELAY(packets_per_s), .type = UM_CONFIG_UINT, .def = 20000, .min = 1,
	 .max = 100000000, .what = "a number", .words = UM_CONFIG_WORDS_BETWEEN},
	{.name = "packet-burst", RELAY(packet_burst), .type = UM_CONFIG_UINT, .def = 2000, .min = 1,
	 .max = 100000000, .what = "a number", .words = UM_CONFIG_WORDS_BETWEEN},
	{.name = "bytes-per-second", RELAY(bytes_per_s), .type = UM_CONFIG_UINT, .def = 25000000, .min = 1280,
	 .max = 4000000000ULL, .what = "a number", .words = UM_CONFIG_WORDS_BETWEEN},
	{.name = "byte-burst", RELAY(byte_burst), .type = UM_CONFIG_UINT, .def = 2500000, .min = 1280,
	 .max = 4000000000ULL, .what = "a number", .words = UM_CONFIG_WORDS_BETWEEN},
	{.name = "verifications-per-second", RELAY(verifications_per_s), .type = UM_CONFIG_UINT, .def = 500,
	 .min = 1, .max = 1000000, .what = "a number", .words = UM_CONFIG_WORDS_BETWEEN},
	{.name = "control-socket", FIELD(UM_SECTION_RELAY, control_socket), .type = UM_CONFIG_PATH,
	 .def_text = UM_CONFIG_DEFAULT_SOCKET},
	{.name = "log-level", FIELD(UM_SECTION_RELAY, log_level), .type = UM_CONFIG_ENUM,
	 .names = log_names, .def = UM_LOG_INFO},
	/* um_addr_parse refuses port 0. */
	{.name = "listen-tls", RELAY(listen_tls), .type = UM_CONFIG_ENDPOINT, .optional = true},
	{.name = "tls-certificate", RELAY(tls_certificate), .type = UM_CONFIG_STRING, .optional = true},
	{.name = "tls-key", RELAY(tls_key), .type = UM_CONFIG_STRING, .optional = true},
	{.name = "tls-max-connections", RELAY(tls_max_connections), .type = UM_CONFIG_UINT, .def = 1024, .min = 1,
	 .max = 1u << 20, .what = "a number", .words = UM_CONFIG_WORDS_BETWEEN},
	/* The bootstrap HTTP API (http/bootstrap_api.h); HTTPS with both files. */
	{.name = "api", RELAY(api), .type = UM_CONFIG_ENDPOINT, .optional = true},
	{.name = "api-certificate", RELAY(api_certificate), .type = UM_CONFIG_STRING, .optional = true},
	{.name = "api-key", RELAY(api_key), .type = UM_CONFIG_STRING, .optional = true},
	/* The offline queue (http/queue_api.h), on api; defaults of issue 17. */
	{.name = "queue", RELAY(queue_path), .type = UM_CONFIG_PATH, .optional = true},
	{.name = "queue-ttl", RELAY(queue_ttl_ms), CUSTOM(parse_queue_ttl)},
	{.name = "queue-max-messages", RELAY(queue_max_messages), .type = UM_CONFIG_UINT, .def = 100, .min = 1,
	 .max = 1000000, .what = "a number", .words = UM_CONFIG_WORDS_BETWEEN},
	{.name = "queue-max-bytes", RELAY(queue_max_bytes), .type = UM_CONFIG_UINT, .def = 1048576, .min = 8192,
	 .max = 1ULL << 40, .what = "a number of bytes", .words = UM_CONFIG_WORDS_FROM_TO},
	{.name = "queue-rate", RELAY(queue_rate), .type = UM_CONFIG_UINT, .def = 100, .min = 1, .max = 1000000,
	 .what = "a number", .words = UM_CONFIG_WORDS_BETWEEN},
	/* The relay's DHT node (node/dht.c): its relay record, found by nodes. */
	{.name = "bootstrap", RELAY(bootstrap), CUSTOM(parse_bootstrap), .repeatable = true},
	{.name = "dht", RELAY(dht), .type = UM_CONFIG_BOOL, .def = true},
	{.name = "dht-diversity", RELAY(dht_diversity), .type = UM_CONFIG_BOOL, .def = true},
	{.name = "dht-state", RELAY(dht_state), .type = UM_CONFIG_STRING, .optional = true},
	{.name = "network-key", RELAY(network_key), .type = UM_CONFIG_STRING, .optional = true},

	/* [peer "name"] */
	{.name = "id", PEER(id), CUSTOM(parse_peer_id), .required = true},
	{.name = "endpoint", PEER(endpoint), .type = UM_CONFIG_ENDPOINT, .optional = true},
	{.name = "allowed-ips", PEER(allowed_ips), CUSTOM(parse_allowed_ips), .repeatable = true},
	{.name = "keepalive", PEER(keepalive_s), .type = UM_CONFIG_UINT, .def = 0, .min = 0, .max = 3600,
	 .what = "a number of seconds"},
	{.name = "accept-files", PEER(accept_files), .type = UM_CONFIG_ENUM, .names = accept_names,
	 .def = UM_ACCEPT_ASK},
	{.name = "mailbox", PEER(mailbox), .type = UM_CONFIG_STRING, .optional = true},
};
const size_t um_config_rows_count = sizeof(um_config_rows) / sizeof(um_config_rows[0]);
/* clang-format on */
