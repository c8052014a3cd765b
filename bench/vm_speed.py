"""How fast is the MicroPython VM (WebAssembly, under Node.js) compared with CPython?

Runs the same simple integer loop on both and prints iterations per second and the
ratio. No asserts: a figure to know when sizing VM tests (an hour of 104 Hz samples is
374,400 per axis). Usage: python bench/vm_speed.py [iterations]
"""

import sys
import textwrap
import time

from retrostep.vm import mpvm

LOOP = textwrap.dedent("""
    def loop(n):
        acc = 0
        i = 0
        while i < n:
            acc = (acc + (i & 255) * 3) >> 1
            i += 1
        return acc
""")


def cpython_rate(n):
    ns = {}
    exec(LOOP, ns)
    t0 = time.perf_counter()
    acc = ns["loop"](n)
    return n / (time.perf_counter() - t0), acc


def vm_rate(n):
    code = LOOP + textwrap.dedent(f"""
        import time
        t0 = time.ticks_us()
        acc = loop({n})
        dt = time.ticks_diff(time.ticks_us(), t0)
        print(dt, acc)
    """)
    res = mpvm.run(code, mount_firmware=False, timeout_s=300)
    dt_us, acc = (int(x) for x in res.stdout.split())
    return n * 1e6 / dt_us, acc, res


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 2_000_000
    t0 = time.perf_counter()
    mpvm.run("pass", mount_firmware=False)
    startup = time.perf_counter() - t0
    vm, acc_vm, res = vm_rate(n)
    cp, acc_cp = cpython_rate(n)
    assert acc_vm == acc_cp  # same integer semantics, same answer (sanity, not a test)
    print(f"iterations            {n:,}")
    print(f"MicroPython VM (wasm) {vm / 1e6:8.2f} M iter/s")
    print(f"CPython {sys.version.split()[0]:<13} {cp / 1e6:8.2f} M iter/s")
    print(f"ratio VM / CPython    {vm / cp:8.2f}")
    print(f"VM start-up           {startup * 1000:8.0f} ms per run() (node + wasm load; "
          f"VM init + file copy inside node {res.setup_s * 1000:.0f} ms)")


if __name__ == "__main__":
    main(sys.argv)
