/* Bitmaps and id allocation from them: see bitmap.h. */
#include "lib/bitmap.h"

#include <stdbool.h>
#include <stdint.h>

#include "lib/errno.h"

int bitmap_id_alloc(struct bitmap_ids *ids, uint32_t *id)
{
	uint32_t words = BITMAP_WORDS(ids->bits), w, n;
	uint64_t free;

	for (w = ids->hint / 64; w < words; w++) {
		/* Every id below the hint is used. */
		free = ~ids->map[w];
		if (!free) {
			continue;
		}
		n = w * 64 + (uint32_t)__builtin_ctzll(free);
		if (n >= ids->bits) {
			break;
		}
		bitmap_set(ids->map, n);
		ids->hint = n + 1;
		ids->used++;
		*id = n;
		return 0;
	}
	ids->hint = ids->bits;
	return -ENOSPC;
}

void bitmap_id_free(struct bitmap_ids *ids, uint32_t id)
{
	bitmap_clear(ids->map, id);
	ids->used--;
	if (id < ids->hint) {
		ids->hint = id;
	}
}

bool bitmap_id_reserve(struct bitmap_ids *ids, uint32_t id)
{
	if (bitmap_test(ids->map, id)) {
		return false;
	}
	bitmap_set(ids->map, id);
	ids->used++;
	return true;
}
