; Ring 3: entering a guest and every way back out (arch/x86_64/vcpu.h).
;
; The kernel enters a guest with arch_user_enter(cr3) from vcpu_run(), which
; saves the kernel's callee-saved registers and stack, loads the guest's
; page tables and irets to the registers in arch_user_frame.  Interrupts and
; exceptions from ring 3 arrive on the TSS stack, which ends at the top of
; arch_user_frame, so the CPU and the stubs of entry.asm fill the frame in
; place; syscall builds the same frame by hand.  arch_user_trap then loads
; the kernel's page tables and returns from arch_user_enter.
;
; Everything here is in the kernel window (.text.kwin, .bss.kwin; linker.ld,
; docs/design.md "Address spaces"): the only part of the kernel that the
; guest's page tables map, supervisor-only, in the upper half (vcpu.c).  The
; kernel reaches it at its window address too (cpu_user_enter() calls
; arch_user_enter there; the TSS, IDT and LSTAR point there), so every
; RIP-relative reference below lands in the window under either CR3.
; Nothing outside the window is touched before CR3 holds the kernel's
; tables again.

bits 64
default rel

%define KERNEL_DS 0x10
%define USER_DS (0x18 | 3)
%define USER_CS (0x20 | 3)
%define VCPU_EXIT_SYSCALL 256
%define FRAME_SIZE (22 * 8)

section .text.kwin progbits alloc exec nowrite align=16

; void arch_user_enter(uint64_t cr3), called at its window address with the
; kernel's page tables loaded and interrupts off.
global arch_user_enter:function hidden
arch_user_enter:
	push rbx
	push rbp
	push r12
	push r13
	push r14
	push r15
	mov [kernel_rsp], rsp
	mov cr3, rdi
	lea rsp, [arch_user_frame]
	pop r15
	pop r14
	pop r13
	pop r12
	pop r11
	pop r10
	pop r9
	pop r8
	pop rbp
	pop rdi
	pop rsi
	pop rdx
	pop rcx
	pop rbx
	pop rax
	add rsp, 16		; vector, error
	iretq

; syscall (SDM vol. 2B, SYSCALL; vol. 3A, 5.8.8): RCX holds the guest's
; RIP, R11 its RFLAGS; interrupts are off (FMASK) and RSP is still the
; guest's, since syscall loads no stack.  No swapgs: nothing here or in the
; kernel uses the GS base, and the guest's RSP is first stored RIP-relative
; into the window.  An NMI, #DF or #MC before RSP is switched is taken on
; IST1 (cpu.c), never on the guest's stack.
global arch_user_syscall:function hidden
arch_user_syscall:
	mov [user_rsp], rsp
	lea rsp, [arch_user_frame + FRAME_SIZE]
	push USER_DS
	push qword [user_rsp]
	push r11
	push USER_CS
	push rcx
	push 0
	push VCPU_EXIT_SYSCALL
	jmp arch_user_trap

; From ring 3, with the frame filled down to the vector: save the general
; registers into it and return to the kernel.
global arch_user_trap:function hidden
arch_user_trap:
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
	cld			; the guest may have set DF; C expects it clear
	mov rax, [arch_kernel_cr3]
	mov cr3, rax		; the first thing: the rest of the kernel is there
	mov ax, KERNEL_DS
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov rsp, [kernel_rsp]
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	ret

section .bss.kwin nobits alloc noexec write align=16
alignb 16
; Room below the frame, so that a fault of the entry code itself, taken
; on this stack, lands here and not in other data.  The frame's top is the
; ring-0 stack of the TSS (RSP0) and IST1 (cpu.c): the kernel stack of every
; entry from ring 3.
	resb 4096
global arch_user_frame:data hidden
arch_user_frame:
	resb FRAME_SIZE
; The kernel's CR3 (cpu.c sets it, before paging and after), for every
; way in from a guest and for exceptions taken in the window.
global arch_kernel_cr3:data hidden
arch_kernel_cr3:
	resq 1
kernel_rsp:
	resq 1
user_rsp:
	resq 1
