/* SPDX-License-Identifier: MIT */
/* Messaging on the node (node/messaging.h): the per-peer messengers, the
 * segments between them and the data plane, the outbox, receipts and
 * presence. Files are in messaging_files.c, the control ops in
 * messaging_control.c. */
#include "node/messaging.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "msg/channel.h"
#include "node/messaging_internal.h"
#include "node/offline.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

/* ---- peers ---- */

/* Keys to send with: the data plane has a current keypair (mirrored). */
static bool can_send(const struct msg_peer *mp)
{
	return mp->messenger && mp->peer->index_current != 0 && mp->peer->node->up;
}

static int messenger_create(struct um_node_messaging *ms, struct msg_peer *mp)
{
	struct um_messenger_config cfg = {
	    .max_message = UM_CONTROL_MESSAGE_MAX,
	    .channel = {.send_buffer = MSG_CHANNEL_BUFFER, .receive_buffer = MSG_CHANNEL_BUFFER}};
	uint64_t epoch = 0;

	if (mp->messenger)
		return 0;
	while (!epoch) /* nonzero: 0 means "unknown" on the wire */
		randombytes_buf(&epoch, sizeof(epoch));
	int r = um_messenger_new(&cfg, epoch, um_now_ns(), &mp->messenger);
	if (r) {
		um_log_error("peer \"%s\": messenger: %s", msg_peer_name(mp), um_strerror(r));
		return r;
	}
	if (mp->peer->rtt_ns)
		um_channel_set_rtt_hint(um_messenger_channel(mp->messenger), mp->peer->rtt_ns);
	mp->outbox_cursor = 0;
	mp->outbox_due = true;
	msg_files_reset(ms, mp);
	return 0;
}

static void flush_pending(struct msg_peer *mp)
{
	while (mp->pending_head) {
		struct msg_pending *p = mp->pending_head;
		int r = p->is_ack
			    ? um_messenger_ack(mp->messenger, p->id, p->what, p->len ? (const char *)p->data : NULL)
			    : um_messenger_send_frame(mp->messenger, p->type, p->data, p->len);
		if (r == -UM_EAGAIN)
			return;
		if (r)
			um_log_warn("peer \"%s\": frame 0x%02x dropped: %s", msg_peer_name(mp),
				    p->is_ack ? UM_FRAME_ACK : p->type, um_strerror(r));
		mp->pending_head = p->next;
		if (!mp->pending_head)
			mp->pending_tail = NULL;
		mp->n_pending--;
		free(p);
	}
}

/* ---- the outbox ---- */

struct outbox_batch {
	int64_t cursor;
	size_t budget, bytes, n, cap;
	struct um_store_message *msgs; /* bodies copied (owned) */
};

static int outbox_collect(void *ctx, const struct um_store_message *m)
{
	struct outbox_batch *b = ctx;

	if (m->seq <= b->cursor)
		return 0;
	if (b->n && b->bytes + m->len + 64 > b->budget)
		return 1; /* enough for the room the channel has */
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct um_store_message *grown = realloc(b->msgs, cap * sizeof(*grown));
		if (!grown)
			return -UM_ENOMEM;
		b->msgs = grown;
		b->cap = cap;
	}
	uint8_t *body = malloc(m->len ? m->len : 1);
	if (!body)
		return -UM_ENOMEM;
	if (m->len)
		memcpy(body, m->body, m->len);
	b->msgs[b->n] = *m;
	b->msgs[b->n].body = body;
	b->n++;
	b->bytes += m->len + 64;
	return 0;
}

/* Writes pending outgoing messages after the cursor while the channel has
 * room; the first write marks them sent. */
static void outbox_pump(struct um_node_messaging *ms, struct msg_peer *mp)
{
	struct outbox_batch b = {.cursor = mp->outbox_cursor};
	size_t writable = um_messenger_writable(mp->messenger);
	bool all_written;

	if (!mp->outbox_due || writable < 128)
		return;
	b.budget = writable;
	int r = um_store_outbox_pending(ms->store, mp->peer->config->id.bytes, outbox_collect, &b);
	if (r < 0)
		um_log_warn("outbox of \"%s\": %s", msg_peer_name(mp), um_strerror(r));
	all_written = r == 0; /* the walk ended: nothing past what was collected */
	bool batch = b.n > 1 && um_store_begin(ms->store) == 0;
	for (size_t i = 0; i < b.n; i++) {
		const struct um_store_message *m = &b.msgs[i];
		r = um_messenger_send(mp->messenger, m->id, m->sent_ms, m->kind, m->body, m->len);
		if (r == -UM_EAGAIN) {
			all_written = false;
			break;
		}
		mp->outbox_cursor = m->seq;
		if (r) {
			um_log_warn("message to \"%s\" not sent: %s", msg_peer_name(mp), um_strerror(r));
			continue;
		}
		ms->counters.messages_sent++;
		if (m->state == 0) {
			um_store_message_set_state(ms->store, m->id, true, 1);
			um_store_message_set_via(ms->store, m->peer, m->id, true, um_node_offline_rung(mp->peer));
		}
	}
	if (batch)
		um_store_commit(ms->store);
	if (all_written)
		mp->outbox_due = false;
	for (size_t i = 0; i < b.n; i++)
		free((void *)b.msgs[i].body);
	free(b.msgs);
}

/* ---- presence ---- */

static void presence_send(struct um_node_messaging *ms, struct msg_peer *mp)
{
	if (!mp->presence_due)
		return;
	int r = um_messenger_presence(mp->messenger, ms->self_state, um_wall_ms(), ms->self_text);
	if (r != -UM_EAGAIN)
		mp->presence_due = false;
}

void msg_presence_changed(struct um_node_messaging *ms)
{
	for (size_t i = 0; i < ms->n_peers; i++) {
		struct msg_peer *mp = &ms->peers[i];
		mp->presence_due = true;
		if (mp->messenger)
			msg_pump(ms, mp);
	}
}

/* ---- segments out, the timer ---- */

/* refill: file chunks are read between batches (FILE_UNSENT_MAX). */
static void drain(struct um_node_messaging *ms, struct msg_peer *mp, bool refill)
{
	uint8_t *slot[UM_DP_MESSAGE_BATCH];
	uint32_t lens[UM_DP_MESSAGE_BATCH];
	uint64_t now = um_now_ns();

	if (!can_send(mp))
		return; /* nothing is taken out: no segment counts as lost */
	/* Segments as large as the path carries (1408 direct, 1152 relayed):
	 * the fewer, the less each byte costs in sealing, syscalls and the
	 * channel's bookkeeping. Nothing to do when the path kept its size. */
	um_channel_set_segment_max(um_messenger_channel(mp->messenger),
				   (uint32_t)um_dataplane_peer_message_max(ms->node->dataplane, mp->peer->dp_peer));
	/* Segments leave in batches (one sendmmsg/GSO each): a file transfer
	 * would otherwise pay one syscall and one trip down the stack per
	 * segment. The channel writes them straight into the data plane's
	 * queue. */
	for (;;) {
		size_t n = 0, sent = 0;
		/* No more than the data plane's queue takes: a segment taken out
		 * and not sent counts as lost (a retransmission and a halved
		 * window). The next ACK pumps again. */
		size_t want = um_dataplane_peer_reserve_messages(ms->node->dataplane, mp->peer->dp_peer, slot,
								 UM_DP_MESSAGE_BATCH);
		if (refill)
			msg_files_pump(ms, mp);
		while (n < want) {
			size_t len = 0;
			if (um_messenger_output(mp->messenger, now, slot[n], UM_DP_MESSAGE_MAX, &len) || len == 0)
				break;
			lens[n++] = (uint32_t)len;
		}
		if (n == 0)
			return;
		int r = um_dataplane_peer_commit_messages(ms->node->dataplane, mp->peer->dp_peer, lens, n, &sent);
		ms->counters.segments_out += sent;
		if (r || n < want || want < UM_DP_MESSAGE_BATCH) /* ENOKEY, EAGAIN: the channel retransmits the rest */
			return;
	}
}

static void rearm(struct um_node_messaging *ms)
{
	uint64_t earliest = UINT64_MAX, now = um_now_ns();

	for (size_t i = 0; i < ms->n_peers; i++) {
		const struct msg_peer *mp = &ms->peers[i];
		if (!can_send(mp))
			continue; /* its deadline waits for keys */
		uint64_t d = um_messenger_deadline(mp->messenger);
		if (d < earliest)
			earliest = d;
	}
	if (ms->pump_soon)
		return; /* the timer is due now: it pumps and rearms */
	if (earliest == UINT64_MAX) {
		um_timer_cancel(ms->node->loop, &ms->timer);
		return;
	}
	/* Not in the past: a deadline the channel cannot act on (no room in
	 * the socket) would spin the loop. */
	if (earliest < now + UM_NSEC_PER_MSEC)
		earliest = now + UM_NSEC_PER_MSEC;
	um_timer_arm_at(ms->node->loop, &ms->timer, earliest);
}

static void pump_one(struct um_node_messaging *ms, struct msg_peer *mp)
{
	if (!mp->messenger)
		return;
	flush_pending(mp);
	presence_send(ms, mp);
	if (!mp->pending_head)
		outbox_pump(ms, mp);
	drain(ms, mp, true);
}

void msg_pump(struct um_node_messaging *ms, struct msg_peer *mp)
{
	pump_one(ms, mp);
	rearm(ms);
}

static void on_timer(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_messaging *ms = timer->arg;
	(void)loop;

	ms->pump_soon = false;
	for (size_t i = 0; i < ms->n_peers; i++)
		if (can_send(&ms->peers[i]))
			pump_one(ms, &ms->peers[i]);
	rearm(ms);
}

/* Housekeeping: buffers a burst grew are given back once empty. */
static void on_trim(struct um_loop *loop, struct um_timer *timer)
{
	struct um_node_messaging *ms = timer->arg;

	for (size_t i = 0; i < ms->n_peers; i++)
		if (ms->peers[i].messenger)
			um_channel_trim(um_messenger_channel(ms->peers[i].messenger));
	um_timer_arm_in(loop, timer, MSG_TRIM_INTERVAL_S * UM_NSEC_PER_SEC);
}

/* ---- segments in ---- */

static uint8_t ack_state(uint8_t what)
{
	switch (what) {
	case UM_RECEIPT_DELIVERED:
		return 2;
	case UM_RECEIPT_READ:
		return 3;
	default:
		return 4; /* refused */
	}
}

static void on_presence(struct um_node_messaging *ms, struct msg_peer *mp, const struct um_messenger_event *ev)
{
	size_t len = ev->len < MSG_PRESENCE_TEXT_MAX ? ev->len : MSG_PRESENCE_TEXT_MAX;

	mp->has_presence = true;
	mp->presence_state = ev->what_or_kind_or_state;
	mp->presence_last_seen_ms = ev->time_ms;
	if (len)
		memcpy(mp->presence_text, ev->data, len);
	mp->presence_text[len] = '\0';
	if (memchr(mp->presence_text, '\0', len))
		mp->presence_text[0] = '\0'; /* not text: dropped */
	int r = um_store_presence_put(ms->store, mp->peer->config->id.bytes, mp->presence_state,
				      mp->presence_last_seen_ms, mp->presence_text);
	if (r)
		um_log_warn("presence of \"%s\" not stored: %s", msg_peer_name(mp), um_strerror(r));
	msg_notify_presence(ms, mp);
}

/* The events of one segment. Messages go to the store in one commit first;
 * their receipts are queued only after it (the ACK promises durability). */
static void handle_events(struct um_node_messaging *ms, struct msg_peer *mp, size_t n)
{
	int stored[UM_MESSENGER_EVENTS_MAX];
	struct um_store_message m[UM_MESSENGER_EVENTS_MAX];
	bool batch = false, any = false;

	for (size_t i = 0; i < n; i++)
		any |= ms->events[i].kind == UM_MSG_EVENT_MESSAGE;
	if (any)
		batch = um_store_begin(ms->store) == 0;
	for (size_t i = 0; i < n; i++) {
		const struct um_messenger_event *ev = &ms->events[i];
		stored[i] = -UM_EINVAL;
		if (ev->kind != UM_MSG_EVENT_MESSAGE)
			continue;
		m[i] = (struct um_store_message){
		    .outgoing = false,
		    .kind = ev->what_or_kind_or_state,
		    .sent_ms = ev->time_ms,
		    .received_ms = um_wall_ms(),
		    .via = um_node_offline_rung(mp->peer),
		    .body = ev->data,
		    .len = ev->len,
		};
		memcpy(m[i].peer, mp->peer->config->id.bytes, 32);
		memcpy(m[i].id, ev->id, 16);
		stored[i] = um_store_inbox_add(ms->store, &m[i]);
		if (stored[i] == 0)
			m[i].seq = um_store_last_seq(ms->store);
	}
	if (batch && um_store_commit(ms->store)) {
		um_log_error("store commit failed: messages of \"%s\" not acknowledged", msg_peer_name(mp));
		for (size_t i = 0; i < n; i++)
			stored[i] = -UM_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct um_messenger_event *ev = &ms->events[i];
		switch (ev->kind) {
		case UM_MSG_EVENT_MESSAGE:
			if (stored[i] != 0 && stored[i] != -UM_EEXIST) {
				um_log_error("message from \"%s\" not stored: %s", msg_peer_name(mp),
					     um_strerror(stored[i]));
				continue; /* no receipt: the peer sends it again after a reset */
			}
			/* Queued before anyone sees the message: a read receipt an
			 * embedding program sends from its callback comes after. */
			msg_queue_ack(mp, ev->id, UM_RECEIPT_DELIVERED, NULL);
			if (stored[i] == 0) {
				ms->counters.messages_received++;
				msg_notify_message(ms, &m[i]);
			} else {
				ms->counters.duplicates++; /* a resend: acknowledged again */
			}
			break;
		case UM_MSG_EVENT_ACK: {
			uint8_t state = ack_state(ev->what_or_kind_or_state);
			ms->counters.receipts++;
			if (ev->what == UM_RECEIPT_REFUSED)
				um_log_warn("peer \"%s\" refused a message: %.*s", msg_peer_name(mp),
					    (int)(ev->len < 256 ? ev->len : 256),
					    ev->len ? (const char *)ev->data : "no reason");
			int r = um_store_message_set_state(ms->store, ev->id, true, state);
			if (r == 0)
				msg_notify_receipt(ms, mp, ev->id, state);
			break;
		}
		case UM_MSG_EVENT_PRESENCE:
			on_presence(ms, mp, ev);
			break;
		case UM_MSG_EVENT_FILE_FRAME:
			msg_files_frame(ms, mp, ev->frame_type, ev->data, ev->len);
			break;
		case UM_MSG_EVENT_RESET:
			/* The peer restarted (or first contact): what was in
			 * flight is gone; the outbox and files go again. */
			ms->counters.resets++;
			mp->outbox_cursor = 0;
			mp->outbox_due = true;
			mp->presence_due = true;
			msg_files_reset(ms, mp);
			break;
		case UM_MSG_EVENT_PROTOCOL_ERROR:
			ms->counters.protocol_errors++;
			/* A message we cannot take is refused with the reason, so
			 * that its sender stops sending it again. */
			if (ev->what == 1 && ev->frame_type == UM_FRAME_DATA)
				msg_queue_ack(mp, ev->id, UM_RECEIPT_REFUSED, "malformed message");
			um_log_warn("peer \"%s\": message stream: %.*s", msg_peer_name(mp),
				    (int)(ev->len < 200 ? ev->len : 200), (const char *)ev->data);
			break;
		default:
			break;
		}
	}
}

void um_node_messaging_receive(struct um_node_peer *peer, const uint8_t *segment, size_t len)
{
	struct um_node_messaging *ms = peer->node->messaging;
	struct msg_peer *mp = msg_peer_of(peer);

	if (!mp || messenger_create(ms, mp))
		return;
	ms->counters.segments_in++;
	/* Events come in batches of at most UM_MESSENGER_EVENTS_MAX; each
	 * batch is handled (stored, committed) before the next is parsed. */
	for (bool first = true; first || um_messenger_pending(mp->messenger); first = false) {
		size_t n = 0;
		int r = um_messenger_input(mp->messenger, first ? segment : NULL, first ? len : 0, um_now_ns(),
					   ms->events, &n);
		if (first && (r == -UM_EINVAL || r == -UM_ETRUNC))
			ms->counters.segments_malformed++;
		handle_events(ms, mp, n);
		if (r == -UM_ENOMEM || (!first && n == 0))
			break;
	}
	if (!can_send(mp)) {
		msg_pump(ms, mp);
		return;
	}
	/* Pump once after the data plane's batch of segments rather than per
	 * segment: one ACK covers the batch, and new data leaves in full
	 * GSO batches. */
	msg_pump_soon(ms);
}

void um_node_messaging_session_up(struct um_node_peer *peer)
{
	struct um_node_messaging *ms = peer->node->messaging;
	struct msg_peer *mp = msg_peer_of(peer);

	if (!mp || messenger_create(ms, mp))
		return;
	/* Ours goes once per fresh session (not at each rekey). */
	uint64_t fresh = peer->handshakes - peer->rekeys;
	if (fresh != mp->presence_sessions) {
		mp->presence_sessions = fresh;
		mp->presence_due = true;
	}
	if (peer->rtt_ns)
		um_channel_set_rtt_hint(um_messenger_channel(mp->messenger), peer->rtt_ns);
	msg_pump(ms, mp);
}

/* ---- start / stop ---- */

/* dir of path into out ("." for a bare name). */
static void dir_of(const char *path, char *out, size_t size)
{
	char copy[UM_CONFIG_PATH_MAX];

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(out, size, "%s", dirname(copy));
}

/* The defaults of ctl/config.h: messages.db beside dht-state, else beside
 * the control socket, downloads/ beside the store. Daemons that share the
 * control socket's directory (tests, several nodes on one host) would
 * share those: beside a socket not named umbrad.sock the names carry its
 * stem ("alpha.sock": alpha.messages.db, alpha.downloads). */
static void default_paths(struct um_node_messaging *ms)
{
	const struct um_config *c = &ms->node->config;
	char dir[UM_CONFIG_PATH_MAX], prefix[256] = "";

	if (!c->dht_state[0]) {
		const char *base = strrchr(c->control_socket, '/');
		base = base ? base + 1 : c->control_socket;
		size_t stem = strcspn(base, ".");
		if (strcmp(base, "umbrad.sock") && stem > 0 && stem < sizeof(prefix) - 1)
			snprintf(prefix, sizeof(prefix), "%.*s.", (int)stem, base);
	}
	if (c->store_path[0]) {
		snprintf(ms->store_path, sizeof(ms->store_path), "%s", c->store_path);
		prefix[0] = '\0';
	} else {
		dir_of(c->dht_state[0] ? c->dht_state : c->control_socket, dir, sizeof(dir));
		snprintf(ms->store_path, sizeof(ms->store_path), "%.3800s/%smessages.db", dir, prefix);
	}
	if (c->download_dir[0]) {
		snprintf(ms->download_dir, sizeof(ms->download_dir), "%s", c->download_dir);
	} else {
		dir_of(ms->store_path, dir, sizeof(dir));
		snprintf(ms->download_dir, sizeof(ms->download_dir), "%.3800s/%sdownloads", dir, prefix);
	}
}

static void load_presence(struct um_node_messaging *ms)
{
	struct um_store_presence p;

	/* A running node is online unless told otherwise (away, busy). */
	ms->self_state = UM_PRESENCE_ONLINE;
	if (um_store_self_presence_get(ms->store, &p) == 0) {
		if (p.state != UM_PRESENCE_OFFLINE)
			ms->self_state = p.state;
		snprintf(ms->self_text, sizeof(ms->self_text), "%s", p.text);
	}
	for (size_t i = 0; i < ms->n_peers; i++) {
		struct msg_peer *mp = &ms->peers[i];
		if (um_store_presence_get(ms->store, mp->peer->config->id.bytes, &p) == 0) {
			mp->has_presence = true;
			mp->presence_state = p.state;
			mp->presence_last_seen_ms = p.last_seen_ms;
			snprintf(mp->presence_text, sizeof(mp->presence_text), "%s", p.text);
		}
	}
}

int um_node_messaging_start(struct um_node *node)
{
	struct um_node_messaging *ms;
	char dir[UM_CONFIG_PATH_MAX];
	int r;

	if (!node->dataplane)
		return 0; /* relay-only */
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -UM_ENOMEM;
	ms->node = node;
	ms->n_peers = node->n_peers;
	ms->peers = calloc(ms->n_peers ? ms->n_peers : 1, sizeof(*ms->peers));
	if (!ms->peers) {
		free(ms);
		return -UM_ENOMEM;
	}
	for (size_t i = 0; i < ms->n_peers; i++)
		ms->peers[i].peer = &node->peers[i];
	um_timer_init(&ms->timer, on_timer, ms);
	um_timer_init(&ms->trim_timer, on_trim, ms);
	node->messaging = ms;
	default_paths(ms);
	dir_of(ms->store_path, dir, sizeof(dir));
	if (mkdir(dir, 0700) && errno != EEXIST) {
		r = -errno;
		um_log_error("message store directory %s: %s", dir, um_strerror(r));
		goto err;
	}
	r = um_store_open(ms->store_path, &ms->store);
	if (r) {
		um_log_error("message store %s: %s", ms->store_path, um_strerror(r));
		goto err;
	}
	load_presence(ms);
	r = msg_files_start(ms);
	if (r)
		goto err;
	r = um_node_offline_start(ms);
	if (r)
		goto err;
	um_timer_arm_in(node->loop, &ms->trim_timer, MSG_TRIM_INTERVAL_S * UM_NSEC_PER_SEC);
	um_log_info("messages in %s, downloads to %s", ms->store_path, ms->download_dir);
	return 0;
err:
	um_node_messaging_stop(node);
	return r;
}

void um_node_messaging_goodbye(struct um_node *node)
{
	struct um_node_messaging *ms = node->messaging;

	for (size_t i = 0; ms && i < ms->n_peers; i++) {
		struct msg_peer *mp = &ms->peers[i];
		if (!can_send(mp))
			continue;
		/* Best effort: a full channel or a lost segment leaves the peer
		 * to notice the session end by itself. */
		um_messenger_presence(mp->messenger, UM_PRESENCE_OFFLINE, um_wall_ms(), ms->self_text);
		drain(ms, mp, false);
	}
	/* The data plane's workers seal and send them: before it stops. */
	if (ms && node->dataplane)
		um_dataplane_flush_messages(node->dataplane, 100 * UM_NSEC_PER_MSEC);
}

void um_node_messaging_stop(struct um_node *node)
{
	struct um_node_messaging *ms = node->messaging;

	if (!ms)
		return;
	um_timer_cancel(node->loop, &ms->timer);
	um_timer_cancel(node->loop, &ms->trim_timer);
	um_node_offline_stop(ms);
	msg_files_stop(ms);
	for (size_t i = 0; i < ms->n_peers; i++) {
		msg_pending_free(&ms->peers[i]);
		um_messenger_free(ms->peers[i].messenger);
	}
	um_store_close(ms->store);
	free(ms->peers);
	free(ms);
	node->messaging = NULL;
}

void um_node_messaging_counters(const struct um_node *node, struct um_messaging_status *out)
{
	memset(out, 0, sizeof(*out));
	if (node->messaging)
		*out = node->messaging->counters;
}
