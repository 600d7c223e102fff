# libFuzzer harness for the hypercall dispatcher (tests/fuzz/fuzz_hypercall.c).
FUZZERS += hypercall
hypercall_FUZZ_SRCS := tests/fuzz/fuzz_hypercall.c tests/unit/hypercall_fake.c \
	kernel/hypercall.c
hypercall_FUZZ_CORPUS := tests/fuzz/hypercall-seeds
