// The peer watch's own flags (declared in src/operator/config.ts beside the others, read here):
// --heartbeat-url / GOTEL_HEARTBEAT_URL and --heartbeat-interval (default 1m). A bad value is a
// ConfigError at start-up, naming the flag.
import { ConfigError } from '../operator/config.ts';
import { parseDuration } from '../core/duration.ts';

export interface HaConfig {
  /** The dead man's switch ping URL, if any. */
  heartbeatUrl?: string;
  heartbeatIntervalMs: number;
}

export function haConfig(opts: Record<string, unknown>): HaConfig {
  const extra = opts;
  const url = typeof extra.heartbeatUrl === 'string' && extra.heartbeatUrl.trim() !== '' ? extra.heartbeatUrl.trim() : undefined;
  if (url !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) throw new ConfigError(`--heartbeat-url: "${url}" is not an http(s) URL such as https://hc-ping.com/<uuid>`);
  }
  const intervalText = typeof extra.heartbeatInterval === 'string' ? extra.heartbeatInterval : '1m';
  let intervalMs: number;
  try {
    intervalMs = parseDuration(intervalText, '--heartbeat-interval');
  } catch {
    throw new ConfigError(`--heartbeat-interval: "${intervalText}" is not a duration such as 30s or 1m`);
  }
  if (!(intervalMs >= 1000)) throw new ConfigError(`--heartbeat-interval: must be at least 1s, not "${intervalText}"`);
  return { heartbeatUrl: url, heartbeatIntervalMs: intervalMs };
}
