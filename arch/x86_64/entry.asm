; Exception entry stubs and the few things C cannot do.  Each stub makes the
; stack look the same (vector, error code, then the general registers) and
; calls exception_handler(struct exception_frame *), which never returns.
; From ring 3 (a guest), exceptions and interrupts go to arch_user_trap
; (user.asm) instead, which returns to the kernel's vcpu_run().
;
; The stubs are in the kernel window (.text.kwin; linker.ld, user.asm): the
; IDT points at their window addresses once paging is up (cpu.c), so they
; run under a guest's page tables too.  Whatever they call outside the
; window is reached through an absolute address kept in the window
; (handlers, below), since a RIP-relative call from the window lands in
; the window.

bits 64
default rel
section .text.kwin progbits alloc exec nowrite align=16

extern exception_handler
extern irq_handler
extern arch_user_trap
extern arch_kernel_cr3

%macro ISR_NOERR 1
isr_%1:
	push 0
	push %1
	jmp isr_common
%endmacro

; The CPU pushes an error code for these vectors (SDM vol. 3, 6.13).
%macro ISR_ERR 1
isr_%1:
	push %1
	jmp isr_common
%endmacro

%assign v 0
%rep 32
%if v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30
	ISR_ERR v
%else
	ISR_NOERR v
%endif
%assign v v + 1
%endrep

isr_common:
	test byte [rsp + 24], 3	; the CS the CPU pushed: from ring 3?
	jnz arch_user_trap
	push rax
	push rbx
	push rcx
	push rdx
	push rsi
	push rdi
	push rbp
	push r8
	push r9
	push r10
	push r11
	push r12
	push r13
	push r14
	push r15
	; Taken in the window under a guest's CR3 (a bug, or an NMI on the
	; way in), the handler is not mapped: load the kernel's tables.  The
	; report never returns, so the CR3 it interrupted need not be kept.
	mov rax, [arch_kernel_cr3]
	mov cr3, rax
	mov rdi, rsp
	and rsp, -16
	call [exception_handler_abs]
	cli
.stop:
	hlt
	jmp .stop

; External interrupts, vectors 32-255: irq_handler(vector) counts and
; acknowledges them; the interrupted code continues.
%assign v 32
%rep 224
irq_ %+ v:
	push v
	jmp irq_common
%assign v v + 1
%endrep

irq_common:
	test byte [rsp + 16], 3
	jnz .user
	push rax
	push rcx
	push rdx
	push rsi
	push rdi
	push r8
	push r9
	push r10
	push r11
	mov rdi, [rsp + 72]
	mov rsi, rsp
	and rsp, -16
	push rsi
	push rsi
	call [irq_handler_abs]	; only ever under the kernel's CR3
	pop rsi
	mov rsp, rsi
	pop r11
	pop r10
	pop r9
	pop r8
	pop rdi
	pop rsi
	pop rdx
	pop rcx
	pop rax
	add rsp, 8
	iretq
.user:
	; An error code of 0 under the vector, as exceptions have.
	push qword [rsp]
	mov qword [rsp + 8], 0
	jmp arch_user_trap

section .data.kwin progbits alloc noexec write align=8
exception_handler_abs:
	dq exception_handler
irq_handler_abs:
	dq irq_handler

section .text

; void arch_load_segments(uint16_t cs, uint16_t ds): reload every segment
; register after lgdt; CS only changes through a far return.
global arch_load_segments
arch_load_segments:
	mov ds, si
	mov es, si
	mov ss, si
	mov fs, si
	mov gs, si
	pop rax
	push rdi
	push rax
	retfq

; void arch_switch_stack(void (*fn)(void *), void *arg, void *stack_top):
; continue in fn(arg) on a new stack; fn must not return.
global arch_switch_stack
arch_switch_stack:
	mov rsp, rdx
	xor ebp, ebp
	mov rax, rdi
	mov rdi, rsi
	push 0
	jmp rax

section .data
global isr_stub_table
align 8
isr_stub_table:
%assign v 0
%rep 32
	dq isr_ %+ v
%assign v v + 1
%endrep
%rep 224
	dq irq_ %+ v
%assign v v + 1
%endrep
