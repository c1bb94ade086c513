/* SPDX-License-Identifier: MIT */
/* The public API (include/umbra.h): thin wrappers that give embedders opaque,
 * heap-owned objects over the internal modules. */
#include "umbra.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/identity.h"
#include "ctl/config.h"
#include "msg/ladder.h"
#include "net/loop.h"
#include "node/messaging.h"
#include "node/node.h"
#include "node/status.h"
#include "store/store.h"
#include "um_config.h"
#include "util/error.h"
#include "wire/message.h"

struct umbra_identity {
	struct um_identity inner;
};

struct umbra_node {
	struct um_loop *loop;
	struct um_node *node;
	struct umbra_callbacks callbacks;
};

const char *umbra_version(void)
{
	return UM_VERSION;
}

const char *umbra_strerror(int code)
{
	return um_strerror(code);
}

int umbra_init(void)
{
	return sodium_init() < 0 ? -UM_EINVAL : 0;
}

/* Secret keys live in guarded, locked, zero-on-free memory. */
static struct umbra_identity *identity_alloc(void)
{
	return sodium_malloc(sizeof(struct umbra_identity));
}

int umbra_identity_generate(struct umbra_identity **out)
{
	struct umbra_identity *identity = identity_alloc();
	int ret;

	if (!identity)
		return -ENOMEM;
	ret = um_identity_generate(&identity->inner);
	if (ret) {
		umbra_identity_free(identity);
		return ret;
	}
	*out = identity;
	return 0;
}

int umbra_identity_load(struct umbra_identity **out, const char *path)
{
	struct umbra_identity *identity = identity_alloc();
	int ret;

	if (!identity)
		return -ENOMEM;
	ret = um_identity_load(&identity->inner, path);
	if (ret) {
		umbra_identity_free(identity);
		return ret;
	}
	*out = identity;
	return 0;
}

int umbra_identity_save(const struct umbra_identity *identity, const char *path)
{
	return um_identity_save(&identity->inner, path);
}

int umbra_identity_peer_id(const struct umbra_identity *identity, char *out, size_t out_size)
{
	return um_peer_id_format(&identity->inner.id, out, out_size);
}

int umbra_identity_short_id(const struct umbra_identity *identity, char *out, size_t out_size)
{
	return um_peer_id_format_short(&identity->inner.id, out, out_size);
}

void umbra_identity_free(struct umbra_identity *identity)
{
	if (!identity)
		return;
	um_identity_wipe(&identity->inner);
	sodium_free(identity);
}

int umbra_peer_id_check(const char *text)
{
	struct um_peer_id id;

	return um_peer_id_parse(&id, text);
}

int umbra_node_open(struct umbra_node **out, const char *config_path, char *error, size_t error_size)
{
	struct um_config config;
	struct umbra_node *node;
	int ret;

	ret = um_config_load(&config, config_path, error, error_size);
	if (ret)
		return ret;
	node = calloc(1, sizeof(*node));
	if (!node) {
		ret = -ENOMEM;
		goto err_config;
	}
	ret = um_loop_new(&node->loop);
	if (ret)
		goto err_node;
	ret = um_node_start(&node->node, node->loop, &config, um_node_control); /* takes config */
	if (ret) {
		if (error && error_size)
			snprintf(error, error_size, "%s: node failed to start: %s", config_path, um_strerror(ret));
		um_loop_free(node->loop);
		free(node);
		return ret;
	}
	*out = node;
	return 0;

err_node:
	free(node);
err_config:
	um_config_free(&config);
	if (error && error_size)
		snprintf(error, error_size, "%s: %s", config_path, um_strerror(ret));
	return ret;
}

int umbra_node_fd(const struct umbra_node *node)
{
	return um_loop_fd(node->loop);
}

int umbra_node_dispatch(struct umbra_node *node, int timeout_ms)
{
	return um_loop_run_once(node->loop, timeout_ms);
}

void umbra_node_close(struct umbra_node *node)
{
	if (!node)
		return;
	um_node_stop(node->node);
	um_loop_free(node->loop);
	free(node);
}

/* ---- messaging: the node's listener translated to the public types ---- */

static void on_message(void *ctx, const char *peer, const struct um_store_message *m)
{
	struct umbra_node *node = ctx;
	struct umbra_message message = {
	    .peer = peer,
	    .id = m->id,
	    .body = m->body,
	    .len = m->len,
	    .binary = m->kind == UM_MESSAGE_BINARY,
	    .sent_ms = m->sent_ms,
	    .via = um_ladder_rung_name(m->via),
	};

	if (node->callbacks.message)
		node->callbacks.message(node->callbacks.ctx, &message);
}

static void on_receipt(void *ctx, const char *peer, const uint8_t id[16], uint8_t out_state)
{
	struct umbra_node *node = ctx;
	enum umbra_receipt what;

	switch (out_state) {
	case UM_STORE_OUT_DELIVERED:
		what = UMBRA_RECEIPT_DELIVERED;
		break;
	case UM_STORE_OUT_READ:
		what = UMBRA_RECEIPT_READ;
		break;
	case UM_STORE_OUT_REFUSED:
		what = UMBRA_RECEIPT_REFUSED;
		break;
	case UM_STORE_OUT_QUEUED: /* node/offline.c: a mailbox relay acknowledged it */
		what = UMBRA_RECEIPT_QUEUED;
		break;
	default:
		return; /* queued / sent: not a receipt from the peer */
	}
	if (node->callbacks.receipt)
		node->callbacks.receipt(node->callbacks.ctx, peer, id, what);
}

static void on_presence(void *ctx, const char *peer, uint8_t state, const char *text, uint64_t last_seen_ms)
{
	struct umbra_node *node = ctx;

	if (node->callbacks.presence)
		node->callbacks.presence(node->callbacks.ctx, peer, (enum umbra_presence)state, text, last_seen_ms);
}

static void on_file(void *ctx, const char *peer, const struct um_store_file *f)
{
	struct umbra_node *node = ctx;
	struct umbra_file_progress progress = {
	    .peer = peer,
	    .id = f->id,
	    .name = f->name,
	    .outgoing = f->outgoing,
	    .state = (enum umbra_file_state)f->state,
	    .done = f->bytes_done,
	    .size = f->size,
	    .path = !f->outgoing && f->state == UM_STORE_FILE_DONE && f->path[0] ? f->path : NULL,
	};

	if (node->callbacks.file)
		node->callbacks.file(node->callbacks.ctx, &progress);
}

int umbra_node_set_callbacks(struct umbra_node *node, const struct umbra_callbacks *callbacks)
{
	struct um_messaging_listener listener = {
	    .ctx = node,
	    .message = on_message,
	    .receipt = on_receipt,
	    .presence = on_presence,
	    .file = on_file,
	};

	if (!node)
		return -UM_EINVAL;
	if (callbacks)
		node->callbacks = *callbacks;
	else
		memset(&node->callbacks, 0, sizeof(node->callbacks));
	um_node_messaging_listen(node->node, callbacks ? &listener : NULL);
	return 0;
}

int umbra_message_send(struct umbra_node *node, const char *peer, const void *body, size_t len, int binary,
		       uint8_t *id_out)
{
	if (!node || !peer || (!body && len))
		return -UM_EINVAL;
	if (len > UMBRA_MESSAGE_MAX)
		return -UM_ERANGE;
	return um_node_message_send(node->node, peer, body, len, binary ? UM_MESSAGE_BINARY : UM_MESSAGE_TEXT, id_out,
				    NULL);
}

int umbra_message_read(struct umbra_node *node, const char *peer, const uint8_t *id)
{
	(void)peer; /* message IDs are random: the ID alone names the message */
	if (!node || !id)
		return -UM_EINVAL;
	return um_node_message_read(node->node, id);
}

int umbra_file_send(struct umbra_node *node, const char *peer, const char *path, uint8_t *id_out)
{
	if (!node || !peer || !path)
		return -UM_EINVAL;
	return um_node_file_send(node->node, peer, path, id_out);
}

int umbra_file_accept(struct umbra_node *node, const uint8_t *id)
{
	if (!node || !id)
		return -UM_EINVAL;
	return um_node_file_decide(node->node, id, true, NULL);
}

int umbra_file_reject(struct umbra_node *node, const uint8_t *id)
{
	if (!node || !id)
		return -UM_EINVAL;
	return um_node_file_decide(node->node, id, false, "rejected by the application");
}

int umbra_presence_set(struct umbra_node *node, enum umbra_presence state, const char *text)
{
	if (!node)
		return -UM_EINVAL;
	return um_node_presence_set(node->node, (uint8_t)state, text);
}
