# The guest address-space builder (arch/x86_64/vcpu.c) over fake pages:
# the kernel window in the upper half, supervisor-only, and nothing else
# of the kernel image in a guest's tables (docs/guest-abi.md).
UNIT_TESTS += vcpu
vcpu_SRCS := tests/unit/test_vcpu.c arch/x86_64/vcpu.c
