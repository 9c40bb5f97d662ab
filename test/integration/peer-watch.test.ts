// Who monitors the monitors, with two real control planes and `gotel operator` processes, each
// with its own loopback Slack receiver: two healthy GoTels stay quiet; a SIGKILLed one is alerted
// Stale once (and its dead man's switch pings stop), and recovered once; a stopped apiserver is
// Unreachable, not Stale; a peer's clock ten minutes off does not matter, a Lease that stops
// changing does; a peer that cannot deliver its alerts is relayed as Degraded; a Peer alert
// pending when the watching operator is killed is delivered once after its restart.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Peer, PeerState } from '../../src/api/peer.ts';
import { startSlackReceiver, type ReceivedRequest, type SlackReceiver } from '../../src/dev/slack-receiver.ts';
import { eventually } from './helpers.ts';
import { createNamespace, createPeer, fakeHeartbeat, getPeer, killAll, killed, operatorProcess, peerEvents, twoClusters, type Clusters, type OperatorProcess } from './peer-harness.ts';

let clusters: Clusters;
const receivers: SlackReceiver[] = [];
let ns: string;
let slackA: SlackReceiver;
let slackB: SlackReceiver;
let pings: SlackReceiver;
let opA: OperatorProcess;
let opB: OperatorProcess;

const text = (r: ReceivedRequest): string => JSON.stringify(r.body);
const about = (r: SlackReceiver, peer: string): ReceivedRequest[] => r.received.filter((x) => text(x).includes(`${ns}/${peer}`));
const pingsTo = (path: string, after = 0): number => pings.received.filter((r) => r.path === `/${path}` && r.time.getTime() > after).length;

/** Waits for a condition on what the receivers recorded. */
const until = (check: () => boolean, timeoutMs: number, what: string): Promise<boolean> => eventually(() => Promise.resolve(check()), timeoutMs, what);

function startA(identity = `alpha-${randomBytes(2).toString('hex')}`): OperatorProcess {
  return operatorProcess(clusters.a, ns, { identity, clusterName: 'alpha', slackUrl: slackA.url, args: [`--heartbeat-url=${pings.urlFor('alpha')}`, '--heartbeat-interval=1s'] });
}
function startB(identity = `beta-${randomBytes(2).toString('hex')}`): OperatorProcess {
  return operatorProcess(clusters.b, ns, { identity, clusterName: 'beta', slackUrl: slackB.url, args: [`--heartbeat-url=${pings.urlFor('beta')}`, '--heartbeat-interval=1s'] });
}

async function peerState(side: 'a' | 'b', name: string, state: PeerState): Promise<Peer | undefined> {
  const p = await getPeer(clusters[side], ns, name);
  return p.status?.state === state ? p : undefined;
}

beforeAll(async () => {
  clusters = await twoClusters();
  ns = `gotel-${randomBytes(3).toString('hex')}`;
  await Promise.all([createNamespace(clusters.a, ns), createNamespace(clusters.b, ns)]);
  [slackA, slackB, pings] = await Promise.all([startSlackReceiver(), startSlackReceiver(), startSlackReceiver()]);
  receivers.push(slackA, slackB, pings);
  // Each side watches the other: a Peer in GoTel's namespace with the other cluster's kubeconfig.
  await createPeer(clusters.a, ns, 'beta', clusters.b.kubeconfig);
  await createPeer(clusters.b, ns, 'alpha', clusters.a.kubeconfig);
});

afterAll(async () => {
  await killAll();
  await Promise.all(receivers.map((r) => r.close()));
  await clusters?.close();
});

describe('two GoTels watching each other', () => {
  it('stay quiet while both are healthy; the last-seen time keeps moving', async () => {
    opA = startA();
    opB = startB();
    await eventually(() => peerState('a', 'beta', 'Up'), 30_000, "alpha to see beta Up");
    await eventually(() => peerState('b', 'alpha', 'Up'), 30_000, "beta to see alpha Up");
    const first = (await getPeer(clusters.a, ns, 'beta')).status!.lastSeenTime!;
    const moved = await eventually(async () => {
      const p = await getPeer(clusters.a, ns, 'beta');
      return p.status?.lastSeenTime && p.status.lastSeenTime > first ? p : undefined;
    }, 15_000, 'the last-seen time to move');
    expect(moved.status?.peerClusterName).toBe('beta');
    expect(moved.status?.peerIdentity).toMatch(/^beta-/);
    expect(moved.status?.peerVersion).toMatch(/^\d+\.\d+\.\d+/);
    const { stdout } = await promisify(execFile)(inject('assets').kubectl, [`--kubeconfig=${clusters.a.kubeconfigPath}`, 'get', 'peers', '-n', ns]);
    expect(stdout).toMatch(/NAME\s+STATE\s+LAST SEEN\s+SKEW\s+AGE/);
    expect(stdout).toMatch(/beta\s+Up\s+\d+s/);
    // Both dead man's switches ping while their leaders run.
    await until(() => pingsTo('alpha') >= 2 && pingsTo('beta') >= 2, 15_000, 'pings from both leaders');
    expect(slackA.received).toHaveLength(0);
    expect(slackB.received).toHaveLength(0);
  });

  it('alerts Stale exactly once, naming the dead side, when its operator is SIGKILLed, and recovery once when it returns', async () => {
    await killed(opB.child);
    const killedAt = Date.now();
    const [alert] = await slackA.waitFor(1, { timeoutMs: 30_000 });
    const detection = alert!.time.getTime() - killedAt;
    process.stderr.write(`[peers] detection time, SIGKILL to Stale alert received: ${(detection / 1000).toFixed(1)}s (Peer timeout 6s)\n`);
    expect(text(alert!)).toContain('cluster \\"beta\\"');
    expect(text(alert!)).toContain('stopped its heartbeat');
    expect(text(alert!).toLowerCase()).not.toContain('unreachable');
    // The dead leader's dead man's switch fell silent; the live one's goes on.
    const alphaBefore = pingsTo('alpha');
    await until(() => pingsTo('alpha') >= alphaBefore + 2, 10_000, 'alpha to keep pinging');
    expect(pingsTo('beta', killedAt + 250)).toBe(0);
    const stale = await getPeer(clusters.a, ns, 'beta');
    expect(stale.status?.state).toBe('Stale');
    expect((await peerEvents(clusters.a, ns, 'beta')).map((e) => e.reason)).toContain('PeerStale');

    opB = startB();
    const [, recovery] = await slackA.waitFor(2, { timeoutMs: 30_000 });
    expect(text(recovery!)).toContain('Up again');
    await eventually(() => peerState('a', 'beta', 'Up'), 10_000, 'beta Up again');
    // The delivery is marked in status by one write right after the receiver's answer: await it.
    const marked = async (): Promise<string[]> => ((await getPeer(clusters.a, ns, 'beta')).status?.alert?.outbox ?? []).map((e) => `${e.kind}:${e.reason}:${e.deliveredTime ? 'delivered' : 'pending'}`);
    await eventually(async () => (await marked()).every((m) => m.endsWith(':delivered')), 10_000, 'the recovery marked delivered');
    expect(await marked()).toEqual(['alert:Stale:delivered', 'recovery:Stale:delivered']);
    expect(about(slackA, 'beta')).toHaveLength(2);
    // The restarted side waited its timeout before judging alpha, which is alive: nothing to say.
    await eventually(() => peerState('b', 'alpha', 'Up'), 15_000, 'the restarted beta to see alpha Up');
    expect(slackB.received).toHaveLength(0);
  });

  it('says unreachable, not stale, while the peer\'s apiserver is stopped, and recovers when it runs again', async () => {
    const before = slackA.received.length;
    const apiserver = clusters.b.plane!.pids[1]!;
    process.kill(apiserver, 'SIGSTOP');
    try {
      await slackA.waitFor(before + 1, { timeoutMs: 40_000 });
    } finally {
      process.kill(apiserver, 'SIGCONT');
    }
    const alert = slackA.received[before]!;
    expect(text(alert)).toContain('Unreachable');
    expect(text(alert)).toContain('could not be read');
    expect(text(alert)).not.toContain('stopped its heartbeat');
    await slackA.waitFor(before + 2, { timeoutMs: 40_000 });
    const recovery = slackA.received[before + 1];
    expect(text(recovery!)).toContain('Up again');
    expect(text(recovery!)).toContain('was Unreachable');
    expect(slackA.received).toHaveLength(before + 2);
  });

  it('keeps a peer whose renewTime is ten minutes off Up while it renews, and calls it Stale when the Lease stops changing', async () => {
    const ahead = `ahead-${randomBytes(2).toString('hex')}`;
    const behind = `behind-${randomBytes(2).toString('hex')}`;
    await Promise.all([createNamespace(clusters.b, ahead), createNamespace(clusters.b, behind)]);
    const fakes = [
      fakeHeartbeat(clusters.b, ahead, { skewMs: 10 * 60_000, clusterName: 'ahead' }),
      fakeHeartbeat(clusters.b, behind, { skewMs: -10 * 60_000, clusterName: 'behind' }),
    ];
    try {
      await createPeer(clusters.a, ns, 'ahead', clusters.b.kubeconfig, { namespace: ahead, timeout: '5s' });
      await createPeer(clusters.a, ns, 'behind', clusters.b.kubeconfig, { namespace: behind, timeout: '5s' });
      const up = await eventually(() => peerState('a', 'ahead', 'Up'), 20_000, 'the clock-ahead peer Up');
      expect(up.status!.observedSkewSeconds).toBeGreaterThan(590);
      const down = await eventually(() => peerState('a', 'behind', 'Up'), 20_000, 'the clock-behind peer Up');
      expect(down.status!.observedSkewSeconds).toBeLessThan(-590);
      // Still Up after more than a timeout of renewing.
      const seen = up.status!.lastSeenTime!;
      await eventually(async () => {
        const p = await getPeer(clusters.a, ns, 'ahead');
        return Date.parse(p.status!.lastSeenTime!) - Date.parse(seen) > 6_000 ? p : undefined;
      }, 20_000, 'more than a timeout of renewals');
      expect((await getPeer(clusters.a, ns, 'ahead')).status?.state).toBe('Up');
      expect(about(slackA, 'ahead')).toHaveLength(0);
    } finally {
      fakes[0]!.stop();
    }
    await until(() => about(slackA, 'ahead').length === 1, 20_000, 'a Stale alert for the peer that stopped');
    expect(text(about(slackA, 'ahead')[0]!)).toContain('stopped its heartbeat');
    fakes[1]!.stop();
    await until(() => about(slackA, 'behind').length === 1, 20_000, 'a Stale alert for the other one');
  });

  it('relays Degraded when the peer renews but cannot deliver its alerts', async () => {
    const broken = `broken-${randomBytes(2).toString('hex')}`;
    await createNamespace(clusters.b, broken);
    const refusing = await startSlackReceiver({ script: Array<'no_service'>(50).fill('no_service') });
    receivers.push(refusing);
    operatorProcess(clusters.b, broken, { identity: 'broken-0', clusterName: 'broken', slackUrl: refusing.url });
    await createPeer(clusters.a, ns, 'broken', clusters.b.kubeconfig, { namespace: broken, timeout: '6s' });
    await eventually(() => peerState('a', 'broken', 'Up'), 30_000, 'the broken-receiver peer Up first');
    // A job there misses its check-in; its Slack webhook refuses the alert for good.
    await clusters.b.rest.request({ method: 'POST', path: `/apis/gotel.io/v1alpha1/namespaces/${broken}/reservations`, body: { apiVersion: 'gotel.io/v1alpha1', kind: 'Reservation', metadata: { name: 'nightly' }, spec: { every: '2s', grace: '1s' } } });
    await refusing.waitFor(1, { timeoutMs: 20_000 });
    const degraded = await eventually(() => peerState('a', 'broken', 'Degraded'), 30_000, 'the peer Degraded');
    expect(degraded.status?.peerClusterName).toBe('broken');
    await until(() => about(slackA, 'broken').length === 1, 15_000, 'the Degraded alert');
    const alert = text(about(slackA, 'broken')[0]!);
    expect(alert).toContain('cannot deliver its alerts');
    expect(alert).toContain('no_service');
  });

  it('delivers a Peer alert pending when the watching operator is killed exactly once after its restart', async () => {
    const held = `held-${randomBytes(2).toString('hex')}`;
    await createNamespace(clusters.b, held);
    const fake = fakeHeartbeat(clusters.b, held, { clusterName: 'held' });
    await createPeer(clusters.a, ns, 'held', clusters.b.kubeconfig, { namespace: held, timeout: '5s' });
    await eventually(() => peerState('a', 'held', 'Up'), 20_000, 'the peer Up');
    slackA.script(['hold']);
    fake.stop();
    await until(() => about(slackA, 'held').length === 1, 20_000, 'the Stale alert on its way (held)');
    const pending = await getPeer(clusters.a, ns, 'held');
    expect(pending.status?.alert?.outbox?.[0]?.deliveredTime).toBeUndefined();
    await killed(opA.child);
    opA = startA();
    const delivered = await eventually(async () => {
      const p = await getPeer(clusters.a, ns, 'held');
      return p.status?.alert?.outbox?.[0]?.deliveredTime ? p : undefined;
    }, 30_000, 'the restarted operator to deliver it');
    expect(delivered.status?.alert?.outbox).toHaveLength(1);
    const sent = about(slackA, 'held');
    expect(sent).toHaveLength(2);
    expect(sent[0]!.status).toBeUndefined(); // the held one was never answered
    expect(sent.filter((r) => r.status === 200)).toHaveLength(1);
    // The restart repeated none of the Peer alerts already sent.
    await eventually(() => peerState('a', 'beta', 'Up'), 20_000, 'beta still Up after the restart');
    expect(about(slackA, 'beta')).toHaveLength(4);
    expect(about(slackA, 'ahead')).toHaveLength(1);
  });
});
