#include "drivers/pci/reset.h"

#include "lib/errno.h"

const char *pci_quiesce_method_name(enum pci_quiesce_method method)
{
	return method == PCI_QUIESCE_FLR ? "flr" : "none";
}

int pci_dev_quiesce(struct pci_host *host, struct pci_dev *d,
		    uint64_t timeout_ns, enum pci_quiesce_method *used)
{
	int ret;

	(void)host;
	*used = PCI_QUIESCE_NONE;
	if (!pci_dev_reachable(d)) {
		return -ENODEV;
	}
	ret = pci_reset_function(d, timeout_ns);
	if (ret == 0) {
		*used = PCI_QUIESCE_FLR;
	}
	return ret;
}
