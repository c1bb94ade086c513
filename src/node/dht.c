/* SPDX-License-Identifier: MIT */
/* The DHT inside umbrad (node/dht.h): the engine on the loop, our record,
 * configured peers found by ID, the routing table on disk. */
#include "node/dht.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/dht_internal.h"
#include "node/internal.h"
#include "node/route.h"
#include "node/session.h"
#include "node/stun.h"
#include "node/uplink.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define REPUBLISH_NS        (3600 * UM_NSEC_PER_SEC) /* records live 24 h; republished hourly */
#define ENDPOINTS_CHECK_NS  (30 * UM_NSEC_PER_SEC)   /* our endpoints compared with the record's */
#define EMPTY_RETRY_NS      (2 * UM_NSEC_PER_SEC)    /* publish/lookup with an empty table */
#define FIRST_CONTACT_NS    (300 * UM_NSEC_PER_MSEC) /* publish after the first contacts came in */
#define PEER_RECHECK_NS     (30 * UM_NSEC_PER_SEC)   /* a found or connected peer looked at again */
#define PEER_RETRY_MAX_NS   (30 * UM_NSEC_PER_SEC)
#define NON_DESIGNATED_WAIT (1500 * UM_NSEC_PER_MSEC) /* the designated side initiates first */
#define DIRECT_GRACE_NS     (2 * UM_NSEC_PER_SEC)     /* a direct attempt unanswered: a relay too */

uint64_t um_node_dht_unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

void um_node_dht_clock_refresh(struct um_node_dht *d)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	um_dht_record_clock_set(&d->clock, (uint64_t)ts.tv_sec * UM_NSEC_PER_SEC + (uint64_t)ts.tv_nsec, um_now_ns());
}

void um_node_dht_jobs_at(struct um_node_dht *d, uint64_t at)
{
	if (at < d->jobs_ns)
		d->jobs_ns = at;
}

void um_node_dht_rearm(struct um_node_dht *d)
{
	uint64_t at = um_dht_next_deadline(d->engine);

	if (d->jobs_ns < at)
		at = d->jobs_ns;
	if (at == UINT64_MAX)
		um_timer_cancel(d->node->loop, &d->timer);
	else
		um_timer_arm_at(d->node->loop, &d->timer, at);
}

/* ---- our endpoints and record ---- */

/* Reflexive (relays, STUN) first, then interface addresses with our port. */
static unsigned gather_endpoints(struct um_node_dht *d, struct um_dht_endpoint *out)
{
	struct um_node *node = d->node;
	struct um_addr stun[UM_CONFIG_STUN_MAX];
	unsigned n = 0;
	size_t n_stun = um_node_stun_candidates(node, stun, UM_CONFIG_STUN_MAX);

	for (size_t i = 0; i < node->n_uplinks; i++)
		if (node->uplinks[i].state == UM_UPLINK_REGISTERED)
			um_node_dht_endpoint_add(out, &n, UM_DHT_ENDPOINT_REFLEXIVE, &node->uplinks[i].observed);
	for (size_t i = 0; i < n_stun; i++)
		um_node_dht_endpoint_add(out, &n, UM_DHT_ENDPOINT_REFLEXIVE, &stun[i]);
	struct um_addr lan[16];
	size_t n_lan = um_node_dht_local_addresses(d, lan, sizeof(lan) / sizeof(lan[0]));
	for (size_t i = 0; i < n_lan; i++)
		um_node_dht_endpoint_add(out, &n, UM_DHT_ENDPOINT_LAN, &lan[i]);
	return n;
}

/* Our relays whose ID we know: registered ones (configured or found in the
 * DHT), else the config's pinned ones. A peer sharing one calls us there. */
static unsigned home_relays(const struct um_node *node, struct um_dht_home_relay *out)
{
	unsigned n = 0;

	for (size_t i = 0; i < node->n_uplinks && n < UM_DHT_HOME_RELAYS_MAX; i++) {
		const struct um_relay_client_uplink *cu = um_uplink_client(node, (unsigned)i);
		bool registered = cu && cu->has_relay_id && cu->state == UM_RELAY_CLIENT_REGISTERED;
		bool pinned = i < node->config.n_relays && node->config.relay_has_id[i];
		if (!registered && !pinned)
			continue;
		const struct um_node_uplink *u = &node->uplinks[i];
		struct um_dht_home_relay *r = &out[n];
		char text[UM_ADDR_TEXT_MAX];
		memset(r, 0, sizeof(*r));
		r->id = registered ? cu->relay_id : node->config.relay_ids[i];
		r->transport = u->tls ? UM_DHT_TRANSPORT_WSS : UM_DHT_TRANSPORT_UDP;
		struct um_addr host = u->tls ? u->remote : u->addr;
		r->port = host.port;
		host.port = 0;
		if (um_addr_format(&host, text, sizeof(text)))
			continue;
		/* IPv6 text without brackets; the record's host is the literal. */
		snprintf(r->host, sizeof(r->host), "%.*s", UM_DHT_HOST_MAX, text);
		char *colon = strrchr(r->host, ':');
		if (colon && !strchr(r->host, '['))
			*colon = '\0';
		n++;
	}
	return n;
}

int um_node_dht_publish_value(struct um_node_dht *d, int built, const uint8_t *value, size_t len, uint64_t now,
			      uint64_t retry_ns, uint64_t republish_ns, const char *what)
{
	int r = built;

	if (r == 0) {
		if (d->publish_id)
			um_dht_cancel(d->engine, d->publish_id);
		d->publish_id = 0;
		r = um_dht_put(d->engine, d->publish_key, value, len, now, &d->publish_id, d->out);
	}
	if (r == -UM_ESTATE) {
		d->publish_ns = now + retry_ns; /* no contacts yet */
	} else if (r) {
		um_log_warn("dht: publishing %s: %s", what, um_strerror(r));
		d->publish_ns = now + retry_ns * 5;
	} else {
		d->publishes++;
		d->publish_ns = now + republish_ns;
	}
	return r;
}

int um_node_dht_publish(struct um_node_dht *d)
{
	struct um_node *node = d->node;
	struct um_dht_peer_record rec;
	uint8_t *value = NULL;
	size_t len = 0;
	uint64_t now = um_now_ns(), unix_s = um_node_dht_unix_now();
	int r;

	if (d->relay)
		return d->relay_publish ? d->relay_publish(d) : 0;
	memset(&rec, 0, sizeof(rec));
	d->n_endpoints = gather_endpoints(d, d->endpoints);
	d->endpoints_check_ns = now + ENDPOINTS_CHECK_NS;
	rec.endpoint_count = d->n_endpoints;
	memcpy(rec.endpoints, d->endpoints, sizeof(rec.endpoints));
	rec.relay_count = d->n_relays_published = home_relays(node, rec.relays);
	/* Higher than anything published before a restart: unix ms. */
	uint64_t ms = um_wall_ms();
	d->sequence = ms > d->sequence ? ms : d->sequence + 1;
	rec.sequence = d->sequence;
	rec.issued = unix_s;
	rec.expires = unix_s + UM_DHT_RECORD_LIFETIME_MAX;
	um_node_dht_clock_refresh(d);

	value = malloc(UM_DHT_PRIVATE_RECORD_MAX);
	if (!value)
		return -UM_ENOMEM;
	if (d->has_network_key) {
		r = um_dht_private_record_build(value, UM_DHT_PRIVATE_RECORD_MAX, &len, d->publish_key, &rec,
						&node->identity, &d->network_key);
	} else {
		memcpy(d->publish_key, node->identity.id.bytes, 32);
		r = um_dht_peer_record_sign(value, UM_DHT_PRIVATE_RECORD_MAX, &len, &rec, &node->identity);
	}
	r = um_node_dht_publish_value(d, r, value, len, now, EMPTY_RETRY_NS, REPUBLISH_NS, "our record");
	free(value);
	if (r == 0) {
		um_log_debug("dht: publishing our record (sequence %llu, %u endpoints)",
			     (unsigned long long)rec.sequence, rec.endpoint_count);
	}
	um_node_dht_jobs_at(d, d->publish_ns);
	um_node_dht_flush(d);
	return r;
}

/* Our endpoints or home relays differ from the record's. */
static bool endpoints_changed(struct um_node_dht *d)
{
	struct um_dht_endpoint now[UM_DHT_ENDPOINTS_MAX];
	struct um_dht_home_relay relays[UM_DHT_HOME_RELAYS_MAX];

	if (d->relay)
		return false;
	unsigned n = gather_endpoints(d, now);
	return n != d->n_endpoints || memcmp(now, d->endpoints, n * sizeof(now[0])) ||
	       home_relays(d->node, relays) != d->n_relays_published;
}

void um_node_dht_endpoints_changed(struct um_node *node)
{
	struct um_node_dht *d = node->dht;

	if (d && d->published_ns && endpoints_changed(d))
		um_node_dht_publish(d);
}

/* ---- records ---- */

unsigned um_node_dht_peer_keys(struct um_node_dht *d, const struct um_peer_id *peer, uint8_t keys[DHT_KEYS_MAX][32])
{
	if (!d->has_network_key) {
		memcpy(keys[0], peer->bytes, 32);
		return 1;
	}
	int n = um_dht_private_lookup_keys(keys, &d->network_key, peer, um_node_dht_unix_now());
	return n > 0 ? (unsigned)n : 0;
}

int um_node_dht_record_decode(struct um_node_dht *d, const struct um_peer_id *peer, const uint8_t key[32],
			      const uint8_t *value, size_t len, struct um_dht_peer_record *out)
{
	if (d->has_network_key)
		return um_dht_private_record_open(out, &d->network_key, peer, key, value, len, um_node_dht_unix_now());
	if (memcmp(key, peer->bytes, 32))
		return -UM_EINVAL;
	return um_dht_peer_record_verify(out, key, value, len, um_node_dht_unix_now());
}

int um_node_dht_query_start(struct um_node_dht *d, struct dht_query *q)
{
	uint64_t now = um_now_ns();
	int first = -UM_EINVAL;
	unsigned started = 0;

	q->started_ns = now;
	q->elapsed_ns = 0;
	q->messages = q->n_closest = 0;
	for (unsigned i = 0; i < q->n; i++) {
		int r = um_dht_find_value(d->engine, q->keys[i], now, &q->ids[i], d->out);
		/* Running before the flush: our own store may answer at once. */
		q->running[i] = r == 0;
		um_node_dht_flush(d);
		if (r) {
			if (first == -UM_EINVAL)
				first = r;
			q->ids[i] = 0;
			continue;
		}
		started++;
	}
	return started ? 0 : first;
}

/* Which key of q the engine operation id is, or -1. */
static int query_slot(const struct dht_query *q, uint64_t id)
{
	for (unsigned i = 0; i < q->n; i++)
		if (q->running[i] && q->ids[i] == id)
			return (int)i;
	return -1;
}

static bool query_running(const struct dht_query *q)
{
	for (unsigned i = 0; i < q->n; i++)
		if (q->running[i])
			return true;
	return false;
}

void um_node_dht_recent_add(struct um_node_dht *d, enum dht_op_kind kind, const uint8_t key[32],
			    const struct dht_query *q, bool found)
{
	struct dht_recent *r = &d->recent[d->recent_next];

	r->kind = kind;
	memcpy(r->key, key, 32);
	r->elapsed_ns = q->elapsed_ns;
	r->messages = q->messages;
	r->found = found;
	d->recent_next = (d->recent_next + 1) % DHT_RECENT_MAX;
	if (d->n_recent < DHT_RECENT_MAX)
		d->n_recent++;
	if (found)
		d->lookups_found++;
	else
		d->lookups_failed++;
}

/* ---- configured peers found by ID ---- */

static void peer_lookup(struct um_node_dht *d, size_t i)
{
	struct um_node_peer *peer = &d->node->peers[i];
	struct dht_peer *p = &d->peers[i];
	uint64_t now = um_now_ns();

	p->q.n = um_node_dht_peer_keys(d, &peer->config->id, p->q.keys);
	p->has_record = false;
	int r = um_node_dht_query_start(d, &p->q);
	if (r) {
		p->next_ns = now + EMPTY_RETRY_NS;
		return;
	}
	p->looking = true;
	p->next_ns = UINT64_MAX;
}

/* Our registered uplink at one of the record's home relays (same relay
 * ID), or -1. */
static int shared_relay(const struct um_node *node, const struct um_dht_peer_record *rec)
{
	for (unsigned j = 0; j < rec->relay_count; j++)
		for (size_t i = 0; i < node->n_uplinks; i++) {
			const struct um_relay_client_uplink *cu = um_uplink_client(node, (unsigned)i);
			if (cu && cu->state == UM_RELAY_CLIENT_REGISTERED && cu->has_relay_id &&
			    !memcmp(cu->relay_id.bytes, rec->relays[j].id.bytes, UM_PEER_ID_BYTES))
				return (int)i;
		}
	return -1;
}

/* An old endpoint counts as tried: um_node_initiate takes peer->relay / home. */
static void initiate_via_relay(struct um_node_peer *peer)
{
	if (peer->endpoint.family && !peer->direct_failures)
		um_peer_route_set(peer, &(struct um_route){.kind = UM_ROUTE_DIRECT}, UM_ROUTE_WHY_DIRECT_FAILED);
	int r = um_node_initiate(peer);
	if (r)
		um_log_debug("dht: peer \"%s\": initiate through a relay: %s", peer->config->name, um_strerror(r));
}

/* Handshake to the record's endpoints (one per attempt, in turn); through
 * a relay when the record has none, or when the endpoint does not answer
 * within DIRECT_GRACE_NS (peer_relay_check). The relay: a home relay of
 * the peer's that we are registered at, else our home relay. */
static void peer_connect(struct um_node_dht *d, size_t i)
{
	struct um_node_peer *peer = &d->node->peers[i];
	struct dht_peer *p = &d->peers[i];
	struct um_route route = {.kind = UM_ROUTE_DIRECT};

	if (!p->has_record || !d->node->up)
		return;
	if (peer->state == UM_PEER_ESTABLISHED || um_handshake_peer_busy(peer->hs))
		return;
	int relay = shared_relay(d->node, &p->record);
	if (relay >= 0)
		um_peer_route_set(peer, &(struct um_route){.kind = UM_ROUTE_RELAY, .uplink = (unsigned)relay},
				  UM_ROUTE_WHY_RELAY_NEXT);
	if (!p->record.endpoint_count) {
		if (um_uplink_for_peer(d->node, peer) >= 0)
			initiate_via_relay(peer);
		return;
	}
	const struct um_dht_endpoint *e = &p->record.endpoints[p->tries++ % p->record.endpoint_count];
	if (!um_node_dht_endpoint_to_addr(e, &route.endpoint) || um_peer_route_set(peer, &route, UM_ROUTE_WHY_CONFIG))
		return;
	int r = um_node_initiate(peer);
	if (r)
		um_log_debug("dht: peer \"%s\": initiate: %s", peer->config->name, um_strerror(r));
	p->relay_check_ns = um_now_ns() + DIRECT_GRACE_NS;
	p->relay_checks = 0;
	um_node_dht_jobs_at(d, p->relay_check_ns);
}

/* A direct attempt unanswered after DIRECT_GRACE_NS (blocked, a NAT):
 * through a registered relay of ours rather than waiting out the handshake
 * timeout; none registered yet: look again each second for a while. */
static void peer_relay_check(struct um_node_dht *d, size_t i, uint64_t now)
{
	struct um_node_peer *peer = &d->node->peers[i];
	struct dht_peer *p = &d->peers[i];

	p->relay_check_ns = 0;
	if (peer->state == UM_PEER_ESTABLISHED || peer->attempt_via_relay || peer->via_relay)
		return;
	if (um_uplink_for_peer(d->node, peer) < 0) {
		if (++p->relay_checks < 10)
			p->relay_check_ns = now + UM_NSEC_PER_SEC;
		return;
	}
	um_log_debug("dht: peer \"%s\": no answer at its endpoint, trying through the relay", peer->config->name);
	initiate_via_relay(peer);
}

static void peer_record_found(struct um_node_dht *d, size_t i, enum um_node_found how)
{
	struct um_node_peer *peer = &d->node->peers[i];
	struct dht_peer *p = &d->peers[i];
	char text[UM_ADDR_TEXT_MAX] = "?";
	struct um_addr a;

	if (p->record.endpoint_count && um_node_dht_endpoint_to_addr(&p->record.endpoints[0], &a))
		um_addr_format(&a, text, sizeof(text));
	if (p->found != how)
		um_log_info("peer \"%s\": found through the %s (%u endpoints, first %s)", peer->config->name,
			    how == UM_NODE_FOUND_DHT ? "DHT" : "bootstrap API", p->record.endpoint_count, text);
	p->found = how;
	p->failures = 0;
	p->next_ns = um_now_ns() + PEER_RECHECK_NS;
	if (peer->designated) {
		peer_connect(d, i);
	} else {
		p->initiate_ns = um_now_ns() + NON_DESIGNATED_WAIT;
		um_node_dht_jobs_at(d, p->initiate_ns);
	}
	um_node_dht_jobs_at(d, p->next_ns);
}

static void peer_event(struct um_node_dht *d, size_t i, const struct um_dht_event *e)
{
	struct dht_peer *p = &d->peers[i];
	const struct um_node_peer *peer = &d->node->peers[i];
	int slot = query_slot(&p->q, e->id);
	struct um_dht_peer_record rec;

	if (slot < 0)
		return;
	if (e->type == UM_DHT_EVENT_VALUE) {
		if (um_node_dht_record_decode(d, &peer->config->id, e->key, e->value, e->value_len, &rec) == 0 &&
		    (!p->has_record || rec.sequence > p->record.sequence)) {
			p->record = rec;
			p->has_record = true;
		}
		return;
	}
	if (e->type != UM_DHT_EVENT_LOOKUP_DONE)
		return;
	p->q.running[slot] = false;
	if (e->elapsed_ns > p->q.elapsed_ns)
		p->q.elapsed_ns = e->elapsed_ns;
	p->q.messages += e->messages;
	if (query_running(&p->q))
		return;
	p->looking = false;
	um_node_dht_recent_add(d, DHT_OP_LOOKUP, peer->config->id.bytes, &p->q, p->has_record);
	if (p->has_record) {
		peer_record_found(d, i, UM_NODE_FOUND_DHT);
		return;
	}
	p->failures++;
	uint64_t wait = EMPTY_RETRY_NS << (p->failures < 4 ? p->failures : 4);
	p->next_ns = um_now_ns() + (wait < PEER_RETRY_MAX_NS ? wait : PEER_RETRY_MAX_NS);
	um_node_dht_jobs_at(d, p->next_ns);
	if (p->failures >= 5 && !p->asked_bootstrap && d->want_bootstrap) {
		p->asked_bootstrap = true;
		d->want_bootstrap(d, &peer->config->id);
	}
}

/* ---- the engine's output ---- */

static void on_event(struct um_node_dht *d, const struct um_dht_event *e)
{
	char id[UM_PEER_ID_TEXT_MAX], addr[UM_ADDR_TEXT_MAX];

	if (d->relays_event)
		d->relays_event(d, e);
	if (d->mailbox_event)
		d->mailbox_event(d, e);
	switch (e->type) {
	case UM_DHT_EVENT_CONTACT_ADDED:
		if (um_log_get_level() >= UM_LOG_DEBUG && um_peer_id_format_short(&e->peer, id, sizeof(id)) == 0 &&
		    um_addr_format(&e->addr, addr, sizeof(addr)) == 0)
			um_log_debug("dht: contact %s at %s", id, addr);
		/* First contacts: publish and look up soon (batched). */
		if (!d->published_ns && !d->publish_id && d->publish_ns > um_now_ns() + FIRST_CONTACT_NS) {
			d->publish_ns = um_now_ns() + FIRST_CONTACT_NS;
			um_node_dht_jobs_at(d, d->publish_ns);
		}
		for (size_t i = 0; i < d->n_peers; i++) {
			struct dht_peer *p = &d->peers[i];
			/* New contacts while a peer is missing: look again soon,
			 * but only the first few times (then the backoff rules). */
			if (p->wanted && !p->looking && !p->has_record && p->failures < 3 &&
			    p->next_ns > um_now_ns() + FIRST_CONTACT_NS) {
				p->next_ns = um_now_ns() + FIRST_CONTACT_NS;
				um_node_dht_jobs_at(d, p->next_ns);
			}
		}
		return;
	case UM_DHT_EVENT_CONTACT_EVICTED:
	case UM_DHT_EVENT_NONE:
		return;
	case UM_DHT_EVENT_PUT_DONE:
		if (e->id == d->publish_id && d->publish_id) {
			d->publish_id = 0;
			d->published_ns = um_now_ns();
			d->published_storers = e->storers;
			d->publish_elapsed_ns = e->elapsed_ns;
			um_log_debug("dht: record stored at %u nodes in %llu ms", e->storers,
				     (unsigned long long)(e->elapsed_ns / UM_NSEC_PER_MSEC));
			if (!e->storers) { /* nobody took it: try again soon */
				d->publish_ns = um_now_ns() + EMPTY_RETRY_NS;
				um_node_dht_jobs_at(d, d->publish_ns);
			}
		}
		break; /* and to a `dht put self` waiting for it */
	case UM_DHT_EVENT_VALUE:
	case UM_DHT_EVENT_LOOKUP_DONE:
		break;
	}
	for (unsigned i = 0; i < DHT_OPS_MAX; i++)
		if (d->ops[i].kind != DHT_OP_FREE && !d->ops[i].done)
			d->op_event(d, &d->ops[i], e);
	for (size_t i = 0; i < d->n_peers; i++)
		if (d->peers[i].looking)
			peer_event(d, i, e);
}

void um_node_dht_flush(struct um_node_dht *d)
{
	struct um_node *node = d->node;
	struct um_dht_output *out = d->out;
	struct sockaddr_storage ss;

	/* Events may start lookups that reuse out: take a copy of the count
	 * and handle datagrams first. */
	for (unsigned i = 0; i < out->n_datagrams; i++) {
		const struct um_dht_datagram *g = &out->datagrams[i];
		int r, len;
		if (d->relay) {
			r = um_relay_server_send(node->relay_server, &g->to, g->bytes, g->len);
		} else {
			len = um_addr_to_sockaddr(&g->to, &ss);
			if (len < 0)
				continue;
			r = um_dataplane_send_datagram(node->dataplane, (struct sockaddr *)&ss, (socklen_t)len,
						       g->bytes, g->len);
		}
		if (r)
			um_log_debug("dht: send failed: %s", um_strerror(r));
	}
	out->n_datagrams = 0;
	unsigned n = out->n_events;
	struct um_dht_event events[UM_DHT_OUTPUT_EVENTS];
	memcpy(events, out->events, n * sizeof(events[0]));
	out->n_events = 0;
	for (unsigned i = 0; i < n; i++)
		on_event(d, &events[i]);
	um_node_dht_rearm(d);
}

/* ---- jobs and timer ---- */

static void run_jobs(struct um_node_dht *d)
{
	struct um_node *node = d->node;
	uint64_t now = um_now_ns();

	d->jobs_ns = UINT64_MAX;
	if (d->publish_ns <= now && !d->publish_id)
		um_node_dht_publish(d);
	else if (d->endpoints_check_ns <= now) {
		d->endpoints_check_ns = now + ENDPOINTS_CHECK_NS;
		if (d->published_ns && endpoints_changed(d))
			um_node_dht_publish(d);
	}
	if (d->relays_job)
		d->relays_job(d, now);
	if (d->mailbox_job)
		d->mailbox_job(d, now);
	um_node_dht_jobs_at(d, d->publish_id ? now + REPUBLISH_NS : d->publish_ns);
	um_node_dht_jobs_at(d, d->endpoints_check_ns);
	for (size_t i = 0; i < d->n_peers; i++) {
		struct dht_peer *p = &d->peers[i];
		struct um_node_peer *peer = &node->peers[i];
		if (!p->wanted)
			continue;
		if (p->initiate_ns && p->initiate_ns <= now) {
			p->initiate_ns = 0;
			peer_connect(d, i);
		}
		if (p->relay_check_ns && p->relay_check_ns <= now)
			peer_relay_check(d, i, now);
		if (p->relay_check_ns)
			um_node_dht_jobs_at(d, p->relay_check_ns);
		if (!p->looking && p->next_ns <= now) {
			/* Connected: only look again once it is lost. */
			if (peer->state == UM_PEER_ESTABLISHED)
				p->next_ns = now + PEER_RECHECK_NS;
			else
				peer_lookup(d, i);
		}
		if (p->initiate_ns)
			um_node_dht_jobs_at(d, p->initiate_ns);
		if (!p->looking)
			um_node_dht_jobs_at(d, p->next_ns);
	}
}

static void on_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_dht *d = timer->arg;
	(void)loop;

	um_dht_tick(d->engine, um_now_ns(), d->out);
	um_node_dht_flush(d);
	if (d->jobs_ns <= um_now_ns())
		run_jobs(d);
	um_node_dht_rearm(d);
}

void um_node_dht_receive(struct um_node *node, const struct um_addr *from, const uint8_t *data, size_t len)
{
	struct um_node_dht *d = node->dht;

	if (!d)
		return;
	um_dht_receive(d->engine, from, data, len, um_now_ns(), d->out);
	um_node_dht_flush(d);
}

/* The relay server's DHT datagrams (relay/server.h dht_receive). */
static void relay_receive(void *arg, const struct um_addr *from, const uint8_t *data, size_t len)
{
	struct um_node_dht *d = arg;

	um_dht_receive(d->engine, from, data, len, um_now_ns(), d->out);
	um_node_dht_flush(d);
}

/* A peer the bootstrap API knew (the thread's GET peer/ID): its endpoints
 * as a record of ours (unsigned: the handshake authenticates). */
void um_node_dht_bootstrap_peer(struct um_node_dht *d, const struct um_bootstrap_peer *bp)
{
	struct um_node *node = d->node;
	struct um_node_peer *peer = d->relay ? NULL : um_node_peer_find(node, &bp->id);

	if (!peer)
		return;
	size_t i = (size_t)(peer - node->peers);
	struct dht_peer *p = &d->peers[i];
	if (!p->wanted || p->has_record || peer->state == UM_PEER_ESTABLISHED)
		return;
	memset(&p->record, 0, sizeof(p->record));
	p->record.id = bp->id;
	for (size_t j = 0; j < bp->n_endpoints && p->record.endpoint_count < UM_DHT_ENDPOINTS_MAX; j++)
		um_node_dht_endpoint_add(p->record.endpoints, &p->record.endpoint_count, UM_DHT_ENDPOINT_LAN,
					 &bp->endpoints[j]);
	if (!p->record.endpoint_count)
		return;
	p->has_record = true;
	peer_record_found(d, i, UM_NODE_FOUND_BOOTSTRAP);
	um_node_dht_rearm(d);
}

/* ---- start / stop ---- */

/* relay: the relay's DHT node ([relay] dht, its identity and socket, no
 * peers); else the node's ([node] dht). */
int um_node_dht_core_start(struct um_node *node, bool relay,
			   int (*value_check)(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len,
					      uint64_t now_ns, struct um_dht_value_info *info),
			   struct um_node_dht **slot)
{
	const struct um_config *c = &node->config;
	struct um_node_dht *d;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -UM_ENOMEM;
	*slot = d;
	d->node = node;
	d->relay = relay;
	d->identity = relay ? node->relay_server->identity : &node->identity;
	d->n_peers = relay ? 0 : node->n_peers;
	d->bootstrap = relay ? c->relay.bootstrap : c->bootstrap;
	d->n_bootstrap = relay ? c->relay.n_bootstrap : c->n_bootstrap;
	d->state_path = relay ? c->relay.dht_state : c->dht_state;
	d->port = relay ? node->relay_server->port : um_dataplane_port(node->dataplane);
	d->jobs_ns = UINT64_MAX;
	um_timer_init(&d->timer, on_timer, d);
	um_node_dht_clock_refresh(d);
	const char *network_key = relay ? c->relay.network_key : c->network_key; /* relay: its records sealed */
	if (network_key[0]) {
		r = um_network_key_load(&d->network_key, network_key);
		if (r) {
			um_log_error("network key %s: %s", network_key, um_strerror(r));
			return r;
		}
		d->has_network_key = true;
		um_network_key_fingerprint(&d->network_key, d->fingerprint, sizeof(d->fingerprint));
	}
	d->out = malloc(sizeof(*d->out));
	d->peers = calloc(d->n_peers ? d->n_peers : 1, sizeof(*d->peers));
	if (!d->out || !d->peers)
		return -UM_ENOMEM;
	memset(d->out, 0, sizeof(*d->out));
	struct um_dht_config config = {
	    .identity = d->identity,
	    .k = c->dht_k,
	    .alpha = c->dht_alpha,
	    .no_diversity = relay ? !c->relay.dht_diversity : !c->dht_diversity,
	};
	struct um_dht_value_ops ops = {.ctx = &d->clock, .check = value_check};
	r = um_dht_create(&d->engine, &config, &ops, um_now_ns());
	if (r) {
		um_log_error("dht: %s", um_strerror(r));
		return r;
	}
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct um_config_peer *cp = node->peers[i].config;
		d->peers[i].wanted = !cp->endpoint.family && !c->n_relays;
		d->peers[i].next_ns = um_now_ns() + EMPTY_RETRY_NS;
		um_node_dht_jobs_at(d, d->peers[i].next_ns);
	}
	d->publish_ns = um_now_ns() + EMPTY_RETRY_NS / 4;
	d->endpoints_check_ns = um_now_ns() + ENDPOINTS_CHECK_NS;
	um_node_dht_jobs_at(d, d->publish_ns);
	if (relay) {
		node->relay_server->dht_receive = relay_receive;
		node->relay_server->dht_arg = d;
	}
	um_log_info("dht%s: on (k %u, alpha %u, %s records%s%s, %zu bootstrap lines%s)", relay ? " (relay)" : "",
		    c->dht_k, c->dht_alpha, d->has_network_key ? "private" : "public", d->has_network_key ? " of " : "",
		    d->has_network_key ? d->fingerprint : "", d->n_bootstrap,
		    config.no_diversity ? ", address diversity off" : "");
	um_node_dht_rearm(d);
	return 0;
}

void um_node_dht_core_stop(struct um_node_dht **slot)
{
	struct um_node_dht *d = *slot;

	if (d->relay && d->node->relay_server && d->node->relay_server->dht_arg == d) {
		d->node->relay_server->dht_receive = NULL;
		d->node->relay_server->dht_arg = NULL;
	}
	um_timer_cancel(d->node->loop, &d->timer);
	if (d->engine)
		um_dht_destroy(d->engine);
	for (unsigned i = 0; i < DHT_OPS_MAX; i++)
		free(d->ops[i].value);
	if (d->mailbox_stop)
		d->mailbox_stop(d);
	free(d->out);
	free(d->peers);
	um_network_key_wipe(&d->network_key);
	free(d);
	*slot = NULL;
}
