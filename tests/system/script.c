#include "tests/system/script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	unsigned int weight;
} kinds[SYS_OP_COUNT] = {
	[SYS_GUEST_NEW] = {"guest_new", 5},
	[SYS_GUEST_DEL] = {"guest_del", 2},
	[SYS_ASSIGN] = {"assign", 16},
	[SYS_UNASSIGN] = {"unassign", 8},
	[SYS_CLAIM] = {"claim", 3},
	[SYS_RELEASE] = {"release", 3},
	[SYS_RESET] = {"reset", 4},
	[SYS_DMA] = {"dma", 24},
	[SYS_REMOVE] = {"remove", 2},
	[SYS_SURPRISE] = {"surprise", 2},
	[SYS_LINK_DOWN] = {"link_down", 2},
	[SYS_PLUG] = {"plug", 5},
	[SYS_HOLD] = {"hold", 2},
	[SYS_STALE] = {"stale", 2},
	[SYS_ATS_DEAD] = {"ats_dead", 1},
	[SYS_INJECT] = {"inject", 2},
	[SYS_KEXEC] = {"kexec", 1},
	[SYS_DOM_NEW] = {"dom_new", 2},
	[SYS_DOM_DEL] = {"dom_del", 2},
	[SYS_DOM_MAP] = {"dom_map", 4},
	[SYS_DOM_UNMAP] = {"dom_unmap", 2},
	[SYS_DOM_ATTACH] = {"dom_attach", 4},
	[SYS_DOM_DETACH] = {"dom_detach", 2},
	[SYS_TIME] = {"time", 8},
};

const char *sys_op_name(unsigned int kind)
{
	return kind < SYS_OP_COUNT ? kinds[kind].name : "?";
}

void sys_rng_seed(struct sys_rng *r, uint64_t seed)
{
	r->s = seed;
}

uint64_t sys_rng_next(struct sys_rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

uint32_t sys_rng_below(struct sys_rng *r, uint32_t n)
{
	return n ? (uint32_t)(sys_rng_next(r) % n) : 0;
}

struct sys_op sys_op_random(struct sys_rng *r)
{
	unsigned int total = 0, i, pick;
	struct sys_op op;

	for (i = 0; i < SYS_OP_COUNT; i++) {
		total += kinds[i].weight;
	}
	pick = sys_rng_below(r, total);
	for (i = 0; pick >= kinds[i].weight; i++) {
		pick -= kinds[i].weight;
	}
	op.kind = (uint8_t)i;
	op.a = sys_rng_below(r, 64);
	op.b = sys_rng_below(r, 64);
	return op;
}

int sys_script_parse(const char *text, struct sys_op *ops, size_t max)
{
	const char *p = text;
	size_t n = 0;

	while (*p) {
		char name[32];
		unsigned int a = 0, b = 0, k;
		int used = 0;

		while (*p == ' ' || *p == ';' || *p == '\n') {
			p++;
		}
		if (!*p) {
			break;
		}
		if (sscanf(p, "%31[a-z_] %u %u%n", name, &a, &b, &used) != 3) {
			fprintf(stderr,
				"replay: malformed operation at \"%.20s\" (name a b)\n",
				p);
			return -1;
		}
		for (k = 0; k < SYS_OP_COUNT && strcmp(name, kinds[k].name);
		     k++) {
		}
		if (k == SYS_OP_COUNT) {
			fprintf(stderr, "replay: unknown operation \"%s\"\n",
				name);
			return -1;
		}
		if (n == max) {
			fprintf(stderr, "replay: more than %zu operations\n",
				max);
			return -1;
		}
		ops[n].kind = (uint8_t)k;
		ops[n].a = a;
		ops[n].b = b;
		n++;
		p += used;
	}
	return (int)n;
}

void sys_script_print(void *f, const struct sys_op *ops, size_t n,
		      const bool *keep)
{
	const char *sep = "";
	size_t i;

	for (i = 0; i < n; i++) {
		if (keep && !keep[i]) {
			continue;
		}
		fprintf(f, "%s%s %u %u", sep, kinds[ops[i].kind].name, ops[i].a,
			ops[i].b);
		sep = ";";
	}
}
