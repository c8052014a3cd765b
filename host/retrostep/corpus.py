"""A fixed, labelled corpus of simulated traces for tests, tuning and scoring.

``retrostep corpus OUT_DIR`` writes, for every case in `CASES`, ``NAME.csv`` (a trace,
DESIGN.md section 6) and ``NAME.labels.json`` (see `retrostep.gaitsim.simulate`), plus
``index.json`` listing the cases with their tags. Every case has its own fixed seed,
so the files are the same on every run (same numpy, same bytes).

The corpus covers forward walking (slow, normal, fast), backward walking (slow,
normal, straight and long, curving off the line both ways), backward jogging, a
backward shuffle with tiny strides, mixed bouts with pauses, the 10-forward /
9-backward balance check, standing still, seated foot tapping, seated leg swinging,
turning in place, treadmill walking both ways, a misaligned and a reversed mount;
three subjects (an older person in rehab, an adult, an athlete) each with their own
device (bias, scale), at 100, 104, 208 and 400 Hz. About 17 minutes of motion in
total, about 11 MB of CSV; it takes a few seconds to generate.

Tags: the activity (walk, jog, shuffle, still, tapping, swinging, turning, mixed,
balance), the direction(s) (forward, backward), straight / curve for backward walks,
treadmill, misaligned, and the subject. `kind` in the labels is the main activity.
"""

import json
import os
import sys
import time
from dataclasses import dataclass, field, replace

from .errors import RetrostepError
from .gaitsim import SUBJECTS, Bout, Mount, Scenario, SensorModel, simulate, write_case

# one device per subject: the same board on every session of that person
DEVICES = {
    "rehab": SensorModel(gyro_bias_dps=(0.62, -0.85, 0.41), accel_bias_g=(0.003, -0.002, 0.004),
                         accel_scale_error=(0.004, -0.003, 0.006),
                         gyro_scale_error=(-0.005, 0.002, 0.007)),
    "adult": SensorModel(gyro_bias_dps=(-0.35, 0.28, -0.93), accel_bias_g=(-0.002, 0.001, -0.003),
                         accel_scale_error=(-0.002, 0.005, -0.004),
                         gyro_scale_error=(0.003, -0.006, 0.001)),
    "athlete": SensorModel(gyro_bias_dps=(0.95, 0.51, 0.22), accel_bias_g=(0.001, 0.004, 0.002),
                           accel_scale_error=(0.006, 0.001, -0.002),
                           gyro_scale_error=(0.004, 0.004, -0.003)),
}

LEAD_IN_S = 3.0  # standing still before a walk: the firmware learns the gyro bias
LEAD_OUT_S = 2.0


@dataclass(frozen=True)
class Case:
    """One corpus trace: who, what, at which rate, with which seed."""

    name: str
    kind: str  # main activity, copied to labels["kind"]
    tags: tuple
    subject: str
    rate_hz: float
    seed: int
    bouts: tuple
    description: str
    mount: Mount = field(default_factory=Mount)
    meta: tuple = ()  # extra '# key: value' lines of the trace, as (key, value) pairs

    def scenario(self):
        return Scenario(bouts=[replace(b) for b in self.bouts], subject=SUBJECTS[self.subject],
                        mount=self.mount, sensor=DEVICES[self.subject],
                        rate_hz=self.rate_hz, name=self.name, kind=self.kind)


def _framed(*bouts):
    """Standing still before and after the bouts."""
    return (Bout("still", duration_s=LEAD_IN_S),) + bouts + (Bout("still", duration_s=LEAD_OUT_S),)


def _walk(direction, strides, **kw):
    return Bout("walk", direction, strides=strides, **kw)


def _cases():
    c = []

    def add(name, kind, tags, subject, rate, seed, bouts, description, mount=None, meta=()):
        c.append(Case(name, kind, tuple(tags) + (subject,), subject, float(rate), seed,
                      tuple(bouts), description, mount or Mount(), tuple(meta)))

    add("walk_fwd_slow", "walk", ["walk", "forward", "straight"], "rehab", 104, 101,
        _framed(_walk("forward", 30, stride_m=0.9, cadence_spm=88)),
        "slow forward walk of an older person in rehab")
    add("walk_fwd_normal", "walk", ["walk", "forward", "straight"], "adult", 104, 102,
        _framed(_walk("forward", 40)), "forward walk at a normal pace")
    add("walk_fwd_fast", "walk", ["walk", "forward", "straight"], "athlete", 208, 103,
        _framed(_walk("forward", 40, stride_m=1.75, cadence_spm=126)), "brisk forward walk")
    add("walk_bwd_slow", "walk", ["walk", "backward", "straight"], "rehab", 104, 104,
        _framed(_walk("backward", 30)), "slow, short backward strides (about 0.45 m)")
    add("walk_bwd_normal", "walk", ["walk", "backward", "straight"], "adult", 104, 105,
        _framed(_walk("backward", 40)), "backward walk at a normal pace, straight")
    add("jog_bwd", "jog", ["jog", "backward", "straight"], "athlete", 208, 106,
        _framed(Bout("jog", "backward", strides=40)), "backward jogging (backpedalling)")
    add("shuffle_bwd", "shuffle", ["shuffle", "backward"], "rehab", 100, 107,
        _framed(Bout("shuffle", "backward", strides=30)),
        "backward shuffle: tiny strides (about 0.18 m), feet barely lifted")
    add("mixed_pauses", "mixed", ["mixed", "walk", "forward", "backward", "straight"], "adult",
        104, 108,
        _framed(_walk("forward", 12), Bout("still", duration_s=4.0), _walk("backward", 12),
                Bout("still", duration_s=5.0), _walk("forward", 8),
                Bout("still", duration_s=3.0), _walk("backward", 8)),
        "forward and backward bouts separated by pauses")
    add("balance_10f_9b", "balance", ["balance", "walk", "forward", "backward", "straight"],
        "rehab", 104, 109,
        _framed(_walk("forward", 5, other_steps=5), Bout("still", duration_s=2.0),
                _walk("backward", 5, other_steps=4)),
        "balance check: 10 steps forward, pause, 9 steps backward")
    add("still_standing", "still", ["still"], "adult", 100, 110,
        (Bout("still", duration_s=90.0),), "standing still for 90 s")
    add("seated_tapping", "tapping", ["tapping", "seated"], "rehab", 104, 111,
        _framed(Bout("tap", duration_s=60.0)), "seated, heel down, toe tapping at ~2 Hz")
    add("seated_leg_swing", "swinging", ["swinging", "seated"], "adult", 104, 112,
        _framed(Bout("leg_swing", duration_s=45.0)),
        "seated on a high seat, foot off the floor, shank swinging at ~1 Hz")
    add("turning_in_place", "turning", ["turning"], "athlete", 208, 113,
        _framed(Bout("turn", strides=4, turn_deg=180.0), Bout("still", duration_s=2.0),
                Bout("turn", strides=4, turn_deg=-180.0), Bout("still", duration_s=2.0),
                Bout("turn", strides=6, turn_deg=360.0)),
        "stepping around on the spot: half turn left, half turn right, full turn")
    add("bwd_straight_long", "walk", ["walk", "backward", "straight"], "adult", 208, 114,
        _framed(_walk("backward", 50)), "long straight backward walk (about 34 m)")
    add("bwd_curve_left", "walk", ["walk", "backward", "curve"], "adult", 104, 115,
        _framed(_walk("backward", 36, curve_deg_per_m=5.0, curve_from_stride=12)),
        "backward walk: 12 straight strides, then curving to the left at 5 deg per metre")
    add("bwd_curve_right_slow", "walk", ["walk", "backward", "curve"], "rehab", 100, 116,
        _framed(_walk("backward", 40, curve_deg_per_m=-6.0, curve_from_stride=8)),
        "slow backward walk: 8 straight strides, then curving to the right at 6 deg per metre")
    add("treadmill_fwd", "walk", ["walk", "forward", "treadmill", "straight"], "athlete", 400,
        117, _framed(_walk("forward", 40, treadmill=True, stride_m=1.4, cadence_spm=120)),
        "forward walking on a treadmill (belt ~1.4 m/s)")
    add("treadmill_bwd", "walk", ["walk", "backward", "treadmill", "straight"], "adult", 400,
        118, _framed(_walk("backward", 40, treadmill=True, stride_m=0.6, cadence_spm=90)),
        "backward walking on a treadmill (belt ~0.45 m/s), no rails")
    add("misaligned_mount", "mixed", ["walk", "forward", "backward", "misaligned", "straight"],
        "adult", 104, 119,
        _framed(_walk("forward", 15), Bout("still", duration_s=3.0), _walk("backward", 15)),
        "device clipped crooked: roll 8, pitch -12, yaw 20 degrees",
        mount=Mount(misalign_rpy_deg=(8.0, -12.0, 20.0), lever_arm_m=(0.10, 0.01, 0.07)),
        meta=[("calibrate_forward_strides", "4")])
    add("mount_reversed", "mixed", ["walk", "forward", "backward", "misaligned", "straight"],
        "athlete", 208, 120,
        _framed(_walk("forward", 12), Bout("still", duration_s=3.0), _walk("backward", 12)),
        "device clipped with the arrow toward the heel (yaw 180 degrees); the session "
        "starts with the forward calibration walk (its first 4 strides)",
        mount=Mount(misalign_rpy_deg=(0.0, 0.0, 180.0)),
        meta=[("calibrate_forward_strides", "4")])
    return {case.name: case for case in c}


CASES = _cases()
RATES_HZ = tuple(sorted({case.rate_hz for case in CASES.values()}))


def make_case(case):
    """(Trace, labels) of a case (a Case or its name), in memory."""
    if isinstance(case, str):
        if case not in CASES:
            raise RetrostepError(f"no corpus case {case!r}; see `retrostep corpus --list`")
        case = CASES[case]
    trace, labels = simulate(case.scenario(), case.seed)
    trace.meta.update(case.meta)
    labels["tags"] = list(case.tags)
    labels["description"] = case.description
    return trace, labels


def index_entry(case, trace, labels):
    return {
        "name": case.name,
        "trace": case.name + ".csv",
        "labels": case.name + ".labels.json",
        "kind": case.kind,
        "tags": list(case.tags),
        "subject": case.subject,
        "rate_hz": case.rate_hz,
        "seed": case.seed,
        "samples": len(trace.t_s),
        "duration_s": round(trace.duration_s, 3),
        "strides": len(labels["strides"]),
        "steps": labels["steps"],
        "forward_steps": labels["forward_steps"],
        "backward_steps": labels["backward_steps"],
        "leaves_line_t_s": labels["drift"]["leaves_line_t_s"],
        "description": case.description,
    }


def write_corpus(out_dir, names=None, log=None):
    """Write the cases (all, or `names`) and index.json into out_dir; returns the index."""
    names = list(CASES) if not names else list(names)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise RetrostepError(
            f"no corpus case named {', '.join(unknown)}; see `retrostep corpus --list`"
        )
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise RetrostepError(f"{out_dir}: cannot create the folder ({exc.strerror})") from None
    entries = []
    for name in names:
        case = CASES[name]
        trace, labels = make_case(case)
        path = os.path.join(out_dir, name + ".csv")
        write_case(path, trace, labels)
        entries.append(index_entry(case, trace, labels))
        if log:
            log(f"{path}: {entries[-1]['duration_s']:.0f} s at {case.rate_hz:g} Hz, "
                f"{entries[-1]['strides']} strides, {entries[-1]['steps']} steps")
    index = {"generator": "retrostep corpus", "version": 1, "cases": entries}
    with open(os.path.join(out_dir, "index.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    return index


def register(subparsers):
    p = subparsers.add_parser(
        "corpus",
        help="write the labelled corpus of simulated traces",
        description="Write the fixed, labelled corpus of simulated traces "
        "(NAME.csv, NAME.labels.json, index.json) into OUT_DIR. Same files every run.",
    )
    p.add_argument("out_dir", nargs="?", metavar="OUT_DIR")
    p.add_argument("--only", nargs="+", metavar="NAME", help="write only these cases")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.set_defaults(func=do_corpus)


def do_corpus(args):
    if args.list:
        for case in CASES.values():
            print(f"{case.name:22s} {case.rate_hz:5g} Hz  {case.subject:8s} "
                  f"{','.join(case.tags)}: {case.description}")
        return 0
    if not args.out_dir:
        raise RetrostepError("give OUT_DIR, the folder to write the corpus into")
    start = time.perf_counter()
    index = write_corpus(args.out_dir, args.only, log=lambda m: print(m, file=sys.stderr))
    total = sum(e["duration_s"] for e in index["cases"])
    print(f"wrote {len(index['cases'])} cases ({total / 60:.1f} min of motion) and "
          f"{os.path.join(args.out_dir, 'index.json')} in {time.perf_counter() - start:.1f} s")
    return 0
