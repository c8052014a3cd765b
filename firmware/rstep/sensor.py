"""Sensor settings shared by the board and the laptop: one source for every number.

The firmware configures the IMU from these values and the laptop quantises recorded
traces with them, so a replay sees exactly the integers the board would have seen.
Sensitivities are the LSM6DSOX / LSM6DS3TR-C datasheet typical values (table 2 of
both), in micro-units per LSB so that they stay integers.
"""
try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


ODR_HZ = const(104)  # output data rate of accel and gyro
ACCEL_FS_G = const(16)  # accelerometer full scale, +-g
GYRO_FS_DPS = const(2000)  # gyroscope full scale, +-deg/s

# micro-g per LSB for each accelerometer full scale (+-g)
ACCEL_UG_PER_LSB = {2: 61, 4: 122, 8: 244, 16: 488}
# micro-deg/s per LSB for each gyroscope full scale (+-deg/s)
GYRO_UDPS_PER_LSB = {125: 4375, 250: 8750, 500: 17500, 1000: 35000, 2000: 70000}
# output data rates the firmware supports (Hz, as the LSM6DS family names them): the
# one list of them. The chip also runs at 52 Hz, but the gait engine takes 100..420 Hz
# only (rstep.gait._ODR_MIN_HZ.._ODR_MAX_HZ: at 52 Hz one sample's rotation overflows
# its small-int attitude update; gait.py cannot import this file, it runs standalone).
ODRS_HZ = (104, 208, 416)

INT16_MIN = const(-32768)
INT16_MAX = const(32767)


def accel_ug_per_lsb(fs_g=ACCEL_FS_G):
    return ACCEL_UG_PER_LSB[fs_g]


def gyro_udps_per_lsb(fs_dps=GYRO_FS_DPS):
    return GYRO_UDPS_PER_LSB[fs_dps]
