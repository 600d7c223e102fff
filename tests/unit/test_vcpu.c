/*
 * Host tests of a guest's page tables (arch/x86_64/vcpu.c): what the CPU
 * would find walking them (SDM vol. 3, 4.5 and 4.6), with table pages
 * from the C library at their own addresses.  The kernel image and its
 * window are made-up physical ranges that are never dereferenced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/hw.h"
#include "lib/errno.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/vcpu.h"

#include "tests/deadline.h"

#define KB UINT64_C(0x400)
#define MB UINT64_C(0x100000)

#define PTE_P	 0x1U
#define PTE_RW	 0x2U
#define PTE_US	 0x4U
#define PTE_PS	 0x80U
#define PTE_ADDR UINT64_C(0x000ffffffffff000)

/* A made-up image, 2 MiB-aligned like a real one may be; its window. */
#define IMAGE	  UINT64_C(0x3e000000)
#define IMAGE_LEN (256 * KB)
#define WIN_TEXT  (IMAGE + 0x2000)
#define WIN_DATA  (IMAGE + 0x2b000)
#define WIN_PAGES 4U

/* The seams vcpu.c uses: pages at their own address, the window, entry. */
static unsigned int pages_live;

uint64_t hw_page_alloc(void)
{
	void *p = aligned_alloc(4096, 4096);

	pages_live++;
	return (uint64_t)(uintptr_t)p;
}

void hw_page_free(uint64_t pa)
{
	pages_live--;
	free((void *)(uintptr_t)pa);
}

void *hw_phys_to_virt(uint64_t pa)
{
	return (void *)(uintptr_t)pa;
}

uint64_t hw_virt_to_phys(const void *va)
{
	return (uint64_t)(uintptr_t)va;
}

void arch_kwin_ranges(struct arch_kwin_range r[ARCH_KWIN_RANGES])
{
	r[0] = (struct arch_kwin_range){ARCH_KWIN_BASE, WIN_TEXT, 0x1000,
					false};
	r[1] = (struct arch_kwin_range){ARCH_KWIN_BASE + (WIN_DATA - WIN_TEXT),
					WIN_DATA, 0x3000, true};
}

struct vcpu_regs arch_user_frame;

void cpu_user_enter(uint64_t cr3)
{
	fail_msg("no guest runs on the host");
}

void irq_handler(uint64_t vector)
{
}

/* One leaf as the CPU sees it: the U/S and R/W of every level ANDed. */
struct leaf {
	uint64_t va, pa, size;
	bool user, writable;
};

#define LEAVES_MAX 4096
static struct leaf leaves[LEAVES_MAX];
static unsigned int leaf_count;

static uint64_t canonical(uint64_t va)
{
	return (va & (UINT64_C(1) << 47)) ? va | UINT64_C(0xffff000000000000)
					  : va;
}

static void collect(uint64_t table, unsigned int level, uint64_t va, bool user,
		    bool writable)
{
	const uint64_t *t = hw_phys_to_virt(table);
	unsigned int i;

	for (i = 0; i < 512; i++) {
		uint64_t e = t[i];
		uint64_t at = va | (uint64_t)i << (12 + 9 * (level - 1));
		bool u = user && (e & PTE_US), w = writable && (e & PTE_RW);

		if (!(e & PTE_P)) {
			continue;
		}
		if (level == 1 || (level <= 3 && (e & PTE_PS))) {
			assert_true(leaf_count < LEAVES_MAX);
			leaves[leaf_count++] = (struct leaf){
				canonical(at), e & PTE_ADDR,
				UINT64_C(1) << (12 + 9 * (level - 1)), u, w};
			continue;
		}
		collect(e & PTE_ADDR, level - 1, at, u, w);
	}
}

static void walk_all(const struct vcpu *v)
{
	leaf_count = 0;
	collect(v->pml4, 4, 0, true, true);
}

/* The leaf mapping va, or NULL. */
static const struct leaf *lookup(uint64_t va)
{
	unsigned int i;

	for (i = 0; i < leaf_count; i++) {
		if (va >= leaves[i].va && va - leaves[i].va < leaves[i].size) {
			return &leaves[i];
		}
	}
	return NULL;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static struct vcpu v;
static uint64_t guest_mem; /* made-up host memory of the guest */

static int setup(void **state)
{
	memset(&v, 0, sizeof(v));
	guest_mem = UINT64_C(0x80000000);
	assert_int_equal(vcpu_create(&v), 0);
	assert_int_equal(vcpu_map(&v, iova_make(0), hpa_make(guest_mem),
				  16 * MB, ARCH_CACHE_WB),
			 0);
	assert_int_equal(vcpu_map(&v, iova_make(UINT64_C(0x8000000000)),
				  hpa_make(UINT64_C(0xfe000000)), 16 * KB,
				  ARCH_CACHE_UC),
			 0);
	return 0;
}

static int teardown(void **state)
{
	vcpu_destroy(&v);
	assert_int_equal(pages_live, 0);
	return 0;
}

/* Of the image, only the window's pages are mapped, and only there. */
static void test_image_mapped_only_as_the_window(void **state)
{
	uint64_t image_pages = 0;
	unsigned int i;

	walk_all(&v);
	for (i = 0; i < leaf_count; i++) {
		const struct leaf *l = &leaves[i];

		if (!overlaps(l->pa, l->size, IMAGE, IMAGE_LEN)) {
			continue;
		}
		assert_true(l->va >= ARCH_KWIN_BASE);
		assert_int_equal(l->size, 4 * KB);
		assert_true(overlaps(l->pa, l->size, WIN_TEXT, 0x1000) ||
			    overlaps(l->pa, l->size, WIN_DATA, 0x3000));
		image_pages++;
	}
	assert_int_equal(image_pages, WIN_PAGES);
}

/*
 * The window sits at PML4 entry 511 at the distance the ranges give,
 * supervisor-only, its code read-only; nothing in the upper half is a
 * user page.
 */
static void test_window_supervisor_only(void **state)
{
	const struct leaf *l;
	uint64_t off;
	unsigned int i;

	walk_all(&v);
	for (off = 0; off < 0x1000; off += 0x1000) {
		l = lookup(ARCH_KWIN_BASE + off);
		assert_non_null(l);
		assert_int_equal(l->pa, WIN_TEXT + off);
		assert_false(l->user);
		assert_false(l->writable);
	}
	for (off = 0; off < 0x3000; off += 0x1000) {
		l = lookup(ARCH_KWIN_BASE + (WIN_DATA - WIN_TEXT) + off);
		assert_non_null(l);
		assert_int_equal(l->pa, WIN_DATA + off);
		assert_false(l->user);
		assert_true(l->writable);
	}
	for (i = 0; i < leaf_count; i++) {
		assert_true(leaves[i].user == (leaves[i].va < VCPU_GPA_END));
	}
	assert_int_equal((ARCH_KWIN_BASE >> 39) & 511, 511);
}

/* A GPA where the image is maps the guest's own memory, user, writable. */
static void test_gpa_at_the_image_maps(void **state)
{
	const struct leaf *l;

	assert_int_equal(vcpu_map(&v, iova_make(IMAGE),
				  hpa_make(guest_mem + 16 * MB), 4 * MB,
				  ARCH_CACHE_WB),
			 0);
	walk_all(&v);
	l = lookup(IMAGE + 0x2000);
	assert_non_null(l);
	assert_int_equal(l->pa + (IMAGE + 0x2000 - l->va),
			 guest_mem + 16 * MB + 0x2000);
	assert_true(l->user);
	assert_true(l->writable);
	/* The window is still there, and still the kernel's. */
	l = lookup(ARCH_KWIN_BASE);
	assert_non_null(l);
	assert_false(l->user);
	vcpu_unmap(&v, iova_make(IMAGE), 4 * MB);
	walk_all(&v);
	assert_null(lookup(IMAGE + 0x2000));
}

/* GPAs end at 2^47: nothing of the upper half, where the window is. */
static void test_gpas_end_at_the_lower_half(void **state)
{
	assert_int_equal(vcpu_map(&v, iova_make(VCPU_GPA_END - 2 * MB),
				  hpa_make(guest_mem), 2 * MB, ARCH_CACHE_WB),
			 0);
	assert_int_equal(vcpu_map(&v, iova_make(VCPU_GPA_END - 2 * MB),
				  hpa_make(guest_mem), 4 * MB, ARCH_CACHE_WB),
			 -EINVAL);
	assert_int_equal(vcpu_map(&v, iova_make(VCPU_GPA_END),
				  hpa_make(guest_mem), 2 * MB, ARCH_CACHE_WB),
			 -EINVAL);
	assert_int_equal(vcpu_map(&v, iova_make(ARCH_KWIN_BASE),
				  hpa_make(guest_mem), 4 * KB, ARCH_CACHE_WB),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_image_mapped_only_as_the_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_supervisor_only,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_gpa_at_the_image_maps,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_gpas_end_at_the_lower_half,
						setup, teardown),
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
