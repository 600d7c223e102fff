# edu dma's decision (kernel/cmd_edu.c) with the fault watch
# (kernel/cmd_fault.c): the edu, the fault records and the scheduler's
# yield are fakes, so the order in which housekeeping and the command read
# a fault is chosen by the test.
UNIT_TESTS += cmd_edu
cmd_edu_SRCS := tests/unit/test_cmd_edu.c kernel/cmd_edu.c \
	kernel/cmd_fault.c lib/errno.c
