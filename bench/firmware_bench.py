"""Firmware figures: .mpy sizes, heap after boot and in a running session, and how much
of each second the device loop is awake, measured on the real MicroPython VM running
rstep.app with the emulated IMU. Log sizes: bench/logbook_size.py. Prints figures only.

    python bench/firmware_bench.py [--minutes 5]

This VM's gc.collect() frees nothing while a program runs (its stack cannot be scanned),
so "steady state" is proven instead: the loop runs under heap_lock(), where any
allocation would raise MemoryError. The VM is a WebAssembly build on a laptop core: its awake share is a lower bound for a
microcontroller, where the same bytecode runs several times slower (not measured here).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from retrostep.sim import corpus
from retrostep.vm import mpvm
from retrostep.device import mpycross
from retrostep.formats.samples import int16_bytes
from retrostep.formats.trace import quantise

HOST = Path(mpvm.__file__).resolve().parents[1]  # host/retrostep

VM_CODE = "import device_rig\ndevice_rig.run(lock_after={lock})\n"


def mpy_sizes():
    fw = Path(mpvm.firmware_dir())
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ("xtensawin", "armv6m", "rv32imc"):
            out = mpycross.compile_tree(str(fw), str(Path(tmp) / arch), arch)
            total = sum(size for _, size in out)
            print(f"  {arch:10} {len(out)} modules, {total:,} bytes of .mpy")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    args = ap.parse_args()
    print("firmware .mpy (mpy-cross, rstep package):")
    mpy_sizes()
    trace, _ = corpus.make_case("mixed_pauses")
    b = quantise(trace)
    reps = int(np.ceil(args.minutes * 60 * b.odr_hz / len(b.samples)))
    samples = np.tile(b.samples, (reps, 1))[: int(args.minutes * 60 * b.odr_hz)]
    files = {"/data/samples.bin": int16_bytes(samples),
             "/lib/lsm6ds_emu.py": str(HOST / "sim" / "lsm6ds_emu.py"),
             "/lib/device_rig.py": str(HOST / "vm" / "device_rig.py")}
    res = mpvm.run(VM_CODE.format(lock=200), files=files,
                   heapsize=4 * 1024 * 1024 + samples.nbytes, timeout_s=900)
    boot, per_round, awake_us, wakes, sim_ms, strides, read, locked = map(
        int, res.stdout.split())
    print(f"\nMicroPython VM, rstep.app with the emulated LSM6DSOX, {sim_ms / 60000:.1f} min "
          f"session at {b.odr_hz} Hz ({read} samples, {strides} strides):")
    print(f"  heap taken by boot (IMU, haptics, button, logbook, App with its engine "
          f"built): {boot:,} bytes")
    print(f"  steady state: {locked} loop rounds run under micropython.heap_lock() "
          f"(rounds 200 on): heap allocated per step {per_round / 1000:.3f} bytes, so the "
          f"heap in use stays at the boot figure (plus the open session file)")
    print(f"  loop wakes {wakes / (sim_ms / 1000):.2f} times per second; awake "
          f"{awake_us / 1000 / (sim_ms / 1000):.2f} ms per second = "
          f"{100 * awake_us / 1000 / sim_ms:.3f}% of each second (VM on this machine; the "
          "emulated IMU's register work is included)")
    print("log bytes per hour: python bench/logbook_size.py")


if __name__ == "__main__":
    main()
