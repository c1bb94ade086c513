/* SPDX-License-Identifier: MIT */
/* Monotonic time in nanoseconds (CLOCK_MONOTONIC: never jumps with the wall
 * clock) and wall-clock seconds for protocol timestamps. */
#ifndef UM_UTIL_CLOCK_H
#define UM_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

#define UM_NSEC_PER_SEC  1000000000ULL
#define UM_NSEC_PER_MSEC 1000000ULL

static inline uint64_t um_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * UM_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline uint64_t um_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
