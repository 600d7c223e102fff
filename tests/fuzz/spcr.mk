# libFuzzer harness for the SPCR parser and the 16550 bring-up it feeds,
# seeded by tables the harness builds itself (tests/fuzz/fuzz_spcr.c).
FUZZERS += spcr
spcr_FUZZ_SRCS := tests/fuzz/fuzz_spcr.c drivers/acpi/spcr.c \
	drivers/serial/uart16550.c lib/format.c
spcr_FUZZ_CORPUS := tests/fuzz/spcr-seeds
