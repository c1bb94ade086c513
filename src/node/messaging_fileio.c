/* SPDX-License-Identifier: MIT */
/* The file I/O of transfers (node/messaging_fileio.h): hashes, the final
 * link, pwrite + fdatasync of received chunks on a thread, and the receiver's side
 * of it (node/messaging_transfer.h). One job at a time: the chunks that
 * arrive while a job runs go into the next one (a group commit), so the
 * thread never queues more than one. */
#include "node/messaging_fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "node/messaging_transfer.h"
#include "util/error.h"
#include "util/log.h"

int msg_file_hash(int fd, uint64_t size, uint32_t chunk_size, uint8_t out[UM_FILE_HASH_LEN], uint8_t **chunk_hashes)
{
	enum { READ_SIZE = 1 << 20 }; /* whole chunks: a multiple of every chunk size */
	uint8_t *buf = malloc(READ_SIZE);
	uint64_t n_chunks = um_file_chunk_count(size, chunk_size), done = 0;
	uint8_t *hashes = malloc(n_chunks ? n_chunks * UM_FILE_HASH_LEN : 1);
	uint32_t index = 0;
	int r = 0;

	*chunk_hashes = NULL;
	if (!buf || !hashes || chunk_size == 0 || READ_SIZE % chunk_size || n_chunks > UINT32_MAX) {
		r = buf && hashes ? -UM_EINVAL : -UM_ENOMEM;
		goto out;
	}
	while (done < size) {
		size_t want = size - done < READ_SIZE ? (size_t)(size - done) : READ_SIZE;
		ssize_t n = pread(fd, buf, want, (off_t)done);
		if (n != (ssize_t)want) {
			r = n < 0 ? -errno : -UM_ETRUNC; /* changed under us */
			goto out;
		}
		for (size_t off = 0; off < want; off += chunk_size, index++)
			um_file_chunk_hash(buf + off, want - off < chunk_size ? want - off : chunk_size,
					   hashes + (size_t)index * UM_FILE_HASH_LEN);
		done += want;
	}
	um_file_list_hash(hashes, (uint32_t)n_chunks, out);
	*chunk_hashes = hashes;
	hashes = NULL;
out:
	free(hashes);
	free(buf);
	return r;
}

int msg_file_hash_missing(int fd, struct um_file_receive *fr)
{
	static uint8_t data[UM_FILE_CHUNK_MAX]; /* the loop's thread only */
	uint8_t hash[UM_FILE_HASH_LEN];
	const struct um_file_meta *meta = &fr->meta;

	for (uint32_t i = 0; i < meta->n_chunks; i++) {
		if (um_file_receive_chunk_hash_known(fr, i))
			continue;
		size_t len = um_file_chunk_len(meta->size, meta->chunk_size, i);
		if (len > sizeof(data) || pread(fd, data, len, (off_t)i * meta->chunk_size) != (ssize_t)len)
			return -UM_ETRUNC;
		um_file_chunk_hash(data, len, hash);
		um_file_receive_set_chunk_hash(fr, i, hash);
	}
	return 0;
}

bool msg_file_unchanged(int fd, uint64_t size, const struct timespec *mtime)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (uint64_t)st.st_size == size && st.st_mtim.tv_sec == mtime->tv_sec &&
	       st.st_mtim.tv_nsec == mtime->tv_nsec;
}

void msg_file_temp_path(const char *dir, const char *name, const uint8_t id[16], char *out, size_t size)
{
	char hex[9];

	sodium_bin2hex(hex, sizeof(hex), id, 4);
	snprintf(out, size, "%.3800s/.%s.%s.umbra-part", dir, name, hex);
}

int msg_file_mark_done(struct um_store *store, const struct um_store_file *f, const uint32_t *index, size_t n)
{
	int r = 0;
	bool batch = um_store_begin(store) == 0;

	for (size_t i = 0; r == 0 && i < n; i++)
		r = um_store_file_chunk_done(store, f->id, false, index[i],
					     um_file_chunk_len(f->size, f->chunk_size, index[i]));
	if (batch && um_store_commit(store) && r == 0)
		r = -UM_EINVAL;
	return r;
}

int msg_file_link_final(const char *dir, const char *name, const char *temp, char *final, size_t size)
{
	const char *dot = strrchr(name, '.');
	size_t stem = dot && dot != name ? (size_t)(dot - name) : strlen(name);

	for (unsigned i = 0; i < 1000; i++) {
		if (i == 0)
			snprintf(final, size, "%.3800s/%s", dir, name);
		else
			snprintf(final, size, "%.3800s/%.*s (%u)%s", dir, (int)stem, name, i, name + stem);
		if (link(temp, final) == 0) {
			unlink(temp);
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -UM_ELIMIT;
}

struct msg_file_sync {
	struct um_loop *loop;
	struct um_watch watch; /* the eventfd: a job finished */
	msg_file_sync_done_fn done;
	void *arg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock. has_job is set and cleared by the loop's thread only;
	 * job_done and result by the sync thread. */
	bool has_job, job_done, stop;
	int result;
	int fd, direct_fd;
	uint8_t id[16];
	size_t n;
	uint32_t index[MSG_FILE_SYNC_MAX];
	/* The job's staged chunks (NULL or unused: sync only); owned, kept
	 * for the next swap. */
	uint8_t *stage;
	bool has_writes;
	uint32_t chunk_size;
	uint32_t len[MSG_FILE_STAGE_MAX];
};

/* O_DIRECT wants the buffer, the offset and the length aligned to the
 * device's logical block; 4096 covers every block size in use. */
enum { DIRECT_ALIGN = 4096 };

uint8_t *msg_file_stage_new(void)
{
	return aligned_alloc(DIRECT_ALIGN, MSG_FILE_STAGE_BYTES);
}

void msg_file_stage_copy(uint8_t *slot, const uint8_t *data, size_t len)
{
#if defined(__x86_64__)
	/* Streaming stores: the stage is written once, then read by the
	 * device (O_DIRECT), never by this CPU; ordinary stores would first
	 * read each of its lines into the cache (the stage is megabytes, so
	 * they are not there) for nothing. */
	size_t n = (uintptr_t)slot % 16 ? 0 : len & ~(size_t)63;
	for (size_t i = 0; i < n; i += 64)
		for (size_t k = 0; k < 64; k += 16)
			_mm_stream_si128((__m128i *)(void *)(slot + i + k),
					 _mm_loadu_si128((const __m128i *)(const void *)(data + i + k)));
	_mm_sfence(); /* ordered before the hand-over to the sync thread */
	memcpy(slot + n, data + n, len - n);
#else
	memcpy(slot, data, len);
#endif
}

int msg_file_open_direct(const char *path)
{
	return open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
}

static bool direct_fits(const uint8_t *buf, size_t len, uint64_t offset)
{
	return (uintptr_t)buf % DIRECT_ALIGN == 0 && len % DIRECT_ALIGN == 0 && offset % DIRECT_ALIGN == 0;
}

/* Chunks k.. that follow each other on the file and all fit O_DIRECT:
 * how many (at most IOV_RUN), their iovecs in iov. */
enum { IOV_RUN = 64 };
static size_t direct_run(const uint8_t *stage, const uint32_t *index, const uint32_t *len, size_t k, size_t n,
			 uint32_t chunk_size, struct iovec *iov)
{
	size_t run = 0;

	while (k + run < n && run < IOV_RUN) {
		const uint8_t *buf = stage + (k + run) * (size_t)UM_FILE_CHUNK_MAX;
		uint64_t offset = (uint64_t)index[k + run] * chunk_size;
		if (len[k + run] == 0 || !direct_fits(buf, len[k + run], offset) ||
		    (run && index[k + run] != index[k + run - 1] + 1) || (run && len[k + run - 1] != chunk_size))
			break;
		iov[run].iov_base = (void *)buf;
		iov[run].iov_len = len[k + run];
		run++;
	}
	return run;
}

int msg_file_write_stage(int fd, int direct_fd, const uint8_t *stage, const uint32_t *index, const uint32_t *len,
			 size_t n, uint32_t chunk_size)
{
	struct iovec iov[IOV_RUN];

	for (size_t k = 0; k < n;) {
		size_t run = direct_fd >= 0 ? direct_run(stage, index, len, k, n, chunk_size, iov) : 0;
		if (run) {
			/* One call per run of neighbours: the block layer gets
			 * large requests, not one per 64 KiB. */
			size_t bytes = 0;
			for (size_t i = 0; i < run; i++)
				bytes += iov[i].iov_len;
			ssize_t w = pwritev(direct_fd, iov, (int)run, (off_t)((uint64_t)index[k] * chunk_size));
			if (w == (ssize_t)bytes) {
				k += run;
				continue;
			}
			if (w >= 0 || errno != EINVAL)
				return w < 0 ? -errno : -UM_ETRUNC;
			/* EINVAL: this file system takes no O_DIRECT after all. */
		}
		if (len[k]) {
			ssize_t w = pwrite(fd, stage + k * (size_t)UM_FILE_CHUNK_MAX, len[k],
					   (off_t)((uint64_t)index[k] * chunk_size));
			if (w != (ssize_t)len[k])
				return w < 0 ? -errno : -UM_ETRUNC;
		}
		k++;
	}
	return 0;
}

static void *sync_thread(void *arg)
{
	struct msg_file_sync *s = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->stop && !(s->has_job && !s->job_done))
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->stop)
			break;
		int fd = s->fd;
		pthread_mutex_unlock(&s->lock);
		int r = s->has_writes
			    ? msg_file_write_stage(fd, s->direct_fd, s->stage, s->index, s->len, s->n, s->chunk_size)
			    : 0;
		if (r == 0)
			r = fdatasync(fd) ? -errno : 0;
		pthread_mutex_lock(&s->lock);
		s->result = r;
		s->job_done = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		/* The loop wakes up; a full counter (never: one job at a time)
		 * would only mean it is already readable. */
		if (write(s->watch.fd, &one, sizeof(one)) < 0) {
		}
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* The finished job leaves the syncer before its done runs (done may
 * submit the next one). */
static void finish(struct msg_file_sync *s)
{
	uint32_t index[MSG_FILE_SYNC_MAX];
	uint8_t id[16];
	size_t n;
	int result;

	pthread_mutex_lock(&s->lock);
	if (!s->has_job || !s->job_done) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	n = s->n;
	memcpy(index, s->index, n * sizeof(index[0]));
	memcpy(id, s->id, sizeof(id));
	result = s->result;
	s->has_job = false;
	s->job_done = false;
	pthread_mutex_unlock(&s->lock);
	s->done(s->arg, id, index, n, result);
}

static void on_event(struct um_loop *loop, struct um_watch *watch, uint32_t events)
{
	struct msg_file_sync *s = watch->arg;
	uint64_t count;
	(void)loop;
	(void)events;

	if (read(s->watch.fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	finish(s);
}

int msg_file_sync_new(struct um_loop *loop, msg_file_sync_done_fn done, void *arg, struct msg_file_sync **out)
{
	struct msg_file_sync *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -UM_ENOMEM;
	s->loop = loop;
	s->done = done;
	s->arg = arg;
	s->watch = (struct um_watch){
	    .fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), .events = EPOLLIN, .fn = on_event, .arg = s};
	if (s->watch.fd < 0) {
		r = -errno;
		free(s);
		return r;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	r = -pthread_create(&s->thread, NULL, sync_thread, s);
	if (r == 0) {
		pthread_setname_np(s->thread, "umbra-fsync");
		r = um_loop_add(loop, &s->watch);
		if (r) {
			pthread_mutex_lock(&s->lock);
			s->stop = true;
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->lock);
			pthread_join(s->thread, NULL);
		}
	}
	if (r) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		close(s->watch.fd);
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

void msg_file_sync_free(struct msg_file_sync *s)
{
	if (!s)
		return;
	msg_file_sync_wait(s);
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	um_loop_remove(s->loop, &s->watch);
	close(s->watch.fd);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->stage);
	free(s);
}

bool msg_file_sync_busy(const struct msg_file_sync *s)
{
	return s->has_job; /* written by this (the loop's) thread only */
}

bool msg_file_sync_holds(const struct msg_file_sync *s, const uint8_t id[16])
{
	return s->has_job && !memcmp(s->id, id, sizeof(s->id));
}

static int submit(struct msg_file_sync *s, const uint8_t id[16], int fd, int direct_fd, const uint32_t *index,
		  const uint32_t *len, size_t n, uint32_t chunk_size, uint8_t **stage)
{
	if (n == 0 || n > MSG_FILE_SYNC_MAX || (stage && (n > MSG_FILE_STAGE_MAX || !*stage || !len)))
		return -UM_EINVAL;
	pthread_mutex_lock(&s->lock);
	if (s->has_job) {
		pthread_mutex_unlock(&s->lock);
		return -UM_EAGAIN;
	}
	memcpy(s->id, id, sizeof(s->id));
	memcpy(s->index, index, n * sizeof(index[0]));
	s->has_writes = stage != NULL;
	if (stage) {
		uint8_t *previous = s->stage;
		s->stage = *stage;
		*stage = previous;
		memcpy(s->len, len, n * sizeof(len[0]));
		s->chunk_size = chunk_size;
	}
	s->n = n;
	s->fd = fd;
	s->direct_fd = direct_fd;
	s->has_job = true;
	s->job_done = false;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int msg_file_sync_submit(struct msg_file_sync *s, const uint8_t id[16], int fd, const uint32_t *index, size_t n)
{
	return submit(s, id, fd, -1, index, NULL, n, 0, NULL);
}

int msg_file_sync_submit_writes(struct msg_file_sync *s, const uint8_t id[16], int fd, int direct_fd,
				const uint32_t *index, const uint32_t *len, size_t n, uint32_t chunk_size,
				uint8_t **stage)
{
	return submit(s, id, fd, direct_fd, index, len, n, chunk_size, stage);
}

void msg_file_sync_wait(struct msg_file_sync *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->has_job && !s->job_done)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	finish(s); /* the eventfd stays readable: on_event then finds no job */
}

/* ---- the receiver's durable writes (messaging_transfer.h) ---- */

struct msg_transfer *msg_transfer_find(struct um_node_messaging *ms, const uint8_t id[16], bool outgoing)
{
	for (struct msg_transfer *t = ms->transfers; t; t = t->next)
		if (t->info.outgoing == outgoing && !memcmp(t->info.id, id, 16))
			return t;
	return NULL;
}

void msg_transfer_queue_requests(struct msg_transfer *t)
{
	uint8_t out[UM_FILE_REQUEST_FRAME_MAX];
	size_t len;

	for (;;) {
		if (um_file_receive_request(t->fr, out, sizeof(out), &len) || len == 0)
			return;
		msg_queue_frame(t->mp, UM_FRAME_FILE_REQUEST, out, len);
	}
}

/* A failed sync or mark: those chunks are missing again (asked again). */
static void sync_failed(struct msg_transfer *t, const uint32_t *index, size_t n, int r)
{
	um_log_warn("file %s: %zu chunks not made durable: %s", t->info.name, n, um_strerror(r));
	for (size_t i = 0; i < n; i++)
		um_file_receive_chunk_forget(t->fr, index[i]);
	t->info.bytes_done = 0; /* shown again as it comes */
}

/* The chunks received and not handed to the thread, written (the staged
 * ones) and made durable here, on the control thread (completion, stop, no
 * thread). */
int msg_receiver_sync(struct um_node_messaging *ms, struct msg_transfer *t)
{
	int r;

	if (!t->n_unsynced)
		return 0;
	r = t->stage ? msg_file_write_stage(t->fd, t->direct_fd, t->stage, t->unsynced, t->stage_len, t->n_unsynced,
					    t->info.chunk_size)
		     : 0;
	if (r == 0)
		r = fdatasync(t->fd) ? -errno : msg_file_mark_done(ms->store, &t->info, t->unsynced, t->n_unsynced);
	if (r)
		sync_failed(t, t->unsynced, t->n_unsynced, r);
	t->n_unsynced = 0;
	return r;
}

/* The thread's fdatasync of a job returned (on the loop's thread). */
static void on_synced(void *arg, const uint8_t id[16], const uint32_t *index, size_t n, int result)
{
	struct um_node_messaging *ms = arg;
	struct msg_transfer *t = msg_transfer_find(ms, id, false);

	if (!t || !t->fr)
		return;
	int r = result ? result : msg_file_mark_done(ms->store, &t->info, index, n);
	if (r) {
		sync_failed(t, index, n, r);
		msg_transfer_queue_requests(t);
		msg_pump_soon(ms);
	}
	for (struct msg_transfer *o = ms->transfers; o; o = o->next) { /* what came meanwhile goes next */
		if (o->n_unsynced >= FILE_SYNC_CHUNKS)
			msg_receiver_sync_start(ms, o);
		if (o->n_unsynced && !um_timer_armed(&ms->file_sync_timer))
			um_timer_arm_in(ms->node->loop, &ms->file_sync_timer, FILE_SYNC_DELAY_NS);
	}
}

/* t's written chunks go to the sync thread, unless it is busy (they go
 * with the next job, or the control thread waits when FILE_UNSYNCED_MAX
 * are waiting); without the thread, synced here. */
void msg_receiver_sync_start(struct um_node_messaging *ms, struct msg_transfer *t)
{
	if (!ms->file_sync && msg_file_sync_new(ms->node->loop, on_synced, ms, &ms->file_sync))
		ms->file_sync = NULL;
	if (!ms->file_sync) {
		if (msg_receiver_sync(ms, t))
			msg_transfer_queue_requests(t);
		return;
	}
	while (msg_file_sync_busy(ms->file_sync)) {
		if (t->n_unsynced < FILE_UNSYNCED_MAX)
			return;
		msg_file_sync_wait(ms->file_sync);
	}
	if (t->n_unsynced && t->stage &&
	    msg_file_sync_submit_writes(ms->file_sync, t->info.id, t->fd, t->direct_fd, t->unsynced, t->stage_len,
					t->n_unsynced, t->info.chunk_size, &t->stage) == 0)
		t->n_unsynced = 0; /* t->stage is the thread's previous one now (NULL: allocated again) */
	else if (t->n_unsynced && !t->stage &&
		 msg_file_sync_submit(ms->file_sync, t->info.id, t->fd, t->unsynced, t->n_unsynced) == 0)
		t->n_unsynced = 0;
}

/* Everything t wrote is durable (or forgotten): the job in flight done,
 * the rest synced here. */
int msg_receiver_settle(struct um_node_messaging *ms, struct msg_transfer *t)
{
	while (ms->file_sync && msg_file_sync_holds(ms->file_sync, t->info.id))
		msg_file_sync_wait(ms->file_sync);
	return msg_receiver_sync(ms, t);
}

void msg_receiver_on_sync_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_messaging *ms = timer->arg;
	(void)loop;

	for (struct msg_transfer *t = ms->transfers; t; t = t->next)
		if (t->n_unsynced)
			msg_receiver_sync_start(ms, t); /* when busy: on_synced arms this again */
	msg_pump_soon(ms);                              /* the requests and what they free go out */
}
