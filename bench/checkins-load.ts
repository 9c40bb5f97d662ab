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
}

const job = workerData as Job;
const target = new URL(job.url);
const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });

function post(path: string): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request(
      { host: target.hostname, port: target.port, method: 'POST', path, agent, headers: { 'Content-Type': 'text/plain', ...(job.token ? { Authorization: `Bearer ${job.token}` } : {}) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0 }));
      },
    );
    req.on('error', () => resolve({ ms: performance.now() - t0, status: 0 }));
    req.end('bench');
  });
}

const latencies = new Float64Array(job.total);
const statuses = new Map<number, number>();
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: job.concurrency }, async () => {
    for (;;) {
      const i = next++;
      if (i >= job.total) return;
      const r = await post(`${job.paths[i % job.paths.length]}?rid=${job.ridPrefix}${i}`);
      latencies[i] = r.ms;
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  }),
);
const elapsedMs = performance.now() - started;
agent.destroy();
parentPort?.postMessage({ latencies, elapsedMs, statuses: [...statuses] });
