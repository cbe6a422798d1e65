import os

import numpy as np
import pytest
from skimage import data

from mfsr.core.backend import gpu_available

# Hypothesis (tests/test_properties.py). "ci", the default: the same examples on every
# run (derandomize: a failure in CI reproduces on any machine, no example database), no
# per-example deadline (the first call of a Numba kernel compiles it), few examples, so
# that the property tests add well under a minute to the suite on 2 cores. "dev": more
# examples, freshly random, kept in .hypothesis/ so a failure found once is tried first
# next time: HYPOTHESIS_PROFILE=dev python -m pytest tests/test_properties.py
try:
    from hypothesis import HealthCheck, settings
except ImportError:        # pragma: no cover - hypothesis is in the test extra
    pass
else:
    settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                              max_examples=12, print_blob=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("dev", deadline=None, max_examples=200,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def camera():
    """A 128x128 crop of scikit-image's camera, float32 in [0, 1]."""
    return (data.camera()[96:224, 160:288] / 255.0).astype(np.float32)


@pytest.fixture(scope="session")
def astronaut():
    """A 128x128 RGB crop of scikit-image's astronaut, uint8."""
    return data.astronaut()[32:160, 160:288]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device with CuPy on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)

# colour-science sets NumPy's print options (legacy="1.13") for the whole process when it
# is first imported, which changes what later doctests print; import it once here through
# mfsr.grading, which restores the options, so the tests' own `import colour` finds it loaded.
try:
    from mfsr.grading.transfer import colour_science
    colour_science()
except ImportError:        # pragma: no cover - colour-science is a dependency
    pass
