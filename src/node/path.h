/* SPDX-License-Identifier: MIT */
/* Direct paths (path.c): glue of the direct-path engine (path/punch.h: hole
 * punching, validation, migration, fallback). Above uplink.c and stun.c. */
#ifndef UM_NODE_PATH_H
#define UM_NODE_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/status.h"
#include "node/peer.h"
#include "session/keys.h"
#include "wire/handshake.h"

struct um_node;

void um_path_peer_init(struct um_node_peer *peer);
/* A keypair was installed (keys only read: its path keys and session
 * indices go to the engine). */
void um_path_session_installed(struct um_node_peer *peer, const struct um_keypair *keypair);
/* Session over or node down: keys wiped, timers stopped, state reset. */
void um_path_session_cleared(struct um_node_peer *peer);
/* A path datagram (0x26..0x28) from `from`; via_relay: forwarded by uplink.
 * The peer is the one whose live keypair has the message's receiver index. */
void um_path_receive(struct um_node *node, const struct um_addr *from, bool via_relay, int uplink, const uint8_t *data,
		     size_t len);
bool um_path_is_path_msg(const uint8_t *data, size_t len);
/* Up to max addresses of our up, non-loopback interfaces (not the
 * tunnel's, no IPv6 link-local) with the data plane's port: the LAN
 * candidates of direct paths and the LAN endpoints of our DHT record. */
size_t um_node_interface_addresses(const struct um_node *node, struct um_addr *out, size_t max);
/* The same for any port, skipping interface `skip` (the node's device). */
size_t um_interface_addresses(const char *skip, uint16_t port, struct um_addr *out, size_t max);
/* Our candidates changed (a STUN server reported a new reflexive address):
 * peers still on the relay get them (and a new attempt when the last one
 * failed). node.c installs it as the candidates_changed hook. */
void um_path_local_candidates_changed(struct um_node *node);
/* Sends a PING probe over the path in use; *sequence identifies the answer. */
int um_path_ping(struct um_node_peer *peer, uint64_t *sequence);
void um_path_status_fill(const struct um_node_peer *peer, struct um_path_status *out);

#endif
