"""Finding the board: serial ports by VID:PID (pyserial's comports replaced by a fake
list: the USB boundary), BOOTSEL drives by INFO_UF2.TXT, picking one, and the advice
given when the OS refuses to open a port."""

import os
import re

import pytest
import serial.serialposix
import serial.tools.list_ports
from serial.tools.list_ports_common import ListPortInfo

from retrostep import cli
from retrostep.device import devices
from retrostep.errors import RetrostepError


def port(device, vid=None, pid=None, serial_number=None, product=None):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number = vid, pid, serial_number
    info.product = product
    if vid is not None:
        info.apply_usb_info()
    return info


@pytest.fixture
def usb(monkeypatch, tmp_path):
    """The USB listing as a list the test fills; no BOOTSEL drives unless made."""
    ports = []
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda *a, **k: list(ports))
    monkeypatch.setenv("RETROSTEP_UF2_MOUNTS", str(tmp_path / "media"))
    return ports


def bootsel_drive(tmp_path, label, board_id, model="Raspberry Pi RP2"):
    d = tmp_path / "media" / label
    d.mkdir(parents=True)
    (d / "INFO_UF2.TXT").write_text(f"UF2 Bootloader v3.0\nModel: {model}\nBoard-ID: {board_id}\n")
    return d


@pytest.mark.parametrize("vid,pid,kind,family", [
    (0x303A, 0x1001, "esp32-usb-jtag", "esp32"),
    (0x303A, 0x0002, "esp32-usb-otg", "esp32"),
    (0x303A, 0x4001, "esp32-tinyusb", "esp32"),
    (0x303A, 0x81F9, "esp32-usb", "esp32"),  # some board's own PID under Espressif's VID
    (0x2E8A, 0x0005, "rp2-micropython", "rp2"),
    (0x2E8A, 0x0003, "rp2-bootsel", "rp2"),
    (0x2E8A, 0x000F, "rp2-bootsel", "rp2"),
    (0x2E8A, 0x000A, "rp2-usb", "rp2"),
    (0x239A, 0x80F7, "adafruit-usb", None),  # QT Py RP2040
    (0x2886, 0x0042, "seeed-usb", None),
    (0x10C4, 0xEA60, "usb-serial-bridge", "esp32"),
    (0x1A86, 0x7523, "usb-serial-bridge", "esp32"),
    (0x1A86, 0x55D4, "usb-serial-bridge", "esp32"),
    (0x0403, 0x6001, "usb-serial-bridge", "esp32"),
    (0x0403, 0x6015, "usb-serial-bridge", "esp32"),
    (0x10C4, 0x8A2A, "unknown", None),  # another Silicon Labs product
    (0x046D, 0xC52B, "unknown", None),
])
def test_vid_pid_classification(usb, vid, pid, kind, family):
    usb.append(port("/dev/ttyX0", vid, pid, "SN1"))
    (d,) = devices.list_devices(all_ports=True)
    assert (d.kind, d.family, d.vid_pid) == (kind, family, f"{vid:04X}:{pid:04X}")
    assert d.is_board == (kind != "unknown")
    assert d.vendor == devices.VENDORS.get(vid, d.vendor)


def test_list_keeps_boards_sorted_and_skips_unknown_ports(usb):
    usb += [port("/dev/ttyUSB0", 0x10C4, 0xEA60, "0001"),
            port("/dev/ttyS0"),  # a motherboard UART: no USB ids
            port("/dev/ttyACM1", 0x046D, 0xC52B),
            port("/dev/ttyACM0", 0x303A, 0x1001, "F4:12:FA:00:11:22", "USB JTAG/serial debug unit")]
    ds = devices.list_devices()
    assert [(d.port, d.kind, d.serial_number) for d in ds] == [
        ("/dev/ttyACM0", "esp32-usb-jtag", "F4:12:FA:00:11:22"),
        ("/dev/ttyUSB0", "usb-serial-bridge", "0001")]
    assert ds[0].vendor == "Espressif" and "USB JTAG/serial debug unit" in ds[0].description
    assert {d.port for d in devices.list_devices(all_ports=True)} == \
        {"/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyS0", "/dev/ttyUSB0"}


def test_bootsel_drives_are_found_by_info_uf2(usb, tmp_path):
    a = bootsel_drive(tmp_path, "RPI-RP2", "RPI-RP2")
    b = bootsel_drive(tmp_path, "RP2350", "RP2350", "Raspberry Pi RP2350")
    c = bootsel_drive(tmp_path, "FTHR840BOOT", "nRF52840-Feather-revD", "Adafruit Feather")
    (tmp_path / "media" / "USBSTICK").mkdir()  # a drive without INFO_UF2.TXT
    ds = {d.port: d for d in devices.list_devices()}
    assert set(ds) == {str(a), str(b), str(c)}
    assert (ds[str(a)].kind, ds[str(a)].vid_pid, ds[str(a)].board_id) == \
        ("rp2-bootsel", "2E8A:0003", "RPI-RP2")
    assert (ds[str(b)].kind, ds[str(b)].vid_pid) == ("rp2-bootsel", "2E8A:000F")
    assert ds[str(c)].kind == "uf2-drive" and not ds[str(c)].is_board
    assert [devices.bootsel_chip(x) for x in ("RPI-RP2", "RP2350", "nRF52840")] == \
        ["rp2040", "rp2350", None]


def test_mount_env_may_name_the_drive_itself(monkeypatch, tmp_path, usb):
    d = bootsel_drive(tmp_path, "RPI-RP2", "RPI-RP2")
    monkeypatch.setenv("RETROSTEP_UF2_MOUNTS", os.pathsep.join([str(d), str(tmp_path / "x")]))
    assert [x.port for x in devices.bootsel_devices()] == [str(d)]


def test_pick_the_one_board(usb):
    usb += [port("/dev/ttyS0"), port("/dev/ttyACM0", 0x2E8A, 0x0005, "E661")]
    d = devices.pick_device()
    assert (d.port, d.kind) == ("/dev/ttyACM0", "rp2-micropython")


def test_pick_without_board_says_plug_it_in(usb):
    usb.append(port("/dev/ttyS0"))
    with pytest.raises(RetrostepError) as e:
        devices.pick_device()
    assert "no board found: plug it in; check the cable carries data" in str(e.value)


def test_pick_with_two_boards_asks_for_port_listing_them(usb, tmp_path):
    usb += [port("/dev/ttyACM0", 0x303A, 0x1001), port("/dev/ttyUSB0", 0x1A86, 0x7523)]
    with pytest.raises(RetrostepError) as e:
        devices.pick_device()
    msg = str(e.value)
    assert msg.startswith("2 boards found, name one with --port: ")
    assert "/dev/ttyACM0 (esp32-usb-jtag, 303A:1001)" in msg
    assert "/dev/ttyUSB0 (usb-serial-bridge, 1A86:7523)" in msg


def test_pick_by_family_and_by_port(usb, tmp_path):
    drive = bootsel_drive(tmp_path, "RPI-RP2", "RPI-RP2")
    usb += [port("/dev/ttyACM0", 0x303A, 0x1001)]
    assert devices.pick_device(family="esp32").port == "/dev/ttyACM0"
    assert devices.pick_device(family="rp2").port == str(drive)
    assert devices.pick_device("/dev/ttyACM0").kind == "esp32-usb-jtag"
    assert devices.pick_device("socket://localhost:5555").kind == "unknown"
    with pytest.raises(RetrostepError, match="no serial port or BOOTSEL drive /dev/ttyNOPE"):
        devices.pick_device("/dev/ttyNOPE")
    with pytest.raises(RetrostepError, match="no ESP32 board found: plug it in"):
        usb.clear()
        devices.pick_device(family="esp32")


def test_permission_denied_says_how_to_fix(monkeypatch):
    """pyserial opens the port for real; the OS answers EACCES (os.open)."""
    real_open = os.open

    def deny(p, *a, **k):
        if p == "/dev/ttyACM9":
            raise PermissionError(13, "Permission denied", p)
        return real_open(p, *a, **k)

    monkeypatch.setattr(serial.serialposix.os, "open", deny)
    monkeypatch.setattr(devices.sys, "platform", "linux")
    with pytest.raises(RetrostepError) as e:
        devices.open_port("/dev/ttyACM9")
    msg = str(e.value)
    assert msg.startswith("no permission to open /dev/ttyACM9: add yourself to the '")
    assert "sudo usermod -aG " in msg and "$USER" in msg and "log out and back in" in msg
    assert "udev rule" in msg and "\n" not in msg


def test_permission_advice_names_the_ports_group(tmp_path):
    grp = pytest.importorskip("grp")
    node = tmp_path / "ttyACM0"
    node.write_text("")
    groups = [g for g in grp.getgrall() if g.gr_gid != 0]
    if os.geteuid() != 0 or not groups:
        pytest.skip("needs root and a non-root group to chown a file")
    os.chown(node, -1, groups[0].gr_gid)
    assert devices._serial_group(str(node)) == groups[0].gr_name
    assert devices._serial_group(str(tmp_path / "missing")) in ("dialout", "uucp")


def test_missing_port_and_busy_port_messages(monkeypatch):
    with pytest.raises(RetrostepError, match="no serial port /dev/ttyNOPE9: plug the board in"):
        devices.open_port("/dev/ttyNOPE9")
    real_open = os.open

    def busy(p, *a, **k):
        if p == "/dev/ttyACM8":
            raise OSError(16, "Device or resource busy", p)
        return real_open(p, *a, **k)

    monkeypatch.setattr(serial.serialposix.os, "open", busy)
    with pytest.raises(RetrostepError, match="/dev/ttyACM8 is busy: close the other program"):
        devices.open_port("/dev/ttyACM8")


# --- the command ------------------------------------------------------------------------


def test_cli_devices_prints_table_and_port_to_use(usb, capsys):
    usb += [port("/dev/ttyACM0", 0x303A, 0x1001, "F4:12:FA"), port("/dev/ttyS0")]
    assert cli.main(["devices"]) == 0
    out = capsys.readouterr().out
    for text in ("port", "board kind", "VID:PID", "serial", "/dev/ttyACM0", "esp32-usb-jtag",
                 "303A:1001", "F4:12:FA"):
        assert text in out
    assert "/dev/ttyS0" not in out
    assert out.rstrip().endswith("port to use: /dev/ttyACM0")
    assert cli.main(["devices", "--all"]) == 0
    assert "/dev/ttyS0" in capsys.readouterr().out


def test_cli_devices_two_boards_and_none(usb, capsys):
    usb += [port("/dev/ttyACM0", 0x303A, 0x1001), port("/dev/ttyACM1", 0x2E8A, 0x0005)]
    assert cli.main(["devices"]) == 0
    assert "2 boards: name one with --port" in capsys.readouterr().out
    usb.clear()
    assert cli.main(["devices"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("retrostep devices: error: no board found: plug it in")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_windows_bootsel_drives_are_found_on_their_drive_letters(monkeypatch, tmp_path, usb):
    drive = bootsel_drive(tmp_path, "E", "RPI-RP2")  # stands for E:\ (the drive's root)
    monkeypatch.delenv("RETROSTEP_UF2_MOUNTS")
    monkeypatch.setattr(devices.os, "name", "nt")
    monkeypatch.setattr(devices, "_windows_drives", lambda: [str(tmp_path / "C"), str(drive)])
    assert [d.port for d in devices.bootsel_devices()] == [str(drive)]


@pytest.mark.parametrize("typed,port", [("a0", "/dev/ttyACM0"), ("u1", "/dev/ttyUSB1"),
                                        ("c3", "COM3"), ("/dev/ttyS4", "/dev/ttyS4"),
                                        ("socket://127.0.0.1:9", "socket://127.0.0.1:9")])
def test_ports_as_mpremote_users_type_them(typed, port):
    assert devices.resolve_port(typed) == port


def test_auto_and_id_pick_the_board(usb):
    usb.append(port("/dev/ttyACM7", 0x2E8A, 0x0005, "E6614C"))
    assert devices.resolve_port("auto") == devices.resolve_port(None) == "/dev/ttyACM7"
    assert devices.resolve_port("id:E6614C") == "/dev/ttyACM7"
    with pytest.raises(RetrostepError, match="no board with the USB serial number"):
        devices.resolve_port("id:NOPE")


@pytest.mark.parametrize("port,words", [
    ("/dev/ttyUSB9", "no serial port /dev/ttyUSB9: plug the board in"),
    ("socket://127.0.0.1:1", "is `retrostep sim --serve` running?")])
def test_connect_says_what_is_wrong_with_the_port(port, words):
    from retrostep.device.board import connect

    with pytest.raises(RetrostepError, match=re.escape(words)):
        connect(port)
