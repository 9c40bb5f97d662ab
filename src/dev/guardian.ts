// The guardian: a tiny detached process that outlives whoever started a control plane, so that
// etcd, kube-apiserver and the temp directory never survive it, even when that process is
// SIGKILLed or a test run is interrupted.
//
// It learns what to clean from lines on stdin (`pid <n>`, `dir <path>`) and cleans up when stdin
// closes: the kernel closes the pipe when the parent dies, however it dies, so this needs no
// polling. `done` on stdin means the parent cleaned up itself and the guardian just exits.
import { rmSync } from 'node:fs';
import { isAlive } from './processes.ts';

const pids: number[] = [];
const dirs: string[] = [];
let finished = false;

// Ctrl-C reaches the whole foreground process group; the guardian must stay to clean up.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});

let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffer += chunk;
  const lines = buffer.split('\n');
  buffer = lines.pop() ?? '';
  for (const line of lines) {
    const [verb, ...rest] = line.split(' ');
    const arg = rest.join(' ');
    if (verb === 'pid') pids.push(Number(arg));
    else if (verb === 'dir') dirs.push(arg);
    else if (verb === 'done') finished = true;
  }
});
process.stdin.on('end', () => void cleanUp());

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isAlive(pid);
}

async function cleanUp(): Promise<void> {
  if (!finished) {
    // Last started first: the apiserver before etcd.
    for (const pid of [...pids].reverse()) {
      signal(pid, 'SIGTERM');
      if (!(await waitGone(pid, 10_000))) {
        signal(pid, 'SIGKILL');
        await waitGone(pid, 5_000);
      }
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}
