// The `npm start` demo's peer half: a second control plane and GoTel watch each other; the
// signal the demo prints stops the peer's GoTel (the local one alerts it Stale) and starts it
// again (recovery); Ctrl-C leaves nothing behind.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { eventually } from './helpers.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

it('shows a peer alert and its recovery when the peer GoTel is stopped and started', { timeout: 180_000 }, async () => {
  const home = await mkdtemp(join(tmpdir(), 'gotel-peer-demo-home-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, GOTEL_LISTEN: '127.0.0.1:0' };
  delete env.KUBECONFIG;
  env.XDG_CACHE_HOME = process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache');
  const child = spawn(process.execPath, [MAIN, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const seen = (what: string | RegExp, timeoutMs: number): Promise<boolean> => eventually(() => Promise.resolve(typeof what === 'string' ? out.includes(what) : what.test(out)), timeoutMs, String(what));
  try {
    await seen(`kill -USR2 ${child.pid}`, 120_000);
    await seen('local: Peer default/peer: Pending -> Up', 30_000);
    child.kill('SIGUSR2');
    await seen('local: Peer default/peer: Up -> Stale', 30_000);
    await seen('Stale: GoTel in cluster "peer" stopped its heartbeat', 10_000);
    child.kill('SIGUSR2');
    await seen('local: Peer default/peer: Stale -> Up', 30_000);
    await seen('Recovered: GoTel in cluster "peer" is Up again (was Stale)', 10_000);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('stopped; nothing left running');
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- gotel start printed ---\n${out}`, { cause: err });
  } finally {
    child.kill('SIGKILL');
    await rm(home, { recursive: true, force: true });
  }
});
