/* SPDX-License-Identifier: MIT */
/* The messaging ops of the control protocol (ctl/control.h lists them):
 * their op lines and argument lines, parsed for control.c. Untrusted input:
 * never reads outside [line, line + len). */
#ifndef UM_CTL_CONTROL_MESSAGE_H
#define UM_CTL_CONTROL_MESSAGE_H

#include <stddef.h>

#include "ctl/control.h"

/* An op line of a messaging op: 0 with req->op (and what the line carries)
 * set, -UM_EINVAL when the line is no messaging op or a bad one. */
int um_control_parse_message_op(struct um_control_request *req, const char *line, size_t len);
/* An argument line after a messaging op line: 0, or -UM_EINVAL (unknown for
 * this op, malformed, too long). */
int um_control_parse_message_arg(struct um_control_request *req, const char *line, size_t len);
/* Once the request is complete: the arguments the op needs are all there.
 * 0 or -UM_EINVAL. */
int um_control_message_check(const struct um_control_request *req);
/* How many bytes a request starting with these bytes may have (the server
 * reads at most that much). */
size_t um_control_request_cap(const char *start, size_t len);

#endif
