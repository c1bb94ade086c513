/* SPDX-License-Identifier: MIT */
/* Logging: levels, to stderr (default) or syslog. Never called per packet on
 * the data path; never given key material. Thread-safe (one write per line). */
#ifndef UM_UTIL_LOG_H
#define UM_UTIL_LOG_H

#include <stdbool.h>

enum um_log_level {
	UM_LOG_ERROR = 0,
	UM_LOG_WARN,
	UM_LOG_INFO,
	UM_LOG_DEBUG,
};

void um_log_set_level(enum um_log_level level);
enum um_log_level um_log_get_level(void);
/* Switch output to syslog (ident is kept by reference: pass a literal). */
void um_log_use_syslog(const char *ident);
/* Parse "error|warn|info|debug"; -UM_EINVAL otherwise. */
int um_log_level_parse(const char *text, enum um_log_level *level);

void um_log(enum um_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define um_log_error(...) um_log(UM_LOG_ERROR, __VA_ARGS__)
#define um_log_warn(...)  um_log(UM_LOG_WARN, __VA_ARGS__)
#define um_log_info(...)  um_log(UM_LOG_INFO, __VA_ARGS__)
#define um_log_debug(...) um_log(UM_LOG_DEBUG, __VA_ARGS__)

#endif
