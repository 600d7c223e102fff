#include "arch/x86_64/vcpu.h"

#include "drivers/hw.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/string.h"

#include "arch/x86_64/cpu.h"

/*
 * A guest's address space: 4-level tables of its own (SDM vol. 3, 4.5) in
 * which its memory and BARs are user pages at their GPAs, anywhere in the
 * lower half, and the kernel window (arch.h: the entry stubs, IDT, GDT,
 * TSS and guest frame) is mapped supervisor-only in the upper half, PML4
 * entry 511, where no GPA reaches.  Nothing else of the kernel is there,
 * not even the rest of its image: a GPA may lie where the image does.
 * Every table entry above a leaf allows user access; the leaf decides
 * (4.6.1).  No page is global, so loading CR3 flushes the TLB: an unmap is
 * in force at the next entry.
 */
#define PTE_P	 BIT64(0)
#define PTE_RW	 BIT64(1)
#define PTE_US	 BIT64(2)
#define PTE_PWT	 BIT64(3)
#define PTE_PCD	 BIT64(4)
#define PTE_PS	 BIT64(7)
#define PTE_ADDR GENMASK64(51, 12)

#define SZ_4K UINT64_C(0x1000)
#define SZ_2M UINT64_C(0x200000)

/* RFLAGS a guest may hold: the arithmetic flags; IF is always on. */
#define RFLAGS_USER                                                         \
	(BIT64(0) | BIT64(2) | BIT64(4) | BIT64(6) | BIT64(7) | BIT64(10) | \
	 BIT64(11))
#define RFLAGS_FIXED (BIT64(1) | BIT64(9))

/* From user.asm: the frame, in the window, read here at its image address. */
extern struct vcpu_regs arch_user_frame;

void irq_handler(uint64_t vector);

static unsigned int pt_index(uint64_t va, unsigned int level)
{
	return (unsigned int)(va >> (12 + 9 * (level - 1))) & 511;
}

static uint64_t *table_page(struct vcpu *v)
{
	uint64_t pa;

	if (v->table_count == VCPU_TABLES_MAX) {
		return NULL;
	}
	pa = hw_page_alloc();
	if (!pa) {
		return NULL;
	}
	memset(hw_phys_to_virt(pa), 0, SZ_4K);
	v->tables[v->table_count++] = pa;
	return hw_phys_to_virt(pa);
}

/* The table under entry, created if absent; NULL for a leaf or no memory. */
static uint64_t *next_table(struct vcpu *v, uint64_t *entry)
{
	uint64_t *t;

	if (*entry & PTE_P) {
		return (*entry & PTE_PS) ? NULL
					 : hw_phys_to_virt(*entry & PTE_ADDR);
	}
	t = table_page(v);
	if (t) {
		*entry = hw_virt_to_phys(t) | PTE_P | PTE_RW | PTE_US;
	}
	return t;
}

/* The entry for va at level (2: 2 MiB, 1: 4 KiB), tables made on the way. */
static uint64_t *walk(struct vcpu *v, uint64_t va, unsigned int level, int *err)
{
	uint64_t *t = hw_phys_to_virt(v->pml4);
	unsigned int l;

	for (l = 4; l > level; l--) {
		uint64_t *e = &t[pt_index(va, l)];

		if ((*e & PTE_P) && (*e & PTE_PS)) {
			*err = -EEXIST;
			return NULL;
		}
		t = next_table(v, e);
		if (!t) {
			*err = -ENOSPC;
			return NULL;
		}
	}
	return &t[pt_index(va, level)];
}

static int map_range(struct vcpu *v, uint64_t va, uint64_t pa, uint64_t len,
		     uint64_t flags)
{
	uint64_t off = 0, *e, size;
	int err = 0;

	while (off < len) {
		size = bits_is_aligned(va + off, SZ_2M) &&
				       bits_is_aligned(pa + off, SZ_2M) &&
				       len - off >= SZ_2M
			       ? SZ_2M
			       : SZ_4K;
		e = walk(v, va + off, size == SZ_2M ? 2 : 1, &err);
		if (!e) {
			return err;
		}
		if (*e & PTE_P) {
			return -EEXIST;
		}
		*e = (pa + off) | flags | (size == SZ_2M ? PTE_PS : 0);
		off += size;
	}
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	unsigned int i;

	for (i = 0; i < v->table_count; i++) {
		hw_page_free(v->tables[i]);
	}
	v->table_count = 0;
	v->pml4 = 0;
}

int vcpu_create(struct vcpu *v)
{
	struct arch_kwin_range win[ARCH_KWIN_RANGES];
	unsigned int i;
	int ret;

	v->table_count = 0;
	if (!table_page(v)) {
		return -ENOMEM;
	}
	v->pml4 = v->tables[0];
	arch_kwin_ranges(win);
	for (i = 0; i < ARCH_KWIN_RANGES; i++) {
		ret = map_range(v, win[i].va, win[i].pa, win[i].len,
				PTE_P | (win[i].writable ? PTE_RW : 0));
		if (ret) {
			vcpu_destroy(v);
			return ret;
		}
	}
	/* The x87 and SSE state of a fresh CPU (SDM vol. 1, 10.5.1). */
	memset(v->fx, 0, sizeof(v->fx));
	v->fx[0] = 0x7f; /* FCW 0x037f */
	v->fx[1] = 0x03;
	v->fx[24] = 0x80; /* MXCSR 0x1f80 */
	v->fx[25] = 0x1f;
	return 0;
}

int vcpu_map(struct vcpu *v, iova_t gpa, hpa_t hpa, uint64_t len,
	     enum arch_cache cache)
{
	uint64_t flags = PTE_P | PTE_RW | PTE_US;
	uint64_t g = iova_val(gpa);

	if (!bits_is_aligned(g | hpa_val(hpa) | len, SZ_4K) || len == 0 ||
	    g + len < g || g + len > VCPU_GPA_END) {
		return -EINVAL;
	}
	if (cache == ARCH_CACHE_UC) {
		flags |= PTE_PCD | PTE_PWT;
	}
	return map_range(v, g, hpa_val(hpa), len, flags);
}

void vcpu_unmap(struct vcpu *v, iova_t gpa, uint64_t len)
{
	uint64_t off = 0;

	while (off < len) {
		uint64_t *t = hw_phys_to_virt(v->pml4), *e = NULL;
		uint64_t size = SZ_4K;
		unsigned int l;

		for (l = 4; l >= 1; l--) {
			e = &t[pt_index(iova_val(gpa) + off, l)];
			if (!(*e & PTE_P)) {
				e = NULL;
				break;
			}
			if (l == 1 || (l == 2 && (*e & PTE_PS))) {
				size = l == 2 ? SZ_2M : SZ_4K;
				break;
			}
			t = hw_phys_to_virt(*e & PTE_ADDR);
		}
		if (e) {
			*e = 0;
		}
		off += size;
	}
}

void vcpu_reset(struct vcpu *v, uint64_t rip, uint64_t rsp, uint64_t arg0,
		uint64_t arg1)
{
	memset(&v->regs, 0, sizeof(v->regs));
	v->regs.rip = rip;
	v->regs.rsp = rsp;
	v->regs.rdi = arg0;
	v->regs.rsi = arg1;
}

void vcpu_run(struct vcpu *v, struct vcpu_exit *exit)
{
	struct vcpu_regs *f = &arch_user_frame;

	*f = v->regs;
	f->cs = GDT_USER_CS;
	f->ss = GDT_USER_DS;
	f->rflags = (f->rflags & RFLAGS_USER) | RFLAGS_FIXED;
	__asm__ volatile("fxrstor64 %0" : : "m"(v->fx));
	cpu_user_enter(v->pml4);
	__asm__ volatile("fxsave64 %0" : "=m"(v->fx));
	v->regs = *f;
	exit->vector = (unsigned int)f->vector;
	exit->error = f->error;
	exit->cr2 = f->vector == 14 ? read_cr2() : 0;
	if (f->vector >= 32 && f->vector < 256) {
		irq_handler(f->vector);
	}
}
