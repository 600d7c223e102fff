#pragma once

#include <stdbool.h>

/*
 * The log, declared here so that every layer may write to it without
 * reaching up into the kernel, which provides the sink (kernel/log.c);
 * host tests link their own log_printf to capture messages.  Every line
 * carries the time since boot and the subsystem:
 * "[    1.234567] vtd: unit 0 enabled".  Warnings and errors say so after
 * the subsystem ("vtd: warning: ..."), so a log line can never be taken for
 * a console command's closing "error: " line.
 */
enum log_level {
	LOG_ERR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

void log_printf(enum log_level level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_set_level(enum log_level level);

#define log_err(subsys, ...)   log_printf(LOG_ERR, subsys, __VA_ARGS__)
#define log_warn(subsys, ...)  log_printf(LOG_WARN, subsys, __VA_ARGS__)
#define log_info(subsys, ...)  log_printf(LOG_INFO, subsys, __VA_ARGS__)
#define log_debug(subsys, ...) log_printf(LOG_DEBUG, subsys, __VA_ARGS__)
