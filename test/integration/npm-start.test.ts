// `npm start` with no cluster configured: the demo starts its own control plane, shows the demo
// Reservation's alert as the loopback Slack receiver got it, and Ctrl-C leaves nothing behind.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { eventually } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

it('npm start shows the demo alert within two minutes and stops cleanly on Ctrl-C', { timeout: 180_000 }, async () => {
  const home = await mkdtemp(join(tmpdir(), 'gotel-start-home-'));
  // No KUBECONFIG and a HOME without ~/.kube/config: "no cluster configured".
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, KUBECONFIG: '', GOTEL_LISTEN: '127.0.0.1:0' };
  delete env.KUBECONFIG;
  env.XDG_CACHE_HOME = process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache');
  const child = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const started = Date.now();
    await eventually(() => Promise.resolve(out.includes('Slack received an alert')), 120_000, 'the demo alert');
    expect(Date.now() - started).toBeLessThan(120_000);
    expect(out).toMatch(/default\/demo-never-checks-in: Pending -> Missed/);
    expect(out).toMatch(/Missed: default\/demo-never-checks-in missed its check-in/);
    const dir = /export KUBECONFIG=(\S+)\/kubeconfig/.exec(out)?.[1];
    expect(dir).toBeDefined();
    // Ctrl-C reaches the node process that npm started (the whole foreground group in a terminal).
    const node = await nodePid(child.pid!);
    process.kill(node, 'SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('stopped; nothing left running');
    expect(existsSync(dir!)).toBe(false);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- npm start printed ---\n${out}`, { cause: err });
  } finally {
    child.kill('SIGKILL');
    await rm(home, { recursive: true, force: true });
  }
});

/** The `node src/cli/main.ts start` process under npm (npm runs it through sh), found in /proc. */
async function nodePid(npmPid: number): Promise<number> {
  const { readdir, readFile } = await import('node:fs/promises');
  const rows: { pid: number; ppid: number; args: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    rows.push({ pid: Number(entry), ppid, args: cmdline.split('\0').join(' ') });
  }
  const descendants = new Set([npmPid]);
  for (let changed = true; changed; ) {
    changed = false;
    for (const r of rows) {
      if (descendants.has(r.ppid) && !descendants.has(r.pid)) {
        descendants.add(r.pid);
        changed = true;
      }
    }
  }
  // npm runs the script through `sh -c`, whose command line names it too: take the node process.
  const match = rows.find((r) => descendants.has(r.pid) && r.args.includes('src/cli/main.ts start') && /(^|\/)node /.test(r.args));
  if (!match) throw new Error('the gotel start process was not found under npm');
  return match.pid;
}
