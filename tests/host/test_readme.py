"""Every `retrostep ...` line the README shows runs as written: in order, in a fresh
folder, with the bundled session in the library and, for the virtual board's lines, a
virtual board serving its REPL. Lines that need a board on USB (there is none here)
must end in one line that says what to do, exit code 2, never a traceback."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from retrostep.sim import demolog
from retrostep.vm.vboard import VirtualBoard

ROOT = Path(__file__).resolve().parents[2]
USB = ("retrostep devices", "retrostep flash ", "retrostep deploy --dry-run",
       "retrostep deploy --config", "retrostep sync --keep")


def readme_lines():
    """The README's indented command lines that start with retrostep or mpremote."""
    out = []
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("    retrostep ") or line.startswith("    mpremote connect"):
            out.append(re.sub(r"\s+#.*$", "", line.strip()))
    return out


def test_the_readme_shows_the_commands_this_test_runs():
    lines = readme_lines()
    assert len(lines) >= 20
    assert any(x.startswith("retrostep sim --trace") for x in lines)
    assert any(x.startswith("retrostep history --html") for x in lines)


@pytest.mark.vm
@pytest.mark.slow
def test_every_readme_command_runs_as_written(tmp_path):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               RETROSTEP_LIBRARY=str(tmp_path / "library"), HOME=str(tmp_path))
    lib = tmp_path / "library" / demolog.DEMO_BOARD_ID
    lib.mkdir(parents=True)
    shutil.copyfile(demolog.bundled_session_path(), lib / "s00001.rsl")
    (tmp_path / "cfg.json").write_text(json.dumps({"gait": {"still_ms": 40}}))
    with VirtualBoard(tmp_path / "vboard-flash", serve=True) as vb:
        port = vb.url.rsplit(":", 1)[1]
        for line in readme_lines():
            if "--serve" in line:
                continue  # starts a board that runs until Ctrl-C: the fixture is that board
            cmd = line.replace("PORT", port)
            p = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=600)
            err = p.stderr.strip()
            assert "Traceback" not in err, (cmd, err)
            if cmd.startswith(USB):
                assert p.returncode == 2, (cmd, p.returncode, err)
                assert err.count("\n") == 0 and "error:" in err, (cmd, err)
            else:
                assert p.returncode == 0, (cmd, p.stdout[-500:], err[-2000:])
    for made in ("walk.csv", "walk.labels.json", "result.json", "chart.png", "history.html",
                 "history.png", "strides.csv", "corpus/index.json"):
        assert (tmp_path / made).is_file(), made
