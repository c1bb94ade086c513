/* SPDX-License-Identifier: MIT */
/* Relays in the DHT (node/dht.h): a relay's DHT node publishes the relay's
 * signed record (dht/record.h) under the well-known relay key, at start,
 * hourly and when its addresses change; a node with no `relay =` line looks
 * that key up, keeps the records that verify, and hands their relays to
 * the uplinks (node/uplink.c um_uplinks_start_list) as if configured, each pinned
 * by the identity its record names. The relay client then registers,
 * measures RTT and picks home and backup as for configured relays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht/network_key.h"
#include "dht/record.h"
#include "node/dht_internal.h"
#include "node/internal.h"
#include "node/uplink.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define RELAY_REPUBLISH_NS        (3600 * UM_NSEC_PER_SEC) /* records live 24 h; republished hourly */
#define RELAY_RETRY_NS            (2 * UM_NSEC_PER_SEC)    /* publish with an empty table; lookups */
#define RELAYS_RETRY_MAX_NS       (30 * UM_NSEC_PER_SEC)
#define RELAYS_RECHECK_NS         (600 * UM_NSEC_PER_SEC) /* relays found: look again now and then */
#define RELAYS_WAIT_NS            (1 * UM_NSEC_PER_SEC)   /* handed: republish once registered */
#define RELAY_EARLY_REPUBLISH_NS  (1 * UM_NSEC_PER_SEC)   /* new contacts, few storers: republish */
#define RELAY_EARLY_REPUBLISH_MAX 10

_Static_assert((int)DHT_KEYS_MAX >= (int)UM_DHT_RELAY_LOOKUP_KEYS_MAX, "a relay lookup's keys fit a query");

/* ---- the relay's record ---- */

static bool addr_is_any(const struct um_addr *a)
{
	static const uint8_t zero[16];
	return !memcmp(a->addr, zero, um_addr_family_bytes(a->family));
}

/* The relay's UDP addresses: its listen address, or every interface
 * address with its port; and listen-tls as the wss:// endpoint. */
static void relay_addresses(struct um_node_dht *d, struct um_dht_relay_record *rec)
{
	const struct um_config_relay_server *rc = &d->node->config.relay;
	struct um_dht_endpoint e[UM_DHT_ENDPOINTS_MAX];
	unsigned n = 0;

	if (rc->listen.family && !addr_is_any(&rc->listen)) {
		um_node_dht_endpoint_add(e, &n, 0, &rc->listen);
	} else {
		struct um_addr lan[16];
		size_t n_lan = um_node_dht_local_addresses(d, lan, sizeof(lan) / sizeof(lan[0]));
		for (size_t i = 0; i < n_lan; i++)
			um_node_dht_endpoint_add(e, &n, 0, &lan[i]);
	}
	for (unsigned i = 0; i < n && rec->udp_count < UM_DHT_RELAY_UDP_MAX; i++) {
		rec->udp[rec->udp_count] = e[i];
		rec->udp[rec->udp_count++].kind = 0;
	}
	if (rc->listen_tls.family && !addr_is_any(&rc->listen_tls)) {
		char text[UM_ADDR_TEXT_MAX];
		/* The literal without brackets or port (record.h hosts). */
		if (um_addr_format_host(&rc->listen_tls, text, sizeof(text)) == 0) {
			snprintf(rec->wss_host, sizeof(rec->wss_host), "%.*s", UM_DHT_HOST_MAX, text);
			rec->wss_port = rc->listen_tls.port;
		}
	}
}

/* A private network's relay (d->has_network_key): the signed record sealed
 * under the day's relay key (d->publish_key). value: UM_DHT_PRIVATE_RELAY_MAX
 * bytes, *len in: the signed record's length, out: the sealed one's. */
static int relay_record_seal(struct um_node_dht *d, uint8_t *value, size_t *len, uint64_t unix_s)
{
	uint8_t *signed_record = malloc(*len);
	int r;

	if (!signed_record)
		return -UM_ENOMEM;
	memcpy(signed_record, value, *len);
	r = um_dht_private_relay_seal(value, UM_DHT_PRIVATE_RELAY_MAX, len, d->publish_key, signed_record, *len,
				      &d->network_key, um_dht_day(unix_s));
	free(signed_record);
	return r;
}

int um_node_dht_relay_publish(struct um_node_dht *d)
{
	struct um_dht_relay_record rec;
	uint8_t *value = malloc(UM_DHT_PRIVATE_RELAY_MAX); /* > UM_DHT_RELAY_RECORD_MAX: sealed or not */
	uint64_t now = um_now_ns(), unix_s = um_node_dht_unix_now();
	uint64_t republish = RELAY_REPUBLISH_NS;
	size_t len = 0;
	int r;

	if (!value)
		return -UM_ENOMEM;
	if (d->has_network_key) {
		/* The private relay key rotates at UTC midnight: republish just after. */
		uint64_t to_midnight = 86400 - unix_s % 86400 + 5;
		if (to_midnight * UM_NSEC_PER_SEC < republish)
			republish = to_midnight * UM_NSEC_PER_SEC;
	}
	memset(&rec, 0, sizeof(rec));
	relay_addresses(d, &rec);
	uint64_t ms = um_wall_ms();
	d->sequence = ms > d->sequence ? ms : d->sequence + 1;
	rec.sequence = d->sequence;
	rec.issued = unix_s;
	rec.expires = unix_s + UM_DHT_RECORD_LIFETIME_MAX;
	d->n_endpoints = rec.udp_count;
	um_node_dht_clock_refresh(d);
	um_dht_relay_key_public(d->publish_key);
	r = um_dht_relay_record_sign(value, UM_DHT_RELAY_RECORD_MAX, &len, &rec, d->identity);
	if (r == 0 && d->has_network_key)
		r = relay_record_seal(d, value, &len, unix_s);
	r = um_node_dht_publish_value(d, r, value, len, now, RELAY_RETRY_NS, republish, "the relay record");
	free(value);
	if (r == 0) {
		um_log_debug("dht: publishing the %s relay record (sequence %llu, %u UDP endpoints%s)",
			     d->has_network_key ? "sealed" : "public", (unsigned long long)rec.sequence, rec.udp_count,
			     rec.wss_port ? ", wss" : "");
	}
	um_node_dht_jobs_at(d, d->publish_ns);
	um_node_dht_flush(d);
	return r;
}

/* A relay publishing early (its first contacts) stores its record at the
 * few nodes it knows, maybe only other relays, which nodes do not know
 * yet: while fewer than k took it, each new contact brings a republish
 * (batched, RELAY_EARLY_REPUBLISH_MAX times), which also makes the new
 * contacts add the relay to their tables (a STORE echoing their cookie). */
void um_node_dht_relay_record_event(struct um_node_dht *d, const struct um_dht_event *e)
{
	uint64_t now = um_now_ns(), at = now + RELAY_EARLY_REPUBLISH_NS;

	if (e->type != UM_DHT_EVENT_CONTACT_ADDED || !d->published_ns || d->publish_id ||
	    d->published_storers >= d->node->config.dht_k || d->early_republishes >= RELAY_EARLY_REPUBLISH_MAX ||
	    d->publish_ns <= at)
		return;
	d->early_republishes++;
	d->publish_ns = at;
	um_node_dht_jobs_at(d, at);
}

/* ---- a node finding relays ---- */

static void relays_found(struct um_node_dht *d, const struct um_dht_relay_record *rec)
{
	struct dht_relays *f = &d->relays;

	for (unsigned i = 0; i < f->n; i++)
		if (!memcmp(&f->records[i].id, &rec->id, sizeof(rec->id))) {
			if (rec->sequence > f->records[i].sequence)
				f->records[i] = *rec;
			return;
		}
	if (f->n < DHT_RELAYS_MAX)
		f->records[f->n++] = *rec;
}

/* Adds the relays of list not already there (same ID or address), up to
 * UM_CONFIG_RELAYS_MAX in all, to the uplinks as if configured. While one
 * of our uplinks is registered nothing changes (starting the uplinks over
 * would cut the peers relayed through it); otherwise they start over with
 * the longer list. Returns how many were added (0: none) or -UM_E*. */
static int uplinks_add(struct um_node *node, const struct um_uplink_relay *relays, size_t n)
{
	struct um_uplink_relay list[UM_CONFIG_RELAYS_MAX];
	size_t have = 0, added = 0;

	if (!node->dataplane)
		return -UM_ESTATE;
	for (size_t i = 0; i < node->n_uplinks; i++) {
		const struct um_relay_client_uplink *cu = um_uplink_client(node, (unsigned)i);
		if (cu->state == UM_RELAY_CLIENT_REGISTERED)
			return 0; /* in use: keep the uplinks (and the peers' routes through them) */
		const struct um_node_uplink *u = &node->uplinks[i];
		list[have++] = (struct um_uplink_relay){.addr = u->tls ? u->remote : u->addr,
							.tls = u->tls,
							.has_id = cu->has_relay_id,
							.id = cu->relay_id};
	}
	for (size_t i = 0; i < n && have < UM_CONFIG_RELAYS_MAX; i++) {
		bool known = false;
		for (size_t j = 0; j < have && !known; j++)
			known = (relays[i].has_id && list[j].has_id &&
				 !memcmp(&relays[i].id, &list[j].id, sizeof(list[j].id))) ||
				(list[j].tls == relays[i].tls && um_addr_equal(&list[j].addr, &relays[i].addr));
		if (!known) {
			list[have++] = relays[i];
			added++;
		}
	}
	if (!added)
		return 0;
	um_uplinks_stop(node);
	int r = um_uplinks_start_list(node, list, have);
	if (r == 0)
		um_log_info("relays: %zu found at run time, %zu in all", added, have);
	return r ? r : (int)added;
}

/* The lookup ended: hand what verified to the uplinks (UDP endpoints; a
 * wss:// one when its host is an address literal). */
static void relays_hand(struct um_node_dht *d)
{
	struct dht_relays *f = &d->relays;
	struct um_uplink_relay list[UM_CONFIG_RELAYS_MAX];
	size_t n = 0;

	for (unsigned i = 0; i < f->n && n < UM_CONFIG_RELAYS_MAX; i++) {
		const struct um_dht_relay_record *rec = &f->records[i];
		struct um_uplink_relay *u = &list[n];
		memset(u, 0, sizeof(*u));
		u->has_id = true;
		u->id = rec->id;
		bool ok = false;
		for (unsigned j = 0; j < rec->udp_count && !ok; j++)
			ok = um_node_dht_endpoint_to_addr(&rec->udp[j], &u->addr);
		if (!ok && rec->wss_port && um_addr_parse_host(&u->addr, rec->wss_host) == 0) {
			u->addr.port = rec->wss_port;
			u->tls = true;
			ok = true;
		}
		if (ok)
			n++;
	}
	f->found = f->n;
	int r = n ? uplinks_add(d->node, list, n) : 0;
	if (r > 0) {
		f->handed += (unsigned)r;
		f->waited = 0;
		um_log_info("dht: %d relays found through the DHT added (%zu verified records)", r, n);
	} else if (r < 0) {
		um_log_warn("dht: adding relays found through the DHT: %s", um_strerror(r));
	}
}

void um_node_dht_relays_event(struct um_node_dht *d, const struct um_dht_event *e)
{
	struct dht_relays *f = &d->relays;
	struct um_dht_relay_record rec;

	if (e->type == UM_DHT_EVENT_CONTACT_ADDED) {
		/* First contacts while no relay is known: look soon. */
		if (!f->looking && !f->found && f->failures < 3 && f->next_ns > um_now_ns() + RELAYS_WAIT_NS / 2) {
			f->next_ns = um_now_ns() + RELAYS_WAIT_NS / 2;
			um_node_dht_jobs_at(d, f->next_ns);
		}
		return;
	}
	unsigned slot = 0;
	while (slot < f->q.n && !(f->q.running[slot] && f->q.ids[slot] == e->id))
		slot++;
	if (!f->looking || slot == f->q.n)
		return;
	if (e->type == UM_DHT_EVENT_VALUE) {
		if (um_dht_relay_value_open(&rec, d->has_network_key ? &d->network_key : NULL, e->key, e->value,
					    e->value_len, um_node_dht_unix_now()) == 0)
			relays_found(d, &rec);
		return;
	}
	if (e->type != UM_DHT_EVENT_LOOKUP_DONE)
		return;
	f->q.running[slot] = false;
	if (e->elapsed_ns > f->q.elapsed_ns)
		f->q.elapsed_ns = e->elapsed_ns;
	f->q.messages += e->messages;
	for (unsigned i = 0; i < f->q.n; i++)
		if (f->q.running[i])
			return; /* the other keys' lookups still running */
	f->looking = false;
	um_node_dht_recent_add(d, DHT_OP_GET, f->q.keys[0], &f->q, f->n > 0);
	uint64_t now = um_now_ns();
	if (f->n) {
		relays_hand(d);
		f->failures = 0;
		f->next_ns = now + (f->handed ? RELAYS_RECHECK_NS : RELAY_RETRY_NS);
	} else {
		f->failures++;
		uint64_t wait = RELAY_RETRY_NS << (f->failures < 4 ? f->failures : 4);
		f->next_ns = now + (wait < RELAYS_RETRY_MAX_NS ? wait : RELAYS_RETRY_MAX_NS);
	}
	um_node_dht_jobs_at(d, f->next_ns);
}

void um_node_dht_relays_job(struct um_node_dht *d, uint64_t now)
{
	struct dht_relays *f = &d->relays;

	/* Relays handed: our record names them once registered (looked at
	 * each second for a minute; then the 30 s endpoint check does it). */
	if (f->handed && d->published_ns && !d->n_relays_published && f->waited < 60) {
		f->waited++;
		um_node_dht_endpoints_changed(d->node);
		um_node_dht_jobs_at(d, now + RELAYS_WAIT_NS);
	}
	if (f->looking)
		return;
	if (f->next_ns <= now) {
		/* A private network's relays only, unless public-relays = on. */
		int n = um_dht_relay_lookup_keys(f->q.keys, d->has_network_key ? &d->network_key : NULL,
						 d->node->config.public_relays, um_node_dht_unix_now());
		f->q.n = n > 0 ? (unsigned)n : 0;
		f->n = 0;
		f->looking = true; /* before the start: our own store may answer at once */
		if (um_node_dht_query_start(d, &f->q) == 0)
			return;
		f->looking = false;
		f->next_ns = now + RELAY_RETRY_NS;
	}
	um_node_dht_jobs_at(d, f->next_ns);
}
