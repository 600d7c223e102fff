#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Register and entry fields are named by (msb, lsb) exactly as in the VT-d
 * and PCI specifications.  Functions rather than macros so that arguments
 * are evaluated once and typed.
 */
#define BIT64(n) (UINT64_C(1) << (n))
#define BIT32(n) (UINT32_C(1) << (n))
#define GENMASK64(msb, lsb) \
	((~UINT64_C(0) >> (63 - (msb))) & (~UINT64_C(0) << (lsb)))
#define GENMASK32(msb, lsb) \
	((~UINT32_C(0) >> (31 - (msb))) & (~UINT32_C(0) << (lsb)))

static inline unsigned int bits_lowest_set(uint64_t mask)
{
	return (unsigned int)__builtin_ctzll(mask);
}

/* The highest set bit of mask, which must not be 0. */
static inline unsigned int bits_highest_set(uint64_t mask)
{
	return 63U - (unsigned int)__builtin_clzll(mask);
}

/* Value of the field selected by mask, shifted down to bit 0. */
static inline uint64_t field_get64(uint64_t mask, uint64_t reg)
{
	return (reg & mask) >> bits_lowest_set(mask);
}

/* val placed in the field selected by mask; excess bits are dropped. */
static inline uint64_t field_prep64(uint64_t mask, uint64_t val)
{
	return (val << bits_lowest_set(mask)) & mask;
}

/* reg with the field selected by mask replaced by val. */
static inline uint64_t field_set64(uint64_t mask, uint64_t reg, uint64_t val)
{
	return (reg & ~mask) | field_prep64(mask, val);
}

static inline uint32_t field_get32(uint32_t mask, uint32_t reg)
{
	return (reg & mask) >> bits_lowest_set(mask);
}

static inline uint32_t field_prep32(uint32_t mask, uint32_t val)
{
	return (val << bits_lowest_set(mask)) & mask;
}

static inline bool bits_is_aligned(uint64_t v, uint64_t align)
{
	return (v & (align - 1)) == 0;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
