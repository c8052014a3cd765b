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

import fs from "node:fs";
import path from "node:path";
import { parentPort, workerData } from "node:worker_threads";

const job = workerData.job;
const ctrl = new Int32Array(workerData.sab, 0, 16);
const ring = new Uint8Array(workerData.sab, 64);
const RING = ring.length;
const HEAD = 0; // ctrl[HEAD]: where the main thread writes next
const TAIL = 1; // ctrl[TAIL]: where this thread reads next
const STOP = 2; // ctrl[STOP]: 1 = the main thread asks the board to stop

const FORCED_EXIT = 0x100; // pyexec: the REPL ended for a soft reset
const MASK = 0x3fffffff; // ticks wrap at 2**30
const RAW_PASTE_WINDOW = 128; // MICROPY_REPL_STDIN_BUFFER_MAX / 2, as the ports use
const RAW_REPL_BANNER = "raw REPL; CTRL-B to exit\r\n";
const FLASH = "/flash"; // the board's flash in the VM's (Emscripten) file system
const ROM = "/vbrom"; // the virtual board's own modules, mounted read-only at /rom
const IDLE_WAIT_MS = 50;
const FS_SYNC_EVERY_MS = 2000;

class HardReset extends Error {
  constructor(kind) {
    super(`hard reset (${kind})`);
    this.kind = kind;
  }
}

class StopBoard extends Error {
  constructor(reason) {
    super(`board stopped (${reason})`);
    this.reason = reason;
  }
}

const post = (msg) => parentPort.postMessage(msg);
const note = (ev) => post({ t: "event", ev });

// ---------------------------------------------------------------- clock and world
let world = 0; // us since the first power-on
let hw = 0; // the emulated hardware's time (lags `world` until the VM syncs it)
let boot = 0; // world time of the running VM's boot
let irqCtx = 0; // >0 while a pin IRQ handler runs: the clock reads the hardware time
let dueAt = Infinity; // world time of the next hardware event the VM must see
const cpuUs = job.cpu_us ?? 5; // simulated cost of one clock read
let realtime = !!job.realtime; // (a board still serving after its trace goes realtime)
const speed = job.speed || 1;
let wall0 = performance.now();
let world0 = 0;
const wallStart = performance.now();

let rtcOffsetS = job.rtc_s; // RTC seconds (since 2000-01-01) at world time 0
let wdtTimeoutUs = 0;
let wdtDeadline = Infinity;
let resetCause = 1; // machine.PWRON_RESET

function checkWdt() {
  if (world > wdtDeadline) {
    world = wdtDeadline; // the reset happens when the watchdog runs out
    hardReset("watchdog");
  }
}

function pace() {
  const target = wall0 + (world - world0) / 1000 / speed;
  let now = performance.now();
  if (now > target + 1000) {
    // the VM cannot keep up: do not try to catch up later
    wall0 = now;
    world0 = world;
    return;
  }
  while (now < target - 0.5) {
    const h = Atomics.load(ctrl, HEAD);
    if (h === Atomics.load(ctrl, TAIL)) Atomics.wait(ctrl, HEAD, h, Math.min(target - now, IDLE_WAIT_MS));
    if (pumpInput()) return;
    checkStop();
    now = performance.now();
  }
}

// ---------------------------------------------------------------- trace and IMU
let trace = null; // Int16Array, 6 per sample
let traceN = 0;
let traceHz = 0;
if (job.trace) {
  const buf = fs.readFileSync(job.trace.path);
  trace = new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength >> 1);
  traceN = job.trace.samples;
  traceHz = job.trace.odr_hz;
}
let t0 = null; // world time of the trace's t = 0
if (job.trace_start_s !== null && job.trace_start_s !== undefined) t0 = Math.round(job.trace_start_s * 1e6);
let t0Boot = t0 === null ? null : 0; // boot during which t0 fell (for board ms)
let originWorld = 0; // the IMU's data clock: (re)started at this world time ...
let originRate = 0; // ... at this rate (mHz)
let samplesServed = 0;
const cur = new Int16Array(6);
const still = [0, 0, 0, 0, 0, 0];
if (job.still_sample) for (let k = 0; k < 6; k++) still[k] = job.still_sample[k];

function setOrigin(rateMhz) {
  originWorld = hw;
  originRate = rateMhz;
  if (rateMhz > 0 && t0 === null && job.trace_start_s == null) {
    t0 = hw; // the trace starts when the firmware starts the IMU
    t0Boot = boot;
    note({ type: "trace_start", world_s: t0 / 1e6, board_ms: boardMs(t0, boot) });
  }
}

function seek(j) {
  // sample for data tick j after the data clock's origin; 0 = no more data
  if (!originRate) return 0;
  if (trace && t0 !== null) {
    // the tick's time on the trace's time base picks the sample (before t = 0: the
    // trace's first sample, the board lying as the walk starts)
    const tw = originWorld + Math.ceil((j * 1e9) / originRate);
    const idx = Math.floor(((tw - t0) * traceHz) / 1e6 + 1e-6) - 1;
    if (idx >= traceN) return 0;
    const i = idx < 0 ? 0 : idx;
    for (let k = 0; k < 6; k++) cur[k] = trace[6 * i + k];
    if (idx >= 0) samplesServed++;
    return 1;
  }
  for (let k = 0; k < 6; k++) cur[k] = still[k]; // no trace (yet): lying still
  return 1;
}

const traceEnd = () => (t0 === null || !trace ? null : t0 + (traceN * 1e6) / traceHz);

// ---------------------------------------------------------------- button script
// edges: [us after t0, level] (level 0 = pressed), sorted
const edges = (job.button_edges || []).map(([t, v]) => [Math.round(t * 1e6), v]);
function btnLevel() {
  if (t0 === null) return 1;
  let v = 1;
  for (const [t, lv] of edges) {
    if (t0 + t <= hw) v = lv;
    else break;
  }
  return v;
}
function btnNext() {
  if (t0 === null) return -1;
  for (const [t] of edges) {
    const w = t0 + t;
    if (w > hw) return Math.min(w - hw, 1 << 29);
  }
  return -1;
}

// ---------------------------------------------------------------- timelines
const pwmLog = []; // [world, boot, pin, duty, freq]
const pinLog = []; // [world, boot, pin, level]
const PIN_LOG_MAX = 100000;
const resets = [];
let boots = 0;
let mainState = null; // {code, traceback, world}

// ---------------------------------------------------------------- serial line
const inq = [];
let inqHead = 0;
let M = null; // the running VM's Emscripten module
let mp = null;

function pumpInput() {
  // bytes from the socket into the input queue; true if a Ctrl-C was taken as an
  // interrupt (only while code runs with the interrupt character set)
  let t = Atomics.load(ctrl, TAIL);
  const h = Atomics.load(ctrl, HEAD);
  if (t === h) return false;
  const intr = M ? M._mp_hal_get_interrupt_char() : -1;
  let hit = false;
  while (t !== h) {
    const c = ring[t];
    t = t + 1 === RING ? 0 : t + 1;
    if (intr >= 0 && c === intr) {
      M._mp_sched_keyboard_interrupt();
      hit = true;
    } else {
      inq.push(c);
    }
  }
  Atomics.store(ctrl, TAIL, t);
  return hit;
}

function takeQueued() {
  if (inqHead >= inq.length) return -1;
  const c = inq[inqHead++];
  if (inqHead > 4096 && inqHead * 2 > inq.length) {
    inq.splice(0, inqHead);
    inqHead = 0;
  }
  return c;
}

function idleWait() {
  // nothing to read: let the host see everything, keep the flash saved, wait; the
  // board's time passes with the wall clock while it waits
  flushOut();
  if (fsDirty) syncFlash();
  checkRunEnd(false);
  const w0 = performance.now();
  const h = Atomics.load(ctrl, HEAD);
  if (h === Atomics.load(ctrl, TAIL)) Atomics.wait(ctrl, HEAD, h, IDLE_WAIT_MS);
  world += Math.round((performance.now() - w0) * 1000);
  if (realtime) {
    wall0 = performance.now();
    world0 = world;
  }
  checkWdt();
  checkStop();
}

function readByte() {
  for (;;) {
    let c = takeQueued();
    if (c >= 0) return c;
    pumpInput();
    c = takeQueued();
    if (c >= 0) return c;
    idleWait();
  }
}

function stdinChar() {
  // sys.stdin of the firmware: blocks for a byte; a Ctrl-C ends the read
  for (;;) {
    const c = takeQueued();
    if (c >= 0) return c;
    if (pumpInput()) return null;
    const c2 = takeQueued();
    if (c2 >= 0) return c2;
    idleWait();
  }
}

function checkStop() {
  if (Atomics.load(ctrl, STOP)) throw new StopBoard("stopped");
}

// output: "\n" goes out as "\r\n" (a lone one: the REPL's own "\r\n" stays as is)
let out = new Uint8Array(16384);
let outLen = 0;
let lastByte = 0;
let mute = false; // output of the boot machinery that a board would not print
let dropOK = 0; // raw-paste: swallow the "OK" the VM's raw REPL prints
let tail = ""; // the last characters the VM printed (to follow the REPL's mode)
let sinceScan = 0;

function pushByte(c) {
  if (outLen === out.length) flushOut();
  out[outLen++] = c;
  lastByte = c;
}

function vmOut(bytes) {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (dropOK) {
      if (c === (dropOK === 2 ? 0x4f : 0x4b)) {
        dropOK--;
        continue;
      }
      dropOK = 0;
    }
    tail = (tail + String.fromCharCode(c)).slice(-40);
    if (mute) continue;
    if (c === 10 && lastByte !== 13) pushByte(13);
    pushByte(c);
    if (c === 10) flushOut();
  }
  if ((sinceScan += bytes.length) > 512) {
    sinceScan = 0;
    pumpInput(); // a program that only prints can still be interrupted
  }
}

function emit(bytes) {
  for (const c of bytes) pushByte(c);
}
const emitStr = (s) => emit(Buffer.from(s, "latin1"));

function flushOut() {
  if (!outLen) return;
  post({ t: "out", d: out.slice(0, outLen) });
  outLen = 0;
}

// ---------------------------------------------------------------- the flash
const store = job.fs_dir;
const flashCapBlocks = Math.floor((job.flash_kb * 1024) / 4096);
let fsDirty = false;
let usedBlocks = -1; // cached; -1 = recount
let lastSync = performance.now();
const synced = new Map(); // vm path -> Buffer last written to the host folder

const SAFE = /^[A-Za-z0-9._\-+=,@#!$&'()[\]{}~^ ]$/;
function encodeName(name) {
  let s = "";
  for (const ch of name) {
    if (ch.codePointAt(0) >= 0x80 || (SAFE.test(ch) && ch !== "%")) s += ch;
    else s += "%" + ch.codePointAt(0).toString(16).toUpperCase().padStart(2, "0");
  }
  if (s.endsWith(".") || s.endsWith(" ")) s = s.slice(0, -1) + "%" + s.charCodeAt(s.length - 1).toString(16).toUpperCase();
  return s;
}
function decodeName(name) {
  return name.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

function loadFlash(FS) {
  FS.mkdirTree(FLASH);
  synced.clear();
  const walk = (hostDir, vmDir) => {
    let ents;
    try {
      ents = fs.readdirSync(hostDir, { withFileTypes: true });
    } catch (e) {
      if (e.code === "ENOENT") return;
      throw e;
    }
    for (const ent of ents) {
      const name = decodeName(ent.name);
      if (name === "." || name === ".." || name.includes("/") || name.includes("\0")) continue;
      const h = path.join(hostDir, ent.name);
      const v = vmDir + "/" + name;
      if (ent.isDirectory()) {
        FS.mkdir(v);
        walk(h, v);
      } else if (ent.isFile()) {
        const data = fs.readFileSync(h);
        FS.writeFile(v, data);
        synced.set(v, data);
      }
    }
  };
  walk(store, FLASH);
  fsDirty = false;
  usedBlocks = -1;
}

function flashWalk(FS, fn) {
  const walk = (dir) => {
    for (const name of FS.readdir(dir)) {
      if (name === "." || name === "..") continue;
      const p = dir + "/" + name;
      const st = FS.lstat(p);
      if (FS.isDir(st.mode)) {
        fn(p, true, st);
        walk(p);
      } else if (FS.isFile(st.mode)) {
        fn(p, false, st);
      }
    }
  };
  walk(FLASH);
}

function countBlocks() {
  // littlefs-like: a block per directory, whole blocks per file, 2 for the superblock
  if (usedBlocks >= 0 || !mp) return usedBlocks;
  let n = 2;
  flashWalk(mp.FS, (p, isDir, st) => {
    n += isDir ? 1 : Math.max(1, Math.ceil(st.size / 4096));
  });
  usedBlocks = n;
  return n;
}

function syncFlash() {
  // write the VM's flash back to the host folder: changed files, removed entries
  if (!mp) return;
  const FS = mp.FS;
  const seen = new Set();
  fs.mkdirSync(store, { recursive: true });
  flashWalk(FS, (p, isDir) => {
    const rel = p.slice(FLASH.length + 1);
    const host = path.join(store, ...rel.split("/").map(encodeName));
    seen.add(host);
    if (isDir) {
      fs.mkdirSync(host, { recursive: true });
      return;
    }
    const data = Buffer.from(FS.readFile(p));
    const old = synced.get(p);
    if (old && old.equals(data)) return;
    const tmp = host + ".vbtmp";
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, host);
    synced.set(p, data);
  });
  const prune = (dir) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const h = path.join(dir, ent.name);
      if (ent.isDirectory()) {
        prune(h);
        if (!seen.has(h)) fs.rmSync(h, { recursive: true, force: true });
      } else if (!seen.has(h)) {
        fs.rmSync(h, { force: true });
      }
    }
  };
  prune(store);
  for (const p of synced.keys()) {
    if (!FS.analyzePath(p).exists) synced.delete(p);
  }
  fsDirty = false;
  lastSync = performance.now();
}

// Emscripten's file system fails with WASI errno numbers (ENOENT = 44), which this
// VM hands to Python as they are, while its errno module (and every port) numbers
// them as Linux does (ENOENT = 2): "OSError: 44" where a board says
// "OSError: [Errno 2] ENOENT", which mpremote reads. Translate where the VM's
// system calls enter the file system.
const WASI_TO_MP = {
  1: 7, 2: 13, 6: 11, 8: 9, 10: 16, 20: 17, 22: 27, 27: 4, 28: 22, 29: 5, 31: 21, 32: 40,
  33: 24, 37: 36, 41: 23, 43: 19, 44: 2, 48: 12, 51: 28, 52: 38, 54: 20, 55: 39, 58: 95,
  59: 25, 61: 75, 63: 1, 64: 32, 69: 30, 70: 29, 75: 18,
};
const FS_CALLS = ["open", "close", "read", "write", "llseek", "stat", "lstat", "fstat", "mkdir", "rmdir",
  "unlink", "rename", "readdir", "chdir", "truncate", "ftruncate", "statfs", "readlink", "symlink"];

function patchFS(FS) {
  // note every change to the flash (to write it back), and refuse to grow it past
  // the board's flash size (ENOSPC, as littlefs would)
  const inFlash = (p) => typeof p === "string" && p.startsWith(FLASH + "/");
  const write = FS.write;
  FS.write = function (stream, buffer, offset, length, position, canOwn) {
    if (inFlash(stream.path)) {
      fsDirty = true;
      const size = stream.node.usedBytes || 0;
      const pos = position ?? stream.position;
      const grow = pos + length - size;
      if (grow > 0 && flashCapBlocks > 0) {
        const before = Math.max(1, Math.ceil(size / 4096));
        const after = Math.max(1, Math.ceil((pos + length) / 4096));
        const used = countBlocks();
        if (used >= 0 && used + after - before > flashCapBlocks) throw new FS.ErrnoError(51); // ENOSPC
        if (used >= 0) usedBlocks = used + after - before;
      }
    }
    return write.call(this, stream, buffer, offset, length, position, canOwn);
  };
  for (const name of ["unlink", "rmdir", "rename", "mkdir", "truncate", "ftruncate", "symlink"]) {
    const f = FS[name];
    FS[name] = function (...args) {
      fsDirty = true;
      usedBlocks = -1;
      return f.apply(this, args);
    };
  }
  const open = FS.open;
  FS.open = function (p, flags, mode) {
    if (inFlash(typeof p === "string" ? p : "") && (typeof flags === "string" ? /[wa+]/.test(flags) : flags & (64 | 512))) {
      fsDirty = true;
      usedBlocks = -1;
    }
    return open.call(this, p, flags, mode);
  };
  for (const name of FS_CALLS) {
    const f = FS[name];
    FS[name] = function (...args) {
      try {
        return f.apply(this, args);
      } catch (e) {
        if (e && e.name === "ErrnoError" && !e.mp && WASI_TO_MP[e.errno] !== undefined) {
          const e2 = new FS.ErrnoError(WASI_TO_MP[e.errno]);
          e2.mp = true;
          throw e2;
        }
        throw e;
      }
    };
  }
}

// ---------------------------------------------------------------- the run's end
let runEndFired = false;
let result = null;

function runEndWorld() {
  const te = traceEnd();
  return te === null ? null : te + job.grace_s * 1e6;
}

function checkRunEnd(inVM) {
  // Has the trace played and its grace period passed? (once) From inside the VM
  // (inVM) the answer is true and the VM side reports, with the firmware's status;
  // otherwise the run is reported from here.
  if (runEndFired) return false;
  const re = runEndWorld();
  if (re !== null && world >= re) {
    runEndFired = true;
    if (inVM) return true;
    finishRun({ reason: "trace_end", status: null, imu: null });
    return false;
  }
  if (trace && t0 === null && !job.serve && job.imu_wait_s && world >= job.imu_wait_s * 1e6) {
    runEndFired = true; // the firmware never started the IMU: the trace cannot play
    finishRun({ reason: "imu_not_configured", status: null, imu: null });
  }
  return false;
}

function boardMs(w, b) {
  return Math.floor((w - b) / 1000); // as ticks_ms() reads it
}

function finishRun(fromVM) {
  const te = traceEnd();
  result = {
    reason: fromVM.reason,
    firmware_status: fromVM.status ?? null,
    imu: fromVM.imu ?? null,
    sim_s: world / 1e6,
    wall_s: (performance.now() - wallStart) / 1000,
    boots,
    resets,
    main: mainState,
    trace: trace
      ? {
          samples: traceN,
          odr_hz: traceHz,
          delivered: samplesServed,
          start_world_s: t0 === null ? null : t0 / 1e6,
          start_board_ms: t0 === null ? null : boardMs(t0, t0Boot),
          end_world_s: te === null ? null : te / 1e6,
        }
      : null,
    pwm: pwmLog.map(([w, b, pin, duty, freq]) => ({
      t_s: t0 === null ? null : (w - t0) / 1e6,
      board_ms: boardMs(w, b),
      world_s: w / 1e6,
      pin,
      duty_u16: duty,
      freq_hz: freq,
    })),
    pins: pinLog.map(([w, b, pin, v]) => ({
      t_s: t0 === null ? null : (w - t0) / 1e6,
      board_ms: boardMs(w, b),
      pin,
      value: v,
    })),
    button: edges.map(([t, v]) => ({
      t_s: t / 1e6,
      board_ms: t0 === null ? null : boardMs(t0 + t, t0Boot),
      level: v,
    })),
  };
  if (fsDirty) syncFlash();
  flushOut();
  post({ t: "result", result });
  if (!job.serve) throw new StopBoard(fromVM.reason);
  if (!realtime) {
    // the run is over; the board keeps serving its REPL, at the wall clock's pace
    realtime = true;
    wall0 = performance.now();
    world0 = world;
  }
}

// ---------------------------------------------------------------- VM hooks (_vbjs)
function hardReset(kind) {
  resets.push({ kind, world_s: world / 1e6, t_s: t0 === null ? null : (world - t0) / 1e6 });
  note({ type: "reset", kind, world_s: world / 1e6, board_ms: boardMs(world, boot) });
  throw new HardReset(kind);
}

const hooks = {
  tms() {
    if (irqCtx) return Math.floor((hw - boot) / 1000) & MASK;
    world += cpuUs;
    checkWdt();
    if (world >= dueAt) return -1;
    return Math.floor((world - boot) / 1000) & MASK;
  },
  tus() {
    if (irqCtx) return (hw - boot) & MASK;
    world += cpuUs;
    checkWdt();
    if (world >= dueAt) return -1;
    return (world - boot) & MASK;
  },
  adv(us) {
    world += us;
    checkWdt();
    if (realtime) pace();
    let flags = pumpInput() ? 1 : 0;
    if (fsDirty && performance.now() - lastSync > FS_SYNC_EVERY_MS) syncFlash();
    flushOut();
    if (checkRunEnd(true)) flags |= 2;
    checkStop();
    return flags;
  },
  cpu(us) {
    world += us;
    checkWdt();
  },
  pend(max) {
    return Math.min(world - hw, max);
  },
  hwadv(us) {
    hw += us;
  },
  irq(on) {
    irqCtx += on ? 1 : -1;
  },
  setdue(us) {
    dueAt = us < 0 ? Infinity : hw + us;
  },
  btn: btnLevel,
  btnnext: btnNext,
  origin: setOrigin,
  seek,
  s: (k) => cur[k],
  pwm(pin, duty, freq) {
    pwmLog.push([world, boot, pin, duty, freq]);
  },
  pout(pin, v) {
    if (pinLog.length < PIN_LOG_MAX) pinLog.push([world, boot, pin, v]);
  },
  adc(pin) {
    return Math.min(65535, Math.max(0, Math.round((adcVolts(pin) * 1000 / job.profile.adc_max_mv) * 65535)));
  },
  adcuv(pin) {
    return Math.round(adcVolts(pin) * 1e6);
  },
  rtc() {
    return rtcOffsetS + Math.floor(world / 1e6);
  },
  rtcset(secs) {
    rtcOffsetS = secs - Math.floor(world / 1e6);
  },
  wdt(timeoutMs) {
    wdtTimeoutUs = timeoutMs * 1000;
    wdtDeadline = world + wdtTimeoutUs;
  },
  feed() {
    if (wdtTimeoutUs) wdtDeadline = world + wdtTimeoutUs;
  },
  cause: () => resetCause,
  reset(kind) {
    hardReset(kind);
  },
  cfg: () => JSON.stringify(job.board),
  finish(text) {
    finishRun(JSON.parse(text));
  },
  mainend(code, tb) {
    mainState = { code, traceback: tb || null, world_s: world / 1e6 };
  },
  fsblocks: () => flashCapBlocks,
  fsfree: () => Math.max(0, flashCapBlocks - Math.max(0, countBlocks())),
};

function adcVolts(pin) {
  const p = job.profile;
  if (pin === p.battery_adc && p.battery_divider) return job.battery_v / p.battery_divider;
  if (pin === 30 && p.port === "rp2") return 0.706; // rp2 ADC(4): the temperature sensor at 27 C
  return 0;
}

// ---------------------------------------------------------------- booting
const romFiles = Object.entries(job.rom).map(([vm, host]) => [vm, host ? fs.readFileSync(host) : Buffer.alloc(0)]);
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
  const vm = await loadMicroPython({
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
  keepAlive.push(vm.globals.__dict__);
  const FS = vm.FS;
  for (const [vmPath, data] of romFiles) {
    FS.mkdirTree(path.posix.dirname(vmPath));
    FS.writeFile(vmPath, data);
  }
  loadFlash(FS);
  patchFS(FS);
  vm.registerJsModule("_vbjs", hooks);
  return vm;
}

function runFile(name) {
  if (!mp.FS.analyzePath(`${FLASH}/${name}`).exists) return 1;
  try {
    return mp.runPython(`__import__("_vb").run_file(${JSON.stringify(name)})`);
  } catch (e) {
    if (e && e.name === "PythonError") {
      vmOut(Buffer.from(e.message));
      return 0;
    }
    throw e;
  }
}

// ---------------------------------------------------------------- the REPL
let rawMode = false;
let rawLen = 0; // bytes of the raw REPL's current input line

function feed(c) {
  const r = mp.replProcessChar(c);
  if (!rawMode) {
    if (c === 0x01 && tail.endsWith(RAW_REPL_BANNER + ">")) {
      rawMode = true;
      rawLen = 0;
    }
  } else if (c === 0x02) {
    rawMode = false;
  } else if (c === 0x01 || c === 0x03 || c === 0x04) {
    rawLen = 0;
  } else {
    rawLen++;
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
      rawLen = 0;
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
  for (const c of code) mp.replProcessChar(c);
  dropOK = 2;
  try {
    return feed(0x04);
  } finally {
    dropOK = 0;
    rawLen = 0;
  }
}

function replLoop() {
  for (;;) {
    const c = readByte();
    let r;
    if (rawMode && rawLen === 0 && c === 0x05) {
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
          rawLen = 0;
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

async function runBoard(raw) {
  mp = await bootVM();
  M = mp._module;
  boots++;
  boot = world;
  hw = world;
  dueAt = Infinity;
  irqCtx = 0;
  rawMode = false;
  rawLen = 0;
  originRate = 0; // the IMU emulator of this VM starts powered down
  mp.runPython(LOADER);
  let r = runFile("boot.py");
  if (r & FORCED_EXIT) return raw;
  if (!raw && r !== 0) {
    const hasMain = mp.FS.analyzePath(`${FLASH}/main.py`).exists;
    mainState = null;
    r = runFile("main.py");
    if (r & FORCED_EXIT) return false;
    if (trace && !job.serve && !runEndFired) {
      runEndFired = true;
      if (!hasMain) mainState = { code: 1, traceback: "no /main.py on the board", world_s: world / 1e6 };
      finishRun({ reason: "main_exit", status: null, imu: null });
    }
  }
  if (raw) {
    // after a soft reset from the raw REPL the board comes back in it, bannerless
    mute = true;
    try {
      mp.replInit();
      feed(0x01);
    } finally {
      mute = false;
    }
    emitStr(RAW_REPL_BANNER + ">");
    rawMode = true;
    rawLen = 0;
  } else {
    mp.replInit();
  }
  replLoop();
  return rawMode;
}

async function main() {
  let raw = false;
  let stopReason = "stopped";
  for (;;) {
    try {
      raw = await runBoard(raw);
      // soft reset: the VM is thrown away, the flash kept
      flushOut();
      if (fsDirty) syncFlash();
      emitStr("MPY: soft reboot\r\n");
      resetCause = 5; // machine.SOFT_RESET
    } catch (e) {
      flushOut();
      if (e instanceof HardReset) {
        if (fsDirty) syncFlash();
        wdtTimeoutUs = 0;
        wdtDeadline = Infinity;
        raw = false;
        resetCause = e.kind === "watchdog" ? 3 : e.kind === "machine.deepsleep" ? 4 : 2;
        continue;
      }
      if (e instanceof StopBoard) {
        stopReason = e.reason;
        break;
      }
      throw e;
    }
  }
  if (mp) syncFlash();
  if (!result) {
    try {
      finishRun({ reason: stopReason, status: null, imu: null });
    } catch (e) {
      if (!(e instanceof StopBoard)) throw e;
    }
  }
  flushOut();
  post({ t: "stopped", reason: stopReason });
}

main().catch((e) => {
  try {
    flushOut();
    if (mp) syncFlash();
  } catch (_) {
    /* the original error matters more */
  }
  post({ t: "error", message: String((e && e.stack) || e) });
});
