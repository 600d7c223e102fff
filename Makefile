# moat: one non-recursive Makefile.  Targets:
#   make          the EFI image under build/esp/EFI/BOOT/BOOTX64.EFI
#   make run      boot it in QEMU (TCG) with intel-iommu and edu devices
#   make debug    the same, waiting for gdb on :1234
#   make test     host unit tests, model tests, sampled mutations, fuzzing
#                 (bounded), QEMU tests
#   make mutate   every catalogued mutation (tests/mutate/), minutes
#   make bench    figures from the model
#   make bench-qemu  figures of running guests, measured in QEMU 7.2
#   make image    build/moat.img, a FAT disk image for a USB stick
#   make fuzz     the fuzzers, longer than in make test
#   make format   reformat every C file with .clang-format; check-format
#                 (part of make test) fails on any difference

.DEFAULT_GOAL := all
SHELL := /bin/bash
B := build
# V=1 shows the full commands.
Q := $(if $(V),,@)

# ---------------------------------------------------------------------------
# Debian packages this tree needs.  Installed when missing if we are root;
# otherwise the build stops with the command to run.
PKGS_BUILD := gcc binutils make nasm gnu-efi mtools dosfstools
PKGS_RUN := qemu-system-x86 ovmf
PKGS_TEST := python3-pytest libcmocka-dev clang libclang-rt-14-dev acpica-tools \
	clang-format valgrind
DEPS_STAMP := $(B)/.deps-$(shell echo $(PKGS_BUILD) $(PKGS_RUN) $(PKGS_TEST) | md5sum | cut -c1-8)

$(DEPS_STAMP):
	@mkdir -p $(B)
	@missing=$$(for p in $(PKGS_BUILD) $(PKGS_RUN) $(PKGS_TEST); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing: $$missing"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing </dev/null || exit 1; \
		else \
			echo "missing packages; run: sudo apt-get update && sudo apt-get install -y $$missing"; exit 1; \
		fi; \
	fi
	@touch $@

deps: $(DEPS_STAMP)
.PHONY: deps

# ---------------------------------------------------------------------------
# The kernel: a GNU-EFI application.  The EFI image is the kernel itself; it
# keeps running in place after ExitBootServices (docs/design.md, "boot").
KERNEL_SRCS := \
	boot/efi_main.c \
	arch/x86_64/cpu.c arch/x86_64/exceptions.c arch/x86_64/paging.c \
	arch/x86_64/tsc.c arch/x86_64/hw.c arch/x86_64/fw_cfg.c arch/x86_64/apic.c \
	lib/string.c lib/format.c lib/errno.c \
	kernel/main.c kernel/log.c kernel/panic.c kernel/page_alloc.c \
	kernel/heap.c kernel/console.c kernel/console_parse.c kernel/cmdline.c \
	kernel/cmd_basic.c kernel/cmd_mem.c kernel/console_uart.c kernel/cmd_iommu.c kernel/cmd_fault.c \
	kernel/guest.c kernel/cmd_guest.c \
	kernel/sched.c kernel/hypercall.c kernel/cmd_sched.c arch/x86_64/vcpu.c \
	drivers/serial/uart16550.c
KERNEL_ASM := arch/x86_64/entry.asm arch/x86_64/user.asm

# Sources added by each subsystem's fragment (KERNEL_SRCS += ...).
-include $(wildcard */*.mk drivers/*/*.mk drivers/iommu/*/*.mk)

KERNEL_OBJS := $(KERNEL_SRCS:%.c=$(B)/efi/%.o) $(KERNEL_ASM:%.asm=$(B)/efi/%.o)

EFI_INC := /usr/include/efi
EFI_LIB := /usr/lib
KERNEL_CFLAGS := -std=c11 -O2 -g -ffreestanding -fno-stack-protector \
	-fno-stack-check -fpic -fshort-wchar -mno-red-zone -mgeneral-regs-only \
	-fno-strict-aliasing -fno-common -fno-builtin -fno-omit-frame-pointer \
	-fno-tree-loop-distribute-patterns -DGNU_EFI_USE_MS_ABI \
	-Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
	-Wundef -Wno-unused-parameter -I. -isystem $(EFI_INC) -isystem $(EFI_INC)/x86_64 \
	-MMD -MP

$(B)/efi/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)gcc $(KERNEL_CFLAGS) -c $< -o $@

$(B)/efi/%.o: %.asm | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  AS      $<"
	$(Q)nasm -f elf64 -g -o $@ $<

$(B)/moat.so: $(KERNEL_OBJS) linker.ld
	@echo "  LD      $@"
	$(Q)ld -nostdlib -znocombreloc -z noexecstack -T linker.ld -shared -Bsymbolic \
		-L$(EFI_LIB) $(EFI_LIB)/crt0-efi-x86_64.o $(KERNEL_OBJS) \
		-lgnuefi -o $@
	@! nm -u $@ | grep . || (echo "undefined symbols in $@"; exit 1)

ESP_EFI := $(B)/esp/EFI/BOOT/BOOTX64.EFI
$(ESP_EFI): $(B)/moat.so
	@mkdir -p $(@D)
	@echo "  EFI     $@"
	$(Q)objcopy -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel \
		-j .rela -j .reloc --target=efi-app-x86_64 --subsystem=10 $< $@

all: $(ESP_EFI)
.PHONY: all

# A FAT image for a USB stick (and for QEMU tests: faster than vvfat).
$(B)/moat.img: $(ESP_EFI)
	@echo "  IMAGE   $@"
	$(Q)rm -f $@
	$(Q)mkfs.fat -C $@ 8192 >/dev/null
	$(Q)mmd -i $@ ::/EFI ::/EFI/BOOT
	$(Q)mcopy -i $@ $(ESP_EFI) ::/EFI/BOOT/BOOTX64.EFI
image: $(B)/moat.img
.PHONY: image

# ---------------------------------------------------------------------------
# QEMU 10.0 from bookworm-backports, unpacked into $(B)/qemu10 beside the
# system's QEMU 7.2 (never installed over it).  A private apt configuration
# (its own sources list, state and cache under $(B)/apt) downloads the
# packages; dpkg -x unpacks them; $(QEMU10) is a wrapper that points QEMU at
# its own modules and firmware data.  Its libraries are those of the
# system's QEMU, which PKGS_RUN installs.
QEMU10_SUITE := bookworm-backports
QEMU10_PKGS := qemu-system-x86 qemu-system-common qemu-system-data
QEMU10 := $(abspath $(B)/qemu10/qemu-system-x86_64)
APT_DIR := $(abspath $(B)/apt)
APT_OPTS := -o Dir::Etc::SourceList=$(APT_DIR)/sources.list \
	-o Dir::Etc::SourceParts=$(APT_DIR)/source-parts \
	-o Dir::Etc::PreferencesParts=$(APT_DIR)/preference-parts \
	-o Dir::State=$(APT_DIR)/state -o Dir::State::status=/var/lib/dpkg/status \
	-o Dir::Cache=$(APT_DIR)/cache -o Debug::NoLocking=1 \
	-o APT::Sandbox::User=root

$(QEMU10): | $(DEPS_STAMP)
	@echo "  QEMU10  $(B)/qemu10 (apt-get download from $(QEMU10_SUITE))"
	$(Q)rm -rf $(APT_DIR) $(B)/qemu10 $(B)/qemu10.tmp
	$(Q)mkdir -p $(APT_DIR)/source-parts $(APT_DIR)/preference-parts \
		$(APT_DIR)/state/lists/partial $(APT_DIR)/cache/archives/partial \
		$(APT_DIR)/debs $(B)/qemu10.tmp
	$(Q)for s in bookworm $(QEMU10_SUITE); do echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $$s main"; done > $(APT_DIR)/sources.list
	$(Q)apt-get $(APT_OPTS) -q update </dev/null >$(APT_DIR)/update.log 2>&1 || \
		{ cat $(APT_DIR)/update.log; exit 1; }
	$(Q)cd $(APT_DIR)/debs && apt-get $(APT_OPTS) -q download \
		$(QEMU10_PKGS:%=%/$(QEMU10_SUITE)) </dev/null
	$(Q)for d in $(APT_DIR)/debs/*.deb; do dpkg -x $$d $(B)/qemu10.tmp || exit 1; done
	$(Q)! ldd $(B)/qemu10.tmp/usr/bin/qemu-system-x86_64 | grep 'not found' || \
		{ echo "QEMU 10 needs the libraries above"; exit 1; }
	$(Q)mv $(B)/qemu10.tmp $(B)/qemu10
	$(Q)printf '%s\n' '#!/bin/sh' \
		'# QEMU 10 unpacked by make qemu10: its own modules and firmware data.' \
		'root=$$(dirname "$$(readlink -f "$$0")")' \
		'export QEMU_MODULE_DIR="$$root/usr/lib/x86_64-linux-gnu/qemu"' \
		'exec "$$root/usr/bin/qemu-system-x86_64" -L "$$root/usr/share/qemu" "$$@"' > $@.tmp
	$(Q)chmod +x $@.tmp && mv $@.tmp $@
	$(Q)$@ --version | head -n 1

qemu10: $(QEMU10)
.PHONY: qemu10

# ---------------------------------------------------------------------------
# Running under QEMU (TCG).  RUN_ARGS adds options, CMDLINE sets the kernel
# command line through fw_cfg, QEMU=10 runs QEMU 10 instead of the system's.
OVMF_CODE := /usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS := /usr/share/OVMF/OVMF_VARS_4M.fd
QEMU_BIN := $(if $(filter 10,$(QEMU)),$(QEMU10),qemu-system-x86_64)
QEMU_MACHINE := -machine q35,kernel-irqchip=split -accel tcg -cpu max -m 512M \
	-nodefaults -no-reboot \
	-drive if=pflash,format=raw,readonly=on,file=$(OVMF_CODE) \
	-drive if=pflash,format=raw,file=$(B)/vars.fd \
	-device intel-iommu,intremap=on \
	-device edu,id=edu0,dma_mask=0xffffffffffffffff \
	-device pcie-root-port,id=rp1,slot=1,chassis=1 \
	-device edu,bus=rp1,id=edu1,dma_mask=0xffffffffffffffff \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-drive format=raw,file=fat:rw:$(B)/esp
, := ,
QEMU_CMDLINE := $(if $(CMDLINE),-fw_cfg name=opt/moat/cmdline$(,)string='$(CMDLINE)')

$(B)/vars.fd: | $(DEPS_STAMP)
	cp $(OVMF_VARS) $@

run: all $(B)/vars.fd $(if $(filter 10,$(QEMU)),$(QEMU10))
	$(QEMU_BIN) $(QEMU_MACHINE) -display none -serial mon:stdio $(QEMU_CMDLINE) $(RUN_ARGS)
debug: all $(B)/vars.fd $(if $(filter 10,$(QEMU)),$(QEMU10))
	@echo "gdb: target remote :1234, then the add-symbol-file line moat prints"
	$(QEMU_BIN) $(QEMU_MACHINE) -display none -serial mon:stdio -s -S \
		-fw_cfg name=opt/moat/cmdline,string='debug $(CMDLINE)' $(RUN_ARGS)
.PHONY: run debug

# ---------------------------------------------------------------------------
# Host tests: the same sources, built for Linux with sanitizers, linked with
# cmocka and with stand-ins for the hw seam (tests/unit/) or the VT-d model
# (tests/model/).  Each fragment appends NAME to UNIT_TESTS and sets
# NAME_SRCS.
HOST_CFLAGS := -std=c11 -O1 -g -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -D_DEFAULT_SOURCE \
	-Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -I. -MMD -MP
HOST_LDLIBS := -lcmocka

UNIT_TESTS :=
-include $(wildcard tests/unit/*.mk tests/model/*.mk tests/system/*.mk \
	tests/iso/*.mk tests/mutate/*.mk)

$(B)/host/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $<"
	$(Q)gcc $(HOST_CFLAGS) -c $< -o $@

# Every test binary links tests/deadline.c: a deadline per test.
define unit_test_rule
$(B)/host/bin/$(1): $$($(1)_SRCS:%.c=$(B)/host/%.o) $(B)/host/tests/deadline.o
	@mkdir -p $$(@D)
	@echo "  HOSTLD  $$@"
	$(Q)gcc $(HOST_CFLAGS) $$^ -o $$@ $(HOST_LDLIBS)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_test_rule,$(t))))

UNIT_BINS := $(UNIT_TESTS:%=$(B)/host/bin/%)
test-unit: check-api check-deadline $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done
.PHONY: test-unit

# Reachable API: every public function of vtd.h and iommu.h is called in
# the image outside its own file, or has its place in docs/embedding.md.
check-api:
	$(Q)/usr/bin/python3 tests/check_api.py
.PHONY: check-api

# Every cmocka group runs with a deadline per test (tests/deadline.h).
check-deadline:
	$(Q)! grep -n 'cmocka_run_group_tests(' $(wildcard tests/*/*.c) || \
		{ echo "check-deadline: run cmocka groups with deadline_run_group_tests() (tests/deadline.h)"; exit 1; }
.PHONY: check-deadline

# ---------------------------------------------------------------------------
# make bench: the model's figures, built like the kernel is (-O2, no
# sanitizers), so that timings mean something.
$(B)/host/bench: $(BENCH_SRCS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTLD  $@"
	$(Q)gcc -std=c11 -O2 -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
		-Wno-unused-parameter -I. $(BENCH_SRCS) -o $@

# The driver's instructions per page and per call, counted by callgrind
# (tests/model/bench_ir.py); -g for the source file of each function.
$(B)/host/bench_ir: $(BENCH_IR_SRCS) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTLD  $@"
	$(Q)gcc -std=c11 -O2 -g -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
		-Wno-unused-parameter -I. $(BENCH_IR_SRCS) -o $@

bench: $(B)/host/bench $(B)/host/bench_ir $(BENCH_EXTRA)
	$(B)/host/bench
	/usr/bin/python3 tests/model/bench_ir.py $(B)/host/bench_ir
	@set -e; for b in $(BENCH_EXTRA); do $$b; done
.PHONY: bench

# ---------------------------------------------------------------------------
# Fuzzing with libFuzzer (clang).  Each fragment appends NAME to FUZZERS and
# sets NAME_FUZZ_SRCS and NAME_FUZZ_CORPUS (a seed folder).
FUZZERS :=
-include $(wildcard tests/fuzz/*.mk)
FUZZ_CFLAGS := -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -D_DEFAULT_SOURCE -I. -Wall -Wno-unused-parameter
FUZZ_SECONDS ?= 60

HEADERS := $(shell find lib kernel drivers arch boot -name '*.h')

define fuzz_rule
$(B)/fuzz/$(1): $$($(1)_FUZZ_SRCS) $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	@echo "  FUZZ    $$@"
	$(Q)clang $(FUZZ_CFLAGS) $$($(1)_FUZZ_SRCS) -o $$@
endef
$(foreach f,$(FUZZERS),$(eval $(call fuzz_rule,$(f))))

# Each fuzzer gets its share of FUZZ_SECONDS, starting from its seeds and
# what earlier runs found; any crash or sanitizer report fails the run.
# Seconds per fuzzer, at least 1: libFuzzer reads 0 as "no limit".
FUZZ_EACH = $(shell n=$$(( $(FUZZ_SECONDS) / $(words $(FUZZERS)) )); echo $$(( n > 0 ? n : 1 )))
fuzz: $(FUZZERS:%=$(B)/fuzz/%)
	@set -e; $(foreach f,$(FUZZERS), \
		mkdir -p $(B)/fuzz/corpus-$(f); \
		echo "== fuzz $(f) for $(FUZZ_EACH)s"; \
		$(B)/fuzz/$(f) -max_total_time=$(FUZZ_EACH) \
			-artifact_prefix=$(B)/fuzz/$(f)- -print_final_stats=1 \
			$(B)/fuzz/corpus-$(f) $($(f)_FUZZ_CORPUS) 2>&1 | tail -n 12; \
		test $${PIPESTATUS[0]} -eq 0;)
.PHONY: fuzz

# ---------------------------------------------------------------------------
# QEMU integration tests (pytest, Debian's interpreter).
PYTEST := /usr/bin/python3 -m pytest
# The suite runs once per QEMU, both at once (make -j2 -Otarget); the
# harness takes the emulator, firmware, image and fixtures from MOAT_*.
# TESTS narrows a run (e.g. TESTS="tests/qemu/test_boot.py -k banner").
TESTS ?= tests/qemu
MOAT_FIXTURES ?= $(abspath ../shared/fixtures)
QEMU_TEST_ENV = MOAT_OVMF_CODE=$(OVMF_CODE) MOAT_OVMF_VARS=$(OVMF_VARS) \
	MOAT_IMAGE=$(abspath $(B)/moat.img) MOAT_FIXTURES=$(MOAT_FIXTURES)
test-qemu7: all $(B)/moat.img
	@echo "== QEMU 7.2 (system)"
	$(QEMU_TEST_ENV) MOAT_QEMU=qemu-system-x86_64 \
		$(PYTEST) -q -p no:cacheprovider $(TESTS)
test-qemu10: all $(B)/moat.img $(QEMU10)
	@echo "== QEMU 10 ($(B)/qemu10)"
	$(QEMU_TEST_ENV) MOAT_QEMU=$(QEMU10) \
		$(PYTEST) -q -p no:cacheprovider $(TESTS)
test-qemu: all $(B)/moat.img $(QEMU10)
	$(MAKE) -j2 -Otarget test-qemu7 test-qemu10
.PHONY: test-qemu test-qemu7 test-qemu10
# Printed, never asserted, not part of make test (tests/qemu/bench_guests.py).
bench-qemu: all $(B)/moat.img
	$(QEMU_TEST_ENV) MOAT_QEMU=qemu-system-x86_64 \
		/usr/bin/python3 tests/qemu/bench_guests.py
.PHONY: bench-qemu

# Mechanical style: .clang-format decides layout and include order; literal
# suffixes are upper case (0x1U, 36ULL), which the formatter cannot check.
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './$(B)/*')
format: $(DEPS_STAMP)
	$(Q)clang-format -i $(FORMAT_SRCS)
check-format: $(DEPS_STAMP)
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRCS)
	$(Q)! grep -nE '(^|[^[:alnum:]_.%"])(0[xX][[:xdigit:]]+|[0-9]+)(u|ul|ull|lu|llu)\b' \
		$(FORMAT_SRCS) | grep -v '"' || \
		{ echo "check-format: write literal suffixes in upper case (U, UL, ULL)"; exit 1; }
.PHONY: format check-format

test: check-format test-unit mutate-quick fuzz test-qemu
.PHONY: test

clean:
	rm -rf $(B)
.PHONY: clean

-include $(shell find $(B) -name '*.d' -type f 2>/dev/null)
