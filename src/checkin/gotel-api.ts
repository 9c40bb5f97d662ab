// GoTel's own API (CrowdStrike/gotel's README), opt-in with the operator's --gotel-api, so its curl
// calls work unchanged against Reservations in one namespace (--gotel-api-namespace):
//
//   POST /reservation  {app, component, notify, alert_msg, frequency, time_units, owner}
//                      creates or updates Reservation "{app}-{component}" (made a valid name)
//   POST /checkin      {app, component, notes}           a success check-in, stored durably
//   POST /snooze       {app, component, duration, time_units}   spec.snoozeUntil = now + duration
//                      (also /pause, the path GoTel's code used)
//   POST /checkout     {app, component}                  stop watching: spec.suspend = true
//                      (a later POST /reservation resumes it; history is kept)
//   GET  /reservation  lists them
//
// Unlike GoTel, errors are 4xx/5xx with a JSON body, never 200 with success:false, and a check-in
// for an unknown reservation is a 404 (to a caller allowed to check in there; anyone else gets the
// 401 or 403 an existing one would give). Authentication: a Kubernetes bearer token allowed the
// matching RBAC verb on reservations.gotel.io in that namespace (create/update, checkin, patch,
// list), or the Reservation's own check-in credentials for /checkin; anonymous only with
// --gotel-api-anonymous.
//
// GoTel's notify (e-mail addresses) and app/component have no spec field: they are kept in the
// annotations gotel.io/app, gotel.io/component, gotel.io/notify, gotel.io/frequency, so alert
// templates ({app}, {component}, {notify}, {frequency}) can use them.
import { createHash } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Reservation } from '../api/reservation.ts';
import { KubeApiError } from '../k8s/rest.ts';
import { reservationPath } from '../k8s/status-writer.ts';
import { bearerToken, unauthorized } from './auth.ts';
import { cutUtf8, readBody } from './body.ts';
import { HttpError, badRequest, fromKubeError, sendError } from './errors.ts';
import type { CheckinContext } from './router.ts';
import { refuse } from './router.ts';
import { verdictOf } from './store.ts';

export interface GotelApiOptions {
  /** Serve the API at all (operator flag --gotel-api). */
  enabled: boolean;
  /** The namespace its Reservations live in (--gotel-api-namespace; default "default"). */
  namespace?: string;
  /** Accept requests without credentials (--gotel-api-anonymous). */
  anonymous?: boolean;
}

export const GOTEL_API_LABEL = 'gotel.io/gotel-api';
export const ANNOTATIONS = {
  app: 'gotel.io/app',
  component: 'gotel.io/component',
  notify: 'gotel.io/notify',
  frequency: 'gotel.io/frequency',
} as const;

const UNITS: Record<string, string> = {
  s: 's', sec: 's', secs: 's', second: 's', seconds: 's',
  m: 'm', min: 'm', mins: 'm', minute: 'm', minutes: 'm',
  h: 'h', hr: 'h', hrs: 'h', hour: 'h', hours: 'h',
  d: 'd', day: 'd', days: 'd',
};
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `{app}-{component}` as a valid Reservation name: lower case, runs of other characters as "-", at most 63 characters (a hash keeps long ones apart). */
export function gotelName(app: string, component: string): string {
  const raw = `${app}-${component}`;
  const name = raw.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return `${name.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

/** JSON.parse, forgiving the missing comma between members that GoTel's README example has. */
export function parseLenientJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const repaired = text.replace(/("|\d|true|false|null|\]|\})(\s*\r?\n\s*)(")/g, '$1,$2$3');
    try {
      return JSON.parse(repaired);
    } catch {
      throw badRequest('MalformedJSON', `the body is not valid JSON: ${first instanceof Error ? first.message.slice(0, 200) : 'parse error'}`);
    }
  }
}

type Fields = Record<string, unknown>;

async function readFields(ctx: CheckinContext, req: Request): Promise<Fields> {
  const raw = await readBody(req, ctx.maxBodyBytes);
  if (raw.length === 0) throw badRequest('MissingBody', 'send a JSON object, e.g. {"app": "testapp", "component": "requests"}');
  const parsed = parseLenientJson(raw.toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest('MalformedJSON', 'the body must be a JSON object');
  return parsed as Fields;
}

function str(f: Fields, key: string, required: boolean, max = 1024): string | undefined {
  const v = f[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw badRequest('MissingField', `"${key}" is required`);
    return undefined;
  }
  if (typeof v !== 'string' && typeof v !== 'number') throw badRequest('InvalidField', `"${key}" must be a string`);
  const s = String(v);
  if (s.length > max) throw badRequest('InvalidField', `"${key}" must be at most ${max} characters`);
  return s;
}

/** `frequency` + `time_units` (or `duration` + `time_units`) as milliseconds and a Go duration. */
function period(f: Fields, amountKey: string): { ms: number; duration: string; human: string } {
  const amountRaw = f[amountKey];
  const amount = typeof amountRaw === 'string' && amountRaw.trim() !== '' ? Number(amountRaw) : amountRaw;
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0 || amount > 1_000_000) {
    throw badRequest('InvalidField', `"${amountKey}" must be a whole number greater than 0`);
  }
  const unitRaw = str(f, 'time_units', true, 20)!.toLowerCase();
  const unit = UNITS[unitRaw];
  if (!unit) throw badRequest('InvalidField', '"time_units" must be seconds, minutes, hours or days');
  const ms = amount * UNIT_MS[unit]!;
  // Go durations have no days: write them as hours.
  const duration = unit === 'd' ? `${amount * 24}h` : `${amount}${unit}`;
  return { ms, duration, human: `${amount} ${unitRaw}` };
}

function target(ctx: CheckinContext, options: GotelApiOptions, f: Fields): { namespace: string; name: string; app: string; component: string } {
  const app = str(f, 'app', true, 200)!;
  const component = str(f, 'component', true, 200)!;
  const name = gotelName(app, component);
  if (!name) throw badRequest('InvalidField', '"app" and "component" must contain letters or digits');
  void ctx;
  return { namespace: options.namespace ?? 'default', name, app, component };
}

/**
 * Writes a JSON answer with one `end`, without express's `res.json` (its ETag hash and header
 * negotiation): the check-in's hot path (docs/throughput.md).
 */
export function sendJson(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * `POST /checkin {app, component, notes}`: a success check-in, acknowledged once stored durably.
 * The check-in router also answers it ahead of its other routes (router.ts).
 */
export function gotelCheckinHandler(ctx: CheckinContext, options: GotelApiOptions): (req: Request, res: Response) => Promise<void> {
  const namespace = options.namespace ?? 'default';
  return async (req, res) => {
    const f = await readFields(ctx, req);
    const t = target(ctx, options, f);
    const notes = str(f, 'notes', false, 1_000_000);
    const reservation = await ctx.lookup.get(namespace, t.name).catch(async (err: unknown) => {
      if (!(err instanceof HttpError && err.status === 404)) throw err;
      // Without --gotel-api-anonymous, unknown names answer as known ones would without valid credentials.
      if (!options.anonymous) await ctx.auth.refuseUnknown(namespace, t.name, req.headers.authorization).catch((refusal: unknown) => {
        if (!(refusal instanceof HttpError && refusal.status === 404)) throw refusal;
      });
      throw new HttpError(404, 'NotFound', `no reservation for app "${t.app}" component "${t.component}" (Reservation ${namespace}/${t.name}); make one with POST /reservation`);
    });
    if (!options.anonymous) await ctx.auth.authorizeCheckin(reservation, req.headers.authorization);
    if (ctx.limiter) {
      const wait = ctx.limiter.take(`${namespace}/${t.name}`);
      if (wait > 0) throw new HttpError(429, 'RateLimited', `too many check-ins; retry after ${wait}s`, { retryAfter: wait });
    }
    const stored = await ctx.store.submit(
      namespace,
      t.name,
      { signal: 'success', source: 'gotel-api', ...(notes ? { message: cutUtf8(notes, ctx.maxMessageBytes) } : {}) },
      ctx.now(),
      reservation,
    );
    if (!stored.duplicate) ctx.deps.metrics?.checkins.inc({ signal: 'success' });
    sendJson(res, 200, { success: true, message: `Application checked in: ${t.app}`, reservation: { namespace, name: t.name }, ...verdictOf(stored.reservation) });
  };
}

/**
 * The original GoTel API's route table. Long on purpose: each route's handler stands beside its
 * path and method, so the function reads top to bottom as the API's reference (README "GoTel's
 * original API"); the parsing and checks they share are the functions above.
 */
export function createGotelApiRouter(ctx: CheckinContext, options: GotelApiOptions): Router {
  const router = express.Router();
  const namespace = options.namespace ?? 'default';
  const rest = ctx.deps.rest;

  /** Authorizes a request by RBAC unless anonymous access is on. */
  const requireRbac = async (req: Request, verb: string, name?: string): Promise<void> => {
    if (options.anonymous) return;
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) throw unauthorized('a bearer token is required (GoTel API without --gotel-api-anonymous)');
    const user = await ctx.auth.authenticate(token);
    await ctx.auth.requireAccess(token, user, { verb, namespace, ...(name ? { name } : {}) });
  };

  const handle = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response) => {
    fn(req, res).catch((err: unknown) => refuse(ctx, res, err, `gotel-api ${req.path}`));
  };

  const getReservation = async (name: string): Promise<Reservation | undefined> => {
    try {
      return await rest.request<Reservation>({ method: 'GET', path: reservationPath(namespace, name) });
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw fromKubeError(err, `Reservation ${namespace}/${name}`);
    }
  };

  const patchSpec = async (name: string, patch: Record<string, unknown>): Promise<Reservation> => {
    try {
      const stored = await rest.request<Reservation>({
        method: 'PATCH',
        path: reservationPath(namespace, name),
        contentType: 'application/merge-patch+json',
        body: patch,
      });
      ctx.lookup.forget(namespace, name);
      return stored;
    } catch (err) {
      throw fromKubeError(err, `Reservation ${namespace}/${name}`);
    }
  };

  router.post(
    '/reservation',
    handle(async (req, res) => {
      const f = await readFields(ctx, req);
      const t = target(ctx, options, f);
      const every = period(f, 'frequency');
      const owner = str(f, 'owner', false, 253);
      const alertMessage = str(f, 'alert_msg', false, 1024);
      const notify = str(f, 'notify', false, 1024);
      const existing = await getReservation(t.name);
      await requireRbac(req, existing ? 'update' : 'create', existing ? t.name : undefined);
      const annotations: Record<string, string | null> = {
        [ANNOTATIONS.app]: t.app,
        [ANNOTATIONS.component]: t.component,
        [ANNOTATIONS.frequency]: every.human,
        [ANNOTATIONS.notify]: notify ?? null,
      };
      let stored: Reservation;
      if (!existing) {
        try {
          stored = await rest.request<Reservation>({
            method: 'POST',
            path: `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}`,
            body: {
              apiVersion: API_VERSION,
              kind: KIND,
              metadata: {
                name: t.name,
                labels: { [GOTEL_API_LABEL]: 'true' },
                annotations: Object.fromEntries(Object.entries(annotations).filter(([, v]) => v !== null)),
              },
              spec: { every: every.duration, ...(owner ? { owner } : {}), ...(alertMessage ? { alertMessage } : {}) },
            },
          });
        } catch (err) {
          throw fromKubeError(err, `Reservation ${namespace}/${t.name}`);
        }
      } else {
        stored = await patchSpec(t.name, {
          metadata: { labels: { [GOTEL_API_LABEL]: 'true' }, annotations },
          // Exactly one of schedule and every: a GoTel reservation is a frequency.
          spec: { every: every.duration, schedule: null, owner: owner ?? null, alertMessage: alertMessage ?? null, suspend: null },
        });
      }
      res.status(existing ? 200 : 201).json({
        success: true,
        message: existing ? 'OK: reservation updated' : 'OK: reservation created',
        reservation: { namespace, name: stored.metadata.name },
      });
    }),
  );

  router.get(
    '/reservation',
    handle(async (req, res) => {
      await requireRbac(req, 'list');
      let list: { items?: Reservation[] };
      try {
        list = await rest.request({ method: 'GET', path: `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}` });
      } catch (err) {
        throw fromKubeError(err, `Reservations in ${namespace}`);
      }
      const result = (list.items ?? []).map((r) => {
        const a = r.metadata.annotations ?? {};
        const st = r.status ?? {};
        return {
          jobid: r.metadata.uid,
          namespace: r.metadata.namespace,
          name: r.metadata.name,
          app: a[ANNOTATIONS.app] ?? r.metadata.name,
          component: a[ANNOTATIONS.component] ?? '',
          owner: r.spec?.owner ?? '',
          notify: a[ANNOTATIONS.notify] ?? '',
          frequency: a[ANNOTATIONS.frequency] ?? r.spec?.every ?? r.spec?.schedule ?? '',
          state: st.state ?? 'Pending',
          suspended: r.spec?.suspend === true,
          snoozeUntil: r.spec?.snoozeUntil,
          last_checkin_timestamp: st.lastCheckin ? Math.floor(Date.parse(st.lastCheckin.time) / 1000) : 0,
          lastCheckin: st.lastCheckin?.time,
          checkins: st.checkins ?? 0,
        };
      });
      res.json({ success: true, result });
    }),
  );

  router.post('/checkin', handle(gotelCheckinHandler(ctx, options)));

  const snooze = handle(async (req, res) => {
    const f = await readFields(ctx, req);
    const t = target(ctx, options, f);
    const p = period(f, 'duration');
    await requireRbac(req, 'patch', t.name);
    const until = new Date(ctx.now().getTime() + p.ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await patchSpec(t.name, { spec: { snoozeUntil: until } });
    res.json({ success: true, message: `Application paused: ${t.app}`, reservation: { namespace, name: t.name }, snoozeUntil: until });
  });
  router.post('/snooze', snooze);
  router.post('/pause', snooze);

  router.post(
    '/checkout',
    handle(async (req, res) => {
      const f = await readFields(ctx, req);
      const t = target(ctx, options, f);
      await requireRbac(req, 'patch', t.name);
      await patchSpec(t.name, { spec: { suspend: true } });
      res.json({ success: true, message: `Application checked out [${t.app}/${t.component}]: no longer watched`, reservation: { namespace, name: t.name } });
    }),
  );

  // Other methods on these paths.
  router.all(['/reservation', '/checkin', '/snooze', '/pause', '/checkout'], (req, res) => {
    const allow = req.path === '/reservation' ? 'GET, POST' : 'POST';
    ctx.deps.metrics?.checkinErrors.inc({ code: '405' });
    sendError(res, new HttpError(405, 'MethodNotAllowed', `${req.method.slice(0, 20)} is not allowed on ${req.path}; use ${allow}`, { headers: { Allow: allow } }));
  });
  return router;
}
