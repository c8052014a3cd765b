"""Units shared by the engine's integers and the laptop's numbers: one owner each.

Angles: the engine keeps headings and yaws as binary angles, 16 bits per turn (a
"bam16": 65536 = 360 degrees, wrapping like an int16/uint16).
"""

BAM16_PER_TURN = 65536


def bam16_to_deg(bam):
    """Degrees of a 16-bit binary angle (no wrapping: 49152 gives 270.0)."""
    return bam * 360 / BAM16_PER_TURN


def deg_to_bam16(deg):
    """The nearest 16-bit binary angle of `deg`, wrapped to 0..65535."""
    return int(round(deg * BAM16_PER_TURN / 360)) % BAM16_PER_TURN


def signed_deg(deg):
    """`deg` folded into (-180, 180]: 358.2 -> -1.8."""
    d = (deg + 180.0) % 360.0 - 180.0
    return 180.0 if d == -180.0 else d
