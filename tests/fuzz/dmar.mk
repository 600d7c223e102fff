# libFuzzer harness for the DMAR parser, seeded with the real tables.
FUZZERS += dmar
dmar_FUZZ_SRCS := tests/fuzz/fuzz_dmar.c drivers/acpi/dmar.c lib/format.c
dmar_FUZZ_CORPUS := ../shared/fixtures/dmar
