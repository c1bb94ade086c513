/* SPDX-License-Identifier: MIT */
/* The queue API's committer thread (queue_api.h): the only user of the
 * backend. It takes every job waiting, runs their writes (puts, deletes) in
 * one transaction, commits once (one fsync for all of them: group commit),
 * then serves the reads and answers every request. While it commits, new
 * jobs gather for the next batch. It also purges expired envelopes on a
 * timer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "http/queue_internal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

void um_queue_id_hex(const uint8_t id[16], char out[33])
{
	sodium_bin2hex(out, 33, id, 16);
}

void um_queue_job_free(struct queue_job *job)
{
	if (!job)
		return;
	um_queue_put_request_clear(&job->put);
	free(job->ids);
	free(job);
}

bool um_queue_commit_submit(struct um_queue_api *api, struct queue_job *job)
{
	bool ok;

	pthread_mutex_lock(&api->lock);
	ok = !api->stopping && api->thread_started;
	if (ok) {
		job->next = NULL;
		*api->tail = job;
		api->tail = &job->next;
		pthread_cond_signal(&api->wake);
	}
	pthread_mutex_unlock(&api->lock);
	return ok;
}

static uint64_t wall_ms(const struct um_queue_api *api)
{
	return api->config.wall_ms ? api->config.wall_ms() : um_wall_ms();
}

/* A growing text buffer for the answers. */
struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = (t->len + n + 1) * 2;
		char *p = realloc(t->p, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = 0;
}

static void text_str(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* Sends t as the job's answer (status), or a 503 when it could not grow. */
static void answer(struct queue_job *job, unsigned status, struct text *t)
{
	struct um_http_response r = {0};

	if (t->failed || !t->p) {
		free(t->p);
		um_http_response_error(&r, 503, "out of memory");
	} else {
		r.status = status;
		r.body = t->p;
		r.body_len = t->len;
	}
	um_http_deferred_finish(job->deferred, &r);
}

static void answer_error(struct queue_job *job, unsigned status, const char *message)
{
	struct um_http_response r = {0};

	um_http_response_error(&r, status, message);
	um_http_deferred_finish(job->deferred, &r);
}

/* A put's refusal: its word and the status when every envelope got it. */
static const char *refusal(int code, unsigned *status)
{
	switch (code) {
	case -UM_ELIMIT:
		*status = 409;
		return "queue full for recipient";
	case -UM_ERANGE:
		*status = 413;
		return "envelope too large";
	case -ENOSPC:
		*status = 507;
		return "relay storage full";
	case -UM_EINVAL:
	case -UM_ETRUNC:
	case -UM_EVERSION:
		*status = 400;
		return "malformed envelope";
	default:
		*status = 503;
		return "relay storage failure";
	}
}

static void answer_put(struct um_queue_api *api, struct queue_job *job, int commit_result)
{
	struct text t = {0};
	char hex[33];
	unsigned status = 200, first = 0;
	size_t queued = 0, refused = 0;
	const char *first_word = NULL;

	text_str(&t, "{\"queued\":[");
	for (size_t i = 0; i < job->put.n; i++) {
		/* A duplicate is queued already: acknowledged again. */
		if ((job->result[i] == 0 || job->result[i] == -UM_EEXIST) && commit_result == 0) {
			um_queue_id_hex(job->header[i].id, hex);
			text_str(&t, queued++ ? ",\"" : "\"");
			text_str(&t, hex);
			text_str(&t, "\"");
		}
	}
	text_str(&t, "],\"refused\":[");
	for (size_t i = 0; i < job->put.n; i++) {
		int code = job->result[i] == 0 || job->result[i] == -UM_EEXIST ? commit_result : job->result[i];
		if (!code)
			continue;
		const char *word = refusal(code, &status);
		if (!first_word) {
			first_word = word;
			first = status;
		}
		/* A malformed envelope has no ID the relay could read. */
		if (job->header[i].version)
			um_queue_id_hex(job->header[i].id, hex);
		else
			hex[0] = 0;
		char item[160];
		snprintf(item, sizeof(item), "%s{\"id\":\"%s\",\"error\":\"%s\"}", refused++ ? "," : "", hex, word);
		text_str(&t, item);
	}
	text_str(&t, "]");
	if (job->has_next_challenge) {
		char b64[sodium_base64_ENCODED_LEN(UM_QUEUE_API_CHALLENGE_BYTES, sodium_base64_VARIANT_ORIGINAL)];

		sodium_bin2base64(b64, sizeof(b64), job->next_challenge, sizeof(job->next_challenge),
				  sodium_base64_VARIANT_ORIGINAL);
		text_str(&t, ",\"challenge\":\"");
		text_str(&t, b64);
		text_str(&t, "\"");
	}
	if (first_word && !queued) {
		char tail[96];
		snprintf(tail, sizeof(tail), ",\"error\":\"%s\"}", first_word);
		text_str(&t, tail);
	} else {
		text_str(&t, "}");
	}
	pthread_mutex_lock(&api->lock);
	api->stats.queued += queued;
	api->stats.refused_envelopes += refused;
	pthread_mutex_unlock(&api->lock);
	answer(job, queued ? 200 : first, &t);
}

struct pending_walk {
	struct text *t;
	size_t n;
};

static int pending_one(void *ctx, const uint8_t id[16], uint64_t arrival_ms, const uint8_t *envelope, size_t len)
{
	struct pending_walk *w = ctx;
	char head[128], hex[33];
	size_t b64_len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(b64_len);

	if (!b64)
		return -UM_ENOMEM;
	um_queue_id_hex(id, hex);
	snprintf(head, sizeof(head), "%s{\"id\":\"%s\",\"arrival_ms\":%llu,\"envelope\":\"", w->n++ ? "," : "", hex,
		 (unsigned long long)arrival_ms);
	sodium_bin2base64(b64, b64_len, envelope, len, sodium_base64_VARIANT_ORIGINAL);
	text_str(w->t, head);
	text_add(w->t, b64, b64_len - 1);
	text_str(w->t, "\"}");
	free(b64);
	return w->t->failed ? -UM_ENOMEM : 0;
}

static void serve_pending(struct um_queue_api *api, struct queue_job *job)
{
	struct text t = {0};
	struct pending_walk w = {.t = &t};
	int r;

	text_str(&t, "{\"envelopes\":[");
	r = api->backend.pending(api->backend.q, job->recipient, job->limit, pending_one, &w);
	text_str(&t, "]}");
	if (r) {
		free(t.p);
		answer_error(job, 503, "relay storage failure");
		return;
	}
	pthread_mutex_lock(&api->lock);
	api->stats.delivered += w.n;
	pthread_mutex_unlock(&api->lock);
	answer(job, 200, &t);
}

/* One batch: writes in one transaction, one commit, then reads and answers. */
static void run_batch(struct um_queue_api *api, struct queue_job *jobs)
{
	const struct um_queue_backend *b = &api->backend;
	uint64_t now = wall_ms(api);
	int r = b->begin(b->q), commit_result;
	uint64_t deleted = 0;

	for (struct queue_job *j = jobs; j; j = j->next) {
		if (j->kind == JOB_PUT) {
			for (size_t i = 0; i < j->put.n; i++)
				if (j->result[i] == 0)
					j->result[i] = r ? r
							 : b->put(b->q, j->header[i].recipient, j->header[i].id,
								  j->put.envelope[i], j->put.len[i], now);
		} else if (j->kind == JOB_DELETE) {
			j->result[0] = r ? r : b->delete_one(b->q, j->recipient, j->id);
		} else if (j->kind == JOB_DELETE_ALL) {
			j->result[0] = r ? r : b->delete_all(b->q, j->recipient);
		} else if (j->kind == JOB_DELETE_MANY) {
			/* Unknown IDs (another copy deleted them) are not errors. */
			int n = 0, e = r;
			for (size_t i = 0; i < j->n_ids && !e; i++) {
				int d = b->delete_one(b->q, j->recipient, j->ids[i]);
				if (d == 0)
					n++;
				else if (d != -UM_ENOTFOUND)
					e = d;
			}
			j->result[0] = e ? e : n;
		}
	}
	commit_result = r ? r : b->commit(b->q);
	for (struct queue_job *j = jobs, *next; j; j = next) {
		next = j->next;
		if (j->kind == JOB_PUT) {
			answer_put(api, j, commit_result);
		} else if (j->kind == JOB_PENDING) {
			serve_pending(api, j);
		} else if (commit_result || (j->result[0] < 0 && j->result[0] != -UM_ENOTFOUND)) {
			answer_error(j, 503, "relay storage failure");
		} else if (j->result[0] == -UM_ENOTFOUND) {
			/* Another recipient's envelope is "not found" too. */
			answer_error(j, 404, "no such envelope for this recipient");
		} else {
			struct text t = {0};
			char line[64];
			int n = j->kind == JOB_DELETE ? 1 : j->result[0]; /* _ALL, _MANY: a count */
			deleted += (uint64_t)n;
			snprintf(line, sizeof(line), "{\"deleted\":%d}", n);
			text_str(&t, line);
			answer(j, 200, &t);
		}
		um_queue_job_free(j);
	}
	pthread_mutex_lock(&api->lock);
	api->stats.batches++;
	api->stats.commits_failed += commit_result != 0;
	api->stats.deleted += deleted;
	pthread_mutex_unlock(&api->lock);
	if (commit_result)
		um_log_warn("relay queue: commit failed: %s", um_strerror(commit_result));
}

static void *committer(void *arg)
{
	struct um_queue_api *api = arg;
	uint64_t next_purge = um_now_ns() / 1000000 + api->config.purge_interval_ms;

	pthread_mutex_lock(&api->lock);
	for (;;) {
		while (!api->head && !api->stopping) {
			uint64_t now = um_now_ns() / 1000000;
			if (now >= next_purge)
				break;
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			uint64_t wait = next_purge - now;
			until.tv_sec += (time_t)(wait / 1000);
			until.tv_nsec += (long)(wait % 1000) * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&api->wake, &api->lock, &until);
		}
		struct queue_job *jobs = api->head;
		api->head = NULL;
		api->tail = &api->head;
		bool stopping = api->stopping;
		pthread_mutex_unlock(&api->lock);
		if (jobs)
			run_batch(api, jobs);
		if (um_now_ns() / 1000000 >= next_purge) {
			int n = api->backend.purge(api->backend.q, wall_ms(api));
			next_purge = um_now_ns() / 1000000 + api->config.purge_interval_ms;
			if (n > 0) {
				pthread_mutex_lock(&api->lock);
				api->stats.purged += (uint64_t)n;
				pthread_mutex_unlock(&api->lock);
			}
		}
		pthread_mutex_lock(&api->lock);
		if (stopping && !api->head)
			break;
	}
	pthread_mutex_unlock(&api->lock);
	return NULL;
}

int um_queue_commit_start(struct um_queue_api *api)
{
	pthread_condattr_t attr;
	int r;

	/* The purge timer waits on CLOCK_MONOTONIC. */
	pthread_cond_destroy(&api->wake);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&api->wake, &attr);
	pthread_condattr_destroy(&attr);
	r = pthread_create(&api->thread, NULL, committer, api);
	if (r)
		return -r;
	pthread_mutex_lock(&api->lock);
	api->thread_started = true;
	pthread_mutex_unlock(&api->lock);
	return 0;
}

void um_queue_commit_stop(struct um_queue_api *api)
{
	bool join;

	pthread_mutex_lock(&api->lock);
	join = api->thread_started && !api->stopping;
	api->stopping = true;
	pthread_cond_signal(&api->wake);
	pthread_mutex_unlock(&api->lock);
	if (join)
		pthread_join(api->thread, NULL);
}
