"""Session reports, the programme history and CSV export, from the board's logs.

    retrostep report [SESSION] [--library DIR] [--out DIR]
    retrostep history [--library DIR] [--weeks N] [--goal-minutes M] [--days-per-week D] [--json]
    retrostep export [SESSION | --all] -o strides.csv [--summary sessions.csv]

SESSION is a .rsl file, 'latest' (the default: the most recent session in the
library), a session number, or 'demo' (the bundled session, no board needed).

Library first: `load_report(path)` decodes one log into a SessionReport,
`plot_session(rep, png)` draws it, `html_page(rep, png_bytes)` makes the one-file HTML
page (the PNG inlined as a data URI, CSS inline, nothing fetched), `write_report` does
both; `retrostep.analysis.library.programme` computes the history that `history_text` prints;
`stride_rows` / `write_strides_csv` / `write_summary_csv` export.

The path seen from above is the strides laid end to end: each stride's length along
the foot's heading, averaged between its lift-off (the previous stride's landing in the
same bout) and its landing, toward the toe for forward strides and toward the heel for
backward ones. Heading 0 is where the toe pointed when the session started; positive
angles turn left.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import os
from dataclasses import dataclass, field

import numpy as np

from retrostep.errors import RetrostepError
from retrostep.firmware import gait
from retrostep.formats.boardname import name_in_library
from retrostep.formats.files import csv_cell, output_dir, safe_stem, write_output
from retrostep.schema import COUNTERS, side_of
from retrostep.analysis.chart import DIR_COLOURS
from retrostep.analysis.library import Session, bouts_of, read_session
from retrostep.units import bam16_to_deg

ALERT_COLOUR = "red"
ON_LINE_COLOUR = "green"
FIG_SIZE_IN = (15, 12)
FIG_DPI = 100  # the PNG is FIG_SIZE_IN * FIG_DPI pixels: 1500 x 1200
SECONDS_AXIS_UP_TO_S = 180  # longer sessions get a time axis in minutes
ALERT_OFFSET_M = gait.DEFAULTS["alert_offset_mm"] / 1000
REF_STRIDES = gait.DEFAULTS["ref_strides"]


# ---------------------------------------------------------------------------- data


@dataclass
class SessionReport:
    path: str
    session: Session
    result: dict  # the replay-style dict of retrostep.formats.logdecode.to_result
    summary: dict | None  # the summary record's fields, if the session was closed
    header: dict
    bouts: list = field(default_factory=list)
    strides: list = field(default_factory=list)  # stride events (dicts), in order
    xy_m: np.ndarray = None  # (strides + 1, 2) path: start, then each stride's landing

    @property
    def damaged(self):
        return bool(self.session.problems)

    def events(self, kind):
        return [e for e in self.result["events"] if e["type"] == kind]

    def mean_length_m(self, direction):
        v = [e["length_m"] for e in self.strides if e["direction"] == direction]
        return sum(v) / len(v) if v else None

    def mean_cadence_spm(self, direction):
        """Steps per minute over the bouts mostly in `direction`, or None."""
        bl = [b for b in self.bouts if b.direction == direction and b.cadence_spm]
        t = sum(b.duration_s for b in bl)
        return 2 * sum(len(b.strides) for b in bl) * 60 / t if t else None


def stride_path(strides):
    """(n + 1, 2) positions in m: the start, then where each stride lands.

    Heading of stride i: the circular mean of the previous stride's landing heading (if
    in the same bout, given by `bout` keys when present) and its own; the stride moves
    along it when forward, against it when backward.
    """
    xy = np.zeros((len(strides) + 1, 2))
    prev = None
    for i, e in enumerate(strides):
        h = math.radians(e["heading_deg"])
        if prev is not None and e.get("_bout") == prev.get("_bout"):
            h0 = math.radians(prev["heading_deg"])
            h = math.atan2(math.sin(h) + math.sin(h0), math.cos(h) + math.cos(h0))
        # a side-step moves across the foot, to a side the stride event does not say
        sign = {"forward": 1.0, "backward": -1.0}.get(e["direction"], 0.0)
        xy[i + 1] = xy[i] + sign * e["length_m"] * np.array([math.cos(h), math.sin(h)])
        prev = e
    return xy


def load_report(path) -> SessionReport:
    """Decode one session log for a report; raises RetrostepError only if unreadable."""
    from retrostep.formats.logdecode import decode_file

    try:
        log = decode_file(path)
    except OSError as exc:
        raise RetrostepError(f"{path}: cannot read it ({exc.strerror})") from None
    except RetrostepError as exc:
        raise RetrostepError(f"{path}: {exc}") from None
    hint = os.path.basename(os.path.dirname(os.path.abspath(path)))
    s, result = read_session(path, hint, log=log)
    if result is None:
        raise RetrostepError(f"{path}: {s.error}")
    summaries = log.of_kind("summary")
    bouts = bouts_of(result["events"])
    strides = []
    for k, b in enumerate(bouts):
        for e in b.strides:
            strides.append(dict(e, _bout=k))
    return SessionReport(path=str(path), session=s, result=result,
                         summary=summaries[-1].fields if summaries else None,
                         header=log.header, bouts=bouts, strides=strides,
                         xy_m=stride_path(strides))


# ---------------------------------------------------------------------------- text bits


def fmt_duration(seconds):
    """'50 s', '4 min 05 s', '1 h 02 min': never '0:50', which reads as 50 minutes."""
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h} h {m:02d} min"
    return f"{m} min {s:02d} s" if m else f"{s} s"


def fmt_opt(v, fmt="{:.2f}", none="–"):
    return none if v is None else fmt.format(v)


def session_title(rep):
    s = rep.session
    when = s.start.strftime("%a %d %b %Y %H:%M") if s.start else "date unknown (clock not set)"
    if s.dated_from_sync:
        when += " (dated from its sync: the board's clock was not set)"
    name = name_in_library(rep.path)
    board = f"{name} ({s.board_id})" if name else (s.board_id or "?")
    return f"Session {s.number} of board {board}, {when}"


def calibration_text(rep):
    cal = rep.events("calibrated")
    if cal:
        e = cal[-1]
        return f"calibration walk at {e['t_s']:.0f} s: mount yaw {e['mount_yaw_deg']:.1f}°"
    if rep.summary is not None:
        yaw = bam16_to_deg(rep.summary["mount_yaw_bam"])
        yaw = yaw - 360 if yaw > 180 else yaw
        return f"mount yaw {yaw:.1f}° (from the board's settings)"
    return "unknown (no session summary)"


def summary_rows(rep):
    """(label, value) rows of the summary table, in order."""
    s, r = rep.session, rep.result
    rows = [
        ("Start", s.start.strftime("%Y-%m-%d %H:%M:%S") if s.start
         else "unknown (the board's clock was not set)"),
        ("Duration", fmt_duration(r["duration_s"])),
        ("Steps (both feet)", str(r["steps"])),
        ("Forward steps", str(r["forward_steps"])),
        ("Backward steps", str(r["backward_steps"])),
        ("Side-steps", str(r.get("sideways_steps", 0))),
        ("Forward minutes", f"{s.forward_minutes:.1f} "
                            f"({fmt_duration(60 * s.forward_minutes)})"),
        ("Backward minutes", f"{s.backward_minutes:.1f} "
                             f"({fmt_duration(60 * s.backward_minutes)})"),
        ("Strides (this foot)", f"{r['strides']} ({r['forward_strides']} forward, "
                                f"{r['backward_strides']} backward, "
                                f"{r['strides'] - r['forward_strides'] - r['backward_strides']}"
                                " sideways)"),
        ("Mean stride length forward", fmt_opt(rep.mean_length_m("forward"), "{:.2f} m")),
        ("Mean stride length backward", fmt_opt(rep.mean_length_m("backward"), "{:.2f} m")),
        ("Cadence forward", fmt_opt(rep.mean_cadence_spm("forward"), "{:.0f} steps/min")),
        ("Cadence backward", fmt_opt(rep.mean_cadence_spm("backward"), "{:.0f} steps/min")),
        ("Bouts", f"{len(rep.bouts)} ({sum(1 for b in rep.bouts if b.direction == 'backward')}"
                  " mostly backward)"),
        ("Drift alerts", str(r["drift_alerts"])),
        ("Calibration", calibration_text(rep)),
    ]
    if rep.summary is not None:
        h = rep.header
        dps = h["gyro_udps_per_lsb"] / 1e6 / 16
        bias = [rep.summary[f"gyro_bias_{a}_q4"] * dps for a in "xyz"]
        rows.append(("Gyro bias at the end", " / ".join(f"{b:+.2f}" for b in bias)
                     + " deg/s (x / y / z)"))
    lost = sum(g["lost_samples"] for g in r["gaps"])
    if lost:
        rows.append(("Samples lost (FIFO overruns)", f"{lost} in {len(r['gaps'])} gaps"))
    rows.append(("Log", "complete" if not rep.damaged else
                 f"damaged: {len(s.problems)} problem(s), the report shows what was read"))
    return rows


def balance_rows(rep):
    odr = rep.result["odr_hz"]
    out = []
    for b in rep.result["balance_checks"]:
        out.append({
            "t_s": b["t_s"],
            "forward": f"{b['forward_steps']} ({b['target_forward']} needed)",
            "backward": f"{b['backward_steps']} ({b['target_backward']} needed)",
            "start_s": b["t_s"] - b["duration_samples"] / odr,
            "duration_s": b["duration_samples"] / odr,
            "max_lateral_m": b["max_lateral_mm"] / 1000,
            "passed": bool(b["passed"]),
        })
    return out


def balance_strip_svg(rep, b):
    """A small picture of a balance check: its strides of this foot in order, one box
    each, coloured and lettered by direction (each is about two steps)."""
    from matplotlib.colors import to_hex

    strides = [e for e in rep.strides if b["start_s"] - 0.5 <= e["t_s"] <= b["t_s"] + 0.5]
    size, gap = 22, 4
    width = max(1, len(strides)) * (size + gap)
    boxes = []
    for k, e in enumerate(strides):
        x = k * (size + gap)
        colour = to_hex(DIR_COLOURS.get(e["direction"], "0.6"))
        letter = {"forward": "F", "backward": "B"}.get(e["direction"], "S")
        boxes.append(f'<rect x="{x}" y="0" width="{size}" height="{size}" rx="3" '
                     f'fill="{colour}"/><text x="{x + size / 2}" y="{size * 0.72}" '
                     f'font-size="13" text-anchor="middle" fill="white">{letter}</text>')
    if not strides:
        boxes.append('<text x="0" y="15" font-size="12">no strides</text>')
        width = 80
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{size}" '
            f'role="img" aria-label="strides of the balance check">{"".join(boxes)}</svg>')


# ---------------------------------------------------------------------------- figure


def plot_session(rep, out_png):
    """Draw the session (see the module docstring) into a FIG_SIZE_IN x FIG_DPI PNG."""
    plt = _pyplot()
    ser = _series(rep)
    fig = plt.figure(figsize=FIG_SIZE_IN, dpi=FIG_DPI)
    time_axes, a_path, a_text = _layout(fig)
    a_steps, a_cad, a_len, a_head, a_lat = time_axes
    _plot_steps(a_steps, rep, ser)
    _plot_cadence(a_cad, rep, ser)
    _plot_stride_length(a_len, rep, ser)
    _plot_heading(a_head, rep, ser)
    _plot_lateral(a_lat, rep, ser)
    _finish_time_axes(time_axes, ser)
    _plot_path(a_path, rep, ser)
    _plot_summary_text(a_text, rep)
    _title_figure(fig, rep)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIG_DPI)
    plt.close(fig)
    return write_output(out_png, buf.getvalue())


def _pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclass
class _Series:
    """What the time panels share: the time axis, and the strides and events on it."""
    dur: float  # session length, s (at least 1 ms)
    scale: float  # time-axis units per second
    unit: str  # "s" or "min"
    t: np.ndarray  # each stride's time, in time-axis units
    dirs: np.ndarray  # each stride's direction
    colours: list  # each stride's colour
    alerts: list  # the drift_alert events
    on_line: list  # the back_on_line events


def _series(rep):
    dur = max(rep.result["duration_s"], 1e-3)
    scale, unit = (1.0, "s") if dur <= SECONDS_AXIS_UP_TO_S else (1 / 60, "min")
    st = rep.strides
    t = np.array([e["t_s"] for e in st]) * scale
    dirs = np.array([e["direction"] for e in st])
    colours = [DIR_COLOURS[d] for d in dirs]
    return _Series(dur, scale, unit, t, dirs, colours, rep.events("drift_alert"),
                   rep.events("back_on_line"))


def _layout(fig):
    """The five time panels (one shared time axis) on the left; path and text right."""
    gs = fig.add_gridspec(5, 2, width_ratios=[1.45, 1], hspace=0.42, wspace=0.16,
                          left=0.06, right=0.98, top=0.91, bottom=0.05)
    axes = [fig.add_subplot(gs[0, 0])]
    for k in range(1, 5):
        axes.append(fig.add_subplot(gs[k, 0], sharex=axes[0]))
    return axes, fig.add_subplot(gs[0:3, 1]), fig.add_subplot(gs[3:5, 1])


def _shade_bouts(ax, rep, ser):
    for b in rep.bouts:
        ax.axvspan(b.start_s * ser.scale, b.end_s * ser.scale, color=DIR_COLOURS[b.direction],
                   alpha=0.12, lw=0)


def _mark_alerts(ax, ser, label=False):
    for k, e in enumerate(ser.alerts):
        ax.axvline(e["t_s"] * ser.scale, color=ALERT_COLOUR, lw=1.4,
                   label="drift alert" if label and k == 0 else None)
    for k, e in enumerate(ser.on_line):
        ax.axvline(e["t_s"] * ser.scale, color=ON_LINE_COLOUR, lw=1.2, ls="--",
                   label="back on the line" if label and k == 0 else None)


def _no_strides(ax):
    ax.text(0.5, 0.5, "no strides in this session", transform=ax.transAxes,
            ha="center", va="center", color="0.4")


def _plot_steps(ax, rep, ser):
    """Panel 1: cumulative steps."""
    for d in ("forward", "backward"):
        k = np.cumsum(2 * (ser.dirs == d)) if len(rep.strides) else np.zeros(0)
        tt = np.concatenate([[0], ser.t, [ser.dur * ser.scale]])
        kk = np.concatenate([[0], k, [k[-1] if len(k) else 0]])
        ax.step(tt, kk, where="post", color=DIR_COLOURS[d], lw=2,
                label=f"{d} ({int(kk[-1])})")
    _shade_bouts(ax, rep, ser)
    ax.set_ylabel("steps (both feet)")
    ax.set_title("Steps over time, cumulative (shading: bouts, coloured by their "
                 "main direction)", fontsize=10, loc="left")
    ax.legend(loc="upper left", fontsize=9)


def _plot_cadence(ax, rep, ser):
    """Panel 2: cadence per stride (from the stride interval) and per bout."""
    from matplotlib.lines import Line2D

    scale = ser.scale
    pts = []
    for b in rep.bouts:
        ts = [e["t_s"] for e in b.strides]
        pts += [(t1 * scale, 120.0 / (t1 - t0), DIR_COLOURS[e["direction"]])
                for t0, t1, e in zip(ts, ts[1:], b.strides[1:]) if t1 > t0]
        if b.cadence_spm:
            ax.hlines(b.cadence_spm, b.start_s * scale, b.end_s * scale,
                      color=DIR_COLOURS[b.direction], lw=2.5, alpha=0.8)
            ax.annotate(f"{b.cadence_spm:.0f} steps/min", (b.start_s * scale, b.cadence_spm),
                        xytext=(0, 5), textcoords="offset points", va="bottom",
                        fontsize=8, color="0.25")
    if pts:
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], c=[p[2] for p in pts], s=16,
                   zorder=3)
    ax.set_ylabel("cadence (steps/min)")
    ax.set_title("Cadence: each stride (dots) and each bout's mean (bars)", fontsize=10,
                 loc="left")
    ax.legend(handles=[Line2D([], [], marker="o", ls="", color=DIR_COLOURS["forward"],
                              label="forward"),
                       Line2D([], [], marker="o", ls="", color=DIR_COLOURS["backward"],
                              label="backward"),
                       Line2D([], [], color="0.4", lw=2.5, label="bout mean")],
              loc="upper right", fontsize=8, ncol=3)
    lo, hi = ax.get_ylim()
    ax.set_ylim(0, max(hi, 10) * 1.15)


def _plot_stride_length(ax, rep, ser):
    """Panel 3: stride length."""
    from matplotlib.patches import Patch

    st = rep.strides
    if len(st):
        for b in rep.bouts:
            ax.plot([e["t_s"] * ser.scale for e in b.strides],
                    [e["length_m"] for e in b.strides], color="0.7", lw=0.8, zorder=1)
        ax.scatter(ser.t, [e["length_m"] for e in st], c=ser.colours, s=18, zorder=2)
    else:
        _no_strides(ax)
    ax.set_ylabel("stride length (m)")
    ax.set_ylim(bottom=0)
    ax.set_title("Stride length (one foot's stride: about two steps)", fontsize=10,
                 loc="left")
    shown = [d for d in DIR_COLOURS if d != "sideways" or d in ser.dirs]
    ax.legend(handles=[Patch(color=DIR_COLOURS[d], label=d) for d in shown],
              loc="lower right", fontsize=8, ncol=len(shown))


def _plot_heading(ax, rep, ser):
    """Panel 4: the foot's heading at each landing, and the alerts."""
    st = rep.strides
    if len(st):
        head = np.degrees(np.unwrap(np.radians([e["heading_deg"] for e in st])))
        ax.plot(ser.t, head, color="0.3", lw=1)
        ax.scatter(ser.t, head, c=ser.colours, s=14, zorder=3)
    _mark_alerts(ax, ser, label=True)
    ax.set_ylabel("heading (deg)")
    ax.set_title("Foot heading at each landing (0 = toe direction at the start; "
                 "+ = turned left)", fontsize=10, loc="left")
    if ser.alerts or ser.on_line:
        ax.legend(loc="upper left", fontsize=8)


def _plot_lateral(ax, rep, ser):
    """Panel 5: the lateral offset of the backward strides, the threshold, the alerts."""
    scale = ser.scale
    labelled = False
    for b in rep.bouts:
        bk = [e for e in b.strides if e["direction"] == "backward"]
        if bk:
            ax.plot([e["t_s"] * scale for e in bk], [e["lateral_offset_m"] for e in bk],
                    "-o", ms=3, color="tab:purple", lw=1.2,
                    label=None if labelled else "lateral offset, backward strides")
            labelled = True
    for sgn in (1, -1):
        ax.axhline(sgn * ALERT_OFFSET_M, color="0.5", ls=":", lw=1,
                   label=f"alert threshold ±{ALERT_OFFSET_M:.1f} m (default)"
                   if sgn == 1 else None)
    for e in ser.alerts:
        ax.plot(e["t_s"] * scale, e["lateral_offset_m"], "X", color=ALERT_COLOUR, ms=10,
                zorder=4)
        ax.annotate(f"drift alert ({e['cause']}, {side_of(e['lateral_offset_m'])})",
                    (e["t_s"] * scale, e["lateral_offset_m"]),
                    xytext=(6, 6), textcoords="offset points", color=ALERT_COLOUR,
                    fontsize=9)
    _mark_alerts(ax, ser)
    ax.set_ylabel("lateral offset (m)\n- right | left +")
    ax.set_title("Offset from the backward bout's reference line (+ = to the walker's "
                 "left, - = right)", fontsize=10, loc="left")
    ax.legend(loc="upper left", fontsize=8)


def _finish_time_axes(axes, ser):
    """The shared time axis: labelled and limited on the bottom panel only; grids."""
    import matplotlib.pyplot as plt

    bottom = axes[-1]
    bottom.set_xlabel(f"session time ({ser.unit})")
    bottom.set_xlim(0, ser.dur * ser.scale * 1.015)
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax is not bottom:
            plt.setp(ax.get_xticklabels(), visible=False)


def _plot_path(ax, rep, ser):
    """The path seen from above: the strides, start and end, reference lines, alerts."""
    from matplotlib.collections import LineCollection

    xy = rep.xy_m
    if len(rep.strides):
        ax.add_collection(LineCollection(np.stack([xy[:-1], xy[1:]], axis=1),
                                         colors=ser.colours, linewidths=2.2,
                                         capstyle="round"))
        ax.scatter(xy[1:, 0], xy[1:, 1], c=ser.colours, s=10, zorder=3)
    ax.plot(0, 0, "o", color="green", ms=9, zorder=5, label="start")
    ax.plot(xy[-1, 0], xy[-1, 1], "s", color="black", ms=8, zorder=5, label="end")
    _plot_reference_lines(ax, rep)
    _plot_path_alerts(ax, rep, ser)
    ax.plot([], [], color=DIR_COLOURS["forward"], lw=2.2, label="forward strides")
    ax.plot([], [], color=DIR_COLOURS["backward"], lw=2.2, label="backward strides")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("along the starting heading (m)")
    ax.set_ylabel("to the walker's left (m)")
    ax.set_title("Path seen from above (strides laid end to end)", fontsize=10,
                 loc="left")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)


def _plot_reference_lines(ax, rep):
    """Each backward bout's reference line (its first REF_STRIDES strides), dashed."""
    xy, st = rep.xy_m, rep.strides
    drew_ref = False
    for k, b in enumerate(rep.bouts):
        idx = [i for i, e in enumerate(st) if e["_bout"] == k]
        if b.direction != "backward" or len(idx) < REF_STRIDES:
            continue
        p0 = xy[idx[0]]
        d = xy[idx[REF_STRIDES - 1] + 1] - p0
        if np.hypot(*d) == 0:
            continue
        span = np.hypot(*(xy[idx[-1] + 1] - p0))
        end = p0 + d / np.hypot(*d) * max(span, np.hypot(*d))
        ax.plot([p0[0], end[0]], [p0[1], end[1]], ls="--", color="0.45", lw=1,
                label=None if drew_ref else "reference line (backward bout)")
        drew_ref = True


def _plot_path_alerts(ax, rep, ser):
    """A cross on the path where each drift alert came."""
    xy = rep.xy_m
    t_st = [e["t_s"] for e in rep.strides]
    for k, e in enumerate(ser.alerts):
        i = int(np.searchsorted(t_st, e["t_s"], side="right"))  # strides landed so far
        ax.plot(xy[i, 0], xy[i, 1], "X", color=ALERT_COLOUR, ms=13, zorder=6,
                label="drift alert" if k == 0 else None)


def _summary_lines(rep):
    """The figure's summary text: the summary table and the balance checks."""
    lines = [f"{label}: {value}" for label, value in summary_rows(rep)
             if label not in ("Start", "Log")]
    bal = balance_rows(rep)
    if bal:
        lines.append("")
        lines.append("Balance checks (steps forward / target, backward / target):")
        for b in bal:
            lines.append(f"  {b['t_s']:.0f} s: {b['forward']}, {b['backward']}, "
                         f"{b['duration_s']:.0f} s, max offset {b['max_lateral_m']:.2f} m: "
                         f"{'PASSED' if b['passed'] else 'not passed'}")
    else:
        lines.append("Balance check: none in this session")
    return lines


def _plot_summary_text(ax, rep):
    ax.axis("off")
    lines = _summary_lines(rep)
    ax.text(0.0, 1.0, "Summary", fontsize=11, fontweight="bold", va="top",
            transform=ax.transAxes)
    ax.text(0.0, 0.9, "\n".join(lines), fontsize=9, va="top", family="monospace",
            transform=ax.transAxes, linespacing=1.35)


def _figure_subtitle(rep):
    r = rep.result
    return (f"{fmt_duration(r['duration_s'])} · {r['steps']} steps "
            f"({r['forward_steps']} forward, {r['backward_steps']} backward) · "
            f"{r['drift_alerts']} drift alert{'s' if r['drift_alerts'] != 1 else ''} · "
            f"{os.path.basename(rep.path)}")


def _title_figure(fig, rep):
    """The session's title and subtitle, and a warning if the log is damaged."""
    fig.suptitle(session_title(rep), fontsize=15, fontweight="bold", x=0.06, ha="left",
                 y=0.985)
    fig.text(0.06, 0.945, _figure_subtitle(rep), fontsize=11, ha="left")
    if rep.damaged:
        fig.text(0.98, 0.945, f"log damaged: {len(rep.session.problems)} problem(s); "
                 "showing what could be read", fontsize=11, ha="right", color="red")


# ---------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;
margin:2em auto;max-width:1560px;padding:0 1em;color:#222;background:#fff}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em}
.sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.3em .7em;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
.warn{border:2px solid #c00;background:#fff3f3;padding:.6em 1em;margin:1em 0}
.ok{color:#080}.bad{color:#c00}
img{max-width:100%;height:auto;border:1px solid #ddd}
footer{color:#777;font-size:.85em;margin-top:2em}
.layout{display:flex;flex-wrap:wrap;gap:2em}
"""


def _table(headers, rows, num_cols=()):
    out = ["<table>"]
    if headers:
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>")
    for row in rows:
        cells = []
        for j, v in enumerate(row):
            cls = ' class="num"' if j in num_cols else ""
            cells.append(f"<td{cls}>{v}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def html_page(rep, png_bytes):
    """The report as one self-contained HTML page (str)."""
    from retrostep import __version__

    esc = html.escape
    r, s = rep.result, rep.session
    uri = "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(session_title(rep))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(session_title(rep))}</h1>",
        f'<p class="sub">{esc(fmt_duration(r["duration_s"]))} · {r["steps"]} steps · '
        f'firmware {esc(rep.header.get("fw_version") or "?")} · '
        f'{esc(os.path.basename(rep.path))}</p>',
    ]
    if rep.damaged:
        parts.append('<div class="warn"><strong>This log is damaged or incomplete.</strong> '
                     "The report shows what could be read; counts may be low.<ul>"
                     + "".join(f"<li>{esc(p)}</li>" for p in s.problems) + "</ul></div>")
    parts.append('<div class="layout"><div><h2>Summary</h2>')
    parts.append(_table(None, [(esc(k), esc(v)) for k, v in summary_rows(rep)]))
    parts.append("</div><div><h2>Bouts</h2>")
    if rep.bouts:
        rows = []
        for k, b in enumerate(rep.bouts):
            rows.append((str(k + 1), f"{b.start_s:.1f}", f"{b.end_s:.1f}",
                         fmt_duration(b.duration_s), esc(b.direction), str(b.forward),
                         str(b.backward), fmt_opt(b.cadence_spm, "{:.0f}")))
        parts.append(_table(("bout", "from (s)", "to (s)", "duration", "mostly",
                             "forward strides", "backward strides", "cadence (steps/min)"),
                            rows, num_cols=(0, 1, 2, 3, 5, 6, 7)))
    else:
        parts.append("<p>No walking bouts.</p>")
    parts.append("<h2>Drift alerts</h2>")
    alerts = rep.events("drift_alert")
    if alerts:
        parts.append(_table(("time (s)", "cause", "lateral offset (m)", "side"),
                            [(f"{e['t_s']:.1f}", esc(e["cause"]),
                              f"{e['lateral_offset_m']:+.2f}",
                              side_of(e["lateral_offset_m"])) for e in alerts],
                            num_cols=(0, 2)))
    else:
        parts.append("<p>None.</p>")
    parts.append("<h2>Balance checks</h2>")
    bal = balance_rows(rep)
    if bal:
        parts.append(_table(
            ("time (s)", "forward steps", "backward steps", "duration (s)",
             "max lateral offset (m)", "result"),
            [(f"{b['t_s']:.0f}", esc(b["forward"]), esc(b["backward"]),
              f"{b['duration_s']:.1f}", f"{b['max_lateral_m']:.2f}",
              '<span class="ok">passed</span>' if b["passed"]
              else '<span class="bad">not passed</span>') for b in bal],
            num_cols=(0, 3, 4)))
        for b in bal:
            parts.append(f"<p>Check at {b['t_s']:.0f} s, its strides in order "
                         f"(F forward, B backward, S side-step):<br>"
                         f"{balance_strip_svg(rep, b)}</p>")
    else:
        parts.append("<p>No balance check in this session.</p>")
    parts.append("</div></div>")
    parts.append("<h2>Charts</h2>")
    parts.append(f'<img alt="charts of the session: steps, cadence, stride length, heading, '
                 f'lateral offset and the path seen from above" src="{uri}">')
    parts.append(f"<footer>retrostep {esc(__version__)} · {esc(rep.path)}</footer>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path, out_dir="out"):
    """Report of one session log: (png path, html path) written into out_dir."""
    rep = load_report(path)
    s = rep.session
    # the board id comes from the log: it names a file only once made safe
    stem = (f"{safe_stem(s.board_id)}_s{s.number:05d}" if s.number is not None
            else safe_stem(os.path.splitext(os.path.basename(path))[0], "session"))
    output_dir(out_dir)
    png = plot_session(rep, os.path.join(out_dir, stem + ".png"))
    with open(png, "rb") as f:
        page = html_page(rep, f.read())
    out_html = write_output(os.path.join(out_dir, stem + ".html"), page)
    return png, out_html, rep


# ---------------------------------------------------------------------------- export

STRIDE_COLUMNS = ("board_id", "session", "session_start", "t_s", "time", "direction",
                  "confidence_pct", "length_m", "heading_deg", "lateral_offset_m",
                  "lateral_side")
SUMMARY_COLUMNS = ("board_id", "session", "start", "duration_s", *COUNTERS,
                   "forward_minutes", "backward_minutes", "bouts",
                   "mean_forward_stride_m", "mean_backward_stride_m", "complete",
                   "problems", "path")


def stride_rows(rep):
    """One dict per stride of a SessionReport, with STRIDE_COLUMNS keys."""
    from datetime import timedelta

    s = rep.session
    out = []
    for e in rep.strides:
        out.append({
            "board_id": s.board_id, "session": s.number,
            "session_start": s.start.isoformat() if s.start else "",
            "t_s": e["t_s"],
            "time": (s.start + timedelta(seconds=e["t_s"])).isoformat(timespec="milliseconds")
            if s.start else "",
            "direction": e["direction"], "confidence_pct": e["confidence"],
            "length_m": e["length_m"], "heading_deg": e["heading_deg"],
            "lateral_offset_m": e["lateral_offset_m"],
            "lateral_side": side_of(e["lateral_offset_m"]),
        })
    return out


def summary_row(rep):
    s = rep.session
    ml = {d: rep.mean_length_m(d) for d in ("forward", "backward")}
    return {
        "board_id": s.board_id, "session": s.number,
        "start": s.start.isoformat() if s.start else "",
        "duration_s": s.duration_s, **{k: getattr(s, k) for k in COUNTERS},
        "forward_minutes": round(s.forward_minutes, 3),
        "backward_minutes": round(s.backward_minutes, 3), "bouts": len(rep.bouts),
        "mean_forward_stride_m": "" if ml["forward"] is None else round(ml["forward"], 3),
        "mean_backward_stride_m": "" if ml["backward"] is None else round(ml["backward"], 3),
        "complete": int(s.complete), "problems": len(s.problems), "path": rep.path,
    }


def _write_csv(path, columns, rows):
    """Write rows as CSV; text from a board or a log never runs as a formula."""
    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=columns)
    w.writeheader()
    w.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return write_output(path, text.getvalue())


def write_strides_csv(reports, path):
    return _write_csv(path, STRIDE_COLUMNS, [row for rep in reports for row in stride_rows(rep)])


def write_summary_csv(reports, path):
    return _write_csv(path, SUMMARY_COLUMNS, [summary_row(rep) for rep in reports])
