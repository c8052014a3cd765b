"""Board profiles (firmware/rstep/boards.py): complete, consistent with the chips'
datasheet pin rules, compilable for the boards, and in step with hardware/README.md."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from retrostep.vm import mpvm
from retrostep.device import mpycross
from retrostep.firmware import boards

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "hardware" / "README.md"
SCAD = ROOT / "hardware" / "enclosure.scad"
BOARDS_PY = mpvm.firmware_dir() / "boards.py"

PIN_FIELDS = boards.PIN_ROLES
LIPO_FULL_MV = 4200

# Chip facts the profiles must respect (Espressif and Raspberry Pi datasheets / ESP-IDF
# docs). They live here, not in boards.py, so that the board does not carry them in RAM.
ARCH_OF_CHIP = {"esp32": "xtensawin", "esp32s3": "xtensawin", "esp32c3": "rv32imc", "rp2040": "armv6m"}
PORT_OF_CHIP = {"esp32": "esp32", "esp32s3": "esp32", "esp32c3": "esp32", "rp2040": "rp2"}
GPIOS = {
    "esp32": set(range(0, 40)) - {20, 24, 28, 29, 30, 31},
    "esp32s3": set(range(0, 22)) | set(range(26, 49)),
    "esp32c3": set(range(0, 22)),
    "rp2040": set(range(0, 30)),
}
STRAPPING = {"esp32": {0, 2, 5, 12, 15}, "esp32s3": {0, 3, 45, 46}, "esp32c3": {2, 8, 9}, "rp2040": set()}
FLASH = {"esp32": set(range(6, 12)), "esp32s3": set(range(26, 33)), "esp32c3": set(range(11, 18)), "rp2040": set()}
INPUT_ONLY = {"esp32": set(range(34, 40)), "esp32s3": set(), "esp32c3": set(), "rp2040": set()}
ADC1 = {"esp32": set(range(32, 40)), "esp32s3": set(range(1, 11)), "esp32c3": set(range(0, 5)),
        "rp2040": set(range(26, 30))}
# pins that can end machine.lightsleep() through MicroPython's wake API (RTC GPIOs)
WAKE = {
    "esp32": {0, 2, 4, 12, 13, 14, 15, 25, 26, 27} | set(range(32, 40)),
    "esp32s3": set(range(0, 22)),
    "esp32c3": set(range(0, 6)),
    "rp2040": set(),
}
ADC_MAX_MV = {"esp32": 2450, "esp32s3": 3100, "esp32c3": 2500, "rp2040": 3300}


def profiles():
    return [boards.get(n) for n in boards.names()]


def pins_of(p):
    return {f: p[f] for f in PIN_FIELDS if p[f] is not None}


@pytest.fixture(params=boards.names())
def profile(request):
    return boards.get(request.param)


# ---------------------------------------------------------------- completeness


def test_pin_roles_are_the_profile_pin_fields():
    assert set(boards.PIN_ROLES) <= set(boards.FIELDS)
    assert set(boards.PIN_ROLES) == {"sda", "scl", "int1", "motor", "button", "battery_adc", "led"}


def test_the_required_boards_are_there():
    assert set(boards.names()) >= {"xiao_esp32s3", "xiao_esp32c3", "esp32_devkitc", "pico", "qtpy_rp2040"}
    assert boards.names() == sorted(boards.PROFILES)
    chips = {p["chip"] for p in profiles()}
    assert chips == {"esp32", "esp32s3", "esp32c3", "rp2040"}


def test_every_profile_has_exactly_the_documented_fields(profile):
    assert set(profile) == set(boards.FIELDS) and len(boards.FIELDS) == len(set(boards.FIELDS))
    assert boards.PROFILES[profile["name"]] is profile
    assert isinstance(profile["title"], str) and profile["title"]
    for f in ("i2c", "sda", "scl", "int1", "motor", "button", "adc_max_mv"):
        assert type(profile[f]) is int, f
    for f in ("led_active_low", "light_sleep", "pin_wake"):
        assert type(profile[f]) is bool, f
    assert profile["led"] is None or isinstance(profile["led"], (int, str))
    assert profile["led_active_low"] is False or profile["led"] is not None


def test_battery_pin_and_divider_come_together(profile):
    assert (profile["battery_adc"] is None) == (profile["battery_divider"] is None)
    if profile["battery_adc"] is not None:
        assert type(profile["battery_divider"]) is int and profile["battery_divider"] >= 2


# ---------------------------------------------------------------- pins


def test_pins_are_distinct_on_each_board(profile):
    used = list(pins_of(profile).values())
    assert len(used) == len(set(used)), pins_of(profile)


def test_pins_exist_and_avoid_strapping_flash_and_input_only_pins(profile):
    chip = profile["chip"]
    for field, pin in pins_of(profile).items():
        if isinstance(pin, str):  # a named pin ("LED"), resolved by MicroPython
            assert field == "led"
            continue
        assert pin in GPIOS[chip], (field, pin)
        assert pin not in STRAPPING[chip], (field, pin)
        assert pin not in FLASH[chip], (field, pin)
    # outputs and the pulled-up button need full GPIOs
    for field in ("motor", "button", "sda", "scl"):
        assert profile[field] not in INPUT_ONLY[chip], field


def test_battery_sits_on_adc1_and_a_full_lipo_stays_in_range(profile):
    chip = profile["chip"]
    assert profile["adc_max_mv"] == ADC_MAX_MV[chip]
    if profile["battery_adc"] is not None:
        assert profile["battery_adc"] in ADC1[chip]
        assert LIPO_FULL_MV // profile["battery_divider"] <= profile["adc_max_mv"]


def test_wake_pins_can_wake_the_chip(profile):
    if profile["pin_wake"]:
        assert profile["light_sleep"]
        assert profile["int1"] in WAKE[profile["chip"]]
        assert profile["button"] in WAKE[profile["chip"]]
    else:
        assert profile["port"] == "rp2"  # released MicroPython: rp2 wakes by timer only


@pytest.mark.parametrize("name", [n for n in boards.names() if boards.get(n)["chip"] == "rp2040"])
def test_rp2040_i2c_pins_belong_to_the_chosen_bus(name):
    profile = boards.get(name)
    # RP2040 pin mux (any GPIO can carry I2C on the Espressif chips): GPIO n carries I2C bus (n // 2) % 2, SDA when n is even
    for field, want_sda in (("sda", True), ("scl", False)):
        n = profile[field]
        assert (n // 2) % 2 == profile["i2c"], field
        assert (n % 2 == 0) == want_sda, field


@pytest.mark.parametrize("name", [n for n in boards.names() if boards.get(n)["port"] == "esp32"])
def test_espressif_i2c_bus_exists(name):
    profile = boards.get(name)
    assert profile["i2c"] == 0 or (profile["i2c"] == 1 and profile["chip"] != "esp32c3")


# ---------------------------------------------------------------- chip, port, arch


def test_arch_and_port_match_the_chip(profile):
    assert profile["arch"] == ARCH_OF_CHIP[profile["chip"]]
    assert boards.ARCH[profile["chip"]] == profile["arch"]
    assert profile["port"] == PORT_OF_CHIP[profile["chip"]]
    assert profile["arch"] in mpycross.ARCHS


@pytest.mark.parametrize("arch", ["xtensawin", "armv6m", "rv32imc"])
def test_module_compiles_with_mpy_cross(arch, tmp_path):
    path, size = mpycross.compile_file(BOARDS_PY, tmp_path / "boards.mpy", arch, source_name="rstep/boards.py")
    header = mpycross.read_header(path)
    assert size > 100 and header.version == 6 and header.small_int_bits == 31
    assert header.arch in (0, mpycross.ARCHS[arch])


# ---------------------------------------------------------------- get / detect


@pytest.mark.parametrize("bad", ["nope", "XIAO_ESP32S3", "", None, 3])
def test_get_unknown_board_lists_the_valid_names(bad):
    with pytest.raises(ValueError) as info:
        boards.get(bad)
    msg = str(info.value)
    assert repr(bad) in msg
    for name in boards.names():
        assert name in msg


DETECT_CASES = [
    ("Seeed XIAO ESP32S3 with ESP32-S3-FN8", "xiao_esp32s3"),
    ("Generic ESP32S3 module with ESP32-S3", "xiao_esp32s3"),
    ("Generic ESP32S3 module with Octal-SPIRAM with ESP32S3", "xiao_esp32s3"),
    ("Seeed XIAO ESP32C3 with ESP32-C3FN4", "xiao_esp32c3"),
    ("ESP32C3 module with ESP32C3", "xiao_esp32c3"),
    ("Generic ESP32 module with ESP32", "esp32_devkitc"),
    ("Generic ESP32 module with SPIRAM with ESP32", "esp32_devkitc"),
    ("Raspberry Pi Pico with RP2040", "pico"),
    ("Raspberry Pi Pico W with RP2040", "pico"),
    ("Adafruit QT Py RP2040 with RP2040", "qtpy_rp2040"),
    # other boards: no guess rather than pins that may be wrong
    ("Raspberry Pi Pico2 with RP2350", None),
    ("Adafruit Feather RP2040 with RP2040", None),
    ("TinyPICO with ESP32-PICO-D4", None),
    ("LOLIN_S3 with ESP32S3", None),
    ("Generic ESP32C6 module with ESP32C6", None),
    ("Generic ESP32S2 module with ESP32S2", None),
    ("x86_64", None),
    ("", None),
]


@pytest.mark.parametrize("machine,expected", DETECT_CASES)
def test_detect_guesses_from_the_machine_string(machine, expected):
    assert boards.detect(machine) == expected


def test_detect_on_the_laptop_is_none():
    assert boards.detect() is None


@pytest.mark.vm
def test_module_runs_on_micropython():
    code = "from rstep import boards\n"
    code += "print(boards.names())\n"
    code += "print(boards.detect())\n"
    for machine, _ in DETECT_CASES:
        code += f"print(boards.detect({machine!r}))\n"
    code += "try:\n    boards.get('nope')\nexcept ValueError as e:\n    print(e)\n"
    res = mpvm.run(code)
    lines = res.stdout.splitlines()
    assert lines[0] == repr(boards.names())
    assert lines[1] == "None"  # the WebAssembly VM is no known board
    assert lines[2:2 + len(DETECT_CASES)] == [str(e) for _, e in DETECT_CASES]
    assert "unknown board 'nope'" in lines[-1] and "pico" in lines[-1]


# ---------------------------------------------------------------- docs


def readme_sections():
    """{profile name: the text of its section in hardware/README.md}"""
    text = README.read_text(encoding="utf-8")
    out = {}
    for m in re.finditer(r"^### .*\(profile `(\w+)`\)\s*$", text, flags=re.M):
        rest = text[m.end():]
        end = re.search(r"^##", rest, flags=re.M)
        out[m.group(1)] = (text[m.start():m.end()], rest[:end.start()] if end else rest)
    return out


def test_readme_mentions_every_board():
    text = README.read_text(encoding="utf-8")
    sections = readme_sections()
    for p in profiles():
        assert p["name"] in sections, f"hardware/README.md has no section for {p['name']}"
        assert p["title"] in text, p["title"]
    assert set(sections) == set(boards.names()), "README documents a board boards.py does not have"


def test_readme_wiring_tables_match_the_profiles(profile):
    heading, body = readme_sections()[profile["name"]]
    rows = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.search(r"\(`(\w+)`\)", cells[0]) if len(cells) >= 3 else None
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} listed twice"
            rows[m.group(1)] = cells[2]
    want = {f: str(v) for f, v in pins_of(profile).items()}
    assert rows == want, f"{heading}: README table {rows} != boards.py {want}"


def test_readme_labels_figures_as_estimates_or_sources():
    text = README.read_text(encoding="utf-8")
    assert "Nothing on this page has been measured" in text
    power = text[text.index("## Power budget"):]
    assert "estimate" in power.lower() and "datasheet" in power.lower()


# ---------------------------------------------------------------- enclosure


@pytest.mark.skipif(shutil.which("openscad") is None, reason="openscad is not installed")
@pytest.mark.parametrize("part", ["box", "lid", "deck", "plunger"])
def test_enclosure_renders(part, tmp_path):
    out = tmp_path / f"{part}.stl"
    res = subprocess.run(["openscad", "-D", f'part="{part}"', "-o", str(out), str(SCAD)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "WARNING" not in res.stderr and "ERROR" not in res.stderr, res.stderr
    assert out.stat().st_size > 1000
