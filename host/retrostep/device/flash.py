"""Put MicroPython on the board: ESP32 family through esptool's library API, RP2040 and
RP2350 by copying a UF2 file to the BOOTSEL drive.

    from retrostep.device import flash
    img = flash.check_esp_image("ESP32_GENERIC_S3-20250415-v1.25.0.bin")   # offline
    print(img.chip, hex(img.offset))                                      # esp32s3 0x0
    flash.flash("ESP32_GENERIC_S3-20250415-v1.25.0.bin")    # the one board on USB
    flash.flash("RPI_PICO-20250415-v1.25.0.uf2", wait=False)

Every file is checked before anything is written, so a damaged download or one for
another chip never reaches the board:

* ESP .bin (MicroPython's combined image: bootloader, partition table, application):
  magic 0xE9, segment count, the chip id in the extended header, the XOR checksum and
  the SHA-256 digest appended to the bootloader and to every application inside the
  file; the partition table's MD5. The file goes to the bootloader's offset: 0x1000 on
  the ESP32 and ESP32-S2, 0x0 on the S3, C3 and C6. An application-only image
  (``micropython.bin``, meant for 0x10000) is refused.
* UF2: every 512-byte block (start and end magics, the family-id flag, 256-byte
  payloads, block numbers 0..n-1 per family) and the family against the chip:
  RP2040 0xE48BFF56; RP2350 0xE48BFF59 (Arm), 0xE48BFF5A (RISC-V), 0xE48BFF57
  (absolute), 0xE48BFF58 (data).

The ESP path runs esptool's own functions (detect_chip, run_stub, attach_flash,
erase_flash, write_flash, verify_flash, reset_chip) on the serial port; esptool's
console output is captured (``FlashResult.log``) and its progress handed to the
``progress(stage, done, total)`` callback. Its errors come out as RetrostepError.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import struct
import time
from dataclasses import dataclass, field

from retrostep.device import devices
from retrostep.errors import RetrostepError

# --- ESP images -------------------------------------------------------------------------

ESP_IMAGE_MAGIC = 0xE9
ESP_CHECKSUM_MAGIC = 0xEF
APP_DESC_MAGIC = 0xABCD5432  # esp_app_desc_t, first word of an application's first segment
PARTITION_MAGIC = 0x50AA  # b"\xaa\x50", little endian
PARTITION_MD5_MAGIC = 0xEBEB
PARTITION_TABLE_OFFSET = 0x8000

# chip: (chip id in the image's extended header, flash offset of the bootloader, which
# is where MicroPython's combined .bin starts), as esptool's targets define them
ESP_CHIPS = {
    "esp32": (0, 0x1000),
    "esp32s2": (2, 0x1000),
    "esp32c3": (5, 0x0),
    "esp32s3": (9, 0x0),
    "esp32c2": (12, 0x0),
    "esp32c6": (13, 0x0),
    "esp32h2": (16, 0x0),
    "esp32p4": (18, 0x2000),
    "esp32c61": (20, 0x0),
    "esp32c5": (23, 0x2000),
}
ESP_CHIP_BY_ID = {cid: chip for chip, (cid, _) in ESP_CHIPS.items()}

RP2_CHIPS = ("rp2040", "rp2350")

CHIP_TITLES = {
    "esp32": "ESP32", "esp32s2": "ESP32-S2", "esp32s3": "ESP32-S3", "esp32c3": "ESP32-C3",
    "esp32c2": "ESP32-C2", "esp32c6": "ESP32-C6", "esp32h2": "ESP32-H2",
    "esp32p4": "ESP32-P4", "esp32c61": "ESP32-C61", "esp32c5": "ESP32-C5",
    "rp2040": "RP2040", "rp2350": "RP2350",
}

DOWNLOAD_HINT = "download the firmware for your board from https://micropython.org/download"


def chip_key(name: str) -> str:
    """'ESP32-S3', 'esp32s3', 'RP2040' -> 'esp32s3', 'rp2040' (RetrostepError if unknown)."""
    key = name.lower().replace("-", "").replace("_", "")
    if key in ESP_CHIPS or key in RP2_CHIPS:
        return key
    valid = ", ".join(list(ESP_CHIPS) + list(RP2_CHIPS))
    raise RetrostepError(f"unknown chip {name!r}: use one of {valid}")


def title(chip: str) -> str:
    return CHIP_TITLES.get(chip, chip)


@dataclass(frozen=True)
class EspSegment:
    addr: int  # load address
    size: int
    file_offset: int  # of the segment's 8-byte header, within the image


@dataclass(frozen=True)
class EspImage:
    """One ESP image (bootloader or application) inside a firmware file."""

    chip: str
    chip_id: int
    position: int  # offset in the file
    segments: tuple
    entry: int
    checksum: int
    digest: bytes | None  # SHA-256 appended after the checksum, if any
    length: int  # bytes, header to digest inclusive
    is_app: bool
    flash_mode: int
    flash_size_freq: int
    min_rev_full: int
    max_rev_full: int


@dataclass(frozen=True)
class EspFirmware:
    """A checked ESP firmware file: where it goes and what is in it."""

    path: str
    chip: str
    offset: int  # flash address of the file's first byte
    size: int
    images: tuple  # EspImage: the bootloader (or sole image) first, then applications
    partitions: tuple = ()  # (label, type, subtype, flash offset, size)

    @property
    def bootloader(self) -> EspImage:
        return self.images[0]


def _load(source, what="firmware file"):
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>", bytes(source)
    path = os.fspath(source)
    try:
        with open(path, "rb") as f:
            return path, f.read()
    except FileNotFoundError:
        raise RetrostepError(f"no {what} {path}: check the name") from None
    except IsADirectoryError:
        raise RetrostepError(f"{path} is a folder, not a {what}") from None
    except OSError as exc:
        raise RetrostepError(f"cannot read {path}: {exc.strerror or exc}") from None


def parse_esp_image(data: bytes, position: int = 0, name: str = "<bytes>",
                    where: str = "") -> EspImage:
    """Parse and check the ESP image starting at ``position`` of ``data``: magic, segment
    count, chip id, segments inside the file, checksum, appended SHA-256 digest."""
    # Not esptool.bin_image.LoadFirmwareImage: it parses but does not check (the checksum
    # and digest are only stored for the caller to compare; 0 segments and another
    # chip's id load fine), must be told the chip first, and fails on damaged files as
    # "unpack requires a buffer of 16 bytes", "ord() expected a character", or a tuple
    # RuntimeError. Its image_info makes the comparisons but only prints (returns None).
    # Not for speed: both take 0.03 s on a 1.6 MB image. tests/host/test_flash_esp.py
    # checks this parser against LoadFirmwareImage on images esptool saved.
    label = f"{name}{where}"
    d = memoryview(data)
    if len(d) - position < 24:
        raise RetrostepError(f"{label} is too short to be an ESP firmware image "
                             f"({len(d) - position} bytes): {DOWNLOAD_HINT}")
    magic, nseg, flash_mode, size_freq, entry = struct.unpack_from("<BBBBI", d, position)
    if magic != ESP_IMAGE_MAGIC:
        hint = ""
        if bytes(d[position:position + 4]) == b"UF2\n":
            hint = " (it is a UF2 file, for RP2040/RP2350 boards)"
        raise RetrostepError(
            f"{label} is not an ESP firmware image{hint}: first byte 0x{magic:02X}, "
            f"expected 0xE9; {DOWNLOAD_HINT}")
    if not 1 <= nseg <= 16:
        raise RetrostepError(f"{label} has an impossible segment count {nseg} (1..16): "
                             f"the file is damaged; {DOWNLOAD_HINT}")
    (_wp, _d1, _d2, _d3, chip_id, _min_rev, min_full, max_full, _r0, _r1, _r2, _r3,
     hash_appended) = struct.unpack_from("<BBBBHBHH4BB", d, position + 8)
    if hash_appended not in (0, 1):
        raise RetrostepError(f"{label}: header byte 23 is 0x{hash_appended:02X}, not 0 or 1: "
                             f"the file is damaged; {DOWNLOAD_HINT}")
    chip = ESP_CHIP_BY_ID.get(chip_id)
    if chip is None:
        raise RetrostepError(f"{label}: chip id {chip_id} in the image header is no chip "
                             f"retrostep knows ({', '.join(ESP_CHIPS)}); {DOWNLOAD_HINT}")
    pos = position + 24
    checksum = ESP_CHECKSUM_MAGIC
    segments = []
    for i in range(nseg):
        if pos + 8 > len(d):
            raise RetrostepError(f"{label} is truncated: segment {i + 1} of {nseg} is "
                                 f"missing; {DOWNLOAD_HINT}")
        addr, size = struct.unpack_from("<II", d, pos)
        if pos + 8 + size > len(d):
            raise RetrostepError(
                f"{label} is truncated: segment {i + 1} of {nseg} needs {size} bytes at "
                f"0x{pos + 8 - position:X}, the file ends before; {DOWNLOAD_HINT}")
        segments.append(EspSegment(addr, size, pos - position))
        for b in bytes(d[pos + 8:pos + 8 + size]):
            checksum ^= b
        pos += 8 + size
    cpos = pos + (15 - pos % 16)  # padded so the checksum is the last byte of 16
    if cpos >= len(d):
        raise RetrostepError(f"{label} is truncated: the checksum byte is missing; "
                             f"{DOWNLOAD_HINT}")
    stored = d[cpos]
    if stored != checksum:
        raise RetrostepError(
            f"{label}: checksum mismatch (stored 0x{stored:02X}, computed 0x{checksum:02X}): "
            f"the file is damaged; {DOWNLOAD_HINT}")
    end = cpos + 1
    digest = None
    if hash_appended:
        digest = bytes(d[end:end + 32])
        if len(digest) < 32:
            raise RetrostepError(f"{label} is truncated: the SHA-256 digest is missing; "
                                 f"{DOWNLOAD_HINT}")
        if hashlib.sha256(d[position:end]).digest() != digest:
            raise RetrostepError(f"{label}: SHA-256 digest does not match the image: the file "
                                 f"is damaged; {DOWNLOAD_HINT}")
        end += 32
    first = segments[0]
    is_app = (first.size >= 4 and struct.unpack_from(
        "<I", d, position + first.file_offset + 8)[0] == APP_DESC_MAGIC)
    return EspImage(chip, chip_id, position, tuple(segments), entry, stored, digest,
                    end - position, is_app, flash_mode, size_freq, min_full, max_full)


def _partition_table(data: bytes, pos: int, name: str) -> list:
    """Entries of the partition table at ``pos`` (empty if there is none); MD5 checked."""
    out = []
    for i in range(0, 0xC00, 32):
        e = data[pos + i:pos + i + 32]
        if len(e) < 32:
            break
        magic = struct.unpack_from("<H", e)[0]
        if magic == PARTITION_MAGIC:
            ptype, subtype, offset, size = struct.unpack_from("<BBII", e, 2)
            label = e[12:28].split(b"\0")[0].decode("ascii", "replace")
            out.append((label, ptype, subtype, offset, size))
        elif magic == PARTITION_MD5_MAGIC:
            if hashlib.md5(data[pos:pos + i]).digest() != bytes(e[16:32]):
                raise RetrostepError(f"{name}: the partition table's MD5 does not match: the "
                                     f"file is damaged; {DOWNLOAD_HINT}")
        else:
            break
    return out


def check_esp_image(source, chip: str | None = None) -> EspFirmware:
    """Check an ESP firmware file offline; ``chip`` ('esp32s3', ...) must then match.

    Returns where it goes (``offset``) and what it holds; a RetrostepError says what is
    wrong otherwise (damaged, truncated, another chip, application-only image)."""
    name, data = _load(source)
    return _check_esp(name, data, chip)


def _check_esp(name, data, chip=None) -> EspFirmware:
    boot = parse_esp_image(data, 0, name)
    if chip is not None:
        chip = chip_key(chip)
        if chip != boot.chip:
            raise RetrostepError(
                f"{name} is firmware for the {title(boot.chip)}, but the board is an "
                f"{title(chip)}: download the {title(chip)} firmware "
                "(https://micropython.org/download)")
    if boot.is_app:
        raise RetrostepError(
            f"{name} is an application image only (it belongs at 0x10000 after a "
            "bootloader and partition table): use the combined firmware .bin from "
            "https://micropython.org/download, which starts with the bootloader")
    offset = ESP_CHIPS[boot.chip][1]
    images = [boot]
    parts = []
    ppos = PARTITION_TABLE_OFFSET - offset
    if ppos >= boot.length and len(data) >= ppos + 32:
        parts = _partition_table(data, ppos, name)
        for label, ptype, _sub, poff, _size in parts:
            fpos = poff - offset
            if ptype != 0 or not 0 < fpos < len(data) or data[fpos] != ESP_IMAGE_MAGIC:
                continue
            app = parse_esp_image(data, fpos, name, f" (application '{label}' at 0x{poff:X})")
            if app.chip != boot.chip:
                raise RetrostepError(
                    f"{name}: its bootloader is for the {title(boot.chip)} but application "
                    f"'{label}' is for the {title(app.chip)}: the file is mixed up; "
                    f"{DOWNLOAD_HINT}")
            images.append(app)
    return EspFirmware(name, boot.chip, offset, len(data), tuple(images), tuple(parts))


# --- UF2 --------------------------------------------------------------------------------

UF2_MAGIC_START0 = 0x0A324655
UF2_MAGIC_START1 = 0x9E5D5157
UF2_MAGIC_END = 0x0AB16F30
UF2_BLOCK = 512
UF2_PAYLOAD = 256
UF2_FLAG_NOT_MAIN_FLASH = 0x00000001
UF2_FLAG_FAMILY_ID = 0x00002000

RP2040_FAMILY = 0xE48BFF56
ABSOLUTE_FAMILY = 0xE48BFF57
DATA_FAMILY = 0xE48BFF58
RP2350_ARM_S_FAMILY = 0xE48BFF59
RP2350_RISCV_FAMILY = 0xE48BFF5A
RP2350_ARM_NS_FAMILY = 0xE48BFF5B

UF2_FAMILIES = {
    RP2040_FAMILY: "RP2040",
    ABSOLUTE_FAMILY: "RP2350 absolute",
    DATA_FAMILY: "RP2350 data",
    RP2350_ARM_S_FAMILY: "RP2350 Arm (secure)",
    RP2350_RISCV_FAMILY: "RP2350 RISC-V",
    RP2350_ARM_NS_FAMILY: "RP2350 Arm (non-secure)",
    # UF2 families of other chips, to name them in errors
    0x1C5F21B0: "ESP32", 0xBFDD4EEE: "ESP32-S2", 0xC47E5767: "ESP32-S3",
    0xD42BA06C: "ESP32-C3", 0x540DDF62: "ESP32-C6",
    0x68ED2B88: "SAMD21", 0x55114460: "SAMD51", 0xADA52840: "nRF52840",
}

# what each chip's boot ROM takes
RP2_ACCEPTS = {
    "rp2040": {RP2040_FAMILY},
    "rp2350": {ABSOLUTE_FAMILY, DATA_FAMILY, RP2350_ARM_S_FAMILY, RP2350_RISCV_FAMILY,
               RP2350_ARM_NS_FAMILY},
}


def family_name(family_id: int) -> str:
    return UF2_FAMILIES.get(family_id, f"family 0x{family_id:08X}")


@dataclass(frozen=True)
class Uf2Image:
    """A checked UF2 file."""

    path: str
    size: int
    blocks: int
    families: dict  # family id -> number of blocks
    flash_bytes: int  # payload bytes bound for main flash
    address_range: tuple  # (lowest, highest + payload) target address

    @property
    def chips(self) -> set:
        return {chip for chip, fams in RP2_ACCEPTS.items() if fams & set(self.families)}

    def family_names(self) -> str:
        return ", ".join(family_name(f) for f in self.families)


def check_uf2(source, chip: str | None = None) -> Uf2Image:
    """Check every block of a UF2 file offline; ``chip`` ('rp2040' or 'rp2350') must then
    be able to take it. A RetrostepError says what is wrong otherwise."""
    name, data = _load(source, "UF2 file")
    return _check_uf2(name, data, chip)


def _check_uf2(name, data, chip=None) -> Uf2Image:
    if not data:
        raise RetrostepError(f"{name} is empty: {DOWNLOAD_HINT}")
    if data[0] == ESP_IMAGE_MAGIC:
        raise RetrostepError(f"{name} is an ESP32 firmware image, not a UF2 file: RP2 boards "
                             f"need the .uf2 file; {DOWNLOAD_HINT}")
    if len(data) % UF2_BLOCK:
        raise RetrostepError(
            f"{name} is truncated or damaged: {len(data)} bytes is not a whole number of "
            f"512-byte UF2 blocks; {DOWNLOAD_HINT}")
    families = {}  # family -> (blocks seen, numBlocks)
    flash_bytes = 0
    lo, hi = None, None
    nblocks = len(data) // UF2_BLOCK
    for i in range(nblocks):
        at = i * UF2_BLOCK
        (m0, m1, flags, addr, size, blockno, numblocks,
         family) = struct.unpack_from("<8I", data, at)
        (mend,) = struct.unpack_from("<I", data, at + 508)
        where = f"{name}: block {i} (byte {at})"
        if m0 != UF2_MAGIC_START0 or m1 != UF2_MAGIC_START1 or mend != UF2_MAGIC_END:
            what = "is not a UF2 file" if i == 0 else "is damaged"
            raise RetrostepError(f"{where} lacks the UF2 magic numbers: the file {what}; "
                                 f"{DOWNLOAD_HINT}")
        if not flags & UF2_FLAG_FAMILY_ID:
            raise RetrostepError(f"{where} carries no family id (flag 0x2000): the RP2 boot "
                                 "ROM ignores such blocks; rebuild it with a family id "
                                 "(picotool uf2 convert --family)")
        if size > 476:
            raise RetrostepError(f"{where} claims a {size}-byte payload (at most 476): the "
                                 f"file is damaged; {DOWNLOAD_HINT}")
        if not flags & UF2_FLAG_NOT_MAIN_FLASH:
            if size != UF2_PAYLOAD:
                raise RetrostepError(f"{where} has a {size}-byte payload; the RP2 boot ROM "
                                     f"takes only 256-byte payloads; {DOWNLOAD_HINT}")
            if addr % UF2_PAYLOAD:
                raise RetrostepError(f"{where} targets 0x{addr:08X}, not 256-byte aligned: "
                                     f"the file is damaged; {DOWNLOAD_HINT}")
            flash_bytes += size
            lo = addr if lo is None else min(lo, addr)
            hi = addr + size if hi is None else max(hi, addr + size)
        seen, total = families.get(family, (0, numblocks))
        if numblocks != total or numblocks == 0:
            raise RetrostepError(f"{where} says the {family_name(family)} part has "
                                 f"{numblocks} blocks, earlier blocks said {total}: the file "
                                 f"is damaged; {DOWNLOAD_HINT}")
        if blockno != seen:
            raise RetrostepError(
                f"{where} is block number {blockno}, expected {seen}: blocks are missing or "
                f"out of order; the file is damaged; {DOWNLOAD_HINT}")
        families[family] = (seen + 1, total)
    for family, (seen, total) in families.items():
        if seen != total:
            raise RetrostepError(
                f"{name} is truncated: it holds {seen} of the {total} {family_name(family)} "
                f"blocks; {DOWNLOAD_HINT}")
    img = Uf2Image(name, len(data), nblocks, {f: n for f, (n, _) in families.items()},
                   flash_bytes, (lo or 0, hi or 0))
    if chip is not None:
        _check_uf2_chip(img, chip_key(chip))
    return img


def _check_uf2_chip(img: Uf2Image, chip: str, where: str = "the board"):
    if chip not in RP2_CHIPS:
        raise RetrostepError(f"{img.path} is a UF2 file for RP2 boards, but {where} is an "
                             f"{title(chip)}: ESP32 boards need the .bin firmware")
    if not RP2_ACCEPTS[chip] & set(img.families):
        raise RetrostepError(
            f"{img.path} is a UF2 for the {img.family_names()}, but {where} is an "
            f"{title(chip)}: download the {title(chip)} firmware "
            "(https://micropython.org/download)")


# --- flashing ---------------------------------------------------------------------------


@dataclass
class FlashResult:
    method: str  # 'esptool' or 'uf2'
    chip: str
    target: str  # serial port (esptool) or BOOTSEL drive (uf2)
    size: int  # bytes of the firmware file
    offset: int | None = None  # flash address (esptool)
    mac: str | None = None  # (esptool)
    verified: bool = False
    port: str | None = None  # serial port of the board running the new firmware, if known
    log: list = field(default_factory=list)  # esptool's messages


def _report(progress, stage, done=0, total=0):
    if progress is not None:
        progress(stage, done, total)


def flash(firmware_path, port=None, chip: str | None = None, erase: bool = False,
          verify: bool = True, progress=None, wait: bool = True,
          wait_timeout_s: float = 30.0, stub: bool = True, baud: int = 460800,
          connect_attempts: int = 7) -> FlashResult:
    """Write MicroPython firmware to the board.

    firmware_path  an ESP .bin (esptool) or an RP2 .uf2 (copied to the BOOTSEL drive)
    port           serial port, pyserial URL or open pyserial object (ESP); BOOTSEL
                   drive folder (UF2); None: the one board found
    chip           'esp32', 'esp32s3', 'rp2040', ... the file and the board must match
    erase          erase the whole flash first (ESP only)
    verify         read the written flash back (MD5) after esptool's own check (ESP)
    progress       callback(stage, done, total): stages 'connect', 'erase', 'write',
                   'verify', 'reset' (ESP); 'copy', 'wait' (UF2); total 0 = unknown
    wait           UF2: wait until the board is back as a serial port (wait_timeout_s)
    stub, baud     ESP: run esptool's flasher stub, then switch to this baud rate
    connect_attempts  ESP: reset-and-sync rounds before giving up (esptool's default 7)
    """
    name, head = _peek(firmware_path)
    if head[:4] == b"UF2\n":
        is_uf2 = True
    elif head[:1] == bytes([ESP_IMAGE_MAGIC]):
        is_uf2 = False
    elif name.lower().endswith((".uf2", ".bin")):  # let the check say what is wrong
        is_uf2 = name.lower().endswith(".uf2")
    else:
        raise RetrostepError(f"{name} is neither an ESP32 firmware image (.bin, first byte "
                             f"0xE9) nor a UF2 file: {DOWNLOAD_HINT}")
    if chip is not None:
        chip = chip_key(chip)
    if is_uf2:
        if chip is not None and chip not in RP2_CHIPS:
            raise RetrostepError(f"{name} is a UF2 file for RP2 boards, but the board is an "
                                 f"{title(chip)}: ESP32 boards need the .bin firmware")
        if erase:
            raise RetrostepError("--erase is for ESP32 boards; to wipe an RP2040/RP2350, "
                                 "copy flash_nuke.uf2 to it first")
        return flash_uf2(firmware_path, port, chip, progress, wait, wait_timeout_s)
    if chip is not None and chip in RP2_CHIPS:
        raise RetrostepError(f"{name} is an ESP32 firmware image, but the board is an "
                             f"{title(chip)}: RP2 boards need the .uf2 firmware")
    return flash_esp(firmware_path, port, chip, erase, verify, progress, stub, baud,
                     connect_attempts)


def _peek(source):
    name, data = _load(source)
    return name, data[:4]


# esptool output -> our callback ------------------------------------------------------------


def _esptool_logger(progress, lines, stage):
    """An esp-pylib logger that keeps esptool's messages in ``lines`` and turns its
    progress bars into ``progress(stage[0], done, total)`` calls."""
    from esp_pylib.logger import EspLogBase

    class Capture(EspLogBase):
        def _keep(self, prefix, args):
            text = " ".join(str(a) for a in args).strip()
            if text:
                lines.append(prefix + text)

        def print(self, *args, **kwargs):
            self._keep("", args)

        def err(self, *args, suggestion=None):
            self._keep("error: ", args)

        def warn(self, *args, suggestion=None):
            self._keep("warning: ", args)

        warning = warn
        error = err

        def note(self, *args):
            self._keep("note: ", args)

        def hint(self, *args):
            self._keep("hint: ", args)

        def debug(self, *args):
            pass

        def set_verbosity(self, mode):
            pass

        def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
            _report(progress, stage[0], cur_iter, total_iters)

    return Capture()


@contextlib.contextmanager
def _captured_esptool(progress, lines, stage):
    from esp_pylib.logger import EspLog

    # imported for its side effect: it installs esptool's own logger if none is set, so
    # that is what we save and restore (not None, which esp-pylib would later replace
    # with its generic logger)
    importlib.import_module("esptool.logger")

    saved = EspLog.instance
    EspLog.instance = _esptool_logger(progress, lines, stage)
    try:
        yield
    finally:
        EspLog.instance = saved


def _esp_error(exc, port_name, lines) -> RetrostepError:
    text = " ".join(str(exc).split())
    if devices.is_permission_problem(exc):
        return devices.permission_error(port_name)
    if "Could not open" in text or "could not open port" in text:
        if "No such file" in text or "Errno 2" in text:
            return RetrostepError(f"no serial port {port_name}: plug the board in "
                                  "(`retrostep devices` lists ports)")
        return RetrostepError(f"cannot open {port_name}: close other programs using it "
                              f"(serial monitor, mpremote, Thonny) and try again ({text})")
    if any(s in text for s in ("Failed to connect", "No serial data received",
                               "Timed out", "Wrong boot mode", "Invalid head of packet")):
        return RetrostepError(
            f"could not talk to the ESP bootloader on {port_name}: put the board in download "
            "mode (hold BOOT, tap RESET, release BOOT) and try again; close other programs "
            f"using the port (esptool: {text.split(' For troubleshooting')[0]})")
    return RetrostepError(f"esptool failed on {port_name}: {text}")


def flash_esp(firmware_path, port=None, chip=None, erase=False, verify=True, progress=None,
              stub=True, baud=460800, connect_attempts=7) -> FlashResult:
    """The ESP part of flash(): check the image, connect, (erase,) write, verify, reset."""
    name, data = _load(firmware_path)
    fw = _check_esp(name, data, chip)
    if port is None or isinstance(port, str):
        dev = devices.pick_device(port, family="esp32")
        port_arg = port_name = dev.port
    else:  # an open pyserial object: used as it is
        port_arg, port_name = port, getattr(port, "port", None) or str(port)
        dev = next((d for d in devices.list_devices(all_ports=True) if d.port == port_name),
                   None)
    if dev is not None and dev.family == "rp2":
        raise RetrostepError(f"{port_name} is an RP2040/RP2350 board ({dev.kind}): {fw.path} "
                             "is ESP32 firmware; name the ESP32 board's port with --port")
    connect_mode = "usb-reset" if dev is not None and dev.kind == "esp32-usb-jtag" \
        else "default-reset"

    from esptool import cmds
    from esptool.util import FatalError, NotImplementedInROMError

    lines = []
    stage = ["connect"]
    result = FlashResult("esptool", fw.chip, port_name, fw.size, fw.offset, log=lines)
    with _captured_esptool(progress, lines, stage):
        _report(progress, "connect")
        try:
            esp = cmds.detect_chip(port_arg, connect_mode=connect_mode,
                                   connect_attempts=connect_attempts)
        except (FatalError, OSError) as exc:
            raise _esp_error(exc, port_name, lines) from None
        try:
            found = chip_key(esp.CHIP_NAME)
            if found != fw.chip:
                raise RetrostepError(
                    f"{fw.path} is firmware for the {title(fw.chip)}, but the board on "
                    f"{port_name} is an {title(found)}: download the {title(found)} "
                    "firmware (https://micropython.org/download)")
            if stub:
                esp = cmds.run_stub(esp)
                if baud and baud != esp._port.baudrate:
                    esp.change_baud(baud)
            cmds.attach_flash(esp)
            try:
                result.mac = ":".join(f"{b:02x}" for b in esp.read_mac())
            except (FatalError, ValueError, TypeError, AttributeError):
                pass
            if erase:
                stage[0] = "erase"
                _report(progress, "erase")
                cmds.erase_flash(esp)
            stage[0] = "write"
            _report(progress, "write", 0, len(data))
            cmds.write_flash(esp, [(fw.offset, data)])
            if verify:
                stage[0] = "verify"
                _report(progress, "verify")
                cmds.verify_flash(esp, [(fw.offset, data)])
                result.verified = True
            stage[0] = "reset"
            _report(progress, "reset")
            cmds.reset_chip(esp, "hard-reset")
        except NotImplementedInROMError as exc:
            raise RetrostepError(f"{exc}: this needs esptool's flasher stub, which "
                                 "retrostep runs unless told not to (stub=False)") from None
        except FatalError as exc:
            raise _esp_error(exc, port_name, lines) from None
        finally:
            if isinstance(port_arg, str):
                esp._port.close()
    result.port = port_name
    return result


# UF2 -------------------------------------------------------------------------------------


def _bootsel_drive(port, uf2: Uf2Image):
    if port:
        if not os.path.isdir(port):
            raise RetrostepError(
                f"{port} is not a BOOTSEL drive: RP2 boards take firmware as a file copied "
                "to their BOOTSEL drive; unplug the board, hold BOOTSEL while plugging it in, "
                "and run again without --port (or name the drive's folder)")
        if not os.path.isfile(os.path.join(port, devices.INFO_UF2)):
            raise RetrostepError(f"{port} has no {devices.INFO_UF2}, so it is no BOOTSEL "
                                 "drive: name the drive the board shows in BOOTSEL mode")
        info = devices.read_info_uf2(port)
        return port, info.get("Board-ID")
    drives = [d for d in devices.bootsel_devices() if d.kind == "rp2-bootsel"]
    if not drives:
        running = [d.port for d in devices.serial_devices() if d.family == "rp2"]
        extra = (f" (the board on {', '.join(running)} is running, not in BOOTSEL mode)"
                 if running else "")
        raise RetrostepError(
            f"no BOOTSEL drive found{extra}: unplug the board, hold BOOTSEL while plugging "
            "it in (a drive named RPI-RP2 or RP2350 appears; mount it if your desktop "
            f"does not), then run again; set {devices.UF2_MOUNTS_ENV} if it is mounted "
            "somewhere unusual")
    if len(drives) > 1:
        listing = "; ".join(f"{d.port} ({d.board_id})" for d in drives)
        raise RetrostepError(f"{len(drives)} BOOTSEL drives found, name one with --port: "
                             f"{listing}")
    return drives[0].port, drives[0].board_id


def flash_uf2(firmware_path, port=None, chip=None, progress=None, wait=True,
              wait_timeout_s=30.0) -> FlashResult:
    """The RP2 part of flash(): check the UF2, copy it to the BOOTSEL drive, then wait
    for the board to come back as a serial port (unless ``wait`` is False)."""
    name, data = _load(firmware_path, "UF2 file")
    img = _check_uf2(name, data, chip)
    drive, board_id = _bootsel_drive(port, img)
    drive_chip = devices.bootsel_chip(board_id)
    if drive_chip is None:
        raise RetrostepError(f"{drive} is a UF2 drive, but its Board-ID {board_id!r} is no "
                             "RP2040 (RPI-RP2) or RP2350: is it the right board?")
    if chip is not None and chip != drive_chip:
        raise RetrostepError(f"the board said to be an {title(chip)} shows up as an "
                             f"{title(drive_chip)} BOOTSEL drive ({drive}): check --chip")
    _check_uf2_chip(img, drive_chip, f"the board at {drive}")
    before = {d.port for d in devices.serial_devices(all_ports=True)}
    dest = os.path.join(drive, os.path.basename(name) if name.lower().endswith(".uf2")
                        else "firmware.uf2")
    _copy(data, dest, drive, progress)
    result = FlashResult("uf2", drive_chip, drive, len(data), verified=False)
    if wait:
        result.port = _wait_for_serial(before, wait_timeout_s, progress, name, drive)
    return result


def _copy(data: bytes, dest: str, drive: str, progress, chunk: int = 64 * UF2_BLOCK):
    """Write ``data`` to ``dest`` in chunks and fsync it. The board reboots once the last
    block arrives, so the drive may vanish under a late flush: that is success."""
    written = 0
    _report(progress, "copy", 0, len(data))
    try:
        with open(dest, "wb") as f:
            while written < len(data):
                n = f.write(data[written:written + chunk])
                written += n
                _report(progress, "copy", written, len(data))
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        if written == len(data) and not os.path.isdir(drive):
            return  # the board took the file and rebooted
        if devices.is_permission_problem(exc):
            raise RetrostepError(f"no permission to write to {drive}: mount the BOOTSEL drive "
                                 "so your user can write to it") from None
        raise RetrostepError(f"copying to {drive} failed after {written} of {len(data)} "
                             f"bytes ({exc.strerror or exc}): replug the board in BOOTSEL "
                             "mode and try again") from None


def _wait_for_serial(before: set, timeout_s: float, progress, name, drive, poll_s=0.2):
    _report(progress, "wait")
    deadline = time.monotonic() + timeout_s
    while True:
        new = [d for d in devices.serial_devices()
               if d.port not in before and d.family in ("rp2", None)]
        if new:
            return new[0].port
        if time.monotonic() >= deadline:
            raise RetrostepError(
                f"copied {name} to {drive}, but no MicroPython serial port appeared within "
                f"{timeout_s:g} s: the board may run other firmware, or the copy did not "
                "finish; check with `retrostep devices` (or pass --no-wait)")
        time.sleep(poll_s)


# --- command line -----------------------------------------------------------------------

STAGES = {
    "connect": "connecting", "erase": "erasing flash", "write": "writing",
    "verify": "verifying", "reset": "resetting", "copy": "copying to BOOTSEL drive",
    "wait": "waiting for the board",
}
