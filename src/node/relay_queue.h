/* SPDX-License-Identifier: MIT */
/* The relay's offline queue service ([relay] queue = PATH): the durable
 * queue (store/queue.h) behind the queue API (http/queue_api.h) on the
 * relay's api listener. The committer thread is the queue's only user. */
#ifndef UM_NODE_RELAY_QUEUE_H
#define UM_NODE_RELAY_QUEUE_H

#include "ctl/config.h"
#include "http/queue_api.h"
#include "http/server.h"

struct um_relay_queue;

/* Opens rc's queue database with its limits and starts the committer.
 * *out owned by the caller (um_relay_queue_free). api (may be NULL) tunes
 * the API (tests, benchmarks); the admission policy comes from rc. */
int um_relay_queue_open(struct um_relay_queue **out, const struct um_config_relay_server *rc,
			const struct um_queue_api_config *api);
/* Routes the API on server (before it starts): matches
 * um_bootstrap_service_start_extra's hook. */
int um_relay_queue_attach(void *relay_queue, struct um_http_server *server);
/* Answers every waiting request; call before the server is freed. */
void um_relay_queue_stop(struct um_relay_queue *rq);
/* Stops, closes the database and frees. NULL is fine. */
void um_relay_queue_free(struct um_relay_queue *rq);
struct um_queue_api *um_relay_queue_api(struct um_relay_queue *rq);

#endif
