// The pure parts of the check-in edge: paths, bodies, names, lenient JSON, rate limiting, Job and
// Pod interpretation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { constantTimeEquals, bearerToken } from '../../../src/checkin/auth.ts';
import { cutUtf8, parseCheckinBody } from '../../../src/checkin/body.ts';
import { HttpError } from '../../../src/checkin/errors.ts';
import { gotelName, parseLenientJson } from '../../../src/checkin/gotel-api.ts';
import { checkinsForJob, owningCronJob, reservationsForJob, type BatchJob } from '../../../src/checkin/job-watcher.ts';
import { RateLimiter } from '../../../src/checkin/rate-limit.ts';
import { parseCheckinPath } from '../../../src/checkin/router.ts';
import { podCheckins } from '../../../src/cli/sidecar.ts';
import { checkinPath, parseReservationRef } from '../../../src/cli/checkin-client.ts';
import type { Reservation } from '../../../src/api/reservation.ts';

const status = (fn: () => unknown): number => {
  try {
    fn();
    return 0;
  } catch (e) {
    return e instanceof HttpError ? e.status : -1;
  }
};

describe('parseCheckinPath', () => {
  it.each([
    ['/ns/name', { namespace: 'ns', name: 'name', signal: 'success' }],
    ['/ns/name/', { namespace: 'ns', name: 'name', signal: 'success' }],
    ['/ns/a.b-c/start', { namespace: 'ns', name: 'a.b-c', signal: 'start' }],
    ['/ns/name/fail', { signal: 'fail' }],
    ['/ns/name/log', { signal: 'log' }],
    ['/ns/name/0', { signal: 'success', exitCode: 0 }],
    ['/ns/name/255', { signal: 'fail', exitCode: 255 }],
    ['/ns/name/success', { signal: 'success' }],
  ])('%s', (path, expected) => expect(parseCheckinPath(path)).toMatchObject(expected));

  it.each([
    ['/ns', 404],
    ['/ns/name/start/x', 404],
    ['/ns/name/nope', 404],
    ['/ns/name/256', 400],
    ['/NS/name', 400],
    ['/ns/Name', 400],
    ['/ns/%zz', 400],
    [`/${'a'.repeat(64)}/x`, 400],
    ['/ns/-x', 400],
  ])('%s is refused with %i', (path, code) => expect(status(() => parseCheckinPath(path))).toBe(code));

  it('never throws anything but an HttpError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        expect(status(() => parseCheckinPath(`/${s}`))).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});

describe('parseCheckinBody', () => {
  it('takes text as the message, trimmed and cut to the limit on a character boundary', () => {
    expect(parseCheckinBody(Buffer.from('  hello \n'), 'text/plain', 100)).toEqual({ message: 'hello' });
    expect(parseCheckinBody(Buffer.from('a=b'), 'application/x-www-form-urlencoded', 100)).toEqual({ message: 'a=b' });
    const cut = parseCheckinBody(Buffer.from('€'.repeat(10)), undefined, 7).message!;
    expect(cut).toBe('€€');
    expect(parseCheckinBody(Buffer.alloc(0), 'application/json', 10)).toEqual({});
  });

  it('reads the JSON fields and refuses wrong types with 400', () => {
    const raw = Buffer.from(JSON.stringify({ runId: 'r', message: 'm', exitCode: 2, durationSeconds: 1.5, source: 'cli', other: 1 }));
    expect(parseCheckinBody(raw, 'application/json; charset=utf-8', 100)).toEqual({ runId: 'r', message: 'm', exitCode: 2, durationSeconds: 1.5, source: 'cli' });
    for (const bad of ['{', '[]', '3', '{"exitCode": 256}', '{"exitCode": "1"}', '{"runId": 5}', '{"durationSeconds": -1}', '{"message": {}}']) {
      expect(status(() => parseCheckinBody(Buffer.from(bad), 'application/json', 100)), bad).toBe(400);
    }
    expect(parseCheckinBody(Buffer.from('"just text"'), 'application/json', 100)).toEqual({ message: 'just text' });
    expect(parseCheckinBody(Buffer.from('{"source": "spoofed"}'), 'application/json', 100)).toEqual({});
  });

  it('cutUtf8 never exceeds the limit nor splits a character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 50 }), fc.integer({ min: 0, max: 60 }), (s, max) => {
        const cut = cutUtf8(s, max);
        expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(Math.max(max, 0));
        expect(s.startsWith(cut) || Buffer.byteLength(s) > max).toBe(true);
      }),
    );
  });
});

describe('auth helpers', () => {
  it('reads bearer tokens and refuses other schemes', () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer  abc')).toBe('abc');
    expect(status(() => bearerToken('Basic abc'))).toBe(401);
    expect(status(() => bearerToken('Bearer a b'))).toBe(401);
  });
  it('compares secrets of any length', () => {
    expect(constantTimeEquals('abc', 'abc')).toBe(true);
    expect(constantTimeEquals('abc', 'abcd')).toBe(false);
    expect(constantTimeEquals('', 'x')).toBe(false);
  });
});

describe("GoTel's API helpers", () => {
  it('makes valid names from app and component', () => {
    expect(gotelName('testapp', 'requests')).toBe('testapp-requests');
    expect(gotelName('My App', 'Job_1')).toBe('my-app-job-1');
    const long = gotelName('a'.repeat(60), 'b'.repeat(60));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, c) => {
        const n = gotelName(a, c);
        expect(n.length).toBeLessThanOrEqual(63);
        if (n) expect(n).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      }),
    );
  });
  it("forgives the README's missing comma, and nothing else", () => {
    expect(parseLenientJson('{\n "a": "x"\n "b": 5\n}')).toEqual({ a: 'x', b: 5 });
    expect(status(() => parseLenientJson('{"a": '))).toBe(400);
  });
});

describe('RateLimiter', () => {
  it('allows a burst, then the rate, and says how long to wait', () => {
    let now = 0;
    const rl = new RateLimiter({ perSecond: 2, burst: 3 }, () => now);
    expect([rl.take('k'), rl.take('k'), rl.take('k')]).toEqual([0, 0, 0]);
    expect(rl.take('k')).toBe(1);
    expect(rl.take('other')).toBe(0);
    now += 500;
    expect(rl.take('k')).toBe(0);
    expect(rl.take('k')).toBeGreaterThan(0);
  });
});

describe('Job and Pod interpretation', () => {
  const job = (status: BatchJob['status'], owner = 'nightly'): BatchJob => ({
    metadata: { name: 'nightly-1', namespace: 'ns', uid: 'u1', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: owner, controller: true }] },
    status,
  });
  it('derives start, success with duration, and fail with reason', () => {
    expect(checkinsForJob(job({}))).toEqual([]);
    expect(checkinsForJob(job({ startTime: '2026-01-01T00:00:00Z' })).map((d) => d.input.signal)).toEqual(['start']);
    const done = checkinsForJob(job({ startTime: '2026-01-01T00:00:00Z', completionTime: '2026-01-01T00:01:30Z', conditions: [{ type: 'Complete', status: 'True' }] }));
    expect(done[1]?.input).toMatchObject({ signal: 'success', runId: 'u1', durationSeconds: 90, exitCode: 0, source: 'job' });
    const failed = checkinsForJob(
      job({ startTime: '2026-01-01T00:00:00Z', conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'too many', lastTransitionTime: '2026-01-01T00:00:10Z' }] }),
    );
    expect(failed[1]?.input).toMatchObject({ signal: 'fail', durationSeconds: 10, message: 'Job nightly-1 failed: BackoffLimitExceeded: too many' });
  });
  it('matches Jobs to Reservations by CronJob owner or Job name', () => {
    const r = (name: string, jobRef: Reservation['spec']['jobRef'], ns = 'ns'): Reservation => ({ apiVersion: 'gotel.io/v1alpha1', kind: 'Reservation', metadata: { name, namespace: ns }, spec: { every: '1h', ...(jobRef ? { jobRef } : {}) } });
    const all = [r('a', { kind: 'CronJob', name: 'nightly' }), r('b', { kind: 'Job', name: 'nightly-1' }), r('c', { kind: 'CronJob', name: 'other' }), r('d', { kind: 'CronJob', name: 'nightly' }, 'elsewhere'), r('e', undefined)];
    expect(owningCronJob(job({}))).toBe('nightly');
    expect(reservationsForJob(job({}), all).map((x) => x.metadata.name)).toEqual(['a', 'b']);
  });
  it("reads a Pod's main container: start, end with exit code, and a restart's previous run", () => {
    const pod = (cs: object) => ({ metadata: { uid: 'p' }, status: { containerStatuses: [{ name: 'main', ...cs }] } });
    expect(podCheckins(pod({ state: { waiting: {} } }), 'main')).toEqual([]);
    expect(podCheckins(pod({ state: { running: {} } }), 'main')).toEqual([{ runId: 'p-0', kind: 'start' }]);
    expect(podCheckins(pod({ state: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:02Z' } } }), 'main')).toEqual([
      { runId: 'p-0', kind: 'start' },
      { runId: 'p-0', kind: 137, durationSeconds: 2, message: 'container main OOMKilled' },
    ]);
    const restarted = podCheckins(pod({ restartCount: 1, lastState: { terminated: { exitCode: 1, startedAt: 'x' } }, state: { running: {} } }), 'main');
    expect(restarted.map((e) => [e.runId, e.kind])).toEqual([['p-0', 'start'], ['p-0', 1], ['p-1', 'start']]);
    expect(podCheckins(pod({ state: { running: {} } }), 'other')).toEqual([]);
  });
});

describe('CLI helpers', () => {
  it('reads NS/NAME and builds check-in paths', () => {
    expect(parseReservationRef('a/b', {})).toEqual({ namespace: 'a', name: 'b' });
    expect(parseReservationRef('b', { GOTEL_NAMESPACE: 'n' })).toEqual({ namespace: 'n', name: 'b' });
    expect(() => parseReservationRef('a/b/c', {})).toThrow('NAMESPACE/NAME');
    expect(checkinPath({ namespace: 'a', name: 'b', kind: 'success' })).toBe('/checkin/a/b');
    expect(checkinPath({ namespace: 'a', name: 'b', kind: 3 })).toBe('/checkin/a/b/3');
    expect(checkinPath({ namespace: 'a', name: 'b', kind: 'start' })).toBe('/checkin/a/b/start');
  });
});
