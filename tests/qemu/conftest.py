import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import moat  # noqa: E402


@pytest.fixture
def machine():
    """Boots a default machine (intel-iommu, one edu) to the prompt."""
    with moat.Machine(devices=["edu,id=edu0"]) as m:
        m.wait_ready()
        yield m
