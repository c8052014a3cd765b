// machine.Timer's hardware: the running timers, on the world clock. Their callbacks
// are soft IRQs, as on the rp2 and esp32 ports: scheduled when a timer expires and
// run where the VM handles pending events:
// - while Python runs: at its clock reads (a read returns -1 once a timer is due,
//   as for a hardware event, and lib/_vb.py runs the callbacks), and in its sleeps
//   (time.sleep*, machine.idle/lightsleep step to each expiry);
// - while the board waits for serial input (the REPL, friendly or raw, raw-paste
//   mode, a sys.stdin read): hooks.mjs's idle calls runTimersUntil, which calls
//   into the VM (lib/_vb.py run_timers).
// A boot (soft or hard reset) starts with no timers: the VM and its objects are gone.

import { vm } from "./common.mjs";
import { clock } from "./clock.mjs";
import { checkWdt } from "./watchdog.mjs";

const running = new Map(); // key (from lib/_vb.py) -> { due: world us, period: us, periodic }

function recompute() {
  let n = Infinity;
  for (const t of running.values()) if (t.due < n) n = t.due;
  clock.timerAt = n;
  clock.alarm = Math.min(clock.dueAt, n);
}

export function timersReset() {
  running.clear();
  recompute();
}

export function timerStart(key, periodUs, periodic) {
  running.set(key, { due: clock.world + periodUs, period: periodUs, periodic: !!periodic });
  recompute();
}

export function timerStop(key) {
  if (running.delete(key)) recompute();
}

export function timerDue() {
  // the key of the timer due first (ties: the one started first), its next expiry
  // set (a periodic timer keeps its phase; expiries it missed are dropped, as a
  // port's full schedule queue drops them); -1 if none is due
  const w = clock.world;
  if (clock.timerAt > w) return -1;
  let key = -1;
  let best = null;
  for (const [k, t] of running) {
    if (t.due <= w && (best === null || t.due < best.due)) {
      key = k;
      best = t;
    }
  }
  if (best === null) return -1;
  if (best.periodic) {
    best.due += best.period;
    if (best.due <= w) best.due += Math.ceil((w - best.due + 1) / best.period) * best.period;
  } else {
    running.delete(key);
  }
  recompute();
  return key;
}

export function timerNext() {
  // microseconds from now to the next expiry, -1 if no timer runs
  if (clock.timerAt === Infinity) return -1;
  return Math.max(0, clock.timerAt - clock.world);
}

export function runTimersUntil(target) {
  // time passes up to world time `target` (the board waiting for input): each
  // expiry on the way runs its callback at its own time, the watchdog checked at
  // each, so a timer feeding it bites or saves as on a board
  while (clock.timerAt <= target && vm.runTimers) {
    const at = clock.timerAt;
    if (at > clock.world) clock.world = at;
    checkWdt();
    vm.runTimers();
    if (clock.timerAt === at) break; // callbacks cannot run now (one is running)
  }
}
