#pragma once

#include <stddef.h>

/*
 * The freestanding kernel supplies these itself (lib/string.c); host tests
 * get them from the C library.  The prototypes are the standard ones so the
 * same driver source builds both ways.
 */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
