/* SPDX-License-Identifier: MIT */
/* libumbra: the embeddable API. Every type is opaque; every function returns
 * 0 or a negative error code (describe it with umbra_strerror()). Objects
 * returned through an `out` pointer are owned by the caller and released
 * with the matching _free/_close function. The library's internals (src/)
 * use the um_ prefix; only what is declared here is stable. */
#ifndef UMBRA_H
#define UMBRA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Library version, e.g. "0.1.0". */
const char *umbra_version(void);
/* Text for any code returned by this library (static string, never NULL). */
const char *umbra_strerror(int code);
/* Must be called once before anything else (initialises libsodium). */
int umbra_init(void);

/* ---- identities: hybrid Ed25519 + ML-DSA-87 keys and the peer ID ---- */

struct umbra_identity;

enum {
	UMBRA_PEER_ID_TEXT_MAX = 80, /* buffer for the checksummed text form, incl. NUL */
	UMBRA_PEER_ID_SHORT_MAX = 16,
};

/* A new identity from OS randomness. */
int umbra_identity_generate(struct umbra_identity **out);
/* Load a private identity file; refuses files readable by group or others. */
int umbra_identity_load(struct umbra_identity **out, const char *path);
/* Write it (mode 0600, atomically; never overwrites an existing file). */
int umbra_identity_save(const struct umbra_identity *identity, const char *path);
/* The peer ID as text: full (checksummed) and short (for humans only). */
int umbra_identity_peer_id(const struct umbra_identity *identity, char *out, size_t out_size);
int umbra_identity_short_id(const struct umbra_identity *identity, char *out, size_t out_size);
/* Zeroes the secret keys and frees. NULL is accepted. */
void umbra_identity_free(struct umbra_identity *identity);

/* Check a textual peer ID (typos are caught by its checksum): 0 if valid. */
int umbra_peer_id_check(const char *text);

/* ---- a node: what umbrad runs, embeddable in another program ---- */

struct umbra_node;

/* Load the config at config_path and start the node: device, sockets, data
 * plane threads, control socket. Needs CAP_NET_ADMIN unless the config says
 * `device = none` (messages only). On failure, a
 * message naming file, line and key (for config errors) is written to
 * error (if not NULL). Signals are not touched: the embedding program
 * decides how to stop. */
int umbra_node_open(struct umbra_node **out, const char *config_path, char *error, size_t error_size);
/* A file descriptor that becomes readable when the node has work: poll it
 * in your own loop and call umbra_node_dispatch(node, 0) then. */
int umbra_node_fd(const struct umbra_node *node);
/* Do pending work, waiting at most timeout_ms (-1 = until something). */
int umbra_node_dispatch(struct umbra_node *node, int timeout_ms);
/* Stop everything and free: device removed, control socket removed, keys wiped. */
void umbra_node_close(struct umbra_node *node);

/* ---- messaging: messages, receipts, presence and files between peers ----
 *
 * Every session carries a reliable message channel beside the tunnel; a node
 * with `device = none` carries only messages and needs no privileges.
 * Messages and transfers are durable ([node] store): what a send accepted
 * is delivered once, across restarts of either side. PEER is a configured
 * peer's name or a peer ID in text form. Callbacks run inside
 * umbra_node_dispatch, on the thread that calls it; pointers they receive
 * are valid only during the call. */

enum {
	UMBRA_MESSAGE_MAX = 65536, /* body bytes; bigger payloads are files */
	UMBRA_MESSAGE_ID_BYTES = 16,
};

enum umbra_presence {
	UMBRA_PRESENCE_OFFLINE = 0,
	UMBRA_PRESENCE_ONLINE = 1,
	UMBRA_PRESENCE_AWAY = 2,
	UMBRA_PRESENCE_BUSY = 3,
};

enum umbra_receipt {
	UMBRA_RECEIPT_DELIVERED = 1, /* stored by the recipient's node */
	UMBRA_RECEIPT_READ = 2,      /* the recipient marked it read */
	UMBRA_RECEIPT_REFUSED = 3,   /* the recipient's node refused it */
	UMBRA_RECEIPT_QUEUED = 4,    /* the recipient is offline: the message is on its
				      * mailbox relay's disk ([node] mailbox, store-and-forward) */
};

enum umbra_file_state {
	UMBRA_FILE_OFFERED = 0,  /* waiting for accept / reject (policy ask) */
	UMBRA_FILE_ACCEPTED = 1, /* accepted, no chunk yet */
	UMBRA_FILE_ACTIVE = 2,
	UMBRA_FILE_DONE = 3, /* verified and in place (receiver) / confirmed (sender) */
	UMBRA_FILE_REFUSED = 4,
	UMBRA_FILE_FAILED = 5,
};

struct umbra_message {
	const char *peer; /* the sender's name if configured, else its peer ID */
	const uint8_t *id;
	const void *body;
	size_t len;
	int binary;       /* 0: UTF-8 text */
	uint64_t sent_ms; /* the sender's clock, ms since the Unix epoch */
	const char *via;  /* the rung that carried it: "direct", "relay", "relay-tcp"
			   * (live session) or "queue" (the recipient's mailbox relay) */
};

struct umbra_file_progress {
	const char *peer;
	const uint8_t *id;
	const char *name; /* the (sanitised) file name */
	int outgoing;
	enum umbra_file_state state;
	uint64_t done, size; /* bytes */
	const char *path;    /* where it was saved (receiver, when done), else NULL */
};

struct umbra_callbacks {
	void *ctx;
	void (*message)(void *ctx, const struct umbra_message *message);
	void (*receipt)(void *ctx, const char *peer, const uint8_t *id, enum umbra_receipt what);
	void (*presence)(void *ctx, const char *peer, enum umbra_presence state, const char *text,
			 uint64_t last_seen_ms);
	void (*file)(void *ctx, const struct umbra_file_progress *progress);
};

/* Install callbacks (copied; NULL members are not called; NULL clears). */
int umbra_node_set_callbacks(struct umbra_node *node, const struct umbra_callbacks *callbacks);
/* Queue a message: 0 once it is stored (it survives a crash from then on);
 * id_out (UMBRA_MESSAGE_ID_BYTES, may be NULL) names it in receipts. */
int umbra_message_send(struct umbra_node *node, const char *peer, const void *body, size_t len, int binary,
		       uint8_t *id_out);
/* Mark a received message read: the sender gets a read receipt. */
int umbra_message_read(struct umbra_node *node, const char *peer, const uint8_t *id);
/* Offer a file (path is read while it travels: keep it in place). */
int umbra_file_send(struct umbra_node *node, const char *peer, const char *path, uint8_t *id_out);
/* Answer an offer waiting under `accept-files = ask`. */
int umbra_file_accept(struct umbra_node *node, const uint8_t *id);
int umbra_file_reject(struct umbra_node *node, const uint8_t *id);
/* Our presence as every peer with a session sees it (text may be NULL). */
int umbra_presence_set(struct umbra_node *node, enum umbra_presence state, const char *text);

#ifdef __cplusplus
}
#endif

#endif
