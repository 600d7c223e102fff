# Host tests of the hypercall dispatcher against a fake guest.
UNIT_TESTS += hypercall
hypercall_SRCS := tests/unit/test_hypercall.c tests/unit/hypercall_fake.c \
	kernel/hypercall.c
