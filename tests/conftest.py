import os
import sys

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))

# CI profile: fixed derandomized examples so a CI run is reproducible; "dev" explores more.
settings.register_profile(
    "ci", derandomize=True, max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", max_examples=500, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items):
    # The Python-driven v2 testbench under Verilator (about a minute of builds) belongs to the
    # full suite; its Icarus twin and the harness mode stay in the quick selection.
    for item in items:
        if item.originalname == "test_v2_presets" and "python-verilator" in item.name:
            item.add_marker(pytest.mark.full)
