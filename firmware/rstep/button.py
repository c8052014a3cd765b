"""The button: debounced short, long and double presses.

The button connects its pin to GND; the pin's pull-up holds it at 1, so pressed = 0.
``update(now_ms)`` returns one event code per call:

    NONE 0    nothing happened
    SHORT 1   pressed for less than LONG_MS, and no second press followed within
              DOUBLE_MS of the release (so a single press is reported DOUBLE_MS late)
    LONG 2    held for LONG_MS: reported at that moment, while the button is still down,
              so the buzz that answers it comes while the finger is on the button
              (the release after it reports nothing)
    DOUBLE 3  two short presses, the second starting within DOUBLE_MS of the first
              release (reported at the second release)

A short press followed within DOUBLE_MS by a long one gives SHORT, then LONG.
The level must hold DEBOUNCE_MS before it counts: contact bounce and short glitches are
ignored, and a press's times are taken from the last bounce of each edge. A button held
down at start-up counts only from its release on (it reports nothing).

Two ways to feed it:
- Polling (default): update() reads the pin. Poll at least every DEBOUNCE_MS (every
  10-20 ms is right) or short presses can be missed.
- Interrupts (``irq=True``): the pin's IRQ on both edges stores (time, level) in a
  ring of EDGES entries (nothing allocated, safe in a hard IRQ); update() replays them
  in order, so presses between two sparse updates (a loop that sleeps until the IMU
  FIFO fills) are told apart exactly. A full ring drops edges (counted in
  ``lost_edges``); the level read at each update puts things right again.

More than one event can come out of one update() when edges were replayed late:
call update() until it returns NONE. update() allocates nothing.

Example::

    from machine import Pin
    import time
    from rstep.button import Button, SHORT, LONG, DOUBLE

    b = Button(Pin(14, Pin.IN, Pin.PULL_UP))
    while True:
        ev = b.update(time.ticks_ms())
        if ev:
            print(("", "short", "long", "double")[ev])
        time.sleep_ms(10)
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from .haptics import ticks_diff, ticks_ms

NONE = const(0)
SHORT = const(1)
LONG = const(2)
DOUBLE = const(3)

DEBOUNCE_MS = const(30)  # the level must hold this long to count
LONG_MS = const(1500)  # held this long: a long press
DOUBLE_MS = const(400)  # a second press starting this soon after a release: a double
EDGES = const(32)  # edges the IRQ ring holds between two updates
_EVQ = const(4)  # events waiting to be returned


class Button:
    """A debounced button on a pin with a pull-up (pressed = 0); see the module docstring.

    pin: an object with value() (machine.Pin set up as input with pull-up, or a fake).
    now_ms: the clock the IRQ handler reads (default time.ticks_ms); update() is given
    the time by its caller.
    """

    def __init__(self, pin, irq=False, now_ms=None, debounce_ms=DEBOUNCE_MS,
                 long_ms=LONG_MS, double_ms=DOUBLE_MS):
        self._pin = pin
        self._now = now_ms if now_ms is not None else ticks_ms
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self.double_ms = double_ms
        t = self._now()
        v = 1 if pin.value() else 0
        self._raw = v  # the level last seen and since when
        self._raw_t = t
        self._stable = v  # the debounced level
        self._down_t = t  # when the press being held began
        self._long_sent = 1 if v == 0 else 0  # held at start-up: ignore this press
        self._pending = 0  # a short press waits for a possible second one
        self._rel_t = t  # ... released at this time
        self._evq = bytearray(_EVQ)
        self._qh = 0
        self._qn = 0
        self.lost_edges = 0
        self.lost_events = 0
        self._edge_t = array("i", [0] * EDGES)
        self._edge_v = bytearray(EDGES)
        self._eh = 0  # ring of edges: read here ...
        self._et = 0  # ... written here (only by the IRQ handler)
        self._irq = irq
        if irq:
            pin.irq(handler=self._on_edge, trigger=pin.IRQ_FALLING | pin.IRQ_RISING)

    def pressed(self):
        """True while the (debounced) button is down."""
        return self._stable == 0

    def held_ms(self, now_ms):
        """How long the button has been down (0 when it is up)."""
        return ticks_diff(now_ms, self._down_t) if self._stable == 0 else 0

    def deinit(self):
        if self._irq:
            self._pin.irq(handler=None)

    # ------------------------------------------------------------------ IRQ
    def _on_edge(self, pin):
        """Pin IRQ handler: note the time and the level (no allocation)."""
        nxt = (self._et + 1) % EDGES
        if nxt == self._eh:
            self.lost_edges += 1
            return
        self._edge_t[self._et] = self._now()
        self._edge_v[self._et] = 1 if pin.value() else 0
        self._et = nxt

    # ------------------------------------------------------------------ polling
    def update(self, now_ms):
        """Take in what happened up to now_ms; return the next event code (0: none)."""
        if self._irq:
            end = self._et  # edges the IRQ adds from here on wait for the next update
            while self._eh != end:
                t = self._edge_t[self._eh]
                if ticks_diff(t, now_ms) > 0:  # stored after the caller read its clock
                    t = now_ms
                self._sample(t, self._edge_v[self._eh])
                self._eh = (self._eh + 1) % EDGES
        self._sample(now_ms, 1 if self._pin.value() else 0)
        if not self._qn:
            return NONE
        ev = self._evq[self._qh]
        self._qh = (self._qh + 1) % _EVQ
        self._qn -= 1
        return ev

    def _sample(self, t, v):
        """The level v seen at time t (times never go backward)."""
        self._settle(t)
        self._timers(t)
        if v != self._raw:
            self._raw = v
            self._raw_t = t

    def _settle(self, t):
        """Accept the raw level once it has held DEBOUNCE_MS; the edge is at _raw_t."""
        if self._raw == self._stable or ticks_diff(t, self._raw_t) < self.debounce_ms:
            return
        te = self._raw_t
        self._stable = self._raw
        if self._raw == 0:  # pressed
            if self._pending and ticks_diff(te, self._rel_t) >= self.double_ms:
                self._pending = 0
                self._emit(SHORT)
            self._down_t = te
            self._long_sent = 0
        else:  # released
            if self._long_sent:
                return
            if ticks_diff(te, self._down_t) >= self.long_ms:  # seen late (sparse updates)
                self._long()
            elif self._pending:
                self._pending = 0
                self._emit(DOUBLE)
            else:
                self._pending = 1
                self._rel_t = te

    def _timers(self, t):
        if self._stable == 0:
            # a release that began before LONG_MS but is not yet debounced may still
            # make this a short press: wait for it
            if (not self._long_sent and ticks_diff(t, self._down_t) >= self.long_ms
                    and (self._raw == 0 or ticks_diff(self._raw_t, self._down_t) >= self.long_ms)):
                self._long()
        elif self._pending and ticks_diff(t, self._rel_t) >= self.double_ms:
            # a press that began inside the window but is not yet debounced may still
            # make this a double: wait for it
            if self._raw == 1 or ticks_diff(self._raw_t, self._rel_t) >= self.double_ms:
                self._pending = 0
                self._emit(SHORT)

    def _long(self):
        self._long_sent = 1
        if self._pending:
            self._pending = 0
            self._emit(SHORT)
        self._emit(LONG)

    def _emit(self, ev):
        if self._qn == _EVQ:
            self.lost_events += 1
            return
        self._evq[(self._qh + self._qn) % _EVQ] = ev
        self._qn += 1
