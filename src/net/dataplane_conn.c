/* SPDX-License-Identifier: MIT */
/* Connected UDP sockets for direct peers.
 *
 * Every worker owns a shared socket on the node's port (SO_REUSEPORT) that
 * sends with an explicit address and receives from anyone. For each direct
 * peer, each worker also gets a socket on the same port connect()ed to the
 * peer's endpoint. The kernel then routes a send through the socket's cached
 * route instead of a FIB lookup per datagram, and delivers the peer's
 * datagrams to the connected socket (a full 4-tuple match outranks the
 * wildcard sockets) through early demux, again without a route lookup.
 * Measured on an idle tunnel: 11-13 us less per ping round trip, and 8-10
 * more with the socket in the peer's own family (p50 of 300 interleaved
 * pings, bench/rtt_interleaved.sh, docs/BENCHMARKS.md).
 *
 * Relayed traffic, handshakes and datagrams from unknown or roaming
 * addresses keep using the shared sockets; a peer that roams is picked up
 * there, and its sockets are re-pointed by the next um_dp_conn_follow.
 * Sockets are best effort: a worker that cannot get one (descriptor limit,
 * more than DP_MAX_CONNECTED_PEERS peers) sends through its shared socket.
 *
 * Workers read peer->conn_fd[w] once per use and finish that use before
 * their next quiescent point, so a socket is closed only after the fd was
 * replaced by -1, removed from the worker's epoll set and the workers
 * synchronised. */
#include <stdbool.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net/dataplane_impl.h"
#include "net/udp.h"

/* ep's address in its own family: an IPv4 peer gets an AF_INET socket even
 * when the shared sockets are dual-stack AF_INET6 (it skips the v4-mapped
 * detour through the IPv6 send path: -8 us per idle round trip, p50). */
static socklen_t conn_address(const struct dp_endpoint *ep, struct sockaddr_storage *out)
{
	return um_udp_addr_unmap(&ep->addr, out);
}

static int conn_open(struct um_dataplane *dp, struct dp_worker *w, uint32_t id, const struct dp_endpoint *ep)
{
	int fd = -1;
	struct sockaddr_storage to;
	socklen_t to_len = conn_address(ep, &to);
	if (um_udp_open(to.ss_family, dp->port, true, &fd) < 0)
		return -1;
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.u64 = DP_EVENT_CONN | (uint64_t)id << 32;
	if (connect(fd, (const struct sockaddr *)&to, to_len) < 0 ||
	    epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool peer_connected(struct dp_peer *peer)
{
	for (unsigned i = 0; i < DP_MAX_WORKERS; i++)
		if (atomic_load(&peer->conn_fd[i]) >= 0)
			return true;
	return false;
}

/* Take the sockets in `workers` (bit per worker) away from the workers, then close them. */
static void conn_close_set(struct um_dataplane *dp, struct dp_peer *peer, uint32_t workers)
{
	int fds[DP_MAX_WORKERS];
	bool any = false;
	for (unsigned i = 0; i < DP_MAX_WORKERS; i++) {
		fds[i] = (workers >> i) & 1 ? atomic_exchange(&peer->conn_fd[i], -1) : -1;
		if (fds[i] >= 0) {
			if (dp->workers[i].epoll_fd >= 0)
				(void)epoll_ctl(dp->workers[i].epoll_fd, EPOLL_CTL_DEL, fds[i], NULL);
			any = true;
		}
	}
	if (!any)
		return;
	um_dp_synchronize(dp);
	for (unsigned i = 0; i < DP_MAX_WORKERS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

void um_dp_conn_follow(struct um_dataplane *dp, uint32_t id, const struct dp_endpoint *ep)
{
	struct dp_peer *peer = &dp->peers[id];
	bool had = peer_connected(peer);
	if (!had && dp->connected_peers >= DP_MAX_CONNECTED_PEERS)
		return;
	struct sockaddr_storage to;
	socklen_t to_len = conn_address(ep, &to);
	for (unsigned i = 0; i < dp->worker_count; i++) {
		int fd = atomic_load(&peer->conn_fd[i]);
		/* Re-pointing a connected UDP socket is one connect(); one of the
		 * other address family is replaced. */
		if (fd >= 0 && connect(fd, (const struct sockaddr *)&to, to_len) == 0)
			continue;
		if (fd >= 0)
			conn_close_set(dp, peer, 1u << i);
		fd = conn_open(dp, &dp->workers[i], id, ep);
		if (fd >= 0)
			atomic_store(&peer->conn_fd[i], fd);
	}
	bool has = peer_connected(peer);
	if (has != had)
		dp->connected_peers += has ? 1u : (unsigned)-1;
}

void um_dp_conn_close(struct um_dataplane *dp, uint32_t id)
{
	struct dp_peer *peer = &dp->peers[id];
	if (!peer_connected(peer))
		return;
	conn_close_set(dp, peer, ~0u);
	dp->connected_peers--;
}
