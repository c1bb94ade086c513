/* SPDX-License-Identifier: MIT */
/* Control side of the data plane: setup, peers, keys, routes, rings.
 * Shared state that workers read is replaced copy-on-write and published
 * with an atomic pointer store; the old copy is freed after
 * um_dp_synchronize() has seen every worker pass a quiescent point (the top of
 * its event loop, where it holds no pointers). */
#include "net/dataplane.h"
#include "util/compiler.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <sodium.h>

#include "net/dataplane_impl.h"
#include "net/offload.h"
#include "net/quiet.h"
#include "net/tun.h"
#include "net/udp.h"
#include "util/clock.h"
#include "util/error.h"
#include "wire/data.h"

/* ---- quiescent-state synchronisation ---- */

/* A worker's quiescent point (it holds no key pointers and is not inside
 * seal/open): if a synchronisation was requested since it last looked, wipe
 * its cipher contexts, which may still hold a key being retired (an idle
 * worker would otherwise keep the last key it used indefinitely), then
 * announce the epoch. The epoch is read first: seeing the new epoch implies
 * seeing the wipe request made before it. */
void um_dp_worker_quiescent(struct dp_worker *w)
{
	uint64_t epoch = atomic_load(&w->dp->epoch);
	if (epoch != w->wiped_epoch) {
		um_aead_wipe(&w->aead);
		w->wiped_epoch = epoch;
	}
	atomic_store(&w->quiescent_epoch, epoch);
}

/* Every retirement of a data key (install, promote, drop, remove) frees the
 * key only after this returns, so wiping the workers' contexts here, at
 * their quiescent point, covers all of them. Synchronisations are control
 * events (a few per handshake), so the cost is one key setup per worker. */
void um_dp_synchronize(struct um_dataplane *dp)
{
	uint64_t target = atomic_fetch_add(&dp->epoch, 1) + 1;
	for (unsigned i = 0; i < dp->worker_count; i++) {
		struct dp_worker *w = &dp->workers[i];
		if (!w->started)
			continue;
		while (atomic_load(&w->quiescent_epoch) < target) {
			uint64_t one = 1;
			ssize_t n = write(w->wake_fd, &one, sizeof(one));
			(void)n;
			usleep(50);
		}
	}
}

/* A key that could not be unpublished from the index map (allocation
 * failure while rebuilding it) may still be reached by workers: wipe its
 * secrets but keep the memory (a leak on ENOMEM, never a dangling pointer). */
void um_dp_key_retire_failed(struct dp_key *key)
{
	if (key)
		sodium_memzero(key->send_key, sizeof(key->send_key) + sizeof(key->recv_key));
}

void um_dp_key_free(struct dp_key *key)
{
	if (!key)
		return;
	pthread_spin_destroy(&key->replay_lock);
	sodium_memzero(key, sizeof(*key));
	free(key);
}

/* ---- index map ---- */

UM_HOT uint32_t um_dp_index_hash(uint32_t index)
{
	index ^= index >> 16;
	index *= 0x7feb352dU;
	index ^= index >> 15;
	index *= 0x846ca68bU;
	index ^= index >> 16;
	return index;
}

UM_HOT struct dp_key *um_dp_index_lookup(const struct dp_index_map *map, uint32_t index)
{
	if (!map)
		return NULL;
	for (uint32_t i = um_dp_index_hash(index) & map->mask;; i = (i + 1) & map->mask) {
		const struct dp_index_slot *s = &map->slots[i];
		if (!s->key)
			return NULL;
		if (s->index == index)
			return s->key;
	}
}

/* Rebuild the map from every installed key (plus `extra`, not yet
 * published); -UM_EINVAL if an index is used twice. */
int um_dp_rebuild_index_map(struct um_dataplane *dp, struct dp_key *extra)
{
	size_t count = 1;
	for (unsigned p = 0; p < dp->max_peers; p++)
		for (int s = 0; s < DP_SLOTS; s++)
			count += atomic_load(&dp->peers[p].keys[s]) != NULL;
	uint32_t cap = 16;
	while (cap < count * 4)
		cap *= 2;
	struct dp_index_map *map = calloc(1, sizeof(*map) + cap * sizeof(map->slots[0]));
	if (!map)
		return -UM_ENOMEM;
	map->mask = cap - 1;
	for (unsigned p = 0; p <= dp->max_peers; p++) {
		for (int s = 0; s < DP_SLOTS; s++) {
			struct dp_key *key =
			    p < dp->max_peers ? atomic_load(&dp->peers[p].keys[s]) : (s == 0 ? extra : NULL);
			if (!key)
				continue;
			uint32_t i = um_dp_index_hash(key->local_index) & map->mask;
			while (map->slots[i].key) {
				if (map->slots[i].index == key->local_index && map->slots[i].key != key) {
					free(map);
					return -UM_EINVAL;
				}
				i = (i + 1) & map->mask;
			}
			map->slots[i].index = key->local_index;
			map->slots[i].key = key;
		}
	}
	struct dp_index_map *old = atomic_exchange(&dp->index_map, map);
	/* Keys change with the map: the keepalive context may hold one being
	 * retired (the workers' contexts are wiped in synchronize). */
	um_aead_wipe(&dp->control_aead);
	um_dp_synchronize(dp);
	free(old);
	return 0;
}

/* ---- routes ---- */

static int rebuild_routes(struct um_dataplane *dp)
{
	size_t count = 0, n = 0;
	for (unsigned p = 0; p < dp->max_peers; p++)
		if (atomic_load(&dp->peers[p].active))
			count += dp->peers[p].allowed_count;
	struct um_lpm_entry *entries = calloc(count ? count : 1, sizeof(*entries));
	struct dp_routes *routes = calloc(1, sizeof(*routes));
	int rc = -UM_ENOMEM;
	if (!entries || !routes)
		goto out;
	for (unsigned p = 0; p < dp->max_peers; p++) {
		if (!atomic_load(&dp->peers[p].active))
			continue;
		for (size_t i = 0; i < dp->peers[p].allowed_count; i++) {
			entries[n].prefix = dp->peers[p].allowed[i];
			entries[n].value = p;
			n++;
		}
	}
	if ((rc = um_lpm_build(entries, n, &routes->lpm)) < 0)
		goto out;
	routes->generation = ++dp->routes_generation;
	struct dp_routes *old = atomic_exchange(&dp->routes, routes);
	routes = NULL;
	um_dp_synchronize(dp);
	if (old) {
		um_lpm_free(old->lpm);
		free(old);
	}
	rc = 0;
out:
	free(entries);
	free(routes);
	return rc;
}

/* ---- setup ---- */

static int worker_setup(struct um_dataplane *dp, struct dp_worker *w, unsigned offload)
{
	int rc;
	char name[IFNAMSIZ];
	w->dp = dp;
	w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epoll_fd < 0 || w->wake_fd < 0)
		return -errno;
	const char *want = w->index == 0 ? dp->cfg.ifname : dp->ifname;
	if (dp->cfg.no_device) {
		name[0] = '\0'; /* no device: tun_fd stays -1 */
	} else if (dp->cfg.use_device_fd) {
		w->tun_fd = fcntl(dp->cfg.device_fd, F_DUPFD_CLOEXEC, 0);
		if (w->tun_fd < 0 || fcntl(w->tun_fd, F_SETFL, O_NONBLOCK) < 0)
			return -errno;
		snprintf(name, sizeof(name), "fd%d", dp->cfg.device_fd);
	} else if ((rc = um_tun_open(want && *want ? want : NULL, dp->cfg.tap, offload, name, &w->tun_fd)) < 0) {
		return rc;
	}
	if (w->index == 0)
		memcpy(dp->ifname, name, IFNAMSIZ);
	if ((rc = um_udp_open(dp->socket_family, w->index == 0 ? dp->cfg.listen_port : dp->port, true, &w->udp_fd)) < 0)
		return rc;
	if (w->index == 0 && (rc = um_udp_local_port(w->udp_fd, &dp->port)) < 0)
		return rc;
	if ((rc = um_aead_init(&w->aead)) < 0)
		return rc;
	w->counters = aligned_alloc(64, dp->max_peers * sizeof(*w->counters));
	w->ring.slots = calloc(DP_RING_SLOTS, sizeof(*w->ring.slots));
	w->ring.size = DP_RING_SLOTS;
	w->events.slots = calloc(DP_EVENT_SLOTS, sizeof(*w->events.slots));
	w->events.size = DP_EVENT_SLOTS;
	w->rx_bufs = malloc((size_t)DP_RX_BATCH * DP_RX_BUF);
	w->rx_items = calloc(DP_RX_ITEMS, sizeof(*w->rx_items));
	w->tun_buf = malloc(DP_TUN_BUF);
	w->tx_arena = malloc(DP_TX_ARENA);
	if (!(w->msg_tx.slots = malloc(DP_MSG_SLOTS * sizeof(*w->msg_tx.slots))))
		return -UM_ENOMEM;
	if (!w->counters || !w->ring.slots || !w->events.slots || !w->rx_bufs || !w->rx_items || !w->tun_buf ||
	    !w->tx_arena || um_dp_stage_init(w) < 0)
		return -UM_ENOMEM;
	memset(w->counters, 0, dp->max_peers * sizeof(*w->counters));
	struct epoll_event ev = {.events = EPOLLIN};
	int fds[3] = {w->wake_fd, w->tun_fd, w->udp_fd};
	for (int i = 0; i < 3; i++) {
		if (fds[i] < 0) /* no_device: no tun_fd */
			continue;
		ev.data.u64 = (uint64_t)i; /* DP_EVENT_CONN (3) and up: dataplane_conn.c */
		if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			return -errno;
	}
	return 0;
}

int um_dataplane_new(const struct um_dataplane_config *cfg, struct um_dataplane **out)
{
	int rc;
	*out = NULL;
	struct um_dataplane *dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -UM_ENOMEM;
	dp->cfg = *cfg;
	dp->control_fd = -1;
	for (unsigned i = 0; i < DP_MAX_WORKERS; i++) {
		dp->workers[i].tun_fd = dp->workers[i].udp_fd = -1;
		dp->workers[i].wake_fd = dp->workers[i].epoll_fd = -1;
		dp->workers[i].index = i;
	}
	pthread_mutex_init(&dp->lock, NULL);
	dp->socket_family = cfg->socket_family ? cfg->socket_family : AF_INET6;
	dp->max_peers = cfg->max_peers ? cfg->max_peers : 256;
	rc = -UM_EINVAL;
	if (dp->max_peers > 65534)
		goto fail;
	if (um_dataplane_set_busy_poll(dp, cfg->busy_poll_us))
		goto fail;
	dp->worker_count = cfg->workers;
	if (dp->worker_count == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		dp->worker_count = n > 0 ? (unsigned)n : 1;
	}
	if (dp->worker_count > DP_MAX_WORKERS)
		dp->worker_count = DP_MAX_WORKERS;
	if (cfg->use_device_fd || (cfg->no_device && cfg->workers == 0))
		dp->worker_count = 1; /* messages only: one worker is plenty */
	dp->peers = calloc(dp->max_peers, sizeof(*dp->peers));
	if (!dp->peers) {
		rc = -UM_ENOMEM;
		goto fail;
	}
	for (unsigned p = 0; p < dp->max_peers; p++)
		for (unsigned i = 0; i < DP_MAX_WORKERS; i++)
			atomic_init(&dp->peers[p].conn_fd[i], -1);
	if ((rc = um_aead_init(&dp->control_aead)) < 0)
		goto fail;
	dp->control_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dp->control_fd < 0) {
		rc = -errno;
		goto fail;
	}
	unsigned offload = 0;
	if (!cfg->no_offload)
		offload = UM_TUN_F_CSUM | UM_TUN_F_TSO4 | UM_TUN_F_TSO6;
	for (unsigned i = 0; i < dp->worker_count; i++)
		if ((rc = worker_setup(dp, &dp->workers[i], offload)) < 0)
			goto fail;
	if (cfg->use_device_fd || cfg->no_device)
		rc = 0;
	else if ((rc = um_tun_set_mtu(dp->ifname, cfg->mtu ? cfg->mtu : UM_DP_MTU_DEFAULT)) < 0 ||
		 (rc = um_tun_set_txqueuelen(dp->ifname, 4000)) < 0 || (rc = um_tun_set_up(dp->ifname, true)) < 0)
		goto fail;
	if ((rc = rebuild_routes(dp)) < 0 || (rc = um_dp_rebuild_index_map(dp, NULL)) < 0)
		goto fail;
	*out = dp;
	return 0;
fail:
	um_dataplane_free(dp);
	return rc;
}

/* Where quiet workers gather: the configured CPU if the process may run
 * there, else the lowest CPU it may run on. */
static void choose_gather_cpu(struct um_dataplane *dp)
{
	dp->gather_cpu = -1;
	if (!dp->cfg.gather || sched_getaffinity(0, sizeof(dp->spread_cpus), &dp->spread_cpus))
		return;
	if (dp->cfg.gather_cpu < CPU_SETSIZE && CPU_ISSET(dp->cfg.gather_cpu, &dp->spread_cpus)) {
		dp->gather_cpu = (int)dp->cfg.gather_cpu;
		return;
	}
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &dp->spread_cpus)) {
			dp->gather_cpu = cpu;
			return;
		}
}

int um_dataplane_start(struct um_dataplane *dp)
{
	choose_gather_cpu(dp);
	for (unsigned i = 0; i < dp->worker_count; i++) {
		struct dp_worker *w = &dp->workers[i];
		atomic_store(&w->quiescent_epoch, atomic_load(&dp->epoch));
		int rc = pthread_create(&w->thread, NULL, um_dp_worker_main, w);
		if (rc != 0)
			return -rc;
		w->started = true;
		char name[16]; /* named for per-thread CPU figures (top -H, bench/msg-file.sh) */
		snprintf(name, sizeof(name), "umbra-dp%u", i % DP_MAX_WORKERS);
		pthread_setname_np(w->thread, name);
	}
	return 0;
}

void um_dataplane_free(struct um_dataplane *dp)
{
	if (!dp)
		return;
	atomic_store(&dp->stopping, true);
	for (unsigned i = 0; i < DP_MAX_WORKERS; i++) {
		struct dp_worker *w = &dp->workers[i];
		if (w->started) {
			uint64_t one = 1;
			ssize_t n = write(w->wake_fd, &one, sizeof(one));
			(void)n;
			pthread_join(w->thread, NULL);
			w->started = false;
		}
	}
	for (unsigned i = 0; i < DP_MAX_WORKERS; i++) {
		struct dp_worker *w = &dp->workers[i];
		int fds[4] = {w->tun_fd, w->udp_fd, w->wake_fd, w->epoll_fd};
		for (int f = 0; f < 4; f++)
			if (fds[f] >= 0)
				close(fds[f]);
		if (w->dp)
			um_aead_free(&w->aead);
		free(w->counters);
		free(w->ring.slots);
		free(w->events.slots);
		free(w->rx_bufs);
		free(w->rx_items);
		free(w->tun_buf);
		um_dp_stage_free(w);
		free(w->tx_arena);
		free(w->msg_tx.slots);
	}
	if (dp->peers) {
		for (unsigned p = 0; p < dp->max_peers; p++) {
			for (unsigned i = 0; i < DP_MAX_WORKERS; i++)
				if (atomic_load(&dp->peers[p].conn_fd[i]) >= 0)
					close(atomic_load(&dp->peers[p].conn_fd[i]));
			for (int s = 0; s < DP_SLOTS; s++)
				um_dp_key_free(atomic_load(&dp->peers[p].keys[s]));
			free(atomic_load(&dp->peers[p].endpoint));
			free(atomic_load(&dp->peers[p].relay));
			free(dp->peers[p].allowed);
		}
	}
	struct dp_routes *routes = atomic_load(&dp->routes);
	if (routes) {
		um_lpm_free(routes->lpm);
		free(routes);
	}
	free(atomic_load(&dp->index_map));
	free(dp->peers);
	um_aead_free(&dp->control_aead);
	if (dp->control_fd >= 0)
		close(dp->control_fd);
	pthread_mutex_destroy(&dp->lock);
	free(dp);
}

const char *um_dataplane_ifname(const struct um_dataplane *dp)
{
	return dp->ifname;
}

uint16_t um_dataplane_port(const struct um_dataplane *dp)
{
	return dp->port;
}

unsigned um_dataplane_workers(const struct um_dataplane *dp)
{
	return dp->worker_count;
}

int um_dataplane_set_busy_poll(struct um_dataplane *dp, unsigned us)
{
	if (us > UM_BUSY_POLL_MAX_US)
		return -UM_EINVAL;
	atomic_store_explicit(&dp->busy_poll_ns, (uint64_t)us * 1000, memory_order_relaxed);
	return 0;
}

int um_dataplane_control_fd(const struct um_dataplane *dp)
{
	return dp->control_fd;
}

/* The oldest item of a ring, left in place (the worker does not reuse its
 * slot before the tail moves past it), or NULL. */
static struct um_dp_control_msg *ring_peek(struct dp_ring *ring)
{
	uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
	return tail == head ? NULL : &ring->slots[tail % ring->size];
}

/* Events first (key promotion must not wait behind a handshake flood),
 * then datagrams round-robin over the workers. */
static struct um_dp_control_msg *ring_pop(struct um_dataplane *dp)
{
	struct um_dp_control_msg *msg;

	for (unsigned i = 0; i < dp->worker_count; i++)
		if ((msg = ring_peek(&dp->workers[i].events))) {
			dp->peeked = &dp->workers[i].events;
			return msg;
		}
	for (unsigned k = 0; k < dp->worker_count; k++) {
		unsigned i = (dp->ring_cursor + k) % dp->worker_count;
		if ((msg = ring_peek(&dp->workers[i].ring))) {
			dp->ring_cursor = i + 1;
			dp->peeked = &dp->workers[i].ring;
			return msg;
		}
	}
	return NULL;
}

int um_dataplane_control_peek(struct um_dataplane *dp, struct um_dp_control_msg **msg)
{
	if (dp->peeked)
		um_dataplane_control_release(dp); /* a caller that did not */
	if ((*msg = ring_pop(dp)))
		return 0;
	/* Reset readiness, then look again: a worker pushes before it writes
	 * the eventfd, so nothing is lost between the two checks. */
	uint64_t value = 1;
	ssize_t n = read(dp->control_fd, &value, sizeof(value));
	if (!(*msg = ring_pop(dp)))
		return -UM_EAGAIN;
	/* More may follow: keep the fd readable for callers that drain in
	 * bounded rounds. */
	value = 1;
	n = write(dp->control_fd, &value, sizeof(value));
	(void)n;
	return 0;
}

void um_dataplane_control_release(struct um_dataplane *dp)
{
	struct dp_ring *ring = dp->peeked;

	if (!ring)
		return;
	dp->peeked = NULL;
	uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
	atomic_store_explicit(&ring->tail, tail + 1, memory_order_release);
}

int um_dataplane_recv_control(struct um_dataplane *dp, struct um_dp_control_msg *msg)
{
	struct um_dp_control_msg *slot;
	int rc = um_dataplane_control_peek(dp, &slot);

	if (rc)
		return rc;
	msg->kind = slot->kind;
	msg->peer = slot->peer;
	msg->from = slot->from;
	msg->from_len = slot->from_len;
	msg->via_relay = slot->via_relay;
	memcpy(msg->relay_source, slot->relay_source, sizeof(msg->relay_source));
	msg->len = slot->len;
	memcpy(msg->data, slot->data, slot->len);
	um_dataplane_control_release(dp);
	return 0;
}

int um_dataplane_send_datagram(struct um_dataplane *dp, const struct sockaddr *to, socklen_t to_len, const void *data,
			       size_t len)
{
	struct sockaddr_storage addr;
	int alen = um_udp_addr_for_socket(dp->socket_family, to, to_len, &addr);
	if (alen < 0)
		return alen;
	if (sendto(dp->workers[0].udp_fd, data, len, 0, (struct sockaddr *)&addr, (socklen_t)alen) < 0)
		return -errno;
	return 0;
}

/* ---- peers ---- */

struct dp_peer *um_dp_peer_get(struct um_dataplane *dp, uint32_t id)
{
	if (id >= dp->max_peers || !atomic_load(&dp->peers[id].active))
		return NULL;
	return &dp->peers[id];
}

static void update_peer_high(struct um_dataplane *dp)
{
	uint32_t high = 0;
	for (unsigned p = 0; p < dp->max_peers; p++)
		if (atomic_load(&dp->peers[p].active))
			high = p + 1;
	atomic_store(&dp->peer_high, high);
}

int um_dataplane_peer_add(struct um_dataplane *dp, uint32_t *peer_out)
{
	int rc = -UM_ELIMIT;
	pthread_mutex_lock(&dp->lock);
	for (uint32_t p = 0; p < dp->max_peers; p++) {
		struct dp_peer *peer = &dp->peers[p];
		if (atomic_load(&peer->active))
			continue;
		/* Workers touch a slot's counters only while it is active. */
		for (unsigned i = 0; i < dp->worker_count; i++)
			for (int s = 0; s < DP_STAT_COUNT; s++)
				atomic_store(&dp->workers[i].counters[p].v[s], 0);
		atomic_store(&peer->last_rx_ns, 0);
		atomic_store(&peer->last_tx_ns, 0);
		atomic_store(&peer->next_used_pending, false);
		atomic_store(&peer->need_key_pending, false);
		atomic_store(&peer->roam_pending, false);
		for (int s = 0; s < 4; s++)
			atomic_store(&peer->message_tx[s], 0);
		atomic_store(&peer->active, true);
		update_peer_high(dp);
		*peer_out = p;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

/* Remove the keys in `mask` slots (bit per slot); caller holds the lock. */
int um_dp_clear_slots(struct um_dataplane *dp, struct dp_peer *peer, unsigned mask)
{
	struct dp_key *old[DP_SLOTS] = {0};
	bool any = false;
	for (int s = 0; s < DP_SLOTS; s++) {
		if (mask & (1u << s)) {
			old[s] = atomic_exchange(&peer->keys[s], NULL);
			any |= old[s] != NULL;
		}
	}
	if (!any)
		return 0;
	int rc = um_dp_rebuild_index_map(dp, NULL); /* synchronises */
	for (int s = 0; s < DP_SLOTS; s++) {
		if (rc < 0)
			um_dp_key_retire_failed(old[s]);
		else
			um_dp_key_free(old[s]);
	}
	return rc;
}

int um_dataplane_peer_remove(struct um_dataplane *dp, uint32_t id)
{
	int rc = -UM_ENOTFOUND;
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (!peer)
		goto out;
	atomic_store(&peer->active, false);
	update_peer_high(dp);
	free(peer->allowed);
	peer->allowed = NULL;
	peer->allowed_count = 0;
	rc = rebuild_routes(dp);
	int rc2 = um_dp_clear_slots(dp, peer, DP_SLOTS_ALL);
	um_dp_conn_close(dp, id);
	struct dp_endpoint *ep = atomic_exchange(&peer->endpoint, NULL);
	struct dp_endpoint *relay = atomic_exchange(&peer->relay, NULL);
	um_dp_synchronize(dp);
	free(ep);
	free(relay);
	for (unsigned i = 0; i < DP_MAC_TABLE; i++) {
		uint64_t e = atomic_load(&dp->mac_table[i]);
		if (e && (e & 0xffff) == id + 1)
			atomic_compare_exchange_strong(&dp->mac_table[i], &e, 0);
	}
	if (rc == 0)
		rc = rc2;
out:
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int um_dataplane_peer_set_endpoint(struct um_dataplane *dp, uint32_t id, const struct sockaddr *addr, socklen_t len)
{
	int rc = -UM_ENOTFOUND;
	struct dp_endpoint *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -UM_ENOMEM;
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (!peer)
		goto out;
	rc = um_udp_addr_for_socket(dp->socket_family, addr, len, &ep->addr);
	if (rc < 0)
		goto out;
	ep->len = (socklen_t)rc;
	rc = 0;
	um_dp_conn_follow(dp, id, ep);
	ep = atomic_exchange(&peer->endpoint, ep);
	atomic_store(&peer->roam_pending, false);
	um_dp_synchronize(dp);
	um_dp_stage_kick(dp);
out:
	pthread_mutex_unlock(&dp->lock);
	free(ep);
	return rc;
}

int um_dataplane_peer_get_endpoint(struct um_dataplane *dp, uint32_t id, struct sockaddr_storage *addr, socklen_t *len)
{
	int rc = -UM_ENOTFOUND;
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	struct dp_endpoint *ep = peer ? atomic_load(&peer->endpoint) : NULL;
	if (ep) {
		*len = um_udp_addr_unmap(&ep->addr, addr);
		rc = 0;
	}
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

int um_dataplane_peer_set_relay(struct um_dataplane *dp, uint32_t id, const struct sockaddr_storage *relay,
				socklen_t len, const uint8_t *header, size_t header_len)
{
	int rc = -UM_EINVAL;
	struct dp_endpoint *ep = NULL;
	if (header_len > UM_DP_RELAY_HEADER_MAX || (header_len && !header))
		return rc;
	if (relay && header_len) {
		if (!(ep = calloc(1, sizeof(*ep))))
			return -UM_ENOMEM;
		rc = um_udp_addr_for_socket(dp->socket_family, (const struct sockaddr *)relay, len, &ep->addr);
		if (rc < 0)
			goto free;
		ep->len = (socklen_t)rc;
		ep->prefix_len = header_len;
		memcpy(ep->prefix, header, header_len);
	}
	pthread_mutex_lock(&dp->lock);
	rc = -UM_ENOTFOUND;
	if (um_dp_peer_get(dp, id)) {
		ep = atomic_exchange(&dp->peers[id].relay, ep);
		um_dp_synchronize(dp);
		um_dp_stage_kick(dp);
		rc = 0;
	}
	pthread_mutex_unlock(&dp->lock);
free:
	free(ep);
	return rc;
}

int um_dataplane_peer_set_allowed_ips(struct um_dataplane *dp, uint32_t id, const struct um_addr_prefix *prefixes,
				      size_t count)
{
	int rc = -UM_ENOTFOUND;
	struct um_addr_prefix *copy = calloc(count ? count : 1, sizeof(*copy));
	if (!copy)
		return -UM_ENOMEM;
	if (count)
		memcpy(copy, prefixes, count * sizeof(*copy));
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (!peer)
		goto out;
	struct um_addr_prefix *old = peer->allowed;
	size_t old_count = peer->allowed_count;
	peer->allowed = copy;
	peer->allowed_count = count;
	copy = NULL;
	rc = rebuild_routes(dp);
	if (rc < 0) {
		copy = peer->allowed;
		peer->allowed = old;
		peer->allowed_count = old_count;
	} else {
		free(old);
	}
out:
	pthread_mutex_unlock(&dp->lock);
	free(copy);
	return rc;
}

int um_dataplane_peer_stats(struct um_dataplane *dp, uint32_t id, struct um_dp_peer_stats *out)
{
	int rc = -UM_ENOTFOUND;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&dp->lock);
	struct dp_peer *peer = um_dp_peer_get(dp, id);
	if (!peer)
		goto out;
	uint64_t sum[DP_STAT_COUNT] = {0};
	for (unsigned i = 0; i < dp->worker_count; i++)
		for (int s = 0; s < DP_STAT_COUNT; s++)
			sum[s] += atomic_load_explicit(&dp->workers[i].counters[id].v[s], memory_order_relaxed);
	/* Messages go out from the control side, counted per peer. */
	sum[DP_STAT_TX_PACKETS] += atomic_load(&peer->message_tx[0]);
	sum[DP_STAT_TX_BYTES] += atomic_load(&peer->message_tx[1]);
	sum[DP_STAT_TX_RELAY_PACKETS] += atomic_load(&peer->message_tx[2]);
	out->rx_bytes = sum[DP_STAT_RX_BYTES];
	out->rx_packets = sum[DP_STAT_RX_PACKETS];
	out->tx_bytes = sum[DP_STAT_TX_BYTES];
	out->tx_packets = sum[DP_STAT_TX_PACKETS];
	out->rx_messages = sum[DP_STAT_RX_MESSAGES];
	out->tx_messages = atomic_load(&peer->message_tx[0]) + atomic_load(&peer->message_tx[3]);
	for (int d = 0; d < UM_DP_DROP_COUNT; d++)
		out->drops[d] = sum[DP_STAT_DROP0 + d];
	out->rx_relay_packets = sum[DP_STAT_RX_RELAY_PACKETS];
	out->tx_relay_packets = sum[DP_STAT_TX_RELAY_PACKETS];
	out->rx_direct_packets = out->rx_packets - out->rx_relay_packets;
	out->tx_direct_packets = out->tx_packets - out->tx_relay_packets;
	out->last_rx_ns = atomic_load(&peer->last_rx_ns);
	out->last_tx_ns = atomic_load(&peer->last_tx_ns);
	struct dp_key *current = atomic_load(&peer->keys[DP_SLOT_CURRENT]);
	if (current) {
		out->send_counter = atomic_load(&current->send_counter);
		out->current_created_ns = current->created_ns;
	}
	out->has_current = current != NULL;
	out->has_previous = atomic_load(&peer->keys[DP_SLOT_PREVIOUS]) != NULL;
	out->has_next = atomic_load(&peer->keys[DP_SLOT_NEXT]) != NULL;
	rc = 0;
out:
	pthread_mutex_unlock(&dp->lock);
	return rc;
}

void um_dataplane_global_stats(struct um_dataplane *dp, uint64_t out[UM_DP_GLOBAL_COUNT])
{
	memset(out, 0, sizeof(uint64_t) * UM_DP_GLOBAL_COUNT);
	for (unsigned i = 0; i < dp->worker_count; i++)
		for (int g = 0; g < UM_DP_GLOBAL_COUNT; g++)
			out[g] += atomic_load_explicit(&dp->workers[i].global[g], memory_order_relaxed);
}
