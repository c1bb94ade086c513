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

#include <stddef.h>
#include <stdint.h>

#include "ctl/control.h"
#include "ctl/status.h" /* struct um_messaging_status: the counters */
#include "node/peer.h"

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

#endif
