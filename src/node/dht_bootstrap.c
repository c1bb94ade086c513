/* SPDX-License-Identifier: MIT */
/* `bootstrap = http://HOST:PORT` (node/dht.h): one small thread runs the
 * blocking client (http/bootstrap_client.h) so the loop never waits on
 * HTTP. Per API: challenge -> register (public unless a network key is set)
 * -> list peers; then every HEARTBEAT_S a heartbeat (register again if the
 * relay forgot us) and another listing while our table is small, and GET
 * peer/ID for peers the loop could not find in the DHT. Listings and
 * answers go to the loop through a queue under a mutex and an eventfd; the
 * loop adds them as contacts (each proves itself by PING before it counts).
 * At stop: unregister, then the thread ends (joined).
 *
 * Also here: the routing table in [node] dht-state, loaded at start and
 * saved at a clean stop, so a restarted node rejoins without any bootstrap
 * server (the saved contacts prove themselves again by PING). */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/bootstrap_client.h"
#include "node/dht_internal.h"
#include "node/internal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define STATE_MAX_BYTES (1 << 20)

enum {
	HEARTBEAT_S = 30,
	SMALL_TABLE = 16, /* contacts below which listings seed the table */
};

/* ---- the routing table on disk: a restarted node rejoins from it ---- */

static void state_load(struct um_node_dht *d)
{
	const char *path = d->state_path;
	uint8_t *buf = NULL;
	struct stat st;
	int fd;

	if (!path[0] || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (fstat(fd, &st) || st.st_size <= 0 || st.st_size > STATE_MAX_BYTES || !(buf = malloc((size_t)st.st_size)))
		goto out;
	if (read(fd, buf, (size_t)st.st_size) != st.st_size)
		goto out;
	int r = um_dht_contacts_load(d->engine, buf, (size_t)st.st_size, um_now_ns(), d->out);
	if (r < 0) {
		um_log_warn("dht: routing table %s: %s (starting empty)", path, um_strerror(r));
		goto out;
	}
	d->state_loaded = true;
	d->state_contacts = (unsigned)(((size_t)st.st_size - 8) / 52); /* "UMDHT" v count, then ID + endpoint each */
	um_log_info("dht: %u saved contacts from %s (each PINGed for its proof)", d->state_contacts, path);
	um_node_dht_flush(d);
out:
	free(buf);
	close(fd);
}

static void state_save(struct um_node_dht *d)
{
	const char *path = d->state_path;
	char tmp[UM_CONFIG_PATH_MAX + 8];
	size_t size = um_dht_contacts_save_size(d->engine);
	uint8_t *buf;
	int fd, r;

	if (!path[0] || !size || !(buf = malloc(size)))
		return;
	r = um_dht_contacts_save(d->engine, buf, size);
	if (r < 0)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		um_log_warn("dht: saving the routing table to %s: %s", tmp, strerror(errno));
		goto out;
	}
	bool ok = write(fd, buf, (size_t)r) == r && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path)) {
		um_log_warn("dht: saving the routing table to %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	um_log_info("dht: %u contacts saved to %s", um_dht_contact_count(d->engine), path);
out:
	free(buf);
}

/* ---- thread side ---- */

static void queue_push(struct dht_bootstrap *b, bool answer, const struct um_bootstrap_peer *peer)
{
	uint64_t one = 1;

	pthread_mutex_lock(&b->lock);
	if (b->n_queue < DHT_QUEUE_MAX) {
		b->queue[b->n_queue].is_peer_answer = answer;
		b->queue[b->n_queue].peer = *peer;
		b->n_queue++;
	}
	pthread_mutex_unlock(&b->lock);
	if (write(b->watch.fd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the loop wakes anyway */
	}
}

static void count(struct dht_bootstrap *b, uint64_t *counter, int r)
{
	pthread_mutex_lock(&b->lock);
	if (r)
		b->errors++, b->last_error = r;
	else if (counter)
		(*counter)++;
	pthread_mutex_unlock(&b->lock);
}

static void list_peers(struct dht_bootstrap *b, struct um_bootstrap_client *client)
{
	struct um_bootstrap_peer peers[UM_BOOTSTRAP_LIST_MAX];
	size_t n = 0;
	int r = um_bootstrap_client_peers(client, peers, UM_BOOTSTRAP_LIST_MAX, &n);

	count(b, &b->listings, r);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (memcmp(&peers[i].id, &b->identity->id, sizeof(peers[i].id)))
			queue_push(b, false, &peers[i]);
}

static int do_register(struct dht_bootstrap *b, struct um_bootstrap_client *client)
{
	int r = um_bootstrap_client_register(client, b->identity, b->endpoints, b->n_endpoints, b->is_public, NULL);

	count(b, &b->registered, r);
	if (r)
		um_log_warn("bootstrap %s: register: %s", client->http.base, um_strerror(r));
	else
		um_log_info("bootstrap %s: registered (%s, %zu endpoints)", client->http.base,
			    b->is_public ? "public" : "private", b->n_endpoints);
	return r;
}

static void ask_wanted(struct dht_bootstrap *b, struct um_bootstrap_client *client)
{
	struct um_peer_id wanted[DHT_WANTED_MAX];
	unsigned n;

	pthread_mutex_lock(&b->lock);
	n = b->n_wanted;
	memcpy(wanted, b->wanted, n * sizeof(wanted[0]));
	pthread_mutex_unlock(&b->lock);
	for (unsigned i = 0; i < n; i++) {
		struct um_bootstrap_peer peer;
		if (um_bootstrap_client_peer(client, &wanted[i], false, &peer) == 0)
			queue_push(b, true, &peer);
	}
}

/* Waits until deadline (CLOCK_REALTIME, the condition's clock) or stop. */
static bool wait_or_stop(struct dht_bootstrap *b, unsigned seconds)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&b->lock);
	while (!b->stop && pthread_cond_timedwait(&b->cond, &b->lock, &until) != ETIMEDOUT)
		;
	stop = b->stop;
	pthread_mutex_unlock(&b->lock);
	return stop;
}

static void *thread_main(void *arg)
{
	struct dht_bootstrap *b = arg;
	struct um_bootstrap_client clients[UM_CONFIG_BOOTSTRAP_MAX];
	bool registered[UM_CONFIG_BOOTSTRAP_MAX] = {0}, list_only[UM_CONFIG_BOOTSTRAP_MAX] = {0};
	size_t n = 0;

	for (size_t i = 0; i < b->n_urls; i++) {
		if (um_bootstrap_client_init(&clients[n], b->urls[i])) {
			um_log_warn("bootstrap %s: not a usable URL", b->urls[i]);
			continue;
		}
		list_only[n++] = b->list_only[i];
	}
	for (unsigned round = 0;; round++) {
		for (size_t i = 0; i < n; i++) {
			if (list_only[i]) {
				list_peers(b, &clients[i]);
				continue;
			}
			if (registered[i]) {
				int r = um_bootstrap_client_heartbeat(&clients[i], b->identity, NULL);
				count(b, &b->heartbeats, r);
				if (r == -UM_ENOTFOUND || r == -UM_EREPLAY || r == -UM_EBADMSG)
					registered[i] = false; /* the relay forgot us (restarted) */
			}
			if (!registered[i])
				registered[i] = do_register(b, &clients[i]) == 0;
			/* Nodes register at once at start: list a few times. */
			if (round < 3 || round % 10 == 0)
				list_peers(b, &clients[i]);
			ask_wanted(b, &clients[i]);
		}
		/* The first rounds come quicker: other nodes are registering too. */
		if (wait_or_stop(b, round < 3 ? 3 : HEARTBEAT_S))
			break;
	}
	for (size_t i = 0; i < n; i++) {
		if (registered[i])
			um_bootstrap_client_unregister(&clients[i], b->identity);
		um_bootstrap_client_close(&clients[i]);
	}
	return NULL;
}

/* ---- loop side ---- */

static void on_items(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct um_node_dht *d = watch->arg;
	struct dht_bootstrap *b = &d->boot;
	struct dht_bootstrap_item items[DHT_QUEUE_MAX];
	uint64_t value;
	unsigned n;
	(void)loop;
	(void)events;

	if (read(watch->fd, &value, sizeof(value)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&b->lock);
	n = b->n_queue;
	memcpy(items, b->queue, n * sizeof(items[0]));
	b->n_queue = 0;
	pthread_mutex_unlock(&b->lock);
	for (unsigned i = 0; i < n; i++) {
		const struct um_bootstrap_peer *p = &items[i].peer;
		if (items[i].is_peer_answer) {
			um_node_dht_bootstrap_peer(d, p);
			continue;
		}
		if (um_dht_contact_count(d->engine) >= SMALL_TABLE)
			continue;
		/* Its endpoints, and the address the API saw it at with its
		 * port (a node behind a port-preserving NAT registers only its
		 * LAN address). Only one that answers with its proof counts. */
		struct um_addr addrs[UM_BOOTSTRAP_ENDPOINTS_MAX + 1];
		size_t n_addrs = 0;
		for (size_t j = 0; j < p->n_endpoints; j++)
			addrs[n_addrs++] = p->endpoints[j];
		struct um_addr seen = p->observed;
		seen.port = p->n_endpoints ? p->endpoints[0].port : 0;
		bool known = !seen.family || !seen.port;
		for (size_t j = 0; j < n_addrs && !known; j++)
			known = um_addr_equal(&addrs[j], &seen);
		if (!known)
			addrs[n_addrs++] = seen;
		for (size_t j = 0; j < n_addrs; j++) {
			struct um_dht_contact c = {.id = p->id, .addr = addrs[j]};
			int r = p->has_id ? um_dht_add_contact(d->engine, &c, um_now_ns(), d->out)
					  : um_dht_add_contact_address(d->engine, &addrs[j], um_now_ns(), d->out);
			if (r == 0)
				d->bootstrap_contacts++;
			um_node_dht_flush(d);
		}
	}
}

static void bootstrap_want(struct um_node_dht *d, const struct um_peer_id *peer)
{
	struct dht_bootstrap *b = &d->boot;

	pthread_mutex_lock(&b->lock);
	if (b->n_wanted < DHT_WANTED_MAX)
		b->wanted[b->n_wanted++] = *peer;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

static int bootstrap_start(struct um_node_dht *d)
{
	struct um_node *node = d->node;
	struct dht_bootstrap *b = &d->boot;
	int r;

	for (size_t i = 0; i < d->n_bootstrap; i++)
		if (d->bootstrap[i].http)
			snprintf(b->urls[b->n_urls++], sizeof(b->urls[0]), "%s", d->bootstrap[i].url);
	/* A relay serving the API seeds its table from the API's listing
	 * (without registering there: the nodes learn the relay's DHT node
	 * when it stores its record at them). */
	const struct um_config_relay_server *rc = &node->config.relay;
	if (d->relay && rc->api.family && !rc->api_certificate[0] && b->n_urls < UM_CONFIG_BOOTSTRAP_MAX) {
		char text[UM_ADDR_TEXT_MAX], url[UM_CONFIG_BOOTSTRAP_URL_MAX];
		bool listed = false;
		um_addr_format(&rc->api, text, sizeof(text));
		snprintf(url, sizeof(url), "http://%s", text);
		for (size_t i = 0; i < b->n_urls; i++)
			listed = listed || !strcmp(b->urls[i], url);
		if (!listed) {
			b->list_only[b->n_urls] = true;
			snprintf(b->urls[b->n_urls++], sizeof(b->urls[0]), "%s", url);
		}
	}
	if (!b->n_urls)
		return 0;
	b->identity = d->identity;
	b->is_public = !d->has_network_key;
	b->n_endpoints = um_node_dht_local_addresses(d, b->endpoints, UM_BOOTSTRAP_ENDPOINTS_MAX);
	if (!b->n_endpoints) {
		um_log_warn("bootstrap: no interface address to register");
		return 0;
	}
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	b->watch = (struct um_watch){.events = EPOLLIN, .fn = on_items, .arg = d};
	b->watch.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->watch.fd < 0)
		return -errno;
	r = um_loop_add(node->loop, &b->watch);
	if (r) {
		close(b->watch.fd);
		return r;
	}
	r = pthread_create(&b->thread, NULL, thread_main, b);
	if (r) {
		um_loop_remove(node->loop, &b->watch);
		close(b->watch.fd);
		return -r;
	}
	b->started = true;
	return 0;
}

static void bootstrap_stop(struct um_node_dht *d)
{
	struct um_node *node = d->node;
	struct dht_bootstrap *b = &d->boot;

	if (!b->started)
		return;
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	um_loop_remove(node->loop, &b->watch);
	close(b->watch.fd);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	b->started = false;
}

/* ---- start / stop (node/dht.h) ---- */

static int start_one(struct um_node *node, bool relay, struct um_node_dht **slot)
{
	struct um_node_dht *d;
	int r = um_node_dht_core_start(node, relay, um_node_dht_value_check, slot);

	if (r)
		return r;
	d = *slot;
	d->op_event = um_node_dht_op_event;
	if (!relay) {
		d->mailbox_event = um_node_dht_mailbox_event;
		d->mailbox_job = um_node_dht_mailbox_job;
		d->mailbox_stop = um_node_dht_mailbox_stop;
	}
	if (relay) {
		d->relay_publish = um_node_dht_relay_publish;
		d->relays_event = um_node_dht_relay_record_event;
	} else if (!node->config.n_relays) {
		/* No relay = line: relays come from the DHT. */
		d->relays_event = um_node_dht_relays_event;
		d->relays_job = um_node_dht_relays_job;
		d->relays.next_ns = um_now_ns() + UM_NSEC_PER_SEC;
		um_node_dht_jobs_at(d, d->relays.next_ns);
	}
	state_load(d);
	for (size_t i = 0; i < d->n_bootstrap; i++) {
		if (d->bootstrap[i].http)
			continue;
		r = um_dht_add_contact_address(d->engine, &d->bootstrap[i].udp, um_now_ns(), d->out);
		if (r)
			um_log_warn("dht: bootstrap contact: %s", um_strerror(r));
		um_node_dht_flush(d);
	}
	r = bootstrap_start(d);
	if (r)
		return r;
	if (d->boot.started && !relay)
		d->want_bootstrap = bootstrap_want;
	um_node_dht_rearm(d);
	return 0;
}

/* The node's DHT node ([node] dht, after the data plane and the peers)
 * and the relay's ([relay] dht, after the relay server), each when on. */
int um_node_dht_start(struct um_node *node)
{
	const struct um_config *c = &node->config;
	int r;

	if (c->dht && node->dataplane && !node->dht && (r = start_one(node, false, &node->dht)))
		return r;
	if (c->relay.enabled && c->relay.dht && node->relay_server && !node->relay_dht &&
	    (r = start_one(node, true, &node->relay_dht)))
		return r;
	return 0;
}

static void stop_one(struct um_node_dht **slot)
{
	struct um_node_dht *d = *slot;

	if (!d)
		return;
	bootstrap_stop(d);
	if (d->engine)
		state_save(d);
	um_node_dht_core_stop(slot);
}

void um_node_dht_stop(struct um_node *node)
{
	stop_one(&node->dht);
	stop_one(&node->relay_dht);
}
