"""The gait engine seen from the laptop: the board's engine source
(`retrostep.firmware.gait`) run on CPython exactly as the board runs it (`run`). What it
reports is described once, in `retrostep.schema`."""
