"""Find the board on USB: serial ports by VID:PID, RP2 BOOTSEL drives by INFO_UF2.TXT.

    from retrostep.device import devices
    for d in devices.list_devices():
        print(d.port, d.kind, d.vid_pid, d.serial_number)
    board = devices.pick_device()          # the one board, or a RetrostepError saying why not
    with devices.open_port(board.port) as ser:   # permission problems come out as a fix
        ...

Serial ports come from pyserial's ``serial.tools.list_ports.comports()``; a port is a
*board* when its USB vendor and product ids are ones our boards enumerate with (table
KNOWN_USB below). A Raspberry Pi RP2040/RP2350 held in BOOTSEL mode is no serial port:
it is a USB drive carrying INFO_UF2.TXT, found by looking at mounted volumes
(/media/$USER/*, /run/media/$USER/*, /Volumes/* and vfat mounts in /proc/self/mounts;
the drive letters on Windows).
The environment variable RETROSTEP_UF2_MOUNTS (paths separated by ``os.pathsep``, each a
drive or a folder holding drives) replaces those places; the tests use it.
"""

from __future__ import annotations

import errno
import getpass
import os
import sys
from dataclasses import dataclass

from retrostep.errors import RetrostepError

UF2_MOUNTS_ENV = "RETROSTEP_UF2_MOUNTS"
INFO_UF2 = "INFO_UF2.TXT"

ESPRESSIF_VID = 0x303A
RASPBERRY_PI_VID = 0x2E8A

VENDORS = {
    0x303A: "Espressif",
    0x2E8A: "Raspberry Pi",
    0x239A: "Adafruit",
    0x2886: "Seeed",
    0x10C4: "Silicon Labs",
    0x1A86: "WCH",
    0x0403: "FTDI",
}

# (vid, pid) -> (kind, what it is)
KNOWN_USB = {
    (0x303A, 0x1001): ("esp32-usb-jtag", "ESP32-S3/C3/C6 native USB serial/JTAG"),
    (0x303A, 0x0002): ("esp32-usb-otg", "ESP32-S2/S3 ROM download mode over USB-OTG"),
    (0x303A, 0x4001): ("esp32-tinyusb", "ESP32-S2/S3 TinyUSB serial (MicroPython)"),
    (0x2E8A, 0x0005): ("rp2-micropython", "MicroPython on RP2040/RP2350"),
    (0x2E8A, 0x0003): ("rp2-bootsel", "RP2040 in BOOTSEL mode"),
    (0x2E8A, 0x000F): ("rp2-bootsel", "RP2350 in BOOTSEL mode"),
    (0x2E8A, 0x000A): ("rp2-usb", "RP2040/RP2350 Pico SDK USB serial"),
    (0x10C4, 0xEA60): ("usb-serial-bridge", "Silicon Labs CP210x USB-UART bridge"),
    (0x1A86, 0x7523): ("usb-serial-bridge", "WCH CH340 USB-UART bridge"),
    (0x1A86, 0x55D4): ("usb-serial-bridge", "WCH CH9102 USB-UART bridge"),
    (0x1A86, 0x55D3): ("usb-serial-bridge", "WCH CH343 USB-UART bridge"),
    (0x0403, 0x6001): ("usb-serial-bridge", "FTDI FT232R USB-UART bridge"),
    (0x0403, 0x6015): ("usb-serial-bridge", "FTDI FT231X USB-UART bridge"),
    (0x0403, 0x6010): ("usb-serial-bridge", "FTDI FT2232 (ESP-Prog) USB-UART bridge"),
}

# a vendor's other products: still one of ours, kind by vendor
KNOWN_VID = {
    0x303A: ("esp32-usb", "Espressif USB device"),
    0x2E8A: ("rp2-usb", "Raspberry Pi RP2 USB device"),
    0x239A: ("adafruit-usb", "Adafruit board"),
    0x2886: ("seeed-usb", "Seeed Studio board"),
}

# which flashing path a kind belongs to
FAMILY = {
    "esp32-usb-jtag": "esp32",
    "esp32-usb-otg": "esp32",
    "esp32-tinyusb": "esp32",
    "esp32-usb": "esp32",
    "usb-serial-bridge": "esp32",
    "rp2-micropython": "rp2",
    "rp2-bootsel": "rp2",
    "rp2-usb": "rp2",
}

NO_BOARD = (
    "no board found: plug it in; check the cable carries data (many USB cables only "
    "charge); `retrostep devices --all` lists every serial port"
)


@dataclass(frozen=True)
class Device:
    """One board on USB: a serial port, or (kind 'rp2-bootsel') a BOOTSEL drive's folder."""

    port: str
    vid: int | None
    pid: int | None
    kind: str
    vendor: str
    description: str
    serial_number: str | None = None
    board_id: str | None = None  # BOOTSEL drives: Board-ID from INFO_UF2.TXT

    @property
    def vid_pid(self) -> str:
        if self.vid is None or self.pid is None:
            return "-"
        return f"{self.vid:04X}:{self.pid:04X}"

    @property
    def family(self) -> str | None:
        """'esp32', 'rp2', or None when the kind does not tell (Adafruit, Seeed)."""
        return FAMILY.get(self.kind)

    @property
    def is_board(self) -> bool:
        """One of the boards retrostep flashes (not an unknown port or another UF2 drive)."""
        return self.kind not in ("unknown", "uf2-drive")

    def label(self) -> str:
        return f"{self.port} ({self.kind}, {self.vid_pid})"


def classify(vid: int | None, pid: int | None) -> tuple[str, str]:
    """(kind, what it is) for a USB vendor:product pair; ('unknown', '') when not ours."""
    if vid is None:
        return "unknown", ""
    if (vid, pid) in KNOWN_USB:
        return KNOWN_USB[(vid, pid)]
    if vid in KNOWN_VID:
        return KNOWN_VID[vid]
    return "unknown", ""


def serial_devices(all_ports: bool = False) -> list[Device]:
    """Serial ports whose VID:PID is one of ours (every port with ``all_ports``)."""
    import serial.tools.list_ports

    out = []
    for info in serial.tools.list_ports.comports():
        kind, what = classify(info.vid, info.pid)
        if kind == "unknown" and not all_ports:
            continue
        vendor = VENDORS.get(info.vid, info.manufacturer or "") if info.vid is not None else ""
        desc = what or info.description or info.product or ""
        if what and info.product and info.product not in what:
            desc = f"{info.product} ({what})"
        out.append(Device(info.device, info.vid, info.pid, kind, vendor, desc,
                          info.serial_number or None))
    return sorted(out, key=lambda d: d.port)


# --- BOOTSEL drives ---------------------------------------------------------------------


def read_info_uf2(drive: str) -> dict[str, str]:
    """The ``Key: value`` lines of a UF2 drive's INFO_UF2.TXT ({} if unreadable)."""
    info = {}
    try:
        with open(os.path.join(drive, INFO_UF2), encoding="ascii", errors="replace") as f:
            text = f.read(4096)
    except OSError:
        return info
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
        elif line.strip() and "Bootloader" not in info:
            info["Bootloader"] = line.strip()
    return info


def bootsel_chip(board_id: str | None) -> str | None:
    """'rp2040' or 'rp2350' from INFO_UF2.TXT's Board-ID, None for other UF2 bootloaders."""
    if not board_id:
        return None
    b = board_id.upper()
    if b.startswith("RPI-RP2"):
        return "rp2040"
    if b.startswith("RP2350"):
        return "rp2350"
    return None


def _windows_drives() -> list[str]:
    """The drive letters that exist (C:\\ ...): where Windows mounts a BOOTSEL drive."""
    import string

    return [f"{c}:\\" for c in string.ascii_uppercase if os.path.exists(f"{c}:\\")]


def _mount_roots() -> list[str]:
    env = os.environ.get(UF2_MOUNTS_ENV)
    if env is not None:
        return [p for p in env.split(os.pathsep) if p]
    if os.name == "nt":
        return _windows_drives()
    try:
        user = getpass.getuser()
    except Exception:  # no login name (containers): only the shared places
        user = ""
    roots = ["/Volumes", "/media"]
    if user:
        roots += [f"/media/{user}", f"/run/media/{user}"]
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] in ("vfat", "msdos", "fat"):
                    roots.append(parts[1].replace("\\040", " "))
    except OSError:
        pass
    return roots


def find_uf2_drives() -> list[str]:
    """Folders holding INFO_UF2.TXT: mounted UF2 bootloader drives, sorted, no repeats."""
    found = []
    for root in _mount_roots():
        if not os.path.isdir(root):
            continue
        candidates = [root]
        try:
            candidates += [os.path.join(root, n) for n in sorted(os.listdir(root))]
        except OSError:
            pass
        for c in candidates:
            if os.path.isfile(os.path.join(c, INFO_UF2)):
                real = os.path.realpath(c)
                if real not in (os.path.realpath(f) for f in found):
                    found.append(c)
    return found


def bootsel_devices() -> list[Device]:
    """Mounted UF2 drives as Devices; an RP2040/RP2350 in BOOTSEL is kind 'rp2-bootsel'."""
    out = []
    for drive in find_uf2_drives():
        info = read_info_uf2(drive)
        board_id = info.get("Board-ID")
        chip = bootsel_chip(board_id)
        model = info.get("Model", "UF2 drive")
        if chip is None:
            out.append(Device(drive, None, None, "uf2-drive", "", f"{model} UF2 drive",
                              None, board_id))
            continue
        pid = 0x0003 if chip == "rp2040" else 0x000F
        out.append(Device(drive, RASPBERRY_PI_VID, pid, "rp2-bootsel", "Raspberry Pi",
                          f"{model} BOOTSEL drive", None, board_id))
    return out


# --- listing and picking ----------------------------------------------------------------


def list_devices(all_ports: bool = False) -> list[Device]:
    """Every board on USB: serial ports with a known VID:PID, then BOOTSEL drives.

    ``all_ports`` adds serial ports we do not recognise (kind 'unknown')."""
    return serial_devices(all_ports) + bootsel_devices()


def _listing(devs) -> str:
    return "; ".join(d.label() for d in devs)


def pick_device(port: str | None = None, family: str | None = None) -> Device:
    """The board to talk to.

    With ``port``: that port (or BOOTSEL drive folder), described if it is listed, else
    an 'unknown' Device when the path exists or is a pyserial URL (``socket://...``).
    Without: the one board found (only boards of ``family`` 'esp32' or 'rp2' if given,
    plus boards whose family the VID:PID does not tell). No board, or several, is a
    RetrostepError that says what to do.
    """
    if port:
        for d in list_devices(all_ports=True):
            if d.port == port or os.path.realpath(d.port) == os.path.realpath(port):
                return d
        if "://" in port or os.path.exists(port):
            return Device(port, None, None, "unknown", "", "", None)
        raise RetrostepError(
            f"no serial port or BOOTSEL drive {port}: check the name (`retrostep devices` "
            "lists them) and that the board is plugged in"
        )
    boards = [d for d in list_devices() if d.is_board]
    if family:
        boards = [d for d in boards if d.family in (family, None)]
    if not boards:
        what = {"esp32": "ESP32 board", "rp2": "RP2040/RP2350 board"}.get(family, "board")
        raise RetrostepError(NO_BOARD.replace("no board", f"no {what}", 1))
    if len(boards) > 1:
        raise RetrostepError(
            f"{len(boards)} boards found, name one with --port: {_listing(boards)}"
        )
    return boards[0]


# --- opening a port ---------------------------------------------------------------------


def _serial_group(port: str) -> str:
    """The group that may open serial ports here: the port's own group, else dialout
    (Debian, Ubuntu, Fedora) or uucp (Arch, openSUSE)."""
    try:
        import grp
    except ImportError:  # not a Unix
        return "dialout"
    try:
        gid = os.stat(port).st_gid
        if gid != 0:
            return grp.getgrgid(gid).gr_name
    except (OSError, KeyError):
        pass
    for name in ("dialout", "uucp"):
        try:
            grp.getgrnam(name)
            return name
        except KeyError:
            pass
    return "dialout"


def permission_error(port: str) -> RetrostepError:
    """The error for a serial port we may not open, saying how to get access."""
    if sys.platform.startswith("linux"):
        group = _serial_group(port)
        return RetrostepError(
            f"no permission to open {port}: add yourself to the '{group}' group "
            f"(`sudo usermod -aG {group} $USER`), then log out and back in; or give your "
            "user access with a udev rule, e.g. /etc/udev/rules.d/99-retrostep.rules: "
            'SUBSYSTEM=="tty", ATTRS{idVendor}=="303a", TAG+="uaccess" '
            "(then `sudo udevadm control --reload`, replug)"
        )
    return RetrostepError(
        f"no permission to open {port}: close other programs using it, or run with the "
        "rights to use serial ports"
    )


def is_permission_problem(exc: BaseException) -> bool:
    """True for an OSError/SerialException (or a message) meaning 'access denied'."""
    if isinstance(exc, PermissionError):
        return True
    if getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM):
        return True
    text = str(exc)
    return "Permission denied" in text or "[Errno 13]" in text


# mpremote's port shortcuts: a0 = /dev/ttyACM0, u0 = /dev/ttyUSB0, c0 = COM0
_SHORTCUTS = {"a": "/dev/ttyACM{}", "u": "/dev/ttyUSB{}", "c": "COM{}"}


def resolve_port(port: str | None) -> str:
    """The port to open for what a user typed, as mpremote reads it: nothing or 'auto'
    (the one board on USB), a0/u0/c0 shortcuts, 'id:SERIAL' (the board with that USB
    serial number), or a port name or pyserial URL as it is."""
    if port is None or port == "auto":
        return pick_device().port
    if len(port) >= 2 and port[0] in _SHORTCUTS and port[1:].isdigit():
        return _SHORTCUTS[port[0]].format(int(port[1:]))
    if port.startswith("id:"):
        serial_number = port[3:]
        for d in list_devices(all_ports=True):
            if d.serial_number == serial_number:
                return d.port
        raise RetrostepError(f"no board with the USB serial number {serial_number!r}: "
                             "`retrostep devices` lists the boards and their serials")
    return port


def port_problem(port: str, exc: BaseException) -> RetrostepError:
    """The one-line error for a port that would not open: forbidden, absent, busy, or a
    virtual board that is not running."""
    import serial

    if is_permission_problem(exc):
        return permission_error(port)
    text = str(exc)
    if port.startswith("socket://"):
        return RetrostepError(
            f"nothing answers at {port}: is `retrostep sim --serve` running? It prints "
            "the port to use")
    if (getattr(exc, "errno", None) == errno.ENOENT or "No such file" in text
            or "could not open port" in text and "FileNotFoundError" in text):
        return RetrostepError(
            f"no serial port {port}: plug the board in (`retrostep devices` lists ports)")
    if getattr(exc, "errno", None) == errno.EBUSY or "busy" in text.lower():
        return RetrostepError(
            f"{port} is busy: close the other program using it (serial monitor, "
            "mpremote, Thonny) and try again")
    if isinstance(exc, serial.SerialException) and "could not open port" in text:
        return RetrostepError(
            f"cannot open {port}: plug the board in, or check the name (`retrostep "
            "devices` lists ports)")
    return RetrostepError(f"cannot open {port}: {exc}")


def open_port(port: str, baudrate: int = 115200, **kwargs):
    """Open a serial port (or pyserial URL); access, absence and 'busy' come out as a
    RetrostepError saying what to do."""
    import serial

    try:
        return serial.serial_for_url(port, baudrate=baudrate, **kwargs)
    except (OSError, serial.SerialException) as exc:
        raise port_problem(port, exc) from None


# --- command line -----------------------------------------------------------------------
