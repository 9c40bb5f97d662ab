// What the operator watches, cached: Reservations and CronJobs in every watched namespace, with
// an index from a CronJob (or a Job, by name) to the Reservations whose jobRef follows it, so an
// event on either enqueues exactly the Reservation keys that depend on it.
import type { Logger } from 'pino';
import { GROUP, PLURAL, VERSION, type Reservation } from '../api/reservation.ts';
import { reservationsForJob, type BatchJob, owningCronJob } from '../checkin/job-watcher.ts';
import { followsCronJob, type FollowedCronJob } from '../core/index.ts';
import { Informer, type KubeObject } from '../k8s/informer.ts';
import type { KubeRest } from '../k8s/rest.ts';

export interface CronJob {
  metadata: { name?: string; namespace?: string; uid?: string };
  spec?: { schedule?: string; timeZone?: string; suspend?: boolean };
}

export interface WatchedOptions {
  /** Empty: every namespace. */
  namespaces: string[];
  /** A label selector for the Reservations (the apiserver filters the list and the watch); empty: all. */
  selector?: string;
  logger: Logger;
  /** A Reservation changed (its key). */
  onReservation: (key: string) => void;
  /** A CronJob changed: the keys of the Reservations that follow it. */
  onCronJob: (reservationKeys: string[]) => void;
}

/** `kind:namespace/name` of what a Reservation's jobRef names, if anything. */
function refKey(r: Reservation): string | undefined {
  const ref = r.spec?.jobRef;
  return ref ? `${ref.kind}:${r.metadata.namespace}/${ref.name}` : undefined;
}

export class Watched {
  readonly reservationInformers: Informer<Reservation>[];
  readonly cronJobInformers: Informer<CronJob>[];
  /** `kind:namespace/name` -> Reservation keys whose jobRef names it. */
  private readonly followers = new Map<string, Set<string>>();
  /** Reservation key -> the refKey it is indexed under. */
  private readonly followed = new Map<string, string>();

  constructor(rest: KubeRest, o: WatchedOptions) {
    const scopes = o.namespaces.length > 0 ? o.namespaces.map((ns) => `/namespaces/${ns}`) : [''];
    this.reservationInformers = scopes.map((scope) => {
      const informer: Informer<Reservation> = new Informer<Reservation>(rest, {
        path: `/apis/${GROUP}/${VERSION}${scope}/${PLURAL}${o.selector ? `?labelSelector=${encodeURIComponent(o.selector)}` : ''}`,
        onChange: (key) => {
          this.index(key, informer.get(key));
          o.onReservation(key);
        },
        logger: o.logger,
      });
      return informer;
    });
    this.cronJobInformers = scopes.map((scope) => new Informer<CronJob>(rest, { path: `/apis/batch/v1${scope}/cronjobs`, onChange: (key) => o.onCronJob(this.followersOf(`CronJob:${key}`)), logger: o.logger }));
  }

  get informers(): Informer<KubeObject>[] {
    return [...this.reservationInformers, ...this.cronJobInformers] as Informer<KubeObject>[];
  }

  get(key: string): Reservation | undefined {
    for (const inf of this.reservationInformers) {
      const r = inf.get(key);
      if (r) return r;
    }
    return undefined;
  }

  list(): Reservation[] {
    return this.reservationInformers.flatMap((inf) => inf.list());
  }

  keys(): string[] {
    return this.reservationInformers.flatMap((inf) => inf.keys());
  }

  /** The CronJob `r` follows, for the judge: null when missing, undefined when `r` follows none. */
  cronJobOf(r: Reservation): FollowedCronJob | null | undefined {
    if (!followsCronJob(r)) return undefined;
    const key = `${r.metadata.namespace}/${r.spec.jobRef!.name}`;
    for (const inf of this.cronJobInformers) {
      const c = inf.get(key);
      if (c) return { ...(c.spec?.schedule ? { schedule: c.spec.schedule } : {}), ...(c.spec?.timeZone ? { timeZone: c.spec.timeZone } : {}) };
    }
    return null;
  }

  /** The Reservations whose jobRef covers this Job (its CronJob's, or the Job by name). */
  reservationsForJob(job: BatchJob): Reservation[] {
    const ns = job.metadata.namespace;
    const cronJob = owningCronJob(job);
    const keys = [...(cronJob ? this.followersOf(`CronJob:${ns}/${cronJob}`) : []), ...this.followersOf(`Job:${ns}/${job.metadata.name}`)];
    const candidates = keys.map((k) => this.get(k)).filter((r): r is Reservation => r !== undefined);
    return reservationsForJob(job, candidates);
  }

  private followersOf(ref: string): string[] {
    return [...(this.followers.get(ref) ?? [])];
  }

  private index(key: string, r: Reservation | undefined): void {
    const before = this.followed.get(key);
    const after = r ? refKey(r) : undefined;
    if (before === after) return;
    if (before) {
      const set = this.followers.get(before);
      set?.delete(key);
      if (set?.size === 0) this.followers.delete(before);
    }
    if (after) {
      let set = this.followers.get(after);
      if (!set) this.followers.set(after, (set = new Set()));
      set.add(key);
      this.followed.set(key, after);
    } else this.followed.delete(key);
  }
}
