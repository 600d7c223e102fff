"""A machine shaped like a server (issue 16): four CPUs (moat runs on the
bootstrap processor; the others stay parked as the firmware left them),
6 GiB of memory, most of it above 4 GiB, and no HPET, so the TSC is
calibrated against the ACPI PM timer.  DMA isolation must work as on the
default machine: the checks of test_isolation.py run here unchanged."""
import re

import pytest

import moat
# The imported tests run here, against this module's vm fixture.
from test_isolation import (DEVICES,
                            test_device_behind_pcie_pci_bridge_uses_alias,
                            test_iommu_reports_unit_and_width,
                            test_large_pages_used_when_aligned,
                            test_mapped_buffer_moves_bytes_both_ways_and_unmap_blocks,
                            test_remap_same_iova_reaches_new_page,
                            test_unattached_device_is_denied)
from vtd import edus

CONFIG = "aw-bits=48"
CPUS = 4


@pytest.fixture(scope="module")
def vm():
    with moat.Machine(devices=DEVICES, memory="6G",
                      iommu="intel-iommu,intremap=on," + CONFIG,
                      extra=["-machine", "hpet=off", "-smp", str(CPUS)]) as m:
        m.wait_ready()
        m.config = CONFIG
        m.root_edu, m.bridged_edu = edus(m)
        yield m


def test_server_shape(vm):
    assert len(vm.qmp_cmd("query-cpus-fast")) == CPUS
    version = vm.ok("version")
    assert re.match(r"tsc \d+ Hz from acpi-pm-timer$", version[1]), version
    mem = "\n".join(vm.ok("mem"))
    pages = int(re.search(r"free pages \d+ of (\d+)", mem).group(1))
    assert pages * 4096 > 5 << 30, mem
    assert not any("HPET" in l for l in vm.ok("acpi"))
