/* SPDX-License-Identifier: MIT */
/* The relay protocol over TLS on TCP (WebSocket framing, wire/websocket.h)
 * for nodes whose network blocks UDP. A non-blocking TLS listener on the
 * daemon's event loop (control thread); each connection (net/stream.h)
 * goes TLS accept -> HTTP Upgrade -> frames, and every binary frame is handed to a callback
 * (the relay server, which runs it through the same forwarding core as its
 * UDP datagrams) with a synthetic source endpoint naming the connection:
 *
 *   100::/64 (RFC 6666, discard-only: never a real source) with bytes
 *   8..11 = "umtc", bytes 12..15 = connection slot, port = the slot's
 *   generation (a new connection in a slot gets a new endpoint, so a
 *   registration left over from the previous one never reaches it).
 *
 * What the core sends to such an endpoint is queued on that connection as a
 * frame. Bounded everywhere: max connections, a fixed output buffer per
 * connection (frames that do not fit are dropped and counted; the loop
 * never blocks), a handshake deadline and an idle timeout. */
#ifndef UM_RELAY_STREAM_H
#define UM_RELAY_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/loop.h"
#include "util/addr.h"

struct um_relay_stream_config {
	const struct sockaddr *listen; /* required */
	socklen_t listen_len;
	const char *certificate_file; /* PEM; both NULL: a self-signed one is made */
	const char *key_file;
	uint32_t max_connections;      /* 0 = 1024 */
	uint32_t output_buffer_bytes;  /* per connection; 0 = 32 KiB */
	uint64_t handshake_timeout_ns; /* TLS + Upgrade; 0 = 10 s */
	uint64_t idle_timeout_ns;      /* nothing received; 0 = 120 s */
};

struct um_relay_stream_stats {
	uint64_t connections; /* gauge */
	uint64_t accepted, refused_full, tls_failures, upgrade_failures, handshake_timeouts, idle_timeouts,
	    protocol_errors, closed;
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes, tx_dropped_full, tx_dropped_gone, pings;
};

/* A binary frame from connection `from` (data writable, valid during the call). */
typedef void (*um_relay_stream_frame_fn)(void *arg, const struct um_addr *from, uint8_t *data, size_t len);

struct um_relay_stream;

/* Opens the listener and starts serving on loop. *out is owned by the
 * caller (um_relay_stream_stop frees it). Returns 0 or a negative code. */
int um_relay_stream_start(struct um_relay_stream **out, struct um_loop *loop,
			  const struct um_relay_stream_config *config, um_relay_stream_frame_fn fn, void *arg);
/* Closes every connection and the listener, frees everything. NULL is fine. */
void um_relay_stream_stop(struct um_relay_stream *stream);

/* Whether addr is a stream connection's synthetic endpoint. */
bool um_relay_stream_endpoint(const struct um_addr *addr);

/* Queues data as one frame on the connection named by to. 0, or a negative
 * code when the connection is gone or its buffer is full (counted). */
int um_relay_stream_send(struct um_relay_stream *stream, const struct um_addr *to, const uint8_t *data, size_t len);

const struct um_relay_stream_stats *um_relay_stream_get_stats(const struct um_relay_stream *stream);
uint16_t um_relay_stream_port(const struct um_relay_stream *stream);
/* SHA-256 of the certificate in use (DER), for pinning and logs. */
void um_relay_stream_fingerprint(const struct um_relay_stream *stream, uint8_t out[32]);

#endif
