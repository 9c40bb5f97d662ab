// `POST /snooze/{namespace}/{name}?for=2h`: a script silences a Reservation for a while (a
// deploy, a known outage) by setting spec.snoozeUntil = now + for. People use `gotel snooze` with
// their own kubeconfig instead; this route is for scripts that only hold a token.
//
// Authorised like a check-in by a Kubernetes token (TokenReview + SubjectAccessReview, cached, in
// auth.ts), for the custom RBAC verb `snooze` on reservations.gotel.io with resourceName = the
// Reservation. A check-in credential (the Reservation's Secret token, anonymous) is not enough:
// silencing alerts is a person's decision, granted explicitly. The operator's own ServiceAccount
// makes the patch.
import express, { type Request, type Response, type Router } from 'express';
import { GROUP, PLURAL } from '../api/reservation.ts';
import { snoozeUntil, SnoozeDurationError } from '../core/snooze.ts';
import { reservationPath } from '../k8s/status-writer.ts';
import type { Reservation } from '../api/reservation.ts';
import { bearerToken, unauthorized } from './auth.ts';
import { HttpError, badRequest, fromKubeError, sendError } from './errors.ts';
import { parseReservationKey, refuse, type CheckinContext } from './router.ts';

export const SNOOZE_VERB = 'snooze';

function durationParam(req: Request): string {
  const value: unknown = (req.query as Record<string, unknown>).for;
  if (value === undefined || value === '') throw badRequest('MissingDuration', 'say for how long: ?for=2h (a Go duration such as 30m, 2h or 1h30m)');
  if (typeof value !== 'string') throw badRequest('InvalidDuration', 'give "for" once, as a duration such as 2h');
  return value;
}

async function handleSnooze(ctx: CheckinContext, req: Request, res: Response, rest: string): Promise<void> {
  const { namespace, name } = parseReservationKey(rest, '/snooze/{namespace}/{name}?for=2h');
  const duration = durationParam(req);
  let until: string;
  try {
    until = snoozeUntil(duration, ctx.now());
  } catch (err) {
    if (err instanceof SnoozeDurationError) throw badRequest('InvalidDuration', err.message);
    throw err;
  }
  const token = bearerToken(req.headers.authorization);
  if (token === undefined) {
    throw unauthorized(`a bearer token is required to snooze ${namespace}/${name}: a Kubernetes token allowed the verb "${SNOOZE_VERB}" on ${PLURAL}.${GROUP}`);
  }
  const principal = await ctx.auth.authorizeToken(token, { verb: SNOOZE_VERB, namespace, name });
  let stored: Reservation;
  try {
    stored = await ctx.deps.rest.request<Reservation>({
      method: 'PATCH',
      path: reservationPath(namespace, name),
      contentType: 'application/merge-patch+json',
      body: { spec: { snoozeUntil: until } },
      timeoutMs: 10_000,
    });
  } catch (err) {
    throw fromKubeError(err, `Reservation ${namespace}/${name}`);
  }
  ctx.lookup.forget(namespace, name);
  ctx.log.info({ reservation: `${namespace}/${name}`, snoozeUntil: until, user: principal.user }, 'snoozed');
  res.status(200).json({ ok: true, reservation: { namespace, name }, snoozeUntil: stored.spec?.snoozeUntil ?? until });
}

/** The snooze route, to mount beside the check-in routes. Other paths fall through. */
export function createSnoozeRouter(ctx: CheckinContext): Router {
  const router = express.Router();
  router.use((req, res, next) => {
    if (!req.path.startsWith('/snooze/')) return next();
    if (req.method !== 'POST') {
      return sendError(res, new HttpError(405, 'MethodNotAllowed', `${req.method.slice(0, 20)} is not allowed; use POST /snooze/{namespace}/{name}?for=2h`, { headers: { Allow: 'POST' } }));
    }
    handleSnooze(ctx, req, res, req.path.slice('/snooze'.length)).catch((err: unknown) => refuse(ctx, res, err, req.path.slice(0, 300)));
  });
  return router;
}
