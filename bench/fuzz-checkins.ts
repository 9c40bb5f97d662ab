// Hostile traffic against a running check-in server: a `gotel operator` process (the GoTel API on
// too) on a local control plane, sent FUZZ_TOTAL (default 100,000) generated requests that are
// malformed or hostile: paths, methods (HEAD, OPTIONS, TRACE, ...), headers, encodings (gzip bombs,
// broken gzip), sizes, bodies sent slowly, requests that are not HTTP, a burst of idle connections,
// and credentials of every kind (none, garbage, Basic, a valid and a wrong check-in token, a
// ServiceAccount token with and without the right, an expired-looking JWT).
//
// It prints: crashes (the process exited), 5xx other than the documented 503, 4xx whose body is
// not a JSON error, requests left unanswered, the answers by status, and the process's RSS after a
// warm-up, half-way, at the end and after 20 s idle (flat = no leak).
//
//   npm run bench:fuzz-checkins          (FUZZ_TOTAL=20000 FUZZ_SEED=7 FUZZ_CONCURRENCY=32 to change)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../src/api/reservation.ts';
import { startControlPlane } from '../src/dev/control-plane.ts';
import { KubeRest } from '../src/k8s/rest.ts';
import { loadKubeConfig } from '../src/operator/kubeconfig.ts';

const TOTAL = Number(process.env.FUZZ_TOTAL ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 32);
const NS = 'fuzz';
const log = (s: string): void => void process.stderr.write(`${s}\n`);

// ---- a seeded generator (the same requests for the same seed) ---------------------------------

let state = SEED >>> 0;
function rnd(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const chance = (p: number): boolean => rnd() < p;
const printable = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(0x21 + Math.floor(rnd() * 94))).join('');
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));

// ---- the cluster and the operator --------------------------------------------------------------

const plane = await startControlPlane({ name: 'fuzz', progress: log });
const rest = new KubeRest(loadKubeConfig(plane.kubeconfigPath));
const post = (path: string, body: object): Promise<unknown> => rest.request({ method: 'POST', path, body });
await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
const CHECKIN_TOKEN = 's3cret-token-for-fuzz';
await post(`/api/v1/namespaces/${NS}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tok' }, stringData: { token: CHECKIN_TOKEN } });
const reservationsPath = `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURAL}`;
for (const [name, spec] of [
  ['open', { every: '1h', anonymous: true }],
  ['closed', { every: '1h' }],
  ['secret', { every: '1h', tokenSecretRef: { name: 'tok', key: 'token' } }],
  ['cron', { schedule: '*/5 * * * *' }],
] as const) {
  await post(reservationsPath, { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec });
}
async function serviceAccountToken(name: string): Promise<string> {
  await post(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
  const tr = (await post(`/api/v1/namespaces/${NS}/serviceaccounts/${name}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } })) as { status: { token: string } };
  return tr.status.token;
}
const saAllowed = await serviceAccountToken('job');
const saDenied = await serviceAccountToken('nobody');
await post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'Role',
  metadata: { name: 'checkin' },
  rules: [{ apiGroups: [GROUP], resources: [PLURAL], verbs: ['checkin', 'snooze'] }],
});
await post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: { name: 'checkin' },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'checkin' },
  subjects: [{ kind: 'ServiceAccount', name: 'job', namespace: NS }],
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
const PORT = await freePort();
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const operator = spawn(
  process.execPath,
  [MAIN, 'operator', `--kubeconfig=${plane.kubeconfigPath}`, `--namespaces=${NS}`, `--listen=127.0.0.1:${PORT}`, '--metrics-listen=127.0.0.1:0',
    '--identity=fuzz', `--leader-election-namespace=${NS}`, '--gotel-api', `--gotel-api-namespace=${NS}`, '--log-level=error'],
  { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, KUBECONFIG: '' } },
);
let operatorStderr = '';
operator.stderr.on('data', (c: Buffer) => (operatorStderr = (operatorStderr + c.toString()).slice(-4000)));
let exited: string | undefined;
operator.once('exit', (code, signal) => (exited = `exit ${code ?? signal}`));
const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${operator.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

for (let i = 0; ; i++) {
  const res = await fetch(`http://127.0.0.1:${PORT}/readyz`).catch(() => undefined);
  if (res?.status === 200) break;
  if (exited || i > 600) throw new Error(`the operator did not get ready (${exited ?? 'timeout'}): ${operatorStderr}`);
  await new Promise((r) => setTimeout(r, 100));
}

// ---- the requests ------------------------------------------------------------------------------

interface Generated {
  kind: 'http' | 'raw' | 'slow';
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  raw?: string | Buffer;
}

const SEGMENTS = ['open', 'closed', 'secret', 'cron', 'missing', NS, 'default', 'start', 'fail', 'log', 'success', '0', '1', '255', '256', '-1', '1e3', '..', '.', '', '%', '%zz',
  '%C0%AF', '%00', '%2F', '%2e%2e', '%E2%82', '%F0%9F%98%80', 'a'.repeat(300), '<script>', "'or'1'='1", '${jndi:x}', '\u00e9'];
const PREFIXES = ['/checkin', '/checkin/', '/reservation', '/checkout', '/snooze', '/pause', '/', '/metrics', '//checkin', '/status', '/badge', '/healthz', '/readyz', '/api', '/checkin/../metrics', '/CHECKIN'];
const METHODS = ['GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'M-SEARCH'];
const TYPES = ['application/json', 'text/plain', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x', 'application/merge-patch+json', 'application/octet-stream', 'garbage', ';;;', 'application/json; charset="', '*/*'];
const ENCODINGS = ['gzip', 'br', 'identity', 'deflate, gzip', 'x', 'gzip, gzip', 'compress'];
const BOMB = gzipSync(Buffer.alloc(64 * 1024 * 1024)); // 64 MiB of zeros in ~64 KiB
const bearerJwt = (claims: object): string => `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
const CREDENTIALS: (() => string | undefined)[] = [
  () => undefined,
  () => 'Bearer',
  () => 'Bearer ',
  () => `Bearer ${CHECKIN_TOKEN}`,
  () => `Bearer ${CHECKIN_TOKEN}x`,
  () => `bearer ${CHECKIN_TOKEN}`,
  () => `Bearer ${saAllowed}`,
  () => `Bearer ${saDenied}`,
  () => `Bearer ${saAllowed.slice(0, -4)}AAAA`,
  () => bearerJwt({ sub: 'system:admin', exp: 1 }),
  () => `Basic ${Buffer.from('admin:admin').toString('base64')}`,
  () => `Basic ${printable(12)}`,
  () => `Bearer ${printable(1 + Math.floor(rnd() * 80))}`,
  () => `Bearer ${'a'.repeat(8000)}`,
  () => `Digest username="x"`,
  () => `Bearer ${CHECKIN_TOKEN}, Bearer ${saAllowed}`,
];

function genPath(): string {
  let path: string;
  if (chance(0.5)) path = `/checkin/${pick([NS, NS, 'default', 'missing', '%zz'])}/${pick(['open', 'closed', 'secret', 'cron', 'missing', 'open', 'open'])}${chance(0.3) ? `/${pick(SEGMENTS)}` : ''}`;
  else {
    const segs = Array.from({ length: Math.floor(rnd() * 5) }, () => (chance(0.2) ? encodeURIComponent(printable(Math.floor(rnd() * 20))) : pick(SEGMENTS)));
    path = segs.length ? `${pick(PREFIXES).replace(/\/$/, '')}/${segs.join('/')}` : pick(PREFIXES);
  }
  const query = pick(['', '', '?rid=a', '?rid=', '?rid=a&rid=b', '?rid[x]=1', '?rid=%zz', `?rid=${'r'.repeat(300)}`, '?=', '?&&&', '?rid=%E2%82', `?for=${pick(['2h', '-1h', '99999h', 'x', ''])}`,
    `?rid=${encodeURIComponent(printable(20))}`, '?__proto__[x]=1', '?constructor[prototype][x]=1', `?${'a=1&'.repeat(2000)}`]);
  return (path.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c)) + query).replace(/#/g, '%23');
}

function genBody(): Buffer | undefined {
  switch (Math.floor(rnd() * 10)) {
    case 0: return undefined;
    case 1: return Buffer.from(printable(Math.floor(rnd() * 200)));
    case 2: return bytes(Math.floor(rnd() * 300));
    case 3: return Buffer.from(JSON.stringify({ runId: pick([printable(10), 7, null, [], {}, 'x'.repeat(500)]), message: pick(['ok', 3, {}, 'm'.repeat(20_000)]), exitCode: pick([0, 1, -1, 1e308, '1', null, 2 ** 53]), durationSeconds: pick([1, -1, 'x', Infinity]) }));
    case 4: return Buffer.from(pick(['{', '[]', 'null', '"x"', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', '{"a":'.repeat(5000), '[' .repeat(100_000), '1e99999']));
    case 5: return Buffer.alloc(Math.floor(rnd() * 2_000_000), 0x61);
    case 6: return gzipSync(Buffer.from(JSON.stringify({ runId: printable(8), message: 'gz' })));
    case 7: return chance(0.5) ? BOMB : bytes(100);
    case 8: return Buffer.from(`runId=${printable(5)}&message=${'x'.repeat(Math.floor(rnd() * 100))}`);
    default: return Buffer.from(JSON.stringify({ name: pick(['open', printable(8)]), frequency: pick([1, -5, 'x']), time_units: pick(['minutes', 'eons', '']), duration: pick([1, 'x']) }));
  }
}

function genHttp(): Generated {
  const method = pick(METHODS);
  const headers: Record<string, string> = {};
  const auth = pick(CREDENTIALS)();
  if (auth) headers.authorization = auth;
  if (chance(0.6)) headers['content-type'] = pick(TYPES);
  let body = method === 'GET' || method === 'HEAD' ? (chance(0.1) ? genBody() : undefined) : genBody();
  if (body === BOMB || (body && body[0] === 0x1f && body[1] === 0x8b) || chance(0.1)) headers['content-encoding'] = pick(ENCODINGS);
  if (chance(0.05)) headers.expect = pick(['100-continue', 'nonsense']);
  if (chance(0.05)) headers['x-forwarded-for'] = pick(['1.2.3.4', 'garbage', '::1, 10.0.0.1']);
  if (chance(0.05)) headers.host = pick(['', 'evil.example', 'a'.repeat(300)]);
  if (chance(0.05)) headers['content-length'] = String(body?.length ?? 0); // explicit, sometimes for GET
  if (chance(0.03)) body = Buffer.alloc(0);
  return { kind: 'http', method, path: genPath(), headers, body };
}

const RAW: (() => string | Buffer)[] = [
  () => 'GARBAGE\r\n\r\n',
  () => `POST /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n`,
  () => `POST /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello`,
  () => `POST /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`,
  () => `POST /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
  () => `POST /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
  () => `GET /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000 + Math.floor(rnd() * 100_000))}\r\n\r\n`,
  () => `GET /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3000 }, (_, i) => `X-${i}: y`).join('\r\n')}\r\n\r\n`,
  () => `GET / HTTP/0.9\r\n\r\n`,
  () => `GET /\r\n\r\n`,
  () => `POST /checkin/${NS}/open HTTP/2.0\r\nHost: x\r\n\r\n`,
  () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  () => `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`,
  () => `POST /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u0000\u00ff\r\nConnection: close\r\n\r\n`,
  () => `POST /checkin/${NS}/op\u00e9n HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  () => `POST /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\nX-Inject: a\nb\r\nConnection: close\r\n\r\n`,
  () => `POST /checkin/${NS}/open HTTP/1.1\r\n Host: x\r\nConnection: close\r\n\r\n`,
  () => `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  () => Buffer.concat([Buffer.from(`POST /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 50\r\n\r\n`), bytes(50)]),
  () => bytes(1 + Math.floor(rnd() * 2000)),
  () => `POST /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\n\r\nPOST /checkin/${NS}/open HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, // pipelined
  () => '\r\n\r\n\r\n',
];

function generate(): Generated {
  const r = rnd();
  if (r < 0.88) return genHttp();
  if (r < 0.995) return { kind: 'raw', method: 'RAW', path: '', headers: {}, raw: pick(RAW)() };
  return { kind: 'slow', method: 'POST', path: `/checkin/${NS}/${pick(['open', 'closed'])}`, headers: {} };
}

// ---- sending and judging -----------------------------------------------------------------------

interface Answer {
  status: number; // 0: no answer
  contentType: string;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/**
 * One request over the keep-alive pool; one that got no answer is sent again once on a connection
 * of its own, so what counts as unanswered is the server's doing, not a pooled connection the
 * server had just closed (keep-alive race) or an answer lost while a refused body was still sent.
 */
async function sendHttp(g: Generated): Promise<Answer> {
  const first = await sendHttpOnce(g, agent);
  if (first.status !== 0) return first;
  counts.resentFresh++;
  return sendHttpOnce(g, false);
}

function sendHttpOnce(g: Generated, via: Agent | false): Promise<Answer> {
  return new Promise((resolve) => {
    let req;
    try {
      req = request({ host: '127.0.0.1', port: PORT, method: g.method, path: g.path, headers: g.headers, agent: via, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', () => resolve({ status: 0, contentType: '', body: 'response error' }));
      });
    } catch (err) {
      return resolve({ status: -1, contentType: '', body: (err as Error).message }); // the client refused to send it
    }
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, contentType: '', body: err.message }));
    req.end(g.body);
  });
}

function parseRaw(text: string): Answer {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (!m) return { status: 0, contentType: '', body: text.slice(0, 100) };
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  let body = text.slice(head.length + 4);
  if (/transfer-encoding:\s*chunked/i.test(head)) body = body.replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, '');
  const ct = /content-type:\s*([^\r\n]*)/i.exec(head)?.[1] ?? '';
  // Pipelined: judge the first answer only.
  const next = body.search(/HTTP\/1\.1 \d{3}/);
  return { status: Number(m[1]), contentType: ct, body: next > 0 ? body.slice(0, next) : body };
}

/**
 * Writes `payload` on a connection of its own (never half-closed: Node drops the answer to a
 * client that sent FIN before it) and takes what comes back until the server closes or goes
 * quiet for 300 ms after answering (a keep-alive connection), at most 10 s.
 */
function sendRaw(payload: string | Buffer, slow = false): Promise<Answer> {
  return new Promise((resolve) => {
    let out = '';
    let quiet: NodeJS.Timeout | undefined;
    const sock = connect(PORT, '127.0.0.1', () => {
      if (!slow) return void sock.write(payload);
      // Headers, then a body of 100 bytes one byte every 300 ms, abandoned after 3 s.
      sock.write(`POST ${String(payload)} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`);
      const drip = setInterval(() => sock.write('a'), 300);
      setTimeout(() => (clearInterval(drip), sock.destroy()), 3_000);
    });
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('data', (c: Buffer) => {
      out += c.toString('latin1');
      clearTimeout(quiet);
      quiet = setTimeout(() => sock.destroy(), 300);
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(quiet);
      resolve(slow && !out ? { status: 1, contentType: '', body: '' } : parseRaw(out));
    });
  });
}

const counts = { resentFresh: 0, sent: 0, crashes: 0, unexpected5xx: 0, documented503: 0, nonJson4xx: 0, unanswered: 0, clientRefused: 0, slowAbandoned: 0 };
const byStatus = new Map<number, number>();
const examples = new Map<string, string[]>();
const note = (what: string, g: Generated, a: Answer): void => {
  const list = examples.get(what) ?? [];
  if (list.length < 12) list.push(`${g.kind} ${g.method} ${g.path.slice(0, 120)} ${JSON.stringify(g.headers).slice(0, 200)} body=${g.body?.length ?? (g.raw ? String(g.raw).slice(0, 80).replace(/\r\n/g, '\\r\\n') : '-')} -> ${a.status} ${a.contentType} ${a.body.slice(0, 160)}`);
  examples.set(what, list);
};

function judge(g: Generated, a: Answer): void {
  byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
  if (a.status === -1) return void counts.clientRefused++;
  if (a.status === 1) return void counts.slowAbandoned++;
  if (a.status === 0) {
    counts.unanswered++;
    return note('unanswered', g, a);
  }
  if (a.status === 503) counts.documented503++;
  else if (a.status >= 500) {
    counts.unexpected5xx++;
    note('5xx', g, a);
  } else if (a.status >= 400 && g.method !== 'HEAD') {
    let ok: boolean;
    try {
      const parsed = JSON.parse(a.body) as { error?: { reason?: unknown; message?: unknown } };
      ok = a.contentType.includes('application/json') && typeof parsed.error?.reason === 'string' && typeof parsed.error?.message === 'string';
    } catch {
      ok = false;
    }
    if (!ok) {
      counts.nonJson4xx++;
      note('non-JSON 4xx', g, a);
    }
  }
}

async function manyConnections(n: number): Promise<number> {
  const socks = await Promise.all(Array.from({ length: n }, () => new Promise<import('node:net').Socket | undefined>((resolve) => {
    const s = connect(PORT, '127.0.0.1', () => resolve(s));
    s.on('error', () => resolve(undefined));
  })));
  await new Promise((r) => setTimeout(r, 2_000));
  for (const s of socks) s?.destroy();
  return socks.filter(Boolean).length;
}

async function run(total: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total && !exited) {
      next++;
      const g = generate();
      const a = g.kind === 'http' ? await sendHttp(g) : g.kind === 'raw' ? await sendRaw(g.raw!) : await sendRaw(g.path, true);
      counts.sent++;
      judge(g, a);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

const started = Date.now();
await run(Math.min(1000, TOTAL));
const rssWarm = rss();
await run(Math.floor(TOTAL / 2) - counts.sent);
const rssHalf = rss();
const opened = await manyConnections(2000);
await run(TOTAL - counts.sent);
const elapsed = (Date.now() - started) / 1000;
const rssEnd = exited ? NaN : rss();
await new Promise((r) => setTimeout(r, 20_000));
const rssIdle = exited ? NaN : rss();
const still = await fetch(`http://127.0.0.1:${PORT}/checkin/${NS}/open?rid=after-fuzz`, { method: 'POST' }).then((r) => r.status).catch(() => 0);
if (exited) counts.crashes = 1;

console.log(`fuzz-checkins: ${counts.sent} requests (seed ${SEED}, ${CONCURRENCY} at a time) in ${elapsed.toFixed(1)} s, plus ${opened} idle connections at once`);
console.log(`  crashes (process exit)           ${counts.crashes}${exited ? ` (${exited}): ${operatorStderr.slice(-1500)}` : ''}`);
console.log(`  5xx other than 503               ${counts.unexpected5xx}`);
console.log(`  503 (documented: apiserver)      ${counts.documented503}`);
console.log(`  4xx without a JSON error body    ${counts.nonJson4xx}`);
console.log(`  unanswered (closed, timed out)   ${counts.unanswered}`);
console.log(`  slow bodies abandoned unanswered ${counts.slowAbandoned}`);
console.log(`  refused by the client library    ${counts.clientRefused}`);
console.log(`  sent again on a fresh connection ${counts.resentFresh} (no answer over the keep-alive pool)`);
console.log(`  answers by status                ${JSON.stringify(Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0])))}`);
console.log(`  RSS MiB: after warm-up ${rssWarm.toFixed(0)}, half-way ${rssHalf.toFixed(0)}, end ${rssEnd.toFixed(0)}, after 20 s idle ${rssIdle.toFixed(0)}`);
console.log(`  a check-in afterwards            ${still}`);
for (const [what, list] of examples) console.log(`  e.g. ${what}:\n    ${list.join('\n    ')}`);

agent.destroy();
if (!exited) {
  const gone = new Promise((r) => operator.once('exit', r));
  operator.kill('SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
}
rest.close();
await plane.stop();
process.exit(counts.crashes + counts.unexpected5xx + counts.nonJson4xx > 0 ? 1 : 0);
