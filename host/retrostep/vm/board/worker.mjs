// The virtual board's CPU: runs the real MicroPython VM (WebAssembly) in a worker
// thread, so its blocking main loop never stalls the main thread's socket.
//
// This file only wires the pieces and powers the board on. The pieces (all in this
// folder; see host.mjs for the main thread, lib/_vb.py for the VM side):
// - common.mjs: the job, the messages to the main thread, the running VM, resets;
// - clock.mjs: world time in microseconds since power-on, which keeps running across
//   resets; simulated (as fast as the VM goes) or paced to the wall clock;
// - serial.mjs: the USB serial line: bytes from the socket arrive in a
//   SharedArrayBuffer ring; a Ctrl-C while code runs schedules KeyboardInterrupt, as
//   a board's USB CDC does; output goes back with "\n" sent as "\r\n", as the board's
//   REPL sends it;
// - boot.mjs: the boot sequence (boot.py, main.py, then the REPL), soft and hard resets;
// - repl.mjs: the REPL front end: the VM's event-driven REPL, plus raw-paste mode,
//   which this VM build cannot do itself (its stdin reads return 0 at once);
// - flash.mjs: the board's flash: a directory of the VM's file system, loaded from a
//   host folder at every boot and written back to it (names percent-encoded where a
//   host file system would object);
// - trace.mjs: the sample source (the quantised trace, placed on the world clock);
// - button.mjs: the button script;
// - pins.mjs: the timelines of the motor (PWM) and output pins; the ADC (battery);
// - rtc.mjs, watchdog.mjs, resets.mjs: the RTC, the watchdog, the resets and boots;
// - timers.mjs: machine.Timer's expiries on the world clock; their callbacks run as
//   soft IRQs (at clock reads, in sleeps, and while a read waits for input);
// - run.mjs: the run's end and its report;
// - hooks.mjs: the VM's calls into all of these (module _vbjs), and the idle wait
//   of a read from the serial line.

import { post, vm } from "./common.mjs";
import { serial, flushOut } from "./serial.mjs";
import { syncFlash } from "./flash.mjs";
import { idle } from "./hooks.mjs";
import { powerOn } from "./boot.mjs";

serial.idle = idle;

powerOn().catch((e) => {
  try {
    flushOut();
    if (vm.mp) syncFlash();
  } catch (_) {
    /* the original error matters more */
  }
  post({ t: "error", message: String((e && e.stack) || e) });
});
