"""The button (firmware/rstep/button.py): debounce, short, long and double presses."""

import pytest

from retrostep.vm import mpvm
from retrostep.firmware import button as bt
from retrostep.firmware.haptics import ticks_add


class FakePin:
    """An input pin with a pull-up: value() is 1 when released, 0 when pressed."""

    IRQ_FALLING = 2
    IRQ_RISING = 1

    def __init__(self, level=1):
        self.level = level
        self.handler = None
        self.trigger = None

    def value(self):
        return self.level

    def irq(self, handler=None, trigger=None):
        self.handler = handler
        self.trigger = trigger

    def set(self, level):
        """Change the level; fire the IRQ handler as the hardware would."""
        if level != self.level:
            self.level = level
            if self.handler:
                self.handler(self)


class Clock:
    def __init__(self, t=0):
        self.t = t

    def __call__(self):
        return self.t


def press(t_down, t_up, bounce_ms=0):
    """Level changes of one press; with bounce (even ms): the contacts chatter every 1 ms
    and settle at t + bounce_ms."""
    out = []
    for t0, level in ((t_down, 0), (t_up, 1)):
        for k in range(bounce_ms):
            out.append((t0 + k, level if k % 2 == 0 else 1 - level))
        out.append((t0 + bounce_ms, level))
    return out


def simulate(changes, end, poll_ms=1, irq=False, t0=0, initial=1, **kw):
    """Drive a Button through level changes [(ms, level)]; returns [(ms, event)].

    The clock runs in 1 ms steps; update() is called every poll_ms."""
    pin = FakePin(initial)
    clock = Clock(t0)
    b = bt.Button(pin, irq=irq, now_ms=clock, **kw)
    changes = sorted(changes)
    events = []
    i = 0
    for ms in range(end + 1):
        clock.t = ticks_add(t0, ms)
        while i < len(changes) and changes[i][0] == ms:
            pin.set(changes[i][1])
            i += 1
        if ms % poll_ms == 0:
            while True:
                ev = b.update(clock.t)
                if not ev:
                    break
                events.append((ms, ev))
    return events, b


# ---------------------------------------------------------------------------- polling
def test_timings_are_the_documented_ones():
    assert (bt.DEBOUNCE_MS, bt.LONG_MS, bt.DOUBLE_MS) == (30, 1500, 400)
    assert (bt.NONE, bt.SHORT, bt.LONG, bt.DOUBLE) == (0, 1, 2, 3)


def test_short_press_is_reported_when_the_double_press_window_has_passed():
    events, b = simulate(press(100, 250), 2000)
    assert events == [(250 + bt.DOUBLE_MS, bt.SHORT)]


def test_long_press_is_reported_while_held_and_the_release_adds_nothing():
    events, b = simulate(press(100, 3000), 4000)
    assert events == [(100 + bt.LONG_MS, bt.LONG)]


def test_press_just_under_long_is_short():
    events, b = simulate(press(100, 100 + bt.LONG_MS - 1), 3000)
    assert events == [(100 + bt.LONG_MS - 1 + bt.DOUBLE_MS, bt.SHORT)]


def test_double_press_is_reported_at_the_second_release():
    events, b = simulate(press(100, 200) + press(450, 560), 2000)
    assert events == [(560 + bt.DEBOUNCE_MS, bt.DOUBLE)]


def test_second_press_after_the_window_gives_two_shorts():
    events, b = simulate(press(100, 200) + press(200 + bt.DOUBLE_MS, 700), 2000)
    assert events == [(600, bt.SHORT), (700 + bt.DOUBLE_MS, bt.SHORT)]


def test_second_press_at_the_end_of_the_window_still_makes_a_double():
    # it begins 1 ms inside the window but is only debounced after the window has passed
    events, b = simulate(press(100, 200) + press(200 + bt.DOUBLE_MS - 1, 700), 2000)
    assert events == [(700 + bt.DEBOUNCE_MS, bt.DOUBLE)]


def test_short_then_long_gives_short_then_long():
    events, b = simulate(press(100, 200) + press(400, 2500), 3000)
    assert events == [(400 + bt.LONG_MS, bt.SHORT), (400 + bt.LONG_MS, bt.LONG)]


def test_triple_press_is_a_double_then_a_short():
    events, b = simulate(press(100, 200) + press(300, 400) + press(500, 600), 2000)
    assert events == [(430, bt.DOUBLE), (1000, bt.SHORT)]


def test_contact_bounce_makes_one_press():
    events, b = simulate(press(100, 300, bounce_ms=8), 2000)
    assert events == [(308 + bt.DOUBLE_MS, bt.SHORT)]  # times from each edge's last bounce


def test_bouncy_double_press_is_still_a_double():
    events, b = simulate(press(100, 220, bounce_ms=6) + press(420, 540, bounce_ms=6), 2000)
    assert events == [(546 + bt.DEBOUNCE_MS, bt.DOUBLE)]


@pytest.mark.parametrize("width", [1, 5, bt.DEBOUNCE_MS - 1])
def test_glitches_shorter_than_the_debounce_time_are_ignored(width):
    events, b = simulate([(100, 0), (100 + width, 1)], 2000)
    assert events == [] and not b.pressed()


def test_a_release_glitch_does_not_split_a_long_press():
    events, b = simulate([(100, 0), (900, 1), (910, 0), (2500, 1)], 3000)
    assert events == [(100 + bt.LONG_MS, bt.LONG)]


def test_a_glitch_across_the_long_press_threshold_only_delays_it():
    events, b = simulate([(100, 0), (1595, 1), (1605, 0), (2500, 1)], 3000)
    assert events == [(1606, bt.LONG)]


def test_a_button_held_at_start_up_reports_nothing_until_released():
    events, b = simulate([(800, 1)], 3000, initial=0)
    assert events == []
    events, b = simulate([(800, 1)] + press(1000, 1100), 3000, initial=0)
    assert events == [(1500, bt.SHORT)]


def test_pressed_and_held_ms_follow_the_debounced_level():
    pin = FakePin()
    b = bt.Button(pin, now_ms=Clock(0))
    pin.level = 0
    assert b.update(100) == 0 and not b.pressed()
    assert b.update(129) == 0 and not b.pressed()
    b.update(130)
    assert b.pressed() and b.held_ms(130) == 30 and b.held_ms(600) == 500
    pin.level = 1
    b.update(700)
    b.update(730)
    assert not b.pressed() and b.held_ms(800) == 0


def test_slow_polling_every_20_ms_gives_the_same_events():
    seq = press(100, 230) + press(2000, 2130) + press(2300, 2420) + press(4000, 6000)
    events, b = simulate(seq, 8000, poll_ms=20)
    assert [e for _, e in events] == [bt.SHORT, bt.DOUBLE, bt.LONG]


def test_ticks_wrap_around_is_handled():
    t0 = (1 << 30) - 700
    seq = press(100, 200) + press(450, 560) + press(900, 1000) + press(1600, 3500)
    events, b = simulate(seq, 4000, t0=t0)
    assert events == [(590, bt.DOUBLE), (1400, bt.SHORT), (3100, bt.LONG)]


def test_custom_timings():
    events, b = simulate(press(100, 700), 2000, long_ms=500, double_ms=200, debounce_ms=10)
    assert events == [(600, bt.LONG)]


# ---------------------------------------------------------------------------- interrupts
def test_irq_is_registered_on_both_edges():
    pin = FakePin()
    b = bt.Button(pin, irq=True, now_ms=Clock())
    assert pin.handler is not None and pin.trigger == FakePin.IRQ_FALLING | FakePin.IRQ_RISING
    b.deinit()
    assert pin.handler is None


def test_irq_edges_tell_presses_apart_between_sparse_updates():
    # updates every 250 ms (a loop asleep until the IMU FIFO fills): a whole double press
    # and a whole short press happen between two updates
    seq = press(1010, 1090, bounce_ms=6) + press(1200, 1240) + press(3010, 3100)
    seq += press(5000, 7000)
    events, b = simulate(seq, 9000, poll_ms=250, irq=True)
    assert events == [(1500, bt.DOUBLE), (3500, bt.SHORT), (6500, bt.LONG)]
    assert b.lost_edges == 0
    # without the IRQ the same updates miss the short presses
    events, b = simulate(seq, 9000, poll_ms=250)
    assert bt.DOUBLE not in [e for _, e in events]


def test_irq_ring_overflow_is_counted_and_the_level_still_ends_right():
    seq = [(100 + k, k % 2) for k in range(3 * bt.EDGES)] + [(100 + 3 * bt.EDGES, 0)]
    seq += [(1000, 1)]
    events, b = simulate(seq, 3000, poll_ms=500, irq=True)
    assert b.lost_edges > 0
    assert not b.pressed() and len(events) <= 1


def test_many_events_in_one_update_come_out_one_per_call():
    pin = FakePin()
    clock = Clock(0)
    b = bt.Button(pin, irq=True, now_ms=clock)
    for t0 in (100, 1000, 1800):  # three separate short presses, never polled
        for t, level in press(t0, t0 + 80):
            clock.t = t
            pin.set(level)
    assert [b.update(3000) for _ in range(4)] == [bt.SHORT, bt.SHORT, bt.SHORT, bt.NONE]


# ---------------------------------------------------------------------------- MicroPython
SCENARIO = """
from array import array
import {pkg}.button as bt
from {pkg}.haptics import ticks_add

class Pin:
    IRQ_FALLING = 2
    IRQ_RISING = 1
    def __init__(self):
        self.v = 1
        self.handler = None
    def value(self):
        return self.v
    def irq(self, handler=None, trigger=0):
        self.handler = handler

class Clock:
    def __init__(self, t):
        self.t = t
    def now(self):
        return self.t

# level changes (ms, level): bounce, glitch, short, double, short + long, long, late double
CHANGES = array("i", [100, 0, 101, 1, 102, 0, 104, 1, 105, 0, 260, 1, 262, 0, 263, 1,
                      900, 0, 910, 1,
                      1500, 0, 1600, 1, 1800, 0, 1900, 1,
                      3000, 0, 3100, 1, 3300, 0, 5200, 1,
                      6000, 0, 6100, 1, 6499, 0, 6600, 1,
                      8000, 0, 8040, 1, 8100, 0, 8150, 1])

def scenario(lock, unlock, t0, irq, poll):
    pin = Pin()
    clk = Clock(t0)
    b = bt.Button(pin, irq=irq, now_ms=clk.now)
    ev_t = array("i", [0] * 32)
    ev_c = bytearray(32)
    n = 0
    lock()
    try:
        i = 0
        ms = 0
        while ms < 10000:
            clk.t = ticks_add(t0, ms)
            while i < len(CHANGES) and CHANGES[i] == ms:
                pin.v = CHANGES[i + 1]
                if pin.handler is not None:
                    pin.handler(pin)
                i += 2
            if ms % poll == 0:
                e = b.update(clk.t)
                while e:
                    ev_t[n] = ms
                    ev_c[n] = e
                    n += 1
                    e = b.update(clk.t)
            ms += 1
    finally:
        unlock()
    return ["%d %d" % (ev_t[k], ev_c[k]) for k in range(n)]
"""

VM_MAIN = """
import micropython
for irq, poll in ((False, 1), (False, 10), (True, 1), (True, 250)):
    print("run", irq, poll)
    for line in scenario(micropython.heap_lock, micropython.heap_unlock, {t0}, irq, poll):
        print(line)
"""


@pytest.mark.vm
def test_micropython_vm_gives_the_same_events_without_allocating():
    t0 = (1 << 30) - 5000  # through the ticks wrap
    res = mpvm.run(SCENARIO.format(pkg="rstep") + VM_MAIN.format(t0=t0), timeout_s=60)
    ns = {}
    exec(SCENARIO.format(pkg="retrostep.firmware"), ns)
    want = []
    for irq, poll in ((False, 1), (False, 10), (True, 1), (True, 250)):
        want.append("run %s %s" % (irq, poll))
        want += ns["scenario"](lambda: None, lambda: None, t0, irq, poll)
    assert res.stdout.strip().splitlines() == want
    # the scripted presses: short, double, short + long, long, double
    first = want[1:want.index("run False 10")]
    assert [int(line.split()[1]) for line in first] == [1, 3, 1, 2, 3, 3]
