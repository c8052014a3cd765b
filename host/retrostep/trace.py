"""Trace files (DESIGN.md section 6) and what the board would see of them.

A trace is specific force in g and angular rate in deg/s in the device frame
(x toward the toe, y to the wearer's left, z up; flat and still: az = +1 g), sampled at
any constant rate >= 50 Hz. `quantise` turns it into the int16 samples the IMU would
deliver at the firmware's ODR and full scale.
"""

from dataclasses import dataclass, field

import numpy as np

COLUMNS = ("t_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps")
MIN_RATE_HZ = 50.0


@dataclass
class Trace:
    """A recorded or simulated trace, in physical units."""

    t_s: np.ndarray  # (n,) seconds, strictly increasing, constant rate
    accel_g: np.ndarray  # (n, 3) specific force, g
    gyro_dps: np.ndarray  # (n, 3) angular rate, deg/s
    meta: dict = field(default_factory=dict)  # '# key: value' lines, in order

    @property
    def rate_hz(self):
        return (len(self.t_s) - 1) / (self.t_s[-1] - self.t_s[0])

    @property
    def duration_s(self):
        return float(self.t_s[-1] - self.t_s[0])
