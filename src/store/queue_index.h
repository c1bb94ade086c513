/* SPDX-License-Identifier: MIT */
/* The relay queue's in-memory index (store/ internal, queue.c's): rebuilt
 * from the segment log on open (um_qindex_replay), changed by puts and
 * deletes at once, put back by um_qindex_settle when a batch fails. */
#ifndef UM_STORE_QUEUE_INDEX_H
#define UM_STORE_QUEUE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "store/queue.h"
#include "store/queue_log.h"

struct qrecipient;

/* One queued envelope: its record is at offset off of segment seg. */
struct qentry {
	struct qentry *hnext;       /* (recipient, id) chain */
	struct qentry *prev, *next; /* the recipient's, by seq */
	struct qrecipient *r;
	uint8_t id[16];
	uint64_t seq, arrival_ms, expires_ms, off;
	uint32_t seg, len;
	bool linked, doomed;
};

/* A recipient with envelopes (or emptied by the open batch). */
struct qrecipient {
	struct qrecipient *hnext;
	struct qentry *head, *tail;
	uint8_t id[32];
	uint32_t count;
	uint64_t bytes;
	bool unlinked; /* out of the table, to be freed */
};

struct qtable {
	void **slot;
	size_t mask, n;
};

enum qundo_kind { UNDO_ADDED, UNDO_REMOVED };

struct qundo {
	enum qundo_kind kind;
	struct qentry *e;
};

/* queue.h's handle: the log, the index and the open batch. */
struct um_queue {
	struct um_qlog log;
	struct um_queue_limits limits;
	struct um_queue_stats counted; /* puts .. deleted */
	struct qtable recipients, entries;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
	uint64_t next_seq, envelopes, bytes, nonempty;
	unsigned depth;
	int failed; /* the open batch's error */
	struct qundo *undo;
	size_t n_undo, cap_undo;
	uint8_t *scratch; /* UM_QUEUE_ENVELOPE_MAX */
};

/* Doubles t when it is as full as it has slots (entries: the (recipient,
 * id) table, else the recipients'). 0 or -UM_ENOMEM. */
int um_qindex_table_grow(struct um_queue *q, struct qtable *t, bool entries);
struct qrecipient *um_qindex_recipient_find(struct um_queue *q, const uint8_t id[32]);
/* The recipient, made (empty) when missing; NULL: no memory. */
struct qrecipient *um_qindex_recipient_get(struct um_queue *q, const uint8_t id[32]);
struct qentry *um_qindex_entry_find(struct um_queue *q, const uint8_t recipient[32], const uint8_t id[16]);
/* Links e (e->r set; owned by the index from now) into the tables and its
 * recipient's list by seq, and counts it (totals, its segment's live bytes). */
void um_qindex_entry_link(struct um_queue *q, struct qentry *e);
/* The reverse; e stays allocated (the batch frees it when it settles). */
void um_qindex_entry_unlink(struct um_queue *q, struct qentry *e);
/* Adds (sign > 0) or takes (< 0) e's record size to its segment's live bytes. */
void um_qindex_live_add(struct um_queue *q, const struct qentry *e, int sign);
/* Records a change of the open batch: 0 or -UM_ENOMEM. */
int um_qindex_undo_push(struct um_queue *q, enum qundo_kind kind, struct qentry *e);
/* Ends the batch: ok keeps its changes, else undoes them; frees what is dead. */
void um_qindex_settle(struct um_queue *q, bool ok);
/* um_qlog_scan_fn: applies one record of the log (ctx: the queue). */
int um_qindex_replay(void *ctx, const struct um_qlog_record *rec, uint32_t seg, uint64_t off);
/* Frees every entry and recipient and the tables. */
void um_qindex_free(struct um_queue *q);

#endif
