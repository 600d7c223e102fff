import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import moat  # noqa: E402


@pytest.fixture
def machine():
    """Boots a default machine (intel-iommu, one edu) to the prompt.  The
    unit is the same on every QEMU: 10 defaults to aw-bits=48, 7.2 to 39."""
    with moat.Machine(devices=["edu,id=edu0"],
                      iommu="intel-iommu,intremap=on,aw-bits=39") as m:
        m.wait_ready()
        yield m
