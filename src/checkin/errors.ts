// Errors at the check-in edge: every refusal is an HttpError that becomes
// `{ "error": { "reason", "message" } }` with the right status code (and Retry-After for 429/503).
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { KubeApiError } from '../k8s/rest.ts';
import { clip } from '../core/text.ts';

export class HttpError extends Error {
  readonly status: number;
  readonly reason: string;
  /** Seconds, for 429 and 503. */
  readonly retryAfter?: number;
  readonly headers?: Record<string, string>;
  constructor(status: number, reason: string, message: string, options: { retryAfter?: number; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.reason = reason;
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
    if (options.headers) this.headers = options.headers;
  }
}

export const badRequest = (reason: string, message: string): HttpError => new HttpError(400, reason, message);

/** Seconds a client is told to wait when the apiserver cannot be reached. */
export const UNAVAILABLE_RETRY_AFTER_S = 2;

/**
 * Maps an error from the apiserver (or the network) to the answer a check-in client gets:
 * 404 for an unknown Reservation, 503 with Retry-After when the apiserver cannot be reached or
 * fails; never a 2xx.
 */
export function fromKubeError(err: unknown, what: string): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof KubeApiError) {
    if (err.code === 404) return new HttpError(404, 'NotFound', `${what} not found`);
    if (err.code === 422 || err.code === 400) return new HttpError(400, 'Invalid', `the apiserver refused the update of ${what}: ${err.message}`);
    if (err.code === 429) return new HttpError(503, 'Unavailable', `the apiserver is overloaded (429): ${err.message}`, { retryAfter: UNAVAILABLE_RETRY_AFTER_S });
    return new HttpError(503, 'Unavailable', `the apiserver answered ${err.code} ${err.reason} for ${what}: ${err.message}`, {
      retryAfter: UNAVAILABLE_RETRY_AFTER_S,
    });
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new HttpError(503, 'Unavailable', `the Kubernetes apiserver cannot be reached: ${detail}`, { retryAfter: UNAVAILABLE_RETRY_AFTER_S });
}

export function sendError(res: Response, err: HttpError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (err.retryAfter !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(err.retryAfter))));
  for (const [k, v] of Object.entries(err.headers ?? {})) res.setHeader(k, v);
  res.status(err.status).json({ error: { reason: err.reason, message: err.message } });
}

/** A JSON 404 for paths nothing else served; mount it after every router. */
export const jsonNotFound: RequestHandler = (req, res) => {
  sendError(res, new HttpError(404, 'NotFound', `no such endpoint: ${req.method} ${req.path}`));
};

/**
 * The last error handler of an express app serving check-ins: anything thrown becomes a JSON
 * error (body-parser's and path decoding's errors carry a status), never a crash or an HTML page.
 */
export const jsonErrorHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  if (err instanceof HttpError) return sendError(res, err);
  const e = err as { status?: unknown; statusCode?: unknown; message?: unknown; type?: unknown };
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const reason = status === 413 ? 'TooLarge' : status === 415 ? 'UnsupportedMediaType' : 'BadRequest';
    return sendError(res, new HttpError(status, reason, typeof e.message === 'string' ? e.message : 'bad request'));
  }
  sendError(res, new HttpError(500, 'InternalError', 'internal error'));
};

/** A whole HTTP/1.1 answer with a JSON error, for the socket-level handlers below. */
function rawJsonAnswer(status: string, reason: string, message: string): string {
  const body = JSON.stringify({ error: { reason, message } });
  return `HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** How Node's own refusals (before express sees the request) are answered. */
const CLIENT_ERRORS: Record<string, [status: string, reason: string]> = {
  HPE_HEADER_OVERFLOW: ['431 Request Header Fields Too Large', 'HeadersTooLarge'],
  ERR_HTTP_REQUEST_TIMEOUT: ['408 Request Timeout', 'RequestTimeout'],
};

/**
 * Node answers some requests by itself, with an empty or plain body, before express sees them:
 * these get a JSON error naming the problem instead. Requests that are not valid HTTP: a 400
 * (431 for oversized headers, 408 when too slow), unless an answer is being written on that
 * connection (the rest of a refused request's body is what failed to parse): then it is closed,
 * as Node's own handler does. An `Expect` other than `100-continue`: a 417. `CONNECT` (no proxy here): a 405.
 * Call on the http.Server that serves check-ins.
 */
export function answerClientErrorsAsJson(server: import('node:http').Server): void {
  server.on('checkExpectation', (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const body = JSON.stringify({ error: { reason: 'ExpectationFailed', message: `unsupported Expect header: ${clip(String(req.headers.expect), 100)}` } });
    res.writeHead(417, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' }).end(body);
  });
  server.on('connect', (_req: import('node:http').IncomingMessage, socket: import('node:stream').Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(rawJsonAnswer('405 Method Not Allowed', 'MethodNotAllowed', 'CONNECT is not supported'));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: import('node:stream').Duplex) => {
    // Node's own rule (_http_server.js socketOnError): no error answer into a response under way.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, reason] = CLIENT_ERRORS[err.code ?? ''] ?? ['400 Bad Request', 'MalformedRequest'];
    socket.end(rawJsonAnswer(status, reason, `not a valid HTTP request (${err.code ?? 'parse error'})`));
  });
}
