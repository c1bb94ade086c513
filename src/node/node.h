/* SPDX-License-Identifier: MIT */
/* The node, composition root of umbrad: it builds the config's parts (the
 * handshake engine of session/, the data plane of net/, the relay client and
 * server of relay/, the path engine of path/, the control socket of ctl/),
 * wires them together and runs them on one event loop (the control
 * thread; the data plane's workers never call into it). The files of node/
 * and their order are in node/internal.h. */
#ifndef UM_NODE_NODE_H
#define UM_NODE_NODE_H

#include "ctl/config.h"
#include "ctl/control.h"
#include "net/loop.h"

struct um_node;

/* Builds everything from config (taken over by the node: the caller must not
 * free it) and starts the data plane and the control socket (answered by
 * control, e.g. um_node_control of node/status.h) on loop. *out is owned
 * by the caller until um_node_stop. On failure everything done so far is
 * undone and config is freed. */
int um_node_start(struct um_node **out, struct um_loop *loop, struct um_config *config, um_control_handler_fn control);
/* Undoes um_node_start in reverse: no device, socket file or key left;
 * frees node. NULL is a no-op. */
void um_node_stop(struct um_node *node);

/* up: link up, routes, handshakes with every peer that has an endpoint.
 * down: sessions closed and keys wiped, link down. Idempotent. */
int um_node_up(struct um_node *node);
int um_node_down(struct um_node *node);

#endif
