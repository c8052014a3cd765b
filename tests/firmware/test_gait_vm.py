"""The engine on the real MicroPython VM: the same events as CPython, bit for bit, with
the per-sample loop under micropython.heap_lock() for whole traces."""

import numpy as np
import pytest
from conftest import adversarial_samples

from retrostep.sim import corpus
from retrostep.vm.enginevm import engine_counters, run_engine_vm
from retrostep.engine.run import engine_settings, run_engine
from retrostep.formats.trace import quantise

pytestmark = pytest.mark.vm

PARITY_CASES = ("mixed_pauses", "bwd_curve_left", "shuffle_bwd", "jog_bwd", "mount_reversed",
                "turning_in_place", "seated_leg_swing")


@pytest.mark.parametrize("name", PARITY_CASES)
def test_vm_events_equal_cpython_events_under_heap_lock(name):
    trace, _ = corpus.make_case(name)
    b = quantise(trace)
    settings, cal = engine_settings(trace.meta)
    assert not settings  # the calibration case goes through the calibration walk
    eng, events = run_engine(b.samples, b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb,
                             calibrate_strides=cal)
    vm = run_engine_vm(b.samples, b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb,
                       calibrate_strides=cal)
    assert vm.samples == len(b.samples)
    assert vm.events == events
    assert vm.counters == engine_counters(eng)
    if name not in ("turning_in_place", "seated_leg_swing"):
        assert eng.strides > 5


@pytest.mark.slow
@pytest.mark.parametrize("odr", [104, 208])
def test_saturated_and_random_input_never_allocates_on_the_vm(odr):
    samples = adversarial_samples(1000 + odr)
    eng, events = run_engine(samples, odr, 488, 70000)
    vm = run_engine_vm(samples, odr, 488, 70000)  # MemoryError here = a big int or alloc
    assert vm.events == events and vm.counters == engine_counters(eng)
    noise = np.random.default_rng(odr).integers(-32768, 32768, (20000, 6)).astype(np.int16)
    vm = run_engine_vm(noise, odr, 488, 70000)
    assert vm.samples == 20000


def test_heap_lock_really_catches_allocation():
    """The proof above is only worth something if an allocation would fail the run."""
    from retrostep.vm.mpvm import MicroPythonError, run

    code = ("import micropython\n"
            "def f(n):\n"
            "    micropython.heap_lock()\n"
            "    try:\n"
            "        x = 1 << n  # a big int: must be allocated\n"
            "    finally:\n"
            "        micropython.heap_unlock()\n"
            "f(40)\n")
    with pytest.raises(MicroPythonError) as err:
        run(code, mount_firmware=False, timeout_s=30)
    assert err.value.exc_type == "MemoryError"


def test_engine_state_fits_in_4_kib_of_heap():
    trace, _ = corpus.make_case("walk_bwd_slow")
    b = quantise(trace)
    vm = run_engine_vm(b.samples[:2000], b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    assert 0 < vm.engine_heap_bytes <= 4096
