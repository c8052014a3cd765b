"""The board's settings: a JSON file (/config.json) over built-in defaults.

``load(path)`` returns the defaults merged with the file, every value checked; a wrong
value, an unknown key (a typo) or a file that is not JSON raises ``ConfigError`` (a
ValueError) whose message names the key, the value and what is allowed, e.g.::

    /config.json: gait.still_ms = 5 is out of range: allowed 10..500 (ms)
    /config.json: unknown key "gait.stil_ms" (did you mean "gait.still_ms"?)
    /config.json is not valid JSON (syntax error in JSON): fix it, or delete it to use the defaults

A missing file gives the defaults. ``save(path, cfg)`` checks cfg the same way, then
writes only what differs from the defaults (so new firmware defaults reach boards that
never changed them) to a temporary file and renames it over the old one: a power cut
leaves the old file or the new one, never half of one.

The file (every key optional)::

    {
      "board": "auto",                      # a name from rstep.boards, or "auto"
      "pins": {"motor": 15, "button": 14},  # overrides of the board's pins
      "mount": {"yaw_deg": 0},              # from the calibration walk
      "gait": {"alert_offset_mm": 500},     # engine settings: keys of gait.DEFAULTS
      "goals": {"backward_min": 10, "steps": 0},
      "log": {"raw": false, "flush_every": 16},
      "haptics": {"strength_pct": 100},
      "power": {"light_sleep": false}     # lightsleep between batches (USB drops)
    }

``describe()`` lists every key with its default, its allowed values and its meaning.
``gait_settings(cfg)`` gives the keyword arguments for ``gait.Gait``.

Example::

    from rstep import config
    from rstep.gait import Gait
    cfg = config.load()                     # /config.json, or the defaults
    engine = Gait(**config.gait_settings(cfg))
    cfg["mount"]["yaw_deg"] = 12            # after a calibration walk
    config.save("/config.json", cfg)
"""

import json
import os

from . import gait, logbook

PATH = "/config.json"
AUTO = "auto"  # board: let the firmware find out which board it runs on

_INT = 1
_BOOL = 2
_STR = 3

# pin roles that "pins" may override: the pin fields of a board profile (rstep.boards);
# a boards.PIN_ROLES, if that module ever defines one, takes precedence
PIN_ROLES = ("sda", "scl", "int1", "motor", "button", "battery_adc", "led")
PIN_MAX = 63  # GPIO numbers 0..PIN_MAX; a string is a pin name ("GP15", "D5")

# allowed range of each engine setting (gait.DEFAULTS), chosen so that every product in
# the engine's set-up stays a small int and the engine's own limits hold
GAIT_RANGES = {
    "still_ms": (10, 500, "ms still that make a stance"),
    "stance_level_pct": (5, 95, "%: the stance level between the floor and the peak"),
    "min_swing_ms": (50, 2000, "ms: shorter swings are not strides"),
    "max_swing_ms": (300, 5000, "ms: longer swings are not strides"),
    "min_stride_mm": (0, 2000, "mm: shortest stride"),
    "land_tilt_deg": (5, 90, "deg: a stance tilted more from the lift-off stance: no stride"),
    "side_deg": (20, 80, "deg off the toe axis beyond which a stride is a side-step"),
    "turn_deg": (1, 180, "deg: a stride turning more ..."),
    "turn_min_stride_mm": (0, 3000, "mm: ... must be at least this long"),
    "pitch_vote_mm": (0, 1000, "mm: weight of the landing pitch in the direction vote"),
    "bout_gap_s": (1, 600, "s without a stride that end a bout"),
    "ref_strides": (1, 8, "backward strides that define the reference line"),
    "alert_offset_mm": (100, 10000, "mm off the line that raise a drift alert ..."),
    "alert_curve_deg_per_m": (0, 90, "... while the last strides curve this much (deg/m)"),
    "alert_heading_deg": (1, 90, "deg of heading deviation that raise one ..."),
    "alert_heading_strides": (1, 50, "... when held for this many strides"),
    "rearm_offset_mm": (0, 10000, "mm: back on the line below this"),
    "cooldown_s": (0, 3600, "s at least between two drift alerts"),
    "trust_tilt_deg": (0, 90, "deg: drift alerts only while the gyro agrees with gravity "
                              "this well (0: never; 90: always)"),
    "auto_mount": (0, 1, "1: learn the toe axis from the first swings"),
}
_GAIT_FALLBACK = (0, 100000, "engine setting")  # added to the engine, not listed above
_MOUNT_KEY = "mount_yaw_deg"  # set through mount.yaw_deg (the calibration walk)

# section -> key -> (kind, default, lo, hi, meaning); lo/hi: range, or string length
_SCHEMA = {
    "mount": {
        "yaw_deg": (_INT, 0, -180, 359,
                    "deg, the toe's direction in the device frame, from the calibration walk"),
    },
    "goals": {
        "backward_min": (_INT, 10, 0, 240, "min of backward walking per session; 0: none"),
        "steps": (_INT, 0, 0, 100000, "steps per session; 0: none"),
    },
    "log": {
        "raw": (_BOOL, False, 0, 1, "record the raw IMU samples too; uses much flash"),
        "flush_every": (_INT, logbook.FLUSH_EVERY, 1, 256,
                        "records between two flushes to flash"),
    },
    "haptics": {
        "strength_pct": (_INT, 100, 20, 100, "% of full motor strength"),
    },
    "power": {
        "light_sleep": (_BOOL, False, 0, 1,
                        "machine.lightsleep() between FIFO batches where the board allows "
                        "it; the USB serial link drops while asleep, so keep it off to sync"),
    },
}
_TOP = ("board", "gait", "goals", "haptics", "log", "mount", "pins", "power")


def _gait_schema():
    out = {}
    for k in gait.DEFAULTS:
        if k != _MOUNT_KEY:
            lo, hi, meaning = GAIT_RANGES.get(k, _GAIT_FALLBACK)
            out[k] = (_INT, gait.DEFAULTS[k], lo, hi, meaning)
    return out


_SCHEMA["gait"] = _gait_schema()


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says which key and why.

    key: the dotted key ("gait.still_ms"; None for the whole file), value: the value
    found, allowed: what would be accepted (a text).
    """

    def __init__(self, message, key=None, value=None, allowed=None):
        super().__init__(message)
        self.key = key
        self.value = value
        self.allowed = allowed


# ---------------------------------------------------------------------------- public
def defaults():
    """A new dict with every default (sections are dicts of their own)."""
    cfg = {"board": AUTO, "pins": {}}
    for sec in _SCHEMA:
        d = {}
        for k in _SCHEMA[sec]:
            d[k] = _SCHEMA[sec][k][1]
        cfg[sec] = d
    return cfg


def describe():
    """[(dotted key, default, allowed, meaning)] for every key, sorted."""
    out = [("board", AUTO, "a board name or \"auto\"", "the board and its pins"),
           ("pins.<role>", None,
            "0..%d or a pin name; roles: %s" % (PIN_MAX, ", ".join(_pin_roles())),
            "a pin other than the board's")]
    for sec in sorted(_SCHEMA):
        for k in sorted(_SCHEMA[sec]):
            kind, dflt, lo, hi, meaning = _SCHEMA[sec][k]
            allowed = "true or false" if kind == _BOOL else "%d..%d" % (lo, hi)
            out.append((sec + "." + k, dflt, allowed, meaning))
    return out


def load(path=PATH):
    """The defaults merged with the file at path (missing file: the defaults)."""
    if not _exists(path):
        # save() on a filesystem whose rename cannot replace a file removes the old file
        # first: a power cut right then leaves only the complete temporary file
        tmp = path + ".tmp"
        if _exists(tmp):
            try:
                return _read(tmp)
            except ConfigError:
                pass
        return defaults()
    return _read(path)


def load_or_defaults(path=PATH):
    """(cfg, None), or (the defaults, the reason) when the file cannot be used: any
    problem with it, a bad value as much as JSON nested too deep for the board. Never
    raises: the device runs whatever its /config.json holds."""
    try:
        return load(path), None
    except ConfigError as e:
        return defaults(), str(e)
    except Exception as e:  # noqa: BLE001 - MemoryError, RecursionError ...: still refused
        return defaults(), "%s cannot be used (%s: %s)" % (path, type(e).__name__, e)


def check(cfg, where="config"):
    """cfg (a dict as load() returns, or part of one) merged with the defaults and
    checked; raises ConfigError."""
    return _merge(cfg, where)


def save(path, cfg):
    """Check cfg, then write what differs from the defaults to path, atomically."""
    full = _merge(cfg, "config to save")
    text = _dumps(_diff(full, defaults()))
    tmp = path + ".tmp"
    f = open(tmp, "w")
    try:
        f.write(text)
        f.flush()
        if hasattr(os, "fsync"):  # CPython; MicroPython's close() commits to flash
            os.fsync(f.fileno())
    finally:
        f.close()
    try:
        os.rename(tmp, path)  # littlefs and POSIX replace the old file at once
    except OSError:
        if not _exists(path):
            raise
        os.remove(path)  # FAT cannot rename over a file; load() then reads the .tmp
        os.rename(tmp, path)


def gait_settings(cfg):
    """Keyword arguments for gait.Gait from a loaded configuration."""
    kw = {}
    g = cfg["gait"]
    for k in gait.DEFAULTS:
        kw[k] = cfg["mount"]["yaw_deg"] if k == _MOUNT_KEY else g[k]
    return kw


# ---------------------------------------------------------------------------- checking
def _read(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("%s cannot be read (%s)" % (path, e))
    except UnicodeError:
        raise ConfigError("%s is not a text file: fix it, or delete it to use the defaults"
                          % path)
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError("%s is not valid JSON (%s): fix it, or delete it to use the "
                          "defaults" % (path, e))
    except (RuntimeError, MemoryError) as e:  # RecursionError: nested too deep to read
        raise ConfigError("%s is nested too deeply or too large to read (%s): fix it, or "
                          "delete it to use the defaults" % (path, type(e).__name__))
    if _depth(data, _MAX_DEPTH) > _MAX_DEPTH:
        raise ConfigError("%s is nested more than %d levels deep (the settings are 2): fix "
                          "it, or delete it to use the defaults" % (path, _MAX_DEPTH),
                          None, None, "at most %d levels" % _MAX_DEPTH)
    return _merge(data, path)


_MAX_DEPTH = 8  # levels of objects and lists a config file may have (it needs 2)


def _depth(v, limit):
    """How deeply v nests (a scalar: 0), counting no further than limit + 1, without
    recursion (a deep value would exhaust the board's stack)."""
    depth = 0
    level = [v]
    while level and depth <= limit:
        nxt = []
        for x in level:
            if isinstance(x, dict):
                nxt.extend(x.values())
            elif isinstance(x, list):
                nxt.extend(x)
        if not nxt and not any(isinstance(x, (dict, list)) for x in level):
            break
        depth += 1
        level = nxt
    return depth


def _merge(data, where):
    if not isinstance(data, dict):
        raise ConfigError("%s must be a JSON object ({...}), not %s" % (where, _show(data)),
                          None, data, "an object")
    cfg = defaults()
    for key in sorted(data):  # sorted: the same first error on every port
        value = data[key]
        if key == "board":
            cfg["board"] = _check_board(value, where)
        elif key == "pins":
            cfg["pins"] = _check_pins(value, where)
        elif key in _SCHEMA:
            _section(where, key, value)
            sch = _SCHEMA[key]
            for k in sorted(value):
                dk = key + "." + k
                if k not in sch:
                    if key == "gait" and k == _MOUNT_KEY:
                        raise ConfigError('%s: %s is set by the calibration walk: use '
                                          '"mount.yaw_deg"' % (where, dk), dk, value[k],
                                          "mount.yaw_deg")
                    _unknown(where, dk)
                kind, _, lo, hi, meaning = sch[k]
                cfg[key][k] = _check_value(where, dk, value[k], kind, lo, hi, meaning)
        else:
            _unknown(where, key)
    g = cfg["gait"]
    _order(where, "gait.min_swing_ms", g["min_swing_ms"], "gait.max_swing_ms", g["max_swing_ms"])
    _order(where, "gait.rearm_offset_mm", g["rearm_offset_mm"],
           "gait.alert_offset_mm", g["alert_offset_mm"])
    return cfg


def _section(where, key, value):
    if not isinstance(value, dict):
        raise ConfigError("%s: %s must be an object ({...}), not %s" % (where, key, _show(value)),
                          key, value, "an object")


def _check_value(where, key, v, kind, lo, hi, meaning):
    if kind == _BOOL:
        if type(v) is not bool:
            raise ConfigError("%s: %s = %s must be true or false (%s)"
                              % (where, key, _show(v), meaning), key, v, "true or false")
        return v
    if kind == _INT:
        allowed = "%d..%d" % (lo, hi)
        if type(v) is not int:
            raise ConfigError("%s: %s = %s must be a whole number in %s (%s)"
                              % (where, key, _show(v), allowed, meaning), key, v, allowed)
        if not lo <= v <= hi:
            raise ConfigError("%s: %s = %s is out of range: allowed %s (%s)"
                              % (where, key, _show(v), allowed, meaning), key, v, allowed)
        return v
    raise ConfigError("%s: %s has no type" % (where, key))  # not reached


def _check_board(v, where):
    if type(v) is not str or not v:
        raise ConfigError('%s: board = %s must be a board name or "auto"' % (where, _show(v)),
                          "board", v, "a board name")
    if v == AUTO:
        return v
    names = _board_names()
    if names is not None and v not in names:
        allowed = ", ".join([AUTO] + sorted(names))
        hint = _closest(v, names)
        raise ConfigError("%s: board = %s is not a known board; known: %s%s"
                          % (where, _show(v), allowed,
                             ' (did you mean "%s"?)' % hint if hint else ""),
                          "board", v, allowed)
    return v


def _check_pins(v, where):
    _section(where, "pins", v)
    roles = _pin_roles()
    out = {}
    for role in sorted(v):
        key = "pins." + role
        if role not in roles:
            hint = _closest(role, roles)
            raise ConfigError('%s: unknown key "%s" (%s)'
                              % (where, key, 'did you mean "pins.%s"?' % hint if hint
                                 else "pin roles: " + ", ".join(roles)), key, v[role],
                              ", ".join(roles))
        p = v[role]
        allowed = "0..%d or a pin name" % PIN_MAX
        if type(p) is int:
            if not 0 <= p <= PIN_MAX:
                raise ConfigError("%s: %s = %s is out of range: allowed %s"
                                  % (where, key, _show(p), allowed), key, p, allowed)
        elif type(p) is not str or not 1 <= len(p) <= 16:
            raise ConfigError("%s: %s = %s must be a GPIO number %s"
                              % (where, key, _show(p), allowed), key, p, allowed)
        out[role] = p
    return out


def _order(where, ka, a, kb, b):
    if a >= b:
        raise ConfigError("%s: %s = %d must be less than %s = %d" % (where, ka, a, kb, b),
                          ka, a, "less than %d" % b)


def _unknown(where, key):
    hint = _closest(key, _all_keys())
    if hint:
        raise ConfigError('%s: unknown key "%s" (did you mean "%s"?)' % (where, key, hint),
                          key, None, hint)
    sec = key[:key.find(".")] if "." in key else ""
    valid = ", ".join(sorted(_SCHEMA[sec])) if sec in _SCHEMA else ", ".join(_TOP)
    raise ConfigError('%s: unknown key "%s" (%s keys: %s)'
                      % (where, key, sec if sec else "valid", valid), key, None, valid)


def _all_keys():
    """Every valid dotted key, top-level names first."""
    out = list(_TOP)
    for sec in sorted(_SCHEMA):
        for k in sorted(_SCHEMA[sec]):
            out.append(sec + "." + k)
    for r in _pin_roles():
        out.append("pins." + r)
    return out


def _leaf(key):
    i = key.rfind(".")
    return key[i + 1:] if i >= 0 else key


def _closest(word, candidates):
    """The candidate nearest to word (edit distance on the last dotted part, the same
    section first); None when none is near enough to be a typo."""
    sec = word[:word.rfind(".") + 1] if "." in word else ""
    leaf = _leaf(word)
    best = None
    best_d = 1000
    for c in candidates:
        cl = _leaf(c)
        if leaf.startswith(cl + "_") or cl.startswith(leaf + "_"):
            d = 2  # "raw_recording" for "raw"
        else:
            d = _distance(leaf, cl) * 2
        if sec and not c.startswith(sec):
            d += 1  # another section: only if clearly nearer
        if d < best_d:
            best, best_d = c, d
    typos = max(1, min(3, len(leaf) // 3))  # edits a typo may make
    return best if best_d <= 2 * typos + 1 else None


def _distance(a, b):
    """Edit distance (insertions, deletions, substitutions, adjacent swaps)."""
    prev2 = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if (prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2]
                    and a[i - 2] == b[j - 1]):
                d = min(d, prev2[j - 2] + 1)
            cur[j] = d
        prev2, prev = prev, cur
    return prev[len(b)]


def _board_names():
    """The names rstep.boards knows, or None when there is no such module (yet)."""
    try:
        from . import boards
    except ImportError:
        return None
    try:
        return list(boards.names())
    except AttributeError:
        return None


def _pin_roles():
    try:
        from . import boards
    except ImportError:
        return PIN_ROLES
    roles = getattr(boards, "PIN_ROLES", None)
    return tuple(roles) if roles else PIN_ROLES


def _show(v):
    """A value as it is written in JSON (cut after 60 characters)."""
    if isinstance(v, (dict, list)) and _depth(v, 3) > 3:
        s = ("{" if isinstance(v, dict) else "[") + "... nested too deep"
    else:
        try:
            s = json.dumps(v)
        except Exception:  # noqa: BLE001 - TypeError, ValueError, RuntimeError
            s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


# ---------------------------------------------------------------------------- writing
def _diff(cfg, base):
    out = {}
    for key in cfg:
        if isinstance(cfg[key], dict) and key != "pins":
            d = {}
            for k in cfg[key]:
                if cfg[key][k] != base[key][k]:
                    d[k] = cfg[key][k]
            if d:
                out[key] = d
        elif cfg[key] != base[key]:
            out[key] = cfg[key]
    return out


def _dumps(cfg):
    """JSON with sorted keys, one top-level key per line (the same bytes on every port:
    MicroPython's json has neither indent nor sort_keys)."""
    if not cfg:
        return "{}\n"
    lines = []
    for key in sorted(cfg):
        v = cfg[key]
        if isinstance(v, dict):
            s = "{" + ", ".join([json.dumps(k) + ": " + json.dumps(v[k]) for k in sorted(v)]) + "}"
        else:
            s = json.dumps(v)
        lines.append("  " + json.dumps(key) + ": " + s)
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False
