"""Run the gait engine on the real MicroPython VM: parity, allocation and speed checks.

The engine file is loaded unmodified (firmware/rstep mounted at /lib/rstep), the
quantised samples are written into the VM's file system, and the per-sample loop runs
under `micropython.heap_lock()`: any allocation in it, including a big int born from an
intermediate beyond the small-int range, raises MemoryError on the VM.
"""

from dataclasses import dataclass

import numpy as np

from retrostep.vm import mpvm
from retrostep.firmware import gait

_VM_CODE = """
import gc, micropython, time
from array import array
from rstep.gait import Gait, EV_FIELDS

def main():
    buf = array('h')
    with open('/data/samples.bin', 'rb') as f:
        buf.extend(f.read())
    n = len(buf) // 6
    gc.collect()
    m0 = gc.mem_alloc()
    eng = Gait({odr}, {aug}, {gudps}{settings})
    if {cal}:
        eng.calibrate({cal})
    gc.collect()
    m1 = gc.mem_alloc()
    cap = {cap}
    out = array('i', bytearray(4 * cap * EV_FIELDS))
    ev = array('i', bytearray(4 * EV_FIELDS))
    ne = 0
    done = 0
    t0 = time.ticks_us()
    {lock}
    try:
        fin = 0
        while not fin:
            if done < n:
                e = done + {chunk}
                if e > n:
                    e = n
                done = eng.feed(buf, done, e)
            else:
                eng.flush()
                fin = 1
            while eng.pop(ev):
                if ne < cap:
                    j = ne * EV_FIELDS
                    for q in range(EV_FIELDS):
                        out[j + q] = ev[q]
                ne += 1
    finally:
        micropython.heap_unlock()
    t1 = time.ticks_us()
    print(n, ne, eng.steps, eng.strides, eng.forward_steps, eng.backward_steps,
          eng.alerts, eng.heading, eng.lateral_mm, time.ticks_diff(t1, t0), m1 - m0)
    with open('/data/events.bin', 'wb') as f:
        f.write(out)

main()
"""


@dataclass
class VMRun:
    events: list  # raw engine events (tuples of EV_FIELDS ints)
    counters: dict  # steps, strides, forward_steps, backward_steps, alerts, heading, lateral_mm
    samples: int
    loop_s: float  # time of the per-sample loop on the VM's own clock
    engine_heap_bytes: int  # heap taken by constructing the engine (its state)


def run_engine_vm(samples, odr_hz, accel_ug_per_lsb, gyro_udps_per_lsb, settings=None,
                  calibrate_strides=0, heap_lock=True, chunk=4096, max_events=20000,
                  timeout_s=300):
    """Feed int16 samples (n x 6) to the engine on the MicroPython VM."""
    samples = np.ascontiguousarray(samples, dtype="<i2")
    extra = "".join(f", {k}={int(v)}" for k, v in (settings or {}).items())
    code = _VM_CODE.format(odr=int(odr_hz), aug=int(accel_ug_per_lsb),
                           gudps=int(gyro_udps_per_lsb), settings=extra, cap=max_events,
                           cal=int(calibrate_strides),
                           chunk=int(chunk),
                           lock="micropython.heap_lock()" if heap_lock else "pass")
    res = mpvm.run(code, files={"/data/samples.bin": samples.tobytes()},
                   outputs=["/data/events.bin"], heapsize=2 * 1024 * 1024 + samples.nbytes,
                   timeout_s=timeout_s)
    f = res.stdout.split()
    n, ne = int(f[0]), int(f[1])
    names = ("steps", "strides", "forward_steps", "backward_steps", "alerts", "heading",
             "lateral_mm")
    counters = dict(zip(names, (int(x) for x in f[2:9])))
    ev = np.frombuffer(res.files["/data/events.bin"], dtype="<i4")
    ev = ev[: min(ne, max_events) * gait.EV_FIELDS].reshape(-1, gait.EV_FIELDS)
    return VMRun([tuple(int(x) for x in row) for row in ev], counters, n,
                 int(f[9]) / 1e6, int(f[10]))


def engine_counters(eng):
    return {"steps": eng.steps, "strides": eng.strides, "forward_steps": eng.forward_steps,
            "backward_steps": eng.backward_steps, "alerts": eng.alerts,
            "heading": eng.heading, "lateral_mm": eng.lateral_mm}
