/* SPDX-License-Identifier: MIT */
/* The handshake worker (handshake_worker.h): a thread, two rings of lent
 * work items under one mutex, a condition variable to wake the thread and
 * an eventfd to wake the control loop. The lock is held only to move a
 * pointer, never while signing. */
#include "node/handshake_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/error.h"

struct ring {
	struct um_handshake_work **items; /* capacity entries */
	unsigned head, count;
};

struct um_handshake_worker {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	unsigned capacity, lent; /* lent: submitted and not yet taken */
	/* Key pairs made while idle (the worker thread's alone); refilled
	 * after each job until full. */
	struct um_handshake_kem_pool *kem_pool;
	bool kem_wanted;
	struct ring todo, done;
	int fd; /* eventfd: done items wait */
};

static void ring_push(struct ring *r, unsigned capacity, struct um_handshake_work *work)
{
	r->items[(r->head + r->count) % capacity] = work;
	r->count++;
}

static void ring_push_front(struct ring *r, unsigned capacity, struct um_handshake_work *work)
{
	r->head = (r->head + capacity - 1) % capacity;
	r->items[r->head] = work;
	r->count++;
}

static struct um_handshake_work *ring_pop(struct ring *r, unsigned capacity)
{
	struct um_handshake_work *work;

	if (!r->count)
		return NULL;
	work = r->items[r->head];
	r->head = (r->head + 1) % capacity;
	r->count--;
	return work;
}

static void *worker_main(void *arg)
{
	struct um_handshake_worker *w = arg;
	const uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stop && !w->todo.count) {
			if (w->kem_wanted) { /* idle: one key pair, then look again */
				pthread_mutex_unlock(&w->lock);
				bool more = um_handshake_kem_pool_fill(w->kem_pool) > 0;
				pthread_mutex_lock(&w->lock);
				w->kem_wanted = more;
				continue;
			}
			pthread_cond_wait(&w->wake, &w->lock);
		}
		if (w->stop)
			break;
		struct um_handshake_work *work = ring_pop(&w->todo, w->capacity);
		pthread_mutex_unlock(&w->lock);
		/* The result stays in the item. */
		um_handshake_work_run_pooled(work, w->kem_pool);
		pthread_mutex_lock(&w->lock);
		w->kem_wanted = true;
		ring_push(&w->done, w->capacity, work);
		/* Counter semantics: one read drains any number of writes. */
		if (write(w->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			break; /* cannot happen with a valid eventfd */
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int um_handshake_worker_new(struct um_handshake_worker **out, unsigned capacity)
{
	struct um_handshake_worker *w;
	int ret = -UM_ENOMEM;

	*out = NULL;
	if (!capacity)
		return -UM_EINVAL;
	if (!(w = calloc(1, sizeof(*w))))
		return -UM_ENOMEM;
	w->fd = -1;
	w->capacity = capacity;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->todo.items = calloc(capacity, sizeof(*w->todo.items));
	w->done.items = calloc(capacity, sizeof(*w->done.items));
	if (!w->todo.items || !w->done.items)
		goto out;
	if ((ret = um_handshake_kem_pool_new(&w->kem_pool, UM_HANDSHAKE_WORKER_KEM_PAIRS)) < 0)
		goto out;
	w->kem_wanted = true;
	if ((w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		ret = -errno;
		goto out;
	}
	if ((ret = -pthread_create(&w->thread, NULL, worker_main, w)) < 0)
		goto out;
	w->started = true;
	pthread_setname_np(w->thread, "umbra-hs-sign");
	*out = w;
	return 0;
out:
	um_handshake_worker_free(w);
	return ret;
}

void um_handshake_worker_free(struct um_handshake_worker *worker)
{
	if (!worker)
		return;
	if (worker->started) {
		pthread_mutex_lock(&worker->lock);
		worker->stop = true;
		pthread_cond_signal(&worker->wake);
		pthread_mutex_unlock(&worker->lock);
		pthread_join(worker->thread, NULL);
	}
	if (worker->fd >= 0)
		close(worker->fd);
	um_handshake_kem_pool_free(worker->kem_pool);
	free(worker->todo.items);
	free(worker->done.items);
	pthread_cond_destroy(&worker->wake);
	pthread_mutex_destroy(&worker->lock);
	free(worker);
}

int um_handshake_worker_fd(const struct um_handshake_worker *worker)
{
	return worker->fd;
}

int um_handshake_worker_submit(struct um_handshake_worker *worker, struct um_handshake_work *work)
{
	int ret = 0;

	pthread_mutex_lock(&worker->lock);
	if (worker->lent >= worker->capacity) {
		ret = -UM_ELIMIT;
	} else {
		worker->lent++;
		/* A HELLO from a quiet site jumps the flood's queue. */
		if (um_handshake_work_urgent(work))
			ring_push_front(&worker->todo, worker->capacity, work);
		else
			ring_push(&worker->todo, worker->capacity, work);
		pthread_cond_signal(&worker->wake);
	}
	pthread_mutex_unlock(&worker->lock);
	return ret;
}

struct um_handshake_work *um_handshake_worker_take(struct um_handshake_worker *worker)
{
	struct um_handshake_work *work;
	uint64_t count;

	/* Drain before looking: an item pushed after this read writes again,
	 * so the fd stays readable for it. */
	if (read(worker->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return NULL;
	pthread_mutex_lock(&worker->lock);
	work = ring_pop(&worker->done, worker->capacity);
	if (work)
		worker->lent--;
	pthread_mutex_unlock(&worker->lock);
	return work;
}
