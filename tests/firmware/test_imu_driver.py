"""The firmware IMU driver (rstep/imu.py, here retrostep.firmware.imu) against the
emulated LSM6DSOX and LSM6DS3TR-C (retrostep.sim.lsm6ds_emu), and the emulator itself.

Expected register values below are written from the datasheets' code tables, not taken
from the driver, so a wrong table in the driver fails here.
"""

import random
from array import array

import pytest

from retrostep.firmware import sensor
from retrostep.firmware.imu import IMU, IMUNotFoundError, UnsupportedChipError
from retrostep.sim.lsm6ds_emu import EmuI2C, LSM6DSEmu

BOTH = ("LSM6DSOX", "LSM6DS3TR-C")

# datasheet codes for the shared configuration: ODR 104 Hz = 0b0100, FS_XL 16 g = 0b01,
# FS_G 2000 dps = 0b11 (LSM6DSOX and LSM6DS3TR-C alike)
CTRL1_XL_104HZ_16G = 0x44
CTRL2_G_104HZ_2000DPS = 0x4C


def sample(i):
    """Sample i of a known stream: distinct for every i (ax walks the int16 range),
    with runs of the int16 extremes."""
    if i % 97 == 5:
        return (-32768,) * 6
    if i % 89 == 7:
        return (32767,) * 6
    h = (i * 2654435761) & 0xFFFFFFFF
    return (
        (i % 65536) - 32768,
        (h & 0xFFFF) - 32768,
        ((h >> 16) & 0xFFFF) - 32768,
        ((h * 7) & 0xFFFF) - 32768,
        ((h >> 3) & 0xFFFF) - 32768,
        -((i * 31) & 0x7FFF),
    )


def rig(personality, source=sample, addr=0x6A, **imu_kw):
    emu = LSM6DSEmu(personality, addr=addr, source=source)
    bus = EmuI2C(emu)
    return emu, bus, IMU(bus, **imu_kw)


def reg(bus, addr, r):
    return bus.readfrom_mem(addr, r, 1)[0]


def samples_of(out, n):
    return [tuple(out[6 * k : 6 * k + 6]) for k in range(n)]


def drain(imu, out, max_samples=None):
    got = []
    while True:
        n = imu.read_fifo(out, max_samples)
        if not n:
            return got
        got.extend(samples_of(out, n))


# --- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize("personality,who", [("LSM6DSOX", 0x6C), ("LSM6DS3TR-C", 0x6A)])
def test_detects_chip_by_who_am_i(personality, who):
    emu, bus, imu = rig(personality)
    assert (imu.whoami, imu.chip, imu.addr) == (who, personality, 0x6A)
    assert imu.family == ("DSOX" if who == 0x6C else "DS3")


@pytest.mark.parametrize("personality", BOTH)
def test_auto_probe_finds_chip_at_0x6b(personality):
    emu, bus, imu = rig(personality, addr=0x6B)
    assert imu.addr == 0x6B and imu.chip == personality


def test_unknown_who_am_i_raises_clear_error():
    emu = LSM6DSEmu("LSM6DSOX")
    emu.whoami = 0x55  # what SW_RESET restores, too
    emu.regs[0x0F] = 0x55
    with pytest.raises(UnsupportedChipError) as err:
        IMU(EmuI2C(emu))
    msg = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "0x55" in msg and "0x6a" in msg  # the value read and where
    for name in ("LSM6DSOX", "LSM6DS3TR-C", "LSM6DS33", "ISM330DHCX"):
        assert name in msg


def test_no_device_raises_not_found_naming_the_addresses():
    with pytest.raises(IMUNotFoundError) as err:
        IMU(EmuI2C([]))
    assert isinstance(err.value, OSError)
    assert "0x6a" in str(err.value) and "0x6b" in str(err.value)


def test_wrong_explicit_address_is_not_found():
    emu = LSM6DSEmu("LSM6DSOX", addr=0x6A)
    with pytest.raises(IMUNotFoundError):
        IMU(EmuI2C(emu), addr=0x6B)


# --- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize("personality", BOTH)
def test_configure_sets_shared_odr_full_scales_and_fifo(personality):
    emu, bus, imu = rig(personality)
    a = imu.addr
    assert reg(bus, a, 0x10) == CTRL1_XL_104HZ_16G
    assert reg(bus, a, 0x11) == CTRL2_G_104HZ_2000DPS
    assert reg(bus, a, 0x12) & 0x44 == 0x44  # BDU, IF_INC
    assert reg(bus, a, 0x0D) & 0x08  # INT1_FIFO_TH
    wtm_samples = sensor.ODR_HZ // 2
    if personality == "LSM6DSOX":
        wtm_words = 2 * wtm_samples  # one tagged word per sensor
        assert reg(bus, a, 0x07) == wtm_words & 0xFF
        assert reg(bus, a, 0x08) & 0x01 == wtm_words >> 8
        assert reg(bus, a, 0x09) == 0x44  # BDR_GY = BDR_XL = 104 Hz
        assert reg(bus, a, 0x0A) & 0x07 == 0b110  # continuous
        assert reg(bus, a, 0x18) & 0x02  # I3C disabled
    else:
        wtm_words = 6 * wtm_samples  # six 16-bit words per pattern
        assert reg(bus, a, 0x06) == wtm_words & 0xFF
        assert reg(bus, a, 0x07) & 0x07 == wtm_words >> 8
        assert reg(bus, a, 0x08) == 0x09  # gyro and accel in FIFO, no decimation
        assert reg(bus, a, 0x0A) == (0b0100 << 3) | 0b110  # ODR_FIFO 104 Hz, continuous
    # the emulator's reading of the same registers, against the shared constants
    assert emu.accel_odr_mhz == emu.gyro_odr_mhz == sensor.ODR_HZ * 1000
    assert emu.accel_fs_g == sensor.ACCEL_FS_G
    assert emu.gyro_fs_dps == sensor.GYRO_FS_DPS
    assert emu.bdu and emu.if_inc
    assert emu.fifo_mode == 6 and emu.watermark_words == wtm_words


@pytest.mark.parametrize("personality", BOTH)
@pytest.mark.parametrize(
    "odr,fs_g,fs_dps,ctrl1,ctrl2",
    [
        (52, 2, 125, 0x30, 0x32),  # FS_125 bit
        (208, 4, 500, 0x58, 0x54),
        (416, 8, 1000, 0x6C, 0x68),
    ],
)
def test_other_rates_and_scales_map_to_datasheet_codes(personality, odr, fs_g, fs_dps, ctrl1, ctrl2):
    emu, bus, imu = rig(personality, odr_hz=odr, accel_fs_g=fs_g, gyro_fs_dps=fs_dps)
    assert (reg(bus, 0x6A, 0x10), reg(bus, 0x6A, 0x11)) == (ctrl1, ctrl2)
    assert (emu.accel_fs_g, emu.gyro_fs_dps, emu.accel_odr_mhz) == (fs_g, fs_dps, odr * 1000)


def test_dso32_uses_its_own_16g_code():
    emu, bus, imu = rig("LSM6DSOX", dso32=True)
    assert reg(bus, 0x6A, 0x10) >> 2 & 3 == 0b11 and imu.chip == "LSM6DSO32"


def test_unsupported_settings_are_refused():
    emu = LSM6DSEmu("LSM6DSOX")
    with pytest.raises(ValueError, match="ODR"):
        IMU(EmuI2C(emu), odr_hz=100)
    with pytest.raises(ValueError, match="watermark"):
        IMU(EmuI2C(emu), wtm_samples=300)  # 600 words > WTM[8:0]


# --- streaming ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("personality", BOTH)
def test_an_hour_of_samples_streams_through_fifo_bit_exact_in_order(personality):
    emu, bus, imu = rig(personality)
    out = array("h", [0] * (6 * 48))
    rng = random.Random(1)
    n_total = sensor.ODR_HZ * 3600
    got = 0
    while got < n_total:
        # wake on the watermark, a little late or early, then drain in chunks
        emu.run_samples(min(n_total - emu.sample_index, imu.wtm_samples + rng.randrange(-20, 40)))
        while True:
            n = imu.read_fifo(out, rng.choice((None, 1, 7, 48)))
            if not n:
                break
            for k in range(n):
                if tuple(out[6 * k : 6 * k + 6]) != sample(got + k):
                    raise AssertionError("sample %d: %r != %r"
                                         % (got + k, tuple(out[6 * k : 6 * k + 6]), sample(got + k)))
            got += n
    assert got == n_total == emu.sample_index
    assert (imu.overrun, imu.dropped, emu.lost_words) == (0, 0, 0)


def test_dsox_pairs_words_by_tag_whatever_their_order():
    emu = LSM6DSEmu("LSM6DSOX", source=sample, dsox_accel_first=True)
    imu = IMU(EmuI2C(emu))
    emu.run_samples(100)
    out = array("h", [0] * (6 * 16))
    assert drain(imu, out, 7) == [sample(i) for i in range(100)]


@pytest.mark.parametrize("personality", BOTH)
def test_overrun_is_flagged_and_driver_recovers(personality):
    emu, bus, imu = rig(personality)
    out = array("h", [0] * (6 * 64))
    emu.run_samples(100)
    first = drain(imu, out)
    assert first == [sample(i) for i in range(100)]
    # nobody reads for 5 s: more than the FIFO holds (2.5 s DSOX, 3.3 s DS3TR-C)
    emu.advance(5.0)
    assert emu.lost_words > 0
    assert imu.read_fifo(out) == 0
    assert imu.overrun == 1
    assert emu.count == 0 and emu.fifo_mode == 6  # emptied, continuous again
    restart = emu.sample_index  # samples from here on are kept
    emu.run_samples(200)
    assert drain(imu, out) == [sample(restart + i) for i in range(200)]
    assert imu.overrun == 1


@pytest.mark.parametrize("personality", BOTH)
def test_int1_follows_the_fifo_watermark(personality):
    emu, bus, imu = rig(personality)
    emu.run_samples(imu.wtm_samples - 1)
    assert not emu.int1
    emu.run_samples(1)
    assert emu.int1 and imu.fifo_samples() == imu.wtm_samples
    drain(imu, array("h", [0] * (6 * 64)))
    assert not emu.int1
    imu.route_int1(False)
    emu.run_samples(2 * imu.wtm_samples)
    assert not emu.int1


@pytest.mark.parametrize("personality", BOTH)
def test_read_sample_gives_newest_output_registers(personality):
    emu, bus, imu = rig(personality)
    emu.run_samples(10)
    out = array("h", [0] * 12)
    imu.read_sample(out, 6)
    assert tuple(out[6:]) == sample(9)


# --- I2C errors --------------------------------------------------------------------------


@pytest.mark.parametrize("personality", BOTH)
def test_transient_i2c_errors_are_retried(personality):
    emu = LSM6DSEmu(personality, source=sample)
    bus = EmuI2C(emu)
    bus.inject_errors(2)  # the very first transactions (WHO_AM_I) fail twice
    imu = IMU(bus)
    assert imu.i2c_retries == 2 and imu.chip == personality
    out = array("h", [0] * (6 * 64))
    got = []
    for burst in range(20):
        emu.run_samples(52)
        bus.inject_errors(imu.retries, delay=burst % 3)  # status or data reads fail
        got += drain(imu, out)
    assert got == [sample(i) for i in range(20 * 52)]
    assert imu.i2c_retries == 2 + 20 * imu.retries


@pytest.mark.parametrize("personality", BOTH)
def test_persistent_i2c_errors_are_raised(personality):
    emu, bus, imu = rig(personality)
    emu.run_samples(60)
    bus.inject_errors(100)
    with pytest.raises(OSError):
        imu.read_fifo(array("h", [0] * (6 * 64)))
    assert bus.errors_injected == imu.retries + 1


@pytest.mark.parametrize("personality,after_bytes", [("LSM6DSOX", 3 * 7 + 3), ("LSM6DS3TR-C", 5 * 2)])
def test_transfer_dying_mid_burst_loses_samples_but_never_misaligns(personality, after_bytes):
    def unique(i):  # every word of every sample differs
        return (i, -i, 2 * i, 3 * i, -3 * i, 10000 + i)

    emu, bus, imu = rig(personality, source=unique)
    out = array("h", [0] * (6 * 64))
    index = {unique(i): i for i in range(2000)}
    got = []
    for burst in range(10):
        emu.run_samples(100)
        if burst in (2, 5):  # the FIFO data burst (after the status read) breaks
            bus.inject_errors(1, after_bytes=after_bytes, delay=1)
        got += drain(imu, out)
    seq = [index.get(s) for s in got]
    assert None not in seq, "a sample mixes words of different instants"
    assert seq == sorted(set(seq))  # in order, no repeats
    assert len(seq) >= 1000 - 2 * 2  # at most 2 samples lost per broken burst
    assert imu.dropped == 2 and imu.i2c_retries == 2


# --- the emulator itself -----------------------------------------------------------------


@pytest.mark.parametrize("personality,depth", [("LSM6DSOX", 512), ("LSM6DS3TR-C", 2048)])
def test_emulated_fifo_depth_and_continuous_overwrite(personality, depth):
    emu, bus, imu = rig(personality)
    per_sample = 2 if personality == "LSM6DSOX" else 6
    emu.run_samples(depth // per_sample)
    assert emu.count == depth - depth % per_sample and not emu.lost_words
    emu.run_samples(1)
    assert emu.count == depth and emu.lost_words == per_sample - depth % per_sample
    assert reg(bus, 0x6A, 0x3B) & 0x40  # overrun flag


@pytest.mark.parametrize("personality", BOTH)
def test_emulator_without_if_inc_repeats_the_same_register(personality):
    emu, bus, imu = rig(personality)
    bus.writeto_mem(0x6A, 0x12, bytes([0x40]))  # BDU only, IF_INC off
    assert bus.readfrom_mem(0x6A, 0x0F, 3) == bytes([emu.whoami]) * 3
    bus.writeto_mem(0x6A, 0x12, bytes([0x44]))
    assert bus.readfrom_mem(0x6A, 0x0F, 2) == bytes([emu.whoami, reg(bus, 0x6A, 0x10)])


@pytest.mark.parametrize("personality", BOTH)
def test_emulator_sw_reset_restores_defaults_and_self_clears(personality):
    emu, bus, imu = rig(personality)
    bus.writeto_mem(0x6A, 0x12, bytes([0x45]))
    assert reg(bus, 0x6A, 0x12) & 0x01  # still busy for reset_busy_reads reads
    assert reg(bus, 0x6A, 0x12) == 0x04  # then done: IF_INC only
    assert [reg(bus, 0x6A, r) for r in (0x10, 0x11, 0x0A, 0x0D)] == [0, 0, 0, 0]
    assert emu.count == 0


def test_emulator_bdu_holds_a_half_read_output_pair():
    emu, bus, imu = rig("LSM6DSOX")
    emu.run_samples(1)
    lo = reg(bus, 0x6A, 0x28)  # OUTX_L_A of sample 0
    emu.run_samples(1)
    hi = reg(bus, 0x6A, 0x29)  # still sample 0's MSB: the pair was frozen
    assert (lo | hi << 8) - ((hi & 0x80) << 9) == sample(0)[0]
    assert bus.readfrom_mem(0x6A, 0x28, 2) == (sample(1)[0] & 0xFFFF).to_bytes(2, "little")


@pytest.mark.parametrize("personality", BOTH)
def test_emulator_rescales_and_saturates_for_the_configured_full_scale(personality):
    big = (5000, -5000, 100, 3000, -3000, 7)
    emu, bus, imu = rig(personality, source=lambda i: big, accel_fs_g=2, gyro_fs_dps=250)
    emu.run_samples(1)
    out = imu.read_sample(array("h", [0] * 6))
    # 16 g -> 2 g: x8; 2000 dps -> 250 dps: x8; beyond int16 the chip saturates
    assert tuple(out) == (32767, -32768, 800, 24000, -24000, 56)


def test_emulator_physical_units_source():
    emu = LSM6DSEmu("LSM6DS3TR-C", source=lambda i: (0.0, 0.0, 1.0, 0.0, 0.0, -90.0), units="physical")
    imu = IMU(EmuI2C(emu))
    emu.run_samples(1)
    out = imu.read_sample(array("h", [0] * 6))
    assert tuple(out) == (0, 0, round(1e6 / sensor.ACCEL_UG_PER_LSB[16]), 0, 0,
                          round(-90e6 / sensor.GYRO_UDPS_PER_LSB[2000]))



# --- on the real MicroPython: compiled by mpy-cross, run on the VM under heap_lock ---------

VM_DRIVER_RUN = """
import micropython
from array import array
from lsm6ds_emu import LSM6DSEmu, EmuI2C
from rstep.imu import IMU


def src(i):
    return (i, -i, 2 * i, 3 * i, -3 * i, 10000 + i)


def locked_read(imu, out):
    micropython.heap_lock()
    try:
        return imu.read_fifo(out)
    finally:
        micropython.heap_unlock()


def run(personality):
    emu = LSM6DSEmu(personality, source=src)
    bus = EmuI2C(emu)
    imu = IMU(bus)
    out = array("h", [0] * (6 * 64))
    last = -1
    bad = 0
    total = 0
    for rnd in range(30):
        emu.run_samples(40 + rnd)
        if rnd == 5:  # pop one FIFO word behind the driver's back: it must re-align
            if emu.tagged:
                for a in range(0x78, 0x7F):
                    emu.read_byte(a)
            else:
                emu.read_byte(0x3E)
                emu.read_byte(0x3F)
        if rnd == 9:  # a transient error in a FIFO burst, retried under the lock
            bus.inject_errors(2, delay=1)
        while True:
            n = locked_read(imu, out)
            if not n:
                break
            for k in range(n):
                i = out[6 * k]
                if i <= last or tuple(out[6 * k:6 * k + 6]) != src(i):
                    bad += 1
                last = i
            total += n
    print(personality, total, emu.sample_index, bad, imu.dropped, imu.i2c_retries, imu.overrun)


run("LSM6DSOX")
run("LSM6DS3TR-C")
"""


@pytest.mark.vm
def test_driver_runs_allocation_free_on_the_micropython_vm():
    from retrostep.vm import mpvm

    import retrostep.sim.lsm6ds_emu as emu_mod

    res = mpvm.run(VM_DRIVER_RUN, files={"/lib/lsm6ds_emu.py": emu_mod.__file__}, timeout_s=60)
    lines = [ln.split() for ln in res.stdout.strip().splitlines()]
    produced = sum(40 + r for r in range(30))
    assert [ln[0] for ln in lines] == ["LSM6DSOX", "LSM6DS3TR-C"]
    for name, total, made, bad, dropped, retries, overrun in lines:
        # one sample lost to the stolen word, nothing out of order or mixed, the
        # injected errors retried, all under heap_lock (a MemoryError would have raised)
        assert (int(total), int(made), int(bad)) == (produced - 1, produced, 0)
        assert (int(dropped), int(retries), int(overrun)) == (1, 2, 0)


@pytest.mark.parametrize("arch", ["armv6m", "xtensawin"])
def test_driver_compiles_with_mpy_cross(arch, tmp_path):
    from retrostep.device import mpycross
    from retrostep.firmware import imu as imu_mod

    dst, size = mpycross.compile_file(imu_mod.__file__, tmp_path / "imu.mpy", arch)
    assert size > 0 and dst.read_bytes()[:1] == b"M"
