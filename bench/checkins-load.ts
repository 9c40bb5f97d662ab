// The load generator of bench/checkins.ts, in a worker thread so it does not share the server's
// event loop: `concurrency` keep-alive connections send `total` check-ins over `paths` in turn and
// report each one's acknowledgement time. With `bodies` (GoTel's API: one JSON body per target,
// sent as application/json) the path list is cycled together with them, and with `ackMarker` a
// 200 counts as acknowledged only when its body contains it (the original GoTel answers 200
// with "success":false when it failed to store).
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

interface Job {
  url: string;
  paths: string[];
  concurrency: number;
  total: number;
  token?: string;
  /** Run ids are `${ridPrefix}${i}`: unique per run, so no check-in is a repeat of an earlier one. */
  ridPrefix: string;
  /**
   * Offered load, check-ins per second: check-in i is due at start + i/rate and its time is
   * counted from then, so a server that falls behind shows it (no coordinated omission).
   * Without it each client sends its next check-in as soon as the last is answered.
   */
  rate?: number;
  /** JSON bodies, sent with `paths[i % paths.length]` as `bodies[i % bodies.length]`; no `?rid=`. */
  bodies?: string[];
  /** A 200 whose body lacks this is counted under status 0 (not acknowledged). */
  ackMarker?: string;
}

const job = workerData as Job;
const target = new URL(job.url);
const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });

const contentType = job.bodies ? 'application/json' : 'text/plain';

function post(path: string, payload: string): Promise<{ ms: number; status: number; journaled: boolean }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request(
      { host: target.hostname, port: target.port, method: 'POST', path, agent, headers: { 'Content-Type': contentType, ...(job.token ? { Authorization: `Bearer ${job.token}` } : {}) } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          const status = res.statusCode === 200 && job.ackMarker && !body.includes(job.ackMarker) ? 0 : (res.statusCode ?? 0);
          resolve({ ms: performance.now() - t0, status, journaled: body.includes('"storedIn":"journal"') });
        });
      },
    );
    req.on('error', () => resolve({ ms: performance.now() - t0, status: 0, journaled: false }));
    req.end(payload);
  });
}

const latencies = new Float64Array(job.total);
const statuses = new Map<number, number>();
let journaled = 0;
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    for (;;) {
      const i = next++;
      if (i >= job.total) return;
      let lateBy = 0;
      if (job.rate) {
        const due = started + (i * 1000) / job.rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        else lateBy = -wait;
      }
      const r = job.bodies
        ? await post(job.paths[i % job.paths.length]!, job.bodies[i % job.bodies.length]!)
        : await post(`${job.paths[i % job.paths.length]}?rid=${job.ridPrefix}${i}`, 'bench');
      latencies[i] = r.ms + lateBy;
      if (r.journaled) journaled++;
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  }),
);
const elapsedMs = performance.now() - started;
agent.destroy();
parentPort?.postMessage({ latencies, elapsedMs, statuses: [...statuses], journaled });
