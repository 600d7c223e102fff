#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/pci/pci.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/unit/pci_fake.h"

/*
 * drivers/pci/pci.c and caps.c against synthetic configuration spaces:
 * capability walks over good and hostile lists, enumeration through
 * bridges, and every way firmware can leave bus numbers wrong.
 */

static struct pci_host host;

static int setup(void **state)
{
	pci_cfg_reset();
	pci_log_reset();
	memset(&host, 0, sizeof(host));
	pci_alloc_fail_after = -1;
	return 0;
}

static int teardown(void **state)
{
	pci_host_clear(&host);
	assert_int_equal(pci_alloc_live, 0);
	return 0;
}

/* "id@offset,..." in list order, hex, for compact assertions. */
static const char *list_str(const struct pci_cap *c)
{
	static char buf[8192];
	size_t n = 0;

	buf[0] = '\0';
	for (; c; c = c->next) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%x@%x",
				      n ? "," : "", c->id, c->offset);
	}
	return buf;
}

static unsigned int list_len(const struct pci_cap *c)
{
	unsigned int n = 0;

	for (; c; c = c->next) {
		n++;
	}
	return n;
}

/* A function at 0000:00:00.0 with the header given, not yet walked. */
static uint8_t *endpoint(struct pci_dev *d, uint8_t hdr_type)
{
	memset(d, 0, sizeof(*d));
	d->hdr_type = hdr_type;
	return pci_cfg_add(0, 0, 0, 0x8086, 0x1234, 0x020000, hdr_type);
}

static void read_caps(struct pci_dev *d)
{
	assert_int_equal(pci_read_caps(d), 0);
}

static unsigned int warnings(const char *text)
{
	return pci_log_count(LOG_WARN, text);
}

/* ---- capability list ---------------------------------------------------- */

static void test_caps_chain(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = endpoint(&d, PCI_HEADER_TYPE_NORMAL);

	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_cap(cfg, 0x40, PCI_CAP_ID_PM, 0x50);
	pci_cfg_cap(cfg, 0x50, PCI_CAP_ID_MSI, 0x70);
	pci_cfg_pcie(cfg, 0x70, PCI_EXP_TYPE_ENDPOINT, 0xb0);
	pci_cfg_cap(cfg, 0xb0, PCI_CAP_ID_MSIX, 0xc0);
	pci_cfg_cap(cfg, 0xc0, PCI_CAP_ID_VNDR, 0xfc);
	pci_cfg_cap(cfg, 0xfc, PCI_CAP_ID_VNDR, 0x00);
	read_caps(&d);
	assert_string_equal(list_str(d.caps),
			    "1@40,5@50,10@70,11@b0,9@c0,9@fc");
	assert_int_equal(pci_find_cap(&d, PCI_CAP_ID_EXP), 0x70);
	assert_int_equal(pci_find_cap(&d, PCI_CAP_ID_MSIX), 0xb0);
	assert_int_equal(pci_find_cap(&d, PCI_CAP_ID_VNDR), 0xc0);
	assert_int_equal(pci_find_cap(&d, PCI_CAP_ID_AGP), 0);
	assert_true(pci_is_pcie(&d));
	assert_int_equal(warnings(""), 0);
	pci_free_caps(&d);
}

static void test_caps_status_bit_clear(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = endpoint(&d, PCI_HEADER_TYPE_NORMAL);

	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_cap(cfg, 0x40, PCI_CAP_ID_EXP, 0);
	pci_cfg_put16(cfg, PCI_STATUS, 0);
	pci_cfg_ext_cap(cfg, 0x100, PCI_EXT_CAP_ID_AER, 0);
	read_caps(&d);
	assert_null(d.caps);
	assert_null(d.ext_caps);
	assert_false(pci_is_pcie(&d));
}

static void test_caps_loop(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = endpoint(&d, PCI_HEADER_TYPE_NORMAL);

	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_cap(cfg, 0x40, PCI_CAP_ID_PM, 0x50);
	pci_cfg_cap(cfg, 0x50, PCI_CAP_ID_MSI, 0x60);
	pci_cfg_cap(cfg, 0x60, PCI_CAP_ID_MSIX, 0x50);
	read_caps(&d);
	assert_string_equal(list_str(d.caps), "1@40,5@50,11@60");
	assert_int_equal(
		warnings("0000:00:00.0: capability list loops back to 0x050"),
		1);
	pci_free_caps(&d);
}

static void test_caps_self_loop(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = endpoint(&d, PCI_HEADER_TYPE_NORMAL);

	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_cap(cfg, 0x40, PCI_CAP_ID_PM, 0x40);
	read_caps(&d);
	assert_string_equal(list_str(d.caps), "1@40");
	assert_int_equal(warnings("loops back to 0x040"), 1);
	pci_free_caps(&d);
}

static void test_caps_out_of_range(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = endpoint(&d, PCI_HEADER_TYPE_NORMAL);

	/* First pointer into the header. */
	pci_cfg_put16(cfg, PCI_STATUS, PCI_STATUS_CAP_LIST);
	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x10);
	read_caps(&d);
	assert_null(d.caps);
	assert_int_equal(warnings("capability pointer 0x010 out of range"), 1);

	/* A later one: the list is cut there. */
	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_cap(cfg, 0x40, PCI_CAP_ID_PM, 0x3c);
	read_caps(&d);
	assert_string_equal(list_str(d.caps), "1@40");
	assert_int_equal(warnings("capability pointer 0x03c out of range"), 1);
	pci_free_caps(&d);
}

static void test_caps_unaligned_pointers_masked(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = endpoint(&d, PCI_HEADER_TYPE_NORMAL);

	/* Bits 1:0 are reserved: 0x43 means 0x40, 0x53 means 0x50. */
	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x43);
	pci_cfg_cap(cfg, 0x40, PCI_CAP_ID_PM, 0x53);
	pci_cfg_cap(cfg, 0x50, PCI_CAP_ID_MSI, 0x02);
	read_caps(&d);
	assert_string_equal(list_str(d.caps), "1@40,5@50");
	assert_int_equal(warnings(""), 0);
	pci_free_caps(&d);
}

static void test_caps_full_list_is_bounded(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = endpoint(&d, PCI_HEADER_TYPE_NORMAL);
	unsigned int pos;

	/* All 48 dwords used, in a ring: 48 entries, then the loop. */
	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	for (pos = 0x40; pos < 0x100; pos += 4) {
		pci_cfg_cap(cfg, pos, PCI_CAP_ID_VNDR,
			    (uint8_t)(pos == 0xfc ? 0x40 : pos + 4));
	}
	pci_cfg_reads = 0;
	read_caps(&d);
	assert_int_equal(list_len(d.caps), 48);
	assert_int_equal(warnings("loops back to 0x040"), 1);
	assert_true(pci_cfg_reads <= 2 + 2 * 48);

	/* The same 48 ending properly. */
	pci_log_reset();
	pci_cfg_cap(cfg, 0xfc, PCI_CAP_ID_VNDR, 0);
	read_caps(&d);
	assert_int_equal(list_len(d.caps), 48);
	assert_int_equal(warnings(""), 0);
	pci_free_caps(&d);
}

static void test_caps_vanished_function(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = endpoint(&d, PCI_HEADER_TYPE_NORMAL);

	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_cap(cfg, 0x40, PCI_CAP_ID_PM, 0xff);
	pci_cfg_cap(cfg, 0xfc, 0xff, 0xff);
	read_caps(&d);
	assert_string_equal(list_str(d.caps), "1@40");
	assert_int_equal(warnings("reads 0xff"), 1);
	pci_free_caps(&d);

	/* Nothing answers at all: status reads all-ones, no list. */
	d.devfn = 1;
	read_caps(&d);
	assert_null(d.caps);
	assert_null(d.ext_caps);
}

static void test_caps_null_capability_skipped(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = endpoint(&d, PCI_HEADER_TYPE_NORMAL);

	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_cap(cfg, 0x40, PCI_CAP_ID_NULL, 0x48);
	pci_cfg_cap(cfg, 0x48, PCI_CAP_ID_MSI, 0);
	read_caps(&d);
	assert_string_equal(list_str(d.caps), "5@48");
	pci_free_caps(&d);
}

static void test_caps_header_types(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = endpoint(&d, PCI_HEADER_TYPE_CARDBUS);

	/* CardBus keeps its pointer at 0x14; 0x34 is something else. */
	pci_cfg_put8(cfg, PCI_CB_CAPABILITY_LIST, 0x80);
	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_cap(cfg, 0x80, PCI_CAP_ID_PM, 0);
	read_caps(&d);
	assert_string_equal(list_str(d.caps), "1@80");

	/* An unknown layout has no known capability pointer. */
	d.hdr_type = 0x7f;
	read_caps(&d);
	assert_null(d.caps);
}

/* ---- extended capability list ------------------------------------------- */

/* A PCIe endpoint at 0000:00:00.0 whose list starts at 0x40. */
static uint8_t *pcie_endpoint(struct pci_dev *d)
{
	uint8_t *cfg = endpoint(d, PCI_HEADER_TYPE_NORMAL);

	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_pcie(cfg, 0x40, PCI_EXP_TYPE_ENDPOINT, 0);
	return cfg;
}

static void test_ext_caps_chain(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = pcie_endpoint(&d);

	pci_cfg_ext_cap(cfg, 0x100, PCI_EXT_CAP_ID_AER, 0x148);
	pci_cfg_ext_cap(cfg, 0x148, PCI_EXT_CAP_ID_ACS, 0x200);
	pci_cfg_ext_cap(cfg, 0x200, PCI_EXT_CAP_ID_ATS, 0x210);
	pci_cfg_ext_cap(cfg, 0x210, PCI_EXT_CAP_ID_PASID, 0x220);
	pci_cfg_ext_cap(cfg, 0x220, PCI_EXT_CAP_ID_PRI, 0xffc);
	pci_cfg_ext_cap(cfg, 0xffc, PCI_EXT_CAP_ID_DSN, 0);
	read_caps(&d);
	assert_string_equal(list_str(d.ext_caps),
			    "1@100,d@148,f@200,1b@210,13@220,3@ffc");
	assert_int_equal(pci_find_ext_cap(&d, PCI_EXT_CAP_ID_ATS), 0x200);
	assert_int_equal(pci_find_ext_cap(&d, PCI_EXT_CAP_ID_DSN), 0xffc);
	assert_int_equal(pci_find_ext_cap(&d, PCI_EXT_CAP_ID_SRIOV), 0);
	assert_int_equal(warnings(""), 0);
	pci_free_caps(&d);
}

static void test_ext_caps_empty_headers(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = pcie_endpoint(&d);

	/* Zero at 0x100: no extended capabilities. */
	read_caps(&d);
	assert_null(d.ext_caps);

	/* All-ones at 0x100. */
	pci_cfg_put32(cfg, 0x100, UINT32_MAX);
	read_caps(&d);
	assert_null(d.ext_caps);

	/* All-ones or zero further on ends the list there. */
	pci_cfg_ext_cap(cfg, 0x100, PCI_EXT_CAP_ID_AER, 0x180);
	pci_cfg_put32(cfg, 0x180, UINT32_MAX);
	read_caps(&d);
	assert_string_equal(list_str(d.ext_caps), "1@100");
	pci_cfg_put32(cfg, 0x180, 0);
	read_caps(&d);
	assert_string_equal(list_str(d.ext_caps), "1@100");
	assert_int_equal(warnings(""), 0);
	pci_free_caps(&d);
}

static void test_ext_caps_loops(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = pcie_endpoint(&d);

	pci_cfg_ext_cap(cfg, 0x100, PCI_EXT_CAP_ID_AER, 0x140);
	pci_cfg_ext_cap(cfg, 0x140, PCI_EXT_CAP_ID_ACS, 0x100);
	read_caps(&d);
	assert_string_equal(list_str(d.ext_caps), "1@100,d@140");
	assert_int_equal(
		warnings("extended capability list loops back to 0x100"), 1);

	pci_cfg_ext_cap(cfg, 0x140, PCI_EXT_CAP_ID_ACS, 0x140);
	read_caps(&d);
	assert_string_equal(list_str(d.ext_caps), "1@100,d@140");
	assert_int_equal(warnings("loops back to 0x140"), 1);
	pci_free_caps(&d);
}

static void test_ext_caps_out_of_range_and_unaligned(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = pcie_endpoint(&d);

	/* A next offset into the first 256 bytes. */
	pci_cfg_ext_cap(cfg, 0x100, PCI_EXT_CAP_ID_AER, 0x040);
	read_caps(&d);
	assert_string_equal(list_str(d.ext_caps), "1@100");
	assert_int_equal(
		warnings("extended capability pointer 0x040 out of range"), 1);

	/* Reserved bits 1:0 of the offset are masked: 0x143 is 0x140. */
	pci_cfg_ext_cap(cfg, 0x100, PCI_EXT_CAP_ID_AER, 0x143);
	pci_cfg_ext_cap(cfg, 0x140, PCI_EXT_CAP_ID_ATS, 0x101);
	read_caps(&d);
	assert_string_equal(list_str(d.ext_caps), "1@100,f@140");
	assert_int_equal(warnings("loops back to 0x100"), 1);
	pci_free_caps(&d);
}

static void test_ext_caps_full_list_is_bounded(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = pcie_endpoint(&d);
	unsigned int pos;

	for (pos = 0x100; pos < 0x1000; pos += 4) {
		pci_cfg_ext_cap(cfg, pos, PCI_EXT_CAP_ID_VNDR,
				pos == 0xffc ? 0x100 : pos + 4);
	}
	pci_cfg_reads = 0;
	read_caps(&d);
	assert_int_equal(list_len(d.ext_caps), 960);
	assert_int_equal(warnings("loops back to 0x100"), 1);
	assert_true(pci_cfg_reads <= 16 + 960);
	pci_free_caps(&d);
}

static void test_ext_caps_null_capability_skipped(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = pcie_endpoint(&d);

	pci_cfg_ext_cap(cfg, 0x100, PCI_EXT_CAP_ID_NULL, 0x200);
	pci_cfg_ext_cap(cfg, 0x200, PCI_EXT_CAP_ID_PASID, 0);
	read_caps(&d);
	assert_string_equal(list_str(d.ext_caps), "1b@200");
	pci_free_caps(&d);
}

static void test_ext_caps_only_for_pcie(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = endpoint(&d, PCI_HEADER_TYPE_NORMAL);

	/* A conventional function: whatever is at 0x100 is not a list. */
	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_cap(cfg, 0x40, PCI_CAP_ID_MSI, 0);
	pci_cfg_ext_cap(cfg, 0x100, PCI_EXT_CAP_ID_AER, 0);
	read_caps(&d);
	assert_string_equal(list_str(d.caps), "5@40");
	assert_null(d.ext_caps);
	pci_free_caps(&d);
}

static void test_caps_out_of_memory(void **state)
{
	struct pci_dev d;
	uint8_t *cfg = pcie_endpoint(&d);
	long n;

	pci_cfg_cap(cfg, 0x40, PCI_CAP_ID_EXP, 0x50);
	pci_cfg_cap(cfg, 0x50, PCI_CAP_ID_MSI, 0);
	pci_cfg_ext_cap(cfg, 0x100, PCI_EXT_CAP_ID_AER, 0x140);
	pci_cfg_ext_cap(cfg, 0x140, PCI_EXT_CAP_ID_ACS, 0);
	for (n = 0; n < 4; n++) {
		pci_alloc_fail_after = n;
		assert_int_equal(pci_read_caps(&d), -ENOMEM);
		assert_null(d.caps);
		assert_null(d.ext_caps);
		assert_int_equal(pci_alloc_live, 0);
	}
	pci_alloc_fail_after = 4;
	read_caps(&d);
	assert_string_equal(list_str(d.caps), "10@40,5@50");
	assert_string_equal(list_str(d.ext_caps), "1@100,d@140");
	pci_free_caps(&d);
}

static void test_cap_names(void **state)
{
	assert_string_equal(pci_cap_name(PCI_CAP_ID_EXP), "pcie");
	assert_string_equal(pci_cap_name(PCI_CAP_ID_MSIX), "msix");
	assert_string_equal(pci_cap_name(PCI_CAP_ID_PM), "pm");
	assert_null(pci_cap_name(0x00));
	assert_null(pci_cap_name(0x15));
	assert_null(pci_cap_name(0xff));
	assert_string_equal(pci_ext_cap_name(PCI_EXT_CAP_ID_AER), "aer");
	assert_string_equal(pci_ext_cap_name(PCI_EXT_CAP_ID_PASID), "pasid");
	assert_string_equal(pci_ext_cap_name(PCI_EXT_CAP_ID_PRI), "pri");
	assert_null(pci_ext_cap_name(0x0014));
	assert_null(pci_ext_cap_name(0x0027));
	assert_null(pci_ext_cap_name(0xffff));
}

/* ---- enumeration -------------------------------------------------------- */

/* "BB:DD.F" of every function, in enumeration order. */
static const char *devs_str(void)
{
	static char buf[4096];
	const struct pci_dev *d;
	size_t n = 0;

	buf[0] = '\0';
	pci_for_each_dev (&host, d) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "%s%02x:%02x.%x", n ? " " : "", d->bus,
				      rid_devfn_device(d->devfn),
				      rid_devfn_function(d->devfn));
	}
	return buf;
}

static struct pci_dev *dev(uint8_t bus, unsigned int slot, unsigned int fn)
{
	struct pci_dev *d = pci_find_dev(&host, 0, bus, pci_devfn(slot, fn));

	assert_non_null(d);
	return d;
}

/* A PCIe port (bridge) of the given type, with its capability. */
static uint8_t *port(uint8_t bus, uint8_t devfn, uint8_t type, uint8_t sec,
		     uint8_t sub)
{
	uint8_t *cfg = pci_cfg_add_bridge(0, bus, devfn, bus, sec, sub);

	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_pcie(cfg, 0x40, type, 0);
	return cfg;
}

static void add_range(uint16_t seg, uint8_t start, uint8_t end)
{
	assert_int_equal(pci_host_add_range(&host, seg, start, end), 0);
}

static void test_enum_no_ranges(void **state)
{
	pci_cfg_add(0, 0, 0, 0x8086, 0x29c0, 0x060000, 0);
	assert_int_equal(pci_enumerate(&host), 0);
	assert_null(host.devs);
}

static void test_enum_one_bus(void **state)
{
	struct pci_dev *d;
	uint8_t *cfg;

	add_range(0, 0, 0xff);
	pci_cfg_add(0, 0, pci_devfn(0, 0), 0x8086, 0x29c0, 0x060000, 0);
	/* Multi-function: functions 0, 2 and 7; 1 is absent. */
	pci_cfg_add(0, 0, pci_devfn(0x1f, 0), 0x8086, 0x2918, 0x060100,
		    PCI_HEADER_TYPE_MFD);
	pci_cfg_add(0, 0, pci_devfn(0x1f, 2), 0x8086, 0x2922, 0x010601, 0);
	pci_cfg_add(0, 0, pci_devfn(0x1f, 7), 0x8086, 0x2930, 0x0c0500, 0);
	/* Single-function: what answers at function 1 is not looked at. */
	cfg = pci_cfg_add(0, 0, pci_devfn(2, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	pci_cfg_put8(cfg, PCI_CAPABILITY_LIST, 0x40);
	pci_cfg_cap(cfg, 0x40, PCI_CAP_ID_MSI, 0);
	pci_cfg_add(0, 0, pci_devfn(2, 1), 0x1234, 0x11e8, 0x00ff00, 0);
	/* No function 0: the device is absent. */
	pci_cfg_add(0, 0, pci_devfn(3, 1), 0x1234, 0x11e8, 0x00ff00, 0);
	/* Vendor 0 is not a device either. */
	pci_cfg_add(0, 0, pci_devfn(4, 0), 0x0000, 0x0000, 0, 0);

	assert_int_equal(pci_enumerate(&host), 0);
	assert_string_equal(devs_str(),
			    "00:00.0 00:02.0 00:1f.0 00:1f.2 00:1f.7");
	d = dev(0, 0x1f, 2);
	assert_int_equal(d->vendor, 0x8086);
	assert_int_equal(d->device, 0x2922);
	assert_int_equal(d->class_base, 0x01);
	assert_int_equal(d->class_sub, 0x06);
	assert_int_equal(d->prog_if, 0x01);
	assert_int_equal(d->hdr_type, PCI_HEADER_TYPE_NORMAL);
	assert_false(d->multifunction);
	assert_null(d->parent);
	assert_true(dev(0, 0x1f, 0)->multifunction);
	assert_int_equal(pci_find_cap(dev(0, 2, 0), PCI_CAP_ID_MSI), 0x40);
	assert_false(pci_is_pcie(dev(0, 2, 0)));
	assert_null(pci_find_dev(&host, 0, 0, pci_devfn(2, 1)));
	assert_null(pci_find_dev(&host, 1, 0, pci_devfn(0, 0)));
	assert_int_equal(
		pci_log_count(LOG_INFO, "0000:00: root bus, 5 functions"), 1);
	assert_int_equal(warnings(""), 0);
	assert_int_equal(pci_enumerate(&host), -EBUSY);
}

/*
 * Root port 00:1c.0 -> switch upstream 01:00.0 -> downstream ports 02:00.0
 * and 02:01.0 -> endpoints on 03 and 04; a PCIe-to-PCI bridge on bus 0
 * with two conventional devices behind it; an endpoint after them.
 */
static void test_enum_bridge_chain(void **state)
{
	struct pci_dev *d;

	add_range(0, 0, 0xff);
	pci_cfg_add(0, 0, pci_devfn(0, 0), 0x8086, 0x29c0, 0x060000, 0);
	port(0, pci_devfn(0x1c, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 4);
	port(1, pci_devfn(0, 0), PCI_EXP_TYPE_UPSTREAM, 2, 4);
	port(2, pci_devfn(0, 0), PCI_EXP_TYPE_DOWNSTREAM, 3, 3);
	port(2, pci_devfn(1, 0), PCI_EXP_TYPE_DOWNSTREAM, 4, 4);
	pci_cfg_add(0, 3, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	pci_cfg_add(0, 4, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	port(0, pci_devfn(0x1d, 0), PCI_EXP_TYPE_PCI_BRIDGE, 5, 5);
	pci_cfg_add(0, 5, pci_devfn(1, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	pci_cfg_add(0, 5, pci_devfn(2, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	pci_cfg_add(0, 0, pci_devfn(0x1e, 0), 0x1234, 0x11e8, 0x00ff00, 0);

	assert_int_equal(pci_enumerate(&host), 0);
	assert_string_equal(devs_str(),
			    "00:00.0 00:1c.0 00:1d.0 00:1e.0 01:00.0 02:00.0 "
			    "02:01.0 03:00.0 04:00.0 05:01.0 05:02.0");
	d = dev(0, 0x1c, 0);
	assert_true(pci_is_bridge(d));
	assert_int_equal(d->primary, 0);
	assert_int_equal(d->secondary, 1);
	assert_int_equal(d->subordinate, 4);
	assert_int_equal(d->pcie_type, PCI_EXP_TYPE_ROOT_PORT);
	assert_ptr_equal(dev(1, 0, 0)->parent, d);
	assert_int_equal(dev(1, 0, 0)->pcie_type, PCI_EXP_TYPE_UPSTREAM);
	assert_ptr_equal(dev(2, 1, 0)->parent, dev(1, 0, 0));
	assert_ptr_equal(dev(3, 0, 0)->parent, dev(2, 0, 0));
	assert_ptr_equal(dev(4, 0, 0)->parent, dev(2, 1, 0));
	assert_ptr_equal(dev(5, 2, 0)->parent, dev(0, 0x1d, 0));
	assert_false(pci_is_bridge(dev(3, 0, 0)));
	assert_int_equal(warnings(""), 0);
}

static void test_enum_one_device_below_pcie_ports(void **state)
{
	add_range(0, 0, 0xff);
	port(0, pci_devfn(1, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 1);
	pci_cfg_add(0, 1, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	/* A port that forwards device numbers it should not. */
	pci_cfg_add(0, 1, pci_devfn(1, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	/* A conventional bridge's bus can have 32 devices. */
	pci_cfg_add_bridge(0, 0, pci_devfn(2, 0), 0, 2, 2);
	pci_cfg_add(0, 2, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	pci_cfg_add(0, 2, pci_devfn(1, 0), 0x1234, 0x11e8, 0x00ff00, 0);

	assert_int_equal(pci_enumerate(&host), 0);
	assert_string_equal(devs_str(),
			    "00:01.0 00:02.0 01:00.0 02:00.0 02:01.0");
}

static void test_enum_unassigned_secondary(void **state)
{
	add_range(0, 0, 0xff);
	port(0, pci_devfn(1, 0), PCI_EXP_TYPE_ROOT_PORT, 0, 0);
	port(0, pci_devfn(2, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 1);
	pci_cfg_add(0, 1, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);

	assert_int_equal(pci_enumerate(&host), 0);
	assert_string_equal(devs_str(), "00:01.0 00:02.0 01:00.0");
	assert_ptr_equal(dev(1, 0, 0)->parent, dev(0, 2, 0));
	assert_int_equal(
		warnings(
			"0000:00:01.0: bridge 00/00-00 not followed: no secondary bus assigned"),
		1);
	assert_int_equal(warnings(""), 1);
}

static void test_enum_secondary_outside_ecam(void **state)
{
	add_range(0, 0, 0x0f);
	port(0, pci_devfn(1, 0), PCI_EXP_TYPE_ROOT_PORT, 0x20, 0x20);
	pci_cfg_add(0, 0x20, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);

	assert_int_equal(pci_enumerate(&host), 0);
	assert_string_equal(devs_str(), "00:01.0");
	assert_int_equal(
		warnings(
			"bridge 00/20-20 not followed: secondary bus outside ECAM"),
		1);
}

static void test_enum_secondary_outside_parent(void **state)
{
	add_range(0, 0, 0xff);
	port(0, pci_devfn(1, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 2);
	/* Below the parent's secondary bus (its own bus: a loop). */
	port(1, pci_devfn(0, 0), PCI_EXP_TYPE_UPSTREAM, 1, 2);
	pci_cfg_add(0, 0, pci_devfn(2, 0), 0x1234, 0x11e8, 0x00ff00, 0);

	assert_int_equal(pci_enumerate(&host), 0);
	assert_string_equal(devs_str(), "00:01.0 00:02.0 01:00.0");
	assert_int_equal(
		warnings(
			"0000:01:00.0: bridge 01/01-02 not followed: secondary bus outside the upstream bridge's range"),
		1);

	/* Beyond the parent's subordinate bus. */
	pci_host_clear(&host);
	pci_cfg_reset();
	pci_log_reset();
	port(0, pci_devfn(1, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 2);
	port(1, pci_devfn(0, 0), PCI_EXP_TYPE_UPSTREAM, 3, 3);
	pci_cfg_add(0, 3, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	assert_int_equal(pci_enumerate(&host), 0);
	assert_int_equal(
		warnings(
			"bridge 01/03-03 not followed: secondary bus outside the upstream"),
		1);
	/* Bus 3 is reachable by no bridge: found as a root bus. */
	assert_string_equal(devs_str(), "00:01.0 01:00.0 03:00.0");
	assert_null(dev(3, 0, 0)->parent);
}

static void test_enum_bus_loop(void **state)
{
	add_range(0, 0, 0xff);
	/* Two bridges on bus 0 claim bus 1. */
	pci_cfg_add_bridge(0, 0, pci_devfn(1, 0), 0, 1, 3);
	pci_cfg_add_bridge(0, 0, pci_devfn(2, 0), 0, 1, 1);
	/* Below: two bridges claim bus 2, inside their parent's range. */
	pci_cfg_add_bridge(0, 1, pci_devfn(0, 0), 1, 2, 3);
	pci_cfg_add_bridge(0, 1, pci_devfn(1, 0), 1, 2, 2);
	/* And a bridge leading back to its own bus. */
	pci_cfg_add(0, 2, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	pci_cfg_add_bridge(0, 2, pci_devfn(1, 0), 2, 2, 3);

	assert_int_equal(pci_enumerate(&host), 0);
	assert_string_equal(devs_str(),
			    "00:01.0 00:02.0 01:00.0 01:01.0 02:00.0 02:01.0");
	assert_int_equal(
		warnings(
			"0000:00:02.0: bridge 00/01-01 not followed: secondary bus already scanned (loop)"),
		1);
	assert_int_equal(
		warnings(
			"0000:01:01.0: bridge 01/02-02 not followed: secondary bus already scanned (loop)"),
		1);
	assert_int_equal(
		warnings(
			"0000:02:01.0: bridge 02/02-03 not followed: secondary bus outside the upstream"),
		1);
	assert_int_equal(warnings(""), 3);
	assert_ptr_equal(dev(2, 0, 0)->parent, dev(1, 0, 0));
}

static void test_enum_subordinate_below_secondary(void **state)
{
	add_range(0, 0, 0xff);
	pci_cfg_add_bridge(0, 0, pci_devfn(1, 0), 0, 2, 1);
	pci_cfg_add_bridge(0, 2, pci_devfn(0, 0), 2, 3, 3);
	pci_cfg_add(0, 3, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);

	assert_int_equal(pci_enumerate(&host), 0);
	/* Bus 3 is not below any followed bridge: a root bus of its own. */
	assert_string_equal(devs_str(), "00:01.0 02:00.0 03:00.0");
	assert_int_equal(
		warnings("bridge 00/02-01: subordinate below secondary"), 1);
	assert_int_equal(warnings("0000:02:00.0: bridge 02/03-03 not followed"),
			 1);
	assert_null(dev(3, 0, 0)->parent);
}

static void test_enum_other_root_buses(void **state)
{
	add_range(0, 0, 0xff);
	port(0, pci_devfn(1, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 0x10);
	pci_cfg_add(0, 1, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	/* Inside the port's range but with no bridge to it: not scanned. */
	pci_cfg_add(0, 5, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	/* A second host bridge's root bus, with a port of its own. */
	pci_cfg_add(0, 0x80, pci_devfn(0, 0), 0x8086, 0x2020, 0x060000, 0);
	port(0x80, pci_devfn(2, 0), PCI_EXP_TYPE_ROOT_PORT, 0x81, 0x81);
	pci_cfg_add(0, 0x81, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);

	pci_cfg_reads = 0;
	assert_int_equal(pci_enumerate(&host), 0);
	assert_string_equal(devs_str(),
			    "00:01.0 01:00.0 80:00.0 80:02.0 81:00.0");
	assert_null(dev(0x80, 0, 0)->parent);
	assert_ptr_equal(dev(0x81, 0, 0)->parent, dev(0x80, 2, 0));
	assert_int_equal(
		pci_log_count(LOG_INFO, "0000:00: root bus, 2 functions"), 1);
	assert_int_equal(
		pci_log_count(LOG_INFO, "0000:80: root bus, 3 functions"), 1);
	/* The sweep costs one read per (bus, device), nothing more. */
	assert_true(pci_cfg_reads < 256 * 32 + 100);
}

static void test_enum_ranges_and_segments(void **state)
{
	/* Declared out of order: bus 0's bridge still leads into 0x40.. */
	add_range(0, 0x40, 0x7f);
	add_range(1, 0, 0x0f);
	add_range(0, 0, 0x3f);
	pci_cfg_add_bridge(0, 0, pci_devfn(1, 0), 0, 0x40, 0x40);
	pci_cfg_add(0, 0x40, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	pci_cfg_add(1, 0, pci_devfn(3, 0), 0x1234, 0x11e9, 0x00ff00, 0);
	/* Outside every declared range: never probed. */
	pci_cfg_add(0, 0x80, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	pci_cfg_add(2, 0, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);

	assert_int_equal(pci_enumerate(&host), 0);
	assert_string_equal(devs_str(), "00:01.0 40:00.0 00:03.0");
	assert_int_equal(pci_find_dev(&host, 1, 0, pci_devfn(3, 0))->device,
			 0x11e9);
	assert_null(pci_find_dev(&host, 0, 0, pci_devfn(3, 0)));
	assert_ptr_equal(dev(0x40, 0, 0)->parent, dev(0, 1, 0));
	assert_int_equal(warnings(""), 0);
}

static void test_host_add_range(void **state)
{
	unsigned int i;

	assert_int_equal(pci_host_add_range(&host, 0, 2, 1), -EINVAL);
	add_range(0, 0x10, 0x1f);
	assert_int_equal(pci_host_add_range(&host, 0, 0x1f, 0x20), -EEXIST);
	assert_int_equal(pci_host_add_range(&host, 0, 0x00, 0x10), -EEXIST);
	assert_int_equal(pci_host_add_range(&host, 0, 0x00, 0xff), -EEXIST);
	add_range(0, 0x20, 0x20);
	add_range(1, 0x10, 0x1f);
	for (i = 3; i < PCI_HOST_RANGES_MAX; i++) {
		add_range((uint16_t)(i + 10), 0, 0xff);
	}
	assert_int_equal(pci_host_add_range(&host, 99, 0, 0xff), -ENOSPC);
	assert_int_equal(host.range_count, PCI_HOST_RANGES_MAX);
}

static void test_enum_unknown_header_type(void **state)
{
	add_range(0, 0, 0);
	pci_cfg_add(0, 0, pci_devfn(1, 0), 0x1234, 0x5678, 0xff0000, 0x05);
	assert_int_equal(pci_enumerate(&host), 0);
	assert_string_equal(devs_str(), "00:01.0");
	assert_int_equal(dev(0, 1, 0)->hdr_type, 0x05);
	assert_false(pci_is_bridge(dev(0, 1, 0)));
	assert_int_equal(warnings("0000:00:01.0: unknown header type 0x05"), 1);
}

/* Every allocation in turn fails: an error, nothing leaked, no crash. */
static void test_enum_out_of_memory(void **state)
{
	uint8_t *cfg;
	long n;
	int err;

	add_range(0, 0, 0xff);
	cfg = port(0, pci_devfn(1, 0), PCI_EXP_TYPE_ROOT_PORT, 1, 1);
	pci_cfg_ext_cap(cfg, 0x100, PCI_EXT_CAP_ID_AER, 0);
	pci_cfg_add(0, 1, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	pci_cfg_add(0, 0x80, pci_devfn(0, 0), 0x1234, 0x11e8, 0x00ff00, 0);
	for (n = 0;; n++) {
		pci_alloc_fail_after = n;
		err = pci_enumerate(&host);
		pci_alloc_fail_after = -1;
		if (err == 0) {
			break;
		}
		assert_int_equal(err, -ENOMEM);
		assert_int_equal(pci_log_count(LOG_ERR, "out of memory"), 1);
		pci_log_reset();
		pci_host_clear(&host);
		assert_int_equal(pci_alloc_live, 0);
	}
	assert_true(n > 4);
	assert_string_equal(devs_str(), "00:01.0 01:00.0 80:00.0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_caps_chain),
		T(test_caps_status_bit_clear),
		T(test_caps_loop),
		T(test_caps_self_loop),
		T(test_caps_out_of_range),
		T(test_caps_unaligned_pointers_masked),
		T(test_caps_full_list_is_bounded),
		T(test_caps_vanished_function),
		T(test_caps_null_capability_skipped),
		T(test_caps_header_types),
		T(test_ext_caps_chain),
		T(test_ext_caps_empty_headers),
		T(test_ext_caps_loops),
		T(test_ext_caps_out_of_range_and_unaligned),
		T(test_ext_caps_full_list_is_bounded),
		T(test_ext_caps_null_capability_skipped),
		T(test_ext_caps_only_for_pcie),
		T(test_caps_out_of_memory),
		T(test_cap_names),
		T(test_enum_no_ranges),
		T(test_enum_one_bus),
		T(test_enum_bridge_chain),
		T(test_enum_one_device_below_pcie_ports),
		T(test_enum_unassigned_secondary),
		T(test_enum_secondary_outside_ecam),
		T(test_enum_secondary_outside_parent),
		T(test_enum_bus_loop),
		T(test_enum_subordinate_below_secondary),
		T(test_enum_other_root_buses),
		T(test_enum_ranges_and_segments),
		T(test_host_add_range),
		T(test_enum_unknown_header_type),
		T(test_enum_out_of_memory),
#undef T
	};

	return deadline_run_group_tests(tests, NULL, NULL);
}
