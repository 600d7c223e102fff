#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Bitmaps of 64-bit words, and ids allocated from one: the lowest free id
 * at or after a hint, found a word at a time.  The hint moves past each
 * allocation, so allocating ids one after the other costs the same at the
 * 16th as at the 65,535th; freeing an id below the hint moves it back.
 */
#define BITMAP_WORDS(bits) (((bits) + 63U) / 64U)

static inline bool bitmap_test(const uint64_t *map, uint32_t n)
{
	return map[n / 64] & (UINT64_C(1) << (n % 64));
}

static inline void bitmap_set(uint64_t *map, uint32_t n)
{
	map[n / 64] |= UINT64_C(1) << (n % 64);
}

static inline void bitmap_clear(uint64_t *map, uint32_t n)
{
	map[n / 64] &= ~(UINT64_C(1) << (n % 64));
}

/* Ids below bits, allocated in map (BITMAP_WORDS(bits) words). */
struct bitmap_ids {
	uint64_t *map;
	uint32_t bits;
	uint32_t hint; /* no free id below it */
	uint32_t used;
};

/*
 * The lowest free id, marked used, or -ENOSPC when every id is; ids set
 * directly in map (reserved ones) are never handed out.
 */
int bitmap_id_alloc(struct bitmap_ids *ids, uint32_t *id);

/* Return id (allocated) to the pool. */
void bitmap_id_free(struct bitmap_ids *ids, uint32_t id);

/* id taken out of the pool whether free or not; true if it was free. */
bool bitmap_id_reserve(struct bitmap_ids *ids, uint32_t id);
