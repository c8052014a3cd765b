"""The history page: the backward-walking programme as a calendar, and its trends.

    retrostep history [--library DIR] --png history.png --html history.html

One figure (matplotlib, Agg) and one self-contained HTML page (the PNG inlined, CSS
inline, nothing fetched) from a programme (`retrostep.analysis.library.programme`) and
the sessions it was computed from:

- the headline a patient reads first: "Week 2 of 4 — 3 of 4 days done this week";
- the calendar: one row per programme week, seven day cells coloured by the day's
  backward minutes against the band (below it, in it, above it), a tick on days that
  met the goal, past days not walked greyed and hatched, today outlined;
- trends per day walked: backward minutes with the band shaded, cadence, stride
  length, straightness (the share of backward strides within 0.25 m of the line, the
  mean and largest offset, drift alerts per 10 backward minutes) and the balance
  checks as passed / not passed marks.

Library first: `headline(hist)`, `calendar_cells(hist)` and `day_trends(sessions)` are
pure (the tests check them); `plot_history`, `html_page` and `write_history` draw and
write; `history_json` is the JSON of `retrostep history --json`, minutes rounded.
"""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import date, timedelta

from retrostep.analysis.chart import DIR_COLOURS
from retrostep.analysis.library import MINUTES_DECIMALS, ON_LINE_M, band_text
from retrostep.errors import RetrostepError
from retrostep.firmware import gait
from retrostep.formats.files import output_file, write_output

FIG_WIDTH_IN = 15
FIG_DPI = 100  # the PNG is 1500 pixels wide; its height grows with the weeks shown
ALERT_OFFSET_M = gait.DEFAULTS["alert_offset_mm"] / 1000

# calendar colours: the day's backward minutes against the band, and the days not walked
KIND_COLOURS = {
    "in": "#7cc68a",  # in the band: green
    "above": "#8fb8e0",  # above it: blue (met, more than asked)
    "below": "#f5c26b",  # below it: amber (walked, goal not met)
    "missed": "#e4e4e4",  # a past day not walked: grey, hatched
    "today": "#ffffff",  # today, not walked yet
    "to come": "#ffffff",
    "after": "#f7f7f7",  # a day after the programme, not walked: nothing was asked
}
KIND_WORDS = {"in": "in the band", "above": "above the band", "below": "below the band",
              "missed": "not walked", "today": "today, not walked yet",
              "to come": "to come", "after": "–"}
STATUS_COLOURS = {"met": "#1a7f37", "missed": "#c62828", "in progress": "#8a6d00",
                  "to come": "#777777"}
PASS_COLOUR = "#1a7f37"
FAIL_COLOUR = "#c62828"
TICK = "\u2713"


# ---------------------------------------------------------------------------- words


def fmt_minutes(m):
    """Minutes as shown everywhere (to 0.1 min; '12' rather than '12.0')."""
    m = round(m, MINUTES_DECIMALS)
    return f"{m:.0f}" if m == int(m) else f"{m:.{MINUTES_DECIMALS}f}"


def _day_words(d):
    return f"{d:%a} {d.day} {d:%b}"


def headline(hist):
    """(headline, detail): what a patient reads first, and the programme in one line.

    Headline: "Week 2 of 4 — 3 of 4 days done this week" during the programme, else
    when it starts, or that it is complete / finished with its weeks met.
    """
    g, p, today = hist["goal"], hist["programme"], hist["today"]
    need, weeks = g["days_per_week"], g["weeks"]
    cur = p["current_week"]
    if today < g["start"]:
        main = f"The programme starts on {_day_words(g['start'])}"
    elif cur is not None:
        done = hist["weeks"][cur - 1]["days_goal_met"]
        main = f"Week {cur} of {weeks} — {min(done, need)} of {need} days done this week"
        if done > need:
            main += f" (+{done - need} more)"
    elif p["state"] == "complete":
        main = f"Programme complete — {p['weeks_met']} of {weeks} weeks met"
    else:
        main = f"Programme finished — {p['weeks_met']} of {weeks} weeks met"
    days = {d["date"]: d for d in hist["days"]}
    td = days.get(today)
    if td is None:
        now = "today: not walked yet" if g["start"] <= today <= g["end"] else ""
    else:
        now = (f"today: {fmt_minutes(td['backward_minutes'])} min backward, "
               f"{KIND_WORDS[td['band']]}")
    detail = (f"{min(p['days_met'], p['days_needed'])} of {p['days_needed']} days done, "
              f"{p['weeks_met']} of {weeks} weeks met · goal: "
              f"{band_text(g['minutes'], g['max_minutes'])} backward on {need} days a "
              f"week for {weeks} weeks, {_day_words(g['start'])} – {_day_words(g['end'])}")
    return main, detail + (f" · {now}" if now else "")


# ---------------------------------------------------------------------------- calendar


def calendar_cells(hist):
    """The calendar: one dict per programme week (and any later week walked), each
    with its seven day cells.

    A cell: date, minutes (backward, 0 when not walked), sessions, walked, goal_met,
    band ('below' / 'in' / 'above', None when not walked), today, and kind — its
    colour: the band on a day walked, else 'missed' (a past day of the programme not
    walked), 'after' (a past day after the programme, not walked: nothing was asked),
    'today' (not walked yet) or 'to come'.
    """
    days = {d["date"]: d for d in hist["days"]}
    today = hist["today"]
    rows = []
    for w in hist["weeks"]:
        cells = []
        for i in range(7):
            day = w["first_day"] + timedelta(days=i)
            d = days.get(day)
            if d is not None:
                kind = d["band"]
            elif day < today:
                kind = "missed" if w["in_programme"] else "after"
            elif day == today:
                kind = "today"
            else:
                kind = "to come"
            cells.append({
                "date": day, "minutes": d["backward_minutes"] if d else 0.0,
                "sessions": d["sessions"] if d else 0, "walked": d is not None,
                "goal_met": bool(d and d["goal_met"]), "band": d["band"] if d else None,
                "today": day == today, "kind": kind,
            })
        rows.append({"week": w["week"], "first_day": w["first_day"],
                     "last_day": w["last_day"], "in_programme": w["in_programme"],
                     "status": w["status"], "days_goal_met": w["days_goal_met"],
                     "cells": cells})
    return rows


# ---------------------------------------------------------------------------- trends


def _weighted(pairs):
    """The mean of (value, weight) pairs with a value and a weight > 0, or None."""
    pairs = [(v, w) for v, w in pairs if v is not None and w > 0]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else None


def day_trends(sessions):
    """One dict per day walked (dated, readable sessions), oldest first: the day's
    sessions' figures put together.

    Cadence is weighted by the minutes of the bouts it comes from, stride length and
    straightness by the strides, alerts per 10 min are the day's alerts over its
    backward minutes; max_offset_m is the day's largest; balance_checks are all of the
    day's checks in order.
    """
    by_day = {}
    for s in sessions:
        if s.start is None or s.error is not None:
            continue
        by_day.setdefault(s.day, []).append(s)
    out = []
    for day in sorted(by_day):
        ss = sorted(by_day[day], key=lambda s: s.start)
        bmin = sum(s.backward_minutes for s in ss)
        alerts = sum(s.drift_alerts for s in ss)
        maxes = [s.max_offset_m for s in ss if s.max_offset_m is not None]
        out.append({
            "date": day, "sessions": len(ss), "backward_minutes": bmin,
            "forward_minutes": sum(s.forward_minutes for s in ss),
            "cadence_spm": _weighted((s.cadence_spm, s.forward_minutes + s.backward_minutes)
                                     for s in ss),
            "forward_cadence_spm": _weighted((s.forward_cadence_spm, s.forward_minutes)
                                             for s in ss),
            "backward_cadence_spm": _weighted((s.backward_cadence_spm, s.backward_minutes)
                                              for s in ss),
            "forward_stride_m": _weighted((s.forward_stride_m, s.forward_strides)
                                          for s in ss),
            "backward_stride_m": _weighted((s.backward_stride_m, s.backward_strides_seen)
                                           for s in ss),
            "on_line_share": _weighted((s.on_line_share, s.backward_strides_seen)
                                       for s in ss),
            "mean_offset_m": _weighted((s.mean_offset_m, s.backward_strides_seen)
                                       for s in ss),
            "max_offset_m": max(maxes) if maxes else None,
            "drift_alerts": alerts,
            "alerts_per_10min": 10.0 * alerts / bmin if bmin > 0 else None,
            "balance_checks": [dict(b, session=s.label) for s in ss
                               for b in s.balance_checks],
        })
    return out


# ---------------------------------------------------------------------------- JSON


def _rounded(obj, key=""):
    if isinstance(obj, dict):
        return {k: _rounded(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v, key) for v in obj]
    if isinstance(obj, float) and key.endswith("minutes"):
        return round(obj, MINUTES_DECIMALS)
    if isinstance(obj, date):
        return obj.isoformat()
    return obj


def history_json(hist):
    """The history as JSON: dates as YYYY-MM-DD, minutes as shown (to 0.1 min)."""
    return json.dumps(_rounded(hist), indent=1)


# ---------------------------------------------------------------------------- figure


def _pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(hist, sessions, out_png=None):
    """Draw the history page's figure; PNG bytes (also written to `out_png` if given)."""
    plt = _pyplot()
    cal = calendar_cells(hist)
    trends = day_trends(sessions)
    n_weeks = len(cal)
    cal_h = 0.95 * n_weeks + 0.5
    heights = [1.25, cal_h, 2.3, 2.3, 2.3, 1.5]
    fig = plt.figure(figsize=(FIG_WIDTH_IN, sum(heights) + 1.6), dpi=FIG_DPI)
    gs = fig.add_gridspec(len(heights), 2, height_ratios=heights, hspace=0.62, wspace=0.16,
                          left=0.075, right=0.94, top=0.985, bottom=0.04)
    _draw_headline(fig.add_subplot(gs[0, :]), hist)
    _draw_calendar(fig.add_subplot(gs[1, :]), hist, cal)
    a_min = fig.add_subplot(gs[2, :])
    a_cad = fig.add_subplot(gs[3, 0], sharex=a_min)
    a_len = fig.add_subplot(gs[3, 1], sharex=a_min)
    a_line = fig.add_subplot(gs[4, 0], sharex=a_min)
    a_off = fig.add_subplot(gs[4, 1], sharex=a_min)
    a_bal = fig.add_subplot(gs[5, :], sharex=a_min)
    _plot_minutes(a_min, hist, trends)
    _plot_pair(a_cad, trends, "cadence_spm", "Cadence while walking", "steps / min", "{:.0f}")
    _plot_pair(a_len, trends, "stride_m", "Stride length (mean)", "m", "{:.2f}")
    _plot_straightness(a_line, trends)
    _plot_offsets(a_off, trends)
    _plot_balance(a_bal, trends)
    _date_axis([a_min, a_cad, a_len, a_line, a_off, a_bal], hist, trends)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIG_DPI)
    plt.close(fig)
    data = buf.getvalue()
    if out_png:
        write_output(out_png, data)
    return data


def _draw_headline(ax, hist):
    main, detail = headline(hist)
    ax.axis("off")
    ax.text(0.0, 0.92, main, fontsize=27, fontweight="bold", va="top", ha="left",
            transform=ax.transAxes)
    ax.text(0.0, 0.18, detail, fontsize=12.5, va="bottom", ha="left", color="#333333",
            transform=ax.transAxes, wrap=True)


def _draw_calendar(ax, hist, cal):
    from matplotlib.patches import Patch, Rectangle

    g = hist["goal"]
    need = g["days_per_week"]
    ax.set_xlim(-1.55, 7.02)
    ax.set_ylim(len(cal) - 0.02, -0.42)
    ax.axis("off")
    for i in range(7):
        ax.text(i + 0.5, -0.2, f"day {i + 1}", ha="center", va="center", fontsize=10,
                color="#555555")
    for r, row in enumerate(cal):
        colour = STATUS_COLOURS[row["status"]]
        progress = f"{min(row['days_goal_met'], need)} of {need} days · {row['status']}"
        if not row["in_programme"]:  # after the programme: nothing to meet
            colour = STATUS_COLOURS["to come"]
            progress = f"{row['days_goal_met']} day(s) of {g['minutes']:g}+ min"
        label = f"Week {row['week']}" + ("" if row["in_programme"] else " (after)")
        ax.text(-0.08, r + 0.3, label, ha="right", va="center", fontsize=13,
                fontweight="bold")
        ax.text(-0.08, r + 0.56, f"{row['first_day']:%d %b} – {row['last_day']:%d %b}",
                ha="right", va="center", fontsize=9.5, color="#555555")
        ax.text(-0.08, r + 0.8, progress, ha="right", va="center", fontsize=10.5,
                color=colour, fontweight="bold")
        for i, c in enumerate(row["cells"]):
            x, y = i + 0.04, r + 0.05
            ax.add_patch(Rectangle((x, y), 0.92, 0.88, facecolor=KIND_COLOURS[c["kind"]],
                                   edgecolor="#111111" if c["today"] else "#bbbbbb",
                                   lw=3.2 if c["today"] else 0.8,
                                   hatch="///" if c["kind"] == "missed" else None,
                                   zorder=2 if c["today"] else 1))
            faint = c["kind"] in ("to come", "missed", "after")
            ax.text(x + 0.06, y + 0.2, f"{c['date']:%a} {c['date'].day} {c['date']:%b}",
                    ha="left", va="center", fontsize=9.5,
                    color="#888888" if faint else "#222222", zorder=3)
            if c["today"]:
                ax.text(x + 0.86, y + 0.2, "today", ha="right", va="center", fontsize=9.5,
                        fontweight="bold", zorder=3)
            if c["walked"]:
                ax.text(x + 0.46, y + 0.58, f"{fmt_minutes(c['minutes'])} min", ha="center",
                        va="center", fontsize=14, fontweight="bold", zorder=3)
            elif c["kind"] == "missed":
                ax.text(x + 0.46, y + 0.58, "not walked", ha="center", va="center",
                        fontsize=9.5, color="#666666", zorder=3,
                        bbox=dict(facecolor=KIND_COLOURS["missed"], edgecolor="none",
                                  pad=1.5))
            if c["goal_met"]:
                ax.text(x + 0.84, y + 0.6, TICK, ha="center", va="center", fontsize=20,
                        color="#0b5a1f", fontweight="bold", zorder=3)
    lo, hi = g["minutes"], g["max_minutes"]
    handles = [Patch(facecolor=KIND_COLOURS["below"], edgecolor="#999999",
                     label=f"under {lo:g} min"),
               Patch(facecolor=KIND_COLOURS["in"], edgecolor="#999999",
                     label=f"{band_text(lo, hi)} (the band)")]
    if hi > lo:
        handles.append(Patch(facecolor=KIND_COLOURS["above"], edgecolor="#999999",
                             label=f"over {hi:g} min"))
    handles += [Patch(facecolor=KIND_COLOURS["missed"], edgecolor="#999999", hatch="///",
                      label="not walked"),
                Patch(facecolor="white", edgecolor="#111111", lw=2.5, label="today")]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.55, 1.0), ncol=6,
              fontsize=10, frameon=False, handlelength=1.6,
              title=f"{TICK} goal met: at least {lo:g} min backward that day",
              title_fontsize=10)


def _dates(trends, key):
    xs = [t["date"] for t in trends if t[key] is not None]
    return xs, [t[key] for t in trends if t[key] is not None]


def _nothing(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes,
            color="#777777", fontsize=11)


def _plot_minutes(ax, hist, trends):
    g = hist["goal"]
    lo, hi = g["minutes"], g["max_minutes"]
    ax.axhspan(lo, hi, color=KIND_COLOURS["in"], alpha=0.25, lw=0,
               label=f"the band, {band_text(lo, hi)}")
    ax.axhline(lo, color="#1a7f37", lw=1, ls="--")
    days = hist["days"]
    for d in days:
        ax.bar(d["date"], d["backward_minutes"], width=0.75,
               color=KIND_COLOURS[d["band"]], edgecolor="#555555", lw=0.6, zorder=2)
        ax.text(d["date"], d["backward_minutes"] + 0.3, fmt_minutes(d["backward_minutes"]),
                ha="center", va="bottom", fontsize=8.5, zorder=3)
    top = max([d["backward_minutes"] for d in days] + [hi])
    ax.set_ylim(0, top * 1.35 + 0.5)
    ax.set_ylabel("minutes")
    ax.set_title("Backward minutes per day", loc="left", fontsize=12, fontweight="bold")
    ax.legend(loc="upper left", fontsize=9, frameon=False)
    if not days:
        _nothing(ax, "No day walked yet")


def _plot_pair(ax, trends, stem, title, unit, fmt):
    """Forward and backward values of one figure per day (cadence, stride length)."""
    any_data = False
    for direction in ("forward", "backward"):  # backward drawn last, on top
        xs, ys = _dates(trends, f"{direction}_{stem}")
        if xs:
            any_data = True
            ax.plot(xs, ys, "o-", color=DIR_COLOURS[direction], lw=1.6, ms=5,
                    label=direction, zorder=3 if direction == "backward" else 2)
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    ax.set_ylabel(unit)
    if any_data:
        lo, hi = ax.get_ylim()
        pad = max(hi - lo, abs(hi) * 0.2, 1e-3) * 0.25
        ax.set_ylim(max(0, lo - pad), hi + 2.2 * pad)  # room for the legend
        ax.legend(loc="upper left", fontsize=9, frameon=False, ncol=2)
    else:
        _nothing(ax, "Nothing measured yet")


def _plot_straightness(ax, trends):
    xs, ys = _dates(trends, "on_line_share")
    ax.set_title(f"Straightness: backward strides within {ON_LINE_M:g} m of the line",
                 loc="left", fontsize=12, fontweight="bold")
    ax.set_ylabel("% of strides", color=DIR_COLOURS["backward"])
    ax.set_ylim(0, 135)
    ax.set_yticks([0, 25, 50, 75, 100])
    tw = ax.twinx()
    xa, ya = _dates(trends, "alerts_per_10min")
    tw.bar(xa, ya, width=0.6, color=FAIL_COLOUR, alpha=0.3, lw=0, label="drift alerts")
    tw.set_ylim(0, max(ya + [1.0]) * 3)
    tw.set_ylabel("alerts / 10 min", color=FAIL_COLOUR)
    tw.tick_params(axis="y", colors=FAIL_COLOUR)
    ax.set_zorder(tw.get_zorder() + 1)
    ax.patch.set_visible(False)
    if xs:
        ax.plot(xs, [100 * y for y in ys], "o-", color=DIR_COLOURS["backward"], lw=1.6,
                ms=5, label="on the line")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = tw.get_legend_handles_labels()
        ax.legend(h1 + h2, [l1[0], "drift alerts per 10 backward min (right)"],
                  loc="upper left", fontsize=9, frameon=False, ncol=2)
    else:
        _nothing(ax, "No backward stride yet")


def _plot_offsets(ax, trends):
    ax.set_title("Offset of the backward strides from the line", loc="left", fontsize=12,
                 fontweight="bold")
    ax.set_ylabel("m")
    xs, mean = _dates(trends, "mean_offset_m")
    xm, mx = _dates(trends, "max_offset_m")
    if not xs:
        _nothing(ax, "No backward stride yet")
        return
    ax.axhline(ON_LINE_M, color="#1a7f37", lw=1, ls="--", label=f"{ON_LINE_M:g} m: on the line")
    ax.axhline(ALERT_OFFSET_M, color=FAIL_COLOUR, lw=1, ls=":",
               label=f"{ALERT_OFFSET_M:g} m: drift alert")
    ax.plot(xm, mx, "^-", color="#7b3f99", lw=1.2, ms=6, label="largest")
    ax.plot(xs, mean, "o-", color=DIR_COLOURS["backward"], lw=1.6, ms=5, label="mean")
    ax.set_ylim(0, max(mx + [ALERT_OFFSET_M]) * 1.5)
    ax.legend(loc="upper left", fontsize=9, frameon=False, ncol=4)


def _plot_balance(ax, trends):
    ax.set_title("Balance checks", loc="left", fontsize=12, fontweight="bold")
    ax.set_ylim(-0.7, 1.7)
    ax.set_yticks([0, 1], ["not passed", "passed"])
    checks = [(t["date"], k, len(t["balance_checks"]), b) for t in trends
              for k, b in enumerate(t["balance_checks"])]
    if not checks:
        _nothing(ax, "No balance check yet")
        return
    from matplotlib.dates import date2num

    for day, k, n, b in checks:
        x = date2num(day) + (k - (n - 1) / 2) * 0.22
        if b["passed"]:
            ax.plot(x, 1, "o", color=PASS_COLOUR, ms=10)
        else:
            ax.plot(x, 0, "X", color=FAIL_COLOUR, ms=11)
            ax.text(x, 0.38, f"back {b['backward_steps']}/{b['target_backward']}",
                    ha="center", va="bottom", fontsize=8.5, color=FAIL_COLOUR)
    ax.grid(axis="y", color="#eeeeee")


def _date_axis(axes, hist, trends):
    """Days from the programme's start to its end (or the last day walked) on every
    trend panel; a tick at the start of each week; today marked."""
    from matplotlib.dates import DayLocator, date2num

    g = hist["goal"]
    last = max([g["end"]] + [t["date"] for t in trends])
    first = min([g["start"]] + [t["date"] for t in trends])
    week_starts = []
    d = g["start"]
    while d <= last:
        week_starts.append(d)
        d += timedelta(days=7)
    labels = [f"week {k + 1}\n{w.day} {w:%b}" if k < g["weeks"] else f"{w.day} {w:%b}"
              for k, w in enumerate(week_starts)]
    for ax in axes:
        ax.set_xlim(date2num(first) - 0.7, date2num(last) + 0.7)
        ax.set_xticks([date2num(w) for w in week_starts], labels)
        ax.xaxis.set_minor_locator(DayLocator())
        ax.tick_params(axis="x", labelsize=9, labelbottom=True)
        for w in week_starts:
            ax.axvline(date2num(w) - 0.5, color="#dddddd", lw=0.8, zorder=0)
        if first <= hist["today"] <= last:
            ax.axvline(date2num(hist["today"]), color="#111111", lw=1, ls=":", zorder=0)
    top = axes[0]
    if first <= hist["today"] <= last:
        top.text(date2num(hist["today"]) + 0.15, 0.03, "today",
                 transform=top.get_xaxis_transform(), ha="left", va="bottom", fontsize=9,
                 zorder=4, bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1))


# ---------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1550px;
margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:2em;margin-bottom:.2em}.sub{color:#444;margin-top:0;font-size:1.1em}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.in{background:#dcf0df}td.above{background:#dde9f6}td.below{background:#fcebc9}
td.missed{background:#f0f0f0;color:#666}td.today{outline:3px solid #111}
.met{color:#1a7f37}.missedw{color:#c62828}.ok{color:#1a7f37}.bad{color:#c62828}
img{max-width:100%;height:auto;border:1px solid #ddd}
footer{color:#777;font-size:.85em;margin-top:2em}
"""


def _opt(v, fmt):
    return "–" if v is None else fmt.format(v)


def _calendar_table(hist, cal):
    esc = html.escape
    need = hist["goal"]["days_per_week"]
    rows = ["<table>", "<tr><th>week</th>" + "".join(f"<th>day {i + 1}</th>"
                                                      for i in range(7))
            + "<th>days done</th><th>status</th></tr>"]
    for row in cal:
        label = f"{row['week']}" + ("" if row["in_programme"] else " (after)")
        cells = []
        for c in row["cells"]:
            what = (f"{fmt_minutes(c['minutes'])} min" + (f" {TICK}" if c["goal_met"] else "")
                    if c["walked"] else KIND_WORDS[c["kind"]])
            cls = c["kind"] if c["kind"] in ("in", "above", "below", "missed") else ""
            cls += " today" if c["today"] else ""
            attr = f' class="{cls.strip()}"' if cls.strip() else ""
            cells.append(f"<td{attr}>{esc(_day_words(c['date']))}<br>{esc(what)}</td>")
        scls = {"met": "met", "missed": "missedw"}.get(row["status"], "")
        done, status = f"{min(row['days_goal_met'], need)} of {need}", row["status"]
        if not row["in_programme"]:
            done, status, scls = str(row["days_goal_met"]), "after the programme", ""
        rows.append(f"<tr><th>{esc(label)}</th>" + "".join(cells)
                    + f'<td class="num">{done}</td>'
                    + f'<td class="{scls}">{esc(status)}</td></tr>')
    rows.append("</table>")
    return "\n".join(rows)


def _days_table(hist, trends):
    esc = html.escape
    bands = {d["date"]: d["band"] for d in hist["days"]}
    rows = ["<table>", "<tr><th>day</th><th>sessions</th><th>backward min</th><th>band</th>"
            "<th>cadence backward (steps/min)</th><th>stride backward (m)</th>"
            f"<th>backward strides within {ON_LINE_M:g} m</th><th>mean / largest offset "
            "(m)</th><th>drift alerts / 10 min</th><th>balance checks</th></tr>"]
    for t in trends:
        checks = ", ".join(
            ('<span class="ok">passed</span>' if b["passed"] else
             f'<span class="bad">not passed ({b["forward_steps"]}/{b["target_forward"]} '
             f'forward, {b["backward_steps"]}/{b["target_backward"]} backward)</span>')
            for b in t["balance_checks"]) or "–"
        band = bands.get(t["date"])
        share = _opt(None if t["on_line_share"] is None else 100 * t["on_line_share"],
                     "{:.0f} %")
        rows.append(
            f"<tr><td>{esc(_day_words(t['date']))}</td><td class=\"num\">{t['sessions']}</td>"
            f"<td class=\"num\">{fmt_minutes(t['backward_minutes'])}</td>"
            f"<td>{esc(KIND_WORDS.get(band, '–'))}</td>"
            f"<td class=\"num\">{_opt(t['backward_cadence_spm'], '{:.0f}')}</td>"
            f"<td class=\"num\">{_opt(t['backward_stride_m'], '{:.2f}')}</td>"
            f"<td class=\"num\">{share}</td>"
            f"<td class=\"num\">{_opt(t['mean_offset_m'], '{:.2f}')} / "
            f"{_opt(t['max_offset_m'], '{:.2f}')}</td>"
            f"<td class=\"num\">{_opt(t['alerts_per_10min'], '{:.1f}')}</td>"
            f"<td>{checks}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def html_page(hist, sessions, png_bytes):
    """The history as one self-contained HTML page (str)."""
    from retrostep import __version__

    esc = html.escape
    main, detail = headline(hist)
    uri = "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")
    trends = day_trends(sessions)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(main)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(main)}</h1>",
        f'<p class="sub">{esc(detail)}</p>',
        "<h2>Weeks</h2>",
        _calendar_table(hist, calendar_cells(hist)),
        "<h2>Days walked</h2>",
        _days_table(hist, trends) if trends else "<p>No day walked yet.</p>",
    ]
    notes = []
    if hist["undated_sessions"]:
        notes.append("not counted, no date (the board's clock was not set): "
                     + ", ".join(hist["undated_sessions"]))
    if hist["unreadable_sessions"]:
        notes.append("not counted, unreadable: " + ", ".join(hist["unreadable_sessions"]))
    if notes:
        parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    parts.append("<h2>Charts</h2>")
    parts.append(f'<img alt="the programme calendar and the trends of backward minutes, '
                 f'cadence, stride length, straightness and balance checks" src="{uri}">')
    parts.append(f"<footer>retrostep {esc(__version__)}</footer>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_history(hist, sessions, out_png=None, out_html=None):
    """Write the history's PNG and/or HTML page; returns (png path, html path), None for
    the one not asked for. Unwritable paths are one-line RetrostepErrors, checked
    before anything is drawn."""
    if not out_png and not out_html:
        raise RetrostepError("give a PNG file, an HTML file or both")
    for path in (out_png, out_html):
        if path:
            output_file(path)
    data = plot_history(hist, sessions, out_png)
    if out_html:
        write_output(out_html, html_page(hist, sessions, data))
    return out_png, out_html


def print_history(hist, console=None):
    from retrostep import term
    from rich.table import Table

    console = console or term.console()
    g = hist["goal"]
    yes, no = "[green]✓[/]", "[dim]·[/]"
    days = Table(title="Days walked", title_justify="left")
    for col, just in (("date", "left"), ("sessions", "right"), ("backward min", "right"),
                      ("backward steps", "right"), ("forward steps", "right"),
                      ("alerts", "right"), (f">= {g['minutes']:g} min", "center")):
        days.add_column(col, justify=just)
    for d in hist["days"]:
        days.add_row(d["date"].strftime("%a %Y-%m-%d"), str(d["sessions"]),
                     f"{d['backward_minutes']:.1f}", str(d["backward_steps"]),
                     str(d["forward_steps"]), str(d["drift_alerts"]),
                     yes if d["goal_met"] else no)
    console.print(days)
    weeks = Table(title=f"Programme weeks ({g['days_per_week']} days a week of >= "
                        f"{g['minutes']:g} min backward, {g['weeks']} weeks from "
                        f"{g['start']:%a %Y-%m-%d})", title_justify="left")
    for col, just in (("week", "right"), ("days", "left"), ("days walked", "right"),
                      ("days met", "right"), ("backward min", "right"),
                      ("backward steps", "right"), ("status", "left")):
        weeks.add_column(col, justify=just)
    style = {"met": "green", "missed": "red", "in progress": "yellow", "to come": "dim"}
    for w in hist["weeks"]:
        label = str(w["week"]) + ("" if w["in_programme"] else " (after)")
        weeks.add_row(label, f"{w['first_day']:%d %b} – {w['last_day']:%d %b}",
                      str(w["days_walked"]), f"{w['days_goal_met']} / {g['days_per_week']}",
                      f"{w['backward_minutes']:.1f}", str(w["backward_steps"]),
                      f"[{style[w['status']]}]{w['status']}[/]")
    console.print(weeks)
    st = hist["streaks"]
    console.print(f"[bold]{hist['summary']}[/]")
    console.print(f"streaks: {st['days_current']} day(s) now, longest {st['days_longest']}; "
                  f"{st['weeks_current']} week(s) now, longest {st['weeks_longest']}")
    if hist["undated_sessions"]:
        console.print(f"[yellow]not counted, no date (the board's clock was not set): "
                      f"{', '.join(hist['undated_sessions'])}[/]")
    if hist["unreadable_sessions"]:
        console.print(f"[yellow]not counted, unreadable: "
                      f"{', '.join(hist['unreadable_sessions'])}[/]")
