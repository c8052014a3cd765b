"""Sync throughput against `mpremote cp` of the same files on the same virtual board.

    python bench/sync_bench.py [--files 4] [--kb 64]

Both copy the same session logs off a virtual board over its REPL socket: `retrostep
sync` (streamed base64, SHA-256 checked on the board and here, --keep so the files stay)
and `mpremote cp` (mpremote's own 256-byte round trips; no verification). Prints the
bytes per second of each and the ratio (target >= 5x). Figures only.
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from retrostep.device import sync as syncmod
from retrostep.vm.vboard import VirtualBoard


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--kb", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        logs = tmp / "flash" / "logs"
        logs.mkdir(parents=True)
        names = []
        for i in range(1, args.files + 1):
            name = f"s{i:05d}.rsl"
            (logs / name).write_bytes(os.urandom(args.kb * 1024))
            names.append(name)
        total = args.files * args.kb * 1024
        with VirtualBoard(tmp / "flash", serve=True) as vb:
            t0 = time.perf_counter()
            rep = syncmod.sync(vb.url, str(tmp / "lib"), keep=True)
            t_sync = time.perf_counter() - t0
            assert len(rep.fetched) == args.files, rep
            out = tmp / "mpremote"
            out.mkdir()
            cmd = [sys.executable, "-m", "mpremote", "connect", vb.url]
            for name in names:
                cmd += ["cp", f":/logs/{name}", str(out / name), "+"]
            t0 = time.perf_counter()
            subprocess.run(cmd[:-1], check=True, capture_output=True)
            t_cp = time.perf_counter() - t0
        for name in names:
            a = hashlib.sha256((out / name).read_bytes()).digest()
            b = hashlib.sha256((tmp / "lib" / rep.board_id / name).read_bytes()).digest()
            assert a == b, name
    print(f"{args.files} files x {args.kb} KiB from a virtual board (loopback socket):")
    print(f"  retrostep sync (SHA-256 verified): {t_sync:6.2f} s  "
          f"{total / t_sync / 1024:8.1f} KiB/s")
    print(f"  mpremote cp (not verified):        {t_cp:6.2f} s  {total / t_cp / 1024:8.1f} KiB/s")
    print(f"  ratio: sync is {t_cp / t_sync:.1f}x faster (target >= 5x)")


if __name__ == "__main__":
    main()
