// `gotel sidecar`: a native sidecar (an init container with restartPolicy: Always) in a CronJob's
// pod. It watches its own Pod (name and namespace from the downward API: POD_NAME, POD_NAMESPACE)
// and checks in the main container's start and its end with the exit code, the duration and the
// termination reason (Completed, Error, OOMKilled, ...). No change to the job's image or command.
//
// Run ids are `<pod uid>-<restartCount>`, so a container restarted in place (restartPolicy
// OnFailure) is a new run, and a sidecar restarted by the kubelet re-sends nothing new (GoTel drops
// a repeated (runId, signal)). On SIGTERM (the kubelet stops sidecars after the main containers
// ended) it looks at the Pod once more and sends what is still missing before it exits.
//
// It needs: get and watch on its own Pod (a Role on pods), and a check-in credential (its
// ServiceAccount allowed the verb checkin on the Reservation, or GOTEL_TOKEN).
import type { Command } from 'commander';
import type { KubeRest } from '../k8s/rest.ts';
import { backoffDelay } from '../util/backoff.ts';
import { CheckinFailed, clientConfig, parseReservationRef, sendCheckin, UsageError, type ClientConfig, type ClientFlags } from './checkin-client.ts';

interface SidecarFlags extends ClientFlags {
  reservation?: string;
  container?: string;
  podName?: string;
  podNamespace?: string;
  kubeconfig?: string;
}

interface ContainerState {
  running?: { startedAt?: string };
  terminated?: { exitCode?: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string };
  waiting?: { reason?: string };
}

interface ContainerStatus {
  name: string;
  restartCount?: number;
  state?: ContainerState;
  lastState?: ContainerState;
}

export interface PodLike {
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  spec?: { containers?: { name: string }[]; restartPolicy?: string };
  status?: { phase?: string; containerStatuses?: ContainerStatus[] };
}

export interface PodEvent {
  runId: string;
  kind: 'start' | number;
  durationSeconds?: number;
  message?: string;
}

const ms = (s: string | undefined): number | undefined => (s ? Date.parse(s) : undefined);

/** The check-ins a Pod's status implies for container `name`, oldest first. Pure. */
export function podCheckins(pod: PodLike, name: string): PodEvent[] {
  const uid = pod.metadata.uid ?? pod.metadata.name ?? 'pod';
  const cs = pod.status?.containerStatuses?.find((c) => c.name === name);
  if (!cs) return [];
  const restarts = cs.restartCount ?? 0;
  const out: PodEvent[] = [];
  const ended = (run: number, t: NonNullable<ContainerState['terminated']>): void => {
    const runId = `${uid}-${run}`;
    const start = ms(t.startedAt);
    const end = ms(t.finishedAt);
    if (t.startedAt) out.push({ runId, kind: 'start' });
    const code = Math.min(255, Math.max(0, t.exitCode ?? 1));
    const reason = [t.reason, t.message?.trim()].filter(Boolean).join(': ');
    out.push({
      runId,
      kind: code,
      ...(start !== undefined && end !== undefined && end >= start ? { durationSeconds: (end - start) / 1000 } : {}),
      ...(reason ? { message: `container ${name} ${reason}`.slice(0, 4096) } : {}),
    });
  };
  // The previous run, when the container was restarted in place and its end may have gone unseen.
  if (restarts > 0 && cs.lastState?.terminated) ended(restarts - 1, cs.lastState.terminated);
  if (cs.state?.running) out.push({ runId: `${uid}-${restarts}`, kind: 'start' });
  else if (cs.state?.terminated) ended(restarts, cs.state.terminated);
  return out;
}

export function registerSidecar(program: Command): void {
  program
    .command('sidecar')
    .description("watch this Pod's main container and check in its start and end (run as a native sidecar)")
    .option('--reservation <ref>', 'NAMESPACE/NAME, or NAME in the Pod\'s namespace (env GOTEL_RESERVATION)')
    .option('--container <name>', 'the container to report (env GOTEL_CONTAINER; default: the first container)')
    .option('--pod-name <name>', 'this Pod (env POD_NAME, from the downward API)')
    .option('--pod-namespace <ns>', "this Pod's namespace (env POD_NAMESPACE, from the downward API)")
    .option('--kubeconfig <path>', 'default: in-cluster, else KUBECONFIG')
    .option('--url <url>', 'GoTel base URL (env GOTEL_URL)')
    .option('--token <token>', 'bearer token (env GOTEL_TOKEN; default: the pod\'s ServiceAccount token)')
    .option('--token-file <path>', 'read the bearer token from a file (env GOTEL_TOKEN_FILE)')
    .option('--retries <n>', 'retries per check-in (default 5)')
    .action(async (flags: SidecarFlags) => {
      process.exitCode = await runSidecar(flags);
    });
}

const say = (msg: string): void => void process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg: `gotel sidecar: ${msg}` })}\n`);

interface SidecarSetup {
  cfg: ClientConfig;
  target: { namespace: string; name: string };
  podName: string;
  podNamespace: string;
  rest: KubeRest;
}

/** Reads flags and environment into what the sidecar needs; throws UsageError naming what is missing. */
async function setUp(flags: SidecarFlags, env: NodeJS.ProcessEnv): Promise<SidecarSetup> {
  const podName = flags.podName ?? env.POD_NAME ?? '';
  const podNamespace = flags.podNamespace ?? env.POD_NAMESPACE ?? '';
  if (!podName || !podNamespace) throw new UsageError('POD_NAME and POD_NAMESPACE must be set (downward API: fieldRef metadata.name and metadata.namespace)');
  const ref = flags.reservation ?? env.GOTEL_RESERVATION;
  if (!ref) throw new UsageError('name the Reservation with --reservation or GOTEL_RESERVATION');
  const target = parseReservationRef(ref, { ...env, GOTEL_NAMESPACE: env.GOTEL_NAMESPACE ?? podNamespace });
  const cfg = clientConfig(flags, env);
  if (!cfg.url) throw new UsageError('no GoTel URL: --url or GOTEL_URL');
  // Loaded here, not at start-up: `gotel --help` and the other subcommands need no Kubernetes client.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { KubeRest } = await import('../k8s/rest.ts');
  const kc = new KubeConfig();
  if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
  else kc.loadFromDefault();
  return { cfg, target, podName, podNamespace, rest: new KubeRest(kc) };
}

/** Sends, in order and once each, the check-ins the Pods it is shown imply. */
class PodReporter {
  private readonly sent = new Set<string>();
  private chain = Promise.resolve();
  private readonly setup: SidecarSetup;
  private container: string | undefined;
  constructor(setup: SidecarSetup, container: string | undefined) {
    this.setup = setup;
    this.container = container;
  }

  /** Sends what `pod` shows and has not been sent; resolves when that (and all before) is done. */
  report(pod: PodLike): Promise<void> {
    this.chain = this.chain.then(() => this.send(pod));
    return this.chain;
  }

  /** Resolves when every report so far has been sent (or given up). */
  done(): Promise<void> {
    return this.chain;
  }

  private async send(pod: PodLike): Promise<void> {
    this.container ??= pod.spec?.containers?.[0]?.name;
    const container = this.container;
    if (!container) return;
    const { cfg, target } = this.setup;
    for (const ev of podCheckins(pod, container)) {
      const mark = `${ev.runId}|${ev.kind === 'start' ? 'start' : 'end'}`;
      if (this.sent.has(mark)) continue;
      try {
        const answer = await sendCheckin(
          cfg,
          { ...target, kind: ev.kind, runId: ev.runId, source: 'sidecar', ...(ev.message ? { message: ev.message } : {}), ...(ev.durationSeconds !== undefined ? { durationSeconds: ev.durationSeconds } : {}) },
          (why, delay) => say(`check-in ${ev.kind} of ${ev.runId}: ${why}; retrying in ${(delay / 1000).toFixed(1)}s`),
        );
        this.sent.add(mark);
        say(`checked in ${ev.kind === 'start' ? 'start' : `exit code ${ev.kind}`} of container ${container} (run ${ev.runId}); state ${(answer.body.state as string | undefined) ?? '?'}`);
      } catch (err) {
        say(`check-in ${ev.kind} of ${ev.runId} not stored: ${err instanceof CheckinFailed ? err.message : String(err)}`);
        return; // keep the order; the next Pod event tries again
      }
    }
  }
}

const WATCH_BACKOFF = { initialMs: 500, maxMs: 30_000 };

export async function runSidecar(flags: SidecarFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let setup: SidecarSetup;
  try {
    setup = await setUp(flags, env);
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
    return 2;
  }
  const { rest, podName, podNamespace, target } = setup;
  const reporter = new PodReporter(setup, flags.container ?? env.GOTEL_CONTAINER);
  const getPod = (): Promise<PodLike> => rest.request<PodLike>({ method: 'GET', path: `${podPath(podNamespace)}/${encodeURIComponent(podName)}`, timeoutMs: 10_000 });
  const stop = new AbortController();
  // On SIGTERM (the kubelet stops sidecars after the main containers ended): a last look.
  const finished = new Promise<void>((resolve) => {
    const onTerm = (): void => {
      if (stop.signal.aborted) return;
      say('stopping: a last look at the Pod');
      stop.abort();
      getPod()
        .then((pod) => reporter.report(pod))
        .catch((err: unknown) => say(`last look failed: ${(err as Error).message}`))
        .finally(resolve);
    };
    process.once('SIGTERM', onTerm);
    process.once('SIGINT', onTerm);
  });
  say(`watching Pod ${podNamespace}/${podName} for ${target.namespace}/${target.name}`);
  void watchPod(setup, getPod, reporter, stop.signal);
  await finished;
  await reporter.done();
  rest.close();
  return 0;
}

const podPath = (namespace: string): string => `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;

/** Watches this Pod until `signal` aborts, reporting each state; reconnects with backoff. */
async function watchPod(setup: SidecarSetup, getPod: () => Promise<PodLike>, reporter: PodReporter, signal: AbortSignal): Promise<void> {
  const { rest, podName, podNamespace } = setup;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const pod = await getPod();
      await reporter.report(pod);
      failures = 0;
      const rv = pod.metadata.resourceVersion ?? '';
      await rest.watch(
        `${podPath(podNamespace)}?watch=true&allowWatchBookmarks=true&fieldSelector=${encodeURIComponent(`metadata.name=${podName}`)}&resourceVersion=${encodeURIComponent(rv)}&timeoutSeconds=300`,
        (event) => {
          const e = event as { type?: string; object?: PodLike };
          if ((e.type === 'ADDED' || e.type === 'MODIFIED') && e.object) void reporter.report(e.object);
        },
        { signal, idleMs: 360_000 },
      );
    } catch (err) {
      if (signal.aborted) break;
      const delay = backoffDelay(++failures, WATCH_BACKOFF);
      say(`watching Pod ${podNamespace}/${podName}: ${(err as Error).message}; again in ${delay / 1000}s`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
