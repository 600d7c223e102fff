#include <efi.h>

#include "boot/boot_info.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"

/*
 * The UEFI stage.  moat is a GNU-EFI application that stays where the
 * firmware loaded it: efi_main gathers the memory map, the RSDP and the
 * command line into one struct boot_info, exits boot services, moves to the
 * kernel's own stack and calls kernel_main.  Only boot_restart runs again
 * later, to enter the kernel anew without the firmware.
 * Only GNU-EFI's headers, crt0 and relocator are used, not its library:
 * the few firmware calls are made directly through the system table.
 *
 * Until ExitBootServices the firmware's console (ConOut: the screen, and
 * often a serial port the firmware mirrors it to) shows what happens here.
 * After it the kernel writes to its own UART only, and nothing written
 * here is written again, so no line appears twice on a mirrored port.
 */

#define KERNEL_STACK_SIZE (64 * 1024)
static uint8_t kernel_stack[KERNEL_STACK_SIZE] __attribute__((aligned(16)));

/* Linker script symbols: the image's bounds and its writable data. */
extern char ImageBase[];
extern char __image_end[];
extern char _data[];
extern char _edata[];

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st);

static bool guid_eq(const EFI_GUID *a, const EFI_GUID *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* A message on the firmware console; only before ExitBootServices. */
static void efi_print(EFI_SYSTEM_TABLE *st, CHAR16 *msg)
{
	st->ConOut->OutputString(st->ConOut, msg);
}

static uint64_t find_rsdp(EFI_SYSTEM_TABLE *st)
{
	EFI_GUID acpi20 = ACPI_20_TABLE_GUID;
	EFI_GUID acpi10 = ACPI_TABLE_GUID;
	uint64_t v1 = 0;
	UINTN i;

	for (i = 0; i < st->NumberOfTableEntries; i++) {
		EFI_CONFIGURATION_TABLE *t = &st->ConfigurationTable[i];

		if (guid_eq(&t->VendorGuid, &acpi20)) {
			return (uint64_t)t->VendorTable;
		}
		if (guid_eq(&t->VendorGuid, &acpi10)) {
			v1 = (uint64_t)t->VendorTable;
		}
	}
	return v1;
}

/* Load options are UCS-2; keep the printable ASCII, drop the rest. */
static void copy_cmdline(struct boot_info *bi, EFI_LOADED_IMAGE *li)
{
	const CHAR16 *src = li->LoadOptions;
	UINTN n = li->LoadOptionsSize / sizeof(CHAR16), i, len = 0;

	for (i = 0; src && i < n && src[i] && len + 1 < BOOT_CMDLINE_MAX; i++) {
		if (src[i] >= 0x20 && src[i] < 0x7f) {
			bi->cmdline[len++] = (char)src[i];
		}
	}
	bi->cmdline[len] = '\0';
}

static void enter_kernel(void *arg)
{
	kernel_main(arg);
}

/*
 * Runs on a stack outside the image: the data copied back includes the
 * kernel stack.
 */
static void restore_and_enter(void *arg)
{
	struct boot_info *bi = arg;

	memcpy((void *)bi->data_start, (const void *)bi->data_copy,
	       bi->data_len);
	arch_set_image(bi->image_base, bi->image_size);
	arch_switch_stack(enter_kernel, bi, kernel_stack + KERNEL_STACK_SIZE);
}

void boot_restart(struct boot_info *bi, void *stack_top)
{
	__asm__ volatile("cli");
	arch_switch_stack(restore_and_enter, bi, stack_top);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	EFI_GUID lip = LOADED_IMAGE_PROTOCOL;
	EFI_LOADED_IMAGE *li = NULL;
	EFI_PHYSICAL_ADDRESS bi_pa;
	struct boot_info *bi;
	UINTN map_size, map_key, desc_size, map_cap, i;
	UINT32 desc_ver;
	EFI_MEMORY_DESCRIPTOR *map = NULL;
	EFI_STATUS s;
	int tries;

	EFI_BOOT_SERVICES *bs = st->BootServices;

	/* The firmware watchdog would reset us after 5 minutes. */
	bs->SetWatchdogTimer(0, 0, 0, NULL);
	s = bs->AllocatePages(AllocateAnyPages, EfiLoaderData,
			      EFI_SIZE_TO_PAGES(sizeof(struct boot_info)),
			      &bi_pa);
	if (EFI_ERROR(s)) {
		efi_print(st, L"moat: cannot allocate boot info\r\n");
		return s;
	}
	bi = (struct boot_info *)bi_pa;
	memset(bi, 0, sizeof(*bi));
	bi->image_base = (uint64_t)ImageBase;
	bi->image_size = (uint64_t)(__image_end - ImageBase);
	bi->rsdp = find_rsdp(st);
	/* The data as it is now, relocated and untouched: for boot_restart. */
	bi->data_start = (uint64_t)_data;
	bi->data_len = (uint64_t)(_edata - _data);
	s = bs->AllocatePages(AllocateAnyPages, EfiLoaderData,
			      EFI_SIZE_TO_PAGES(bi->data_len), &bi->data_copy);
	if (EFI_ERROR(s)) {
		bi->data_copy = 0;
	} else {
		memcpy((void *)bi->data_copy, _data, bi->data_len);
	}
	s = bs->HandleProtocol(image, &lip, (void **)&li);
	if (!EFI_ERROR(s) && li) {
		copy_cmdline(bi, li);
	}
	efi_print(
		st,
		L"moat: leaving UEFI boot services. The console continues on the\r\n"
		L"serial port named by console=, the ACPI SPCR table, else COM1.\r\n");

	/*
	 * ExitBootServices fails when the map changed since GetMemoryMap, and
	 * allocating the buffer may itself change it: retry a few times with
	 * room to spare (UEFI 2.9, 7.4 ExitBootServices).
	 */
	for (tries = 0; tries < 8; tries++) {
		map_size = 0;
		bs->GetMemoryMap(&map_size, NULL, &map_key, &desc_size,
				 &desc_ver);
		map_cap = map_size + 16 * sizeof(EFI_MEMORY_DESCRIPTOR);
		if (map) {
			bs->FreePool(map);
		}
		s = bs->AllocatePool(EfiLoaderData, map_cap, (void **)&map);
		if (EFI_ERROR(s)) {
			efi_print(st,
				  L"moat: cannot allocate the memory map\r\n");
			return s;
		}
		map_size = map_cap;
		s = bs->GetMemoryMap(&map_size, map, &map_key, &desc_size,
				     &desc_ver);
		if (EFI_ERROR(s)) {
			continue;
		}
		s = bs->ExitBootServices(image, map_key);
		if (!EFI_ERROR(s)) {
			break;
		}
	}
	if (EFI_ERROR(s)) {
		efi_print(st, L"moat: ExitBootServices failed\r\n");
		return s;
	}

	/* From here on: no firmware calls at all. */
	for (i = 0; i < map_size / desc_size && i < BOOT_MEM_MAX; i++) {
		const EFI_MEMORY_DESCRIPTOR *d =
			(const EFI_MEMORY_DESCRIPTOR *)((char *)map +
							i * desc_size);

		bi->mem[i].base = d->PhysicalStart;
		bi->mem[i].pages = d->NumberOfPages;
		bi->mem[i].type = d->Type;
	}
	bi->mem_count = i;
	bi->mem_total = map_size / desc_size;
	arch_set_image(bi->image_base, bi->image_size);
	arch_switch_stack(enter_kernel, bi, kernel_stack + KERNEL_STACK_SIZE);
}
