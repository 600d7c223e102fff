#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Small-object allocator behind hw_zalloc/hw_free: power-of-two classes from
 * 32 bytes to 2 KiB carved from pages, larger objects as whole pages.  Freed
 * small objects go back to their class; their pages are kept.
 */
#define HEAP_CLASSES 7

struct heap_free;

struct heap {
	struct heap_free *free[HEAP_CLASSES];
	uint64_t live_objects;
	uint64_t pages;
};
