"""MicroPython-side rig for tests/firmware/test_app_vm.py: rstep.app's loop as main()
runs it (App.run_step) with the emulated LSM6DS on a bus that can fail, fake pins and a
simulated clock, fed from /data/samples.bin (int16, 6 per sample); the fake pins and
the samples come from the bench rig, host/retrostep/vm/device_rig.py.

run(lock_after, outages, bursts) starts a session at t = 0 and steps the loop until the
samples run out; from round `lock_after` on, every round runs under
micropython.heap_lock(): firmware that allocates there raises MemoryError (a crash).
The emulator's register writes allocate (its set-up arithmetic): they run with the
lock lifted, as every transfer does on the virtual board (the chip is not the
firmware's heap), and rounds with writes (the IMU set up again) are left out of the
allocation figure. Prints one line of numbers: per-round allocation in the locked
rounds without writes (bytes x 1000), rounds, locked rounds, steps, strides, samples,
lost, IMU errors, IMU resets, gaps, crashes, bus errors injected.
"""

import gc
from array import array

import micropython
from device_rig import PWM, Pin, samples_source
from lsm6ds_emu import EmuI2C, LSM6DSEmu
from rstep import app as appmod
from rstep import haptics, logbook
from rstep.button import Button
from rstep.imu import IMU


class Bus:
    """The emulated bus, register writes with the heap lock lifted."""

    def __init__(self, bus):
        self.bus = bus
        self.writes = 0

    def readfrom_mem_into(self, addr, reg, buf):
        self.bus.readfrom_mem_into(addr, reg, buf)

    def writeto_mem(self, addr, reg, buf):
        self.writes += 1
        micropython.heap_lock()
        d = micropython.heap_unlock()
        for _ in range(d):
            micropython.heap_unlock()
        try:
            self.bus.writeto_mem(addr, reg, buf)
        finally:
            for _ in range(d):
                micropython.heap_lock()


def run(lock_after=1, outages=(), bursts=None, odr=104):
    n, source = samples_source()
    emu = LSM6DSEmu("LSM6DSOX", source=source)
    bus = EmuI2C(emu)
    now = array("i", [0])

    def clock():
        return now[0]

    wbus = Bus(bus)
    imu = IMU(wbus)
    bus.set_faults(outages, bursts)
    motor = haptics.Haptics(Pin(), PWM, now_ms=clock)
    button = Button(Pin(), now_ms=clock)
    log = logbook.Logbook("/logs", fs_free_fn=lambda: 1 << 24)
    a = appmod.App(imu, motor, button, log, board_id="rig", clock_ms=clock)
    a.start_session(0)
    rounds = 0
    locked_rounds = 0
    step_alloc = 0
    t_end = n * 1000 // odr
    gc.collect()
    while now[0] < t_end:
        if lock_after and rounds >= lock_after:
            w = wbus.writes
            ma = gc.mem_alloc()
            micropython.heap_lock()
            try:
                ms = a.run_step(now[0])
            finally:
                micropython.heap_unlock()
            if wbus.writes == w:
                step_alloc += gc.mem_alloc() - ma
                locked_rounds += 1
        else:
            ms = a.run_step(now[0])
        rounds += 1
        emu.advance_us(ms * 1000)
        now[0] += ms
    a.stop_session(now[0])
    e = a.engine
    print(step_alloc * 1000 // max(1, locked_rounds), rounds, locked_rounds, e.steps,
          e.strides, a.samples, a.lost, a.imu_errors, a.imu_resets, a.gaps, a.crashes,
          bus.errors_injected)
