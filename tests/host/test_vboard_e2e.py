"""Issue 5's end-to-end check: a fresh virtual board gets the firmware from the real
mpremote (the README's command line), walks a trace with button presses, and its own
log equals `retrostep replay` of the same samples event for event; every drift alert
buzzed the drift pattern right after it."""

import pytest
import subprocess
import sys
from pathlib import Path

from retrostep.formats import logdecode
from retrostep.sim.demolog import bundled_paths
from retrostep.firmware import gait, haptics
from retrostep.engine.run import run_engine
from retrostep.vm.vboard import VirtualBoard

pytestmark = [pytest.mark.vm, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_mpremote_deploy_then_walk_equals_replay_and_alerts_buzz(tmp_path):
    csv, _ = bundled_paths()
    fs = tmp_path / "flash"
    with VirtualBoard(fs, trace=csv, presses=["0.5:short", "52:short"], serve=True,
                      grace_s=3) as vb:
        # README: mpremote mkdir :lib + cp -r firmware/rstep :lib/ + cp ... : + reset
        cmd = [sys.executable, "-m", "mpremote", "connect", vb.url,
               "mkdir", ":lib", "+", "cp", "-r", "firmware/rstep", ":lib/", "+",
               "cp", "firmware/main.py", "firmware/boot.py", ":", "+", "reset"]
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        rep = vb.report(timeout=300)
    assert rep["reason"] == "trace_end"
    fw = rep["firmware_status"]  # rstep.app.status(), asked at the end of the run
    assert rep["firmware"]["sessions"] == 1  # and the logbooks on its flash agree
    assert fw["sessions"] == 1 and fw["lost"] == 0 and fw["overruns"] == 0
    logs = sorted((fs / "logs").glob("s*.rsl"))
    assert len(logs) == 1
    log = logdecode.decode_file(str(logs[0]))
    board_events = [r.event() for r in log.records if r.event() is not None]

    b = vb.samples  # the trace, quantised as the emulated IMU delivered it
    first = fw["session_first"]
    eng, events = run_engine(b.samples[first: fw["samples"]], b.odr_hz, b.accel_ug_per_lsb,
                             b.gyro_udps_per_lsb)
    assert board_events == events  # event for event, field for field
    assert (fw["steps"], fw["forward_steps"], fw["backward_steps"]) == \
        (eng.steps, eng.forward_steps, eng.backward_steps) == (68, 16, 52)

    alerts = [e for e in events if e[0] == gait.EV_DRIFT]
    assert len(alerts) == 1
    full = 65535 * 100 // 100  # the drift pattern's strength
    on = [(m["t_s"], m["duty_u16"]) for m in rep["motor"] if m["t_s"] is not None]
    for ev in alerts:
        t_alert = (first + ev[1]) / b.odr_hz  # on the trace's clock
        # the alert is stamped at the stride's initial contact, which the engine confirms
        # once the stance has shown the foot at rest (up to ~0.35 s later); the loop
        # reads the FIFO every half second; a pattern playing adds its gap
        pulses = [t for t, d in on if d == full and t_alert <= t <= t_alert + 1.5]
        assert len(pulses) == 3, (t_alert, on)  # DRIFT: three strong pulses ...
        gaps = [(b_ - a) * 1000 for a, b_ in zip(pulses, pulses[1:])]
        # ... 120 ms on, 100 ms off; the loop wakes for each change within a few ms
        assert all(abs(g - 220) <= 10 for g in gaps), gaps
    assert haptics.NAMES[haptics.DRIFT] == "drift"
