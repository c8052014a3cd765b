"""Differential check against Adafruit's CircuitPython LSM6DS library.

adafruit_lsm6ds is an independent reading of the same datasheets. It runs here on
CPython, talking through adafruit_bus_device / adafruit_register to the emulated chip on
EmuI2C's busio-style API (try_lock, writeto, writeto_then_readfrom...). No Blinka board
is needed: the library only imports `micropython.const`, which Blinka's `micropython`
module provides on CPython.

Three things are checked:
1. our driver's configuration, read back by Adafruit's register fields: same ODR, same
   ranges, and the same physical readings (m/s^2, rad/s) as our raw counts times the
   shared sensitivities in rstep/sensor.py;
2. the emulator's decoding of CTRL1_XL / CTRL2_G and its full-scale rescaling, against
   every range Adafruit can set;
3. WHO_AM_I: each Adafruit class accepts its own personality and refuses the other.
"""

import math
from array import array

import pytest

adafruit_lsm6ds = pytest.importorskip("adafruit_lsm6ds")
from adafruit_lsm6ds import AccelRange, GyroRange, Rate  # noqa: E402
from adafruit_lsm6ds.lsm6ds3trc import LSM6DS3TRC  # noqa: E402
from adafruit_lsm6ds.lsm6dsox import LSM6DSOX  # noqa: E402

from retrostep.firmware import sensor  # noqa: E402
from retrostep.firmware.imu import IMU  # noqa: E402
from retrostep.sim.lsm6ds_emu import EmuI2C, LSM6DSEmu  # noqa: E402

G_MS2 = 9.80665  # standard gravity: Adafruit's mg -> m/s^2 factor is 9.80665e-3
ADAFRUIT = {"LSM6DSOX": LSM6DSOX, "LSM6DS3TR-C": LSM6DS3TRC}

KNOWN = [
    (0, 0, 2049, 0, 0, 0),  # flat and still: +1 g on z at 16 g
    (1234, -4321, 77, -1500, 2500, -1),
    (32767, -32768, -1, 32767, -32768, 1),  # the int16 extremes
    (-20000, 15000, 9000, 14286, -14286, 7143),  # ~ +-1000 dps on the gyro
]


@pytest.fixture(autouse=True)
def no_settle_sleeps(monkeypatch):
    # Adafruit sleeps 0.2 s after each range change "to let it settle"; the emulator
    # settles at once
    monkeypatch.setattr(adafruit_lsm6ds, "sleep", lambda s: None)


def rig(personality, source):
    emu = LSM6DSEmu(personality, source=source)
    return emu, EmuI2C(emu)


def physical(raw):
    """Raw counts at the shared full scales -> (m/s^2 x3, rad/s x3), from sensor.py."""
    ug = sensor.ACCEL_UG_PER_LSB[sensor.ACCEL_FS_G]
    udps = sensor.GYRO_UDPS_PER_LSB[sensor.GYRO_FS_DPS]
    acc = tuple(v * ug * 1e-6 * G_MS2 for v in raw[:3])
    gyr = tuple(math.radians(v * udps * 1e-6) for v in raw[3:])
    return acc, gyr


@pytest.mark.parametrize("personality", sorted(ADAFRUIT))
def test_adafruit_reads_our_configuration_and_the_same_physical_values(personality):
    emu, bus = rig(personality, lambda i: KNOWN[i % len(KNOWN)])
    # Adafruit first: its constructor resets the chip and writes its own defaults
    # (104 Hz, 4 g, 250 dps). Then our driver resets and configures the same registers.
    ada = ADAFRUIT[personality](bus)
    imu = IMU(bus)

    # rates are read from the registers every time
    assert ada.accelerometer_data_rate == Rate.RATE_104_HZ
    assert ada.gyro_data_rate == Rate.RATE_104_HZ
    assert Rate.string[ada.accelerometer_data_rate] == sensor.ODR_HZ
    # ranges: Adafruit caches what it last wrote, so read its register fields instead
    # and look the codes up in its own tables
    assert AccelRange.string[ada._accel_range] == sensor.ACCEL_FS_G
    assert not ada._gyro_range_125dps
    assert GyroRange.string[ada._gyro_range] == sensor.GYRO_FS_DPS
    assert ada._bdu
    # let Adafruit scale with the codes our driver wrote (its cache is stale by design)
    ada._cached_accel_range = ada._accel_range
    ada._cached_gyro_range = ada._gyro_range

    out = array("h", [0] * 6)
    for raw in KNOWN:
        emu.run_samples(1)
        imu.read_sample(out)
        assert tuple(out) == raw
        acc, gyr = physical(out)
        assert ada.acceleration == pytest.approx(acc, rel=1e-12, abs=1e-12)
        assert ada.gyro == pytest.approx(gyr, rel=1e-12, abs=1e-12)

    # Adafruit reading the output registers left the FIFO stream intact
    emu.run_samples(20)
    buf = array("h", [0] * (6 * 32))
    n = imu.read_fifo(buf)
    assert n == len(KNOWN) + 20
    assert [tuple(buf[6 * k : 6 * k + 6]) for k in range(n)] == [
        KNOWN[i % len(KNOWN)] for i in range(n)
    ]


ACCEL_RANGES = ("RANGE_2G", "RANGE_4G", "RANGE_8G", "RANGE_16G")
GYRO_RANGES = ("RANGE_125_DPS", "RANGE_250_DPS", "RANGE_500_DPS", "RANGE_1000_DPS", "RANGE_2000_DPS")


@pytest.mark.parametrize("personality", sorted(ADAFRUIT))
@pytest.mark.parametrize("accel_range,gyro_range", list(zip(ACCEL_RANGES + ("RANGE_2G",), GYRO_RANGES)))
def test_emulator_decodes_and_rescales_every_range_adafruit_sets(personality, accel_range, gyro_range):
    # small enough to fit +-2 g and +-125 dps once rescaled from 16 g / 2000 dps
    raw16 = (4000, -3500, 2049, 2000, -1800, 3)
    big = (30000, -30000, 0, 30000, -30000, 0)
    emu, bus = rig(personality, lambda i: raw16 if i == 0 else big)
    ada = ADAFRUIT[personality](bus)
    ada.accelerometer_range = getattr(AccelRange, accel_range)
    ada.gyro_range = getattr(GyroRange, gyro_range)
    ada.accelerometer_data_rate = Rate.RATE_208_HZ
    fs_g = AccelRange.string[ada.accelerometer_range]
    fs_dps = GyroRange.string[ada.gyro_range]
    assert (emu.accel_fs_g, emu.gyro_fs_dps) == (fs_g, fs_dps)
    assert emu.accel_odr_mhz == 208000 and emu.gyro_odr_mhz == 104000

    emu.run_samples(1)
    acc, gyr = physical(raw16)  # the physical truth, whatever range the chip is set to
    assert ada.acceleration == pytest.approx(acc, rel=1e-9, abs=1e-9)
    assert ada.gyro == pytest.approx(gyr, rel=1e-9, abs=1e-9)

    emu.run_samples(1)  # beyond the range: the chip saturates at the int16 limits
    a = ada.acceleration
    lsb_ms2 = sensor.ACCEL_UG_PER_LSB[fs_g] * 1e-6 * G_MS2
    if fs_g < 16:
        assert a[0] == pytest.approx(32767 * lsb_ms2) and a[1] == pytest.approx(-32768 * lsb_ms2)
    if fs_dps < 2000:
        lsb_rad = math.radians(sensor.GYRO_UDPS_PER_LSB[fs_dps] * 1e-6)
        assert ada.gyro[0] == pytest.approx(32767 * lsb_rad)


@pytest.mark.parametrize("personality", sorted(ADAFRUIT))
def test_adafruit_accepts_only_its_own_who_am_i(personality):
    emu, bus = rig(personality, None)
    ADAFRUIT[personality](bus)
    other = [p for p in ADAFRUIT if p != personality][0]
    with pytest.raises(RuntimeError):
        ADAFRUIT[other](bus)


def test_adafruit_bus_probe_sees_a_nack_for_a_missing_device():
    emu, bus = rig("LSM6DSOX", None)
    with pytest.raises(ValueError, match="No I2C device"):
        LSM6DSOX(bus, address=0x6B)
