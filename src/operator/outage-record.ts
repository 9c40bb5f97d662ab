// The durable record of GoTel's own outages: one ConfigMap `gotel-outages` in GoTel's namespace,
// key `outages.json`, a list of {id, start, end, causes, notice}. Written only when the apiserver
// is back (the interval was kept in memory meanwhile), read-modify-write on resourceVersion so
// replicas recording the same outage merge into one record (mergeOutage, src/core/outage.ts). The
// notice's deliveries are marked here too, so a restart neither loses nor repeats it.
import type { OutageRecord } from '../core/index.ts';
import { KubeApiError, type KubeRest } from '../k8s/rest.ts';

export const OUTAGES_CONFIGMAP = 'gotel-outages';
const KEY = 'outages.json';

export interface ConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

interface StoredRecord extends Omit<OutageRecord, 'start' | 'end'> {
  start: string;
  end: string;
}

/** The records in a ConfigMap; what does not parse is dropped (never a crash on a hand edit). */
export function parseRecords(cm: ConfigMap | undefined): OutageRecord[] {
  const text = cm?.data?.[KEY];
  if (!text) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((r: Partial<StoredRecord>): OutageRecord[] => {
    const start = Date.parse(String(r?.start));
    const end = Date.parse(String(r?.end));
    if (typeof r?.id !== 'string' || !Number.isFinite(start) || !Number.isFinite(end)) return [];
    return [{ ...(r as StoredRecord), id: r.id, start, end, causes: Array.isArray(r.causes) ? r.causes.map(String) : [] }];
  });
}

function serialize(records: readonly OutageRecord[]): string {
  const stored: StoredRecord[] = records.map((r) => ({ ...r, start: new Date(r.start).toISOString(), end: new Date(r.end).toISOString() }));
  return JSON.stringify(stored, null, 1);
}

export class OutageStore {
  private readonly rest: KubeRest;
  private readonly path: string;
  private readonly namespace: string;
  /** The records as last read or written. */
  records: OutageRecord[] = [];

  constructor(rest: KubeRest, namespace: string) {
    this.rest = rest;
    this.namespace = namespace;
    this.path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
  }

  private async read(): Promise<ConfigMap | undefined> {
    try {
      // The probe's pool: this read confirms the /readyz probe (src/k8s/api-health.ts), and must not wait behind hung writes.
      return await this.rest.request<ConfigMap>({ method: 'GET', path: `${this.path}/${OUTAGES_CONFIGMAP}`, timeoutMs: 5000, pool: 'probe' });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** Reads the records; true when they changed since the last read. */
  async load(): Promise<boolean> {
    const next = parseRecords(await this.read());
    const changed = JSON.stringify(next) !== JSON.stringify(this.records);
    this.records = next;
    return changed;
  }

  /** Applies `change` to the stored records (retried on a conflict) and stores the result. */
  async update(change: (records: OutageRecord[]) => OutageRecord[]): Promise<OutageRecord[]> {
    for (let attempt = 0; ; attempt++) {
      const cm = await this.read();
      const before = parseRecords(cm);
      const after = change(before);
      if (JSON.stringify(after) === JSON.stringify(before)) return (this.records = before);
      const body: ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: OUTAGES_CONFIGMAP, namespace: this.namespace, labels: { 'app.kubernetes.io/managed-by': 'gotel' }, ...(cm?.metadata.resourceVersion ? { resourceVersion: cm.metadata.resourceVersion } : {}) },
        data: { ...(cm?.data ?? {}), [KEY]: serialize(after) },
      };
      try {
        if (cm) await this.rest.request({ method: 'PUT', path: `${this.path}/${OUTAGES_CONFIGMAP}`, body, timeoutMs: 5000 });
        else await this.rest.request({ method: 'POST', path: this.path, body, timeoutMs: 5000 });
        return (this.records = after);
      } catch (err) {
        // Another replica wrote first: merge into what it wrote.
        if (err instanceof KubeApiError && err.code === 409 && attempt < 5) continue;
        throw err;
      }
    }
  }
}
