#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/pci/pci.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"

/*
 * Capability lists come from the device and are not trusted: a pointer may
 * be out of range, the list may loop, a function may vanish in the middle
 * of a walk and read all-ones.  Each walk records what it has seen, one bit
 * per dword of configuration space, and stops at the first pointer it has
 * already followed.  That also bounds it: every step visits a new dword, so
 * a capability list has at most (0x100 - 0x40) / 4 = 48 entries and an
 * extended list at most (0x1000 - 0x100) / 4 = 960.
 */
struct cap_walk {
	struct pci_dev *d;
	const char *what; /* for messages */
	uint64_t seen[PCI_CFG_SPACE_EXP_SIZE / 4 / 64];
	struct pci_cap **tail; /* where the next entry is linked in */
};

/* True when pos may be followed; otherwise says why and ends the walk. */
static bool walk_visit(struct cap_walk *w, unsigned int pos, unsigned int min)
{
	unsigned int dword = pos / 4;

	if (pos < min) {
		log_warn("pci",
			 PCI_BDF_FMT
			 ": %s pointer 0x%03x out of range, list cut",
			 PCI_BDF_ARGS(w->d->seg, w->d->bus, w->d->devfn),
			 w->what, pos);
		return false;
	}
	if (w->seen[dword / 64] & BIT64(dword % 64)) {
		log_warn("pci",
			 PCI_BDF_FMT ": %s list loops back to 0x%03x, list cut",
			 PCI_BDF_ARGS(w->d->seg, w->d->bus, w->d->devfn),
			 w->what, pos);
		return false;
	}
	w->seen[dword / 64] |= BIT64(dword % 64);
	return true;
}

static int walk_add(struct cap_walk *w, uint16_t id, uint16_t offset)
{
	struct pci_cap *c = hw_zalloc(sizeof(*c));

	if (!c) {
		return -ENOMEM;
	}
	c->id = id;
	c->offset = offset;
	*w->tail = c;
	w->tail = &c->next;
	return 0;
}

/* PCI 3.0 §6.7: the list starts at the header's capability pointer. */
static int read_std_caps(struct pci_dev *d)
{
	struct cap_walk w = {.d = d, .what = "capability", .tail = &d->caps};
	uint16_t status;
	unsigned int pos;
	uint8_t id;
	int err;

	status = hw_pci_read16(d->seg, d->bus, d->devfn, PCI_STATUS);
	if (!(status & PCI_STATUS_CAP_LIST)) {
		return 0;
	}
	switch (d->hdr_type) {
	case PCI_HEADER_TYPE_NORMAL:
	case PCI_HEADER_TYPE_BRIDGE:
		pos = PCI_CAPABILITY_LIST;
		break;
	case PCI_HEADER_TYPE_CARDBUS:
		pos = PCI_CB_CAPABILITY_LIST;
		break;
	default:
		return 0;
	}
	/*
	 * Bits 1:0 of every pointer are reserved and software must mask them
	 * (PCI 3.0 §6.7).  A Null Capability (ID 0) is only a link and is not
	 * recorded.  Bounded by walk_visit(), see struct cap_walk.
	 */
	pos = hw_pci_read8(d->seg, d->bus, d->devfn, (uint16_t)pos) &
	      PCI_CAP_LIST_PTR_MASK;
	while (pos != 0 && walk_visit(&w, pos, PCI_CAP_FIRST)) {
		id = hw_pci_read8(d->seg, d->bus, d->devfn,
				  (uint16_t)(pos + PCI_CAP_LIST_ID));
		if (id == PCI_CAP_ID_NONE) {
			log_warn(
				"pci",
				PCI_BDF_FMT
				": capability at 0x%02x reads 0xff (function gone?), list cut",
				PCI_BDF_ARGS(d->seg, d->bus, d->devfn), pos);
			break;
		}
		if (id != PCI_CAP_ID_NULL) {
			err = walk_add(&w, id, (uint16_t)pos);
			if (err) {
				return err;
			}
		}
		pos = hw_pci_read8(d->seg, d->bus, d->devfn,
				   (uint16_t)(pos + PCI_CAP_LIST_NEXT)) &
		      PCI_CAP_LIST_PTR_MASK;
	}
	return 0;
}

/*
 * PCIe §7.6: extended capabilities start at 0x100 and exist only in a PCI
 * Express function's configuration space; a conventional function behind
 * a bridge reads all-ones there or, on some hosts, aliases its first 256
 * bytes, so it is not walked.
 */
static int read_ext_caps(struct pci_dev *d)
{
	struct cap_walk w = {
		.d = d,
		.what = "extended capability",
		.tail = &d->ext_caps,
	};
	unsigned int pos = PCI_EXT_CAP_FIRST;
	uint32_t hdr;
	uint16_t id;
	int err;

	if (!pci_is_pcie(d)) {
		return 0;
	}
	/* Bounded by walk_visit(), see struct cap_walk. */
	while (pos != 0 && walk_visit(&w, pos, PCI_EXT_CAP_FIRST)) {
		hdr = hw_pci_read32(d->seg, d->bus, d->devfn, (uint16_t)pos);
		/*
		 * A zero header ends the list (§7.6.3), all-ones means the
		 * function is absent or gone.  ID 0 with a next offset is a
		 * Null Capability, only a link.
		 */
		if (hdr == 0 || hdr == UINT32_MAX) {
			break;
		}
		id = (uint16_t)field_get32(PCI_EXT_CAP_HDR_ID, hdr);
		if (id != PCI_EXT_CAP_ID_NULL) {
			err = walk_add(&w, id, (uint16_t)pos);
			if (err) {
				return err;
			}
		}
		/* Bits 1:0 of the offset are reserved and masked (§7.6.3). */
		pos = field_get32(PCI_EXT_CAP_HDR_NEXT, hdr) &
		      PCI_EXT_CAP_NEXT_MASK;
	}
	return 0;
}

static void free_list(struct pci_cap **head)
{
	struct pci_cap *c = *head;
	struct pci_cap *next;

	while (c) {
		next = c->next;
		hw_free(c);
		c = next;
	}
	*head = NULL;
}

void pci_free_caps(struct pci_dev *d)
{
	free_list(&d->caps);
	free_list(&d->ext_caps);
}

int pci_read_caps(struct pci_dev *d)
{
	int err;

	pci_free_caps(d);
	err = read_std_caps(d);
	if (err) {
		goto out_free_caps;
	}
	err = read_ext_caps(d);
	if (err) {
		goto out_free_caps;
	}
	return 0;

out_free_caps:
	pci_free_caps(d);
	return err;
}

static int find_in(const struct pci_cap *c, uint16_t id)
{
	for (; c; c = c->next) {
		if (c->id == id) {
			return c->offset;
		}
	}
	return 0;
}

int pci_find_cap(const struct pci_dev *d, uint8_t id)
{
	return find_in(d->caps, id);
}

int pci_find_ext_cap(const struct pci_dev *d, uint16_t id)
{
	return find_in(d->ext_caps, id);
}

static const char *const cap_names[] = {
	[PCI_CAP_ID_PM] = "pm",		[PCI_CAP_ID_AGP] = "agp",
	[PCI_CAP_ID_VPD] = "vpd",	[PCI_CAP_ID_SLOTID] = "slotid",
	[PCI_CAP_ID_MSI] = "msi",	[PCI_CAP_ID_CHSWP] = "chswp",
	[PCI_CAP_ID_PCIX] = "pcix",	[PCI_CAP_ID_HT] = "ht",
	[PCI_CAP_ID_VNDR] = "vndr",	[PCI_CAP_ID_DBG] = "dbg",
	[PCI_CAP_ID_CCRC] = "ccrc",	[PCI_CAP_ID_SHPC] = "shpc",
	[PCI_CAP_ID_SSVID] = "ssvid",	[PCI_CAP_ID_AGP3] = "agp3",
	[PCI_CAP_ID_SECDEV] = "secdev", [PCI_CAP_ID_EXP] = "pcie",
	[PCI_CAP_ID_MSIX] = "msix",	[PCI_CAP_ID_SATA] = "sata",
	[PCI_CAP_ID_AF] = "af",		[PCI_CAP_ID_EA] = "ea",
};

static const char *const ext_cap_names[] = {
	[PCI_EXT_CAP_ID_AER] = "aer",	    [PCI_EXT_CAP_ID_VC] = "vc",
	[PCI_EXT_CAP_ID_DSN] = "dsn",	    [PCI_EXT_CAP_ID_PWR] = "pwr",
	[PCI_EXT_CAP_ID_RCLD] = "rcld",	    [PCI_EXT_CAP_ID_RCILC] = "rcilc",
	[PCI_EXT_CAP_ID_RCEC] = "rcec",	    [PCI_EXT_CAP_ID_MFVC] = "mfvc",
	[PCI_EXT_CAP_ID_VC9] = "vc9",	    [PCI_EXT_CAP_ID_RCRB] = "rcrb",
	[PCI_EXT_CAP_ID_VNDR] = "vndr",	    [PCI_EXT_CAP_ID_ACS] = "acs",
	[PCI_EXT_CAP_ID_ARI] = "ari",	    [PCI_EXT_CAP_ID_ATS] = "ats",
	[PCI_EXT_CAP_ID_SRIOV] = "sriov",   [PCI_EXT_CAP_ID_MRIOV] = "mriov",
	[PCI_EXT_CAP_ID_MCAST] = "mcast",   [PCI_EXT_CAP_ID_PRI] = "pri",
	[PCI_EXT_CAP_ID_REBAR] = "rebar",   [PCI_EXT_CAP_ID_DPA] = "dpa",
	[PCI_EXT_CAP_ID_TPH] = "tph",	    [PCI_EXT_CAP_ID_LTR] = "ltr",
	[PCI_EXT_CAP_ID_SECPCI] = "secpci", [PCI_EXT_CAP_ID_PMUX] = "pmux",
	[PCI_EXT_CAP_ID_PASID] = "pasid",   [PCI_EXT_CAP_ID_DPC] = "dpc",
	[PCI_EXT_CAP_ID_L1SS] = "l1ss",	    [PCI_EXT_CAP_ID_PTM] = "ptm",
	[PCI_EXT_CAP_ID_DVSEC] = "dvsec",   [PCI_EXT_CAP_ID_DLF] = "dlf",
	[PCI_EXT_CAP_ID_PL_16GT] = "pl16g",
};

const char *pci_cap_name(uint8_t id)
{
	return id < ARRAY_SIZE(cap_names) ? cap_names[id] : NULL;
}

const char *pci_ext_cap_name(uint16_t id)
{
	return id < ARRAY_SIZE(ext_cap_names) ? ext_cap_names[id] : NULL;
}
