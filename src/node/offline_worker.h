/* SPDX-License-Identifier: MIT */
/* The store-and-forward worker (node/offline.h): a thread that does every
 * blocking and CPU-heavy step of the offline path, so the control thread
 * never waits for a relay or spends a KEM per envelope: the prekey ring
 * (load, rotate, save, publish at our mailboxes), peers' bundles (fetched
 * from their mailboxes, verified, cached), sealing and queueing envelopes
 * on two mailboxes, fetching and opening ours, deleting them.
 *
 * The control thread submits jobs (owned by the worker until they come
 * back); the worker runs them in order and queues them as done, then
 * signals an eventfd the control loop watches; the control thread takes
 * them back (um_offline_worker_take) and frees them (um_offline_job_free).
 * The ring and the bundle cache are the worker thread's alone. The node
 * runs two: the ring's (PREKEYS, FETCH, DELETE) and the sender's (SEND:
 * config.ring_path empty, no ring), so that sealing and queueing never
 * wait behind a poll. */
#ifndef UM_NODE_OFFLINE_WORKER_H
#define UM_NODE_OFFLINE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/identity.h"
#include "http/queue_client.h"

enum {
	UM_OFFLINE_MAILBOXES = 2, /* home and backup */
	UM_OFFLINE_BATCH = 64,    /* envelopes per job (one queue API request) */
	UM_OFFLINE_RECORDS = 4,   /* mailbox record candidates per SEND job */
};

enum um_offline_job_kind {
	UM_OFFLINE_JOB_PREKEYS, /* rotate, save, publish */
	UM_OFFLINE_JOB_SEND,    /* seal items to peer, queue on urls */
	UM_OFFLINE_JOB_FETCH,   /* our envelopes from urls, opened */
	UM_OFFLINE_JOB_DELETE,  /* ids at urls[0] */
};

/* SEND: one envelope's content. */
struct um_offline_item {
	uint8_t content_type; /* UM_ENVELOPE_CONTENT_* */
	uint8_t ref[16];      /* the message ID it carries or acknowledges */
	uint8_t *payload;     /* owned: the frame payload (wire/message.h) */
	size_t len;
	unsigned acked; /* out: relays that committed it */
	int error;      /* out: the last failure (0 none) */
};

/* FETCH: one envelope as it came from urls[url]. */
struct um_offline_fetched {
	unsigned url;
	uint8_t envelope_id[16];
	int open_result; /* 0 opened; else msg/envelope.h's code */
	uint8_t sender[32];
	uint8_t content_type;
	uint64_t sent_ms;
	uint8_t *payload; /* owned copy */
	size_t len;
};

struct um_offline_job {
	struct um_offline_job *next;
	enum um_offline_job_kind kind;
	char urls[UM_OFFLINE_MAILBOXES][UM_QUEUE_CLIENT_URL_MAX];
	size_t n_urls;
	/* SEND */
	size_t peer_index; /* the control thread's */
	uint8_t peer_id[32];
	bool data;       /* messages (else receipts) */
	bool include_pk; /* our public key in the envelopes (else the recipient
			  * fetches it where our prekey is published: its
			  * mailboxes are ours) */
	struct um_offline_item items[UM_OFFLINE_BATCH];
	size_t n_items;
	/* SEND to a peer without [peer] mailbox found in the DHT: its mailbox
	 * record candidates (msg/mailbox_record.h; owned, malloc'd each,
	 * highest sequence first). The worker verifies them with the peer's
	 * key (its cache, else the key its mailboxes serve beside the bundle,
	 * hashed against the peer ID), then queues at the URLs of the first
	 * valid one (urls replaced) sealed to its prekey. */
	uint8_t *records[UM_OFFLINE_RECORDS];
	size_t records_len[UM_OFFLINE_RECORDS];
	size_t n_records;
	/* FETCH (owned array) */
	struct um_offline_fetched *fetched;
	size_t n_fetched, cap_fetched;
	/* DELETE (owned array): at urls[0] */
	uint8_t (*ids)[16];
	size_t n_ids;
	/* out */
	int result;
	unsigned relays_ok;  /* PREKEYS: published at; FETCH: answered */
	bool prekey_changed; /* PREKEYS */
	/* PREKEYS: want_record (in: the node runs a DHT) and record_built (in:
	 * one was built before) ask for our mailbox record, built into record
	 * (out, owned) when none was built yet or the prekey changed. */
	bool want_record, record_built;
	uint8_t *record;
	size_t record_len;
};

struct um_offline_worker_config {
	const struct um_identity *identity; /* borrowed while the worker runs */
	char ring_path[4096 + 16];
	uint64_t lifetime_ms, retention_ms; /* 0: msg/prekey.h's defaults */
	uint8_t admission_key[32];          /* for the queue API (wiped after use) */
	bool has_admission_key;
	char ca_file[4096];        /* https mailboxes ("" = system default) */
	uint64_t (*wall_ms)(void); /* NULL: um_wall_ms */
};

struct um_offline_worker;

/* Starts the thread. config copied (its secret wiped by the caller). *out
 * owned by the caller (um_offline_worker_free). */
int um_offline_worker_new(struct um_offline_worker **out, const struct um_offline_worker_config *config);
/* Stops it after the running job (queued jobs are freed), wipes the ring. */
void um_offline_worker_free(struct um_offline_worker *w);
/* Readable when done jobs wait. */
int um_offline_worker_fd(const struct um_offline_worker *w);
void um_offline_worker_submit(struct um_offline_worker *w, struct um_offline_job *job);
/* The next done job (the caller owns it), NULL when none. */
struct um_offline_job *um_offline_worker_take(struct um_offline_worker *w);

struct um_offline_job *um_offline_job_new(enum um_offline_job_kind kind);
void um_offline_job_free(struct um_offline_job *job);

#endif
