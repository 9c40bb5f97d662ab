// The load generator of bench/checkins.ts, in a worker thread so it does not share the server's
// event loop: `concurrency` keep-alive connections send `total` check-ins over `paths` in turn and
// report each one's acknowledgement time.
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
}

const job = workerData as Job;
const target = new URL(job.url);
const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });

function post(path: string): Promise<{ ms: number; status: number; journaled: boolean }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request(
      { host: target.hostname, port: target.port, method: 'POST', path, agent, headers: { 'Content-Type': 'text/plain', ...(job.token ? { Authorization: `Bearer ${job.token}` } : {}) } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0, journaled: body.includes('"storedIn":"journal"') }));
      },
    );
    req.on('error', () => resolve({ ms: performance.now() - t0, status: 0, journaled: false }));
    req.end('bench');
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
      const r = await post(`${job.paths[i % job.paths.length]}?rid=${job.ridPrefix}${i}`);
      latencies[i] = r.ms + lateBy;
      if (r.journaled) journaled++;
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  }),
);
const elapsedMs = performance.now() - started;
agent.destroy();
parentPort?.postMessage({ latencies, elapsedMs, statuses: [...statuses], journaled });
