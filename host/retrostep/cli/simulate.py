"""`retrostep simulate`: the command line of `retrostep.sim.gaitsim`."""

import os
from dataclasses import replace

from retrostep.errors import RetrostepError
from retrostep.sim.gaitsim import (Bout, DIRECTIONS, impact_gain_at,
    KINDS, labels_path, Mount, mount_preset, PLACEMENTS, plot_stride_pair, Scenario,
    SensorModel, SIDE_DIRECTIONS, simulate, SUBJECTS, write_case)


def _numbers(text, count, what):
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) != count:
        words = {2: "two", 3: "three"}.get(count, str(count))
        raise RetrostepError(f"{what} {text!r}: give {words} numbers separated by commas")
    return tuple(vals)


def _triple(text, what):
    return _numbers(text, 3, what)


def register(subparsers):
    p = subparsers.add_parser(
        "simulate",
        help="simulate a shoe IMU trace with labels",
        description="Simulate a rigid shoe with an IMU clipped to it (retrostep.sim.gaitsim) "
        "and write TRACE.csv plus TRACE.labels.json. A lead-in and lead-out of standing "
        "still frame the bout (not with --mid-walk). --plot PNG draws one forward and one backward stride "
        "(e.g. `retrostep simulate --plot docs/stride_forward_backward.png`).",
    )
    p.add_argument("-o", "--out", metavar="TRACE.csv", help="trace to write (labels beside it)")
    p.add_argument("--out-dir", metavar="DIR", help="write DIR/NAME.csv instead")
    p.add_argument("--name", help="case name for --out-dir (default: from the kind)")
    p.add_argument("--kind", default="walk", choices=[k.replace("_", "-") for k in KINDS])
    p.add_argument("--direction", default="forward", choices=DIRECTIONS + SIDE_DIRECTIONS,
                   help="forward | backward; left | right for --kind sidestep")
    p.add_argument("--strides", type=int, default=20, help="strides of the instrumented foot")
    p.add_argument("--duration", type=float, default=30.0,
                   help="seconds, for still / tap / leg-swing")
    p.add_argument("--subject", default="adult", choices=sorted(SUBJECTS))
    p.add_argument("--rate", type=float, default=104.0, help="sample rate, Hz (>= 50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stride-m", type=float, help="stride length (two steps), m")
    p.add_argument("--cadence", type=float, help="steps per minute")
    p.add_argument("--curve-deg-per-m", type=float, default=0.0,
                   help="heading change per metre walked (+ = left)")
    p.add_argument("--mount", default="laces", choices=sorted(PLACEMENTS),
                   help="where the clip holds the device (default laces)")
    p.add_argument("--misalign", metavar="R,P,Y", default="0,0,0",
                   help="mount roll,pitch,yaw relative to its placement, degrees")
    p.add_argument("--lever-arm", metavar="X,Y,Z",
                   help="device position from the heel in the foot frame, m")
    p.add_argument("--treadmill", action="store_true")
    p.add_argument("--impact-g", type=float, help="contact transient peak, g")
    p.add_argument("--lead-in", type=float, default=3.0,
                   help="seconds standing still before and after (default 3)")
    p.add_argument("--mid-walk", action="store_true",
                   help="start the recording mid-walk (no lead-in, random stride phase)")
    p.add_argument("--vibration", metavar="G,DPS", help="ground vibration at contact, "
                   "rms accel (g) and rate (deg/s), e.g. 0.2,35")
    p.add_argument("--real-sensor", action="store_true", help="also draw cross-axis "
                   "coupling (+-0.5 %%) and clock error (+-0.7 %%) from the seed")
    p.add_argument("--ideal", action="store_true", help="no sensor errors, no jitter")
    p.add_argument("--quantise", action="store_true", help="round to the IMU's LSB")
    p.add_argument("--plot", metavar="PNG", help="draw one forward and one backward stride")
    p.set_defaults(func=do_simulate)


def scenario_from_args(args):
    kind = args.kind.replace("-", "_")
    subject = SUBJECTS[args.subject]
    misalign = _triple(args.misalign, "--misalign")
    if args.mount == "laces":  # the documented mount, kept as plain as it always was
        mount = Mount(misalign_rpy_deg=misalign)
    else:
        mount = mount_preset(args.mount, subject.foot, subject.foot_length_m, misalign)
    if args.lever_arm:
        mount = replace(mount, lever_arm_m=_triple(args.lever_arm, "--lever-arm"))
        if args.mount != "laces":
            mount.impact_gain = impact_gain_at(mount.lever_arm_m, subject.foot_length_m)
    vib = (0.0, 0.0)
    if args.vibration:
        vib = _numbers(args.vibration, 2, "--vibration")
    bout = Bout(kind=kind, direction=args.direction, strides=args.strides,
                duration_s=args.duration, stride_m=args.stride_m, cadence_spm=args.cadence,
                curve_deg_per_m=args.curve_deg_per_m, treadmill=args.treadmill,
                impact_g=args.impact_g, vibration_g_rms=vib[0], vibration_dps_rms=vib[1])
    bouts = [bout]
    if args.lead_in > 0 and not args.mid_walk:
        bouts = [Bout("still", duration_s=args.lead_in), bout,
                 Bout("still", duration_s=args.lead_in)]
    name = args.name or (f"{kind}_{args.direction}"
                         if kind in ("walk", "jog", "shuffle", "sidestep") else kind)
    sensor = (SensorModel.real if args.real_sensor else SensorModel)(quantise=args.quantise)
    return Scenario(bouts=bouts, subject=subject, mount=mount, sensor=sensor,
                    rate_hz=args.rate, ideal=args.ideal, name=name, kind=kind,
                    start_mid_walk=args.mid_walk)


def do_simulate(args):
    if not (args.out or args.out_dir or args.plot):
        raise RetrostepError("nothing to do: give -o TRACE.csv, --out-dir DIR or --plot PNG")
    if args.out and args.out_dir:
        raise RetrostepError("give either -o TRACE.csv or --out-dir DIR, not both")
    if args.plot:
        plot_stride_pair(args.plot, seed=args.seed)
        print(f"wrote {args.plot}")
    if args.out or args.out_dir:
        sc = scenario_from_args(args)
        path = args.out
        if args.out_dir:
            if not os.path.isdir(args.out_dir):
                raise RetrostepError(f"{args.out_dir}: no such folder; create it first")
            path = os.path.join(args.out_dir, sc.name + ".csv")
        trace, labels = simulate(sc, args.seed)
        write_case(path, trace, labels)
        print(f"wrote {path} ({len(trace.t_s)} samples, {sc.rate_hz:g} Hz, "
              f"{trace.duration_s:.1f} s) and {labels_path(path)}: "
              f"{len(labels['strides'])} strides, {labels['steps']} steps")
    return 0

