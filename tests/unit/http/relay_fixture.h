/* SPDX-License-Identifier: MIT */
/* The HTTP tests' relay: its queue service on a listener (start, stop),
 * and the files it leaves beside `[relay] queue = PATH`:
 * the queue's head PATH and its segments PATH-NNNNNNNN.log (store/queue.h),
 * and the prekey database PATH-prekeys with SQLite's WAL files
 * (store/prekeys.h). The HTTP tests remove them all so that their rmdir of
 * the scratch directory proves nothing else was left behind. */
#ifndef UM_TEST_RELAY_FIXTURE_H
#define UM_TEST_RELAY_FIXTURE_H

#include <stdio.h>
#include <unistd.h>

#include "http/server.h"
#include "node/relay_queue.h"
#include "test.h"

static inline void relay_files_remove(const char *queue_path)
{
	static const char *const prekeys[] = {"-prekeys", "-prekeys-wal", "-prekeys-shm"};
	char path[256];

	unlink(queue_path);
	for (unsigned n = 1; n < 100000; n++) {
		snprintf(path, sizeof(path), "%s-%08u.log", queue_path, n);
		if (unlink(path) < 0)
			break;
	}
	for (size_t i = 0; i < sizeof(prekeys) / sizeof(prekeys[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", queue_path, prekeys[i]);
		unlink(path);
	}
}

/* A relay's queue service (rc, ac) on an HTTP listener at 127.0.0.1 on a
 * free port, running; *base its URL. Stopped by relay_service_stop. */
static inline void relay_service_start(const struct um_config_relay_server *rc, const struct um_queue_api_config *ac,
				       struct um_relay_queue **rq, struct um_http_server **server, char *base,
				       size_t base_size)
{
	struct um_http_server_config hc = {0};

	CHECK_EQ(um_relay_queue_open(rq, rc, ac), 0);
	um_addr_parse_host(&hc.listen, "127.0.0.1");
	CHECK_EQ(um_http_server_create(server, &hc), 0);
	CHECK_EQ(um_relay_queue_attach(*rq, *server), 0);
	CHECK_EQ(um_http_server_start(*server), 0);
	snprintf(base, base_size, "http://127.0.0.1:%u", um_http_server_port(*server));
}

static inline void relay_service_stop(struct um_relay_queue **rq, struct um_http_server **server)
{
	um_relay_queue_stop(*rq);
	um_http_server_free(*server);
	um_relay_queue_free(*rq);
	*server = NULL;
	*rq = NULL;
}

#endif
