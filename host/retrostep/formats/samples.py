"""Sample packing, in one place: the board's samples are int16, six per sample
(ax ay az gx gy gz), little-endian, interleaved. That is the IMU FIFO's word order
after the driver's tag filtering, the layout of a raw-sample log block, and what
`gait.Gait.feed` reads."""

from array import array
import sys

AXES = 6


def int16_bytes(samples):
    """The little-endian int16 bytes of an n x 6 integer array."""
    return samples.astype("<i2").tobytes()


def int16_flat(samples):
    """An `array('h')` of an n x 6 integer array, as `gait.Gait.feed` takes it."""
    flat = array("h")
    flat.frombytes(int16_bytes(samples))
    if sys.byteorder == "big":
        flat.byteswap()
    return flat
