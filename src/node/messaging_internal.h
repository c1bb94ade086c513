/* SPDX-License-Identifier: MIT */
/* State shared by messaging.c, messaging_files.c and messaging_control.c
 * (node/messaging.h describes them). Not for other files of node/. */
#ifndef UM_NODE_MESSAGING_INTERNAL_H
#define UM_NODE_MESSAGING_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "msg/file.h"
#include "msg/messenger.h"
#include "net/dataplane.h"
#include "node/internal.h"
#include "node/messaging.h"
#include "store/store.h"
#include "util/clock.h"

enum {
	MSG_PRESENCE_TEXT_MAX = 256,
	/* Room kept free in the channel for messages, receipts and presence
	 * while a file fills it (a chunk frame goes only when this much stays). */
	MSG_FILE_RESERVE = 128 * 1024,
	MSG_TRIM_INTERVAL_S = 60,
	MSG_PENDING_MAX = 65536, /* frames waiting for room; beyond, the oldest receipts go */
	/* Each channel's send buffer and receive window: a file streams at
	 * most this much per round trip (the buffers grow only on demand). */
	MSG_CHANNEL_BUFFER = 8 << 20,
};

/* A frame waiting for room in the channel: written in order by
 * msg_flush_pending. Built while a batch of events is processed (so that
 * nothing is written before the store committed it). */
struct msg_pending {
	struct msg_pending *next;
	bool is_ack;
	uint8_t id[16], what; /* ACK */
	uint8_t type;         /* frame */
	size_t len;
	uint8_t data[]; /* frame payload; ACK: its reason (len bytes + NUL) */
};

struct msg_transfer;  /* messaging_files.c */
struct msg_file_sync; /* messaging_fileio.h */

struct msg_peer {
	struct um_node_peer *peer;
	struct um_messenger *messenger; /* owned; NULL until the first session */
	/* Outbox: messages with seq <= cursor were written to the channel
	 * since its last reset (0 = write everything pending again). */
	int64_t outbox_cursor;
	bool outbox_due; /* the store may hold messages past the cursor (no query per segment otherwise) */
	struct msg_pending *pending_head, *pending_tail;
	size_t n_pending;
	uint64_t presence_sessions; /* fresh sessions (handshakes - rekeys) when ours last went */
	bool presence_due;          /* ours must go (changed, or a fresh session) */
	/* Theirs, as last received (also in the store). */
	bool has_presence;
	uint8_t presence_state;
	uint64_t presence_last_seen_ms;
	char presence_text[MSG_PRESENCE_TEXT_MAX + 1];
};

struct um_node_messaging {
	struct um_node *node;
	struct um_store *store; /* owned */
	struct msg_peer *peers; /* owned; one per node->peers entry, same index */
	size_t n_peers;
	struct um_timer timer;           /* the earliest channel deadline */
	bool pump_soon;                  /* timer armed now: segments came in, pump once after the batch */
	struct um_timer trim_timer;      /* every MSG_TRIM_INTERVAL: idle channels give back burst buffers */
	struct um_timer file_sync_timer; /* messaging_files.c: received chunks made durable */
	struct msg_file_sync *file_sync; /* messaging_files.c: their fdatasync thread (owned; NULL until used) */
	char store_path[UM_CONFIG_PATH_MAX];
	char download_dir[UM_CONFIG_PATH_MAX];
	uint8_t self_state; /* ours: UM_PRESENCE_*: 1 online at start */
	char self_text[MSG_PRESENCE_TEXT_MAX + 1];
	struct um_messaging_status counters;
	struct um_messaging_listener listener; /* the embedding program's (all NULL: none) */
	struct msg_transfer *transfers;        /* owned list (messaging_files.c) */
	struct um_node_offline *offline;       /* owned; node/offline.h (NULL: no mailbox) */
	struct um_messenger_event events[UM_MESSENGER_EVENTS_MAX];
};

/* The files, bottom to top (a file calls only those before it):
 * messaging_peer.c < messaging_events.c < messaging_files.c < messaging.c
 * < messaging_control.c. */

static inline struct msg_peer *msg_peer_of(struct um_node_peer *peer)
{
	struct um_node_messaging *ms = peer->node->messaging;

	return ms ? &ms->peers[peer - peer->node->peers] : NULL;
}

static inline const char *msg_peer_name(const struct msg_peer *mp)
{
	return mp->peer->config->name;
}

/* Every peer is pumped once, soon: the messaging timer (messaging.c) is
 * armed for now. Lower files use it instead of calling msg_pump. */
static inline void msg_pump_soon(struct um_node_messaging *ms)
{
	if (!ms->pump_soon) {
		ms->pump_soon = true;
		um_timer_arm_at(ms->node->loop, &ms->timer, um_now_ns());
	}
}

/* messaging_peer.c */
/* The peer by configured name or peer ID text, or NULL. */
struct msg_peer *msg_peer_find(struct um_node_messaging *ms, const char *name_or_id);
/* Queue a frame / a receipt (reason: NULL or text, cut at
 * UM_MESSAGE_REASON_MAX) behind the others (written by msg_pump).
 * 0, -UM_ENOMEM, -UM_ELIMIT (MSG_PENDING_MAX waiting: dropped). */
int msg_queue_frame(struct msg_peer *mp, uint8_t type, const void *payload, size_t len);
int msg_queue_ack(struct msg_peer *mp, const uint8_t id[16], uint8_t what, const char *reason);
void msg_pending_free(struct msg_peer *mp);

/* messaging_events.c: a growable text (NUL-terminated; failed after an
 * allocation failed: its data is then not to be used), the renderings, and
 * the events to inbox-follow clients (nothing is built when none is
 * connected). */
struct msg_text {
	char *data; /* owned: free() */
	size_t len, cap;
	bool failed;
};
void msg_text_put(struct msg_text *t, const char *s, size_t n);
/* A string literal, its length counted by the compiler (a hand-counted
 * length once dropped a closing brace from inbox --json). */
#define msg_text_lit(t, literal) msg_text_put((t), "" literal, sizeof(literal) - 1)
void msg_text_putf(struct msg_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void msg_text_json(struct msg_text *t, const uint8_t *s, size_t n); /* a JSON string of UTF-8 text */
void msg_text_hex(struct msg_text *t, const uint8_t *b, size_t n);
void msg_text_pct(struct msg_text *t, const void *data, size_t n); /* ctl/control.h's PCT */
const char *msg_out_state_name(uint8_t state);
const char *msg_in_state_name(uint8_t state);
const char *msg_file_state_name(uint8_t state);
const char *msg_presence_name(uint8_t state);
/* The configured name of the peer with these ID bytes, else its ID text
 * (in buf). */
const char *msg_peer_label(struct um_node_messaging *ms, const uint8_t peer[32], char *buf, size_t size);
void msg_render_message_json(struct um_node_messaging *ms, struct msg_text *t, const struct um_store_message *m);
void msg_render_message_text(struct um_node_messaging *ms, struct msg_text *t, const struct um_store_message *m);
void msg_render_file_json(struct um_node_messaging *ms, struct msg_text *t, const struct um_store_file *f,
			  uint64_t bytes_sent);
void msg_render_file_text(struct um_node_messaging *ms, struct msg_text *t, const struct um_store_file *f);
void msg_render_presence_json(struct msg_text *t, const char *who, uint8_t state, uint64_t last_seen_ms,
			      const char *text);
void msg_notify_message(struct um_node_messaging *ms, const struct um_store_message *m);
void msg_notify_receipt(struct um_node_messaging *ms, struct msg_peer *mp, const uint8_t id[16], uint8_t state);
void msg_notify_presence(struct um_node_messaging *ms, struct msg_peer *mp);
void msg_notify_file(struct um_node_messaging *ms, const struct um_store_file *f);

/* messaging_files.c */
int msg_files_start(struct um_node_messaging *ms); /* resumes transfers from the store */
void msg_files_stop(struct um_node_messaging *ms); /* closes files; the store keeps the state */
/* A FILE_* frame from the peer (the payload is the messenger's: valid
 * during the call only). */
void msg_files_frame(struct um_node_messaging *ms, struct msg_peer *mp, uint8_t type, const uint8_t *payload,
		     size_t len);
/* The channel reset (or a fresh messenger): offers and requests again. */
void msg_files_reset(struct um_node_messaging *ms, struct msg_peer *mp);
/* Writes chunks while the channel has room beyond MSG_FILE_RESERVE and
 * holds less than its backlog. */
void msg_files_pump(struct um_node_messaging *ms, struct msg_peer *mp);
/* Offer a file (absolute path) to the peer: hashed, stored, its FILE_META
 * queued; *id set. The caller pumps. */
int msg_files_send(struct um_node_messaging *ms, struct msg_peer *mp, const char *path, uint8_t id[16]);
/* Accept or refuse a held offer; *mp_out = its peer, to pump. */
int msg_files_decide(struct um_node_messaging *ms, const uint8_t id[16], bool accept, const char *reason,
		     struct msg_peer **mp_out);
/* A live transfer's info (progress updated), or NULL when it is not
 * running (the store has it); *bytes_sent: chunk bytes sent this run. */
const struct um_store_file *msg_files_live(struct um_node_messaging *ms, const uint8_t id[16], bool outgoing,
					   uint64_t *bytes_sent);

/* messaging.c */
/* Everything that can go: pending frames, presence, outbox, file chunks;
 * then the channel's segments to the data plane; then the timer. */
void msg_pump(struct um_node_messaging *ms, struct msg_peer *mp);
/* ms->self_* changed: sent to every peer. */
void msg_presence_changed(struct um_node_messaging *ms);

#endif
