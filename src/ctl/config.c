/* SPDX-License-Identifier: MIT */
/* The config parser: one table of keys drives everything; each line is
 * handled on its own (no whole-file state but the current section), so the
 * same code serves files, buffers and the fuzzer. */
#include "ctl/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "relay/relay.h"
#include "util/error.h"
#include "util/json.h"

void um_config_init(struct um_config *config)
{
	memset(config, 0, sizeof(*config));
	snprintf(config->device, sizeof(config->device), "%s", UM_CONFIG_DEFAULT_DEVICE);
	snprintf(config->control_socket, sizeof(config->control_socket), "%s", UM_CONFIG_DEFAULT_SOCKET);
	config->mode = UM_MODE_TUN;
	config->log_level = UM_LOG_INFO;
	config->mtu = 1420;
	config->heartbeat_ms = 15 * 1000;
	config->rekey_ms = 120 * 1000;
	config->busy_poll_us = UM_CONFIG_DEFAULT_BUSY_POLL_US;
	config->gather = true; /* on CPU 0, or the lowest the daemon may use */
	config->direct = true; /* hole-punch to a direct path whenever a relay session exists */
	config->connect_timeout_ms = 5 * 1000;
	config->health_interval_ms = 1000;
	config->retry_interval_ms = 60 * 1000;

	/* [relay] defaults are the relay core's. */
	struct um_relay_config d;
	um_relay_default_config(&d);
	struct um_config_relay_server *r = &config->relay;
	r->listen_port = UM_CONFIG_RELAY_PORT;
	r->max_nodes = d.max_nodes;
	r->registration_timeout_ms = d.registration_timeout_ns / 1000000;
	r->keepalive_interval_ms = d.keepalive_interval_s * 1000ULL;
	r->packets_per_s = d.packets_per_s;
	r->packet_burst = d.packet_burst;
	r->bytes_per_s = d.bytes_per_s;
	r->byte_burst = d.byte_burst;
	r->verifications_per_s = d.verifications_per_s;
	r->tls_max_connections = 1024;
}

void um_config_free(struct um_config *config)
{
	for (size_t i = 0; i < config->n_peers; i++)
		free(config->peers[i].allowed_ips);
	free(config->peers);
	free(config->relay.allow);
	sodium_memzero(config->relay.admission_key, sizeof(config->relay.admission_key));
	sodium_memzero(config->relay_admission_key, sizeof(config->relay_admission_key));
	um_config_init(config);
}

/* ---- the key table ---- */

struct key_handler;
typedef int (*key_fn)(struct um_config_parser *p, const struct key_handler *k, const char *value);

struct key_handler {
	const char *name;
	int section;
	key_fn parse;
	bool repeatable;
};

static __attribute__((format(printf, 3, 4))) int fail(struct um_config_parser *p, const char *key, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (key)
		snprintf(p->error, sizeof(p->error), "%s:%u: key '%s': %s", p->file, p->line, key, reason);
	else
		snprintf(p->error, sizeof(p->error), "%s:%u: %s", p->file, p->line, reason);
	return -UM_ECONFIG;
}

static struct um_config_peer *current_peer(struct um_config_parser *p)
{
	return &p->config->peers[p->config->n_peers - 1];
}

static int copy_string(struct um_config_parser *p, const struct key_handler *k, const char *value, char *dst,
		       size_t size)
{
	if (!*value)
		return fail(p, k->name, "empty value");
	if (strlen(value) >= size)
		return fail(p, k->name, "too long (at most %zu bytes)", size - 1);
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int key_identity(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return copy_string(p, k, v, p->config->identity_path, sizeof(p->config->identity_path));
}

static int key_listen_port(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	unsigned long long port;

	if (um_config_parse_uint(v, 65535, &port))
		return fail(p, k->name, "'%s' is not a port number (0-65535)", v);
	p->config->listen_port = (uint16_t)port;
	return 0;
}

static int key_device(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	for (const char *c = v; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
			return fail(p, k->name, "interface names use letters, digits, '-', '_', '.'");
	return copy_string(p, k, v, p->config->device, sizeof(p->config->device));
}

static int key_mode(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	if (!strcmp(v, "tun"))
		p->config->mode = UM_MODE_TUN;
	else if (!strcmp(v, "tap"))
		p->config->mode = UM_MODE_TAP;
	else
		return fail(p, k->name, "'%s' is not tun or tap", v);
	return 0;
}

static int key_address(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	if (um_cidr_parse(&p->config->address, v))
		return fail(p, k->name, "'%s' is not an address/prefix", v);
	p->config->has_address = true;
	return 0;
}

static int key_control_socket(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	if (v[0] != '/')
		return fail(p, k->name, "must be an absolute path");
	return copy_string(p, k, v, p->config->control_socket, sizeof(p->config->control_socket));
}

static int key_log_level(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	if (um_log_level_parse(v, &p->config->log_level))
		return fail(p, k->name, "'%s' is not error, warn, info or debug", v);
	return 0;
}

static int key_mtu(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	unsigned long long mtu;

	if (um_config_parse_uint(v, 65535, &mtu) || mtu < 576 || mtu > 9000)
		return fail(p, k->name, "'%s' is not an MTU between 576 and 9000", v);
	p->config->mtu = (unsigned)mtu;
	return 0;
}

static int key_busy_poll(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	unsigned long long us;

	if (um_config_parse_uint(v, UM_CONFIG_BUSY_POLL_MAX_US, &us))
		return fail(p, k->name, "'%s' is not a number of microseconds from 0 to %u", v,
			    UM_CONFIG_BUSY_POLL_MAX_US);
	p->config->busy_poll_us = (unsigned)us;
	return 0;
}

static int key_quiet_cpu(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	unsigned long long cpu;

	if (strcmp(v, "none") == 0) {
		p->config->gather = false;
		return 0;
	}
	if (um_config_parse_uint(v, 1023, &cpu))
		return fail(p, k->name, "'%s' is not a CPU number (0-1023) or none", v);
	p->config->gather = true;
	p->config->gather_cpu = (unsigned)cpu;
	return 0;
}

static int key_duration(struct um_config_parser *p, const struct key_handler *k, const char *v, uint64_t *out)
{
	if (um_duration_parse(v, out))
		return fail(p, k->name, "'%s' is not a duration (e.g. 15, 15s, 500ms, 2m; at most 1 day)", v);
	return 0;
}

static int key_heartbeat(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return key_duration(p, k, v, &p->config->heartbeat_ms);
}

static int key_rekey(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return key_duration(p, k, v, &p->config->rekey_ms);
}

static int key_id(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	struct um_config_peer *peer = current_peer(p);
	int r = um_peer_id_parse(&peer->id, v);

	if (r == -UM_ECHECKSUM)
		return fail(p, k->name, "checksum mismatch (a typo in the peer ID?)");
	if (r)
		return fail(p, k->name, "not a peer ID (%s)", um_strerror(r));
	for (size_t i = 0; i + 1 < p->config->n_peers; i++)
		if (p->config->peers[i].seen & 1u && !memcmp(&p->config->peers[i].id, &peer->id, sizeof(peer->id)))
			return fail(p, k->name, "same ID as peer \"%s\"", p->config->peers[i].name);
	return 0;
}

static int key_endpoint(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	if (um_endpoint_parse(&current_peer(p)->endpoint, v))
		return fail(p, k->name, "'%s' is not IPv4:port or [IPv6]:port", v);
	return 0;
}

static int add_allowed(struct um_config_parser *p, const struct key_handler *k, const struct um_cidr *cidr,
		       const char *text)
{
	struct um_config_peer *peer = current_peer(p);

	for (size_t i = 0; i < p->config->n_peers; i++) {
		const struct um_config_peer *other = &p->config->peers[i];
		for (size_t j = 0; j < other->n_allowed_ips; j++) {
			if (!um_cidr_same_network(&other->allowed_ips[j], cidr))
				continue;
			if (other == peer)
				return fail(p, k->name, "'%s' listed twice", text);
			return fail(p, k->name, "'%s' already belongs to peer \"%s\"", text, other->name);
		}
	}
	if (peer->n_allowed_ips >= UM_CONFIG_ALLOWED_MAX)
		return fail(p, k->name, "more than %d prefixes", UM_CONFIG_ALLOWED_MAX);
	struct um_cidr *grown = realloc(peer->allowed_ips, (peer->n_allowed_ips + 1) * sizeof(*grown));
	if (!grown)
		return -UM_ENOMEM;
	peer->allowed_ips = grown;
	peer->allowed_ips[peer->n_allowed_ips++] = *cidr;
	return 0;
}

/* Calls fn for each item of a comma-separated list (spaces around items
 * ignored; empty items, overlong items and a trailing comma are errors
 * naming the key). item is fn's scratch copy of size item_size. */
static int for_each_list_item(struct um_config_parser *p, const struct key_handler *k, const char *v, char *item,
			      size_t item_size,
			      int (*fn)(struct um_config_parser *p, const struct key_handler *k, const char *item))
{
	for (const char *s = v; *s;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		while (len && isspace((unsigned char)*s))
			s++, len--;
		while (len && isspace((unsigned char)s[len - 1]))
			len--;
		if (len == 0 || len >= item_size)
			return fail(p, k->name, "empty or overlong entry in the list");
		memcpy(item, s, len);
		item[len] = '\0';
		int r = fn(p, k, item);
		if (r)
			return r;
		if (!comma)
			break;
		s = comma + 1;
		if (!*s)
			return fail(p, k->name, "trailing comma");
	}
	return 0;
}

static int allowed_ip_item(struct um_config_parser *p, const struct key_handler *k, const char *item)
{
	struct um_cidr cidr;

	if (um_cidr_parse(&cidr, item))
		return fail(p, k->name, "'%s' is not an address/prefix", item);
	return add_allowed(p, k, &cidr, item);
}

static int key_allowed_ips(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	char item[INET6_ADDRSTRLEN + 8];

	return for_each_list_item(p, k, v, item, sizeof(item), allowed_ip_item);
}

static int key_keepalive(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	unsigned long long s;

	if (um_config_parse_uint(v, 3600, &s))
		return fail(p, k->name, "'%s' is not a number of seconds (0-3600)", v);
	current_peer(p)->keepalive_s = (unsigned)s;
	return 0;
}

/* ---- relays ([node] relay keys and the [relay] section) ---- */

static int parse_key_hex(struct um_config_parser *p, const struct key_handler *k, const char *v, uint8_t *out)
{
	size_t len = 0;
	uint8_t key[UM_CONFIG_KEY_BYTES];

	if (strlen(v) != 2 * UM_CONFIG_KEY_BYTES || um_json_hex_decode(key, sizeof(key), &len, v, strlen(v)) ||
	    len != sizeof(key)) {
		sodium_memzero(key, sizeof(key));
		return fail(p, k->name, "not a key of %d hex digits", 2 * UM_CONFIG_KEY_BYTES);
	}
	memcpy(out, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	return 0;
}

static int key_relay(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	struct um_config *c = p->config;

	static const char wss[] = "wss://";
	bool tls = !strncmp(v, wss, sizeof(wss) - 1);

	if (c->n_relays >= UM_CONFIG_RELAYS_MAX)
		return fail(p, k->name, "more than %d relays", UM_CONFIG_RELAYS_MAX);
	if (tls && (strchr(v + sizeof(wss) - 1, '/') || um_endpoint_parse(&c->relays[c->n_relays], v + sizeof(wss) - 1)))
		return fail(p, k->name, "'%s' is not wss://IPv4:port or wss://[IPv6]:port", v);
	if (!tls && strstr(v, "://"))
		return fail(p, k->name, "'%s': only wss:// (TLS) or a plain UDP IPv4:port / [IPv6]:port", v);
	if (!tls && um_endpoint_parse(&c->relays[c->n_relays], v))
		return fail(p, k->name, "'%s' is not IPv4:port or [IPv6]:port", v);
	c->relay_tls[c->n_relays] = tls;
	for (size_t i = 0; i < c->n_relays; i++)
		if (c->relays[i].len == c->relays[c->n_relays].len && c->relay_tls[i] == tls &&
		    !memcmp(&c->relays[i], &c->relays[c->n_relays], sizeof(c->relays[i])))
			return fail(p, k->name, "'%s' listed twice", v);
	c->n_relays++;
	return 0;
}

static int key_relay_admission_key(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	int r = parse_key_hex(p, k, v, p->config->relay_admission_key);
	if (r == 0)
		p->config->has_relay_admission_key = true;
	return r;
}

static int key_relay_keepalive(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	int r = key_duration(p, k, v, &p->config->relay_keepalive_ms);
	if (r == 0 && p->config->relay_keepalive_ms < 1000)
		return fail(p, k->name, "at least 1 s");
	return r;
}

static int key_relay_ca(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return copy_string(p, k, v, p->config->relay_ca, sizeof(p->config->relay_ca));
}

static int key_direct(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
		p->config->direct = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
		p->config->direct = false;
	else
		return fail(p, k->name, "'%s' is not true or false", v);
	return 0;
}

/* The path timers need a floor (probes run at a quarter of health-interval). */
static int key_path_duration(struct um_config_parser *p, const struct key_handler *k, const char *v, uint64_t *out,
			     uint64_t min_ms)
{
	int r = key_duration(p, k, v, out);
	if (r == 0 && *out < min_ms)
		return fail(p, k->name, "at least %llu ms", (unsigned long long)min_ms);
	return r;
}

static int key_connect_timeout(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return key_path_duration(p, k, v, &p->config->connect_timeout_ms, 500);
}

static int key_health_interval(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return key_path_duration(p, k, v, &p->config->health_interval_ms, 200);
}

static int key_retry_interval(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return key_path_duration(p, k, v, &p->config->retry_interval_ms, 1000);
}

static int key_relay_listen(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	struct um_config_relay_server *r = &p->config->relay;

	if (r->seen & (1u << 1))
		return fail(p, k->name, "give either listen or listen-port");
	if (um_endpoint_parse(&r->listen, v))
		return fail(p, k->name, "'%s' is not IPv4:port or [IPv6]:port", v);
	r->listen_port = ntohs(r->listen.sa.sa_family == AF_INET ? r->listen.in4.sin_port : r->listen.in6.sin6_port);
	return 0;
}

static int key_relay_listen_port(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	unsigned long long port;

	if (p->config->relay.seen & 1u)
		return fail(p, k->name, "give either listen or listen-port");
	if (um_config_parse_uint(v, 65535, &port) || port == 0)
		return fail(p, k->name, "'%s' is not a port number (1-65535)", v);
	p->config->relay.listen_port = (uint16_t)port;
	return 0;
}

static int relay_allow_item(struct um_config_parser *p, const struct key_handler *k, const char *item)
{
	struct um_config_relay_server *r = &p->config->relay;
	struct um_peer_id id;
	int rc = um_peer_id_parse(&id, item);

	if (rc == -UM_ECHECKSUM)
		return fail(p, k->name, "'%s': checksum mismatch (a typo in the peer ID?)", item);
	if (rc)
		return fail(p, k->name, "'%s' is not a peer ID", item);
	for (size_t i = 0; i < r->n_allow; i++)
		if (!memcmp(&r->allow[i], &id, sizeof(id)))
			return fail(p, k->name, "'%s' listed twice", item);
	if (r->n_allow >= UM_CONFIG_ALLOW_MAX)
		return fail(p, k->name, "more than %d entries", UM_CONFIG_ALLOW_MAX);
	struct um_peer_id *grown = realloc(r->allow, (r->n_allow + 1) * sizeof(*grown));
	if (!grown)
		return -UM_ENOMEM;
	r->allow = grown;
	r->allow[r->n_allow++] = id;
	return 0;
}

static int key_relay_allow(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	char item[UM_PEER_ID_TEXT_MAX + 1];

	return for_each_list_item(p, k, v, item, sizeof(item), relay_allow_item);
}

static int key_relay_admission(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	int r = parse_key_hex(p, k, v, p->config->relay.admission_key);
	if (r == 0)
		p->config->relay.has_admission_key = true;
	return r;
}

static int relay_u32(struct um_config_parser *p, const struct key_handler *k, const char *v, unsigned long long min,
		     unsigned long long max, uint32_t *out)
{
	unsigned long long n;

	if (um_config_parse_uint(v, max, &n) || n < min)
		return fail(p, k->name, "'%s' is not a number between %llu and %llu", v, min, max);
	*out = (uint32_t)n;
	return 0;
}

static int key_relay_max_nodes(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return relay_u32(p, k, v, 1, 1u << 24, &p->config->relay.max_nodes);
}

static int key_relay_timeout(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	uint64_t *ms = &p->config->relay.registration_timeout_ms;
	int r = key_duration(p, k, v, ms);
	if (r == 0 && (*ms < 2000 || *ms > 65535000))
		return fail(p, k->name, "between 2 s and 65535 s");
	return r;
}

static int key_relay_keepalive_interval(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	uint64_t *ms = &p->config->relay.keepalive_interval_ms;
	int r = key_duration(p, k, v, ms);
	if (r == 0 && (*ms < 1000 || *ms > 3600000))
		return fail(p, k->name, "between 1 s and 1 h");
	return r;
}

static int key_relay_pps(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return relay_u32(p, k, v, 1, 100000000, &p->config->relay.packets_per_s);
}

static int key_relay_packet_burst(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return relay_u32(p, k, v, 1, 100000000, &p->config->relay.packet_burst);
}

static int key_relay_bps(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return relay_u32(p, k, v, 1280, 4000000000ULL, &p->config->relay.bytes_per_s);
}

static int key_relay_byte_burst(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return relay_u32(p, k, v, 1280, 4000000000ULL, &p->config->relay.byte_burst);
}

static int key_relay_verifications(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return relay_u32(p, k, v, 1, 1000000, &p->config->relay.verifications_per_s);
}

static int key_relay_listen_tls(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	/* um_endpoint_parse refuses port 0 already. */
	if (um_endpoint_parse(&p->config->relay.listen_tls, v))
		return fail(p, k->name, "'%s' is not IPv4:port or [IPv6]:port", v);
	return 0;
}

static int key_relay_tls_certificate(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return copy_string(p, k, v, p->config->relay.tls_certificate, sizeof(p->config->relay.tls_certificate));
}

static int key_relay_tls_key(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return copy_string(p, k, v, p->config->relay.tls_key, sizeof(p->config->relay.tls_key));
}

static int key_relay_tls_max_connections(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	return relay_u32(p, k, v, 1, 1u << 20, &p->config->relay.tls_max_connections);
}

static int key_stun(struct um_config_parser *p, const struct key_handler *k, const char *v)
{
	struct um_config *c = p->config;

	if (c->n_stun >= UM_CONFIG_STUN_MAX)
		return fail(p, k->name, "more than %d STUN servers", UM_CONFIG_STUN_MAX);
	if (um_endpoint_parse(&c->stun[c->n_stun], v))
		return fail(p, k->name, "'%s' is not IPv4:port or [IPv6]:port", v);
	for (size_t i = 0; i < c->n_stun; i++)
		if (!memcmp(&c->stun[i], &c->stun[c->n_stun], sizeof(c->stun[i])))
			return fail(p, k->name, "'%s' listed twice", v);
	c->n_stun++;
	return 0;
}

/* Order matters for peer keys: bit 0 is 'id' (key_id and finish rely on it). */
static const struct key_handler node_keys[] = {
	{"identity", UM_SECTION_NODE, key_identity, false},
	{"listen-port", UM_SECTION_NODE, key_listen_port, false},
	{"device", UM_SECTION_NODE, key_device, false},
	{"mode", UM_SECTION_NODE, key_mode, false},
	{"address", UM_SECTION_NODE, key_address, false},
	{"control-socket", UM_SECTION_NODE, key_control_socket, false},
	{"log-level", UM_SECTION_NODE, key_log_level, false},
	{"mtu", UM_SECTION_NODE, key_mtu, false},
	{"heartbeat-interval", UM_SECTION_NODE, key_heartbeat, false},
	{"rekey-interval", UM_SECTION_NODE, key_rekey, false},
	{"relay", UM_SECTION_NODE, key_relay, true},
	{"relay-admission-key", UM_SECTION_NODE, key_relay_admission_key, false},
	{"relay-keepalive", UM_SECTION_NODE, key_relay_keepalive, false},
	{"direct", UM_SECTION_NODE, key_direct, false},
	{"connect-timeout", UM_SECTION_NODE, key_connect_timeout, false},
	{"health-interval", UM_SECTION_NODE, key_health_interval, false},
	{"retry-interval", UM_SECTION_NODE, key_retry_interval, false},
	{"relay-ca", UM_SECTION_NODE, key_relay_ca, false},
	{"stun", UM_SECTION_NODE, key_stun, true},
	{"busy-poll-us", UM_SECTION_NODE, key_busy_poll, false},
	{"quiet-cpu", UM_SECTION_NODE, key_quiet_cpu, false},
};
/* Order matters: bit 0 is 'listen', bit 1 'listen-port' (they exclude each
 * other). control-socket and log-level are shared with [node]. */
static const struct key_handler relay_keys[] = {
	{"listen", UM_SECTION_RELAY, key_relay_listen, false},
	{"listen-port", UM_SECTION_RELAY, key_relay_listen_port, false},
	{"allow", UM_SECTION_RELAY, key_relay_allow, true},
	{"admission-key", UM_SECTION_RELAY, key_relay_admission, false},
	{"max-nodes", UM_SECTION_RELAY, key_relay_max_nodes, false},
	{"registration-timeout", UM_SECTION_RELAY, key_relay_timeout, false},
	{"keepalive-interval", UM_SECTION_RELAY, key_relay_keepalive_interval, false},
	{"packets-per-second", UM_SECTION_RELAY, key_relay_pps, false},
	{"packet-burst", UM_SECTION_RELAY, key_relay_packet_burst, false},
	{"bytes-per-second", UM_SECTION_RELAY, key_relay_bps, false},
	{"byte-burst", UM_SECTION_RELAY, key_relay_byte_burst, false},
	{"verifications-per-second", UM_SECTION_RELAY, key_relay_verifications, false},
	{"control-socket", UM_SECTION_RELAY, key_control_socket, false},
	{"log-level", UM_SECTION_RELAY, key_log_level, false},
	{"listen-tls", UM_SECTION_RELAY, key_relay_listen_tls, false},
	{"tls-certificate", UM_SECTION_RELAY, key_relay_tls_certificate, false},
	{"tls-key", UM_SECTION_RELAY, key_relay_tls_key, false},
	{"tls-max-connections", UM_SECTION_RELAY, key_relay_tls_max_connections, false},
};
static const struct key_handler peer_keys[] = {
	{"id", UM_SECTION_PEER, key_id, false},
	{"endpoint", UM_SECTION_PEER, key_endpoint, false},
	{"allowed-ips", UM_SECTION_PEER, key_allowed_ips, true},
	{"keepalive", UM_SECTION_PEER, key_keepalive, false},
};

static unsigned relay_key_index(const char *name)
{
	for (unsigned i = 0; i < sizeof(relay_keys) / sizeof(relay_keys[0]); i++)
		if (!strcmp(relay_keys[i].name, name))
			return i;
	return 31;
}

/* ---- lines ---- */

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s))
		(*s)++, (*len)--;
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

void um_config_parser_init(struct um_config_parser *parser, struct um_config *config, const char *file)
{
	memset(parser, 0, sizeof(*parser));
	parser->config = config;
	parser->file = file ? file : "(config)";
	parser->section = UM_SECTION_NONE;
}

static int begin_peer(struct um_config_parser *p, const char *name, size_t len)
{
	struct um_config *c = p->config;

	if (len == 0)
		return fail(p, NULL, "peer section needs a name: [peer \"name\"]");
	if (len >= UM_CONFIG_NAME_MAX)
		return fail(p, NULL, "peer name longer than %d bytes", UM_CONFIG_NAME_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("-_.", name[i]))
			return fail(p, NULL, "peer names use letters, digits, '-', '_', '.'");
	for (size_t i = 0; i < c->n_peers; i++)
		if (strlen(c->peers[i].name) == len && !memcmp(c->peers[i].name, name, len))
			return fail(p, NULL, "duplicate peer \"%.*s\" (first at line %u)", (int)len, name,
				    c->peers[i].line);
	if (c->n_peers >= UM_CONFIG_PEERS_MAX)
		return fail(p, NULL, "more than %d peers", UM_CONFIG_PEERS_MAX);
	struct um_config_peer *grown = realloc(c->peers, (c->n_peers + 1) * sizeof(*grown));
	if (!grown)
		return -UM_ENOMEM;
	c->peers = grown;
	struct um_config_peer *peer = &c->peers[c->n_peers++];
	memset(peer, 0, sizeof(*peer));
	memcpy(peer->name, name, len);
	peer->line = p->line;
	p->section = UM_SECTION_PEER;
	return 0;
}

static int parse_section(struct um_config_parser *p, const char *s, size_t len)
{
	if (len < 2 || s[len - 1] != ']')
		return fail(p, NULL, "malformed section header (missing ']')");
	s++, len -= 2;
	trim(&s, &len);
	if (len == 4 && !memcmp(s, "node", 4)) {
		if (p->node_seen)
			return fail(p, NULL, "duplicate [node] section");
		p->node_seen = true;
		p->config->has_node = true;
		p->section = UM_SECTION_NODE;
		return 0;
	}
	if (len == 5 && !memcmp(s, "relay", 5)) {
		if (p->relay_seen)
			return fail(p, NULL, "duplicate [relay] section");
		p->relay_seen = true;
		p->config->relay.enabled = true;
		p->section = UM_SECTION_RELAY;
		return 0;
	}
	if (len > 4 && !memcmp(s, "peer", 4) && isspace((unsigned char)s[4])) {
		s += 4, len -= 4;
		trim(&s, &len);
		if (len < 2 || s[0] != '"' || s[len - 1] != '"')
			return fail(p, NULL, "peer name must be quoted: [peer \"name\"]");
		return begin_peer(p, s + 1, len - 2);
	}
	if (len == 4 && !memcmp(s, "peer", 4))
		return fail(p, NULL, "peer section needs a name: [peer \"name\"]");
	return fail(p, NULL, "unknown section [%.*s]", (int)(len > 40 ? 40 : len), s);
}

int um_config_parser_line(struct um_config_parser *p, const char *s, size_t len)
{
	char key[64], value[UM_CONFIG_LINE_MAX];

	p->line++;
	if (len && s[len - 1] == '\n')
		len--;
	if (memchr(s, '\0', len))
		return fail(p, NULL, "NUL byte in line");
	trim(&s, &len);
	if (len == 0 || s[0] == '#' || s[0] == ';')
		return 0;
	if (len >= UM_CONFIG_LINE_MAX)
		return fail(p, NULL, "line longer than %d bytes", UM_CONFIG_LINE_MAX - 1);
	if (s[0] == '[')
		return parse_section(p, s, len);

	const char *eq = memchr(s, '=', len);
	if (!eq)
		return fail(p, NULL, "expected 'key = value' or '[section]'");
	const char *k = s, *v = eq + 1;
	size_t klen = (size_t)(eq - s), vlen = len - klen - 1;
	trim(&k, &klen);
	trim(&v, &vlen);
	if (klen == 0)
		return fail(p, NULL, "missing key before '='");
	if (klen >= sizeof(key))
		return fail(p, NULL, "key too long");
	memcpy(key, k, klen);
	key[klen] = '\0';
	memcpy(value, v, vlen);
	value[vlen] = '\0';

	const struct key_handler *table;
	size_t n;
	uint32_t *seen;
	switch (p->section) {
	case UM_SECTION_NODE:
		table = node_keys, n = sizeof(node_keys) / sizeof(node_keys[0]);
		seen = &p->config->node_seen;
		break;
	case UM_SECTION_PEER:
		table = peer_keys, n = sizeof(peer_keys) / sizeof(peer_keys[0]);
		seen = &current_peer(p)->seen;
		break;
	case UM_SECTION_RELAY:
		table = relay_keys, n = sizeof(relay_keys) / sizeof(relay_keys[0]);
		seen = &p->config->relay.seen;
		break;
	default:
		return fail(p, key, "outside any section (start with [node])");
	}
	if (p->section == UM_SECTION_NODE || p->section == UM_SECTION_RELAY) {
		/* Keys both sections accept may be given in only one of them. */
		bool node = p->section == UM_SECTION_NODE;
		const struct key_handler *other = node ? relay_keys : node_keys;
		size_t n_other = node ? sizeof(relay_keys) / sizeof(relay_keys[0])
				      : sizeof(node_keys) / sizeof(node_keys[0]);
		uint32_t other_seen = node ? p->config->relay.seen : p->config->node_seen;
		for (size_t i = 0; i < n_other; i++)
			if (!strcmp(other[i].name, key) && (other_seen & (1u << i)))
				return fail(p, key, "already given in [%s]", node ? "relay" : "node");
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(table[i].name, key))
			continue;
		if (!table[i].repeatable && (*seen & (1u << i)))
			return fail(p, key, "given twice in this section");
		if (vlen == 0)
			return fail(p, key, "empty value");
		int r = table[i].parse(p, &table[i], value);
		if (r == 0)
			*seen |= 1u << i;
		return r;
	}
	return fail(p, key, "unknown key in [%s]",
		    p->section == UM_SECTION_NODE ? "node" : p->section == UM_SECTION_RELAY ? "relay" : "peer");
}

int um_config_parser_finish(struct um_config_parser *p)
{
	struct um_config *c = p->config;

	if (!p->node_seen && !p->relay_seen) {
		snprintf(p->error, sizeof(p->error), "%s: missing [node] section", p->file);
		return -UM_ECONFIG;
	}
	if (p->relay_seen) {
		/* The TLS keys go together, and only with a TLS listener. */
		const struct um_config_relay_server *r = &c->relay;
		const char *missing = NULL;
		if (r->tls_certificate[0] && !r->tls_key[0])
			missing = "tls-key";
		else if (r->tls_key[0] && !r->tls_certificate[0])
			missing = "tls-certificate";
		else if ((r->tls_key[0] || r->seen & (1u << relay_key_index("tls-max-connections"))) && !r->listen_tls.len)
			missing = "listen-tls";
		if (missing) {
			snprintf(p->error, sizeof(p->error), "%s: [relay]: key '%s': required with the other TLS keys",
				 p->file, missing);
			return -UM_ECONFIG;
		}
	}
	if (!p->node_seen) {
		/* Relay-only: peers mean nothing without a node. */
		if (c->n_peers) {
			snprintf(p->error, sizeof(p->error), "%s:%u: [peer \"%s\"] needs a [node] section", p->file,
				 c->peers[0].line, c->peers[0].name);
			return -UM_ECONFIG;
		}
		return 0;
	}
	if (!c->identity_path[0]) {
		snprintf(p->error, sizeof(p->error), "%s: [node]: key 'identity': required", p->file);
		return -UM_ECONFIG;
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		if (!(c->peers[i].seen & 1u)) {
			snprintf(p->error, sizeof(p->error), "%s:%u: [peer \"%s\"]: key 'id': required", p->file,
				 c->peers[i].line, c->peers[i].name);
			return -UM_ECONFIG;
		}
	}
	return 0;
}

static void report(const struct um_config_parser *p, int r, char *error, size_t error_size)
{
	if (!error || !error_size)
		return;
	if (r == -UM_ENOMEM)
		snprintf(error, error_size, "%s:%u: out of memory", p->file, p->line);
	else
		snprintf(error, error_size, "%s", p->error);
}

int um_config_parse_buffer(struct um_config *config, const char *text, size_t len, const char *file,
			   char *error, size_t error_size)
{
	struct um_config_parser p;
	int r = 0;

	um_config_init(config);
	um_config_parser_init(&p, config, file);
	while (len) {
		const char *nl = memchr(text, '\n', len);
		size_t line_len = nl ? (size_t)(nl - text) + 1 : len;
		r = um_config_parser_line(&p, text, line_len);
		if (r)
			goto out;
		text += line_len;
		len -= line_len;
	}
	r = um_config_parser_finish(&p);
out:
	if (r) {
		report(&p, r, error, error_size);
		um_config_free(config);
	}
	return r;
}

int um_config_load(struct um_config *config, const char *path, char *error, size_t error_size)
{
	struct um_config_parser p;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0;

	um_config_init(config);
	FILE *f = fopen(path, "re");
	if (!f) {
		r = -errno;
		if (error)
			snprintf(error, error_size, "%s: %s", path, strerror(errno));
		return r;
	}
	um_config_parser_init(&p, config, path);
	while ((n = getline(&line, &cap, f)) > 0) {
		r = um_config_parser_line(&p, line, (size_t)n);
		if (r)
			goto out;
	}
	if (ferror(f)) {
		r = -EIO;
		snprintf(p.error, sizeof(p.error), "%s: read error", path);
		goto out;
	}
	r = um_config_parser_finish(&p);
out:
	free(line);
	fclose(f);
	if (r) {
		report(&p, r, error, error_size);
		um_config_free(config);
	}
	return r;
}
