// Alert grouping with `gotel operator` processes against the suite's apiserver and a loopback
// Slack-compatible receiver limited like Slack (about one message a second per webhook, 429 with
// Retry-After beyond). What "named exactly once" means here: every Reservation's alert is in
// exactly one delivered message, either a group (its outbox entry names the group, and that group
// was delivered once: one 2xx answer for a message carrying its id) or a message of its own
// (its entry names no group, and exactly one delivered single message names it). Members are
// counted from the group messages' headlines ("N Reservations ...").
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { OutboxEntry } from '../../src/api/reservation.ts';
import { GROUP_LABEL } from '../../src/alerts/group.ts';
import { GroupStore } from '../../src/alerts/group-store.ts';
import { startSlackReceiver, type ReceivedRequest, type ReceiverAction, type SlackReceiver } from '../../src/dev/slack-receiver.ts';
import { eventually, freshNamespace, kubeConfig } from './helpers.ts';
import { checkIn, createReservation, events, getReservation, rest } from './operator-harness.ts';
import { killAll, killed, operatorProcess, type Cluster } from './peer-harness.ts';
import { KubeRest } from '../../src/k8s/rest.ts';
import { leasePath, type Lease } from '../../src/k8s/leader-election.ts';

const N = 200;
let dir: string;
let cluster: Cluster;
const receivers: SlackReceiver[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gotel-grouping-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, inject('kubeconfig'));
  cluster = { name: 'suite', kubeconfig: inject('kubeconfig'), kubeconfigPath, rest: new KubeRest(kubeConfig()) };
});
afterEach(async () => {
  await killAll();
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});
afterAll(async () => {
  cluster.rest.close();
  await rm(dir, { recursive: true, force: true });
});

async function slackLike(script: ReceiverAction[] = []): Promise<SlackReceiver> {
  const r = await startSlackReceiver({ rateLimit: { perSecond: 1, burst: 2 }, script });
  receivers.push(r);
  return r;
}

function operator(ns: string, identity: string, slack: SlackReceiver) {
  return operatorProcess(cluster, ns, { identity, clusterName: 'grouping', slackUrl: slack.url, args: ['--alert-group-window=3s'] });
}

async function leading(ns: string, identity: string): Promise<void> {
  await eventually(async () => {
    const lease = await rest.request<Lease>({ method: 'GET', path: leasePath(ns, 'gotel-leader') }).catch(() => undefined);
    return lease?.spec.holderIdentity === identity;
  }, 30_000, `${identity} to lead`);
}

const names = Array.from({ length: N }, (_, i) => `r-${String(i).padStart(3, '0')}`);

async function createAll(ns: string): Promise<void> {
  // Due together: every 10s from creation, so their deadlines fall within the seconds creating them takes.
  for (let i = 0; i < N; i += 20) await Promise.all(names.slice(i, i + 20).map((n) => createReservation(ns, n, { every: '10s', grace: '1s' })));
}

/** Each Reservation's first outbox entry of `kind`, once every one is delivered. */
async function allDelivered(ns: string, kind: OutboxEntry['kind'], timeoutMs = 60_000): Promise<Map<string, OutboxEntry>> {
  return eventually(async () => {
    const list = await rest.request<{ items: { metadata: { name: string }; status?: { alert?: { outbox?: OutboxEntry[] } } }[] }>({ method: 'GET', path: `/apis/gotel.io/v1alpha1/namespaces/${ns}/reservations` });
    const got = new Map<string, OutboxEntry>();
    for (const r of list.items) {
      const e = r.status?.alert?.outbox?.find((x) => x.kind === kind);
      if (e?.deliveredTime) got.set(r.metadata.name, e);
    }
    return got.size === N ? got : undefined;
  }, timeoutMs, `all ${N} ${kind} notifications delivered`);
}

interface Seen {
  groups: Map<string, number>; // group id -> members counted from the headline
  groupDeliveries: Map<string, number>;
  singles: Map<string, number>; // Reservation name -> single messages naming it
}

/** What the receiver was told, by message: groups (id, count) and single messages (name). */
function seen(slack: SlackReceiver, ns: string, emoji: string): Seen {
  const s: Seen = { groups: new Map(), groupDeliveries: new Map(), singles: new Map() };
  for (const d of slack.delivered as ReceivedRequest[]) {
    const body = JSON.stringify(d.body);
    if (!body.includes(emoji)) continue;
    const group = /group ([a-z0-9]+-[a-z0-9]+)/.exec(body);
    if (group) {
      const header = (d.body as { blocks: { text?: { text: string } }[] }).blocks[0]!.text!.text;
      s.groups.set(group[1]!, Number(/^(\d+) Reservations? /.exec(header)?.[1]));
      s.groupDeliveries.set(group[1]!, (s.groupDeliveries.get(group[1]!) ?? 0) + 1);
      continue;
    }
    for (const n of names) if (body.includes(`${ns}/${n}`)) s.singles.set(n, (s.singles.get(n) ?? 0) + 1);
  }
  return s;
}

/** Every Reservation named in exactly one delivered message (see the header); returns the messages sent. */
function expectEachNamedOnce(entries: Map<string, OutboxEntry>, s: Seen): number {
  for (const [id, times] of s.groupDeliveries) expect(times, `group ${id} delivered`).toBe(1);
  const byGroup = new Map<string, number>();
  for (const [name, e] of entries) {
    if (e.group) {
      expect(s.groups.has(e.group), `${name}'s group ${e.group} was delivered`).toBe(true);
      expect(s.singles.get(name) ?? 0, `${name} also alone`).toBe(0);
      byGroup.set(e.group, (byGroup.get(e.group) ?? 0) + 1);
    } else {
      expect(s.singles.get(name), `${name} alone`).toBe(1);
    }
  }
  // Each group's headline count is exactly the Reservations whose status names it.
  expect(Object.fromEntries(byGroup)).toEqual(Object.fromEntries(s.groups));
  return s.groups.size + s.singles.size;
}

const groupRecords = async (ns: string): Promise<number> =>
  (await rest.request<{ items: unknown[] }>({ method: 'GET', path: `/api/v1/namespaces/${ns}/configmaps?labelSelector=${encodeURIComponent(GROUP_LABEL)}` })).items.length;

describe('alert grouping', () => {
  it('stores a group and its mark as ConfigMaps that a new reader finds, and deletes both', async () => {
    const ns = await freshNamespace('groupstore');
    const store = new GroupStore(rest, ns);
    const group = { id: 'abc-123', kind: 'alert' as const, reason: 'Missed', target: { type: 'slack' as const, hash: 'h' }, createdTime: new Date().toISOString(), members: [{ namespace: 'a', name: 'b', entryId: 'e', receiver: 'default', dueTime: new Date().toISOString() }] };
    await store.create(group);
    expect((await store.list()).map((g) => [g.group.id, g.mark])).toEqual([['abc-123', undefined]]);
    expect(await store.mark('abc-123', { result: 'delivered', time: '2026-03-10T02:00:00Z' })).toBe(true);
    expect(await store.mark('abc-123', { result: 'delivered', time: '2026-03-10T02:00:01Z' })).toBe(false); // marked once
    expect((await store.list()).map((g) => g.mark)).toEqual([{ result: 'delivered', time: '2026-03-10T02:00:00Z' }]);
    await store.delete('abc-123');
    expect(await groupRecords(ns)).toBe(0);
  });

  it(`brings ${N} Reservations due at once to a rate-limited receiver as a handful of grouped messages, and their recoveries grouped after`, async () => {
    const ns = await freshNamespace('group');
    const slack = await slackLike();
    operator(ns, 'grouping-a', slack);
    await leading(ns, 'grouping-a');
    await createAll(ns);

    const alerts = await allDelivered(ns, 'alert', 120_000);
    // A handful: the alerts come as fast as their status writes, over some seconds on a busy machine
    // (and a leader change starts a quiet period anew), so a few windows' worth, not 200.
    const messages = expectEachNamedOnce(alerts, seen(slack, ns, ':red_circle:'));
    expect(messages).toBeLessThanOrEqual(N / 10);
    expect([...alerts.values()].filter((e) => e.group).length).toBeGreaterThanOrEqual(N * 0.9);
    // Events stay per Reservation.
    await eventually(async () => new Set((await events(ns)).filter((e) => e.reason === 'Missed').map((e) => e.involvedObject.name)).size === N, 30_000, 'a Missed Event per Reservation');
    // The group records go once every member's status has the mark.
    await eventually(async () => (await groupRecords(ns)) === 0, 30_000, 'group records deleted');

    for (let i = 0; i < N; i += 20) await Promise.all(names.slice(i, i + 20).map((n) => checkIn(ns, n, { signal: 'success', runId: 'back' })));
    const recoveries = await allDelivered(ns, 'recovery', 120_000);
    const recoveryMessages = expectEachNamedOnce(recoveries, seen(slack, ns, ':large_green_circle:'));
    expect(recoveryMessages).toBeLessThanOrEqual(N / 10);
    const headers = slack.delivered.map((d) => JSON.stringify(d.body)).filter((b) => b.includes(':large_green_circle:') && b.includes('group '));
    expect(headers.length).toBeGreaterThan(0);
    for (const h of headers) expect(h).toMatch(/\d+ Reservations recovered \(were Missed\)/);
  }, 180_000);

  it(`neither loses nor repeats a group when the operator process is killed during its delivery`, async () => {
    const ns = await freshNamespace('groupkill');
    // The first message (the lone first one) is answered; the second, the group, is held unanswered.
    const slack = await slackLike(['ok', 'hold']);
    const first = operator(ns, 'grouping-killed', slack);
    await leading(ns, 'grouping-killed');
    await createAll(ns);
    const [, held] = await slack.waitFor(2, { timeoutMs: 40_000 });
    const heldGroup = /group ([a-z0-9]+-[a-z0-9]+)/.exec(JSON.stringify(held!.body))?.[1];
    expect(heldGroup, 'the held message is a group').toBeDefined();
    expect(await groupRecords(ns)).toBeGreaterThan(0); // stored before it was sent
    await killed(first.child);

    operator(ns, 'grouping-restarted', slack);
    const alerts = await allDelivered(ns, 'alert', 120_000);
    const s = seen(slack, ns, ':red_circle:');
    expectEachNamedOnce(alerts, s);
    expect(s.groupDeliveries.get(heldGroup!)).toBe(1); // finished by the restarted operator, once
    expect(held!.status).toBeUndefined();
    expect([...alerts.values()].filter((e) => e.group === heldGroup).length).toBe(s.groups.get(heldGroup!));
  }, 180_000);

  it('sends a lone miss alone, as a normal single message', async () => {
    const ns = await freshNamespace('lone');
    const slack = await slackLike();
    operator(ns, 'grouping-lone', slack);
    await leading(ns, 'grouping-lone');
    await createReservation(ns, 'lonely', { every: '3s', grace: '1s' });
    const delivered = await eventually(async () => {
      const e = (await getReservation(ns, 'lonely')).status?.alert?.outbox?.[0];
      return e?.deliveredTime ? e : undefined;
    }, 30_000, 'the lone alert delivered');
    expect(delivered.group).toBeUndefined();
    expect(slack.delivered).toHaveLength(1);
    const body = slack.delivered[0]!.body as { text: string };
    expect(body.text).toContain(`Missed: ${ns}/lonely missed its check-in`);
    expect(JSON.stringify(body)).not.toContain('group ');
  });
});
