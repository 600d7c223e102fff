#pragma once

#include "kernel/sched.h"

#include "arch/x86_64/vcpu.h"

/* What the scheduler does after a hypercall. */
enum hc_action {
	HC_RESUME, /* the result is in RAX; the guest goes on */
	HC_YIELD,  /* likewise, but its time slice ends */
	HC_WAIT,   /* blocked until an interrupt or r->wait_deadline_ns */
	HC_EXIT,   /* ended with r->exit_code */
};

/*
 * One hypercall of r's guest, its number and arguments in regs (the
 * guest ABI, kernel/guest_abi.h).  Every argument is untrusted: a bad
 * number, pointer or length is an error in RAX, never a kernel fault.
 */
enum hc_action hypercall(struct guest_run *r, struct vcpu_regs *regs);
