// The virtual board's CPU: runs the real MicroPython VM (WebAssembly) in a worker
// thread, so its blocking main loop never stalls the main thread's socket.
//
// What lives here (see host.mjs for the main thread, lib/_vb.py for the VM side):
// - the clock: world time in microseconds since power-on, which keeps running across
//   resets; simulated (as fast as the VM goes) or paced to the wall clock;
// - the USB serial line: bytes from the socket arrive in a SharedArrayBuffer ring;
//   a Ctrl-C while code runs schedules KeyboardInterrupt, as a board's USB CDC does;
//   output goes back with "\n" sent as "\r\n", as the board's REPL sends it;
// - the boot sequence (boot.py, main.py, then the REPL), soft and hard resets;
// - the REPL front end: the VM's event-driven REPL, plus raw-paste mode, which this
//   VM build cannot do itself (its stdin reads return 0 at once);
// - the board's flash: a directory of the VM's file system, loaded from a host folder
//   at every boot and written back to it (names percent-encoded where a host file
//   system would object);
// - the sample source (the quantised trace, placed on the world clock), the button
//   script, the battery, the RTC, the watchdog, and the timelines (motor, pins).
//
// Moved to modules of their own in this folder: common.mjs (job, messages, the VM,
// resets as errors), clock.mjs, serial.mjs, flash.mjs, trace.mjs, button.mjs,
// pins.mjs, rtc.mjs, watchdog.mjs, resets.mjs. Here: the run's end, the VM's hooks,
// the REPL front end and the boot sequence.

import fs from "node:fs";
import path from "node:path";
import { job, post, vm, HardReset, StopBoard } from "./common.mjs";
import { clock, clockBoot, CPU_US, MASK, pace, rebase, goRealtime } from "./clock.mjs";
import { serial, checkStop, emit, emitStr, flushOut, pumpInput, readByte, stdinChar, vmOut, waitInput, IDLE_WAIT_MS } from "./serial.mjs";
import { FLASH, flashBlocks, flashFree, loadFlash, patchFS, saveFlash, saveFlashEvery, syncFlash } from "./flash.mjs";
import { cur, imuPowerDown, seek, setOrigin, trace, traceEnd, traceReport } from "./trace.mjs";
import { btnLevel, btnNext, buttonReport } from "./button.mjs";
import { adc, adcuv, pout, pwm, pwmReport, pinsReport } from "./pins.mjs";
import { rtcRead, rtcSet } from "./rtc.mjs";
import { checkWdt, disarmWdt, feedWdt, startWdt } from "./watchdog.mjs";
import { afterHardReset, afterSoftReset, hardReset, resets } from "./resets.mjs";

// ---------------------------------------------------------------- the run's end
const run = {
  endFired: false, // the run's end was reached (reported once)
  result: null,
  main: null, // how main.py ended: {code, traceback, world_s}
};

function runEndWorld() {
  const te = traceEnd();
  return te === null ? null : te + job.grace_s * 1e6;
}

function checkRunEnd(inVM) {
  // Has the trace played and its grace period passed? (once) From inside the VM
  // (inVM) the answer is true and the VM side reports, with the firmware's status;
  // otherwise the run is reported from here.
  if (run.endFired) return false;
  const world = clock.world;
  const re = runEndWorld();
  if (re !== null && world >= re) {
    run.endFired = true;
    if (inVM) return true;
    finishRun({ reason: "trace_end", status: null, imu: null });
    return false;
  }
  if (trace.data && trace.t0 === null && !job.serve && job.imu_wait_s && world >= job.imu_wait_s * 1e6) {
    run.endFired = true; // the firmware never started the IMU: the trace cannot play
    finishRun({ reason: "imu_not_configured", status: null, imu: null });
  }
  return false;
}

function finishRun(fromVM) {
  run.result = {
    reason: fromVM.reason,
    firmware_status: fromVM.status ?? null,
    imu: fromVM.imu ?? null,
    sim_s: clock.world / 1e6,
    wall_s: (performance.now() - clock.wallStart) / 1000,
    boots: resets.boots,
    resets: resets.log,
    main: run.main,
    trace: traceReport(),
    pwm: pwmReport(),
    pins: pinsReport(),
    button: buttonReport(),
  };
  saveFlash();
  flushOut();
  post({ t: "result", result: run.result });
  if (!job.serve) throw new StopBoard(fromVM.reason);
  // the run is over; the board keeps serving its REPL, at the wall clock's pace
  goRealtime();
}

// ---------------------------------------------------------------- VM hooks (_vbjs)
const hooks = {
  tms() {
    const c = clock;
    if (c.irqCtx) return Math.floor((c.hw - c.boot) / 1000) & MASK;
    c.world += CPU_US;
    checkWdt();
    if (c.world >= c.dueAt) return -1;
    return Math.floor((c.world - c.boot) / 1000) & MASK;
  },
  tus() {
    const c = clock;
    if (c.irqCtx) return (c.hw - c.boot) & MASK;
    c.world += CPU_US;
    checkWdt();
    if (c.world >= c.dueAt) return -1;
    return (c.world - c.boot) & MASK;
  },
  adv(us) {
    clock.world += us;
    checkWdt();
    if (clock.realtime) pace();
    let flags = pumpInput() ? 1 : 0;
    saveFlashEvery();
    flushOut();
    if (checkRunEnd(true)) flags |= 2;
    checkStop();
    return flags;
  },
  cpu(us) {
    clock.world += us;
    checkWdt();
  },
  pend(max) {
    return Math.min(clock.world - clock.hw, max);
  },
  hwadv(us) {
    clock.hw += us;
  },
  irq(on) {
    clock.irqCtx += on ? 1 : -1;
  },
  setdue(us) {
    clock.dueAt = us < 0 ? Infinity : clock.hw + us;
  },
  btn: btnLevel,
  btnnext: btnNext,
  origin: setOrigin,
  seek,
  s: (k) => cur[k],
  pwm,
  pout,
  adc,
  adcuv,
  rtc: rtcRead,
  rtcset: rtcSet,
  wdt: startWdt,
  feed: feedWdt,
  cause: () => resets.cause,
  reset(kind) {
    hardReset(kind);
  },
  cfg: () => JSON.stringify(job.board),
  finish(text) {
    finishRun(JSON.parse(text));
  },
  mainend(code, tb) {
    run.main = { code, traceback: tb || null, world_s: clock.world / 1e6 };
  },
  fsblocks: flashBlocks,
  fsfree: flashFree,
};

function idle() {
  // nothing to read: let the host see everything, keep the flash saved, wait; the
  // board's time passes with the wall clock while it waits
  flushOut();
  saveFlash();
  checkRunEnd(false);
  const w0 = performance.now();
  waitInput(IDLE_WAIT_MS);
  clock.world += Math.round((performance.now() - w0) * 1000);
  if (clock.realtime) rebase();
  checkWdt();
  checkStop();
}

// ---------------------------------------------------------------- the REPL
const FORCED_EXIT = 0x100; // pyexec: the REPL ended for a soft reset
const RAW_PASTE_WINDOW = 128; // MICROPY_REPL_STDIN_BUFFER_MAX / 2, as the ports use
const RAW_REPL_BANNER = "raw REPL; CTRL-B to exit\r\n";

const repl = {
  raw: false, // in the raw REPL
  rawLen: 0, // bytes of the raw REPL's current input line
};

function replReset() {
  repl.raw = false;
  repl.rawLen = 0;
}

function feed(c) {
  const r = vm.mp.replProcessChar(c);
  if (!repl.raw) {
    if (c === 0x01 && serial.tail.endsWith(RAW_REPL_BANNER + ">")) {
      repl.raw = true;
      repl.rawLen = 0;
    }
  } else if (c === 0x02) {
    repl.raw = false;
  } else if (c === 0x01 || c === 0x03 || c === 0x04) {
    repl.rawLen = 0;
  } else {
    repl.rawLen++;
  }
  return r;
}

function feedAll(bytes) {
  for (const c of bytes) {
    const r = feed(c);
    if (r & FORCED_EXIT) return r;
  }
  return 0;
}

function rawPaste() {
  // raw-paste mode (MicroPython docs, "raw mode and raw-paste mode"): the host may
  // send a window of bytes per 0x01 it receives; Ctrl-D ends the code
  const W = RAW_PASTE_WINDOW;
  emit([0x52, 0x01, W & 0xff, W >> 8, 0x01]);
  flushOut();
  let remain = W;
  const code = [];
  for (;;) {
    const c = readByte();
    if (c === 0x04) {
      emit([0x04]);
      break;
    }
    if (c === 0x03) {
      // as the board: end of input, then the KeyboardInterrupt as the code's error
      emit([0x04, 0x04]);
      emitStr("KeyboardInterrupt: \r\n");
      emit([0x04]);
      emitStr(">");
      repl.rawLen = 0;
      return 0;
    }
    code.push(c);
    if (--remain === 0) {
      emit([0x01]);
      flushOut();
      remain = W;
    }
  }
  flushOut();
  // the code goes into the VM's raw REPL line as it would have been typed, and runs
  // with the raw REPL's Ctrl-D, whose "OK" the raw-paste protocol does not have
  for (const c of code) vm.mp.replProcessChar(c);
  serial.dropOK = 2;
  try {
    return feed(0x04);
  } finally {
    serial.dropOK = 0;
    repl.rawLen = 0;
  }
}

function replStart(raw) {
  if (raw) {
    // after a soft reset from the raw REPL the board comes back in it, bannerless
    serial.mute = true;
    try {
      vm.mp.replInit();
      feed(0x01);
    } finally {
      serial.mute = false;
    }
    emitStr(RAW_REPL_BANNER + ">");
    repl.raw = true;
    repl.rawLen = 0;
  } else {
    vm.mp.replInit();
  }
}

function replLoop() {
  // until a soft reset
  for (;;) {
    const c = readByte();
    let r;
    if (repl.raw && repl.rawLen === 0 && c === 0x05) {
      // Ctrl-E, 'A', Ctrl-A at the start of a raw REPL line asks for raw-paste mode
      const c2 = readByte();
      if (c2 <= 0x04) {
        r = feedAll([0x05, c2]);
      } else {
        const c3 = readByte();
        if (c3 === 0x01 && c2 === 0x41) {
          r = rawPaste();
        } else if (c3 === 0x01) {
          emitStr("R\x00>"); // a raw-paste variant this board does not know
          repl.rawLen = 0;
          r = 0;
        } else {
          r = feedAll([0x05, c2, c3]);
        }
      }
    } else {
      r = feed(c);
    }
    if (r & FORCED_EXIT) return;
  }
}

// ---------------------------------------------------------------- booting
const ROM = "/vbrom"; // the virtual board's own modules, mounted read-only at /rom
const romFiles = Object.entries(job.rom).map(([vmPath, host]) => [vmPath, host ? fs.readFileSync(host) : Buffer.alloc(0)]);
const keepAlive = []; // PyProxy objects of old VMs: see bootVM
const LOADER = `
def _vb_boot():
    import sys, vfs, os
    vfs.umount("/")
    vfs.mount(vfs.VfsPosix("${FLASH}"), "/")
    vfs.mount(vfs.VfsPosix("${ROM}"), "/rom", readonly=True)
    os.chdir("/")
    import time  # the VM's own, before ours is on the path: _vb takes its ticks maths
    sys.path.insert(0, "/rom/vb")
    import _vb
    del sys.modules["time"]  # machine and time are built in on a board: ours win
    import time, machine
    # the VM freezes micropython-lib's pure-Python binascii over its C module (which
    # refuses str); the ports have only the C one
    import ubinascii
    sys.modules["binascii"] = ubinascii
    import _vbsys  # sys.platform and sys.implementation._machine name the board
    sys.modules["sys"] = _vbsys
    os.uname = _vb.uname
    _vb._vm_ilistdir = os.ilistdir
    _vb._vm_stat = os.stat
    os.ilistdir = _vb.ilistdir
    os.statvfs = _vb.statvfs
    import gc
    gc.collect()
_vb_boot()
del _vb_boot
`;

async function bootVM() {
  const { loadMicroPython } = await import(job.vm_entry);
  const mp = await loadMicroPython({
    heapsize: job.heapsize,
    pystack: job.pystack,
    stdout: vmOut,
    stderr: vmOut,
    stdin: stdinChar,
    linebuffer: false,
  });
  // The package's proxies free their C-side slot through the *current* VM's module
  // when a JS proxy object is garbage collected. Proxies of a VM thrown away at a
  // reset must therefore never be collected, or they would free slots of the next
  // VM: keep them (a few small objects per boot).
  keepAlive.push(mp.globals.__dict__);
  const FS = mp.FS;
  for (const [vmPath, data] of romFiles) {
    FS.mkdirTree(path.posix.dirname(vmPath));
    FS.writeFile(vmPath, data);
  }
  loadFlash(FS);
  patchFS(FS);
  mp.registerJsModule("_vbjs", hooks);
  return mp;
}

function runFile(name) {
  if (!vm.mp.FS.analyzePath(`${FLASH}/${name}`).exists) return 1;
  try {
    return vm.mp.runPython(`__import__("_vb").run_file(${JSON.stringify(name)})`);
  } catch (e) {
    if (e && e.name === "PythonError") {
      vmOut(Buffer.from(e.message));
      return 0;
    }
    throw e;
  }
}

async function runBoard(raw) {
  // one boot, until a soft reset: true if the board comes back in the raw REPL
  const mp = await bootVM();
  vm.mp = mp;
  vm.M = mp._module;
  resets.boots++;
  clockBoot();
  replReset();
  imuPowerDown();
  mp.runPython(LOADER);
  let r = runFile("boot.py");
  if (r & FORCED_EXIT) return raw;
  if (!raw && r !== 0) {
    const hasMain = mp.FS.analyzePath(`${FLASH}/main.py`).exists;
    run.main = null;
    r = runFile("main.py");
    if (r & FORCED_EXIT) return false;
    if (trace.data && !job.serve && !run.endFired) {
      run.endFired = true;
      if (!hasMain) run.main = { code: 1, traceback: "no /main.py on the board", world_s: clock.world / 1e6 };
      finishRun({ reason: "main_exit", status: null, imu: null });
    }
  }
  replStart(raw);
  replLoop();
  return repl.raw;
}

async function powerOn() {
  // the board's life: boots and resets until it is stopped
  let raw = false;
  let stopReason = "stopped";
  for (;;) {
    try {
      raw = await runBoard(raw);
      // soft reset: the VM is thrown away, the flash kept
      flushOut();
      saveFlash();
      emitStr("MPY: soft reboot\r\n");
      afterSoftReset();
    } catch (e) {
      flushOut();
      if (e instanceof HardReset) {
        saveFlash();
        disarmWdt();
        raw = false;
        afterHardReset(e.kind);
        continue;
      }
      if (e instanceof StopBoard) {
        stopReason = e.reason;
        break;
      }
      throw e;
    }
  }
  if (vm.mp) syncFlash();
  if (!run.result) {
    try {
      finishRun({ reason: stopReason, status: null, imu: null });
    } catch (e) {
      if (!(e instanceof StopBoard)) throw e;
    }
  }
  flushOut();
  post({ t: "stopped", reason: stopReason });
}

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
