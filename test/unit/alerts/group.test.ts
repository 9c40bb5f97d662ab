import { describe, expect, it, vi } from 'vitest';
import type { OutboxEntry, Reservation } from '../../../src/api/reservation.ts';
import { groupHeadline, groupNamespaces, renderPagerDutyGroup, renderSlackGroup, renderWebhookGroup, runKeyOf, type AlertGroup, type GroupMark } from '../../../src/alerts/group.ts';
import type { GroupRecords, StoredGroup } from '../../../src/alerts/group-store.ts';
import { AlertGrouper, type Target } from '../../../src/alerts/grouper.ts';
import { ReceiverGate } from '../../../src/alerts/receiver-gate.ts';
import { TokenBucket } from '../../../src/util/token-bucket.ts';

const members = (n: number, over: Partial<AlertGroup['members'][number]> = {}): AlertGroup['members'] =>
  Array.from({ length: n }, (_, i) => ({ namespace: i % 3 === 0 ? 'team-b' : 'team-a', name: `job-${i}`, entryId: `e${i}`, receiver: 'default', dueTime: '2026-03-10T02:05:00Z', expectedTime: '2026-03-10T02:00:00Z', ...over }));
const group = (n: number, over: Partial<AlertGroup> = {}): AlertGroup => ({ id: 'abc', kind: 'alert', reason: 'Missed', target: { type: 'slack', hash: 'h' }, createdTime: '2026-03-10T02:05:03Z', members: members(n), ...over });

describe('group messages', () => {
  it('say how many missed which run, where, the first names and how many more', () => {
    const g = group(412);
    expect(groupHeadline(g)).toBe('412 Reservations missed their 02:00 UTC run');
    expect(groupNamespaces(g)).toEqual([['team-a', 274], ['team-b', 138]]);
    const m = renderSlackGroup(g, { clusterName: 'prod' });
    expect(m.blocks[0]).toMatchObject({ type: 'header', text: { text: '412 Reservations missed their 02:00 UTC run' } });
    const all = JSON.stringify(m.blocks);
    expect(all).toContain('job-0');
    expect(all).toContain('job-19');
    expect(all).not.toContain('job-20`');
    expect(all).toContain('…and 392 more');
    expect(all).toContain('group abc');
    expect(m.text).toMatch(/^\[GoTel\] 412 Reservations missed their 02:00 UTC run: team-b\/job-0, team-a\/job-1/);
  });

  it('name recoveries and runs that differ', () => {
    expect(groupHeadline(group(3, { kind: 'recovery' }))).toBe('3 Reservations recovered (were Missed)');
    expect(groupHeadline({ ...group(2), members: [...members(1), ...members(1, { name: 'x', expectedTime: '2026-03-10T02:01:00Z' })] })).toBe('2 Reservations missed their run');
    expect(groupHeadline(group(2, { reason: 'Failed', kind: 'renotify' }))).toBe('2 Reservations still failing: failed');
  });

  it('give webhooks one event naming every member, and PagerDuty one event per cause', () => {
    const w = renderWebhookGroup(group(250), { clusterName: 'prod' });
    expect(w).toMatchObject({ type: 'group', id: 'group/abc', count: 250, firing: true, cluster: 'prod', namespaces: { 'team-a': 166, 'team-b': 84 } });
    expect(w.members).toHaveLength(250);
    const pd = renderPagerDutyGroup(group(5), { clusterName: 'prod' }, 'key');
    expect(pd).toMatchObject({ event_action: 'trigger', dedup_key: 'gotel/prod/group/Missed', payload: { severity: 'critical', custom_details: { Reservations: '5' } } });
    expect(renderPagerDutyGroup(group(5, { kind: 'recovery' }), { clusterName: 'prod' }, 'key')).toMatchObject({ event_action: 'resolve', dedup_key: 'gotel/prod/group/Missed' });
  });
});

/** A grouper on `store` that records what it sends and whom it wakes. */
function grouperOn(store: GroupRecords, windowMs: number, resolved: Target | undefined, gate = new ReceiverGate(() => undefined)) {
  const sent: AlertGroup[] = [];
  const singles: string[] = [];
  const woken: string[] = [];
  /** Every message as it is sent: when, and whom it names. */
  const messages: { at: number; names: string[] }[] = [];
  const grouper = new AlertGrouper({
    store,
    windowMs,
    clock: () => new Date(),
    gate,
    send: (_t, g) => {
      sent.push(g);
      messages.push({ at: Date.now(), names: g.members.map((m) => m.name) });
      return Promise.resolve({ kind: 'delivered', status: 200 });
    },
    sendSingle: (_t, { reservation, entry: e }) => {
      singles.push(`${reservation.metadata.name} ${e.id}`);
      messages.push({ at: Date.now(), names: [reservation.metadata.name] });
      return Promise.resolve({ kind: 'delivered', status: 200 });
    },
    wake: (ns, name) => void woken.push(`${ns}/${name}`),
    resolveTarget: () => Promise.resolve(resolved),
  });
  return { grouper, sent, singles, woken, messages };
}

/** The grouper's windows against an in-memory record store (its own interface, not Kubernetes). */
function harness(windowMs: number, gate?: ReceiverGate) {
  const records = new Map<string, StoredGroup>();
  const store: GroupRecords = {
    create: (g) => {
      records.set(g.id, { group: g, createdMs: Date.now() });
      return Promise.resolve();
    },
    mark: (id, mark: GroupMark) => {
      const r = records.get(id)!;
      if (r.mark) return Promise.resolve(false);
      r.mark = mark;
      return Promise.resolve(true);
    },
    list: () => Promise.resolve([...records.values()]),
    delete: (id) => {
      records.delete(id);
      return Promise.resolve();
    },
  };
  const { grouper, sent, singles, woken, messages } = grouperOn(store, windowMs, undefined, gate);
  return { grouper, records, sent, singles, woken, store, messages };
}

const target: Target = { name: 'default', type: 'slack', source: 'test', url: 'http://127.0.0.1:1/x' };
const entry = (id: string, kind: OutboxEntry['kind'] = 'alert'): OutboxEntry => ({ id, kind, reason: 'Missed', dueTime: '2026-03-10T02:05:00Z', createdTime: '2026-03-10T02:05:00Z' });
const reservation = (name: string): Reservation => ({ apiVersion: 'gotel.io/v1alpha1', kind: 'Reservation', metadata: { name, namespace: 'a' }, spec: { every: '1m' } });

describe('AlertGrouper', () => {
  it('sends the first of a quiet period alone, groups what follows within the window, and records it before sending', async () => {
    const { grouper, records, sent, woken } = harness(50);
    await grouper.ready;
    expect(grouper.route('a', 'first', entry('e0'), target)).toEqual({ kind: 'alone' });
    for (let i = 1; i <= 5; i++) expect(grouper.route('a', `r${i}`, entry(`e${i}`), target)).toEqual({ kind: 'wait' });
    // Another cause has its own window: its first one goes alone too.
    expect(grouper.route('a', 'r1', entry('x1', 'recovery'), target)).toEqual({ kind: 'alone' });
    await vi.waitFor(() => expect(woken.length === 5).toBe(true));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.members.map((m) => m.name)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(records.get(sent[0]!.id)?.mark?.result).toBe('delivered');
    const r = grouper.route('a', 'r3', entry('e3'), target);
    expect(r).toMatchObject({ kind: 'delivered', group: sent[0]!.id });
    for (let i = 1; i <= 5; i++) grouper.recorded('a', `r${i}`, `e${i}`, 'default', runKeyOf(entry(`e${i}`)));
    await vi.waitFor(() => expect(records.size === 0).toBe(true));
    await grouper.stop();
  });

  it('takes alerts announced before their status write into the batch; each is the same member when its status arrives', async () => {
    const { grouper, records, sent, singles, woken } = harness(50);
    await grouper.ready;
    // Anticipated from the cache (entry ids carry the judging time; the write judges again later).
    // The first of the quiet period goes at once, alone, through a stored record of one.
    grouper.anticipate('a', 'lone', entry('early-0'), target, undefined, reservation('lone'));
    for (let i = 1; i <= 4; i++) grouper.anticipate('a', `r${i}`, entry(`early-${i}`), target, undefined, reservation(`r${i}`));
    await vi.waitFor(() => expect(sent.length === 1 && singles.length === 1).toBe(true));
    expect(singles).toEqual(['lone early-0']);
    expect(sent[0]!.members.map((m) => m.name)).toEqual(['r1', 'r2', 'r3', 'r4']);
    const aloneRecord = [...records.values()].find((r) => r.group.alone);
    expect(aloneRecord?.group.members.map((m) => m.name)).toEqual(['lone']);
    // The statuses arrive with other entry ids for the same runs: every one is delivered already
    // (the lone one by its record of one, so its status names no group), never sent again.
    await vi.waitFor(() => expect(grouper.route('a', 'lone', entry('late-0'), target).kind).toBe('delivered'));
    expect(grouper.route('a', 'lone', entry('late-0'), target)).not.toHaveProperty('group');
    for (let i = 1; i <= 4; i++) expect(grouper.route('a', `r${i}`, entry(`late-${i}`), target)).toMatchObject({ kind: 'delivered', group: sent[0]!.id });
    // Anticipating again (a second deadline pass) changes nothing.
    grouper.anticipate('a', 'r1', entry('again-1'), target, undefined, reservation('r1'));
    grouper.anticipate('a', 'lone', entry('again-0'), target, undefined, reservation('lone'));
    expect(woken.length).toBeGreaterThanOrEqual(5);
    expect(sent).toHaveLength(1);
    expect(singles).toHaveLength(1);
    // Recorded in every status: both records go.
    grouper.recorded('a', 'lone', 'late-0', 'default', runKeyOf(entry('late-0')));
    for (let i = 1; i <= 4; i++) grouper.recorded('a', `r${i}`, `late-${i}`, 'default', runKeyOf(entry(`late-${i}`)));
    await vi.waitFor(() => expect(records.size).toBe(0));
    await grouper.stop();
  });

  it('sends what gathers while the receiver is busy or rate-limited as one message at its next turn', async () => {
    const gate = new ReceiverGate(() => ({ perSecond: 20, burst: 1 }));
    const { grouper, sent, singles } = harness(20, gate);
    await grouper.ready;
    grouper.anticipate('a', 'lone', entry('e0'), target, undefined, reservation('lone'));
    for (let i = 1; i <= 30; i++) {
      grouper.anticipate('a', `r${i}`, entry(`e${i}`), target, undefined, reservation(`r${i}`));
      await new Promise((r) => setTimeout(r, 5));
    }
    await vi.waitFor(() => expect(sent.flatMap((g) => g.members).length).toBe(30));
    expect(singles).toEqual(['lone e0']);
    // Every member in exactly one message, in order, far fewer messages than members.
    expect(sent.flatMap((g) => g.members.map((m) => m.name))).toEqual(Array.from({ length: 30 }, (_, i) => `r${i + 1}`));
    expect(sent.length).toBeLessThan(15);
    await grouper.stop();
  });

  it('a new leader that judges a later run of the same outage finds it in the stored group, never names it twice, but a new outage goes on its own', async () => {
    const { grouper: first, records, store } = harness(1000);
    await first.ready;
    await first.stop();
    const early = { ...entry('e0'), dueTime: '2026-03-10T02:05:00Z' };
    const later = { ...entry('e9'), dueTime: '2026-03-10T02:15:00Z' };
    records.set('old', { group: { ...group(2, { id: 'old' }), members: members(2, { namespace: 'a', runKey: runKeyOf(early) }).map((m, i) => ({ ...m, name: `x${i}` })) }, createdMs: Date.now() });
    const { grouper: second, sent } = grouperOn(store, 1000, target);
    await second.ready;
    await vi.waitFor(() => expect(records.get('old')?.mark).toBeDefined());
    // x0 failed on: its later run is the group's alert. x1 checked in since: a new outage.
    expect(second.route('a', 'x0', later, target, undefined, { alert: { firing: true, outbox: [later] } })).toMatchObject({ kind: 'delivered', group: 'old' });
    expect(second.route('a', 'x1', later, target, undefined, { lastSuccessTime: '2026-03-10T02:06:00Z', alert: { firing: true, outbox: [later] } })).toEqual({ kind: 'alone' });
    expect(sent.map((g) => g.id)).toEqual(['old']);
    await second.stop();
  });

  it('a new grouper deletes a marked group once every member is known recorded (statuses marked in an earlier term)', async () => {
    const { grouper: first, records, store } = harness(1000);
    await first.ready;
    await first.stop();
    const e = entry('e0');
    records.set('done', { group: { ...group(2, { id: 'done' }), members: members(2, { runKey: runKeyOf(e) }) }, createdMs: Date.now(), mark: { result: 'delivered', time: '2026-03-10T02:05:04Z' } });
    const { grouper: second } = grouperOn(store, 1000, undefined);
    await second.ready;
    // Statuses marked in an earlier term, reported as their Reservations sync.
    second.recorded('team-b', 'job-0', 'e0', 'default', runKeyOf(e));
    expect(records.has('done')).toBe(true);
    second.recorded('team-a', 'job-1', 'e0', 'default', runKeyOf(e));
    await vi.waitFor(() => expect(records.has('done')).toBe(false));
    await second.stop();
  });

  it('a new grouper drops an unsent record of one (its member is routed anew) and answers for a sent one', async () => {
    const { grouper: first, records, store } = harness(1000);
    await first.ready;
    await first.stop();
    const one = (id: string, name: string): AlertGroup => ({ ...group(1, { id }), alone: true, members: members(1, { name, runKey: runKeyOf(entry('e0')) }) });
    records.set('unsent', { group: one('unsent', 'u'), createdMs: Date.now() });
    records.set('sent', { group: one('sent', 's'), createdMs: Date.now(), mark: { result: 'delivered', time: '2026-03-10T02:05:04Z' } });
    const { grouper: second, sent, singles } = grouperOn(store, 1000, target);
    await second.ready;
    expect(records.has('unsent')).toBe(false);
    expect(second.route('team-b', 'u', entry('e0'), target)).toEqual({ kind: 'alone' });
    expect(second.route('team-b', 's', entry('e0'), target)).toEqual({ kind: 'delivered', time: Date.parse('2026-03-10T02:05:04Z') });
    expect(sent).toHaveLength(0);
    expect(singles).toHaveLength(0);
    await second.stop();
  });

  it('releases a window holding one notification as a single message', async () => {
    const { grouper, sent, woken } = harness(30);
    await grouper.ready;
    grouper.route('a', 'first', entry('e0'), target);
    expect(grouper.route('a', 'second', entry('e1'), target)).toEqual({ kind: 'wait' });
    await vi.waitFor(() => expect(woken.length === 1).toBe(true));
    expect(grouper.route('a', 'second', entry('e1'), target)).toEqual({ kind: 'alone' });
    expect(sent).toHaveLength(0);
    await grouper.stop();
  });

  it('a new grouper finishes a stored group that was not marked, and answers for the marked ones', async () => {
    const { grouper: first, records, store } = harness(1000);
    await first.ready;
    await first.stop();
    records.set('old', { group: group(3, { id: 'old', target: { type: 'slack', hash: 'h' } }), createdMs: Date.now() });
    records.set('done', { group: group(2, { id: 'done' }), createdMs: Date.now(), mark: { result: 'delivered', time: '2026-03-10T02:05:04Z' } });
    // Stored as this version stores alerts: with the run each member stands for.
    records.get('old')!.group.members = members(3, { runKey: runKeyOf(entry('e0')) });
    records.get('done')!.group.members = members(2, { namespace: 'z', runKey: runKeyOf(entry('e1')) });
    const { grouper: second, sent } = grouperOn(store, 1000, target);
    await second.ready;
    expect(second.route('z', 'job-1', entry('e1'), target)).toMatchObject({ kind: 'delivered', group: 'done' });
    await vi.waitFor(() => expect(sent.length === 1).toBe(true));
    expect(sent[0]!.id).toBe('old');
    await vi.waitFor(() => expect(records.get('old')?.mark !== undefined).toBe(true));
    expect(second.route('team-b', 'job-0', entry('e0'), target)).toMatchObject({ kind: 'delivered', group: 'old' });
    await second.stop();
  });

  it('at a Slack-like rate, sends the burst of each second just after its second, and stragglers with the next burst instead of spending its turn', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const S0 = Date.parse('2026-03-10T02:05:00Z');
      vi.setSystemTime(S0);
      const gate = new ReceiverGate(() => ({ perSecond: 1, burst: 3 }));
      const { grouper, messages } = harness(1000, gate);
      await grouper.ready;
      // Every second, 8 deadlines whose verdicts come 10 ms after it; from the second on, one
      // more whose verdict comes 400 ms late (a slow judgement, a Secret read).
      const events: { at: number; name: string }[] = [];
      const SECONDS = 8;
      for (let k = 0; k < SECONDS; k++) {
        for (let i = 0; i < 8; i++) events.push({ at: S0 + k * 1000 + 10, name: `b${k}-${i}` });
        if (k >= 1 && k < SECONDS - 1) events.push({ at: S0 + k * 1000 + 400, name: `s${k}` });
      }
      for (const e of events) {
        await vi.advanceTimersByTimeAsync(e.at - Date.now());
        grouper.anticipate('a', e.name, { ...entry(`${e.name}-e`), dueTime: new Date(e.at - (e.at % 1000)).toISOString() }, target, undefined, reservation(e.name));
      }
      await vi.advanceTimersByTimeAsync(3000);
      // Every Reservation named exactly once; every message one that a Slack webhook (1 a second,
      // bursts of 3) accepts as it arrives.
      expect(messages.flatMap((m) => m.names).sort()).toEqual(events.map((e) => e.name).sort());
      const receiver = new TokenBucket(3, S0);
      expect(messages.map((m) => receiver.take(m.at, 1))).not.toContain(false);
      // Each second's burst is named within 300 ms of its second, each straggler with the next burst.
      for (let k = 1; k < SECONDS; k++) {
        const m = messages.find((x) => x.names.includes(`b${k}-0`))!;
        expect(m.at - (S0 + k * 1000)).toBeLessThan(300);
        expect(m.names.filter((n) => n.startsWith(`b${k}-`))).toHaveLength(8);
        if (k >= 2) expect(m.names).toContain(`s${k - 1}`);
      }
      await grouper.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
