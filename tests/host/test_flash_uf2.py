"""Flashing RP2040/RP2350 boards: UF2 checks, and the copy to a BOOTSEL drive.

UF2 files are built here from random payloads. The BOOTSEL drive is a folder holding
INFO_UF2.TXT, found through RETROSTEP_UF2_MOUNTS; the USB listing (pyserial's comports)
is a fake list, so a board "coming back" as a MicroPython serial port is a port that
appears in it.
"""

import os
import random
import struct

import pytest
import serial.tools.list_ports
from serial.tools.list_ports_common import ListPortInfo

from retrostep import cli
from retrostep.device import devices
from retrostep.device import flash
from retrostep.errors import RetrostepError

RP2040 = 0xE48BFF56
RP2350_ARM = 0xE48BFF59
RP2350_RISCV = 0xE48BFF5A
ABSOLUTE = 0xE48BFF57

INFO = {
    "rp2040": "UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n",
    "rp2350": "UF2 Bootloader v1.0\nModel: Raspberry Pi RP2350\nBoard-ID: RP2350\n",
}


def uf2_blocks(payload, family, base=0x10000000, flags=0x2000):
    """UF2 blocks (list of 512-byte bytes) carrying ``payload`` from ``base``."""
    chunks = [payload[i:i + 256].ljust(256, b"\0") for i in range(0, len(payload), 256)]
    out = []
    for n, chunk in enumerate(chunks):
        head = struct.pack("<8I", 0x0A324655, 0x9E5D5157, flags, base + 256 * n, 256, n,
                           len(chunks), family)
        out.append(head + chunk + b"\0" * (476 - 256) + struct.pack("<I", 0x0AB16F30))
    return out


def uf2(family, size=20_000, seed=0):
    payload = random.Random(seed).randbytes(size)
    return b"".join(uf2_blocks(payload, family))


@pytest.fixture
def usb(monkeypatch):
    """The USB listing (pyserial's comports), as a list the test fills."""
    ports = []
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda *a, **k: list(ports))
    return ports


def micropython_port(device="/dev/ttyACM0"):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number = 0x2E8A, 0x0005, "E6614C311B4A2F2A"
    info.manufacturer, info.product = "MicroPython", "Board in FS mode"
    info.apply_usb_info()
    return info


@pytest.fixture
def drives(tmp_path, monkeypatch):
    """A folder of mounted drives (RETROSTEP_UF2_MOUNTS); add(chip) makes a BOOTSEL one."""
    root = tmp_path / "media"
    root.mkdir()
    monkeypatch.setenv("RETROSTEP_UF2_MOUNTS", str(root))

    def add(chip, label=None):
        d = root / (label or {"rp2040": "RPI-RP2", "rp2350": "RP2350"}[chip])
        d.mkdir()
        (d / "INFO_UF2.TXT").write_text(INFO[chip])
        (d / "INDEX.HTM").write_text("<html>redirect</html>")
        return d

    return add


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


# --- checks -----------------------------------------------------------------------------


@pytest.mark.parametrize("family,chip", [(RP2040, "rp2040"), (RP2350_ARM, "rp2350"),
                                         (RP2350_RISCV, "rp2350")])
def test_valid_uf2_passes_for_its_chip(tmp_path, family, chip):
    path = write(tmp_path, "fw.uf2", uf2(family, 20_000))
    img = flash.check_uf2(path, chip)
    assert img.blocks == 79 and img.families == {family: 79}
    assert img.flash_bytes == 79 * 256 and img.address_range == (0x10000000, 0x10000000 + 79 * 256)
    assert img.chips == {chip}


def test_universal_uf2_with_two_families_passes_for_both(tmp_path):
    data = uf2(RP2040, 3000, 1) + uf2(RP2350_ARM, 5000, 2)
    img = flash.check_uf2(write(tmp_path, "u.uf2", data))
    assert img.families == {RP2040: 12, RP2350_ARM: 20} and img.chips == {"rp2040", "rp2350"}


def test_truncated_uf2_fails(tmp_path):
    data = uf2(RP2040)
    with pytest.raises(RetrostepError, match="not a whole number of 512-byte"):
        flash.check_uf2(write(tmp_path, "t1.uf2", data[:-100]))
    with pytest.raises(RetrostepError, match="truncated: it holds 70 of the 79 RP2040 blocks"):
        flash.check_uf2(write(tmp_path, "t2.uf2", data[:70 * 512]))


@pytest.mark.parametrize("offset", [0, 4, 508])  # start magic 0, start magic 1, end magic
def test_bad_magic_fails(tmp_path, offset):
    data = bytearray(uf2(RP2040))
    data[10 * 512 + offset] ^= 0xFF
    with pytest.raises(RetrostepError, match=r"block 10 \(byte 5120\) lacks the UF2 magic"):
        flash.check_uf2(write(tmp_path, "m.uf2", bytes(data)))


def test_wrong_family_fails_naming_both(tmp_path):
    path = write(tmp_path, "pico2.uf2", uf2(RP2350_ARM))
    with pytest.raises(RetrostepError) as e:
        flash.check_uf2(path, "rp2040")
    assert "UF2 for the RP2350 Arm (secure), but the board is an RP2040" in str(e.value)


def test_non_contiguous_blocks_fail(tmp_path):
    blocks = uf2_blocks(random.randbytes(4096), RP2040)
    blocks[3], blocks[4] = blocks[4], blocks[3]
    with pytest.raises(RetrostepError, match="block 3 .* is block number 4, expected 3"):
        flash.check_uf2(write(tmp_path, "o.uf2", b"".join(blocks)))
    blocks = uf2_blocks(random.randbytes(4096), RP2040)
    del blocks[5]
    with pytest.raises(RetrostepError, match="block number 6, expected 5"):
        flash.check_uf2(write(tmp_path, "g.uf2", b"".join(blocks)))


def test_block_without_family_flag_or_odd_payload_fails(tmp_path):
    blocks = uf2_blocks(random.randbytes(1024), RP2040, flags=0)
    with pytest.raises(RetrostepError, match="no family id"):
        flash.check_uf2(write(tmp_path, "f.uf2", b"".join(blocks)))
    blocks = uf2_blocks(random.randbytes(1024), RP2040)
    blocks[1] = blocks[1][:16] + struct.pack("<I", 128) + blocks[1][20:]
    with pytest.raises(RetrostepError, match="128-byte payload"):
        flash.check_uf2(write(tmp_path, "p.uf2", b"".join(blocks)))


def test_esp_bin_given_as_uf2_is_named(tmp_path):
    with pytest.raises(RetrostepError, match="ESP32 firmware image, not a UF2"):
        flash.check_uf2(write(tmp_path, "x.uf2", b"\xe9" + b"\0" * 511))


# --- the copy ---------------------------------------------------------------------------


@pytest.mark.parametrize("chip,family", [("rp2040", RP2040), ("rp2350", RP2350_ARM)])
def test_copy_to_bootsel_drive_is_byte_identical(tmp_path, drives, usb, chip, family):
    drive = drives(chip)
    data = uf2(family, 50_000, seed=3)
    path = write(tmp_path, "RPI_PICO-v1.25.0.uf2", data)
    stages = []
    result = flash.flash(path, progress=lambda s, d, t: stages.append((s, d, t)), wait=False)
    assert (result.method, result.chip, result.target) == ("uf2", chip, str(drive))
    copied = drive / "RPI_PICO-v1.25.0.uf2"
    assert copied.read_bytes() == data
    copies = [(d, t) for s, d, t in stages if s == "copy"]
    assert copies[0] == (0, len(data)) and copies[-1] == (len(data), len(data))


def test_waits_for_micropython_serial_port(tmp_path, drives, usb, monkeypatch):
    drives("rp2040")
    path = write(tmp_path, "fw.uf2", uf2(RP2040))
    polls = []
    real = devices.serial_devices

    def board_comes_back(all_ports=False):  # the board re-enumerates after two polls
        polls.append(1)
        if len(polls) == 3:
            usb.append(micropython_port("/dev/ttyACM0"))
        return real(all_ports)

    monkeypatch.setattr(devices, "serial_devices", board_comes_back)
    result = flash.flash(path, wait_timeout_s=5)
    assert result.port == "/dev/ttyACM0"


def test_board_not_coming_back_times_out_with_advice(tmp_path, drives, usb):
    drives("rp2040")
    path = write(tmp_path, "fw.uf2", uf2(RP2040))
    with pytest.raises(RetrostepError, match="no MicroPython serial port appeared within 0.3 s"):
        flash.flash(path, wait_timeout_s=0.3)


def test_wrong_family_for_the_drive_is_refused_before_copying(tmp_path, drives, usb):
    drive = drives("rp2040")
    path = write(tmp_path, "pico2.uf2", uf2(RP2350_ARM))
    with pytest.raises(RetrostepError) as e:
        flash.flash(path, wait=False)
    assert f"UF2 for the RP2350 Arm (secure), but the board at {drive} is an RP2040" in str(e.value)
    assert sorted(os.listdir(drive)) == ["INDEX.HTM", "INFO_UF2.TXT"]


def test_rp2350_drive_takes_absolute_and_riscv_families(tmp_path, drives, usb):
    drive = drives("rp2350")
    for fam in (ABSOLUTE, RP2350_RISCV):
        src = write(tmp_path, f"{fam:x}.uf2", uf2(fam, 1000))
        flash.flash(src, wait=False)
        # the image reached the drive byte for byte
        assert (drive / f"{fam:x}.uf2").read_bytes() == open(src, "rb").read()


def test_no_drive_says_hold_bootsel(tmp_path, drives, usb):
    usb.append(micropython_port("/dev/ttyACM3"))
    path = write(tmp_path, "fw.uf2", uf2(RP2040))
    with pytest.raises(RetrostepError) as e:
        flash.flash(path, wait=False)
    msg = str(e.value)
    assert "no BOOTSEL drive found" in msg and "hold BOOTSEL while plugging" in msg
    assert "/dev/ttyACM3 is running" in msg


def test_two_drives_need_port_and_port_picks_one(tmp_path, drives, usb):
    a = drives("rp2040", "RPI-RP2")
    b = drives("rp2040", "RPI-RP2_1")
    path = write(tmp_path, "fw.uf2", uf2(RP2040, 600))
    with pytest.raises(RetrostepError, match="2 BOOTSEL drives found, name one with --port"):
        flash.flash(path, wait=False)
    flash.flash(path, port=str(b), wait=False)
    assert (b / "fw.uf2").exists() and not (a / "fw.uf2").exists()


# --- through the command line: message and exit code 2, no traceback -------------------


@pytest.mark.parametrize("case,expect", [
    ("truncated", "not a whole number of 512-byte UF2 blocks"),
    ("bad_magic", "lacks the UF2 magic"),
    ("wrong_family", "but the board at"),
    ("non_contiguous", "expected 1"),
    ("no_drive", "hold BOOTSEL while plugging"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path, drives, usb, capsys, case, expect):
    data = uf2(RP2040, 2000)
    if case == "truncated":
        data = data[:-1]
    elif case == "bad_magic":
        data = b"\0" * 4 + data[4:]
    elif case == "wrong_family":
        data = uf2(RP2350_ARM, 2000)
    elif case == "non_contiguous":
        data = data[:512] + data[1024:]
    if case != "no_drive":
        drives("rp2040")
    path = write(tmp_path, "fw.uf2", data)
    code = cli.main(["flash", str(path), "--no-wait"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("retrostep flash: error: ") and err.count("\n") == 1
    assert expect in err and "Traceback" not in err


def test_cli_flash_uf2_reports_the_copy(tmp_path, drives, usb, capsys):
    drive = drives("rp2040")
    path = write(tmp_path, "fw.uf2", uf2(RP2040, 2000))
    assert cli.main(["flash", str(path), "--no-wait"]) == 0
    out = capsys.readouterr().out
    assert f"copied 4096 bytes to the RP2040 BOOTSEL drive {drive}" in out
    assert (drive / "fw.uf2").read_bytes() == path.read_bytes()


def test_cli_erase_is_refused_for_uf2(tmp_path, drives, usb, capsys):
    drives("rp2040")
    path = write(tmp_path, "fw.uf2", uf2(RP2040, 600))
    assert cli.main(["flash", str(path), "--erase"]) == 2
    assert "flash_nuke.uf2" in capsys.readouterr().err
