"""Flashing ESP32 boards: the offline image check, and the write path through esptool.

Images are built here with esptool's own image classes (ESP32FirmwareImage,
ESP32S3FirmwareImage), so their checksums and SHA-256 digests are esptool's.

The write path runs unchanged esptool code (detect_chip, run_stub, attach_flash,
erase_flash, write_flash, verify_flash, reset_chip) and unchanged pyserial base-class
code against FakeEspChip below: a pyserial port (serial.SerialBase subclass, like
pyserial's own loop:// handler) with an emulated Espressif serial bootloader behind it.
It speaks SLIP and answers the ROM loader commands esptool sends (SYNC, READ_REG,
WRITE_REG, GET_SECURITY_INFO, SPI_ATTACH, SPI_SET_PARAMS, MEM_BEGIN/DATA/END for the
stub upload, then the stub's "OHAI"; FLASH_BEGIN/DATA/END, FLASH_DEFL_BEGIN/DATA/END,
SPI_FLASH_MD5, CHANGE_BAUDRATE, ERASE_FLASH), checks the XOR checksum of every data
packet as the ROM does, runs SPI flash commands written through the SPI registers
(JEDEC id, SFDP) and keeps a 4 MB flash array, so what esptool wrote can be compared
byte for byte. It also records the DTR/RTS lines (the reset circuit). Nothing of
esptool or retrostep is mocked; the USB listing (comports) is replaced by a fake list.
"""

import hashlib
import io
import struct
import zlib

import pytest
import serial
import serial.tools.list_ports
from serial.tools.list_ports_common import ListPortInfo

from esptool.bin_image import (ELFSection, ESP32FirmwareImage, ESP32S3FirmwareImage,
                               LoadFirmwareImage)
from esptool.targets import CHIP_DEFS

from retrostep import cli
from retrostep.device import flash
from retrostep.errors import RetrostepError

# --- images built with esptool ----------------------------------------------------------

IMAGE_CLASSES = {"esp32": ESP32FirmwareImage, "esp32s3": ESP32S3FirmwareImage}
# IRAM / DRAM load addresses of a bootloader, per chip
LOAD = {"esp32": (0x40080400, 0x3FFF0000), "esp32s3": (0x403C8700, 0x3FCE3700)}


def esp_image(chip, seed=1, app=False, sizes=(1024, 400)):
    """A valid ESP image (bytes) saved by esptool: header, extended header with the chip
    id, segments, checksum, SHA-256 digest. ``app`` puts esp_app_desc's magic first."""
    import random

    rnd = random.Random(seed)
    img = IMAGE_CLASSES[chip]()
    iram, dram = LOAD[chip]
    for i, (addr, size, section) in enumerate(zip((dram, iram), sizes,
                                                  (b".dram0.data", b".iram0.text"))):
        data = bytes(rnd.getrandbits(8) for _ in range(size))
        if app and i == 0:
            data = struct.pack("<I", flash.APP_DESC_MAGIC) + data[4:]
        img.segments.append(ELFSection(section, addr, data, 0))
    img.entrypoint = iram + 0x10
    return img.save(None)


def partition_table(entries):
    """An ESP-IDF partition table (binary) with its MD5 entry."""
    out = b""
    for label, ptype, subtype, offset, size in entries:
        out += struct.pack("<HBBII16sI", 0x50AA, ptype, subtype, offset, size,
                           label.encode(), 0)
    out += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(out).digest()
    return out + b"\xff" * (0xC00 - len(out))


def combined(chip, seed=1):
    """What MicroPython ships: bootloader at the chip's offset, partition table at
    0x8000, the application at 0x10000, as one file starting at the bootloader."""
    base = flash.ESP_CHIPS[chip][1]
    parts = partition_table([("nvs", 1, 2, 0x9000, 0x6000), ("phy_init", 1, 1, 0xF000, 0x1000),
                             ("factory", 0, 0, 0x10000, 0x1F0000)])
    data = bytearray(b"\xff" * (0x10000 - base))
    boot = esp_image(chip, seed)
    data[0:len(boot)] = boot
    data[0x8000 - base:0x8000 - base + len(parts)] = parts
    return bytes(data) + esp_image(chip, seed + 1, app=True, sizes=(2048, 3000))


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


# --- offline checks ---------------------------------------------------------------------


def test_chip_table_agrees_with_esptool():
    for chip, (chip_id, offset) in flash.ESP_CHIPS.items():
        assert CHIP_DEFS[chip].IMAGE_CHIP_ID == chip_id, chip
        assert CHIP_DEFS[chip].BOOTLOADER_FLASH_OFFSET == offset, chip
        assert flash.chip_key(CHIP_DEFS[chip].CHIP_NAME) == chip


@pytest.mark.parametrize("chip,offset", [("esp32", 0x1000), ("esp32s3", 0x0)])
def test_valid_image_passes_with_its_chip_and_offset(tmp_path, chip, offset):
    path = write(tmp_path, f"{chip}.bin", combined(chip))
    fw = flash.check_esp_image(path, chip)
    assert (fw.chip, fw.offset, fw.size) == (chip, offset, path.stat().st_size)
    assert len(fw.images) == 2 and not fw.images[0].is_app and fw.images[1].is_app
    assert fw.images[1].position == 0x10000 - offset
    assert [p[0] for p in fw.partitions] == ["nvs", "phy_init", "factory"]
    assert flash.check_esp_image(path).chip == chip  # no chip given: the image says


@pytest.mark.parametrize("chip", ["esp32", "esp32s3"])
def test_hand_parser_agrees_with_esptool_image_loader(chip):
    data = esp_image(chip, seed=7)
    mine = flash.parse_esp_image(data)
    theirs = LoadFirmwareImage(chip, data)
    assert mine.chip_id == theirs.chip_id == flash.ESP_CHIPS[chip][0]
    assert [(s.addr, s.size) for s in mine.segments] == \
        [(s.addr, len(s.data)) for s in theirs.segments]
    assert mine.checksum == theirs.checksum == theirs.calculate_checksum()
    assert mine.digest == theirs.stored_digest == theirs.calc_digest
    assert mine.length == theirs.data_length + 32 == len(data)
    assert mine.entry == theirs.entrypoint


@pytest.mark.parametrize("where,expect", [
    ("segment", "checksum mismatch"),  # a byte inside a segment's data
    ("header", "SHA-256 digest does not match"),  # entry point: not in the checksum
    ("digest", "SHA-256 digest does not match"),
])
def test_corrupted_byte_fails_checksum_or_digest(tmp_path, where, expect):
    data = bytearray(combined("esp32s3"))
    boot = flash.parse_esp_image(bytes(data))
    at = {"segment": boot.segments[0].file_offset + 8 + 100, "header": 5,
          "digest": boot.length - 3}[where]
    data[at] ^= 0x40
    path = write(tmp_path, "bad.bin", bytes(data))
    with pytest.raises(RetrostepError, match=expect) as e:
        flash.check_esp_image(path)
    assert "damaged" in str(e.value) and "micropython.org/download" in str(e.value)


def test_corruption_in_the_application_is_found(tmp_path):
    data = bytearray(combined("esp32"))
    data[0x10000 - 0x1000 + 500] ^= 1
    with pytest.raises(RetrostepError, match=r"application 'factory' at 0x10000.*checksum"):
        flash.check_esp_image(write(tmp_path, "bad.bin", bytes(data)))


def test_corrupted_partition_table_fails(tmp_path):
    data = bytearray(combined("esp32s3"))
    data[0x8000 + 4] ^= 1  # the nvs entry's offset field
    with pytest.raises(RetrostepError, match="partition table's MD5"):
        flash.check_esp_image(write(tmp_path, "bad.bin", bytes(data)))


def test_s3_image_for_an_esp32_is_a_chip_mismatch(tmp_path):
    path = write(tmp_path, "s3.bin", combined("esp32s3"))
    with pytest.raises(RetrostepError) as e:
        flash.check_esp_image(path, "esp32")
    msg = str(e.value)
    assert "ESP32-S3" in msg and "but the board is an ESP32" in msg


@pytest.mark.parametrize("first,expect", [
    (b"\x00", "not an ESP firmware image: first byte 0x00, expected 0xE9"),
    (b"UF2\n", "it is a UF2 file"),
])
def test_wrong_magic_fails(tmp_path, first, expect):
    data = bytearray(combined("esp32"))
    data[0:len(first)] = first
    with pytest.raises(RetrostepError, match=expect):
        flash.check_esp_image(write(tmp_path, "x.bin", bytes(data)))


def test_truncated_image_and_bad_segment_count_fail(tmp_path):
    data = esp_image("esp32")
    with pytest.raises(RetrostepError, match="truncated"):
        flash.check_esp_image(write(tmp_path, "t.bin", data[:600]))
    bad = bytearray(data)
    bad[1] = 0
    with pytest.raises(RetrostepError, match="impossible segment count 0"):
        flash.check_esp_image(write(tmp_path, "n.bin", bytes(bad)))


def test_application_only_image_is_refused(tmp_path):
    path = write(tmp_path, "micropython.bin", esp_image("esp32s3", app=True))
    with pytest.raises(RetrostepError, match="application image only.*0x10000"):
        flash.check_esp_image(path)


# --- the write path: esptool against an emulated bootloader ----------------------------

SLIP_END, SLIP_ESC = 0xC0, 0xDB
FLASH_SIZE = 4 * 1024 * 1024
JEDEC_4MB = (0x16 << 16) | (0x40 << 8) | 0xEF  # Winbond W25Q32: size id 0x16
SFDP_SIGNATURE = 0x50444653
CHIP_DETECT_MAGIC_REG = 0x40001000
MAGIC = {"esp32": 0x00F01D83}
CHIP_ID = {"esp32": 0, "esp32s3": 9}
SPI_BASE = {"esp32": 0x3FF42000, "esp32s3": 0x60002000}
SPI_USR2_OFFS = {"esp32": 0x24, "esp32s3": 0x20}
SPI_W0_OFFS = {"esp32": 0x80, "esp32s3": 0x58}

OP = dict(FLASH_BEGIN=0x02, FLASH_DATA=0x03, FLASH_END=0x04, MEM_BEGIN=0x05, MEM_END=0x06,
          MEM_DATA=0x07, SYNC=0x08, WRITE_REG=0x09, READ_REG=0x0A, SPI_SET_PARAMS=0x0B,
          SPI_ATTACH=0x0D, CHANGE_BAUDRATE=0x0F, FLASH_DEFL_BEGIN=0x10, FLASH_DEFL_DATA=0x11,
          FLASH_DEFL_END=0x12, SPI_FLASH_MD5=0x13, GET_SECURITY_INFO=0x14, ERASE_FLASH=0xD0)
OP_NAME = {v: k for k, v in OP.items()}


def slip(packet):
    return (b"\xc0" + packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
            + b"\xc0")


class FakeEspChip(serial.SerialBase):
    """A serial port with an Espressif chip in download mode behind it (see module doc)."""

    def __init__(self, chip, port="/dev/ttyFAKE0"):
        self.chip = chip
        self.flash = bytearray(b"\xff" * FLASH_SIZE)
        self.regs = {}
        self.rx = bytearray()  # chip -> host
        self.frame = None  # host -> chip, SLIP frame being received
        self.escape = False
        self.stub = False
        self.commands = []  # names of the commands received, in order
        self.lines = []  # (dtr, rts) after each change
        self.timeline = []  # commands and line changes, in order: name or (dtr, rts)
        self.written = []  # (offset, bytes written) per FLASH_DATA / DEFL block
        self.bauds = []
        self._wr = None  # current flash write: [offset, block size, decompressor or None]
        super().__init__(port=port, baudrate=115200, timeout=0.1)

    # pyserial backend: what a real port driver implements
    def open(self):
        self.is_open = True

    def close(self):
        self.is_open = False

    def _reconfigure_port(self, force_update=False):
        self.bauds.append(self._baudrate)

    def _update_dtr_state(self):
        self._lines_changed()

    def _update_rts_state(self):
        self._lines_changed()

    def _lines_changed(self):
        state = (self._dtr_state, self._rts_state)
        if not self.lines or self.lines[-1] != state:
            self.lines.append(state)
            self.timeline.append(state)

    def fileno(self):  # no tty: esptool's atomic ioctl reset reports "not reset"
        raise OSError(25, "Inappropriate ioctl for device")

    @property
    def in_waiting(self):
        return len(self.rx)

    def read(self, size=1):
        out = bytes(self.rx[:size])
        del self.rx[:size]
        return out

    def reset_input_buffer(self):
        self.rx.clear()

    def reset_output_buffer(self):
        pass

    def write(self, data):
        for b in bytes(data):
            if self.frame is None:
                if b == SLIP_END:
                    self.frame = bytearray()
            elif self.escape:
                self.frame.append({0xDC: 0xC0, 0xDD: 0xDB}[b])
                self.escape = False
            elif b == SLIP_ESC:
                self.escape = True
            elif b == SLIP_END:
                if self.frame:
                    self.command(bytes(self.frame))
                    self.frame = None
                # an empty frame: the END was the start of the next one
            else:
                self.frame.append(b)
        return len(data)

    # the bootloader
    def reply(self, op, val=0, body=b"", error=0):
        status = bytes([1 if error else 0, error]) + (b"" if self.stub else b"\0\0")
        body = body + status
        self.rx += slip(struct.pack("<BBHI", 1, op, len(body), val) + body)

    def reg(self, addr):
        if addr == CHIP_DETECT_MAGIC_REG and self.chip in MAGIC:
            return MAGIC[self.chip]
        if addr == SPI_BASE[self.chip]:  # SPI_CMD: user command done at once
            return 0
        return self.regs.get(addr, 0)

    def spi_command(self):
        base = SPI_BASE[self.chip]
        cmd = self.regs.get(base + SPI_USR2_OFFS[self.chip], 0) & 0xFF
        answer = {0x9F: JEDEC_4MB, 0x5A: SFDP_SIGNATURE}.get(cmd, 0)  # RDID, RDSFDP
        self.regs[base + SPI_W0_OFFS[self.chip]] = answer

    def erase(self, offset, size):
        end = min(FLASH_SIZE, (offset + size + 0xFFF) // 0x1000 * 0x1000)
        self.flash[offset:end] = b"\xff" * (end - offset)

    def program(self, data):
        offset = self._wr[0]
        assert offset + len(data) <= FLASH_SIZE, "write past the end of flash"
        self.flash[offset:offset + len(data)] = data
        self.written.append((offset, len(data)))
        self._wr[0] += len(data)

    def command(self, pkt):
        direction, op, size, chk = struct.unpack_from("<BBHI", pkt)
        data = pkt[8:]
        assert direction == 0 and len(data) == size, "malformed request"
        name = OP_NAME.get(op, hex(op))
        self.commands.append(name)
        self.timeline.append(name)
        if name == "SYNC":
            assert data == b"\x07\x07\x12\x20" + 32 * b"\x55"
            for _ in range(1 if self.stub else 8):
                self.reply(op, 0 if self.stub else 0x20120707)
        elif name == "READ_REG":
            self.reply(op, self.reg(struct.unpack("<I", data)[0]))
        elif name == "WRITE_REG":
            for i in range(0, len(data), 16):
                addr, value, mask, _delay = struct.unpack_from("<IIII", data, i)
                self.regs[addr] = (self.regs.get(addr, 0) & ~mask) | (value & mask)
                if addr == SPI_BASE[self.chip] and value & (1 << 18):
                    self.spi_command()
            self.reply(op)
        elif name == "GET_SECURITY_INFO":
            if self.chip == "esp32":  # the ESP32 ROM does not know this command
                self.reply(op, error=0x05)
            else:
                self.reply(op, body=struct.pack("<IBBBBBBBBII", 0, 0, *[0] * 7,
                                                CHIP_ID[self.chip], 0))
        elif name in ("SPI_ATTACH", "SPI_SET_PARAMS", "MEM_BEGIN", "FLASH_END",
                      "FLASH_DEFL_END"):
            self.reply(op)
        elif name == "MEM_DATA":
            n = struct.unpack_from("<I", data)[0]
            self.reply(op, error=0 if self._xor(data[16:16 + n]) == chk else 0x07)
        elif name == "MEM_END":
            self.reply(op)
            if struct.unpack("<II", data)[1]:  # an entry point: the stub starts
                self.stub = True
                self.rx += slip(b"OHAI")
        elif name == "CHANGE_BAUDRATE":
            assert self.stub
            self.reply(op)
        elif name in ("FLASH_BEGIN", "FLASH_DEFL_BEGIN"):
            size, _blocks, block_size, offset = struct.unpack_from("<IIII", data)
            self.erase(offset, size)
            self._wr = [offset, block_size,
                        zlib.decompressobj() if name == "FLASH_DEFL_BEGIN" else None]
            self.reply(op)
        elif name in ("FLASH_DATA", "FLASH_DEFL_DATA"):
            n, seq, _, _ = struct.unpack_from("<IIII", data)
            block = data[16:16 + n]
            if self._xor(block) != chk or self._wr is None:
                self.reply(op, error=0x07)
                return
            if name == "FLASH_DATA":
                self.program(block)
            else:
                self.program(self._wr[2].decompress(block))
            self.reply(op)
        elif name == "SPI_FLASH_MD5":
            addr, size, _, _ = struct.unpack_from("<IIII", data)
            md5 = hashlib.md5(self.flash[addr:addr + size])
            self.reply(op, body=md5.digest() if self.stub else md5.hexdigest().encode())
        elif name == "ERASE_FLASH" and self.stub:
            self.erase(0, FLASH_SIZE)
            self.reply(op)
        else:
            self.reply(op, error=0x05)

    @staticmethod
    def _xor(data):
        state = 0xEF
        for b in data:
            state ^= b
        return state


def usb_port(device, vid, pid, serial_number="FAKE1"):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number = vid, pid, serial_number
    info.manufacturer, info.product = "Fake", "Fake USB"
    info.apply_usb_info()
    return info


@pytest.fixture
def usb(monkeypatch, tmp_path):
    """Replace the USB listing (pyserial's comports, also as esptool's esp-pylib holds it);
    returns the list to fill. No BOOTSEL drives."""
    import esp_pylib.serial_ports

    ports = []
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda *a, **k: list(ports))
    monkeypatch.setattr(esp_pylib.serial_ports, "_comports", lambda *a, **k: list(ports))
    monkeypatch.setenv("RETROSTEP_UF2_MOUNTS", str(tmp_path / "no-drives"))
    return ports


def fresh_flash_equals(chip, offset, data):
    return bytes(chip.flash[offset:offset + len(data)]) == data


def test_flash_esp32s3_over_native_usb_writes_verifies_and_resets(tmp_path, usb):
    data = combined("esp32s3")
    path = write(tmp_path, "ESP32_GENERIC_S3.bin", data)
    board = FakeEspChip("esp32s3", "/dev/ttyACM0")
    usb.append(usb_port("/dev/ttyACM0", 0x303A, 0x1001))
    stages = []
    result = flash.flash(path, port=board, progress=lambda s, d, t: stages.append((s, d, t)))

    assert (result.method, result.chip, result.offset, result.target) == \
        ("esptool", "esp32s3", 0x0, "/dev/ttyACM0")
    assert result.verified
    assert fresh_flash_equals(board, 0x0, data)
    assert board.flash[len(data):len(data) + 4096] == b"\xff" * 4096
    # the call sequence esptool produced, in order
    cmds = board.commands
    first = {name: cmds.index(name) for name in set(cmds)}
    assert first["SYNC"] < first["GET_SECURITY_INFO"] < first["MEM_BEGIN"] < \
        first["MEM_END"] < first["CHANGE_BAUDRATE"] < first["SPI_SET_PARAMS"] < \
        first["FLASH_DEFL_BEGIN"] < first["FLASH_DEFL_DATA"] < first["FLASH_DEFL_END"] < \
        first["SPI_FLASH_MD5"]
    assert cmds.count("SPI_FLASH_MD5") == 2  # write_flash's own check, then verify_flash
    assert "ERASE_FLASH" not in cmds and "FLASH_BEGIN" not in cmds
    assert board.bauds[-1] == 460800
    # the lines: the USB serial/JTAG reset before the first SYNC holds IO0 low (DTR)
    # while it pulses EN (RTS); after the last command, one EN pulse: a hard reset
    t = board.timeline
    before = t[:t.index("SYNC")]
    assert any(dtr and not rts for dtr, rts in before)  # IO0 low, EN high
    assert any(rts for _dtr, rts in before)  # EN low: reset
    last_cmd = max(i for i, e in enumerate(t) if isinstance(e, str))
    assert [rts for _dtr, rts in t[last_cmd + 1:]] == [True, False]
    # progress: connect, write with byte counts up to the total, verify, reset
    names = [s for s, _, _ in stages]
    assert names[0] == "connect" and names[-1] == "reset" and "verify" in names
    writes = [(d, t) for s, d, t in stages if s == "write" and t]
    assert writes[-1][0] == writes[-1][1] > 0
    assert any("Stub flasher running" in line for line in result.log)


def test_flash_esp32_rom_loader_with_erase(tmp_path, usb):
    """The classic ESP32 behind a CP210x, ROM loader only (no stub) for the write: plain
    FLASH_BEGIN/DATA blocks at 0x1000; erase needs the stub, so it is refused."""
    data = combined("esp32")
    path = write(tmp_path, "ESP32_GENERIC.bin", data)
    usb.append(usb_port("/dev/ttyUSB0", 0x10C4, 0xEA60))
    board = FakeEspChip("esp32", "/dev/ttyUSB0")
    result = flash.flash_esp(path, port=board, stub=False)
    assert result.offset == 0x1000 and result.verified
    assert fresh_flash_equals(board, 0x1000, data)
    assert board.flash[:0x1000] == b"\xff" * 0x1000
    assert "FLASH_BEGIN" in board.commands and "MEM_BEGIN" not in board.commands
    assert "SPI_ATTACH" in board.commands  # the ROM needs the flash pins attached
    assert "GET_SECURITY_INFO" in board.commands and "READ_REG" in board.commands
    assert all(size == 0x400 for _, size in board.written)  # ROM block size
    with pytest.raises(RetrostepError, match="flasher stub"):
        flash.flash_esp(path, port=FakeEspChip("esp32", "/dev/ttyUSB0"), stub=False,
                        erase=True)


def test_erase_with_stub_clears_old_data(tmp_path, usb):
    data = combined("esp32")
    path = write(tmp_path, "fw.bin", data)
    usb.append(usb_port("/dev/ttyUSB0", 0x1A86, 0x55D4))
    board = FakeEspChip("esp32", "/dev/ttyUSB0")
    board.flash[0x300000:0x300010] = b"old settings...."
    flash.flash(path, port=board, erase=True, verify=False)
    assert board.commands.count("ERASE_FLASH") == 1
    assert board.commands.index("ERASE_FLASH") < board.commands.index("FLASH_DEFL_BEGIN")
    assert board.flash[0x300000:0x300010] == b"\xff" * 16
    assert fresh_flash_equals(board, 0x1000, data)
    assert board.commands.count("SPI_FLASH_MD5") == 1  # only write_flash's own check


def test_image_for_another_chip_than_the_board_is_refused_before_writing(tmp_path, usb):
    path = write(tmp_path, "s3.bin", combined("esp32s3"))
    usb.append(usb_port("/dev/ttyUSB0", 0x10C4, 0xEA60))
    board = FakeEspChip("esp32", "/dev/ttyUSB0")
    with pytest.raises(RetrostepError) as e:
        flash.flash(path, port=board)
    assert "firmware for the ESP32-S3, but the board on /dev/ttyUSB0 is an ESP32" in str(e.value)
    assert not any(c.startswith("FLASH") or c == "MEM_BEGIN" for c in board.commands)
    assert board.flash == b"\xff" * FLASH_SIZE


def test_silent_port_says_how_to_enter_download_mode(tmp_path, usb):
    class Silent(FakeEspChip):
        def command(self, pkt):
            self.commands.append("ignored")

    path = write(tmp_path, "fw.bin", combined("esp32s3"))
    usb.append(usb_port("/dev/ttyACM0", 0x303A, 0x1001))
    board = Silent("esp32s3", "/dev/ttyACM0")
    with pytest.raises(RetrostepError, match="hold BOOT, tap RESET, release BOOT") as e:
        flash.flash(path, port=board, connect_attempts=1)
    assert "/dev/ttyACM0" in str(e.value) and "\n" not in str(e.value)
    assert board.commands and board.flash == b"\xff" * FLASH_SIZE


def test_permission_denied_says_how_to_fix(tmp_path, usb, monkeypatch):
    """A real port path opened by esptool through pyserial; the OS refuses (os.open)."""
    import os

    import serial.serialposix

    path = write(tmp_path, "fw.bin", combined("esp32s3"))
    usb.append(usb_port("/dev/ttyACM7", 0x303A, 0x1001))
    real_open = os.open

    def deny(p, *a, **k):
        if p == "/dev/ttyACM7":
            raise PermissionError(13, "Permission denied", p)
        return real_open(p, *a, **k)

    monkeypatch.setattr(serial.serialposix.os, "open", deny)
    with pytest.raises(RetrostepError) as e:
        flash.flash(path)  # the one board: /dev/ttyACM7
    msg = str(e.value)
    assert "no permission to open /dev/ttyACM7" in msg and "usermod -aG" in msg
    assert "log out" in msg and "udev" in msg


def test_cli_flash_error_is_one_line_exit_2(tmp_path, usb, capsys):
    path = write(tmp_path, "bad.bin", b"\x00" * 64)
    assert cli.main(["flash", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("retrostep flash: error: ") and "expected 0xE9" in err


def test_cli_flash_without_board_says_plug_it_in(tmp_path, usb, capsys):
    path = write(tmp_path, "fw.bin", combined("esp32"))
    assert cli.main(["flash", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no ESP32 board found: plug it in" in err and "Traceback" not in err


def test_cli_board_profile_sets_the_chip(tmp_path, usb, capsys):
    path = write(tmp_path, "fw.bin", combined("esp32"))
    assert cli.main(["flash", str(path), "--board", "xiao_esp32s3"]) == 2
    err = capsys.readouterr().err
    assert "firmware for the ESP32, but the board is an ESP32-S3" in err


def test_cli_flash_through_a_port_url_end_to_end(tmp_path, usb, monkeypatch, capsys):
    """`retrostep flash FW --port URL`: esptool opens the port by name itself (pyserial's
    serial_for_url, as for /dev/ttyACM0), here a URL whose handler hands out the fake."""
    import sys
    import types

    board = FakeEspChip("esp32s3", None)
    package = types.ModuleType("retrostep_test_urls")
    package.__path__ = []
    handler = types.ModuleType("retrostep_test_urls.protocol_fakeesp")
    handler.serial_class_for_url = lambda url: (url, lambda _port, **kw: board)
    monkeypatch.setitem(sys.modules, "retrostep_test_urls", package)
    monkeypatch.setitem(sys.modules, "retrostep_test_urls.protocol_fakeesp", handler)
    monkeypatch.setattr(serial, "protocol_handler_packages",
                        serial.protocol_handler_packages + ["retrostep_test_urls"])
    data = combined("esp32s3", seed=11)
    path = write(tmp_path, "fw.bin", data)
    assert cli.main(["flash", str(path), "--port", "fakeesp://board", "--chip", "esp32-s3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"flashed ESP32-S3 (MAC ") and \
        f"on fakeesp://board: {len(data)} bytes at 0x0, verified" in out
    assert fresh_flash_equals(board, 0, data) and not board.is_open


def test_esp_firmware_for_an_rp2_port_is_refused(tmp_path, usb):
    usb.append(usb_port("/dev/ttyACM0", 0x2E8A, 0x0005))
    path = write(tmp_path, "fw.bin", combined("esp32"))
    with pytest.raises(RetrostepError, match="/dev/ttyACM0 is an RP2040/RP2350 board"):
        flash.flash(path, port="/dev/ttyACM0")
