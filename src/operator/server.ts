// The operator's HTTP servers. On --listen: check-ins (mounted from src/checkin), /healthz (the
// process is alive), /readyz (caches synced: ready to judge and to take check-ins). On
// --metrics-listen: /metrics alone, so exposing check-ins to jobs outside the cluster does not
// expose the operator's metrics too. Every replica serves both, leader or not.
import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerClientErrorsAsJson } from '../checkin/errors.ts';
import type { Metrics } from '../metrics.ts';

export interface ServerDeps {
  metrics: Metrics;
  /** Why the replica is not ready, or null when it is. */
  notReadyReason: () => string | null;
  routers?: Router[];
}

export function jsonError(res: Response, code: number, reason: string, message: string): void {
  res.status(code).json({ error: { reason, message } });
}

export function createApp(deps: ServerDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', (_req, res) => {
    const reason = deps.notReadyReason();
    if (reason) jsonError(res, 503, 'NotReady', reason);
    else res.json({ status: 'ready' });
  });
  for (const router of deps.routers ?? []) app.use(router);
  return withErrorHandlers(app);
}

/** The metrics server on --metrics-listen: GET /metrics in Prometheus' text format. */
export function createMetricsApp(metrics: Metrics): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', (_req, res, next) => {
    metrics.registry
      .metrics()
      .then((text) => res.type(metrics.registry.contentType).send(text))
      .catch(next);
  });
  return withErrorHandlers(app);
}

function withErrorHandlers(app: Express): Express {
  app.use((req, res) => jsonError(res, 404, 'NotFound', `no such path: ${req.method} ${req.path}`));
  // Errors that reach here are bugs or malformed requests: a JSON answer, never a crash.
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    jsonError(res, status, status === 500 ? 'InternalError' : 'BadRequest', err.message);
  });
  return app;
}

export async function listen(app: Express, host: string, port: number): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = app.listen(port, host);
  // Even a request that is not HTTP gets a JSON answer naming the problem.
  answerClientErrorsAsJson(server);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
