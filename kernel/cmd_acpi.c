#include "drivers/acpi/acpi.h"
#include "drivers/acpi/dmar.h"
#include "kernel/console.h"
#include "kernel/kernel.h"

/*
 * Console commands over the firmware tables: acpi (every table found, with
 * its verdict) and dmar (the parsed DMAR and the verdict on each unit).  The
 * line formats are in docs/console.md; the text is built by acpi_format()
 * and dmar_format() so host tests check exactly what the console prints.
 */

static void con_emit(void *ctx, const char *line)
{
	con_printf("%s\n", line);
}

static int cmd_acpi(int argc, char **argv)
{
	const struct acpi_tables *t = &kernel_get()->acpi;

	if (argc != 1) {
		return con_error("usage: acpi");
	}
	if (t->count == 0) {
		return con_error("no ACPI tables");
	}
	acpi_format(t, con_emit, NULL);
	return 0;
}
CONSOLE_CMD(acpi, "acpi", "acpi",
	    "ACPI tables with address, length and checksum verdict", cmd_acpi);

static int cmd_dmar(int argc, char **argv)
{
	const struct kernel *k = kernel_get();

	if (argc != 1) {
		return con_error("usage: dmar");
	}
	if (!k->dmar_present) {
		return con_error("no valid DMAR table (see acpi)");
	}
	dmar_format(&k->dmar, con_emit, NULL);
	return 0;
}
CONSOLE_CMD(dmar, "dmar", "dmar",
	    "DMAR structures and scopes, and the verdict on each unit",
	    cmd_dmar);
