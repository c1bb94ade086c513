/* SPDX-License-Identifier: MIT */
/* Endpoints for DHT records: the record's form of an address and back, and
 * the interface addresses a node can be reached at (moved out of dht.c;
 * calls nothing above it). */
#include <netinet/in.h>
#include <string.h>

#include "node/dht_internal.h"
#include "node/internal.h"
#include "node/path.h"

void um_node_dht_endpoint_add(struct um_dht_endpoint *out, unsigned *n, uint8_t kind, const struct um_addr *a)
{
	struct um_dht_endpoint e = {.kind = kind};
	struct sockaddr_storage ss;

	if (*n >= UM_DHT_ENDPOINTS_MAX || !a->family || !a->port || um_addr_to_sockaddr(a, &ss) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		e.family = AF_INET;
		memcpy(e.addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else {
		e.family = AF_INET6;
		memcpy(e.addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	}
	e.port = a->port;
	for (unsigned i = 0; i < *n; i++)
		if (out[i].family == e.family && out[i].port == e.port && !memcmp(out[i].addr, e.addr, 16))
			return;
	out[(*n)++] = e;
}

bool um_node_dht_endpoint_to_addr(const struct um_dht_endpoint *e, struct um_addr *a)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;

	if (e->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, e->addr, 4);
		in->sin_port = htons(e->port);
		len = sizeof(*in);
	} else if (e->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, e->addr, 16);
		in6->sin6_port = htons(e->port);
		len = sizeof(*in6);
	} else {
		return false;
	}
	return um_addr_from_sockaddr(a, (struct sockaddr *)&ss, len) == 0;
}

size_t um_node_dht_local_addresses(const struct um_node_dht *d, struct um_addr *out, size_t max)
{
	return um_interface_addresses(d->node->ifname, d->port, out, max);
}
