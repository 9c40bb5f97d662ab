// What `gotel snooze`, `suspend` and `resume` share: the caller's own Kubernetes credentials
// (--kubeconfig, else KUBECONFIG, else ~/.kube/config, else in-cluster: what kubectl would use) and
// one merge patch of a Reservation's spec, so RBAC and the audit log see the person, not GoTel.
import type { Reservation } from '../api/reservation.ts';
import { reservationPath } from '../k8s/status-writer.ts';
import { UsageError } from './checkin-client.ts';

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
}

/** Refused by the apiserver (or not reached): one line for stderr, exit 1. */
export class PatchFailed extends Error {}

/** `NS/NAME`, or `NAME` in the kubeconfig context's namespace (else `default`), like kubectl. */
export function splitRef(ref: string, contextNamespace: string | undefined): { namespace: string; name: string } {
  const parts = ref.split('/');
  if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[0], name: parts[1] };
  if (parts.length === 1 && parts[0]) return { namespace: contextNamespace || 'default', name: parts[0] };
  throw new UsageError(`"${ref}" is not NAMESPACE/NAME`);
}

/** Merge-patches `spec` of one Reservation with the caller's credentials; returns what was stored. */
export async function patchReservationSpec(ref: string, flags: KubeFlags, spec: Record<string, unknown>): Promise<Reservation & { key: string }> {
  // Loaded here: `gotel checkin` and `gotel run` in a job never need the Kubernetes client.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { KubeRest, KubeApiError } = await import('../k8s/rest.ts');
  const kc = new KubeConfig();
  try {
    if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
    else kc.loadFromDefault();
    if (flags.context) kc.setCurrentContext(flags.context);
  } catch (err) {
    throw new UsageError(`cannot load the kubeconfig: ${(err as Error).message}`);
  }
  if (!kc.getCurrentCluster()) throw new UsageError('no cluster configured: pass --kubeconfig, set KUBECONFIG, or use ~/.kube/config');
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  const { namespace, name } = splitRef(ref, contextNamespace);
  const rest = new KubeRest(kc);
  try {
    const stored = await rest.request<Reservation>({
      method: 'PATCH',
      path: reservationPath(namespace, name),
      contentType: 'application/merge-patch+json',
      body: { spec },
      timeoutMs: 15_000,
    });
    return { ...stored, key: `${namespace}/${name}` };
  } catch (err) {
    if (err instanceof KubeApiError) {
      if (err.code === 404) throw new PatchFailed(`Reservation ${namespace}/${name} not found`);
      throw new PatchFailed(`${err.reason || `HTTP ${err.code}`}: ${err.message}`);
    }
    throw new PatchFailed(`cannot reach the Kubernetes apiserver ${rest.server}: ${(err as Error).message}`);
  } finally {
    rest.close();
  }
}

/** Runs a people's command: prints its line, exits 0; 2 on bad usage, 1 when the apiserver refused. */
export async function runPatchCommand(command: string, work: () => Promise<string>): Promise<number> {
  try {
    process.stdout.write(`${await work()}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`gotel ${command}: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}
