#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Two address spaces that must never be confused, as distinct types so
 * that passing one where the other is expected does not compile
 * (tests/unit/addr_swap.c and tests/unit/types.mk prove it):
 *
 *  - iova_t: an I/O virtual address, what a device puts on the bus and an
 *    IOMMU domain translates.  A guest's physical address space is its
 *    domain's IOVA space (its memory is mapped at the same addresses for
 *    its CPU and for its devices' DMA, docs/design.md), so guest-physical
 *    addresses are iova_t too, not a third type.
 *  - hpa_t: a host physical address, where memory really is.
 *
 * Raw uint64_t stays at the edges only: entry and register encoding,
 * console parsing, guest registers, printing (IOVA_ARG, HPA_ARG), and the
 * hw seam's table pages (drivers/hw.h).
 */
typedef struct {
	uint64_t v;
} iova_t;

typedef struct {
	uint64_t v;
} hpa_t;

static inline iova_t iova_make(uint64_t v)
{
	return (iova_t){v};
}

static inline hpa_t hpa_make(uint64_t v)
{
	return (hpa_t){v};
}

static inline uint64_t iova_val(iova_t a)
{
	return a.v;
}

static inline uint64_t hpa_val(hpa_t a)
{
	return a.v;
}

static inline iova_t iova_add(iova_t a, uint64_t n)
{
	return (iova_t){a.v + n};
}

static inline hpa_t hpa_add(hpa_t a, uint64_t n)
{
	return (hpa_t){a.v + n};
}

/* Bytes from b up to a (a >= b). */
static inline uint64_t iova_diff(iova_t a, iova_t b)
{
	return a.v - b.v;
}

static inline uint64_t hpa_diff(hpa_t a, hpa_t b)
{
	return a.v - b.v;
}

static inline bool iova_eq(iova_t a, iova_t b)
{
	return a.v == b.v;
}

static inline bool hpa_eq(hpa_t a, hpa_t b)
{
	return a.v == b.v;
}

static inline bool iova_lt(iova_t a, iova_t b)
{
	return a.v < b.v;
}

/* align is a power of two. */
static inline bool iova_aligned(iova_t a, uint64_t align)
{
	return (a.v & (align - 1)) == 0;
}

static inline bool hpa_aligned(hpa_t a, uint64_t align)
{
	return (a.v & (align - 1)) == 0;
}

static inline iova_t iova_align_down(iova_t a, uint64_t align)
{
	return (iova_t){a.v & ~(align - 1)};
}

/* For "0x%llx" in log and console lines. */
#define IOVA_ARG(a) ((unsigned long long)iova_val(a))
#define HPA_ARG(a)  ((unsigned long long)hpa_val(a))
