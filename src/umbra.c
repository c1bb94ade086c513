/* SPDX-License-Identifier: MIT */
/* The public API (include/umbra.h): thin wrappers that give embedders opaque,
 * heap-owned objects over the internal modules. */
#include "umbra.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto/identity.h"
#include "ctl/config.h"
#include "net/loop.h"
#include "node/node.h"
#include "node/status.h"
#include "um_config.h"
#include "util/error.h"

struct umbra_identity {
	struct um_identity inner;
};

struct umbra_node {
	struct um_loop *loop;
	struct um_node *node;
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
