/* SPDX-License-Identifier: MIT */
/* Push from a mailbox relay (http/mailbox_wait.h) on the node: one thread
 * per mailbox of ours that keeps a signed wait open there and signals an
 * eventfd when the relay says an envelope for us was committed; the
 * control thread (node/offline.c) then fetches at once. A relay without
 * the wait route (404) or an error: tried again after a pause. */
#ifndef UM_NODE_OFFLINE_WAIT_H
#define UM_NODE_OFFLINE_WAIT_H

#include "crypto/identity.h"

enum {
	UM_OFFLINE_WAIT_S = 25, /* one wait request: under proxies' idle timeouts */
};

struct um_offline_waiter;

/* url copied; identity borrowed while it runs; admission key: none needed
 * (only enqueueing is admitted). *out owned by the caller. */
int um_offline_waiter_new(struct um_offline_waiter **out, const char *url, const struct um_identity *identity);
/* Asks the thread to stop (the running wait aborts within about a second)
 * without waiting: several waiters stop in parallel. NULL fine. */
void um_offline_waiter_stop(struct um_offline_waiter *w);
/* Stops and joins. NULL fine. */
void um_offline_waiter_free(struct um_offline_waiter *w);
/* Readable when envelopes arrived; drain clears it. */
int um_offline_waiter_fd(const struct um_offline_waiter *w);
void um_offline_waiter_drain(struct um_offline_waiter *w);

#endif
