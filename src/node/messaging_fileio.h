/* SPDX-License-Identifier: MIT */
/* The file I/O of transfers (used by node/messaging_files.c): the hash
 * passes, the final link, and the received chunks written and made durable
 * off the control thread: one thread runs the pwrites and the fdatasync of
 * one job at a time and wakes the node's loop through an eventfd; the loop
 * then calls the job's done function, which marks the chunks in the store.
 * The control thread neither copies into the page cache (a third of its
 * time per byte before) nor waits on the disk while a transfer streams, so
 * the data plane's ring keeps being drained. */
#ifndef UM_NODE_MESSAGING_FILEIO_H
#define UM_NODE_MESSAGING_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "msg/file.h"
#include "net/loop.h"
#include "store/store.h"

/* The offer's whole-file hash of the size bytes of fd (hash_alg 2: over
 * the chunk hashes; each byte read and hashed once). The chunk hashes go
 * to *chunk_hashes (n_chunks x UM_FILE_HASH_LEN, malloc'd: the caller's).
 * 0, -UM_ENOMEM, -UM_ETRUNC (the file shrank) or -errno. */
int msg_file_hash(int fd, uint64_t size, uint32_t chunk_size, uint8_t out[UM_FILE_HASH_LEN], uint8_t **chunk_hashes);
/* The chunk hashes fr did not check in this run (chunks done before a
 * restart), hashed from fd (the temporary file) and handed to fr, so that
 * um_file_receive_verify covers the whole file. 0 or -UM_ETRUNC. */
int msg_file_hash_missing(int fd, struct um_file_receive *fr);
/* Links temp to dir/name, else "name (1).ext", ... (never over a file)
 * and unlinks temp; the name used in final (size bytes). 0, -UM_ELIMIT
 * (1000 taken) or -errno. */
/* fd still has this size and mtime (the file is the one hashed). */
bool msg_file_unchanged(int fd, uint64_t size, const struct timespec *mtime);
/* "<dir>/.<name>.<first 4 bytes of id in hex>.umbra-part" in out. */
void msg_file_temp_path(const char *dir, const char *name, const uint8_t id[16], char *out, size_t size);
/* Chunks on disk (fdatasync returned) marked done for f (incoming) in one
 * store commit: the store never counts a chunk the disk does not hold.
 * 0 or the store's error. */
int msg_file_mark_done(struct um_store *store, const struct um_store_file *f, const uint32_t *index, size_t n);
int msg_file_link_final(const char *dir, const char *name, const char *temp, char *final, size_t size);

enum {
	MSG_FILE_SYNC_MAX = 1024, /* chunk indexes in one job */
	MSG_FILE_STAGE_MAX = 128, /* staged chunks in one job (a stage: 8 MiB) */
};
/* A stage: MSG_FILE_STAGE_MAX chunk slots of UM_FILE_CHUNK_MAX bytes,
 * chunk k of a job at k * UM_FILE_CHUNK_MAX; from msg_file_stage_new (its
 * slots are aligned for O_DIRECT), released with free(). */
#define MSG_FILE_STAGE_BYTES ((size_t)MSG_FILE_STAGE_MAX * UM_FILE_CHUNK_MAX)
uint8_t *msg_file_stage_new(void);
/* Copy a chunk into its place in a stage (len bytes at slot, which the
 * caller bounds), bypassing the CPU's cache where it can. */
void msg_file_stage_copy(uint8_t *slot, const uint8_t *data, size_t len);
/* The receiver's temporary file (path) opened a second time, write-only
 * and O_DIRECT: staged whole chunks go to the disk without a copy into the
 * page cache and without the write-back afterwards (docs/BENCHMARKS.md,
 * session 12). The caller owns the fd; -1 where the file system refuses
 * O_DIRECT (then every write goes through the ordinary fd). */
int msg_file_open_direct(const char *path);
/* Writes n staged chunks (as msg_file_sync_submit_writes describes them):
 * aligned whole chunks through direct_fd (>= 0), the rest (the last,
 * shorter chunk; direct_fd -1 or refused with EINVAL) through fd. 0 or
 * -errno (-UM_ETRUNC: a short write). */
int msg_file_write_stage(int fd, int direct_fd, const uint8_t *stage, const uint32_t *index, const uint32_t *len,
			 size_t n, uint32_t chunk_size);

struct msg_file_sync;

/* On the loop's thread, once per job: result 0 (fdatasync succeeded) or
 * -errno. index (n entries) is valid during the call only. */
typedef void (*msg_file_sync_done_fn)(void *arg, const uint8_t id[16], const uint32_t *index, size_t n, int result);

/* Starts the thread and registers its eventfd with loop (borrowed, must
 * outlive the syncer). *out is the caller's to release with
 * msg_file_sync_free. 0, -UM_ENOMEM or -errno. */
int msg_file_sync_new(struct um_loop *loop, msg_file_sync_done_fn done, void *arg, struct msg_file_sync **out);
/* Waits for the job in flight (its done runs), stops the thread. NULL ok. */
void msg_file_sync_free(struct msg_file_sync *s);
/* A job is in flight (submitted, its done not yet run). */
bool msg_file_sync_busy(const struct msg_file_sync *s);
/* A job for this file is in flight. */
bool msg_file_sync_holds(const struct msg_file_sync *s, const uint8_t id[16]);
/* Hands one job to the thread: fdatasync(fd) (fd borrowed until done has
 * run), then done(id, index). 0, -UM_EAGAIN (busy), -UM_EINVAL (n is 0 or
 * above MSG_FILE_SYNC_MAX). */
int msg_file_sync_submit(struct msg_file_sync *s, const uint8_t id[16], int fd, const uint32_t *index, size_t n);
/* As msg_file_sync_submit, but the thread first writes the staged chunks
 * (msg_file_write_stage; direct_fd borrowed as fd is):
 * chunk k (k < n, n <= MSG_FILE_STAGE_MAX) is len[k] bytes at
 * *stage + k * UM_FILE_CHUNK_MAX, written at index[k] * chunk_size; len 0 =
 * already on the file (only synced). Ownership: *stage (a
 * MSG_FILE_STAGE_BYTES buffer, not NULL) goes to the thread and *stage
 * becomes the thread's previous stage (NULL the first time; the caller's
 * then), so no byte is copied twice. A failed pwrite reports -errno as a
 * failed fdatasync does. 0, -UM_EAGAIN (busy: nothing swapped), -UM_EINVAL. */
int msg_file_sync_submit_writes(struct msg_file_sync *s, const uint8_t id[16], int fd, int direct_fd,
				const uint32_t *index, const uint32_t *len, size_t n, uint32_t chunk_size,
				uint8_t **stage);
/* Blocks until the job in flight (if any) is done and runs its done. */
void msg_file_sync_wait(struct msg_file_sync *s);

#endif
