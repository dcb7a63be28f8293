// Helpers shared by the suites that drive a live `fmserve serve`: keys made with the CLI, a server on a free
// loopback port (its log kept), and a bounded stop.
import { spawn, execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const binary = process.env.FMSERVE_BINARY ?? join(here, "../../build/bin/fmserve");
export const fixtures = process.env.FMSERVE_FIXTURES_DIR ?? join(here, "../../../shared/fixtures");

// Creates an API key for `folder` in `dataDir`; returns its secret (the last line the CLI prints).
export function createKey(dataDir, folder, ...extra) {
  const out = execFileSync(binary, ["keys", "create", "--data-dir", dataDir, "--folder", folder, ...extra], { encoding: "utf8" });
  return out.trimEnd().split("\n").pop();
}

// Starts `fmserve serve`; resolves with {process, url, log} (log grows as the server writes). `env` adds
// environment variables (FMSERVE_CRASH_POINT).
export async function startServer(config, dataDir, threads = 2, env = {}) {
  const child = spawn(binary, ["serve", "--config", config, "--data-dir", dataDir, "--port", "0", "-t", String(threads)],
                      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
  const state = { process: child, url: null, log: "" };
  state.url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start in 20 s")), 20000);
    child.stderr.on("data", (d) => {
      state.log += d;
      const m = state.log.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}: ${state.log}`)));
  });
  return state;
}

// Sends `signal` (SIGTERM: in-flight requests finish), then SIGKILL after 10 s.
export function stopServer(child, signal = "SIGTERM") {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
    child.on("exit", () => { clearTimeout(timer); resolve(); });
    child.kill(signal);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
