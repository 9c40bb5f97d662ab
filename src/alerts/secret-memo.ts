// A view of a KubeRest whose Secret reads are shared for a few seconds. Anticipating a storm of
// alerts (AlertDispatcher.anticipate) resolves the receivers of thousands of Reservations that
// name the same few Secrets: each is read once per `ttlMs`, not once per Reservation. The read is
// `urgent` in the shared client: a storm's status writes queue there, and every deadline of that
// second to that receiver waits for it before it can join its group. Sends keep reading Secrets
// fresh.
import type { KubeRest, RestRequest } from '../k8s/rest.ts';
import type { Clock } from '../util/clock.ts';

const MAX_ENTRIES = 10_000;

export function withSecretMemo(rest: KubeRest, clock: Clock, ttlMs = 5_000): KubeRest {
  const memo = new Map<string, { at: number; value: Promise<unknown> }>();
  // Everything but `request` is the original's (the view's prototype).
  const view = Object.create(rest) as KubeRest;
  view.request = <T>(req: RestRequest): Promise<T> => {
    if (req.method !== 'GET' || !req.path.includes('/secrets/')) return rest.request<T>(req);
    const now = clock().getTime();
    const hit = memo.get(req.path);
    if (hit && now - hit.at < ttlMs) return hit.value as Promise<T>;
    if (memo.size >= MAX_ENTRIES) memo.clear();
    const value = rest.request<T>({ ...req, urgent: true });
    memo.set(req.path, { at: now, value });
    value.catch(() => memo.delete(req.path)); // a failed read is not shared
    return value;
  };
  return view;
}
