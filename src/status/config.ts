// Who may see the status page and the badges: `--status-page=off|authenticated|public` and
// `--badges=off|authenticated|public` (default: whatever the page has), part of the operator's
// configuration (OperatorConfig.statusPage).
import { ConfigError } from '../operator/config.ts';

export const VISIBILITIES = ['off', 'authenticated', 'public'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export interface StatusConfig {
  page: Visibility;
  badges: Visibility;
}

function visibility(value: unknown, flag: string, fallback: Visibility): Visibility {
  if (value === undefined || value === '') return fallback;
  if (typeof value === 'string' && (VISIBILITIES as readonly string[]).includes(value)) return value as Visibility;
  throw new ConfigError(`${flag}: ${JSON.stringify(value)} is not one of ${VISIBILITIES.join(', ')}`);
}

/** Throws ConfigError naming the flag for a value that is not off, authenticated or public. */
export function statusConfig(opts: Record<string, unknown>): StatusConfig {
  const page = visibility(opts.statusPage, '--status-page', 'authenticated');
  return { page, badges: visibility(opts.badges, '--badges', page) };
}
