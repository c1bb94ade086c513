/* SPDX-License-Identifier: MIT */
/* File transfers on the node (node/messaging.h; the state machines are
 * msg/file.h, the frames wire/message_file.h). This file does the I/O:
 *
 * Sender: the file is hashed when offered (one pass: the chunk hashes are
 * kept for the FILE_CHUNKs, the whole-file hash is over them), the
 * offer (FILE_META) is stored and sent, sent again after each channel reset
 * until the receiver answers; chunks are read (pread) as the receiver's
 * FILE_REQUESTs ask for them and written to the channel while it keeps
 * MSG_FILE_RESERVE free for messages. FILE_DONE or FILE_REFUSE ends it.
 *
 * Receiver: an offer is checked (size against max-file-size, the free
 * space of download-dir, a sane name) and decided by the peer's
 * accept-files policy: always, never (FILE_REFUSE), ask (held until
 * `umbra file accept|reject`). Chunks go to a temporary file
 * ".<name>.<id8>.umbra-part" in download-dir: pwrite; every 4 MiB a
 * thread (messaging_fileio.h) runs fdatasync, then the store marks them
 * done (a chunk the store counts is on disk). When all are there the hash
 * list of the checked chunks (those from before a restart hashed from the
 * disk) is checked against the offer's and the file is linked to its final
 * name, never over an existing file ("name", "name (1)", ...). After a
 * restart the store's bitmap says which chunks are done: only the others
 * are asked for. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sodium.h>

#include "node/messaging_fileio.h"
#include "node/messaging_internal.h"
#include "node/messaging_transfer.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

static bool final_state(uint8_t state)
{
	return state == UM_STORE_FILE_DONE || state == UM_STORE_FILE_REFUSED || state == UM_STORE_FILE_FAILED;
}

static void transfer_free(struct um_node_messaging *ms, struct msg_transfer *t)
{
	/* Its fd must outlive a sync in flight (the chunks get marked). */
	while (ms->file_sync && t->fr && msg_file_sync_holds(ms->file_sync, t->info.id))
		msg_file_sync_wait(ms->file_sync);
	for (struct msg_transfer **p = &ms->transfers; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	if (t->fd >= 0)
		close(t->fd);
	if (t->direct_fd >= 0)
		close(t->direct_fd);
	um_file_send_free(t->fs);
	um_file_receive_free(t->fr);
	um_file_bitmap_free(&t->sent);
	free(t->stage);
	free(t);
}

static struct msg_transfer *transfer_new(struct um_node_messaging *ms, struct msg_peer *mp)
{
	struct msg_transfer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->mp = mp;
	t->fd = -1;
	t->direct_fd = -1;
	t->next = ms->transfers;
	ms->transfers = t;
	return t;
}

/* A state change: stored, shown to followers; a final one ends it. */
static void set_state(struct um_node_messaging *ms, struct msg_transfer *t, uint8_t state)
{
	t->info.state = state;
	t->info.updated_ms = um_wall_ms();
	int r = um_store_file_put(ms->store, &t->info);
	if (r)
		um_log_warn("file %s: state not stored: %s", t->info.name, um_strerror(r));
	msg_notify_file(ms, &t->info);
	if (final_state(state))
		transfer_free(ms, t);
}

static void queue_status(struct msg_peer *mp, uint8_t type, const uint8_t id[16], bool ok, const char *reason)
{
	struct um_file_status_frame s = {.ok = ok, .reason = reason, .reason_len = reason ? strlen(reason) : 0};
	uint8_t out[UM_FILE_DONE_FRAME_MAX];
	size_t len;

	memcpy(s.id, id, 16);
	int r = type == UM_FRAME_FILE_DONE ? um_file_done_frame_encode(&s, out, sizeof(out), &len)
					   : um_file_refuse_frame_encode(&s, out, sizeof(out), &len);
	if (r == 0)
		msg_queue_frame(mp, type, out, len);
}

static void queue_meta(struct msg_transfer *t)
{
	uint8_t out[UM_FILE_META_FRAME_MAX];
	size_t len;

	if (um_file_send_meta(t->fs, out, sizeof(out), &len) == 0)
		msg_queue_frame(t->mp, UM_FRAME_FILE_META, out, len);
}

static void receiver_finish(struct um_node_messaging *ms, struct msg_transfer *t);

/* ---- sender ---- */

/* The sender's state for info (new or from the store): file open, state
 * machine built. */
static int sender_open(struct msg_transfer *t)
{
	int r;
	struct stat st;

	t->fd = open(t->info.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (t->fd < 0)
		return -errno;
	/* Resumed after a restart: the same file, or the transfer fails here
	 * rather than at the receiver's whole-file check. */
	if (fstat(t->fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != t->info.size)
		return -UM_ESTATE;
	t->mtime = st.st_mtim;
	r = um_file_send_new(t->info.id, t->info.size, t->info.chunk_size, t->info.hash, t->info.name, &t->fs);
	if (r)
		return r;
	return um_file_bitmap_init(&t->sent, t->fs->n_chunks);
}

/* A sender resumed without its hash (the chunks sent before did not all
 * go since): one pass over the file, then as an offer hashed up front. */
static int sender_rehash(struct um_node_messaging *ms, struct msg_transfer *t)
{
	uint8_t *hashes;
	int r = msg_file_hash(t->fd, t->info.size, t->info.chunk_size, t->info.hash, &hashes);

	if (r)
		return r;
	if (!msg_file_unchanged(t->fd, t->info.size, &t->mtime)) {
		free(hashes);
		return -UM_ESTATE;
	}
	um_file_send_adopt_hashes(t->fs, hashes);
	memcpy(t->fs->hash, t->info.hash, sizeof(t->fs->hash));
	t->fs->hash_known = true;
	return um_store_file_put(ms->store, &t->info);
}

int msg_files_send(struct um_node_messaging *ms, struct msg_peer *mp, const char *path, uint8_t id[16])
{
	struct msg_transfer *t = transfer_new(ms, mp);
	struct stat st;
	const char *base = strrchr(path, '/');
	int r;

	if (!t)
		return -UM_ENOMEM;
	base = base ? base + 1 : path;
	randombytes_buf(t->info.id, 16);
	memcpy(t->info.peer, mp->peer->config->id.bytes, 32);
	t->info.outgoing = true;
	snprintf(t->info.name, sizeof(t->info.name), "%s", base);
	if (strlen(path) >= sizeof(t->info.path) || !base[0]) {
		r = -UM_EINVAL;
		goto err;
	}
	snprintf(t->info.path, sizeof(t->info.path), "%s", path);
	t->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
	if (t->fd < 0) {
		r = -errno;
		goto err;
	}
	if (fstat(t->fd, &st) || !S_ISREG(st.st_mode)) {
		r = -UM_EINVAL;
		goto err;
	}
	t->info.size = (uint64_t)st.st_size;
	t->info.chunk_size = FILE_CHUNK_SIZE;
	close(t->fd);
	t->fd = -1;
	/* Offered at once: the hash list is built as the chunks go and sent
	 * in a second FILE_META (no pass over the file before the first). */
	r = sender_open(t);
	if (r == 0)
		r = um_file_send_hash_as_sent(t->fs);
	if (r)
		goto err;
	t->info.created_ms = t->info.updated_ms = um_wall_ms();
	t->info.state = UM_STORE_FILE_OFFERED;
	r = um_store_file_put(ms->store, &t->info);
	if (r)
		goto err;
	memcpy(id, t->info.id, 16);
	msg_notify_file(ms, &t->info);
	if (mp->messenger)
		queue_meta(t); /* else at its first session (msg_files_reset) */
	return 0;
err:
	transfer_free(ms, t);
	return r;
}

static void sender_request(struct um_node_messaging *ms, struct msg_transfer *t, const uint8_t *payload, size_t len)
{
	struct um_file_request_frame req;

	if (um_file_send_request(t->fs, payload, len))
		return;
	/* Progress: what is asked for again is not done at the receiver. */
	if (um_file_request_frame_decode(payload, len, &req) == 0)
		for (uint32_t i = 0; i < req.n_ranges; i++) {
			struct um_file_range range = um_file_request_frame_range(&req, i);
			for (uint64_t c = range.first; c < (uint64_t)range.first + range.count && c < t->sent.n; c++)
				um_file_bitmap_clear(&t->sent, (uint32_t)c);
		}
	if (t->info.state == UM_STORE_FILE_OFFERED)
		set_state(ms, t, UM_STORE_FILE_ACTIVE);
}

static void sender_pump(struct um_node_messaging *ms, struct msg_transfer *t)
{
	static uint8_t frame[UM_FILE_CHUNK_FRAME_MAX]; /* where the channel's buffer wraps */
	struct um_messenger *m = t->mp->messenger;
	struct um_channel_stats st;

	/* Its chunk hashes are kept (the list hash is built from them, a
	 * chunk sent again reuses its own): a file changed since it was
	 * opened would send a torn file, or chunks that fail again and again. */
	if (t->fs->chunk_hashes && !msg_file_unchanged(t->fd, t->info.size, &t->mtime)) {
		um_log_warn("file %s changed while being sent: the transfer fails", t->info.path);
		queue_status(t->mp, UM_FRAME_FILE_REFUSE, t->info.id, false, "the file changed at the sender");
		ms->counters.files_failed++;
		set_state(ms, t, UM_STORE_FILE_FAILED);
		return;
	}
	/* Chunks wait in the channel only up to about two congestion windows
	 * (at least FILE_BACKLOG_MIN): what is queued there is lost when the
	 * receiver restarts, and sent again. */
	um_channel_stats(um_messenger_channel(m), &st);
	size_t backlog = 2 * (size_t)st.cwnd, unsent = st.unsent;
	if (backlog < FILE_BACKLOG_MIN)
		backlog = FILE_BACKLOG_MIN;
	for (;;) {
		size_t writable = um_messenger_writable(m);
		size_t queued = writable < FILE_CHANNEL_BUFFER ? FILE_CHANNEL_BUFFER - writable : 0;
		if (writable < UM_FILE_CHUNK_FRAME_MAX + MSG_FILE_RESERVE ||
		    queued + UM_FILE_CHUNK_FRAME_MAX > backlog || unsent >= FILE_UNSENT_MAX)
			return;
		uint32_t index;
		size_t len, frame_len;
		if (um_file_send_next(t->fs, &index))
			return;
		len = um_file_chunk_len(t->info.size, t->info.chunk_size, index);
		/* Read into the channel's buffer, encoded around the bytes there:
		 * no copy of the chunk. */
		uint8_t *in_place = um_messenger_frame_buffer(m, UM_FRAME_FILE_CHUNK, UM_FILE_CHUNK_HEADER_LEN + len);
		uint8_t *out = in_place ? in_place : frame, *data = out + UM_FILE_CHUNK_HEADER_LEN;
		ssize_t n = pread(t->fd, data, len, (off_t)index * t->info.chunk_size);
		if (n != (ssize_t)len) {
			um_log_warn("file %s: read failed: the transfer fails", t->info.path);
			queue_status(t->mp, UM_FRAME_FILE_REFUSE, t->info.id, false, "the sender cannot read the file");
			ms->counters.files_failed++;
			set_state(ms, t, UM_STORE_FILE_FAILED);
			return;
		}
		if (um_file_chunk_encode(t->fs, index, data, len, out, UM_FILE_CHUNK_HEADER_LEN + len, &frame_len))
			continue;
		if (in_place ? um_messenger_frame_commit(m, frame_len)
			     : um_messenger_send_frame(m, UM_FRAME_FILE_CHUNK, frame, frame_len)) {
			um_file_send_requeue(t->fs, index);
			return;
		}
		um_file_bitmap_set(&t->sent, index);
		unsent += frame_len;
		t->bytes_sent += len;
		ms->counters.file_bytes_sent += len;
		if (t->fs->hash_known && sodium_is_zero(t->info.hash, sizeof(t->info.hash))) {
			/* Every chunk went once: the offer again, with the hash. */
			memcpy(t->info.hash, t->fs->hash, sizeof(t->info.hash));
			if (um_store_file_put(ms->store, &t->info))
				um_log_warn("file %s: hash not stored", t->info.name);
			queue_meta(t);
		}
	}
}

static void sender_finished(struct um_node_messaging *ms, struct msg_transfer *t, uint8_t type,
			    const struct um_file_status_frame *s)
{
	char reason[UM_FILE_REASON_MAX + 1];

	snprintf(reason, sizeof(reason), "%.*s", (int)s->reason_len, s->reason);
	if (type == UM_FRAME_FILE_DONE && s->ok) {
		struct um_channel_stats st;
		um_channel_stats(um_messenger_channel(t->mp->messenger), &st);
		um_log_info("file %s delivered to \"%s\" (%llu bytes sent for %llu; channel: srtt %llu us, cwnd %u, "
			    "peer window %u, %llu retransmits, %llu timeouts)",
			    t->info.name, msg_peer_name(t->mp), (unsigned long long)t->bytes_sent,
			    (unsigned long long)t->info.size, (unsigned long long)(st.srtt_ns / 1000), st.cwnd,
			    st.peer_window, (unsigned long long)st.retransmits, (unsigned long long)st.timeouts);
		ms->counters.files_sent++;
		t->info.bytes_done = t->info.size;
		set_state(ms, t, UM_STORE_FILE_DONE);
		return;
	}
	um_log_info("file %s %s by \"%s\": %s", t->info.name, type == UM_FRAME_FILE_DONE ? "failed" : "refused",
		    msg_peer_name(t->mp), reason[0] ? reason : "no reason given");
	set_state(ms, t, type == UM_FRAME_FILE_DONE ? UM_STORE_FILE_FAILED : UM_STORE_FILE_REFUSED);
}

/* ---- receiver ---- */

/* Accepted: the temporary file (kept from before a restart) and the
 * receiver, which asks for what is missing. */
static int receiver_open(struct um_node_messaging *ms, struct msg_transfer *t, const uint8_t *bitmap, size_t bitmap_len)
{
	struct um_file_limits limits = {.max_size = ms->node->config.max_file_size,
					.max_outstanding = FILE_OUTSTANDING};
	int r;

	if (mkdir(ms->download_dir, 0700) && errno != EEXIST)
		return -errno;
	t->fd = open(t->info.path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (t->fd < 0)
		return -errno;
	t->direct_fd = msg_file_open_direct(t->info.path);
	r = um_file_receive_new(&t->meta, &limits, &t->fr);
	if (r)
		return r;
	if (bitmap && bitmap_len && um_file_receive_import(t->fr, bitmap, bitmap_len)) {
		um_log_warn("file %s: stored progress unusable: starting over", t->info.name);
		t->info.bytes_done = 0;
	}
	if (um_file_receive_complete(t->fr))
		return 0;
	msg_transfer_queue_requests(t);
	return 0;
}

static void receiver_accept(struct um_node_messaging *ms, struct msg_transfer *t)
{
	int r = receiver_open(ms, t, NULL, 0);

	if (r) {
		um_log_warn("file %s from \"%s\": %s", t->info.name, msg_peer_name(t->mp), um_strerror(r));
		queue_status(t->mp, UM_FRAME_FILE_REFUSE, t->info.id, false, "the receiver cannot store it");
		ms->counters.files_failed++;
		set_state(ms, t, UM_STORE_FILE_FAILED);
		return;
	}
	set_state(ms, t, UM_STORE_FILE_ACTIVE);
	if (um_file_receive_complete(t->fr))
		receiver_finish(ms, t); /* an empty file: no chunk will come */
}

static void refuse(struct um_node_messaging *ms, struct msg_peer *mp, const uint8_t id[16], const char *reason)
{
	ms->counters.files_refused++;
	queue_status(mp, UM_FRAME_FILE_REFUSE, id, false, reason);
}

static void receiver_meta(struct um_node_messaging *ms, struct msg_peer *mp, const uint8_t *payload, size_t len)
{
	struct um_file_limits limits = {.max_size = ms->node->config.max_file_size};
	struct um_file_meta meta;
	struct um_store_file stored = {0};
	struct statvfs vfs;
	int r = um_file_receive_meta(payload, len, &limits, &meta);

	if (r) {
		if (len >= 16)
			refuse(ms, mp, payload,
			       r == -UM_ELIMIT ? "larger than the receiver's max-file-size"
					       : "malformed offer or unsafe name");
		return;
	}
	struct msg_transfer *known = msg_transfer_find(ms, meta.id, false);
	if (known) {
		/* Offered again (after a reset), or the hash that follows an
		 * offer made before it: taken once, for the same file. */
		if (known->mp == mp && sodium_is_zero(known->meta.hash, sizeof(known->meta.hash)) &&
		    !sodium_is_zero(meta.hash, sizeof(meta.hash)) && meta.size == known->meta.size &&
		    meta.chunk_size == known->meta.chunk_size) {
			memcpy(known->meta.hash, meta.hash, sizeof(meta.hash));
			memcpy(known->info.hash, meta.hash, sizeof(meta.hash));
			um_store_file_put(ms->store, &known->info);
			if (known->fr) {
				memcpy(known->fr->meta.hash, meta.hash, sizeof(meta.hash));
				if (um_file_receive_complete(known->fr))
					receiver_finish(ms, known);
			}
		}
		return;
	}
	if (um_store_file_get(ms->store, meta.id, false, &stored) == 0) {
		free(stored.bitmap);
		if (stored.state == UM_STORE_FILE_DONE)
			queue_status(mp, UM_FRAME_FILE_DONE, meta.id, true, NULL); /* our DONE was lost */
		else
			refuse(ms, mp, meta.id, "refused before");
		return;
	}
	size_t waiting = 0;
	for (struct msg_transfer *t = ms->transfers; t; t = t->next)
		waiting += t->mp == mp && !t->info.outgoing && !t->fr;
	if (mp->peer->config->accept_files == UM_ACCEPT_NEVER) {
		refuse(ms, mp, meta.id, "the receiver does not accept files");
		return;
	}
	if (waiting >= FILE_WAITING_MAX) {
		refuse(ms, mp, meta.id, "too many offers waiting");
		return;
	}
	if (mkdir(ms->download_dir, 0700) && errno != EEXIST) {
		refuse(ms, mp, meta.id, "the receiver has no download directory");
		return;
	}
	if (statvfs(ms->download_dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < meta.size + (16u << 20)) {
		refuse(ms, mp, meta.id, "not enough disk space at the receiver");
		return;
	}
	struct msg_transfer *t = transfer_new(ms, mp);
	if (!t)
		return;
	t->meta = meta;
	memcpy(t->info.id, meta.id, 16);
	memcpy(t->info.peer, mp->peer->config->id.bytes, 32);
	snprintf(t->info.name, sizeof(t->info.name), "%s", meta.name);
	msg_file_temp_path(ms->download_dir, meta.name, meta.id, t->info.path, sizeof(t->info.path));
	t->info.size = meta.size;
	t->info.chunk_size = meta.chunk_size;
	memcpy(t->info.hash, meta.hash, sizeof(t->info.hash));
	t->info.created_ms = um_wall_ms();
	um_log_info("file %s (%llu bytes) offered by \"%s\"", meta.name, (unsigned long long)meta.size,
		    msg_peer_name(mp));
	if (mp->peer->config->accept_files == UM_ACCEPT_ALWAYS)
		receiver_accept(ms, t);
	else
		set_state(ms, t, UM_STORE_FILE_OFFERED);
}

static void receiver_complete(struct um_node_messaging *ms, struct msg_transfer *t)
{
	char final[UM_CONFIG_PATH_MAX];
	int r = fsync(t->fd) ? -errno : msg_file_hash_missing(t->fd, t->fr);

	if (r == 0)
		r = um_file_receive_verify(t->fr);
	if (r == 0 && ftruncate(t->fd, (off_t)t->info.size))
		r = -errno;
	if (r == 0)
		r = msg_file_link_final(ms->download_dir, t->info.name, t->info.path, final, sizeof(final));
	if (r) {
		um_log_warn("file %s from \"%s\": %s", t->info.name, msg_peer_name(t->mp),
			    r == -UM_EBADMSG ? "the whole-file hash does not match" : um_strerror(r));
		queue_status(t->mp, UM_FRAME_FILE_DONE, t->info.id, false,
			     r == -UM_EBADMSG ? "whole-file hash mismatch" : "the receiver could not keep it");
		if (r == -UM_EBADMSG)
			unlink(t->info.path);
		ms->counters.files_failed++;
		set_state(ms, t, UM_STORE_FILE_FAILED);
		return;
	}
	um_log_info("file %s from \"%s\" verified: %s", t->info.name, msg_peer_name(t->mp), final);
	snprintf(t->info.path, sizeof(t->info.path), "%s", final);
	t->info.bytes_done = t->info.size;
	queue_status(t->mp, UM_FRAME_FILE_DONE, t->info.id, true, NULL);
	ms->counters.files_received++;
	set_state(ms, t, UM_STORE_FILE_DONE);
}

/* All chunks came: made durable (a failed sync makes some missing again:
 * asked again), then verified once the offer's hash is known. */
static void receiver_finish(struct um_node_messaging *ms, struct msg_transfer *t)
{
	if (msg_receiver_settle(ms, t) || !um_file_receive_complete(t->fr))
		msg_transfer_queue_requests(t);
	else if (!sodium_is_zero(t->fr->meta.hash, sizeof(t->fr->meta.hash)))
		receiver_complete(ms, t);
	/* else the sender's second FILE_META brings it (receiver_meta) */
}

static void receiver_chunk(struct um_node_messaging *ms, struct msg_peer *mp, const uint8_t *payload, size_t len)
{
	struct msg_transfer *t = len >= 16 ? msg_transfer_find(ms, payload, false) : NULL;
	const uint8_t *data;
	size_t dlen;
	uint32_t index;

	if (!t || t->mp != mp || !t->fr) {
		ms->counters.file_chunks_bad++;
		return;
	}
	int r = um_file_receive_chunk(t->fr, payload, len, &index, &data, &dlen);
	if (r) {
		ms->counters.file_chunks_bad++;
		msg_transfer_queue_requests(t); /* a bad one is asked for again */
		return;
	}
	/* On disk before the store says so (the sync thread writes the staged
	 * chunks, then fdatasync, then the store marks them): a restart trusts
	 * the bitmap. */
	if (t->n_unsynced >= FILE_UNSYNCED_MAX)
		msg_receiver_sync(ms, t); /* never (sync_start keeps fewer), but the stage stays in bounds */
	if (!t->stage)
		t->stage = msg_file_stage_new();
	uint32_t staged = 0;
	if (t->stage && dlen <= UM_FILE_CHUNK_MAX) {
		msg_file_stage_copy(t->stage + t->n_unsynced * (size_t)UM_FILE_CHUNK_MAX, data, dlen);
		staged = (uint32_t)dlen;
	} else if (pwrite(t->fd, data, dlen, (off_t)index * t->info.chunk_size) != (ssize_t)dlen) {
		um_log_warn("file %s: chunk %u not written: %s", t->info.name, index, strerror(errno));
		um_file_receive_chunk_forget(t->fr, index);
		msg_transfer_queue_requests(t);
		return;
	}
	t->stage_len[t->n_unsynced] = staged;
	t->unsynced[t->n_unsynced++] = index;
	t->info.bytes_done += dlen;
	ms->counters.file_bytes_received += dlen;
	if (um_file_receive_complete(t->fr)) {
		receiver_finish(ms, t);
		return;
	}
	if (t->n_unsynced >= FILE_SYNC_CHUNKS)
		msg_receiver_sync_start(ms, t);
	if (t->n_unsynced && !um_timer_armed(&ms->file_sync_timer))
		um_timer_arm_in(ms->node->loop, &ms->file_sync_timer, FILE_SYNC_DELAY_NS);
	if (um_file_receive_wants_request(t->fr))
		msg_transfer_queue_requests(t);
}

/* ---- from the messenger ---- */

void msg_files_frame(struct um_node_messaging *ms, struct msg_peer *mp, uint8_t type, const uint8_t *payload,
		     size_t len)
{
	struct um_file_status_frame s;
	struct msg_transfer *t;

	switch (type) {
	case UM_FRAME_FILE_META:
		receiver_meta(ms, mp, payload, len);
		return;
	case UM_FRAME_FILE_CHUNK:
		receiver_chunk(ms, mp, payload, len);
		return;
	case UM_FRAME_FILE_REQUEST:
		t = len >= 16 ? msg_transfer_find(ms, payload, true) : NULL;
		if (t && t->mp == mp)
			sender_request(ms, t, payload, len);
		return;
	case UM_FRAME_FILE_DONE:
		if (um_file_done_frame_decode(payload, len, &s) == 0 && (t = msg_transfer_find(ms, s.id, true)) &&
		    t->mp == mp)
			sender_finished(ms, t, type, &s);
		return;
	case UM_FRAME_FILE_REFUSE:
		if (um_file_refuse_frame_decode(payload, len, &s))
			return;
		if ((t = msg_transfer_find(ms, s.id, true)) && t->mp == mp) {
			sender_finished(ms, t, type, &s);
		} else if ((t = msg_transfer_find(ms, s.id, false)) && t->mp == mp) {
			um_log_info("file %s: the sender abandoned it", t->info.name);
			if (t->info.path[0] && t->fr)
				unlink(t->info.path);
			ms->counters.files_failed++;
			set_state(ms, t, UM_STORE_FILE_FAILED);
		} else {
			/* Not ours (an offer this node never made, or one long gone):
			 * the reason still shows, at debug (a peer could send many). */
			um_log_debug("\"%s\" refused a file not offered here: %.*s", msg_peer_name(mp),
				     (int)s.reason_len, (const char *)s.reason);
		}
		return;
	default:
		return;
	}
}

void msg_files_reset(struct um_node_messaging *ms, struct msg_peer *mp)
{
	for (struct msg_transfer *t = ms->transfers; t; t = t->next) {
		if (t->mp != mp)
			continue;
		if (t->fs) {
			um_file_send_restart(t->fs);
			queue_meta(t); /* the receiver answers with what it still wants */
		} else if (t->fr) {
			um_file_receive_restart(t->fr);
			msg_transfer_queue_requests(t);
		}
	}
}

void msg_files_pump(struct um_node_messaging *ms, struct msg_peer *mp)
{
	struct msg_transfer *t = ms->transfers;

	while (t) {
		struct msg_transfer *next = t->next; /* t may end (a read error) */
		if (t->mp == mp && t->fs && t->fs->accepted)
			sender_pump(ms, t);
		t = next;
	}
}

int msg_files_decide(struct um_node_messaging *ms, const uint8_t id[16], bool accept, const char *reason,
		     struct msg_peer **mp_out)
{
	struct msg_transfer *t = msg_transfer_find(ms, id, false);

	if (!t)
		return -UM_ENOTFOUND;
	if (t->fr)
		return -UM_ESTATE; /* already accepted */
	*mp_out = t->mp;
	if (accept) {
		receiver_accept(ms, t); /* t may be gone (failed) */
	} else {
		refuse(ms, t->mp, id, reason && reason[0] ? reason : "declined");
		set_state(ms, t, UM_STORE_FILE_REFUSED);
	}
	return 0;
}

/* ---- start / stop, and the list for the control ops ---- */

static int load_one(void *ctx, const struct um_store_file *f)
{
	struct um_node_messaging *ms = ctx;
	struct um_node_peer *peer = um_node_peer_find(ms->node, (const struct um_peer_id *)f->peer);
	int r;

	if (final_state(f->state) || !peer)
		return 0;
	struct msg_transfer *t = transfer_new(ms, msg_peer_of(peer));
	if (!t)
		return -UM_ENOMEM;
	t->info = *f;
	t->info.bitmap = NULL;
	t->info.bitmap_len = 0;
	if (f->outgoing) {
		r = sender_open(t);
		if (r == 0 && sodium_is_zero(t->info.hash, sizeof(t->info.hash)))
			r = sender_rehash(ms, t); /* stopped before every chunk went once */
	} else {
		memcpy(t->meta.id, f->id, 16);
		t->meta.size = f->size;
		t->meta.chunk_size = f->chunk_size;
		t->meta.n_chunks = (uint32_t)um_file_chunk_count(f->size, f->chunk_size);
		memcpy(t->meta.hash, f->hash, sizeof(t->meta.hash));
		snprintf(t->meta.name, sizeof(t->meta.name), "%.200s", f->name);
		r = f->state == UM_STORE_FILE_OFFERED ? 0 : receiver_open(ms, t, f->bitmap, f->bitmap_len);
	}
	if (r) {
		um_log_warn("file %s: cannot resume: %s", f->name, um_strerror(r));
		t->info.state = UM_STORE_FILE_FAILED;
		um_store_file_put(ms->store, &t->info);
		transfer_free(ms, t);
		return 0;
	}
	um_log_info("file %s %s \"%s\": resuming (%llu of %llu bytes)", f->name, f->outgoing ? "to" : "from",
		    peer->config->name, (unsigned long long)f->bytes_done, (unsigned long long)f->size);
	if (t->fr && um_file_receive_complete(t->fr))
		receiver_finish(ms, t); /* stopped between the last chunk and the rename */
	return 0;
}

int msg_files_start(struct um_node_messaging *ms)
{
	um_timer_init(&ms->file_sync_timer, msg_receiver_on_sync_timer, ms);
	int r = um_store_file_list(ms->store, load_one, ms);

	if (r)
		um_log_error("file transfers in the store: %s", um_strerror(r));
	return r;
}

void msg_files_stop(struct um_node_messaging *ms)
{
	um_timer_cancel(ms->node->loop, &ms->file_sync_timer);
	msg_file_sync_free(ms->file_sync); /* the job in flight is marked first */
	ms->file_sync = NULL;
	for (struct msg_transfer *t = ms->transfers; t; t = t->next)
		if (t->n_unsynced)
			msg_receiver_sync(ms, t); /* a clean stop keeps what arrived */
	while (ms->transfers)
		transfer_free(ms, ms->transfers);
}

const struct um_store_file *msg_files_live(struct um_node_messaging *ms, const uint8_t id[16], bool outgoing,
					   uint64_t *bytes_sent)
{
	struct msg_transfer *t = msg_transfer_find(ms, id, outgoing);

	if (!t)
		return NULL;
	if (t->fs) {
		/* Progress of a sender: chunks sent and not asked for again,
		 * less what still waits in the channel unacknowledged (its send
		 * buffer is the default, FILE_CHANNEL_BUFFER). */
		uint64_t done = (uint64_t)t->sent.count * t->info.chunk_size;
		size_t writable = t->mp->messenger ? um_messenger_writable(t->mp->messenger) : FILE_CHANNEL_BUFFER;
		uint64_t queued = writable < FILE_CHANNEL_BUFFER ? FILE_CHANNEL_BUFFER - writable : 0;
		done = done > queued ? done - queued : 0;
		t->info.bytes_done = done < t->info.size ? done : t->info.size;
	}
	*bytes_sent = t->bytes_sent;
	return &t->info;
}
