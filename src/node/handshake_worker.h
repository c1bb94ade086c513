/* SPDX-License-Identifier: MIT */
/* The handshake worker: one thread that runs the handshake engine's
 * deferred CHALLENGEs (session/handshake.h, um_handshake_work_run), so the
 * ML-KEM keygen and the hybrid signature (~1 ms each CHALLENGE) never hold
 * the control thread's timers, relay and path work behind them.
 *
 * The control thread submits lent work items; the worker runs them in
 * order and queues them as done, then signals an eventfd the control loop
 * watches; the control thread takes them back and finishes them in the
 * engine. Both queues are rings of pointers allocated once (capacity
 * items each): no allocation per job. The worker touches only the items
 * (and through them the engine's immutable identity), never the engine. */
#ifndef UM_NODE_HANDSHAKE_WORKER_H
#define UM_NODE_HANDSHAKE_WORKER_H

#include "session/handshake.h"

struct um_handshake_worker;

/* Precomputed KEM key pairs the worker keeps while idle (handshake.h):
 * a burst this long takes no keygen on a legitimate CHALLENGE's path. */
enum { UM_HANDSHAKE_WORKER_KEM_PAIRS = 8 };

/* Starts the thread; *out is owned by the caller (um_handshake_worker_free).
 * capacity: the most items out at once (the engine's max_pending). */
int um_handshake_worker_new(struct um_handshake_worker **out, unsigned capacity);
/* Stops and joins the thread, closes the eventfd. Items still queued (not
 * run, or run and not taken) are left as they are: the engine wipes them
 * when it is freed, which must come after this. NULL is a no-op. */
void um_handshake_worker_free(struct um_handshake_worker *worker);
/* Readable (EPOLLIN) when done items wait to be taken. */
int um_handshake_worker_fd(const struct um_handshake_worker *worker);
/* Queues work (borrowed until it comes back from take): last, or first
 * when um_handshake_work_urgent (a HELLO from a quiet site does not wait
 * behind a flood's). -UM_ELIMIT when
 * capacity items are already out (the caller then runs it itself). */
int um_handshake_worker_submit(struct um_handshake_worker *worker, struct um_handshake_work *work);
/* The next finished item, NULL when none is left; drains the eventfd
 * first, so call it until NULL after each wakeup. */
struct um_handshake_work *um_handshake_worker_take(struct um_handshake_worker *worker);

#endif
