// The status page and badges over HTTP, on the operator's --listen address (every replica serves
// them from its informer cache):
//
//   GET /status[?namespace=NS&state=STATE|failing]   the page (HTML)
//   GET /badge/{namespace}/{name}.svg | .json        one Reservation's state (Shields-style / endpoint JSON)
//   GET /badge/{namespace}.svg | .json               a namespace at a glance
//
// Who may see them: --status-page and --badges (src/status/config.ts, access.ts). Refusals are
// JSON errors like the check-in API's.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Reservation } from '../api/reservation.ts';
import { Authenticator } from '../checkin/auth.ts';
import { HttpError, sendError } from '../checkin/errors.ts';
import type { KubeRest } from '../k8s/rest.ts';
import { ALL, inScope, maySeePeers, pageScope, requireBadgeAccess } from './access.ts';
import { badgeSvg, namespaceBadge, notFoundBadge, reservationBadge, shieldsJson, type Badge } from './badge.ts';
import type { StatusConfig } from './config.ts';
import { buildModel, parseFilter } from './model.ts';
import { renderStatusPage } from './page.ts';
import { peerReader, type PeerReader } from './peers.ts';

export interface StatusRouterDeps {
  config: StatusConfig;
  /** The informer cache. */
  reservations: { list(): Reservation[]; get(key: string): Reservation | undefined };
  rest: KubeRest;
  /** GoTel's own namespace, where Peers live. */
  peersNamespace: string;
  clusterName?: string;
  clock?: () => Date;
  authenticator?: Authenticator;
  peers?: PeerReader;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

type Handler = (req: Request, res: Response) => Promise<void>;
const wrap =
  (fn: Handler) =>
  (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch((err: unknown) => (err instanceof HttpError ? sendError(res, err) : next(err)));
  };

const off = (what: string, flag: string): HttpError => new HttpError(404, 'NotFound', `${what} is turned off on this operator (${flag}=off)`);

export function createStatusRouter(deps: StatusRouterDeps): Router {
  const router = express.Router();
  const auth = deps.authenticator ?? new Authenticator(deps.rest);
  const peers = deps.peers ?? peerReader(deps.rest, deps.peersNamespace);
  const now = deps.clock ?? (() => new Date());

  router.get(
    '/status',
    wrap(async (req, res) => {
      if (deps.config.page === 'off') throw off('the status page', '--status-page');
      let filter;
      try {
        filter = parseFilter(req.query);
      } catch (err) {
        throw new HttpError(400, 'BadFilter', (err as Error).message);
      }
      const all = deps.reservations.list();
      const namespaces = [...new Set(all.map((r) => r.metadata.namespace ?? 'default'))];
      const scope = await pageScope(deps.config.page, auth, req.get('authorization'), namespaces, filter.namespace);
      const visible = scope === ALL ? all : all.filter((r) => inScope(scope, r.metadata.namespace ?? 'default'));
      const at = now();
      const showPeers = await maySeePeers(deps.config.page, auth, req.get('authorization'), deps.peersNamespace);
      const model = buildModel(visible, at, filter, showPeers ? await peers.list(at) : undefined);
      res.set('Cache-Control', 'no-store').type('html').send(renderStatusPage(model, deps.clusterName ? { clusterName: deps.clusterName } : {}));
    }),
  );

  const sendBadge = (res: Response, badge: Badge, ext: string, status = 200): void => {
    // Short-lived everywhere (GitHub's image proxy honours it): a badge says what is true now.
    res.status(status).set('Cache-Control', 'no-cache, max-age=0');
    if (ext === 'json') res.json(shieldsJson(badge));
    else res.type('image/svg+xml; charset=utf-8').send(badgeSvg(badge));
  };

  router.get(
    '/badge/:namespace/:file',
    wrap(async (req, res) => {
      const { namespace, name, ext } = badgePath(String(req.params.namespace), String(req.params.file));
      if (deps.config.badges === 'off') throw off('badges', '--badges');
      await requireBadgeAccess(deps.config.badges, auth, req.get('authorization'), namespace, name);
      const label = typeof req.query.label === 'string' ? req.query.label.slice(0, 64) : undefined;
      const r = deps.reservations.get(`${namespace}/${name}`);
      if (!r) return sendBadge(res, notFoundBadge(label ?? name), ext, 404);
      sendBadge(res, reservationBadge(r, label), ext);
    }),
  );

  router.get(
    '/badge/:file',
    wrap(async (req, res) => {
      const { name: namespace, ext } = badgePath('', String(req.params.file));
      if (deps.config.badges === 'off') throw off('badges', '--badges');
      await requireBadgeAccess(deps.config.badges, auth, req.get('authorization'), namespace);
      const label = typeof req.query.label === 'string' ? req.query.label.slice(0, 64) : undefined;
      const inNamespace = deps.reservations.list().filter((r) => r.metadata.namespace === namespace);
      sendBadge(res, namespaceBadge(namespace, inNamespace, label), ext);
    }),
  );
  return router;
}

/** `{name}.svg` or `{name}.json`; throws 404 for anything else. */
export function badgePath(namespace: string, file: string): { namespace: string; name: string; ext: 'svg' | 'json' } {
  const m = /^(.+)\.(svg|json)$/.exec(file);
  if (!m || !NAME_RE.test(m[1]!) || (namespace !== '' && !NAME_RE.test(namespace))) {
    throw new HttpError(404, 'NotFound', 'badge paths are /badge/{namespace}/{name}.svg|.json and /badge/{namespace}.svg|.json');
  }
  return { namespace, name: m[1]!, ext: m[2] as 'svg' | 'json' };
}
