"""Trace files (README.md, "Trace format") and what the board would see of them.

A trace is specific force in g and angular rate in deg/s in the device frame
(x toward the toe, y to the wearer's left, z up; flat and still: az = +1 g), sampled at
a nominal rate >= 50 Hz. Real loggers stamp their samples with jitter and drop some:
an interval longer than GAP_PERIODS nominal periods is a gap, reported and not an
error. `quantise` resamples the trace on its timestamps into the int16 samples the IMU
would deliver at the firmware's ODR and full scale, and says where samples were lost.

File format::

    # key: value                      (optional, any number, kept in order)
    t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps
    0.000000,0.012000,-0.003000,1.001000,0.120000,-0.310000,0.050000
    ...

Every problem with a file is reported as one RetrostepError line naming the file, the
line (1-based, as an editor shows it), what is wrong and what to do about it.
"""

import io
import math
import os
import stat
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from retrostep.errors import RetrostepError
from retrostep.firmware import sensor

COLUMNS = ("t_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps")
MIN_RATE_HZ = 50.0
# no IMU samples faster (the LSM6DSOX tops out at 6.66 kHz); a faster "rate" is nearly
# always a time column in ms or us, and the resampler cannot bring it down to the ODR
MAX_RATE_HZ = 10000.0

HEADER = ",".join(COLUMNS)
# an interval longer than this many nominal periods (the median interval) is a gap:
# samples were lost there. 2.5 leaves room for heavy jitter (an interval of 1.5 periods
# followed by 0.5) and for a single dropped sample (2 periods), which are resampled over.
GAP_PERIODS = 2.5
# timestamps within this fraction of a period of a uniform grid are taken as exact
ON_GRID = 1e-4
# `retrostep check` lists at most this many gaps of a trace
MAX_GAPS_SHOWN = 10
# largest denominator of the rational resampling ratio
MAX_RATIO_DENOMINATOR = 1000


# ---------------------------------------------------------------------------- metadata
# the '# key: value' lines a replay acts on (the board's calibration); every other key
# is a free-form description. Each is checked when a trace is read, so `check` and
# `replay` accept and refuse the same files.
MAX_CALIBRATION_STRIDES = 50


def _yaw_deg(text):
    value = _number(text)
    if value is None or not math.isfinite(value) or not -360.0 <= value <= 360.0:
        raise ValueError("a number of degrees from -360 to 360")
    return int(value)


def _calibration_strides(text):
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_CALIBRATION_STRIDES:
        raise ValueError(f"a whole number of strides from 0 to {MAX_CALIBRATION_STRIDES}")
    return int(text)


META_VALUES = {"mount_yaw_deg": _yaw_deg, "calibrate_forward_strides": _calibration_strides}


def meta_value(key, text):
    """The typed value of a metadata line the replay acts on (see META_VALUES).

    Raises RetrostepError naming the key and what it must be."""
    try:
        return META_VALUES[key](text)
    except ValueError as exc:
        raise RetrostepError(f"trace metadata {key}: {_show(text)} is not {exc}; fix or "
                             "delete that '# ' line") from None


@dataclass
class Trace:
    """A recorded or simulated trace, in physical units."""

    t_s: np.ndarray  # (n,) seconds, strictly increasing, nominally constant rate
    accel_g: np.ndarray  # (n, 3) specific force, g
    gyro_dps: np.ndarray  # (n, 3) angular rate, deg/s
    meta: dict = field(default_factory=dict)  # '# key: value' lines, in order

    @property
    def rate_hz(self):
        """Mean sample rate, gaps left out."""
        return timing(self.t_s).rate_hz

    @property
    def jitter(self):
        """RMS deviation of the sample intervals from the mean, a fraction of it (gaps
        left out)."""
        return timing(self.t_s).jitter

    @property
    def gaps(self):
        """[(t_start_s, t_end_s)]: the samples either side of each gap."""
        t = self.t_s
        if len(t) < 2:
            return []
        return [(float(t[i]), float(t[i + 1])) for i in timing(t).gap_after]

    @property
    def duration_s(self):
        return float(self.t_s[-1] - self.t_s[0])


@dataclass
class BoardSamples:
    """The int16 samples the IMU would deliver for a trace.

    Sample indices count the board's samples as the engine does (its `n`), lost ones
    included: index k is taken at `time_of(k)` seconds on the trace's time base. `gaps`
    lists where the trace has no data as (index of the first lost sample, number lost);
    `samples` holds only the samples delivered, so its row r is sample `indices()[r]`.
    Without gaps the two are the same. `dt_s` is the exact spacing on the trace's time
    base; it equals 1 / odr_hz unless the trace's rate only approximately relates to the
    ODR.
    """

    samples: np.ndarray  # (m, 6) int16: ax, ay, az, gx, gy, gz
    t0_s: float  # time of sample 0 on the input time base
    odr_hz: float
    accel_ug_per_lsb: int
    gyro_udps_per_lsb: int
    dt_s: float = None
    gaps: list = field(default_factory=list)  # [(sample index, samples lost)]

    def __post_init__(self):
        if self.dt_s is None:
            self.dt_s = 1.0 / self.odr_hz

    def __len__(self):
        return len(self.samples)

    @property
    def lost(self):
        """Samples lost in all gaps."""
        return sum(lost for _, lost in self.gaps)

    def indices(self):
        """Sample index (the engine's `n`) of each row of `samples`."""
        shift = np.zeros(len(self.samples) + 1, dtype=np.int64)
        for row, lost in gap_rows(self.gaps):
            shift[row] += lost
        return np.arange(len(self.samples), dtype=np.int64) + np.cumsum(shift[:-1])

    def time_of(self, index):
        """Seconds on the trace's time base of sample `index` (the engine's sample
        count, lost samples included; int or array)."""
        if np.ndim(index) == 0:
            return float(self.t0_s + float(index) * self.dt_s)
        return self.t0_s + np.asarray(index, dtype=np.float64) * self.dt_s


def gap_rows(gaps):
    """BoardSamples.gaps as [(row of `samples` before which the samples were lost,
    number lost)]: where to call the engine's gap() while feeding the rows."""
    rows, before = [], 0
    for index, lost in gaps:
        rows.append((index - before, lost))
        before += lost
    return rows


# ---------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """How a strictly increasing time vector was sampled."""

    gap_after: np.ndarray  # indices i where t[i + 1] - t[i] is a gap
    count: int  # intervals that are not gaps
    span_s: float  # their total length
    jitter: float  # rms deviation of those intervals from period_s, as a fraction of it

    @property
    def rate_hz(self):
        return self.count / self.span_s

    @property
    def period_s(self):
        return self.span_s / self.count


def timing(t):
    """Gaps, mean rate and jitter of the strictly increasing times `t` (at least 2)."""
    t = np.asarray(t, dtype=np.float64)
    dt = np.diff(t)
    gap = dt > GAP_PERIODS * np.median(dt)
    gap_after = np.flatnonzero(gap)
    count = len(dt) - len(gap_after)
    span = float(t[-1] - t[0])
    if len(gap_after):
        span -= float(dt[gap_after].sum())
    period = span / count
    kept = dt[~gap] if len(gap_after) else dt
    jitter = float(np.sqrt(np.mean((kept - period) ** 2)) / period)
    return Timing(gap_after=gap_after, count=count, span_s=span, jitter=jitter)


# ---------------------------------------------------------------------------- reading


def _show(text, limit=40):
    """A cell or line, quoted and shortened for a one-line message."""
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def fmt_time(x):
    return f"{x:.6g}"


class _Reader:
    """One read of one file; `fail` raises its problems as one-line RetrostepErrors."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.name = self.path

    # -- messages
    def fail(self, what, todo, line=None):
        where = f"{self.name} line {line}" if line is not None else self.name
        raise RetrostepError(f"{where}: {what}; {todo}")

    # -- steps
    def load_text(self):
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            self.fail("no such file", "check the path")
        except OSError as exc:
            self.fail(f"cannot be read ({exc.strerror or exc})", "check the path and the disk")
        if stat.S_ISDIR(mode):
            self.fail("is a directory, not a trace file", "give the path of a .csv trace")
        if not stat.S_ISREG(mode):
            # a FIFO or a device would block or never end
            self.fail("is not a regular file (a pipe, socket or device)",
                      "save the trace to a file first and give its path")
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            self.fail("no such file", "check the path")
        except IsADirectoryError:
            self.fail("is a directory, not a trace file", "give the path of a .csv trace")
        except PermissionError:
            self.fail("cannot be read (permission denied)", "check the file's permissions")
        except OSError as exc:
            self.fail(f"cannot be read ({exc.strerror or exc})", "check the path and the disk")
        if not data.strip():
            self.fail(
                "the file is empty",
                f"a trace needs the header '{HEADER}' and at least 2 samples",
            )
        nul = data.find(b"\0")
        if nul >= 0:
            self.fail(
                "contains NUL bytes, so it is a binary file, not a trace CSV",
                "export the trace as text CSV (README.md, \"Trace format\")",
                line=data.count(b"\n", 0, nul) + 1,
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            bad = data[exc.start : exc.start + 1]
            self.fail(
                f"byte 0x{bad.hex()} is not UTF-8 text, so this is a binary or "
                "wrongly encoded file",
                "save the trace as a UTF-8 (or plain ASCII) text CSV",
                line=data.count(b"\n", 0, exc.start) + 1,
            )
        if not text.strip():  # a byte-order mark and nothing else
            self.fail(
                "the file is empty",
                f"a trace needs the header '{HEADER}' and at least 2 samples",
            )
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        return text

    def read_head(self, text):
        """Meta lines and header; returns (meta, header line number, body offset)."""
        meta = {}
        pos = 0
        lineno = 0
        while pos < len(text):
            end = text.find("\n", pos)
            if end < 0:
                end = len(text)
            line = text[pos:end]
            lineno += 1
            pos = end + 1
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                key, sep, value = stripped[1:].partition(":")
                key = key.strip()
                if not sep or not key:
                    self.fail(
                        f"{_show(stripped)} is not a '# key: value' line",
                        "write it as '# key: value' or delete it",
                        line=lineno,
                    )
                if key in meta:
                    self.fail(
                        f"meta key {key!r} appears a second time",
                        "keep one '# key: value' line per key",
                        line=lineno,
                    )
                meta[key] = value.strip()
                if key in META_VALUES:
                    try:
                        META_VALUES[key](meta[key])
                    except ValueError as exc:
                        self.fail(f"metadata {key}: {_show(meta[key])} is not {exc}",
                                  "fix or delete that '# ' line", line=lineno)
                continue
            self.check_header(stripped, lineno)
            return meta, lineno, min(pos, len(text))
        self.fail(
            f"no header line after the '#' lines (the file ends at line {lineno})",
            f"add the header '{HEADER}' followed by the samples",
        )

    def check_header(self, line, lineno):
        cells = [c.strip() for c in line.split(",")]
        if tuple(cells) == COLUMNS:
            return
        todo = f"the header must be exactly '{HEADER}'"
        known = [c for c in cells if c in COLUMNS]
        if not known:
            if _all_numbers(cells):
                what = "missing header: this line holds numbers, not column names"
                todo = f"add the line '{HEADER}' above it"
            else:
                what = f"missing header: found {_show(line)}"
                todo = f"make this line '{HEADER}'"
            self.fail(what, todo, line=lineno)
        missing = [c for c in COLUMNS if c not in cells]
        unknown = [c for c in cells if c not in COLUMNS]
        twice = sorted({c for c in known if cells.count(c) > 1}, key=COLUMNS.index)
        problems = []
        if missing:
            s = "s" if len(missing) > 1 else ""
            problems.append(f"column{s} {', '.join(missing)} missing from the header")
        if unknown:
            s = "s" if len(unknown) > 1 else ""
            problems.append(f"unknown column{s} {', '.join(_show(c) for c in unknown)}")
        if twice:
            s = "s" if len(twice) > 1 else ""
            problems.append(f"column{s} {', '.join(twice)} given twice")
        if not problems:
            problems.append(f"columns in the wrong order ({_show(line, 80)})")
        self.fail("; ".join(problems), todo, line=lineno)

    def parse_body(self, body, first_line):
        """Numbers of the data lines as an (n, 7) float64 array."""
        if not body.strip():
            return np.empty((0, len(COLUMNS)))
        try:
            data = np.loadtxt(
                io.StringIO(body), delimiter=",", comments=None, ndmin=2, dtype=np.float64
            )
        except ValueError:
            data = None
        if data is not None and data.shape[1] == len(COLUMNS):
            return data
        return self.parse_body_slowly(body, first_line)

    def parse_body_slowly(self, body, first_line):
        """Line by line: finds the first bad line for the message (or parses it all)."""
        rows = []
        ncol = len(COLUMNS)
        for lineno, line in enumerate(body.split("\n"), start=first_line):
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                self.fail(
                    "a '#' line after the header",
                    "'# key: value' lines belong before the header; move or delete it",
                    line=lineno,
                )
            cells = stripped.split(",")
            if len(cells) != ncol:
                self.fail(
                    f"the line has {len(cells)} cells, expected {ncol} ({HEADER})",
                    "fix or delete that line",
                    line=lineno,
                )
            row = []
            for name, cell in zip(COLUMNS, cells):
                value = _number(cell)
                if value is None:
                    what = (
                        f"column {name} is empty"
                        if not cell.strip()
                        else f"column {name} is {_show(cell)}, not a number"
                    )
                    self.fail(what, "fix or delete that line", line=lineno)
                row.append(value)
            rows.append(row)
        return np.array(rows, dtype=np.float64).reshape(-1, ncol)

    def line_of_row(self, body, first_line, row):
        """Line number of data row `row` (0-based, blank lines not counted)."""
        count = -1
        for lineno, line in enumerate(body.split("\n"), start=first_line):
            if line.strip():
                count += 1
                if count == row:
                    return lineno
        return None

    def check_values(self, data, body, first_line):
        finite = np.isfinite(data)
        if finite.all():
            return
        row, col = np.argwhere(~finite)[0]
        lineno = self.line_of_row(body, first_line, row)
        cell = str(data[row, col])
        if lineno is not None:
            cells = body.split("\n")[lineno - first_line].split(",")
            if col < len(cells):
                cell = cells[col].strip()
        self.fail(
            f"column {COLUMNS[col]} is {cell!r}, not a finite number",
            "a trace holds measured values only: fix or delete that line",
            line=lineno,
        )

    def check_times(self, t, body, first_line, header_line):
        n = len(t)
        if n == 0:
            self.fail(
                f"no samples after the header (line {header_line})",
                "a trace needs at least 2 samples",
            )
        if n == 1:
            self.fail(
                "only 1 sample",
                "a trace needs at least 2 samples to have a rate; record a longer trace",
                line=self.line_of_row(body, first_line, 0),
            )
        dt = np.diff(t)
        bad = np.flatnonzero(dt <= 0)
        if len(bad):
            i = int(bad[0]) + 1
            if dt[i - 1] == 0:
                what = f"time repeats: t_s {fmt_time(t[i])} again"
                todo = "delete the duplicate sample"
            else:
                what = f"time goes backward: t_s {fmt_time(t[i])} after {fmt_time(t[i - 1])}"
                todo = "sort the samples by time or remove the stray line"
            self.fail(what, todo, line=self.line_of_row(body, first_line, i))
        rate = timing(t).rate_hz
        if rate > MAX_RATE_HZ:
            self.fail(
                f"the mean sample rate is {rate:.4g} Hz, faster than any IMU samples "
                f"(over {MAX_RATE_HZ:g} Hz)",
                "give t_s in seconds (not milliseconds or microseconds)",
            )
        if rate < MIN_RATE_HZ * (1 - 1e-6):
            self.fail(
                f"the mean sample rate is {rate:.4g} Hz (a sample every {1 / rate:.4g} s, "
                f"gaps left out), below the {MIN_RATE_HZ:g} Hz minimum",
                f"record or export the trace at {MIN_RATE_HZ:g} Hz or faster",
            )


def _number(cell):
    """float(cell), or None if the cell is not a plain decimal number."""
    if "_" in cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def _all_numbers(cells):
    return all(_number(c) is not None for c in cells)


def read_trace(path):
    """Read and check a trace CSV; raises RetrostepError with a one-line reason."""
    reader = _Reader(path)
    text = reader.load_text()
    meta, header_line, offset = reader.read_head(text)
    body = text[offset:]
    first_line = header_line + 1
    data = reader.parse_body(body, first_line)
    reader.check_values(data, body, first_line)
    t = np.ascontiguousarray(data[:, 0])
    reader.check_times(t, body, first_line, header_line)
    return Trace(
        t_s=t,
        accel_g=np.ascontiguousarray(data[:, 1:4]),
        gyro_dps=np.ascontiguousarray(data[:, 4:7]),
        meta=meta,
    )


# ---------------------------------------------------------------------------- writing

_ROW_FORMAT = ",".join(["%.6f"] * len(COLUMNS)) + "\n"
_CHUNK_ROWS = 65536


def _trace_array(trace):
    """(n, 7) float64 array of a Trace, checking shapes."""
    t = np.asarray(trace.t_s, dtype=np.float64)
    accel = np.asarray(trace.accel_g, dtype=np.float64)
    gyro = np.asarray(trace.gyro_dps, dtype=np.float64)
    n = len(t)
    if t.ndim != 1 or accel.shape != (n, 3) or gyro.shape != (n, 3):
        raise RetrostepError(
            f"trace arrays do not match: t_s {t.shape}, accel_g {accel.shape}, "
            f"gyro_dps {gyro.shape}; expected (n,), (n, 3), (n, 3)"
        )
    return np.column_stack((t, accel, gyro))


def write_trace(path, trace):
    """Write `trace` as a trace CSV, atomically (a temporary file then a rename)."""
    path = os.fspath(path)
    data = _trace_array(trace)
    if not np.isfinite(data).all():
        raise RetrostepError(
            f"{path}: the trace holds NaN or infinite values; "
            "fix the trace before writing it"
        )
    meta_lines = []
    for key, value in trace.meta.items():
        key, value = str(key).strip(), str(value).strip()
        if not key or ":" in key or "\n" in key or "\r" in key or "\n" in value or "\r" in value:
            raise RetrostepError(
                f"{path}: meta key {key!r} / value {value!r} cannot be written as a "
                "'# key: value' line; use a key without ':' and single-line text"
            )
        meta_lines.append(f"# {key}: {value}\n")

    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(
            dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
        )
    except FileNotFoundError:
        raise RetrostepError(
            f"{path}: the folder {directory} does not exist; create it or pick another path"
        ) from None
    except PermissionError:
        raise RetrostepError(
            f"{path}: no permission to write in {directory}; pick another path"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(meta_lines)
            f.write(HEADER + "\n")
            for start in range(0, len(data), _CHUNK_ROWS):
                chunk = data[start : start + _CHUNK_ROWS]
                f.write((_ROW_FORMAT * len(chunk)) % tuple(chunk.ravel().tolist()))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _new_file_mode(path):
    """Keep an existing file's permissions; otherwise what open() would give."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# ---------------------------------------------------------------------------- quantising


def _resample_ratio(rate_in, odr_hz):
    ratio = (Fraction(odr_hz) / Fraction(rate_in)).limit_denominator(MAX_RATIO_DENOMINATOR)
    if ratio <= 0:
        raise RetrostepError(
            f"cannot resample {rate_in:.4g} Hz to {odr_hz:.4g} Hz; "
            "pick an output rate closer to the trace's rate"
        )
    return ratio.numerator, ratio.denominator


def _resample(x, up, down):
    """resample_poly along axis 0, padded by odd reflection so the ends stay true."""
    from scipy.signal import firwin, resample_poly

    n = len(x)
    # resample_poly's own low-pass design (Kaiser window, beta 5, cutoff at the lower
    # Nyquist rate, 10 * max(up, down) taps each side) ...
    half_len = 10 * max(up, down)
    h = firwin(2 * half_len + 1, 1.0 / max(up, down), window=("kaiser", 5.0))
    # ... with every polyphase branch scaled to a DC gain of exactly one: otherwise
    # up-sampling turns a constant (1 g at rest) into a +-1 LSB ripple
    for phase in range(up):
        h[phase::up] /= h[phase::up].sum() * up
    # resample_poly's filter reaches 10 * max(up, down) samples of the up-sampled
    # signal each side, i.e. this many input samples; pad a multiple of `down` so the
    # padding is a whole number of output samples too
    reach = math.ceil(half_len / up) + 1
    pad = down * math.ceil(reach / down)
    padded = np.pad(x, ((pad, pad), (0, 0)), mode="reflect", reflect_type="odd")
    y = resample_poly(padded, up, down, axis=0, window=h)
    start = pad * up // down
    m = (n - 1) * up // down + 1
    return y[start : start + m]


def _on_odr_grid(t, values, odr_hz):
    """Resample (t, values) onto the uniform ODR grid t[0] + k * dt_s, gaps left empty.

    Returns (resampled values of the samples delivered, dt_s, [(k, samples lost)]).
    """
    tm = timing(t)
    up, down = _resample_ratio(tm.rate_hz, odr_hz)
    step_in = tm.period_s
    dt_s = step_in * down / up
    t = t - t[0]  # seconds from the first sample: keeps the precision of epoch stamps
    pieces, gaps, k_next = [], [], 0
    for lo, hi in _stretches(tm.gap_after, len(t)):
        k0 = max(k_next, math.ceil(t[lo] / dt_s - ON_GRID))
        start = k0 * dt_s
        m = math.floor((t[hi - 1] - start) / step_in + ON_GRID) + 1
        if m < 1:
            continue  # a stretch too short to hold a board sample: part of the gap
        part = _on_grid(t[lo:hi], values[lo:hi], start, step_in, m)
        if up != down:
            part = _resample(part, up, down)
        if k0 > k_next:
            gaps.append((k_next, k0 - k_next))
        pieces.append(part)
        k_next = k0 + len(part)
    return np.concatenate(pieces), dt_s, gaps


def _stretches(gap_after, n):
    """[(lo, hi)]: the sample ranges between the gaps."""
    edges = [0, *(int(i) + 1 for i in gap_after), n]
    return list(zip(edges[:-1], edges[1:]))


def _on_grid(t, values, start, step, m):
    """`values` sampled at `t`, at the m times start + j * step (interpolated unless
    the samples already are on that grid)."""
    grid = start + np.arange(m) * step
    if len(t) == m and np.max(np.abs(t - grid)) <= ON_GRID * step:
        return values
    return np.column_stack([np.interp(grid, t, values[:, j]) for j in range(values.shape[1])])


def quantise(trace, odr_hz=None, accel_fs_g=None, gyro_fs_dps=None):
    """The int16 samples the board's IMU would deliver for `trace`.

    Defaults are the firmware's settings (retrostep.firmware.sensor). Each stretch of
    the trace between gaps is put on a uniform time grid if its timestamps jitter
    (linear interpolation), resampled to `odr_hz` with an anti-aliasing filter, scaled
    to LSB, rounded half to even and saturated to int16. Nothing is interpolated across
    a gap: the board samples that fall in one are lost (BoardSamples.gaps).
    """
    odr_hz = sensor.ODR_HZ if odr_hz is None else odr_hz
    accel_fs_g = sensor.ACCEL_FS_G if accel_fs_g is None else accel_fs_g
    gyro_fs_dps = sensor.GYRO_FS_DPS if gyro_fs_dps is None else gyro_fs_dps
    if accel_fs_g not in sensor.ACCEL_UG_PER_LSB:
        raise RetrostepError(
            f"accelerometer full scale +-{accel_fs_g} g is not supported; "
            f"use one of {', '.join(str(k) for k in sensor.ACCEL_UG_PER_LSB)}"
        )
    if gyro_fs_dps not in sensor.GYRO_UDPS_PER_LSB:
        raise RetrostepError(
            f"gyroscope full scale +-{gyro_fs_dps} deg/s is not supported; "
            f"use one of {', '.join(str(k) for k in sensor.GYRO_UDPS_PER_LSB)}"
        )
    if isinstance(odr_hz, np.generic):
        odr_hz = odr_hz.item()
    if not (isinstance(odr_hz, (int, float)) and math.isfinite(odr_hz) and odr_hz > 0):
        raise RetrostepError(f"output data rate {odr_hz!r} Hz is not a positive number")
    ug_per_lsb = sensor.ACCEL_UG_PER_LSB[accel_fs_g]
    udps_per_lsb = sensor.GYRO_UDPS_PER_LSB[gyro_fs_dps]

    data = _trace_array(trace)
    n = len(data)
    if n < 2:
        raise RetrostepError(f"the trace has {n} sample(s); quantising needs at least 2")
    if not np.isfinite(data).all():
        raise RetrostepError("the trace holds NaN or infinite values; fix it first")
    t = data[:, 0]
    if not (np.diff(t) > 0).all():
        raise RetrostepError("the trace's time stamps are not strictly increasing")
    values, dt_s, gaps = _on_odr_grid(t, data[:, 1:], odr_hz)

    lsb = np.empty_like(values)
    # value * 1e6 / sensitivity, in that order, as the conversion is defined; a value
    # too big for that saturates below like any other (no overflow warning on stderr)
    with np.errstate(over="ignore"):
        lsb[:, :3] = values[:, :3] * 1e6 / ug_per_lsb
        lsb[:, 3:] = values[:, 3:] * 1e6 / udps_per_lsb
    np.rint(lsb, out=lsb)
    np.clip(lsb, sensor.INT16_MIN, sensor.INT16_MAX, out=lsb)
    return BoardSamples(
        samples=lsb.astype(np.int16),
        t0_s=float(t[0]),
        odr_hz=odr_hz,
        accel_ug_per_lsb=ug_per_lsb,
        gyro_udps_per_lsb=udps_per_lsb,
        dt_s=dt_s,
        gaps=gaps,
    )


# ---------------------------------------------------------------------------- command
