/* SPDX-License-Identifier: MIT */
/* Skeleton: the engine lands in the next commit. */
#include "msg/channel.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "wire/channel.h"

struct um_channel {
	uint64_t epoch, peer_epoch;
	bool reset;
	struct um_channel_stats stats;
};

int um_channel_new(const struct um_channel_config *cfg, uint64_t epoch, uint64_t now, struct um_channel **out)
{
	(void)cfg;
	(void)now;
	*out = NULL;
	if (epoch == 0)
		return -UM_EINVAL;
	struct um_channel *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -UM_ENOMEM;
	ch->epoch = epoch;
	*out = ch;
	return 0;
}

void um_channel_free(struct um_channel *ch)
{
	free(ch);
}
void um_channel_set_rtt_hint(struct um_channel *ch, uint64_t rtt_ns)
{
	(void)ch;
	(void)rtt_ns;
}
size_t um_channel_writable(const struct um_channel *ch)
{
	(void)ch;
	return 0;
}
int um_channel_write(struct um_channel *ch, const void *data, size_t len)
{
	(void)ch;
	(void)data;
	(void)len;
	return -UM_EAGAIN;
}
int um_channel_input(struct um_channel *ch, const uint8_t *segment, size_t len, uint64_t now)
{
	struct um_channel_segment seg;
	(void)now;
	int ret = um_channel_segment_decode(&seg, segment, len);
	if (ret < 0)
		ch->stats.segments_malformed++;
	return ret;
}
size_t um_channel_read(struct um_channel *ch, void *out, size_t cap)
{
	(void)ch;
	(void)out;
	(void)cap;
	return 0;
}
size_t um_channel_readable(const struct um_channel *ch)
{
	(void)ch;
	return 0;
}
int um_channel_output(struct um_channel *ch, uint64_t now, uint8_t *out, size_t cap, size_t *len)
{
	(void)ch;
	(void)now;
	(void)out;
	(void)cap;
	*len = 0;
	return 0;
}
uint64_t um_channel_deadline(const struct um_channel *ch)
{
	(void)ch;
	return UINT64_MAX;
}
bool um_channel_take_reset(struct um_channel *ch)
{
	bool r = ch->reset;
	ch->reset = false;
	return r;
}
uint64_t um_channel_epoch(const struct um_channel *ch)
{
	return ch->epoch;
}
uint64_t um_channel_peer_epoch(const struct um_channel *ch)
{
	return ch->peer_epoch;
}
void um_channel_stats(const struct um_channel *ch, struct um_channel_stats *out)
{
	*out = ch->stats;
}
