// Thousands of malformed requests (paths, methods, bodies, headers, sizes, encodings) against the
// check-in server on a real apiserver: no crash, no 5xx, every answer a JSON error (or a stored
// check-in).
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeRest } from '../../src/k8s/rest.ts';
import { createReservation, startCheckinServer, type CheckinServer } from './checkin-helpers.ts';
import { kubeConfig } from './helpers.ts';

const kc = kubeConfig();
const admin = new KubeRest(kc);
// Known before the arbitraries below are built (module load), created in beforeAll.
const ns = `checkin-fuzz-${randomBytes(3).toString('hex')}`;
let server: CheckinServer;
let port: number;

interface Raw {
  status: number;
  contentType: string;
  body: string;
}

function send(method: string, path: string, headers: Record<string, string>, body: Buffer | undefined): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, insecureHTTPParser: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  await admin.request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  server = await startCheckinServer(kc, { gotelApi: { enabled: true, namespace: ns, anonymous: true } });
  port = Number(new URL(server.url).port);
  await createReservation(admin, ns, 'open', { every: '1m', anonymous: true });
  await createReservation(admin, ns, 'closed', { every: '1m' });
});
afterAll(async () => {
  await server.close();
  admin.close();
});

// Path segments: real names, junk, broken and odd percent-encodings, long ones.
const segment = fc.oneof(
  fc.constantFrom('open', 'closed', 'missing', 'start', 'fail', 'log', '0', '3', '255', '256', '-1', '999999', '..', '.', '', '%', '%zz', '%C0%AF', '%00', '%2F', '%E2%82', '%F0%9F%98%80'),
  fc.constant(ns),
  fc.string({ maxLength: 20 }).map((s) => encodeURIComponent(s)),
  fc.stringMatching(/^[a-z0-9.-]{1,300}$/),
);
const path = fc.oneof(
  fc.tuple(fc.constantFrom('/checkin', '/checkin/', '/reservation', '/checkout', '/snooze', '/pause', '/', '/metrics', '//checkin'), fc.array(segment, { maxLength: 5 })).map(([p, segs]) =>
    segs.length ? `${p.replace(/\/$/, '')}/${segs.join('/')}` : p,
  ),
  fc.tuple(fc.constant(`/checkin/${ns}`), fc.constantFrom('open', 'closed', 'missing'), fc.option(fc.constantFrom('start', 'fail', 'log', '0', '7', '256', 'x'))).map(([p, n, a]) => `${p}/${n}${a ? `/${a}` : ''}`),
);
const query = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?rid=a', '?rid=', '?rid=a&rid=b', '?rid[x]=1', '?rid=%zz', `?rid=${'r'.repeat(200)}`, '?=', '?&&&', '?rid=%E2%82'),
  fc.string({ maxLength: 30 }).map((s) => `?rid=${encodeURIComponent(s)}`),
);
const method = fc.constantFrom('GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE');
const contentType = fc.option(
  fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/merge-patch+json', 'application/octet-stream', 'garbage', ';;;'),
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.json({ maxDepth: 3 }).map((s) => Buffer.from(s)),
  fc.record({
    runId: fc.oneof(fc.string({ maxLength: 150 }), fc.integer(), fc.constant(null), fc.array(fc.string())),
    message: fc.oneof(fc.string(), fc.integer(), fc.object()),
    exitCode: fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double(), fc.string(), fc.constant(null)),
    durationSeconds: fc.oneof(fc.double(), fc.constant(-1), fc.string()),
    app: fc.string(),
    component: fc.string(),
    frequency: fc.oneof(fc.integer({ min: -5, max: 100 }), fc.string()),
    time_units: fc.constantFrom('seconds', 'minutes', 'hours', 'days', 'weeks', ''),
    duration: fc.oneof(fc.integer(), fc.string()),
  }, { requiredKeys: [] }).map((o) => Buffer.from(JSON.stringify(o))),
  fc.integer({ min: 60_000, max: 200_000 }).map((n) => Buffer.alloc(n, 0x61)),
);
const extraHeaders = fc.record(
  {
    authorization: fc.oneof(fc.constantFrom('Bearer', 'Bearer ', 'Basic abc', 'bearer x.y.z', 'Bearer a b'), fc.string({ maxLength: 60 }).map((s) => `Bearer ${s.replace(/[^\x21-\x7e]/g, 'x')}`)),
    'content-encoding': fc.constantFrom('gzip', 'br', 'identity', 'deflate, gzip', 'x'),
    accept: fc.constantFrom('*/*', 'text/html', 'application/xml'),
  },
  { requiredKeys: [] },
);

/** Writes `text` on a connection of its own and returns everything the server sent until it closed. */
const raw = (text: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.end(text));
    let out = '';
    sock.on('data', (c: Buffer) => (out += c.toString()));
    sock.on('close', () => resolve(out));
    sock.on('error', reject);
  });

describe('malformed check-ins', () => {
  it('never crash the server, never answer 5xx, always answer JSON', async () => {
    let requests = 0;
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(method, path, query, contentType, body, extraHeaders, async (m, p, q, ct, b, h) => {
        const headers: Record<string, string> = { ...h };
        if (ct) headers['content-type'] = ct;
        const payload = m === 'GET' || m === 'HEAD' ? undefined : b;
        if (payload) headers['content-length'] = String(payload.length);
        const answer = await send(m, p + q, headers, payload);
        requests++;
        seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
        expect(answer.status, `${m} ${p}${q}`).toBeLessThan(500);
        expect(answer.status).toBeGreaterThanOrEqual(200);
        if (m === 'HEAD') return;
        expect(answer.contentType).toContain('application/json');
        const parsed = JSON.parse(answer.body) as { ok?: boolean; success?: boolean; error?: { reason?: unknown; message?: unknown } };
        if (answer.status >= 400) {
          expect(typeof parsed.error?.reason).toBe('string');
          expect(typeof parsed.error?.message).toBe('string');
        } else {
          expect(parsed.ok === true || parsed.success === true).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
    expect(requests).toBe(3000);
    // The generator reaches every layer: stored check-ins, auth, lookups, parsing, methods, sizes.
    for (const code of [200, 400, 401, 404, 405, 413]) expect(seen.get(code) ?? 0, `answers with ${code}`).toBeGreaterThan(0);
    // Still serving.
    const ok = await send('POST', `/checkin/${ns}/open`, {}, Buffer.from('still here'));
    expect(ok.status).toBe(200);
  }, 240_000);

  it('answers requests that are not valid HTTP with a JSON 400 too', async () => {
    for (const text of [
      'GARBAGE\r\n\r\n',
      `POST /checkin/${ns}/open HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n`,
      `POST /checkin/${ns}/open HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`,
      `GET /checkin/${ns}/open HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ]) {
      const answer = await raw(text);
      expect(answer).toMatch(/^HTTP\/1\.1 4\d\d /);
      const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
      expect((JSON.parse(body) as { error: { reason: string } }).error.reason).toMatch(/Malformed|TooLarge/);
    }
  });

  it('answers what Node would refuse by itself (an unknown Expect, CONNECT) with a JSON error, once', async () => {
    const expectation = await raw(`POST /checkin/${ns}/open HTTP/1.1\r\nHost: x\r\nExpect: nonsense\r\nContent-Length: 5\r\n\r\nhello`);
    expect(expectation).toMatch(/^HTTP\/1\.1 417 /);
    const body = expectation.slice(expectation.indexOf('\r\n\r\n') + 4);
    // One answer only: the unread body is not parsed as a second, malformed request.
    expect((JSON.parse(body) as { error: { reason: string } }).error.reason).toBe('ExpectationFailed');
    const tunnel = await raw('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
    expect(tunnel).toMatch(/^HTTP\/1\.1 405 /);
    expect((JSON.parse(tunnel.slice(tunnel.indexOf('\r\n\r\n') + 4)) as { error: { reason: string } }).error.reason).toBe('MethodNotAllowed');
  });
});
