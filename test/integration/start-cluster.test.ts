// `gotel start` with a cluster configured runs the operator with the GOTEL_* variables read as
// `gotel operator` reads them: GOTEL_GOTEL_API=1 serves GoTel's API, and
// GOTEL_GOTEL_API_ANONYMOUS=0 keeps it closed to requests without credentials (=1 opens it).
// A real `gotel start` process against the suite's apiserver.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { eventually, freshNamespace } from './helpers.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
let dir: string;
let ns: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gotel-start-cluster-'));
  await writeFile(join(dir, 'kubeconfig'), inject('kubeconfig'));
  ns = await freshNamespace('start-cluster');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `gotel start` until it says where it serves; resolves with that URL and the process. */
async function start(env: Record<string, string>): Promise<{ url: string; child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [MAIN, 'start'], {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      KUBECONFIG: join(dir, 'kubeconfig'),
      GOTEL_LISTEN: '127.0.0.1:0',
      GOTEL_METRICS_LISTEN: '127.0.0.1:0',
      GOTEL_NAMESPACES: ns,
      GOTEL_LEADER_ELECTION_NAMESPACE: ns,
      GOTEL_GOTEL_API_NAMESPACE: ns,
      GOTEL_LOG_LEVEL: 'silent',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const url = await eventually(() => Promise.resolve(/operator running; check-ins, \/healthz on (http:\/\/\S+?),/.exec(out)?.[1]), 60_000, 'gotel start to serve');
    return { url, child, exited };
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- gotel start printed ---\n${out}`, { cause: err });
  }
}

describe('gotel start on a cluster', () => {
  it('reads GOTEL_GOTEL_API=1 and GOTEL_GOTEL_API_ANONYMOUS=0/1 as gotel operator does', { timeout: 180_000 }, async () => {
    for (const [anonymous, expected] of [['0', 401], ['1', 200]] as const) {
      const started = await start({ GOTEL_GOTEL_API: '1', GOTEL_GOTEL_API_ANONYMOUS: anonymous });
      try {
        const list = await fetch(`${started.url}/reservation`);
        expect(list.status, `GOTEL_GOTEL_API_ANONYMOUS=${anonymous}`).toBe(expected);
      } finally {
        started.child.kill('SIGTERM');
        expect(await started.exited).toBe(0);
      }
    }
  });
});
