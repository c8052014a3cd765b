// The REPL front end: the VM's event-driven REPL, fed byte by byte from the serial
// line, plus raw-paste mode, which this VM build cannot do itself (its stdin reads
// return 0 at once).

import { vm } from "./common.mjs";
import { serial, emit, emitStr, flushOut, readByte } from "./serial.mjs";

export const FORCED_EXIT = 0x100; // pyexec: the REPL ended for a soft reset
const RAW_PASTE_WINDOW = 128; // MICROPY_REPL_STDIN_BUFFER_MAX / 2, as the ports use
const RAW_REPL_BANNER = "raw REPL; CTRL-B to exit\r\n";

export const repl = {
  raw: false, // in the raw REPL
  rawLen: 0, // bytes of the raw REPL's current input line
};

export function replReset() {
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

export function replStart(raw) {
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

export function replLoop() {
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
