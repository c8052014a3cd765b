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
        vb.report()  # waits until the trace has played
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
