// The virtual board's USB side: owns the loopback socket that stands for the board's
// USB serial port, and the worker thread that runs the board (worker.mjs).
//
//   node host.mjs job.json
//
// Bytes from the socket go into a SharedArrayBuffer ring the worker reads with
// Atomics (the worker is blocked inside the VM most of the time); the board's output
// comes back as messages and goes out of the socket. One client at a time, as one
// program at a time opens a serial port: a new connection replaces the old one.
// Output with no client connected is dropped, as a board's USB CDC drops it.
//
// The Python side (retrostep.vboard) talks to this process through stdio: JSON lines
// on stdout ({"ev": "listening", "port": N}, "event", "result", "console", "stopped",
// "error"), commands as JSON lines on stdin ({"cmd": "stop"}; end of stdin = stop).

import fs from "node:fs";
import net from "node:net";
import readline from "node:readline";
import { Worker } from "node:worker_threads";

const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const RING = job.ring_bytes || 1 << 16;
const sab = new SharedArrayBuffer(64 + RING);
const ctrl = new Int32Array(sab, 0, 16);
const ring = new Uint8Array(sab, 64);
const HEAD = 0;
const TAIL = 1;
const STOP = 2;
const STOP_TIMEOUT_MS = job.stop_timeout_ms || 5000;

const emitEvent = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const consoleLog = job.console_log ? fs.openSync(job.console_log, "a") : null;

// ---------------------------------------------------------------- socket -> ring
let client = null;
const backlog = []; // Buffers waiting for room in the ring
let backlogTimer = null;

function ringWrite(buf) {
  // as much of buf as fits; returns the number of bytes written
  let h = Atomics.load(ctrl, HEAD);
  const t = Atomics.load(ctrl, TAIL);
  const free = (t - h - 1 + RING) % RING;
  const n = Math.min(free, buf.length);
  for (let i = 0; i < n; i++) {
    ring[h] = buf[i];
    h = h + 1 === RING ? 0 : h + 1;
  }
  Atomics.store(ctrl, HEAD, h);
  Atomics.notify(ctrl, HEAD);
  return n;
}

function drainBacklog() {
  while (backlog.length) {
    const b = backlog[0];
    const n = ringWrite(b);
    if (n < b.length) {
      backlog[0] = b.subarray(n);
      if (!backlogTimer) backlogTimer = setTimeout(() => ((backlogTimer = null), drainBacklog()), 2);
      return;
    }
    backlog.shift();
  }
  if (client && client.isPaused()) client.resume();
}

const server = net.createServer({ noDelay: true }, (sock) => {
  if (client) client.destroy();
  client = sock;
  sock.on("data", (buf) => {
    if (sock !== client) return;
    if (backlog.length) {
      backlog.push(buf);
      sock.pause();
      return;
    }
    const n = ringWrite(buf);
    if (n < buf.length) {
      backlog.push(buf.subarray(n));
      sock.pause();
      drainBacklog();
    }
  });
  const gone = () => {
    if (client === sock) client = null;
  };
  sock.on("close", gone);
  sock.on("error", gone);
});
server.on("error", (e) => {
  emitEvent({ ev: "error", message: `cannot listen on 127.0.0.1:${job.port || 0}: ${e.message}` });
  process.exit(2);
});
server.listen(job.port || 0, "127.0.0.1", () => {
  emitEvent({ ev: "listening", port: server.address().port });
});

// ---------------------------------------------------------------- the board
const worker = new Worker(new URL("./worker.mjs", import.meta.url), { workerData: { job, sab } });
let stopping = false;
let stopTimer = null;

// Output goes to the client on the next turn of the event loop, after its pending
// input has been read: a client that writes its last bytes and closes at once, with
// output still unread, makes its kernel reset the connection, and a write landing on
// that reset destroys the socket before the last bytes it sent are read (a Ctrl-D
// after exiting the raw REPL, say).
let toClient = [];
let toClientScheduled = false;
function sendToClient() {
  toClientScheduled = false;
  const bufs = toClient;
  toClient = [];
  if (client && bufs.length) client.write(bufs.length === 1 ? bufs[0] : Buffer.concat(bufs));
}

function output(d) {
  const buf = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  if (client) {
    toClient.push(buf);
    if (!toClientScheduled) {
      toClientScheduled = true;
      setImmediate(sendToClient);
    }
  }
  if (job.echo) process.stderr.write(buf);
  if (consoleLog !== null) fs.writeSync(consoleLog, buf);
  if (job.console_events) emitEvent({ ev: "console", data: buf.toString("base64") });
}

function finish(code) {
  if (consoleLog !== null) fs.closeSync(consoleLog);
  server.close();
  for (const s of [client]) if (s) s.destroy();
  process.stdout.write("", () => process.exit(code));
}

worker.on("message", (msg) => {
  switch (msg.t) {
    case "out":
      output(msg.d);
      break;
    case "event":
      emitEvent({ ev: "event", ...msg.ev });
      break;
    case "result":
      emitEvent({ ev: "result", result: msg.result });
      break;
    case "stopped":
      stopping = true;
      emitEvent({ ev: "stopped", reason: msg.reason });
      finish(0);
      break;
    case "error":
      emitEvent({ ev: "error", message: msg.message });
      finish(70);
      break;
  }
});
worker.on("error", (e) => {
  emitEvent({ ev: "error", message: String((e && e.stack) || e) });
  finish(70);
});
worker.on("exit", () => {
  if (!stopping) {
    emitEvent({ ev: "error", message: "the board's worker thread ended unexpectedly" });
    finish(70);
  }
});

function stop() {
  if (stopping) return;
  stopping = true;
  Atomics.store(ctrl, STOP, 1);
  Atomics.notify(ctrl, HEAD);
  // a VM stuck in a loop that never reaches the board's hooks cannot stop itself
  stopTimer = setTimeout(() => {
    emitEvent({ ev: "stopped", reason: "killed", message: "the board did not stop in time; its last flash sync stands" });
    worker.terminate().finally(() => finish(0));
  }, STOP_TIMEOUT_MS);
  stopTimer.unref();
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (_) {
    return;
  }
  if (cmd.cmd === "stop") stop();
});
rl.on("close", stop);
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
