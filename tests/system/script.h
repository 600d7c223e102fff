#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Operations of the whole-system test and scripts of them.  An operation
 * is a kind and two raw arguments; the world interprets the arguments
 * modulo what exists when the step runs (which device, which guest), so
 * any subsequence of a script is still a script: that is what lets the
 * shrinker cut a failing run down to a few steps.
 *
 * A script's text form is "name a b;name a b;...", e.g.
 *	guest_new 0 0;assign 3 0;dma 3 7;unassign 3 0;assign 3 1
 */
enum sys_op_kind {
	SYS_GUEST_NEW,	/* a: guest slot */
	SYS_GUEST_DEL,	/* a: guest slot */
	SYS_ASSIGN,	/* a: device, b: guest slot (b & 8: force) */
	SYS_UNASSIGN,	/* a: device */
	SYS_CLAIM,	/* a: device: the kernel claims its group */
	SYS_RELEASE,	/* a: device */
	SYS_RESET,	/* a: device: reset it through its owner */
	SYS_DMA,	/* a: device, b: where: start a DMA, left in flight */
	SYS_REMOVE,	/* a: slot: orderly removal (attention button) */
	SYS_SURPRISE,	/* a: slot: card pulled */
	SYS_LINK_DOWN,	/* a: slot: link drops, no event */
	SYS_PLUG,	/* a: slot: the card (back) in, link up */
	SYS_HOLD,	/* a: device: keep a reference to its object now */
	SYS_STALE,	/* a: held reference, b: what: act on it */
	SYS_ATS_DEAD,	/* a: ATS endpoint stops answering */
	SYS_INJECT,	/* a: IQE, ITE or ICE, b: after how many */
	SYS_KEXEC,	/* restart with the IOMMU on, tables inherited */
	SYS_DOM_NEW,	/* console domain */
	SYS_DOM_DEL,	/* a: console domain (or a guest's: refused) */
	SYS_DOM_MAP,	/* a: console domain, b: buffer */
	SYS_DOM_UNMAP,	/* a: console domain, b: buffer */
	SYS_DOM_ATTACH, /* a: device, b: console domain */
	SYS_DOM_DETACH, /* a: device */
	SYS_TIME,	/* a: how long: time passes, polls run */
	SYS_OP_COUNT,
};

struct sys_op {
	uint8_t kind;
	uint32_t a;
	uint32_t b;
};

const char *sys_op_name(unsigned int kind);

/* splitmix64: small, seedable, and the same on every host. */
struct sys_rng {
	uint64_t s;
};

void sys_rng_seed(struct sys_rng *r, uint64_t seed);
uint64_t sys_rng_next(struct sys_rng *r);
uint32_t sys_rng_below(struct sys_rng *r, uint32_t n);

/* One random operation, weighted so that every kind appears often. */
struct sys_op sys_op_random(struct sys_rng *r);

/*
 * "name a b;..." into ops (at most max); the count, or -1 with a message
 * on stderr for an unknown name or a malformed operation.
 */
int sys_script_parse(const char *text, struct sys_op *ops, size_t max);

/* ops[i] for each keep[i] (keep NULL: all), as "name a b;..." on f. */
void sys_script_print(void *f, const struct sys_op *ops, size_t n,
		      const bool *keep);
