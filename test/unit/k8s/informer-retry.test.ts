// How an informer waits after a failure (retryPlan): the apiserver's outage must not leave it
// asleep on a grown backoff once the apiserver is back.
import { describe, expect, it } from 'vitest';
import { retryPlan } from '../../../src/k8s/informer.ts';
import { KubeApiError } from '../../../src/k8s/rest.ts';

const backoff = { initialMs: 250, maxMs: 30_000 };
const reinitializing = new KubeApiError(429, 'TooManyRequests', 'storage is (re)initializing', {
  kind: 'Status',
  reason: 'TooManyRequests',
  message: 'storage is (re)initializing',
  details: { retryAfterSeconds: 1 },
  code: 429,
});

describe('retryPlan', () => {
  it('a network error: backoff, cut short as soon as /readyz answers', () => {
    expect(retryPlan(new Error('connect ECONNREFUSED 127.0.0.1:6443'), 10, backoff)).toEqual({ delayMs: 30_000, untilReady: 'yes' });
  });

  it('"storage is (re)initializing": the Retry-After it asks, not the grown backoff', () => {
    expect(retryPlan(reinitializing, 12, backoff)).toEqual({ delayMs: 1_000, untilReady: 'no' });
    expect(retryPlan(new KubeApiError(429, 'TooManyRequests', 'slow down', { details: { retryAfterSeconds: 600 } }), 1, backoff).delayMs).toBe(5_000);
    expect(retryPlan(new KubeApiError(429, 'TooManyRequests', 'slow down', 'not json'), 3, backoff).delayMs).toBe(1_000);
  });

  it('a 5xx (etcd away): backoff, cut short once /readyz has failed and answers again', () => {
    expect(retryPlan(new KubeApiError(500, 'InternalError', 'etcdserver: request timed out', {}), 2, backoff)).toEqual({ delayMs: 500, untilReady: 'after-failure' });
  });

  it('a refusal (403, 404): plain backoff, the apiserver being up changes nothing', () => {
    expect(retryPlan(new KubeApiError(403, 'Forbidden', 'no', {}), 20, backoff)).toEqual({ delayMs: 30_000, untilReady: 'no' });
  });
});
