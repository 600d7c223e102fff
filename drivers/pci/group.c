#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/hw.h"
#include "drivers/pci/internal.h"
#include "drivers/pci/pci.h"
#include "lib/bits.h"
#include "lib/errno.h"
#include "lib/log.h"

/*
 * Access Control Services and the isolation groups derived from them
 * (pci.h gives the rules).  ACS is only ever turned on, never relied on
 * unless the Control register says it is on, and never assumed for a
 * function that lacks the capability.
 */

/* What isolation needs of a downstream port (PCIe §6.12.1.1). */
#define ACS_PORT_NEEDS		PCI_ACS_SV
#define ACS_PORT_IF_IMPLEMENTED (PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)
/* ... and of a function of a multi-function device (PCIe §6.12.1.2). */
#define ACS_FUNCTION_IF_IMPLEMENTED (PCI_ACS_RR | PCI_ACS_CR)

/* The most requester ids compared per device: its own and its bridges'. */
#define GROUP_ALIASES_MAX 8U

void pci_acs_enable(const struct pci_dev *d)
{
	int pos = pci_find_ext_cap(d, PCI_EXT_CAP_ID_ACS);
	uint16_t cap, ctrl, want;

	if (!pos) {
		return;
	}
	cap = hw_pci_read16(d->seg, d->bus, d->devfn,
			    (uint16_t)(pos + PCI_ACS_CAP));
	ctrl = hw_pci_read16(d->seg, d->bus, d->devfn,
			     (uint16_t)(pos + PCI_ACS_CTRL));
	if (cap == UINT16_MAX || ctrl == UINT16_MAX) {
		return;
	}
	/* Translation Blocking and Egress Control are policies, left alone. */
	want = (uint16_t)(ctrl |
			  (cap & (ACS_PORT_NEEDS | ACS_PORT_IF_IMPLEMENTED)));
	if (want != ctrl) {
		hw_pci_write16(d->seg, d->bus, d->devfn,
			       (uint16_t)(pos + PCI_ACS_CTRL), want);
	}
}

/* ACS Control has every bit of need, and those of maybe d implements. */
static bool acs_on(const struct pci_dev *d, uint16_t need, uint16_t maybe)
{
	int pos = pci_find_ext_cap(d, PCI_EXT_CAP_ID_ACS);
	uint16_t cap, ctrl, want;

	if (!pos) {
		return false;
	}
	cap = hw_pci_read16(d->seg, d->bus, d->devfn,
			    (uint16_t)(pos + PCI_ACS_CAP));
	ctrl = hw_pci_read16(d->seg, d->bus, d->devfn,
			     (uint16_t)(pos + PCI_ACS_CTRL));
	if (cap == UINT16_MAX || ctrl == UINT16_MAX) {
		return false;
	}
	want = (uint16_t)(need | (maybe & cap));
	return (ctrl & want) == want;
}

static bool is_multifunction(const struct pci_dev *d)
{
	return d->multifunction || rid_devfn_function(d->devfn) != 0;
}

/*
 * Whether traffic from d, or from below d when it is a bridge, can reach
 * no peer without passing through the IOMMU.  A conventional function or
 * bridge, a PCIe to PCI/PCI-X bridge, or a function of an unknown kind
 * never isolates; a single-function endpoint or upstream port has no peer
 * beside it to reach (PCIe §6.12.1.3).
 */
static bool isolates(const struct pci_dev *d)
{
	if (!pci_is_pcie(d)) {
		return false;
	}
	switch (d->pcie_type) {
	case PCI_EXP_TYPE_ROOT_PORT:
	case PCI_EXP_TYPE_DOWNSTREAM:
		return acs_on(d, ACS_PORT_NEEDS, ACS_PORT_IF_IMPLEMENTED);
	case PCI_EXP_TYPE_ENDPOINT:
	case PCI_EXP_TYPE_LEG_END:
	case PCI_EXP_TYPE_RC_END:
	case PCI_EXP_TYPE_UPSTREAM:
		return !is_multifunction(d) ||
		       acs_on(d, 0, ACS_FUNCTION_IF_IMPLEMENTED);
	default:
		return false;
	}
}

/* One listed device while groups are computed. */
struct member {
	struct pci_dev *d;
	unsigned int up;       /* union-find parent, an index */
	struct pci_group *g;   /* at a class's root: the class's group */
	struct pci_dev **tail; /* at a root: where the next member goes */
	rid_t ids[GROUP_ALIASES_MAX];
	unsigned int id_count;
	bool keep; /* not present now: stays with its old group's members */
};

static unsigned int find_root(struct member *m, unsigned int i)
{
	while (m[i].up != i) {
		m[i].up = m[m[i].up].up;
		i = m[i].up;
	}
	return i;
}

static void join(struct member *m, unsigned int a, unsigned int b)
{
	a = find_root(m, a);
	b = find_root(m, b);
	/* The lower index is the root: a class's root is its first member. */
	if (a < b) {
		m[b].up = a;
	} else {
		m[a].up = b;
	}
}

static bool index_of(const struct member *m, unsigned int n,
		     const struct pci_dev *d, unsigned int *at)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (m[i].d == d) {
			*at = i;
			return true;
		}
	}
	return false;
}

static bool share_id(const struct member *a, const struct member *b)
{
	unsigned int i, j;

	if (a->d->seg != b->d->seg) {
		return false;
	}
	for (i = 0; i < a->id_count; i++) {
		for (j = 0; j < b->id_count; j++) {
			if (rid_eq(a->ids[i], b->ids[j])) {
				return true;
			}
		}
	}
	return false;
}

static bool same_device(const struct pci_dev *a, const struct pci_dev *b)
{
	return a->seg == b->seg && a->bus == b->bus &&
	       rid_devfn_device(a->devfn) == rid_devfn_device(b->devfn);
}

/*
 * Whether the ACS rules may join a and b: both answer.  A function that
 * does not answer (its link down, with or without an event) reads no ACS
 * at all; judged by all-ones it would merge with its siblings and, once
 * its link is back, split off again into a group of its own, in both
 * directions moving a function between owners without their consent.
 */
static bool both_answer(const struct member *a, const struct member *b)
{
	return !a->keep && !b->keep;
}

/*
 * Whether a and b were one group and either cannot be judged now: they
 * stay one until both answer again.
 */
static bool kept_together(const struct member *a, const struct member *b)
{
	return (a->keep || b->keep) && a->d->group &&
	       a->d->group == b->d->group;
}

/* The classes: every pair the rules of pci.h put together is joined. */
static void classify(struct member *m, unsigned int n)
{
	const struct pci_dev *b, *top;
	unsigned int i, j, at;

	for (i = 0; i < n; i++) {
		/* The highest bridge above that does not isolate owns d. */
		top = NULL;
		for (b = m[i].d->parent; b; b = b->parent) {
			if (!isolates(b)) {
				top = b;
			}
		}
		if (top && index_of(m, n, top, &at) &&
		    both_answer(&m[i], &m[at])) {
			join(m, i, at);
		}
		for (j = i + 1; j < n; j++) {
			if (share_id(&m[i], &m[j]) ||
			    kept_together(&m[i], &m[j]) ||
			    (both_answer(&m[i], &m[j]) &&
			     same_device(m[i].d, m[j].d) && !isolates(m[i].d) &&
			     !isolates(m[j].d))) {
				join(m, i, j);
			}
		}
	}
}

/*
 * Gives each class a group: the old group of its first member whose old
 * group no other class took yet, else a new one.  New ones are allocated before
 * anything changes, so running out of memory changes nothing.
 */
static int choose_groups(struct pci_host *host, struct member *m,
			 unsigned int n)
{
	struct pci_group *old, *fresh = NULL, *g;
	unsigned int i, k, r;

	for (i = 0; i < n; i++) {
		r = find_root(m, i);
		old = m[i].d->group;
		if (m[r].g || !old) {
			continue;
		}
		for (k = 0; k < n && m[k].g != old; k++) {
		}
		if (k == n) {
			m[r].g = old;
		}
	}
	for (i = 0; i < n; i++) {
		if (find_root(m, i) != i || m[i].g) {
			continue;
		}
		g = hw_zalloc(sizeof(*g));
		if (!g) {
			goto out_free_fresh;
		}
		g->next = fresh;
		fresh = g;
		m[i].g = g;
	}
	return 0;

out_free_fresh:
	while (fresh) {
		g = fresh->next;
		hw_free(fresh);
		fresh = g;
	}
	return -ENOMEM;
}

static void group_append(struct pci_host *host, struct pci_group *g)
{
	struct pci_group **link = &host->groups;

	while (*link) {
		link = &(*link)->next;
	}
	g->next = NULL;
	*link = g;
}

static void group_free_if_empty(struct pci_host *host, struct pci_group *g)
{
	struct pci_group **link;

	if (g->dev_count) {
		return;
	}
	for (link = &host->groups; *link; link = &(*link)->next) {
		if (*link == g) {
			*link = g->next;
			break;
		}
	}
	hw_free(g);
}

/*
 * Rebuilds every group's member list from the classes.  A class's root is
 * its first member (join()), met before the others.  A new group (id 0)
 * gets the next id and goes to the end of the host's list.
 */
static void commit(struct pci_host *host, struct member *m, unsigned int n)
{
	struct pci_group *g, *next;
	unsigned int i, r;

	for (g = host->groups; g; g = g->next) {
		g->devs = NULL;
		g->dev_count = 0;
	}
	for (i = 0; i < n; i++) {
		r = find_root(m, i);
		g = m[r].g;
		if (r == i) {
			m[r].tail = &g->devs;
			if (!g->id) {
				g->id = ++host->group_id_last;
				group_append(host, g);
			}
		}
		m[i].d->group = g;
		m[i].d->group_next = NULL;
		*m[r].tail = m[i].d;
		m[r].tail = &m[i].d->group_next;
		g->dev_count++;
	}
	for (g = host->groups; g; g = next) {
		next = g->next;
		group_free_if_empty(host, g);
	}
}

int pci_groups_update(struct pci_host *host)
{
	struct member *m;
	struct pci_dev *d;
	unsigned int i, n = 0;
	int err;

	pci_for_each_dev (host, d) {
		n++;
	}
	if (n == 0) {
		pci_groups_clear(host);
		return 0;
	}
	m = hw_zalloc(n * sizeof(*m));
	if (!m) {
		return -ENOMEM;
	}
	i = 0;
	pci_for_each_dev (host, d) {
		m[i].d = d;
		m[i].up = i;
		m[i].id_count = pci_dma_aliases(d, m[i].ids, GROUP_ALIASES_MAX);
		m[i].keep = d->group && !pci_dev_present(d);
		i++;
	}
	classify(m, n);
	err = choose_groups(host, m, n);
	if (err == 0) {
		commit(host, m, n);
	}
	hw_free(m);
	return err;
}

void pci_group_leave(struct pci_host *host, struct pci_dev *d)
{
	struct pci_group *g = d->group;
	struct pci_dev **link;

	if (!g) {
		return;
	}
	for (link = &g->devs; *link; link = &(*link)->group_next) {
		if (*link == d) {
			*link = d->group_next;
			g->dev_count--;
			break;
		}
	}
	d->group = NULL;
	d->group_next = NULL;
	group_free_if_empty(host, g);
}

void pci_groups_clear(struct pci_host *host)
{
	struct pci_group *g;
	struct pci_dev *d;

	pci_for_each_dev (host, d) {
		d->group = NULL;
		d->group_next = NULL;
	}
	while ((g = host->groups)) {
		host->groups = g->next;
		hw_free(g);
	}
}
