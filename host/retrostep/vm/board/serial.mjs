// The USB serial line: bytes from the socket arrive in a SharedArrayBuffer ring (the
// main thread writes, this thread reads); a Ctrl-C while code runs schedules
// KeyboardInterrupt, as a board's USB CDC does; output goes back with "\n" sent as
// "\r\n", as the board's REPL sends it.

import { workerData } from "node:worker_threads";
import { post, vm, StopBoard } from "./common.mjs";

const ctrl = new Int32Array(workerData.sab, 0, 16);
const ring = new Uint8Array(workerData.sab, 64);
const RING = ring.length;
const HEAD = 0; // ctrl[HEAD]: where the main thread writes next
const TAIL = 1; // ctrl[TAIL]: where this thread reads next
const STOP = 2; // ctrl[STOP]: 1 = the main thread asks the board to stop

export const IDLE_WAIT_MS = 50;

export const serial = {
  // input: bytes taken from the ring, not yet read
  inq: [],
  inqHead: 0,
  // output: "\n" goes out as "\r\n" (a lone one: the REPL's own "\r\n" stays as is)
  out: new Uint8Array(16384),
  outLen: 0,
  lastByte: 0,
  mute: false, // output of the boot machinery that a board would not print
  dropOK: 0, // raw-paste: swallow the "OK" the VM's raw REPL prints
  tail: "", // the last characters the VM printed (to follow the REPL's mode)
  sinceScan: 0,
  // what the board does while a read waits for input (worker.mjs wires it)
  idle: null,
};

export function waitInput(ms) {
  // wait up to ms for bytes from the socket, unless some are there already
  const h = Atomics.load(ctrl, HEAD);
  if (h === Atomics.load(ctrl, TAIL)) Atomics.wait(ctrl, HEAD, h, ms);
}

export function checkStop() {
  if (Atomics.load(ctrl, STOP)) throw new StopBoard("stopped");
}

export function pumpInput() {
  // bytes from the socket into the input queue; true if a Ctrl-C was taken as an
  // interrupt (only while code runs with the interrupt character set)
  let t = Atomics.load(ctrl, TAIL);
  const h = Atomics.load(ctrl, HEAD);
  if (t === h) return false;
  const M = vm.M;
  const intr = M ? M._mp_hal_get_interrupt_char() : -1;
  const inq = serial.inq;
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
  const s = serial;
  if (s.inqHead >= s.inq.length) return -1;
  const c = s.inq[s.inqHead++];
  if (s.inqHead > 4096 && s.inqHead * 2 > s.inq.length) {
    s.inq.splice(0, s.inqHead);
    s.inqHead = 0;
  }
  return c;
}

export function readByte() {
  for (;;) {
    let c = takeQueued();
    if (c >= 0) return c;
    pumpInput();
    c = takeQueued();
    if (c >= 0) return c;
    serial.idle();
  }
}

export function stdinChar() {
  // sys.stdin of the firmware: blocks for a byte; a Ctrl-C ends the read
  for (;;) {
    const c = takeQueued();
    if (c >= 0) return c;
    if (pumpInput()) return null;
    const c2 = takeQueued();
    if (c2 >= 0) return c2;
    serial.idle();
  }
}

function pushByte(c) {
  const s = serial;
  if (s.outLen === s.out.length) flushOut();
  s.out[s.outLen++] = c;
  s.lastByte = c;
}

export function vmOut(bytes) {
  // the VM's stdout and stderr
  const s = serial;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (s.dropOK) {
      if (c === (s.dropOK === 2 ? 0x4f : 0x4b)) {
        s.dropOK--;
        continue;
      }
      s.dropOK = 0;
    }
    s.tail = (s.tail + String.fromCharCode(c)).slice(-40);
    if (s.mute) continue;
    if (c === 10 && s.lastByte !== 13) pushByte(13);
    pushByte(c);
    if (c === 10) flushOut();
  }
  if ((s.sinceScan += bytes.length) > 512) {
    s.sinceScan = 0;
    pumpInput(); // a program that only prints can still be interrupted
  }
}

export function emit(bytes) {
  for (const c of bytes) pushByte(c);
}
export const emitStr = (s) => emit(Buffer.from(s, "latin1"));

export function flushOut() {
  const s = serial;
  if (!s.outLen) return;
  post({ t: "out", d: s.out.slice(0, s.outLen) });
  s.outLen = 0;
}
