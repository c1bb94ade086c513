/* SPDX-License-Identifier: MIT */
/* The relay server: the I/O around the forwarding core (relay.h). One UDP
 * socket on the daemon's event loop (control thread): recvmmsg a batch
 * (with UDP GRO, a run of same-sized datagrams from one source arrives as
 * one), run each datagram through um_relay_input, sendmmsg what comes out
 * (consecutive in-place FORWARDEDs to one destination as one UDP_SEGMENT
 * message, which the destination's GRO may keep whole); a
 * timer expires silent registrations once a second. Single-threaded, like
 * the core. The socket is dual-stack ([::]:port) unless an address is
 * given; IPv4-mapped sources are normalised to IPv4 for the core.
 *
 * With a TLS listener (stream.h) its frames go through the same core with
 * synthetic source endpoints: a UDP node and a TCP node talk through one
 * relay. Outputs to a stream endpoint are queued on that connection,
 * everything else leaves by the UDP socket. */
#ifndef UM_RELAY_SERVER_H
#define UM_RELAY_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/loop.h"
#include "relay/relay.h"
#include "relay/stream.h"

struct um_relay_server_config {
	const struct sockaddr *listen; /* NULL: any address (dual-stack) */
	socklen_t listen_len;
	uint16_t port;                       /* used when listen is NULL */
	const struct um_relay_config *relay; /* NULL = core defaults (its identity is set here) */
	/* The relay's identity file (the node's format, mode 0600); NULL: a
	 * new identity each start (nodes can then only learn it, not pin it). */
	const char *identity_path;
	/* The relay protocol over TLS/WebSocket (stream.h); NULL = UDP only. */
	const struct um_relay_stream_config *stream;
};

/* I/O counters (the core's own are in core.stats). */
struct um_relay_server_stats {
	uint64_t rx_datagrams, tx_datagrams, rx_truncated, send_errors, batches;
	uint64_t rx_messages;       /* received messages: a GRO run of datagrams is one */
	uint64_t tx_messages;       /* sent messages: a run of datagrams to one destination is one */
	uint64_t rx_spoofed_stream; /* UDP sources claiming a stream endpoint */
};

struct um_relay_server_batch;

struct um_relay_server {
	struct um_relay core;
	struct um_loop *loop;
	struct um_watch watch;
	struct um_timer expire_timer;
	int fd;
	bool ipv6_socket;
	uint16_t port;
	uint64_t started_ns;
	struct um_relay_server_stats stats;
	struct um_relay_server_batch *batch; /* owned */
	struct um_relay_stream *stream;      /* owned; NULL = no TLS listener */
	struct um_identity *identity;        /* owned, locked memory */
	/* DHT datagrams (wire/types.h 0x30..0x3f) on this socket go here, not
	 * to the core: the relay's DHT node (node/dht.c) shares its port. NULL:
	 * the core sees them (and drops them). Set after start. */
	void (*dht_receive)(void *arg, const struct um_addr *from, const uint8_t *data, size_t len);
	void *dht_arg;
};

/* Opens the socket, initialises the core and starts serving on loop.
 * Returns 0 or a negative code (nothing left open on failure). */
int um_relay_server_start(struct um_relay_server *server, struct um_loop *loop,
			  const struct um_relay_server_config *config);
/* Stops serving and frees everything. Safe on a stopped/zeroed server. */
void um_relay_server_stop(struct um_relay_server *server);

/* Sends one datagram from the relay's UDP socket (the DHT's); 0 or -errno. */
int um_relay_server_send(struct um_relay_server *server, const struct um_addr *to, const uint8_t *data, size_t len);

/* One batch of pending datagrams (the loop calls it; tests may too).
 * Returns the number of datagrams received, 0 when none, or < 0. */
int um_relay_server_poll(struct um_relay_server *server);

#endif
