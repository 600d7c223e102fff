#pragma once

#include <stddef.h>

/*
 * The kernel command line: words "key" or "key=value", separated by spaces;
 * a value in double quotes may hold spaces ("run=\"pci; exit 1\"").
 * cmdline_get copies the value of the last occurrence of key into buf
 * ("" for a bare key) and returns 0; -ENOENT when absent, -EINVAL for an
 * unterminated quote, -E2BIG when the value does not fit.  With size 0 it
 * only reports whether key is present.
 */
int cmdline_get(const char *cmdline, const char *key, char *buf, size_t size);
