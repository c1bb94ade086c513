/* SPDX-License-Identifier: MIT */
/* The control-socket handler (status.c), top of node/: umbrad hands it to
 * um_node_start, which runs the control socket with it. */
#ifndef UM_NODE_STATUS_H
#define UM_NODE_STATUS_H

#include "ctl/control.h"
#include "ctl/status.h"

/* arg is the struct um_node. */
int um_node_control(void *arg, const struct um_control_request *req, struct um_control_reply *reply);

#endif
