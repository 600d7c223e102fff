#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/hypercall.h"

/*
 * The kernel around kernel/hypercall.c, for the host test and the fuzzer:
 * a guest whose regions are host buffers (an HPA is a host pointer), the
 * console as a text buffer, a clock that moves only when told.
 */
extern char fake_console[8192];
extern size_t fake_console_len;
extern uint64_t fake_now_ns;

/* Region i of g: len bytes at gpa, backed by a fresh zeroed buffer. */
void fake_region(struct guest *g, uint64_t gpa, uint64_t len);
void fake_free_regions(struct guest *g);
/* A hypercall with nr and two arguments; returns RAX. */
int64_t fake_hc(struct guest_run *r, uint64_t nr, uint64_t a0, uint64_t a1,
		enum hc_action *act);
