"""Board configuration (firmware/rstep/config.py): defaults, merge, checks, atomic save."""

import json
import sys
import types

import pytest

import retrostep.firmware as fw_pkg
from retrostep.vm import mpvm
from retrostep.firmware import config, gait, logbook


@pytest.fixture(autouse=True)
def no_boards_module(monkeypatch):
    """Tests see no rstep.boards unless they install one (another engineer writes it)."""
    monkeypatch.setitem(sys.modules, "retrostep.firmware.boards", None)
    monkeypatch.delattr(fw_pkg, "boards", raising=False)


def write(tmp_path, data, name="config.json"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(p)


def error(tmp_path, data):
    """The ConfigError load() raises for data."""
    path = write(tmp_path, data)
    with pytest.raises(config.ConfigError) as ei:
        config.load(path)
    return ei.value, path


# ---------------------------------------------------------------------------- defaults
def test_missing_file_gives_the_defaults(tmp_path):
    cfg = config.load(str(tmp_path / "none.json"))
    assert cfg == config.defaults()
    assert cfg["board"] == "auto" and cfg["pins"] == {}
    assert cfg["mount"] == {"yaw_deg": 0}
    assert cfg["log"] == {"raw": False, "flush_every": logbook.FLUSH_EVERY}
    assert cfg["goals"] == {"backward_min": 10, "steps": 0}
    assert cfg["haptics"] == {"strength_pct": 100}
    engine = dict(gait.DEFAULTS)
    del engine["mount_yaw_deg"]
    assert cfg["gait"] == engine


def test_defaults_are_fresh_copies():
    a = config.defaults()
    a["gait"]["still_ms"] = 99
    a["pins"]["motor"] = 3
    assert config.defaults()["gait"]["still_ms"] == gait.DEFAULTS["still_ms"]
    assert config.defaults()["pins"] == {}


def test_every_engine_setting_has_a_range_that_holds_its_default():
    keys = set(gait.DEFAULTS) - {"mount_yaw_deg"}
    assert set(config.GAIT_RANGES) == keys
    for k, (lo, hi, meaning) in config.GAIT_RANGES.items():
        assert lo <= gait.DEFAULTS[k] <= hi and meaning


@pytest.mark.parametrize("key", sorted(config.GAIT_RANGES))
def test_the_engine_accepts_each_setting_at_both_ends_of_its_range(key, tmp_path):
    lo, hi = config.GAIT_RANGES[key][:2]
    for v in (lo, hi):
        data = {"gait": {key: v}}
        if key == "min_swing_ms":
            data["gait"]["max_swing_ms"] = 5000
        if key == "max_swing_ms":
            data["gait"]["min_swing_ms"] = 50
        if key == "rearm_offset_mm":
            data["gait"]["alert_offset_mm"] = 10000
            data["gait"][key] = min(v, 9999)
        if key == "alert_offset_mm":
            data["gait"]["rearm_offset_mm"] = 0
        cfg = config.load(write(tmp_path, data))
        eng = gait.Gait(**config.gait_settings(cfg))
        assert eng.settings()[key] == data["gait"][key]


def test_describe_lists_every_key_with_default_and_range():
    rows = {r[0]: r for r in config.describe()}
    assert rows["gait.still_ms"][1:3] == (gait.DEFAULTS["still_ms"], "10..500")
    assert rows["log.raw"][1:3] == (False, "true or false")
    assert len(rows) == 2 + sum(len(config.defaults()[s]) for s in
                                ("gait", "goals", "haptics", "log", "mount", "power"))


# ---------------------------------------------------------------------------- merging
def test_file_values_are_merged_over_the_defaults(tmp_path):
    path = write(tmp_path, {"gait": {"alert_offset_mm": 700}, "mount": {"yaw_deg": -12},
                            "log": {"raw": True}, "pins": {"motor": 15, "button": "GP14"},
                            "board": "auto"})
    cfg = config.load(path)
    want = config.defaults()
    want["gait"]["alert_offset_mm"] = 700
    want["mount"]["yaw_deg"] = -12
    want["log"]["raw"] = True
    want["pins"] = {"motor": 15, "button": "GP14"}
    assert cfg == want


def test_gait_settings_are_the_engine_keywords_with_the_calibrated_mount(tmp_path):
    cfg = config.load(write(tmp_path, {"gait": {"cooldown_s": 20}, "mount": {"yaw_deg": 180}}))
    kw = config.gait_settings(cfg)
    assert set(kw) == set(gait.DEFAULTS)
    assert kw["cooldown_s"] == 20 and kw["mount_yaw_deg"] == 180
    eng = gait.Gait(**kw)
    assert eng.mount_bam == 32768


def test_empty_object_and_empty_sections_are_fine(tmp_path):
    assert config.load(write(tmp_path, "{}")) == config.defaults()
    assert config.load(write(tmp_path, {"gait": {}, "pins": {}})) == config.defaults()


# ---------------------------------------------------------------------------- bad values
@pytest.mark.parametrize("data, key, message", [
    ({"gait": {"still_ms": 5}}, "gait.still_ms",
     "gait.still_ms = 5 is out of range: allowed 10..500 (ms still that make a stance)"),
    ({"gait": {"alert_offset_mm": 20000}}, "gait.alert_offset_mm",
     "gait.alert_offset_mm = 20000 is out of range: allowed 100..10000"),
    ({"gait": {"ref_strides": 40.5}}, "gait.ref_strides",
     "gait.ref_strides = 40.5 must be a whole number in 1..8"),
    ({"gait": {"cooldown_s": "10"}}, "gait.cooldown_s",
     'gait.cooldown_s = "10" must be a whole number in 0..3600'),
    ({"gait": {"cooldown_s": True}}, "gait.cooldown_s",
     "gait.cooldown_s = true must be a whole number in 0..3600"),
    ({"log": {"raw": "yes"}}, "log.raw", 'log.raw = "yes" must be true or false'),
    ({"log": {"raw": 1}}, "log.raw", "log.raw = 1 must be true or false"),
    ({"log": {"flush_every": 0}}, "log.flush_every",
     "log.flush_every = 0 is out of range: allowed 1..256"),
    ({"goals": {"backward_min": -5}}, "goals.backward_min",
     "goals.backward_min = -5 is out of range: allowed 0..240"),
    ({"goals": {"steps": None}}, "goals.steps",
     "goals.steps = null must be a whole number in 0..100000"),
    ({"mount": {"yaw_deg": 400}}, "mount.yaw_deg",
     "mount.yaw_deg = 400 is out of range: allowed -180..359"),
    ({"haptics": {"strength_pct": 5}}, "haptics.strength_pct",
     "haptics.strength_pct = 5 is out of range: allowed 20..100"),
    ({"pins": {"motor": 99}}, "pins.motor", "pins.motor = 99 is out of range: allowed 0..63"),
    ({"pins": {"motor": [1]}}, "pins.motor", "pins.motor = [1] must be a GPIO number"),
    ({"board": 3}, "board", 'board = 3 must be a board name or "auto"'),
    ({"gait": []}, "gait", "gait must be an object ({...}), not []"),
    ({"gait": {"min_swing_ms": 900, "max_swing_ms": 800}}, "gait.min_swing_ms",
     "gait.min_swing_ms = 900 must be less than gait.max_swing_ms = 800"),
    ({"gait": {"rearm_offset_mm": 600}}, "gait.rearm_offset_mm",
     "gait.rearm_offset_mm = 600 must be less than gait.alert_offset_mm = 500"),
    ({"gait": {"mount_yaw_deg": 90}}, "gait.mount_yaw_deg",
     'gait.mount_yaw_deg is set by the calibration walk: use "mount.yaw_deg"'),
])
def test_bad_values_are_refused_naming_key_value_and_range(tmp_path, data, key, message):
    e, path = error(tmp_path, data)
    assert isinstance(e, ValueError)
    assert str(e).startswith(path + ": " + message)
    assert e.key == key


def test_the_first_bad_key_in_sorted_order_is_reported(tmp_path):
    e, _ = error(tmp_path, {"log": {"raw": 2}, "gait": {"still_ms": 1}, "goals": {"steps": -1}})
    assert e.key == "gait.still_ms"


def test_top_level_must_be_an_object(tmp_path):
    e, path = error(tmp_path, "[1, 2]")
    assert str(e) == path + " must be a JSON object ({...}), not [1, 2]"


# ---------------------------------------------------------------------------- typos
@pytest.mark.parametrize("data, message", [
    ({"gait": {"stil_ms": 30}}, 'unknown key "gait.stil_ms" (did you mean "gait.still_ms"?)'),
    ({"gait": {"alert_ofset_mm": 30}},
     'unknown key "gait.alert_ofset_mm" (did you mean "gait.alert_offset_mm"?)'),
    ({"gait": {"cooldwon_s": 3}}, 'unknown key "gait.cooldwon_s" (did you mean "gait.cooldown_s"?)'),
    ({"still_ms": 30}, 'unknown key "still_ms" (did you mean "gait.still_ms"?)'),
    ({"goals": {"backwards_min": 3}},
     'unknown key "goals.backwards_min" (did you mean "goals.backward_min"?)'),
    ({"haptic": {}}, 'unknown key "haptic" (did you mean "haptics"?)'),
    ({"log": {"raw_recording": True}}, 'unknown key "log.raw_recording" (did you mean "log.raw"?)'),
    ({"pins": {"motr": 3}}, 'unknown key "pins.motr" (did you mean "pins.motor"?)'),
    ({"wifi": {}},
     'unknown key "wifi" (valid keys: board, gait, goals, haptics, log, mount, pins, power)'),
    ({"log": {"zzz": 1}}, 'unknown key "log.zzz" (log keys: flush_every, raw)'),
    ({"pins": {"xyzzy": 3}},
     'unknown key "pins.xyzzy" (pin roles: sda, scl, int1, motor, button, battery_adc, led)'),
])
def test_unknown_keys_are_refused_with_the_closest_valid_key(tmp_path, data, message):
    e, path = error(tmp_path, data)
    assert str(e) == path + ": " + message


# ---------------------------------------------------------------------------- the file
@pytest.mark.parametrize("text", ['{"gait": {"still_ms": 30,}}', '{"gait": ', "", "hello",
                                  "{'board': 'auto'}"])
def test_malformed_json_says_so_with_the_reason(tmp_path, text):
    e, path = error(tmp_path, text)
    msg = str(e)
    assert msg.startswith(path + " is not valid JSON (") and len(msg) > len(path) + 22
    assert msg.endswith("): fix it, or delete it to use the defaults")
    assert e.key is None


def test_a_directory_in_the_way_is_a_config_error(tmp_path):
    (tmp_path / "config.json").mkdir()
    with pytest.raises(config.ConfigError, match="cannot be read"):
        config.load(str(tmp_path / "config.json"))


def test_save_then_load_round_trips_and_writes_only_changes(tmp_path):
    path = str(tmp_path / "config.json")
    cfg = config.defaults()
    cfg["mount"]["yaw_deg"] = 37
    cfg["gait"]["alert_offset_mm"] = 800
    cfg["pins"]["button"] = 14
    cfg["log"]["raw"] = True
    config.save(path, cfg)
    assert config.load(path) == cfg
    text = (tmp_path / "config.json").read_text()
    assert text == ('{\n'
                    '  "gait": {"alert_offset_mm": 800},\n'
                    '  "log": {"raw": true},\n'
                    '  "mount": {"yaw_deg": 37},\n'
                    '  "pins": {"button": 14}\n'
                    '}\n')
    assert not (tmp_path / "config.json.tmp").exists()
    config.save(path, config.defaults())  # replaces the old file
    assert (tmp_path / "config.json").read_text() == "{}\n"
    assert config.load(path) == config.defaults()


def test_save_refuses_a_bad_config_and_leaves_the_file_alone(tmp_path):
    path = str(tmp_path / "config.json")
    config.save(path, {"goals": {"steps": 5000}})
    before = (tmp_path / "config.json").read_bytes()
    with pytest.raises(config.ConfigError, match=r"goals.steps = -1 is out of range"):
        config.save(path, {"goals": {"steps": -1}})
    with pytest.raises(config.ConfigError, match=r'unknown key "gaits"'):
        config.save(path, {"gaits": {}})
    assert (tmp_path / "config.json").read_bytes() == before
    assert not (tmp_path / "config.json.tmp").exists()


def test_save_is_atomic_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / "config.json")
    config.save(path, {"goals": {"steps": 5000}})
    before = (tmp_path / "config.json").read_bytes()

    class Boom(Exception):
        pass

    def fail(*a):
        raise Boom()

    monkeypatch.setattr(config, "_dumps", lambda cfg: "{\n  \"goals\": ")  # half a file ...
    monkeypatch.setattr(config.os, "rename", fail)  # ... and the power goes before rename
    with pytest.raises(Boom):
        config.save(path, {"goals": {"steps": 6000}})
    monkeypatch.undo()
    assert (tmp_path / "config.json").read_bytes() == before
    assert config.load(path)["goals"]["steps"] == 5000


def test_save_on_a_filesystem_that_cannot_rename_over_a_file(tmp_path, monkeypatch):
    """FAT: rename onto an existing name fails; the old file is removed first, and if the
    power goes right then, load() finds the complete temporary file."""
    path = str(tmp_path / "config.json")
    config.save(path, {"goals": {"steps": 5000}})
    real_rename = config.os.rename

    def fat_rename(src, dst):
        if config._exists(dst):
            raise OSError(17, "EEXIST")
        real_rename(src, dst)

    monkeypatch.setattr(config.os, "rename", fat_rename)
    config.save(path, {"goals": {"steps": 7000}})
    assert config.load(path)["goals"]["steps"] == 7000
    # the power cut between remove and rename: only the .tmp is there
    real_rename(path, path + ".tmp")
    assert config.load(path)["goals"]["steps"] == 7000
    (tmp_path / "config.json.tmp").write_text('{"goals": {"st')  # cut short: defaults
    assert config.load(path) == config.defaults()


def test_check_merges_a_partial_dict():
    cfg = config.check({"goals": {"steps": 8000}})
    assert cfg["goals"] == {"backward_min": 10, "steps": 8000}
    with pytest.raises(config.ConfigError, match=r"^config: goals.steps"):
        config.check({"goals": {"steps": "many"}})


# ---------------------------------------------------------------------------- boards
def install_boards(monkeypatch, names, roles=None):
    mod = types.ModuleType("retrostep.firmware.boards")
    mod.names = lambda: list(names)
    mod.get = lambda name: {"name": name}
    if roles:
        mod.PIN_ROLES = roles
    monkeypatch.setitem(sys.modules, "retrostep.firmware.boards", mod)
    monkeypatch.setattr(fw_pkg, "boards", mod, raising=False)


def test_board_names_are_checked_when_the_boards_module_exists(tmp_path, monkeypatch):
    path = write(tmp_path, {"board": "esp32-s3"})
    assert config.load(path)["board"] == "esp32-s3"  # no boards module: not checked
    install_boards(monkeypatch, ["esp32", "esp32s3", "rp2040"])
    e, path = error(tmp_path, {"board": "esp32-s3"})
    assert str(e) == (path + ': board = "esp32-s3" is not a known board; known: auto, '
                      'esp32, esp32s3, rp2040 (did you mean "esp32s3"?)')
    assert config.load(write(tmp_path, {"board": "rp2040"}))["board"] == "rp2040"
    assert config.load(write(tmp_path, {"board": "auto"}))["board"] == "auto"


def test_pin_roles_come_from_the_boards_module_when_it_names_them(tmp_path, monkeypatch):
    install_boards(monkeypatch, ["rp2040"], roles=("sda", "scl", "motor", "button", "vbat"))
    assert config.load(write(tmp_path, {"pins": {"vbat": 29}}))["pins"] == {"vbat": 29}
    e, _ = error(tmp_path, {"pins": {"led": 25}})
    assert e.key == "pins.led"


def test_the_real_boards_module_agrees_with_the_config(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "retrostep.firmware.boards")  # undo the fixture's None
    boards = pytest.importorskip("retrostep.firmware.boards")
    for name in boards.names():
        assert config.load(write(tmp_path, {"board": name}))["board"] == name
    e, _ = error(tmp_path, {"board": "no-such-board"})
    assert e.key == "board"
    assert set(config.PIN_ROLES) <= set(boards.FIELDS)  # every role is a profile field
    for name in boards.names():  # and a profile's own pins pass as overrides
        prof = boards.get(name)
        pins = {r: prof[r] for r in config.PIN_ROLES if prof.get(r) is not None}
        assert config.load(write(tmp_path, {"board": name, "pins": pins}))["pins"] == pins


# ---------------------------------------------------------------------------- MicroPython
CASES = [
    ("ok.json", '{"gait": {"alert_offset_mm": 700, "still_ms": 50}, "mount": {"yaw_deg": 90},'
                ' "log": {"raw": true}, "pins": {"motor": 15}}'),
    ("range.json", '{"gait": {"still_ms": 5}}'),
    ("type.json", '{"log": {"raw": "yes"}}'),
    ("float.json", '{"goals": {"steps": 2.5}}'),
    ("typo.json", '{"gait": {"stil_ms": 30}}'),
    ("top.json", '{"still_ms": 30}'),
    ("mount.json", '{"gait": {"mount_yaw_deg": 30}}'),
    ("order.json", '{"gait": {"min_swing_ms": 900, "max_swing_ms": 800}}'),
    ("list.json", "[1]"),
]

VM_SCENARIO = """
import sys
import {pkg}.config as config
from {pkg}.gait import Gait

def show(path):
    try:
        cfg = config.load(path)
    except config.ConfigError as e:
        return "error " + str(e).replace({root!r}, "/")
    eng = Gait(**config.gait_settings(cfg))
    return "ok " + config._dumps(cfg).replace("\\n", " ") + " mount_bam=%d" % eng.mount_bam

out = []
for name in {names!r}:
    out.append(show({root!r} + name))
out.append(show({root!r} + "missing.json"))
try:
    config.load({root!r} + "bad.json")
except config.ConfigError as e:
    out.append("malformed " + str(e).split(" (")[0].replace({root!r}, "/"))
cfg = config.load({root!r} + "ok.json")
cfg["mount"]["yaw_deg"] = -45
config.save({root!r} + "saved.json", cfg)
config.save({root!r} + "saved.json", cfg)  # over an existing file
out.append("saved " + open({root!r} + "saved.json").read().replace("\\n", "|"))
out.append("same " + str(config.load({root!r} + "saved.json") == cfg))
"""


@pytest.mark.vm
def test_micropython_vm_loads_checks_and_saves_like_cpython(tmp_path):
    names = [n for n, _ in CASES]
    files = {"/cfg/" + n: text.encode() for n, text in CASES}
    files["/cfg/bad.json"] = b'{"gait": {'
    code = VM_SCENARIO.format(pkg="rstep", root="/cfg/", names=names) + "for l in out: print(l)\n"
    # the VM may see an rstep.boards module (another engineer's): use no board names here
    res = mpvm.run(code, files=files, timeout_s=60)
    got = res.stdout.strip().splitlines()

    root = str(tmp_path) + "/"
    for n, text in CASES:
        (tmp_path / n).write_text(text)
    (tmp_path / "bad.json").write_text('{"gait": {')
    ns = {}
    exec(VM_SCENARIO.format(pkg="retrostep.firmware", root=root, names=names), ns)
    want = ns["out"]
    assert got == want
    assert want[0].startswith("ok {") and "mount_bam=16384" in want[0]
    assert want[1] == "error /range.json: gait.still_ms = 5 is out of range: allowed 10..500 " \
                      "(ms still that make a stance)"
    assert want[-3] == "malformed /bad.json is not valid JSON"
    assert want[-1] == "same True"


# ---------------------------------------------------------------------------- any problem
DEEP = "[" * 100000 + "]" * 100000  # CPython's json: RecursionError before this change
BAD_FILES = [
    ("deep_top.json", DEEP, "nested too deeply"),
    ("deep_value.json", '{"gait": {"still_ms": ' + "[" * 60 + "]" * 60 + "}}", "nested more than"),
    ("deep_section.json", '{"gait": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}", "nested more than"),
    ("range.json", '{"gait": {"still_ms": 5}}', "out of range"),
    ("json.json", '{"gait": {', "not valid JSON"),
    ("list.json", "[1, 2]", "must be a JSON object"),
    ("binary.json", b"\xff\xfe\x00{", ""),
]


@pytest.mark.parametrize("name, text, reason", BAD_FILES, ids=[n for n, _, _ in BAD_FILES])
def test_any_problem_with_the_file_is_refused_with_its_reason_and_the_defaults_run(
        tmp_path, name, text, reason):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    cfg, problem = config.load_or_defaults(str(p))
    assert cfg == config.defaults()
    assert problem and str(p) in problem and reason in problem
    assert len(problem) < 300  # one line to read, not the file echoed back
    with pytest.raises(config.ConfigError):  # load() itself refuses it as a ConfigError
        config.load(str(p))


def test_a_good_file_loads_with_no_problem(tmp_path):
    cfg, problem = config.load_or_defaults(write(tmp_path, {"gait": {"still_ms": 50}}))
    assert problem is None and cfg["gait"]["still_ms"] == 50


@pytest.mark.vm
def test_micropython_vm_refuses_deep_nesting_and_runs_the_defaults():
    files = {"/cfg/" + n: (t if isinstance(t, bytes) else t.encode()) for n, t, _ in BAD_FILES}
    code = ("import rstep.config as config\n"
            "for n in %r:\n"
            "    cfg, p = config.load_or_defaults('/cfg/' + n)\n"
            "    print(n, cfg == config.defaults(), p is not None and n in p)\n"
            % [n for n, _, _ in BAD_FILES])
    res = mpvm.run(code, files=files, timeout_s=60)
    got = res.stdout.strip().splitlines()
    assert got == ["%s True True" % n for n, _, _ in BAD_FILES], res.stdout + res.stderr
