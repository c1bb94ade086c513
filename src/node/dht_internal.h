/* SPDX-License-Identifier: MIT */
/* State of the node's DHT glue, shared by dht.c (engine, records, peer
 * lookups), dht_bootstrap.c (the bootstrap API thread) and dht_control.c
 * (umbra dht). Internal to node/. */
#ifndef UM_NODE_DHT_INTERNAL_H
#define UM_NODE_DHT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dht/bootstrap.h"
#include "dht/dht.h"
#include "dht/network_key.h"
#include "dht/record.h"
#include "net/loop.h"
#include "node/dht.h"

enum {
	DHT_OPS_MAX = 16,        /* control-socket lookups/puts kept for dht-result */
	DHT_RECENT_MAX = 16,     /* finished lookups shown by dht=status */
	DHT_QUEUE_MAX = 64,      /* bootstrap thread -> loop */
	DHT_KEYS_MAX = 3,        /* a private peer: today's and yesterday's key; relays: + the public key */
	DHT_WANTED_MAX = 32,     /* peers the thread asks the bootstrap API for */
	DHT_MAILBOX_LOOKUPS = 8, /* peers' mailbox records looked up at once (dht_publish.c) */
};

/* dht_publish.c: our mailbox record and peers' lookups. */
struct dht_mailbox_lookup {
	uint64_t id; /* 0 = free */
	uint8_t peer[32];
	struct um_node_dht_mailbox_values found;
	uint64_t sequences[UM_NODE_DHT_MAILBOX_VALUES];
};

struct dht_mailbox {
	uint8_t *value; /* owned: our record (NULL: none) */
	size_t len;
	uint8_t key[32];
	uint64_t put_id, next_ns, published_ns, puts;
	unsigned storers;
	struct dht_mailbox_lookup lookups[DHT_MAILBOX_LOOKUPS];
	um_node_dht_mailbox_fn fn;
	void *ctx;
};

enum dht_op_kind {
	DHT_OP_FREE = 0,
	DHT_OP_LOOKUP, /* a peer's record (control) */
	DHT_OP_GET,    /* raw values under a key (control) */
	DHT_OP_PUT,    /* a value, or our own record (control) */
};

/* A lookup of one key or peer: up to DHT_KEYS_MAX engine operations. */
struct dht_query {
	uint64_t ids[DHT_KEYS_MAX];
	uint8_t keys[DHT_KEYS_MAX][32];
	bool running[DHT_KEYS_MAX];
	unsigned n;
	uint64_t started_ns, elapsed_ns;
	unsigned messages, n_closest;
};

/* A control-socket operation; its id (dht-result=) is ids[0]. */
struct dht_op {
	enum dht_op_kind kind;
	bool done;
	struct dht_query q;
	struct um_peer_id peer; /* LOOKUP */
	bool has_record;
	struct um_dht_peer_record record; /* LOOKUP: the highest sequence found */
	uint8_t *value;                   /* GET: the first value (owned, malloc) */
	size_t value_len;
	unsigned values;  /* valid values reported */
	unsigned storers; /* PUT */
	int error;        /* start or put error */
};

/* Per configured peer. */
struct dht_peer {
	enum um_node_found found;
	bool wanted;        /* no configured endpoint, no relays: look it up */
	bool looking;       /* q running */
	struct dht_query q; /* the current lookup */
	bool has_record;
	struct um_dht_peer_record record;
	uint64_t next_ns;        /* next lookup (or check) */
	uint64_t initiate_ns;    /* non-designated side: initiate then unless up (0 = no) */
	uint64_t relay_check_ns; /* a direct attempt: through a relay then unless up (0 = no) */
	unsigned relay_checks;
	unsigned failures;    /* lookups in a row that found nothing */
	unsigned tries;       /* initiations to a found record (rotates endpoints) */
	bool asked_bootstrap; /* handed to the bootstrap thread */
};

/* A finished lookup, for status. */
struct dht_recent {
	enum dht_op_kind kind; /* LOOKUP for peer lookups too */
	uint8_t key[32];
	uint64_t elapsed_ns;
	unsigned messages;
	bool found;
};

/* Something the bootstrap thread learnt, for the loop. */
struct dht_bootstrap_item {
	bool is_peer_answer; /* GET peer/ID of a wanted peer; else a listing entry */
	struct um_bootstrap_peer peer;
};

struct dht_bootstrap {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct um_watch watch; /* eventfd: items queued */
	/* Under lock. */
	bool stop;
	struct dht_bootstrap_item queue[DHT_QUEUE_MAX];
	unsigned n_queue;
	struct um_peer_id wanted[DHT_WANTED_MAX];
	unsigned n_wanted;
	uint64_t registered, heartbeats, listings, errors;
	int last_error;
	/* Set before the thread starts, then read-only. */
	const struct um_identity *identity;
	struct um_addr endpoints[UM_BOOTSTRAP_ENDPOINTS_MAX];
	size_t n_endpoints;
	bool is_public;
	char urls[UM_CONFIG_BOOTSTRAP_MAX][UM_CONFIG_BOOTSTRAP_URL_MAX];
	bool list_only[UM_CONFIG_BOOTSTRAP_MAX]; /* a relay's own API: listed, not registered at */
	size_t n_urls;
};

enum {
	DHT_RELAYS_MAX = 4, /* relays a node takes from the DHT (<= UM_CONFIG_RELAYS_MAX) */
};

/* A node with no `relay =` line: the relays it found (dht_relay.c). */
struct dht_relays {
	struct dht_query q;
	bool looking;
	uint64_t next_ns;
	unsigned failures, found, n;
	struct um_dht_relay_record records[DHT_RELAYS_MAX]; /* of the running lookup */
	unsigned handed;                                    /* relays handed to the uplinks (dht_relay.c uplinks_add) */
	unsigned waited;                                    /* seconds waited since for our record to name one */
};

/* A DHT node: the node's ([node]: its identity, on the data plane's
 * socket, its peer record and peers) or the relay's ([relay]: the relay
 * identity, on the relay server's socket, its relay record, no peers). */
struct um_node_dht {
	struct um_node *node;
	bool relay;                                  /* the relay's DHT node */
	const struct um_identity *identity;          /* borrowed: the node's or the relay's */
	size_t n_peers;                              /* node->n_peers; 0 for the relay's */
	const struct um_config_bootstrap *bootstrap; /* [node] or [relay] lines */
	size_t n_bootstrap;
	const char *state_path;    /* dht-state ("" = none) */
	uint16_t port;             /* our UDP port */
	struct um_dht *engine;     /* owned */
	struct um_dht_output *out; /* owned scratch (~50 KB) */
	struct um_timer timer;     /* min(engine deadline, jobs_ns) */
	uint64_t jobs_ns;          /* our next job (publish, peers) */
	struct um_dht_record_clock clock;
	bool has_network_key;
	struct um_network_key network_key; /* secret: wiped at stop */
	char fingerprint[UM_NETWORK_KEY_FINGERPRINT_MAX];

	/* Our record. */
	uint64_t sequence;
	uint8_t publish_key[32];
	struct um_dht_endpoint endpoints[UM_DHT_ENDPOINTS_MAX];
	unsigned n_endpoints;
	uint64_t publish_ns; /* next (re)publish */
	uint64_t endpoints_check_ns;
	uint64_t publish_id;   /* put in flight, 0 = none */
	uint64_t published_ns; /* last put done; 0 = never */
	unsigned published_storers;
	uint64_t publish_elapsed_ns;
	uint64_t publishes;

	unsigned n_relays_published; /* home relays in our record (node) */
	unsigned early_republishes;  /* relay: republished as the table filled (dht_relay.c) */
	struct dht_relays relays;    /* node without relay = lines */

	struct dht_mailbox mailbox; /* dht_publish.c */
	struct dht_peer *peers;     /* n_peers */
	struct dht_op ops[DHT_OPS_MAX];
	unsigned next_op;
	struct dht_recent recent[DHT_RECENT_MAX];
	unsigned n_recent, recent_next;
	uint64_t lookups_found, lookups_failed;
	uint64_t bootstrap_contacts;
	bool state_loaded;
	unsigned state_contacts;

	struct dht_bootstrap boot;
	/* Upward hooks (dht_bootstrap.c installs them; dht.c calls no file
	 * above it): a control operation's events (dht_control.c), a peer the
	 * DHT could not find for the bootstrap thread to ask about (NULL: no
	 * HTTP bootstrap). */
	void (*op_event)(struct um_node_dht *d, struct dht_op *op, const struct um_dht_event *e);
	void (*want_bootstrap)(struct um_node_dht *d, const struct um_peer_id *peer);
	/* dht_relay.c: the relay's record (relay), the node's search for
	 * relays (a node without relay = lines; NULL otherwise). */
	int (*relay_publish)(struct um_node_dht *d);
	void (*relays_event)(struct um_node_dht *d, const struct um_dht_event *e);
	void (*relays_job)(struct um_node_dht *d, uint64_t now);
	/* dht_publish.c: the mailbox slot's events and job, its state freed
	 * at stop (nodes; NULL in relays). */
	void (*mailbox_event)(struct um_node_dht *d, const struct um_dht_event *e);
	void (*mailbox_job)(struct um_node_dht *d, uint64_t now);
	void (*mailbox_stop)(struct um_node_dht *d);
};

/* dht.c, the bottom: the engine and everything but the bootstrap thread
 * and the file. core_start makes *out (node->dht, or node->relay_dht when
 * relay); core_stop frees it and clears *slot. */
/* value_check: the engine's check of every value stored or found (the
 * caller's, from above: dht_publish.c's knows mailbox records too). */
int um_node_dht_core_start(struct um_node *node, bool relay,
			   int (*value_check)(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len,
					      uint64_t now_ns, struct um_dht_value_info *info),
			   struct um_node_dht **out);
void um_node_dht_core_stop(struct um_node_dht **slot);
void um_node_dht_rearm(struct um_node_dht *d);
/* A node the bootstrap API knew (GET peer/ID): its endpoints, to connect. */
void um_node_dht_bootstrap_peer(struct um_node_dht *d, const struct um_bootstrap_peer *bp);
/* dht.c: the engine's output (datagrams sent, events applied, timer). */
void um_node_dht_flush(struct um_node_dht *d);
/* dht_endpoints.c (below dht.c): up to max interface addresses with our
 * UDP port (d->port). */
size_t um_node_dht_local_addresses(const struct um_node_dht *d, struct um_addr *out, size_t max);
/* Our DHT endpoint as an um_addr (record endpoint), false if not IP. */
bool um_node_dht_endpoint_to_addr(const struct um_dht_endpoint *e, struct um_addr *a);
void um_node_dht_endpoint_add(struct um_dht_endpoint *out, unsigned *n, uint8_t kind, const struct um_addr *a);
/* Unix seconds; our record clock refreshed; next job no later than at. */
uint64_t um_node_dht_unix_now(void);
void um_node_dht_clock_refresh(struct um_node_dht *d);
void um_node_dht_jobs_at(struct um_node_dht *d, uint64_t at);
/* Puts value (borrowed) under d->publish_key in place of our earlier put,
 * unless built (the result of building it) is an error, and schedules the
 * next publish: retry_ns later with no contacts yet, 5 x retry_ns after an
 * error (logged, naming what), republish_ns after a put. Returns the error. */
int um_node_dht_publish_value(struct um_node_dht *d, int built, const uint8_t *value, size_t len, uint64_t now,
			      uint64_t retry_ns, uint64_t republish_ns, const char *what);
/* Starts a find_value of each key of q (n set); -UM_E* if none started. */
int um_node_dht_query_start(struct um_node_dht *d, struct dht_query *q);
/* Decodes a peer record value found under key for peer: public or
 * (with our network key) private. 0 or -UM_E*. */
int um_node_dht_record_decode(struct um_node_dht *d, const struct um_peer_id *peer, const uint8_t key[32],
			      const uint8_t *value, size_t len, struct um_dht_peer_record *out);
/* Where peer's record lives: 1 or 2 keys (private: today, yesterday). */
unsigned um_node_dht_peer_keys(struct um_node_dht *d, const struct um_peer_id *peer, uint8_t keys[DHT_KEYS_MAX][32]);
/* A finished lookup for status (and the found/failed counts). */
void um_node_dht_recent_add(struct um_node_dht *d, enum dht_op_kind kind, const uint8_t key[32],
			    const struct dht_query *q, bool found);
/* Publishes our record now (publish_id set). */
int um_node_dht_publish(struct um_node_dht *d);

/* dht_publish.c (above dht.c: dht_bootstrap.c installs these as the
 * hooks and the value check): the engine's value check (the DHT's records
 * and mailbox records; ctx: d->clock), the mailbox slot's events and job,
 * its state freed at stop. */
int um_node_dht_value_check(void *ctx, const uint8_t key[32], const uint8_t *value, size_t len, uint64_t now_ns,
			    struct um_dht_value_info *info);
void um_node_dht_mailbox_event(struct um_node_dht *d, const struct um_dht_event *e);
void um_node_dht_mailbox_job(struct um_node_dht *d, uint64_t now);
void um_node_dht_mailbox_stop(struct um_node_dht *d);

/* dht_relay.c (above dht.c, below dht_bootstrap.c which installs them):
 * the hooks above. */
int um_node_dht_relay_publish(struct um_node_dht *d);
void um_node_dht_relays_event(struct um_node_dht *d, const struct um_dht_event *e);
void um_node_dht_relays_job(struct um_node_dht *d, uint64_t now);
/* The relay's DHT node (its relays_event hook): republishes its record
 * while it reached fewer than k storers and new contacts come in. */
void um_node_dht_relay_record_event(struct um_node_dht *d, const struct um_dht_event *e);

/* dht_bootstrap.c, the top: um_node_dht_start/stop (node/dht.h), the
 * routing table file, the bootstrap API thread. */

/* dht_control.c (above dht.c): a control operation's events. */
void um_node_dht_op_event(struct um_node_dht *d, struct dht_op *op, const struct um_dht_event *e);

#endif
