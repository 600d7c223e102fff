# Host tests of drivers/acpi: the DMAR parser against the real tables in
# ../shared/fixtures/dmar/ and hand-built ones, and ACPI table discovery.
UNIT_TESTS += dmar acpi
dmar_SRCS := tests/unit/test_dmar.c drivers/acpi/dmar.c \
	tests/unit/acpi_test_stubs.c lib/format.c
acpi_SRCS := tests/unit/test_acpi.c drivers/acpi/acpi.c \
	tests/unit/acpi_test_stubs.c lib/format.c
