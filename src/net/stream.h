/* SPDX-License-Identifier: MIT */
/* One non-blocking TLS + WebSocket connection on a net/loop: the transport
 * of the node's wss:// uplink (client) and of the relay's TLS listener
 * (server), and later of signaling and HTTP.
 *
 * A client stream connects over TCP, runs the TLS handshake and sends the
 * WebSocket Upgrade (wire/websocket.h); a server stream takes an accepted
 * socket, runs the TLS handshake and answers the Upgrade. Every step is
 * driven by the loop's events: no call blocks. Once open, each complete
 * binary message is handed to on_message; pings are answered here.
 *
 * Output is one bounded buffer per connection (output_bytes): a message
 * that does not fit is dropped and counted, as a full UDP socket buffer
 * would drop it; the loop never waits on a slow peer.
 *
 * Ending: whatever ends the connection (the peer, an error, a malformed
 * frame, um_stream_close), the socket is released at once and on_close
 * follows from the loop (never from inside a call into this module), once.
 * Making a stream sets SIGPIPE to ignored unless the program handles it (a
 * write to a vanished peer must fail, not kill). Policy stays with the owner: timeouts (um_stream_last_rx_ns,
 * um_stream_get_state), reconnects, admission. */
#ifndef UM_NET_STREAM_H
#define UM_NET_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "net/loop.h"

enum um_stream_state {
	UM_STREAM_CONNECTING, /* client: TCP connect in progress */
	UM_STREAM_TLS,        /* TLS handshake */
	UM_STREAM_UPGRADE,    /* WebSocket Upgrade (request or response pending) */
	UM_STREAM_OPEN,       /* messages */
	UM_STREAM_CLOSING,    /* flushing a close frame or a refusal, then closed */
	UM_STREAM_CLOSED,     /* socket released; on_close pending or done */
};

/* Why a stream ended (on_close). */
enum um_stream_end {
	UM_STREAM_END_LOCAL,    /* um_stream_close */
	UM_STREAM_END_PEER,     /* close frame, end of stream or reset from the peer */
	UM_STREAM_END_CONNECT,  /* TCP connect failed */
	UM_STREAM_END_TLS,      /* TLS handshake failed */
	UM_STREAM_END_UPGRADE,  /* Upgrade refused or malformed */
	UM_STREAM_END_PROTOCOL, /* malformed WebSocket frame */
	UM_STREAM_END_IO,       /* read or write error, or no memory */
};

/* Counters, possibly shared by many streams (a listener's connections). */
struct um_stream_counters {
	uint64_t opened, closed;
	uint64_t tx_messages, tx_bytes, tx_dropped_full, tx_dropped_closed;
	uint64_t rx_messages, rx_bytes, pings;
	uint64_t connect_failures, tls_failures, upgrade_failures, protocol_errors;
};

struct um_stream;

/* A complete binary message (data writable, valid during the call). */
typedef void (*um_stream_message_fn)(void *arg, struct um_stream *stream, uint8_t *data, size_t len);
typedef void (*um_stream_open_fn)(void *arg, struct um_stream *stream);
/* The stream ended; text says why for logs. The owner may free it here. */
typedef void (*um_stream_close_fn)(void *arg, struct um_stream *stream, enum um_stream_end end, const char *text);

struct um_stream_config {
	SSL_CTX *tls;                        /* borrowed, outlives the stream; client or server */
	const char *host;                    /* client: the Host header (copied) */
	uint32_t output_bytes;               /* output buffer; 0 = 32 KiB, at least 4 KiB */
	struct um_stream_counters *counters; /* borrowed, outlives the stream; NULL: its own */
	/* Optional. Client: once TLS is up and the Upgrade request queued:
	 * messages may follow the request at once (the server reads frames
	 * right behind it; a refused Upgrade ends the stream with
	 * UM_STREAM_END_UPGRADE), a round trip before the 101. Server: once
	 * the 101 is queued. */
	um_stream_open_fn on_open;
	um_stream_message_fn on_message;
	um_stream_close_fn on_close;
	void *arg;
};

/* Client: starts a non-blocking connect to `to`. *out is owned by the
 * caller (um_stream_free). Returns 0 or a negative code (nothing to free). */
int um_stream_connect(struct um_stream **out, struct um_loop *loop, const struct um_stream_config *config,
		      const struct sockaddr *to, socklen_t to_len);
/* Server: serves the accepted socket fd, which it takes over (closed on
 * error too). *out is owned by the caller. Returns 0 or a negative code. */
int um_stream_accept(struct um_stream **out, struct um_loop *loop, const struct um_stream_config *config, int fd);

/* Queues data as one binary message. 0; -UM_ESTATE when not open, or
 * -UM_ELIMIT when the output buffer is full (both counted as drops), or
 * -UM_ERANGE when len is over the WebSocket limit. */
int um_stream_send(struct um_stream *stream, const uint8_t *data, size_t len);
/* Ends the stream: an open one sends a close frame with code (RFC 6455
 * 7.4) first. on_close follows with UM_STREAM_END_LOCAL. */
void um_stream_close(struct um_stream *stream, uint16_t code);
/* Releases everything at once, without on_close. Safe anywhere, including
 * inside this stream's own callbacks. NULL is fine. */
void um_stream_free(struct um_stream *stream);

enum um_stream_state um_stream_get_state(const struct um_stream *stream);
/* Messages may be queued: OPEN, or a client's UPGRADE after on_open. */
bool um_stream_can_send(const struct um_stream *stream);
const char *um_stream_state_name(enum um_stream_state state);
const struct um_stream_counters *um_stream_get_counters(const struct um_stream *stream);
/* When input last arrived (or the stream was made), CLOCK_MONOTONIC ns. */
uint64_t um_stream_last_rx_ns(const struct um_stream *stream);
/* The negotiated TLS version, e.g. "TLSv1.3", or "" before. */
const char *um_stream_tls_version(const struct um_stream *stream);

/* TLS contexts for streams (TLS 1.2 at least, partial and moving writes).
 * Client: ca_file NULL or "" accepts any certificate (what travels inside is
 * end-to-end encrypted), else the chain must lead to it (names are not
 * checked: relays are named by address). Server: certificate and key files
 * (PEM), or both NULL for a fresh self-signed P-256 certificate with common
 * name cn; fingerprint (may be NULL) gets the certificate's SHA-256. The
 * caller owns *out (SSL_CTX_free). Return 0 or a negative code: -UM_EINVAL
 * when a file cannot be used (the server logs OpenSSL's reason). */
int um_stream_tls_client(SSL_CTX **out, const char *ca_file);
int um_stream_tls_server(SSL_CTX **out, const char *certificate_file, const char *key_file, const char *cn,
			 uint8_t fingerprint[32]);

#endif
