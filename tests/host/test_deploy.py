"""retrostep deploy against the virtual board, and the user's whole journey: deploy, a
session walked on the virtual board, sync, report."""

import json
from pathlib import Path

import pytest

from retrostep.device import deploy as deploymod
from retrostep.analysis import report as reportmod
from retrostep.device import sync as syncmod
from retrostep.device.board import connect
from retrostep.sim.demolog import bundled_paths
from retrostep.errors import RetrostepError
from retrostep.vm.vboard import VirtualBoard


@pytest.mark.vm
@pytest.mark.slow
def test_deploy_copies_only_what_changed(tmp_path):
    fs = tmp_path / "flash"
    with VirtualBoard(fs, serve=True) as vb:
        lines = []
        planned = deploymod.deploy(vb.url, dry_run=True, log=lines.append)
        assert "/main.py" in planned and "/lib/rstep/gait.mpy" in planned
        assert all(line.startswith("would write ") for line in lines)
        with connect(vb.url) as b:
            assert b.hashes(["/main.py"])["/main.py"] == (None, None)  # dry run wrote nothing
        written = deploymod.deploy(vb.url, reset=False, log=lines.append)
        assert written == planned
        assert deploymod.deploy(vb.url, reset=False, log=lines.append) == []
        with connect(vb.url) as b:
            deploymod.write_file(b, "/lib/rstep/gait.mpy", b"not the engine")
        assert deploymod.deploy(vb.url, reset=False, log=lines.append) == \
            ["/lib/rstep/gait.mpy"]
    assert (fs / "lib" / "rstep" / "gait.mpy").read_bytes()[:1] == b"M"  # a real .mpy


@pytest.mark.vm
def test_deploy_refuses_a_bad_config_and_writes_nothing(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"gait": {"still_ms": 5}}))
    with VirtualBoard(tmp_path / "flash", serve=True) as vb:
        with pytest.raises(RetrostepError, match="still_ms"):
            deploymod.deploy(vb.url, config_path=str(cfg))
        with connect(vb.url) as b:
            assert b.hashes(["/main.py"])["/main.py"] == (None, None)


@pytest.mark.vm
@pytest.mark.slow
def test_deploy_session_sync_report_on_the_virtual_board(tmp_path):
    csv, _ = bundled_paths()
    fs = tmp_path / "flash"
    lib = tmp_path / "lib"
    # a short press once the firmware reads the IMU, another after the walk
    with VirtualBoard(fs, trace=csv, presses=["0.5:short", "52:short"], serve=True,
                      grace_s=4) as vb:
        deploymod.deploy(vb.url, log=lambda *_: None)  # soft reset: main.py runs the trace
        vb.report(timeout=300)  # waits until the trace has played (a hang fails, not stalls)
        rep = syncmod.sync(vb.url, str(lib))
    assert len(rep.fetched) == 1
    path = lib / rep.board_id / rep.fetched[0]
    png, html = reportmod.write_report(str(path), str(tmp_path / "report"))[:2]
    assert Path(png).stat().st_size > 50_000 and "data:image/png;base64" in \
        Path(html).read_text()
    from retrostep.formats.logdecode import decode_file, to_result

    result = to_result(decode_file(str(path)))
    assert result["forward_steps"] == 16 and result["backward_steps"] == 52
    assert [e["type"] for e in result["events"]].count("drift_alert") == 1
    # deploy set the board's clock (it powered on at 2021-01-01): dated today, honestly
    from datetime import datetime, timedelta

    from retrostep.analysis.library import read_session

    s, _ = read_session(path)
    assert s.start is not None and not s.dated_from_sync
    assert abs(s.start - datetime.now()) < timedelta(minutes=30)


@pytest.mark.vm
@pytest.mark.slow
def test_a_session_from_an_unset_clock_is_dated_from_its_sync(tmp_path):
    """The firmware copied without `retrostep deploy` (its clock never set): the library
    dates the session from the sync and says so; the sync sets the clock for next time."""
    from datetime import datetime, timedelta

    from retrostep.analysis.library import read_session

    csv, _ = bundled_paths()
    with VirtualBoard(tmp_path / "flash", trace=csv, presses=["0.5:short", "52:short"],
                      serve=True, grace_s=4, deploy=True) as vb:
        vb.report(timeout=300)
        rep = syncmod.sync(vb.url, str(tmp_path / "lib"))
        with connect(vb.url) as b:
            board_now = b.clock()
    s, _ = read_session(tmp_path / "lib" / rep.board_id / rep.fetched[0])
    assert s.dated_from_sync and abs(s.start - datetime.now()) < timedelta(minutes=30)
    assert "dated from its sync" in reportmod.session_title(reportmod.load_report(
        str(tmp_path / "lib" / rep.board_id / rep.fetched[0])))
    assert abs(board_now - (datetime.now() - datetime(2000, 1, 1)).total_seconds()) < 1800


@pytest.mark.vm
@pytest.mark.slow
def test_readme_mpremote_line_twice_then_deploy_leaves_only_the_compiled_package(tmp_path):
    """The README's mpremote line works twice; deploy then removes the source copy that
    MicroPython would import before its .mpy files, and checks what the board imports."""
    import shlex
    import subprocess
    import sys

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    line = next(x.strip() for x in readme.splitlines()
                if x.strip().startswith("mpremote") and " mip install" in x)
    fs = tmp_path / "flash"
    with VirtualBoard(fs, serve=True) as vb:
        argv = shlex.split(line)
        argv[1:1] = ["connect", vb.url]
        for _ in range(2):
            p = subprocess.run([sys.executable, "-m", "mpremote", *argv[1:]],
                               cwd=Path(__file__).resolve().parents[2], capture_output=True,
                               text=True, timeout=120)
            assert p.returncode == 0, p.stdout + p.stderr
        assert (fs / "rstep" / "app.py").is_file() and (fs / "main.py").is_file()
        lines = []
        deploymod.deploy(vb.url, reset=False, log=lines.append)
        assert any(x.startswith("removing /rstep/app.py") for x in lines)
    assert not (fs / "rstep").exists()
    assert (fs / "lib" / "rstep" / "app.mpy").is_file()
    assert not list((fs / "lib" / "rstep").glob("*.py"))


@pytest.mark.vm
def test_deploy_removes_only_stale_firmware_files(tmp_path):
    fs = tmp_path / "flash"
    (fs / "lib" / "rstep").mkdir(parents=True)
    (fs / "lib" / "rstep" / "gait.py").write_text("raise ImportError('old engine')\n")
    (fs / "lib" / "rstep" / "notes.txt").write_text("mine")
    (fs / "lib" / "other.py").write_text("x = 1\n")
    with VirtualBoard(fs, serve=True) as vb:
        planned_removals = []
        deploymod.deploy(vb.url, dry_run=True, log=planned_removals.append)
        assert "would remove /lib/rstep/gait.py (an old firmware file MicroPython could " \
               "import instead)" in planned_removals
        assert (fs / "lib" / "rstep" / "gait.py").exists()  # a dry run removes nothing
        deploymod.deploy(vb.url, reset=False, log=lambda *_: None)
    assert not (fs / "lib" / "rstep" / "gait.py").exists()
    assert (fs / "lib" / "rstep" / "notes.txt").read_text() == "mine"  # not firmware
    assert (fs / "lib" / "other.py").exists()


@pytest.mark.vm
def test_a_board_named_at_deploy_is_named_in_sync_and_reports(tmp_path, capsys):
    from retrostep import cli
    from retrostep.formats.boardname import name_in_library

    with VirtualBoard(tmp_path / "flash", serve=True) as vb:
        deploymod.deploy(vb.url, reset=False, log=lambda *_: None, name="Left shoe")
        assert cli.main(["sync", "--port", vb.url, "--library", str(tmp_path / "lib")]) == 0
        assert "board 'Left shoe' (" in capsys.readouterr().out
        with pytest.raises(RetrostepError, match="1 to 32 printable"):
            deploymod.deploy(vb.url, reset=False, log=lambda *_: None, name="x" * 40)
    (folder,) = (tmp_path / "lib").iterdir()
    assert name_in_library(folder / "s00001.rsl") == "Left shoe"
