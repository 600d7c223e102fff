# Guest programs (guests/*.c): freestanding, linked at MOAT_LOAD_GPA with
# the runtime and the lib/ helpers, flattened and carried in the kernel
# image by guests/programs.asm.
GUEST_PROGRAMS := spin poke edu-dma rogue
GUEST_RT := guests/rt.c lib/format.c lib/string.c lib/errno.c
GUEST_CFLAGS := -std=c11 -O2 -g -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -mno-red-zone -mgeneral-regs-only -mcmodel=small \
	-fno-builtin -fno-tree-loop-distribute-patterns -fno-asynchronous-unwind-tables \
	-Wall -Wextra -Werror -Wno-unused-parameter -I. -MMD -MP

KERNEL_ASM += guests/programs.asm

$(B)/guests/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  GUESTCC $<"
	$(Q)gcc $(GUEST_CFLAGS) -c $< -o $@

$(B)/guests/%.elf: $(B)/guests/guests/%.o $(GUEST_RT:%.c=$(B)/guests/%.o) guests/guest.ld
	@echo "  GUESTLD $@"
	$(Q)ld -static -nostdlib -z noexecstack --no-warn-rwx-segments -T guests/guest.ld \
		$(filter %.o,$^) -o $@

$(B)/guests/%.bin: $(B)/guests/%.elf
	$(Q)objcopy -O binary $< $@

$(B)/efi/guests/programs.o: $(GUEST_PROGRAMS:%=$(B)/guests/%.bin)
.PRECIOUS: $(B)/guests/%.o $(B)/guests/guests/%.o $(B)/guests/%.elf
