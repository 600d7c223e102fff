# Host tests of the SPCR parser and of the 16550 driver's register access
# (I/O ports, byte and dword MMIO) through a fake UART behind the hw seam.
UNIT_TESTS += spcr
spcr_SRCS := tests/unit/test_spcr.c drivers/acpi/spcr.c \
	drivers/serial/uart16550.c lib/format.c
