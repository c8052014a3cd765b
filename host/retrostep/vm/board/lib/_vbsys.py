# `sys` as the emulated port shows itself. The VM says sys.platform "webassembly" and
# sys.implementation._machine "JS with Emscripten"; a board says "rp2" or "esp32" and
# names itself ("Raspberry Pi Pico with RP2040"), which firmware uses to find its pins.
# The loader puts this module in sys.modules["sys"]; every other name is the VM's sys.

import sys as _sys

import _vb

platform = _vb.PORT


class _Implementation:
    def __init__(self, impl, machine):
        self.name = impl.name
        self.version = impl.version
        self._machine = machine
        self._mpy = getattr(impl, "_mpy", 0)
        self._build = getattr(impl, "_build", "")

    def __getitem__(self, i):
        return (self.name, self.version, self._machine, self._mpy, self._build)[i]

    def __len__(self):
        return 5

    def __repr__(self):
        return "(name=%r, version=%r, _machine=%r, _mpy=%r, _build=%r)" % (
            self.name, self.version, self._machine, self._mpy, self._build)


implementation = _Implementation(_sys.implementation, _vb.CFG["machine"])


def __getattr__(name):
    return getattr(_sys, name)
