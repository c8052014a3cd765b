"""Charts of a replay: what the engine saw and what it decided.

    retrostep chart TRACE.csv -o chart.png
"""

import io
from array import array

import numpy as np

from retrostep.firmware import gait
from retrostep.engine.run import engine_settings, heading_trust, new_engine
from retrostep.schema import DIRECTION_NAMES
from retrostep.term import plural
from retrostep.units import bam16_to_deg
from retrostep.formats.files import write_output
from retrostep.formats.samples import int16_flat
from retrostep.formats.trace import gap_rows, quantise

DIR_COLOURS = {"forward": "tab:cyan", "backward": "tab:orange", "sideways": "tab:olive"}
AXIS_COLOURS = ("tab:red", "tab:green", "tab:blue")


def engine_timeline(board, settings=None, calibrate_strides=0):
    """Run the engine one sample at a time and record its state after each sample.

    Returns a dict of numpy arrays (stance, heading_deg, lateral_m, untrusted: the
    heading not trusted for drift alerts; one value per row of board.samples) and the
    raw events. The engine is told of the board's gaps.
    Slower than replay (one feed() call per sample); meant for charts of short traces.
    """
    eng = new_engine(board.odr_hz, board.accel_ug_per_lsb, board.gyro_udps_per_lsb,
                     settings, calibrate_strides)
    flat = int16_flat(board.samples)
    n = len(board.samples)
    lost_before = dict(gap_rows(board.gaps))
    stance = np.zeros(n, dtype=bool)
    heading = np.zeros(n)
    lateral = np.zeros(n)
    untrusted = np.zeros(n, dtype=bool)
    ev = array("i", [0] * gait.EV_FIELDS)
    events = []
    for k in range(n):
        if k in lost_before:
            eng.gap(lost_before[k])
        eng.feed(flat, k, k + 1)
        stance[k] = eng.in_stance
        heading[k] = bam16_to_deg(eng.heading_bam())
        lateral[k] = eng.lateral_mm / 1000
        untrusted[k] = heading_trust(eng) is False
        while eng.pop(ev):
            events.append(tuple(ev))
    eng.flush()
    while eng.pop(ev):
        events.append(tuple(ev))
    heading = np.degrees(np.unwrap(np.radians(heading)))
    return {"stance": stance, "heading_deg": heading, "lateral_m": lateral,
            "untrusted": untrusted}, events


def plot_replay(trace, out_png, title=None, settings=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    board = quantise(trace)
    tl, events = engine_timeline(board, *engine_settings(trace.meta, settings))
    # a NaN where samples were lost, so no line is drawn across a gap
    cut = [row for row, _ in gap_rows(board.gaps)]
    t = np.insert(board.time_of(board.indices()), cut, np.nan)
    acc = np.insert(board.samples[:, :3] * (board.accel_ug_per_lsb / 1e6), cut, np.nan, 0)
    gyr = np.insert(board.samples[:, 3:] * (board.gyro_udps_per_lsb / 1e6), cut, np.nan, 0)
    tl = {key: np.insert(v.astype(float), cut, np.nan) for key, v in tl.items()}
    tl["stance"] = tl["stance"] == 1
    tl["untrusted"] = tl["untrusted"] == 1

    fig, ax = plt.subplots(4, 1, figsize=(13, 10), sharex=True,
                           gridspec_kw={"height_ratios": [3, 3, 2, 2]})
    for i, name in enumerate("xyz"):
        ax[0].plot(t, acc[:, i], lw=0.7, color=AXIS_COLOURS[i], label=f"a{name}")
        ax[1].plot(t, gyr[:, i], lw=0.7, color=AXIS_COLOURS[i], label=f"g{name}")
    ax[0].set_ylabel("specific force (g)")
    ax[1].set_ylabel("angular rate (deg/s)")
    for a in ax[:2]:
        a.fill_between(t, 0, 1, where=tl["stance"], transform=a.get_xaxis_transform(),
                       color="0.85", step="mid", label="stance")
        a.legend(loc="upper right", ncol=4, fontsize=8)
    strides = [e for e in events if e[0] == gait.EV_STRIDE]
    for e in strides:
        d = DIRECTION_NAMES.get(e[2], "sideways")
        x = board.time_of(e[1])
        ax[0].axvline(x, color=DIR_COLOURS[d], lw=1.2, alpha=0.8)
    ax[0].plot([], [], color=DIR_COLOURS["forward"], label="forward stride ends")
    ax[0].plot([], [], color=DIR_COLOURS["backward"], label="backward stride ends")
    if any(e[2] == gait.SIDEWAYS for e in strides):
        ax[0].plot([], [], color=DIR_COLOURS["sideways"], label="side-steps")
    ax[0].legend(loc="upper right", ncol=3, fontsize=8)
    ax[2].plot(t, tl["heading_deg"], color="k", lw=1)
    ax[2].set_ylabel("heading (deg)")
    ax[3].plot(t, tl["lateral_m"], color="tab:purple", lw=1, label="lateral offset")
    ax[3].set_ylabel("lateral offset (m)\n- right | left +")
    if tl["untrusted"].any():
        ax[3].fill_between(t, 0, 1, where=tl["untrusted"], transform=ax[3].get_xaxis_transform(),
                           color="tab:orange", alpha=0.15, step="mid",
                           label="heading not trusted: no drift alert")
    for e in events:
        if e[0] == gait.EV_DRIFT:
            x = board.time_of(e[1])
            for a in ax[2:]:
                a.axvline(x, color="red", lw=1.5)
            ax[3].annotate("drift alert", (x, e[4] / 1000), color="red", fontsize=9,
                           xytext=(4, 4), textcoords="offset points")
        elif e[0] == gait.EV_ON_LINE:
            ax[3].axvline(board.time_of(e[1]), color="green", lw=1, ls="--")
    for start, lost in board.gaps:
        for a in ax:
            a.axvspan(board.time_of(start - 1), board.time_of(start + lost), color="tab:red",
                      alpha=0.15, lw=0, label="samples lost" if a is ax[3] else None)
    ax[3].plot([], [], color="red", label="drift alert")
    ax[3].plot([], [], color="green", ls="--", label="back on the line")
    ax[3].legend(loc="upper left", fontsize=8)
    ax[3].set_xlabel("trace time (s): the trace's own clock; a session report counts from the session's start")
    nf = sum(1 for e in strides if e[2] == gait.FORWARD)
    nb = sum(1 for e in strides if e[2] == gait.BACKWARD)
    side = len(strides) - nf - nb
    ax[0].set_title(title or f"{len(strides)} strides: {nf} forward, "
                    f"{nb} backward{f', {side} sideways' if side else ''}; "
                    f"{plural(sum(1 for e in events if e[0] == gait.EV_DRIFT), 'drift alert')}")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return write_output(out_png, buf.getvalue())
