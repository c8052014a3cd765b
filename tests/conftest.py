"""Shared fixtures and the two markers:

- `vm`: the test runs the real MicroPython VM (Node.js and the npm package). Without
  them it is skipped, always with the same reason; with RETROSTEP_REQUIRE_VM=1 (CI)
  a missing VM is an error instead, so no VM test can silently not run.
- `slow`: more than a few seconds. `pytest -m "not slow"` runs the rest in about a
  minute.
"""

import os

import numpy as np
import pytest

from retrostep.sim import corpus
from retrostep.vm import mpvm

VM_MISSING = "the MicroPython VM is missing: Node.js >= 18 and `npm ci` (see README)"


def pytest_collection_modifyitems(config, items):
    vm_items = [item for item in items if item.get_closest_marker("vm")]
    if not vm_items or mpvm.available():
        return
    if os.environ.get("RETROSTEP_REQUIRE_VM"):
        raise pytest.UsageError(f"RETROSTEP_REQUIRE_VM is set but {VM_MISSING}")
    for item in vm_items:
        item.add_marker(pytest.mark.skip(reason=VM_MISSING))


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    """The whole labelled corpus, written once per test session."""
    out = tmp_path_factory.mktemp("corpus")
    corpus.write_corpus(str(out))
    return out


def adversarial_samples(seed, segments=300):
    """int16 input no sensor should produce in walking, but any could: still stances
    (so swings start and end) between bursts of full-range noise, saturation on every
    axis, constant extremes and big gaussian noise."""
    rng = np.random.default_rng(seed)
    still = np.array([0, 0, 2049, 0, 0, 0], dtype=np.int16)
    out = []
    for _ in range(segments):
        out.append(np.tile(still + rng.integers(-3, 4, 6).astype(np.int16),
                           (int(rng.integers(4, 40)), 1)))
        n = int(rng.integers(1, 600))
        mode = int(rng.integers(0, 4))
        if mode == 0:
            seg = rng.integers(-32768, 32768, (n, 6))
        elif mode == 1:
            seg = rng.choice([-32768, 32767], (n, 6))
        elif mode == 2:
            seg = np.tile(rng.choice([-32768, 32767, 0], 6), (n, 1))
        else:
            seg = (rng.normal(0, 1, (n, 6)) * rng.choice([100, 3000, 20000])).clip(-32768, 32767)
        out.append(seg.astype(np.int16))
    return np.concatenate(out)
