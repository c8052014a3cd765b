"""The device loop on the real MicroPython VM: a session of a walking trace with every
loop round after the first under micropython.heap_lock()."""

import pytest
from pathlib import Path

import retrostep
from retrostep.sim import corpus
from retrostep.vm import mpvm
from retrostep.engine.run import run_engine
from retrostep.formats.samples import int16_bytes
from retrostep.formats.trace import quantise

pytestmark = pytest.mark.vm

HOST = Path(retrostep.__file__).resolve().parent


def test_device_loop_allocates_nothing_per_round_and_counts_like_replay():
    trace, _ = corpus.make_case("walk_bwd_slow")
    b = quantise(trace)
    files = {"/data/samples.bin": int16_bytes(b.samples),
             "/lib/lsm6ds_emu.py": str(HOST / "sim" / "lsm6ds_emu.py"),
             "/lib/device_rig.py": str(HOST / "vm" / "device_rig.py")}
    res = mpvm.run("import device_rig\ndevice_rig.run(lock_after=1)\n", files=files,
                   heapsize=2 * 1024 * 1024 + b.samples.nbytes, timeout_s=300)
    boot, per_step, _, rounds, _, strides, samples, locked = map(int, res.stdout.split())
    assert locked == rounds - 1 > 50
    assert per_step == 0
    assert 0 < boot < 40_000
    eng, _ = run_engine(b.samples[:samples], b.odr_hz, b.accel_ug_per_lsb, b.gyro_udps_per_lsb)
    assert strides == eng.strides == 30
