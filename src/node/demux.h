/* SPDX-License-Identifier: MIT */
/* Incoming control datagrams to their handler by type (demux.c). */
#ifndef UM_NODE_DEMUX_H
#define UM_NODE_DEMUX_H

#include <stdbool.h>
#include <stdint.h>

#include "net/dataplane.h"

struct um_node;

/* A datagram the data plane passed up (not DATA), to the handler of its
 * type; STUN answers are recognised before the table. */
void um_node_demux(struct um_node *node, const struct um_dp_control_msg *msg);
/* The name of the table row ("handshake", "relay", "path") that takes a
 * datagram of this first byte arriving this way, or NULL: dropped. */
const char *um_node_demux_route(uint8_t type, bool via_relay);

#endif
