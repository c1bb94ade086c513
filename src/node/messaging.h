/* SPDX-License-Identifier: MIT */
/* Messaging on the node (issue 16): one messenger (msg/messenger.h, over its
 * reliable channel) per peer, created when the peer first has a session and
 * kept across rekeys, path changes and sessions; the node's store
 * (store/store.h); one timer at the earliest channel deadline.
 *
 *   messaging_peer.c     peers by name or ID, frames waiting for room
 *   messaging_events.c   the text and JSON forms below, the events written
 *                        to inbox-follow clients
 *   messaging_files.c    file transfers (policy, limits, temp files, chunk
 *                        writes with fsync, verification, resume)
 *   messaging.c          start/stop, per-peer messengers, segments in and
 *                        out, the outbox, receipts, presence
 *   messaging_control.c  the control ops (ctl/control.h)
 * (bottom to top: a file calls only those above it in this list).
 *
 * Durability: a message is acknowledged (ACK delivered) only after the
 * store committed it; a received message already in the store (same peer
 * and ID: a resend after a reset or restart) is acknowledged again and not
 * shown twice. Outgoing messages are stored (queued) before anything is
 * sent and are written to the channel again after each channel RESET (the
 * peer restarted, or first contact) until the peer acknowledges them.
 *
 * Text forms (control replies and inbox-follow event= lines; PCT as in
 * ctl/control.h):
 *   message= SEQ DIR PEER STATE SENT_MS RECEIVED_MS ID KIND BODY
 *            DIR in|out, STATE queued|sent|delivered|read|refused (out) or
 *            new|read (in), KIND text (BODY PCT) | binary (BODY hex)
 *   event=   message <the message= fields>
 *          | receipt ID PEER STATE
 *          | presence PEER STATE LAST_SEEN_MS TEXT
 *          | file ID DIR PEER STATE BYTES_DONE SIZE NAME
 *   file=    ID DIR PEER STATE BYTES_DONE SIZE NAME   (file-list=text)
 *            STATE offered|accepted|active|done|refused|failed
 * PEER is the configured peer's name. */
#ifndef UM_NODE_MESSAGING_H
#define UM_NODE_MESSAGING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/control.h"
#include "ctl/status.h" /* struct um_messaging_status: the counters */
#include "node/peer.h"
#include "store/store.h"

struct um_node;

/* Opens the store (config store_path, or the default of ctl/config.h) and
 * readies the per-peer state; node->messaging is owned by the node until
 * um_node_messaging_stop. Relay-only nodes have none (node->messaging stays
 * NULL and every entry point below does nothing). */
int um_node_messaging_start(struct um_node *node);
/* Before a clean stop (while sessions still exist): "offline" to every
 * peer with a session, best effort. */
void um_node_messaging_goodbye(struct um_node *node);
void um_node_messaging_stop(struct um_node *node);

/* The peer has usable keys (a new session, a rekey, the responder's keys
 * confirmed): its messenger is created on first use; queued messages,
 * presence and file chunks go out. Idempotent. */
void um_node_messaging_session_up(struct um_node_peer *peer);
/* One channel segment the data plane decrypted (UM_DP_CONTROL_MESSAGE). */
void um_node_messaging_receive(struct um_node_peer *peer, const uint8_t *segment, size_t len);
/* The messaging ops of the control socket. */
int um_node_messaging_control(struct um_node *node, const struct um_control_request *req,
			      struct um_control_reply *reply);
/* Zeroes when messaging is off. */
void um_node_messaging_counters(const struct um_node *node, struct um_messaging_status *out);

/* ---- for an embedding program (src/umbra.c): the control ops' actions
 * and the follower events, without the text protocol ----
 * PEER is a configured peer's name or a peer ID text; -UM_ENOTFOUND if no
 * such peer, -UM_ESTATE on a relay-only node. */

/* Events as they happen (called on the loop's thread, inside dispatch;
 * pointers valid during the call only). peer: the configured name, else the
 * ID text. Receipt and file states are the store's (store/store.h). */
struct um_messaging_listener {
	void *ctx;
	void (*message)(void *ctx, const char *peer, const struct um_store_message *m); /* received */
	void (*receipt)(void *ctx, const char *peer, const uint8_t id[16], uint8_t out_state);
	void (*presence)(void *ctx, const char *peer, uint8_t state, const char *text, uint64_t last_seen_ms);
	void (*file)(void *ctx, const char *peer, const struct um_store_file *f);
};
/* Installs (copies) the listener; NULL removes it. */
void um_node_messaging_listen(struct um_node *node, const struct um_messaging_listener *listener);
/* Stores the message (committed before this returns 0) and sends it when
 * the peer has a session; kind UM_MESSAGE_TEXT (UTF-8) or _BINARY. */
int um_node_message_send(struct um_node *node, const char *peer, const void *body, size_t len, uint8_t kind,
			 uint8_t id_out[16], int64_t *seq_out);
/* Marks a received message read; its sender gets a read receipt. */
int um_node_message_read(struct um_node *node, const uint8_t id[16]);
/* Offers the file at path to the peer (read while it travels). */
int um_node_file_send(struct um_node *node, const char *peer, const char *path, uint8_t id_out[16]);
/* Accepts or refuses (reason: NULL or text) an offer waiting for a decision. */
int um_node_file_decide(struct um_node *node, const uint8_t id[16], bool accept, const char *reason);
/* Our presence (UM_PRESENCE_*), stored and sent to every peer with a session. */
int um_node_presence_set(struct um_node *node, uint8_t state, const char *text);

#endif
