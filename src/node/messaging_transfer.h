/* SPDX-License-Identifier: MIT */
/* A file transfer on the node: shared by messaging_fileio.c (the receiver's
 * durable writes) and messaging_files.c (the rest). Not for other files. */
#ifndef UM_NODE_MESSAGING_TRANSFER_H
#define UM_NODE_MESSAGING_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "node/messaging_fileio.h"
#include "node/messaging_internal.h"

enum {
	FILE_CHUNK_SIZE = UM_FILE_CHUNK_MAX,
	FILE_OUTSTANDING = 256,                   /* chunks asked for at once (16 MiB) */
	FILE_WAITING_MAX = 32,                    /* offers held for a decision, per peer */
	FILE_CHANNEL_BUFFER = MSG_CHANNEL_BUFFER, /* the channel's send buffer */
	FILE_BACKLOG_MIN = 256 << 10,             /* chunk bytes the channel may hold in any case */
	/* Chunk bytes written to the channel and not yet sent: more are read
	 * as it sends them (drain refills between batches), so the bytes it
	 * copies out to seal are still in the CPU's cache. */
	FILE_UNSENT_MAX = 256 << 10,
	FILE_SYNC_CHUNKS = 64,   /* written chunks made durable together (4 MiB) */
	FILE_UNSYNCED_MAX = 128, /* ... waiting beside a sync (8 MiB): beyond, we wait for the disk */
};
#define FILE_SYNC_DELAY_NS (20 * UM_NSEC_PER_MSEC) /* ... or this long after the first of them */

struct msg_transfer {
	struct msg_transfer *next;
	struct msg_peer *mp;
	struct um_store_file info; /* bitmap unused (NULL) */
	int fd;                    /* sender: the file; receiver: the temporary file; -1 = none */
	int direct_fd; /* receiver: the temporary file again, O_DIRECT (see msg_file_open_direct); -1 = none */
	struct um_file_send *fs;    /* outgoing */
	struct um_file_receive *fr; /* incoming, once accepted */
	struct um_file_meta meta;   /* incoming */
	struct um_file_bitmap sent; /* outgoing: chunks sent and not asked for again (progress) */
	uint64_t bytes_sent;        /* outgoing: chunk bytes written to the channel, this run */
	struct timespec mtime;      /* outgoing: the file's when opened to send */
	/* incoming: received, not yet given to the sync thread nor marked in
	 * the store (a restart asks for them again); unsynced[k]'s bytes are
	 * staged at stage + k * UM_FILE_CHUNK_MAX (stage_len[k] bytes; 0 =
	 * already written): the sync thread writes them, so the control
	 * thread copies a chunk once in memory instead of into the page cache
	 * (owned, MSG_FILE_STAGE_BYTES; NULL until the first chunk). */
	uint32_t unsynced[FILE_UNSYNCED_MAX];
	uint32_t stage_len[FILE_UNSYNCED_MAX];
	uint8_t *stage;
	size_t n_unsynced;
};
_Static_assert((int)FILE_UNSYNCED_MAX <= (int)MSG_FILE_STAGE_MAX, "every unsynced chunk has a stage slot");

/* The live transfer with this ID and direction, or NULL. */
struct msg_transfer *msg_transfer_find(struct um_node_messaging *ms, const uint8_t id[16], bool outgoing);
/* Every FILE_REQUEST the receiver has now, queued. */
void msg_transfer_queue_requests(struct msg_transfer *t);

/* The receiver's written chunks made durable (messaging_fileio.c): */
/* given to the sync thread, unless it is busy (they go with the next job,
 * or the control thread waits when FILE_UNSYNCED_MAX are waiting); without
 * the thread, synced here. */
void msg_receiver_sync_start(struct um_node_messaging *ms, struct msg_transfer *t);
/* fdatasync and mark here, on the control thread: 0 or the error (the
 * chunks are then forgotten: missing again). */
int msg_receiver_sync(struct um_node_messaging *ms, struct msg_transfer *t);
/* Everything t wrote is durable (or forgotten): the job in flight done,
 * the rest synced here. */
int msg_receiver_settle(struct um_node_messaging *ms, struct msg_transfer *t);
/* ms->file_sync_timer's function: what waited FILE_SYNC_DELAY_NS goes. */
void msg_receiver_on_sync_timer(struct um_loop *loop, struct um_timer *timer);

#endif
