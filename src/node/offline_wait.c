/* SPDX-License-Identifier: MIT */
/* Push from a mailbox relay (offline_wait.h). */
#include "node/offline_wait.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "http/queue_client.h"
#include "util/error.h"
#include "util/log.h"

#define PAUSE_S 5 /* after an error (60 s when the relay has no wait route) */

struct um_offline_waiter {
	pthread_t thread;
	bool started;
	_Atomic bool stop;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int fd;
	char url[UM_QUEUE_CLIENT_URL_MAX];
	const struct um_identity *identity;
};

/* Sleeps s seconds unless stopped first. */
static void pause_for(struct um_offline_waiter *w, unsigned s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += s;
	pthread_mutex_lock(&w->lock);
	if (!w->stop)
		pthread_cond_timedwait(&w->wake, &w->lock, &ts);
	pthread_mutex_unlock(&w->lock);
}

static void *waiter_main(void *arg)
{
	struct um_offline_waiter *w = arg;
	struct um_queue_client c;
	const uint64_t one = 1;
	uint64_t after = 0;

	if (um_queue_client_init(&c, w->url))
		return NULL;
	c.cancel = &w->stop;
	while (!w->stop) {
		bool arrived = false;
		uint64_t now = 0;
		int r = um_queue_client_wait(&c, w->identity, after, UM_OFFLINE_WAIT_S, &arrived, &now);
		if (w->stop)
			break;
		if (r) {
			um_log_debug("mailbox %s: wait: %s", w->url, um_strerror(r));
			pause_for(w, r == -UM_ENOTFOUND ? 60 : PAUSE_S);
			continue;
		}
		after = now;
		if (arrived && write(w->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			break;
	}
	um_queue_client_close(&c);
	return NULL;
}

int um_offline_waiter_new(struct um_offline_waiter **out, const char *url, const struct um_identity *identity)
{
	struct um_offline_waiter *w = calloc(1, sizeof(*w));
	int r;

	*out = NULL;
	if (!w)
		return -UM_ENOMEM;
	snprintf(w->url, sizeof(w->url), "%s", url);
	w->identity = identity;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->fd < 0) {
		r = -errno;
		goto err;
	}
	r = -pthread_create(&w->thread, NULL, waiter_main, w);
	if (r)
		goto err;
	w->started = true;
	pthread_setname_np(w->thread, "umbra-mbox-wait");
	*out = w;
	return 0;
err:
	um_offline_waiter_free(w);
	return r;
}

void um_offline_waiter_stop(struct um_offline_waiter *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void um_offline_waiter_free(struct um_offline_waiter *w)
{
	if (!w)
		return;
	if (w->started) {
		um_offline_waiter_stop(w);
		pthread_join(w->thread, NULL);
	}
	if (w->fd >= 0)
		close(w->fd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}

int um_offline_waiter_fd(const struct um_offline_waiter *w)
{
	return w->fd;
}

void um_offline_waiter_drain(struct um_offline_waiter *w)
{
	uint64_t count;

	if (read(w->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		um_log_debug("mailbox waiter eventfd: %s", strerror(errno));
}
