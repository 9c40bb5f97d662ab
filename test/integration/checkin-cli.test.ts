// `gotel checkin` and `gotel run` as a user runs them, against a check-in server on a real apiserver.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeRest } from '../../src/k8s/rest.ts';
import { createReservation, getReservation, grant, serviceAccountToken, startCheckinServer, type CheckinServer } from './checkin-helpers.ts';
import { freshNamespace, kubeConfig } from './helpers.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const kc = kubeConfig();
const admin = new KubeRest(kc);
let ns: string;
let server: CheckinServer;
let token: string;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function gotel(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

/** A loopback port where nothing listens. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  ns = await freshNamespace('checkin-cli');
  server = await startCheckinServer(kc, { rateLimit: false });
  token = await serviceAccountToken(admin, ns, 'job');
  await grant(admin, ns, 'job', ['checkin']);
});
afterAll(async () => {
  await server.close();
  admin.close();
});

describe('gotel checkin', () => {
  it('checks in with flags or GOTEL_URL/GOTEL_TOKEN and prints the verdict', async () => {
    await createReservation(admin, ns, 'cli', { every: '5m' });
    const start = await gotel(['checkin', `${ns}/cli`, '--start', '--run-id', 'r-1', '--url', server.url, '--token', token]);
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    expect(start.stdout).toMatch(new RegExp(`^${ns}/cli: stored; state Running; next deadline \\d{4}-`));
    const end = await gotel(['checkin', `${ns}/cli`, '--exit-code', '2', '--run-id', 'r-1', '-m', 'oops', '--json'], { GOTEL_URL: server.url, GOTEL_TOKEN: token });
    expect(end.code).toBe(0);
    expect(JSON.parse(end.stdout)).toMatchObject({ ok: true, state: 'Failed', checkin: { signal: 'fail', exitCode: 2, runId: 'r-1', message: 'oops', source: 'cli' } });
    const stored = await getReservation(admin, ns, 'cli');
    expect(stored.status?.recent?.map((c) => [c.signal, c.runId])).toEqual([['start', 'r-1'], ['fail', 'r-1']]);
  });

  it('exits 1 with the reason on stderr when refused, 2 on bad usage', async () => {
    const refused = await gotel(['checkin', `${ns}/cli`, '--url', server.url, '--token', 'wrong']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('HTTP 401 Unauthorized');
    const missing = await gotel(['checkin', `${ns}/missing`, '--url', server.url, '--token', token]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('HTTP 404');
    const usage = await gotel(['checkin', `${ns}/cli`, '--start', '--fail', '--url', server.url]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('at most one of');
  });
});

describe('gotel run', () => {
  it('passes stdin and stdout through, exits with the command\'s code, and records start and end with run id and duration', async () => {
    await createReservation(admin, ns, 'wrapped', { every: '5m' });
    const env = { GOTEL_URL: server.url, GOTEL_TOKEN: token };
    const ok = await gotel(['run', `${ns}/wrapped`, '--run-id', 'ok-1', '--', 'sh', '-c', 'cat; echo done'], env, 'from stdin\n');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('from stdin\ndone\n');
    expect(ok.stderr).toBe('');
    let st = (await getReservation(admin, ns, 'wrapped')).status!;
    expect(st.recent?.map((c) => [c.signal, c.runId])).toEqual([['start', 'ok-1'], ['success', 'ok-1']]);
    expect(st.lastCheckin).toMatchObject({ exitCode: 0, message: 'from stdin\ndone', source: 'cli' });
    expect(st.lastCheckin?.durationSeconds).toBeGreaterThan(0);
    expect(st.state).toBe('Healthy');

    const three = await gotel(['run', `${ns}/wrapped`, '--', 'sh', '-c', 'echo bad >&2; exit 3'], env);
    expect(three.code).toBe(3);
    expect(three.stderr).toBe('bad\n');
    st = (await getReservation(admin, ns, 'wrapped')).status!;
    const [startCk, endCk] = st.recent!.slice(-2);
    expect(startCk).toMatchObject({ signal: 'start' });
    expect(endCk).toMatchObject({ signal: 'fail', exitCode: 3, runId: startCk!.runId, message: 'bad' });
    expect(startCk!.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(st.state).toBe('Failed');
    expect(st.running ?? []).toEqual([]);

    const killed = await gotel(['run', `${ns}/wrapped`, '--', 'sh', '-c', 'kill -TERM $$'], env);
    expect(killed.code).toBe(143);
    st = (await getReservation(admin, ns, 'wrapped')).status!;
    expect(st.lastCheckin).toMatchObject({ signal: 'fail', exitCode: 143 });
  });

  it('forwards a signal it receives to the command', async () => {
    await createReservation(admin, ns, 'signalled', { every: '5m' });
    const child = spawn(process.execPath, [MAIN, 'run', `${ns}/signalled`, '--url', server.url, '--token', token, '--', 'sh', '-c', 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        if (stdout.includes('ready')) resolve();
      }),
    );
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(stdout).toContain('got-term');
    expect(code).toBe(7);
    expect((await getReservation(admin, ns, 'signalled')).status?.lastCheckin).toMatchObject({ signal: 'fail', exitCode: 7, message: 'ready\ngot-term' });
  });

  it('gives the command the SIGPIPE a shell would when its output is closed (| head -1)', async () => {
    await createReservation(admin, ns, 'piped', { every: '5m' });
    const child = spawn(process.execPath, [MAIN, 'run', `${ns}/piped`, '--url', server.url, '--token', token, '--', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy(); // what `head -1` does after its line
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(code).toBe(141);
    const st = (await getReservation(admin, ns, 'piped')).status!;
    expect(st.lastCheckin).toMatchObject({ signal: 'fail', exitCode: 141 });
  });

  it('still runs the command, with its exit code, when GoTel cannot be reached', async () => {
    const port = await deadPort();
    const down = await gotel(['run', `${ns}/wrapped`, '--url', `http://127.0.0.1:${port}`, '--retries', '1', '--', 'sh', '-c', 'echo still-ran; exit 5'], { GOTEL_TOKEN: token });
    expect(down.code).toBe(5);
    expect(down.stdout).toBe('still-ran\n');
    expect(down.stderr).toContain('start check-in not stored');
    expect(down.stderr).toContain('ECONNREFUSED');
    expect(down.stderr).toContain('end check-in (exit code 5) not stored');
    const unconfigured = await gotel(['run', `${ns}/wrapped`, '--', 'sh', '-c', 'exit 0']);
    expect(unconfigured.code).toBe(0);
    expect(unconfigured.stderr).toContain('no GoTel URL');
  });
});
