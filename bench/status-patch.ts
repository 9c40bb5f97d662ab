// How many Reservation status writes per second the local apiserver takes, by status size: the
// ceiling under every durable check-in design that writes status once per check-in.
//   npm run bench:status-patch   (extra kube-apiserver flags as arguments)
// Prints one line per scenario; 100 Reservations, 100 writers in flight, one keep-alive pool.
import { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane } from '../src/dev/control-plane.ts';
import { KubeRest } from '../src/k8s/rest.ts';
import { reservationPath } from '../src/k8s/status-writer.ts';
import { LIMITS } from '../src/api/reservation.ts';

const RESERVATIONS = 100;
const WRITES = 2000;
const IN_FLIGHT = 100;
const ns = 'default';

const plane = await startControlPlane({ name: 'bench', apiserverFlags: process.argv.slice(2), progress: (l) => process.stderr.write(`${l}\n`) });
const kc = new KubeConfig();
kc.loadFromString(plane.kubeconfig);
const rest = new KubeRest(kc);
try {
  for (let i = 0; i < RESERVATIONS; i++) {
    await rest.request({ method: 'POST', path: `/apis/gotel.io/v1alpha1/namespaces/${ns}/reservations`, body: { apiVersion: 'gotel.io/v1alpha1', kind: 'Reservation', metadata: { name: `r${i}` }, spec: { every: '5m' } } });
  }
  // A full history: 20 recent check-ins with 200-byte messages (the CRD allows 10 kB each).
  const recent = Array.from({ length: 20 }, (_, i) => ({ time: new Date().toISOString(), signal: 'success', runId: `run-${i}`, message: 'x'.repeat(200), source: 'http' }));

  const measure = async (label: string, body: (n: number) => unknown, method: 'PATCH' | 'GET' = 'PATCH'): Promise<void> => {
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < WRITES) {
          const n = next++;
          const name = `r${n % RESERVATIONS}`;
          if (method === 'GET') await rest.request({ method, path: reservationPath(ns, name) });
          else await rest.request({ method, path: reservationPath(ns, name, 'status'), contentType: 'application/merge-patch+json', body: body(n) });
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`${label.padEnd(58)} ${String(Math.round(WRITES / seconds)).padStart(5)}/s`);
  };
  console.log(`Reservation status writes, ${RESERVATIONS} Reservations, ${IN_FLIGHT} in flight, kube-apiserver v1.36.3 on loopback`);
  await measure('status PATCH, 20 recent check-ins with 200 B messages', (n) => ({ status: { checkins: n, recent, state: 'Healthy' } }));
  await measure('status PATCH of one counter, same large object', (n) => ({ status: { checkins: n } }));
  await measure('status PATCH, no history (small object)', (n) => ({ status: { checkins: n, recent: null } }));
  // status.runKeys (src/core/dedup.ts) at its cap of 2,048 keys: the day's keys spread over 24 hours,
  // where a write carries the current hour's string; and the worst case, every key in this hour.
  const keys = (count: number, n: number): string => `${'AbCdEfGh'.repeat(count - 1)}${String(n).padStart(8, '0')}`;
  const hours = Array.from({ length: 24 }, (_, h) => `2026-12-01T${String(h).padStart(2, '0')}`);
  const perHour = Math.floor(LIMITS.runKeys / 24);
  const setAll = async (status: unknown): Promise<void> => {
    for (let i = 0; i < RESERVATIONS; i++) await rest.request({ method: 'PATCH', path: reservationPath(ns, `r${i}`, 'status'), contentType: 'application/merge-patch+json', body: { status } });
  };
  await setAll({ recent: null, runKeys: Object.fromEntries(hours.map((h) => [h, keys(perHour, 0)])) });
  await measure(`status PATCH + a run key; runKeys full (${perHour * 24} keys over 24 h)`, (n) => ({ status: { checkins: n, runKeys: { [hours[23]!]: keys(perHour, n) } } }));
  await setAll({ runKeys: null });
  await measure(`status PATCH + a run key; runKeys full (${LIMITS.runKeys} keys, one hour)`, (n) => ({ status: { checkins: n, runKeys: { [hours[23]!]: keys(LIMITS.runKeys, n) } } }));
  await setAll({ runKeys: null });
  await measure('status PATCH of one counter, no runKeys (anchor, as above)', (n) => ({ status: { checkins: n } }));
  await measure('GET of a small Reservation', () => undefined, 'GET');
} finally {
  rest.close();
  await plane.stop();
}
