/* SPDX-License-Identifier: MIT */
/* Store-and-forward on the node (issue 17; docs/PROTOCOL.md section 22):
 * the delivery ladder's queue rung for messages and receipts to peers
 * without a live session, and the fetching of our own mailboxes.
 *
 *   - Prekeys: our ring beside the store (STORE-prekeys, 0600), rotated
 *     (msg/prekey.h) and its bundle published at our mailbox relays
 *     (PUT /api/relay/prekey) at start and every 10 minutes while due.
 *   - Sending: a message stored for a peer with no live session goes to
 *     the peer's mailboxes (its [peer] mailbox, else ours) when the ladder
 *     (msg/ladder.h) says so: sealed to the peer's bundle (fetched there,
 *     verified against its ID), the same envelope queued on two mailboxes
 *     (home and backup); the message's via becomes "queue" when one relay
 *     acknowledged it (after its fsync); it stays "queued" until the
 *     recipient's delivered receipt. A session later carries it again (the
 *     recipient drops the duplicate by message ID).
 *   - Fetching: at start, after a relay registration, when a mailbox
 *     pushes (offline_wait.h: a wait kept open at each) and every
 *     mailbox-poll, from every mailbox of ours: envelopes opened, messages
 *     stored (via queue) and committed,
 *     receipts applied, THEN deleted at the relay they came from.
 *     Receipts for messages that came this way go live when the sender
 *     has a session, else sealed to the sender's mailboxes.
 * All HTTP and sealing/opening happen on two worker threads
 * (offline_worker.h: the ring's and the sender's); results come back
 * through the loop (their eventfds). */
#ifndef UM_NODE_OFFLINE_H
#define UM_NODE_OFFLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "node/messaging_internal.h"

/* Starts store-and-forward when [node] mailbox is set (else a no-op: 0). */
int um_node_offline_start(struct um_node_messaging *ms);
void um_node_offline_stop(struct um_node_messaging *ms);
/* A message was stored for mp, or a session ended: the ladder runs soon. */
void um_node_offline_kick(struct um_node_messaging *ms, struct msg_peer *mp);
/* Our mailboxes are read soon (a relay registration, a test). */
void um_node_offline_fetch_soon(struct um_node_messaging *ms);
/* A receipt for a peer without a live session: sealed to its mailboxes. */
void um_node_offline_receipt(struct um_node_messaging *ms, struct msg_peer *mp, const uint8_t id[16], uint8_t what);
/* The rung a live session with peer uses now (enum um_store_via). */
uint8_t um_node_offline_rung(const struct um_node_peer *peer);
/* Whether mp can send over a live session now. */
bool um_node_offline_live(const struct msg_peer *mp);

#endif
