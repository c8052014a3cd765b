"""MicroPython-side bench rig: rstep.app with the emulated LSM6DS, fake pins, and a
simulated clock, fed from /data/samples.bin (int16, 6 per sample). Used by
bench/firmware_bench.py and tests/test_app_vm.py through retrostep.vm.mpvm.

run(lock_after) starts a session at t = 0 and steps the loop until the samples run
out; from round `lock_after` on, every step runs under micropython.heap_lock() (0: never).
Prints: boot_bytes step_alloc_per_locked_round_x1000 awake_us rounds sim_ms strides samples events
"""

import gc
import time
from array import array

import micropython
from lsm6ds_emu import EmuI2C, LSM6DSEmu
from rstep import app as appmod
from rstep import haptics, logbook
from rstep.button import Button
from rstep.imu import IMU


class Pin:
    def __init__(self, v=1):
        self.v = v

    def value(self, v=None):
        return self.v


class PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        self.d = duty_u16

    def freq(self, f=None):
        return 20000

    def duty_u16(self, d=None):
        if d is not None:
            self.d = d
        return self.d

    def deinit(self):
        pass


def samples_source(path="/data/samples.bin"):
    """(n, source): the samples of `path` and the emulated IMU's sensing, which fills
    one preallocated sample per call (None past the end)."""
    data = array("h")
    with open(path, "rb") as f:
        data.extend(f.read())
    n = len(data) // 6
    cur = array("h", [0] * 6)

    def source(i):
        if i >= n:
            return None
        j = i * 6
        for k in range(6):
            cur[k] = data[j + k]
        return cur

    return n, source


def run(lock_after=0, odr=104):
    n, source = samples_source()
    emu = LSM6DSEmu("LSM6DSOX", source=source)
    now = array("i", [0])

    def clock():
        return now[0]

    gc.collect()
    m0 = gc.mem_alloc()
    imu = IMU(EmuI2C(emu))
    motor = haptics.Haptics(Pin(), PWM, now_ms=clock)
    button = Button(Pin(), now_ms=clock)
    log = logbook.Logbook("/logs", fs_free_fn=lambda: 1 << 24)
    a = appmod.App(imu, motor, button, log, board_id="rig")
    boot = gc.mem_alloc() - m0
    a.start_session(0)
    awake_us = 0
    rounds = 0
    t_end = n * 1000 // odr
    step_alloc = 0
    locked_rounds = 0
    while now[0] < t_end:
        locked = lock_after and rounds >= lock_after
        t0 = time.ticks_us()
        if locked:
            ma = gc.mem_alloc()
            micropython.heap_lock()
            try:
                ms = a.step(now[0])
            finally:
                micropython.heap_unlock()
            step_alloc += gc.mem_alloc() - ma
            locked_rounds += 1
        else:
            ms = a.step(now[0])
        awake_us += time.ticks_diff(time.ticks_us(), t0)
        rounds += 1
        emu.advance_us(ms * 1000)
        now[0] += ms
    per_round = step_alloc * 1000 // max(1, locked_rounds)
    a.stop_session(now[0])
    print(boot, per_round, awake_us, rounds, now[0], a.engine.strides, a.samples,
          locked_rounds)
