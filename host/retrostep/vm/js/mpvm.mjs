// Run Python source on the real MicroPython VM (WebAssembly build, npm package
// @micropython/micropython-webassembly-pyscript) under Node.js.
//
//   node mpvm.mjs [job.json]        (no argument, or "-": the job is read from stdin)
//
// Job (JSON):
//   {
//     "heapsize": 1048576,          // MicroPython GC heap, bytes (optional)
//     "pystack": 2048,              // Python stack, in words (optional)
//     "files": {"/vm/path": "/host/path" | {"base64": "..."}},
//     "dirs":  {"/lib/rstep": "/host/firmware/rstep"},   // host trees copied into the VM FS
//     "code": "print('hello')",    // or "code_file": "/host/script.py"
//     "outputs": {"/vm/out.bin": "/host/out.bin"},        // read back after the run
//     "result": "/host/result.json"  // optional: structured outcome for a caller
//   }
//
// The program's stdout/stderr go to this process's stdout/stderr, byte for byte.
// Exit status: 0 success; 1 uncaught Python exception (traceback on stderr);
// n for SystemExit(n); 70 the runner or the VM itself failed (bad job, wasm trap).
// The package is found through $RETROSTEP_NODE_MODULES, then node_modules directories
// above this file and above the current directory, then plain Node resolution.
// A run cannot be interrupted from inside: callers must impose a timeout.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const PKG = "@micropython/micropython-webassembly-pyscript";
const EXIT_RUNNER = 70;

function readJob() {
  const arg = process.argv[2];
  const text = !arg || arg === "-" ? fs.readFileSync(0, "utf8") : fs.readFileSync(arg, "utf8");
  return JSON.parse(text);
}

function findPackageEntry() {
  const candidates = [];
  if (process.env.RETROSTEP_NODE_MODULES) candidates.push(process.env.RETROSTEP_NODE_MODULES);
  for (const start of [path.dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    let dir = start;
    for (;;) {
      candidates.push(path.join(dir, "node_modules"));
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  for (const nm of candidates) {
    const pkgDir = path.join(nm, PKG);
    const pj = path.join(pkgDir, "package.json");
    if (fs.existsSync(pj)) {
      const main = JSON.parse(fs.readFileSync(pj, "utf8")).main || "micropython.mjs";
      return pathToFileURL(path.join(pkgDir, main)).href;
    }
  }
  return PKG; // let Node try; fails with ERR_MODULE_NOT_FOUND
}

// Output sink: collect bytes, flush on newline or when the chunk is large.
function makeSink(fd) {
  let buf = Buffer.allocUnsafe(65536);
  let n = 0;
  const flush = () => {
    let off = 0;
    while (off < n) {
      try {
        off += fs.writeSync(fd, buf, off, n - off);
      } catch (e) {
        if (e.code === "EAGAIN") continue;
        if (e.code === "EPIPE") { n = 0; return; }
        throw e;
      }
    }
    n = 0;
  };
  const put = (bytes) => {
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      buf[n++] = c;
      if (c === 10 || n === buf.length) flush();
    }
  };
  return { put, flush };
}

function vmMkdirs(FS, dir) {
  if (dir && dir !== "/") FS.mkdirTree(dir);
}

function vmExists(FS, p) {
  return FS.analyzePath(p).exists;
}

function copyTreeIn(FS, hostDir, vmDir) {
  const st = fs.statSync(hostDir);
  if (!st.isDirectory()) throw new Error(`dirs: ${hostDir} is not a directory`);
  vmMkdirs(FS, vmDir);
  for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
    if (ent.name.startsWith(".") || ent.name === "__pycache__") continue;
    const h = path.join(hostDir, ent.name);
    const v = path.posix.join(vmDir, ent.name);
    const s = fs.statSync(h); // follows symlinks
    if (s.isDirectory()) copyTreeIn(FS, h, v);
    else if (s.isFile()) FS.writeFile(v, fs.readFileSync(h));
  }
}

function writeResult(job, result) {
  if (job && job.result) fs.writeFileSync(job.result, JSON.stringify(result));
}

// "SystemExit", "SystemExit: 3", "SystemExit: bye" -> [code, message]
function systemExitStatus(traceback) {
  const lines = traceback.trimEnd().split("\n");
  const last = lines[lines.length - 1];
  const m = /^SystemExit(?::\s?(.*))?$/.exec(last);
  const arg = m && m[1] !== undefined ? m[1] : "";
  if (arg === "" || arg === "None") return [0, ""];
  if (/^-?\d+$/.test(arg)) return [parseInt(arg, 10) & 0xff, ""];
  return [1, arg];
}

async function main() {
  let job = null;
  const out = makeSink(1);
  const err = makeSink(2);
  try {
    job = readJob();
    const { loadMicroPython } = await import(findPackageEntry());
    const t0 = performance.now();
    const opts = {
      stdout: out.put,
      stderr: err.put,
      linebuffer: false,
    };
    if (job.heapsize) opts.heapsize = job.heapsize;
    if (job.pystack) opts.pystack = job.pystack;
    const mp = await loadMicroPython(opts);
    const FS = mp.FS;
    for (const [vmDir, hostDir] of Object.entries(job.dirs || {})) copyTreeIn(FS, hostDir, vmDir);
    for (const [vmPath, src] of Object.entries(job.files || {})) {
      vmMkdirs(FS, path.posix.dirname(vmPath));
      let data;
      if (typeof src === "string") data = fs.readFileSync(src);
      else if (src && typeof src.base64 === "string") data = Buffer.from(src.base64, "base64");
      else if (src && typeof src.text === "string") data = Buffer.from(src.text, "utf8");
      else throw new Error(`files: bad source for ${vmPath}`);
      FS.writeFile(vmPath, data);
    }
    const code = job.code_file ? fs.readFileSync(job.code_file, "utf8") : job.code;
    if (typeof code !== "string") throw new Error("job has no 'code' (or 'code_file')");
    const t1 = performance.now();

    let status = "ok", exitCode = 0, excType = null, traceback = null;
    try {
      mp.runPython(code);
    } catch (e) {
      if (!e || e.name !== "PythonError") throw e;
      out.flush();
      if (e.type === "SystemExit") {
        const [codeN, msg] = systemExitStatus(e.message);
        status = "exit";
        exitCode = codeN;
        excType = e.type;
        traceback = e.message;
        if (msg) err.put(Buffer.from(msg + "\n"));
      } else {
        status = "exception";
        exitCode = 1;
        excType = e.type;
        traceback = e.message;
        err.put(Buffer.from(traceback.endsWith("\n") ? traceback : traceback + "\n"));
      }
    }
    const t2 = performance.now();
    out.flush();
    err.flush();

    const outputs = {};
    for (const [vmPath, hostPath] of Object.entries(job.outputs || {})) {
      if (vmExists(FS, vmPath)) {
        fs.writeFileSync(hostPath, FS.readFile(vmPath));
        outputs[vmPath] = hostPath;
      } else {
        outputs[vmPath] = null;
      }
    }
    writeResult(job, {
      status, exit_code: exitCode, exc_type: excType, traceback, outputs,
      setup_s: (t1 - t0) / 1000, run_s: (t2 - t1) / 1000,
    });
    return exitCode;
  } catch (e) {
    out.flush();
    err.flush();
    const msg = (e && (e.stack || e.message)) || String(e);
    try {
      writeResult(job, { status: "runner", exit_code: EXIT_RUNNER, message: String(msg) });
    } catch (_) { /* ignore */ }
    fs.writeSync(2, `mpvm: ${msg}\n`);
    return EXIT_RUNNER;
  }
}

process.exitCode = await main();
