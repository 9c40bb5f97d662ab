// Reading and understanding a check-in's body: text, or a JSON object with runId, message,
// exitCode, durationSeconds. Bounded in size; anything odd is a 4xx, never a crash.
import type { Request } from 'express';
import { HttpError, badRequest } from './errors.ts';

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
export const DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024;

/** Reads the raw body, refusing (413) more than `maxBytes` and encodings other than identity (415). */
export async function readBody(req: Request, maxBytes: number): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toString().trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== '') {
    throw new HttpError(415, 'UnsupportedMediaType', `Content-Encoding "${encoding.slice(0, 40)}" is not supported; send the body uncompressed`);
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    req.resume();
    throw new HttpError(413, 'TooLarge', `the body is ${declared} bytes; at most ${maxBytes} are accepted`);
  }
  // A body parser mounted earlier may have consumed the stream already.
  const pre: unknown = (req as { body?: unknown }).body;
  if (Buffer.isBuffer(pre)) return pre;
  if (req.readableEnded) return Buffer.alloc(0);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: HttpError | null, value?: Buffer): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) {
        req.resume(); // drain the rest so the answer can be sent
        reject(err);
      } else resolve(value as Buffer);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) return finish(new HttpError(413, 'TooLarge', `the body is larger than ${maxBytes} bytes`));
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(null, Buffer.concat(chunks));
    const onError = (): void => finish(badRequest('BadBody', 'the request body could not be read'));
    const onAborted = (): void => finish(badRequest('BadBody', 'the request was aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

export interface BodyFields {
  runId?: string;
  message?: string;
  exitCode?: number;
  durationSeconds?: number;
  source?: string;
}

/** Cuts a string to at most `max` UTF-8 bytes on a character boundary. */
export function cutUtf8(s: string, max: number): string {
  if (Buffer.byteLength(s, 'utf8') <= max) return s;
  let cut = Buffer.from(s, 'utf8').subarray(0, max).toString('utf8');
  while (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut;
}

function isJsonType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || type.endsWith('+json');
}

const SOURCES = new Set(['cli', 'sidecar', 'http']);

/** Interprets a body: JSON object when the Content-Type says JSON, else UTF-8 text (the message). */
export function parseCheckinBody(raw: Buffer, contentType: string | undefined, maxMessageBytes: number): BodyFields {
  if (raw.length === 0) return {};
  if (!isJsonType(contentType)) {
    const text = raw.toString('utf8').trim();
    return text ? { message: cutUtf8(text, maxMessageBytes) } : {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw badRequest('MalformedJSON', `the body is not valid JSON: ${err instanceof Error ? err.message.slice(0, 200) : 'parse error'}`);
  }
  if (typeof parsed === 'string') return parsed ? { message: cutUtf8(parsed, maxMessageBytes) } : {};
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('MalformedJSON', 'a JSON body must be an object: {"runId", "message", "exitCode", "durationSeconds"}');
  }
  const o = parsed as Record<string, unknown>;
  const out: BodyFields = {};
  if (o.runId !== undefined && o.runId !== null) {
    if (typeof o.runId !== 'string' || o.runId.length > 128) throw badRequest('InvalidField', 'runId must be a string of at most 128 characters');
    if (o.runId) out.runId = o.runId;
  }
  if (o.message !== undefined && o.message !== null) {
    if (typeof o.message !== 'string') throw badRequest('InvalidField', 'message must be a string');
    if (o.message) out.message = cutUtf8(o.message, maxMessageBytes);
  }
  if (o.exitCode !== undefined && o.exitCode !== null) {
    if (typeof o.exitCode !== 'number' || !Number.isInteger(o.exitCode) || o.exitCode < 0 || o.exitCode > 255) {
      throw badRequest('InvalidField', 'exitCode must be a whole number from 0 to 255');
    }
    out.exitCode = o.exitCode;
  }
  if (o.durationSeconds !== undefined && o.durationSeconds !== null) {
    if (typeof o.durationSeconds !== 'number' || !Number.isFinite(o.durationSeconds) || o.durationSeconds < 0 || o.durationSeconds > 1e9) {
      throw badRequest('InvalidField', 'durationSeconds must be a number of seconds, zero or more');
    }
    out.durationSeconds = o.durationSeconds;
  }
  if (typeof o.source === 'string' && SOURCES.has(o.source)) out.source = o.source;
  return out;
}
