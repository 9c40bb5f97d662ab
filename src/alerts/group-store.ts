// Alert groups in the apiserver: ConfigMaps in GoTel's namespace that are created and deleted,
// never changed (GoTel may not update ConfigMaps). `gotel-alert-group-<id>` holds the group (its
// members) and is written before anything is sent; `gotel-alert-group-<id>-sent` is created once
// the receiver answered: its existence is the delivery mark, and a second create is refused
// (409), so two replicas cannot both mark it. Both writes are `urgent` in the shared client: a
// storm's thousands of status writes queue there, and a group's message waits for its record (and
// its receiver's next message for the mark), while the status writes may trail.
import { KubeApiError, type KubeRest } from '../k8s/rest.ts';
import { GROUP_LABEL, markName, recordName, type AlertGroup, type GroupMark } from './group.ts';

const DATA_KEY = 'group.json';

interface ConfigMap {
  metadata: { name: string; labels?: Record<string, string>; creationTimestamp?: string };
  data?: Record<string, string>;
}

/** A group as stored, with its mark when it has one. */
export interface StoredGroup {
  group: AlertGroup;
  mark?: GroupMark;
  createdMs: number;
}

function path(namespace: string, name = ''): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps${name ? `/${encodeURIComponent(name)}` : ''}`;
}

/** What the grouper needs of the store. */
export interface GroupRecords {
  create(group: AlertGroup): Promise<void>;
  mark(id: string, mark: GroupMark): Promise<boolean>;
  list(onBad?: (name: string, err: unknown) => void): Promise<StoredGroup[]>;
  delete(id: string): Promise<void>;
}

export class GroupStore implements GroupRecords {
  private readonly rest: KubeRest;
  private readonly namespace: string;

  constructor(rest: KubeRest, namespace: string) {
    this.rest = rest;
    this.namespace = namespace;
  }

  /** Stores the group before it is sent. */
  async create(group: AlertGroup): Promise<void> {
    await this.rest.request({
      method: 'POST',
      urgent: true,
      path: path(this.namespace),
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: recordName(group.id), labels: { [GROUP_LABEL]: group.id, 'app.kubernetes.io/managed-by': 'gotel' } }, data: { [DATA_KEY]: JSON.stringify(group) } },
    });
  }

  /** Records the receiver's answer; false when it was recorded already (by this or another replica). */
  async mark(id: string, mark: GroupMark): Promise<boolean> {
    try {
      await this.rest.request({
        method: 'POST',
        urgent: true,
        path: path(this.namespace),
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: markName(id), labels: { [GROUP_LABEL]: id, 'app.kubernetes.io/managed-by': 'gotel' } }, data: { [DATA_KEY]: JSON.stringify(mark) } },
      });
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 409) return false;
      throw err;
    }
  }

  /** Every stored group with its mark (a mark left without its group is deleted); unreadable records are skipped (and reported). */
  async list(onBad: (name: string, err: unknown) => void = () => {}): Promise<StoredGroup[]> {
    const list = await this.rest.request<{ items: ConfigMap[] }>({ method: 'GET', path: `${path(this.namespace)}?labelSelector=${encodeURIComponent(GROUP_LABEL)}`, timeoutMs: 10_000 });
    const marks = new Map<string, GroupMark>();
    const groups: StoredGroup[] = [];
    for (const cm of list.items) {
      try {
        const value = JSON.parse(cm.data?.[DATA_KEY] ?? 'null') as unknown;
        const id = cm.metadata.labels?.[GROUP_LABEL] ?? '';
        if (cm.metadata.name === markName(id)) marks.set(id, value as GroupMark);
        else if (cm.metadata.name === recordName(id)) groups.push({ group: value as AlertGroup, createdMs: Date.parse(cm.metadata.creationTimestamp ?? '') || 0 });
      } catch (err) {
        onBad(cm.metadata.name, err);
      }
    }
    for (const g of groups) {
      const mark = marks.get(g.group.id);
      if (mark) g.mark = mark;
      marks.delete(g.group.id);
    }
    for (const id of marks.keys()) await this.delete(id).catch((err: unknown) => onBad(markName(id), err));
    return groups;
  }

  /**
   * Deletes a group and its mark (gone already is fine). The group first: a group found without
   * its mark would be sent again, a mark without its group is only left over (list drops it).
   */
  async delete(id: string): Promise<void> {
    for (const name of [recordName(id), markName(id)]) {
      try {
        await this.rest.request({ method: 'DELETE', path: path(this.namespace, name) });
      } catch (err) {
        if (!(err instanceof KubeApiError && err.code === 404)) throw err;
      }
    }
  }
}
