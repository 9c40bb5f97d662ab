// Shields-style badges (the "flat" style READMEs already carry): an SVG with a grey label and a
// coloured message, and the JSON of Shields' endpoint badge (https://shields.io/badges/endpoint-badge)
// so a README can also go through shields.io and pick its own style. Pure: text in, text out.
import type { Reservation, State } from '../api/reservation.ts';
import { isFailing, stateOf, worstState } from './model.ts';

/** Shields' named colours and the hex values its flat style draws them with. */
export const COLORS = {
  brightgreen: '#4c1',
  green: '#97ca00',
  yellow: '#dfb317',
  orange: '#fe7d37',
  red: '#e05d44',
  blue: '#007ec6',
  lightgrey: '#9f9f9f',
} as const;
export type ColorName = keyof typeof COLORS;

export function stateColor(state: State): ColorName {
  switch (state) {
    case 'Healthy':
      return 'brightgreen';
    case 'Running':
      return 'blue';
    case 'Late':
    case 'TooFast':
      return 'yellow';
    case 'Overrun':
      return 'orange';
    case 'Missed':
    case 'Failed':
    case 'Invalid':
      return 'red';
    default:
      // Pending, Snoozed, Suspended: nothing judged, nothing wrong; Unknown: GoTel itself could not judge.
      return 'lightgrey';
  }
}

export interface Badge {
  label: string;
  message: string;
  color: ColorName;
}

export function reservationBadge(r: Reservation, label?: string): Badge {
  const state = stateOf(r);
  return { label: label ?? r.metadata.name, message: state, color: stateColor(state) };
}

/** One Reservation's badge when it does not exist (a 404 that still draws, so a README shows why). */
export function notFoundBadge(label: string): Badge {
  return { label, message: 'not found', color: 'lightgrey' };
}

/** A namespace at a glance: how many fail (coloured by the worst), else how many are fine. */
export function namespaceBadge(namespace: string, reservations: Reservation[], label?: string): Badge {
  const l = label ?? namespace;
  if (reservations.length === 0) return { label: l, message: 'no reservations', color: 'lightgrey' };
  const failing = reservations.filter(isFailing);
  if (failing.length > 0) {
    return { label: l, message: `${failing.length} of ${reservations.length} failing`, color: stateColor(worstState(failing.map(stateOf))!) };
  }
  return { label: l, message: `${reservations.length} ok`, color: 'brightgreen' };
}

/** Shields' endpoint badge schema (schemaVersion 1). */
export function shieldsJson(b: Badge): { schemaVersion: 1; label: string; message: string; color: ColorName } {
  return { schemaVersion: 1, label: b.label, message: b.message, color: b.color };
}

// Approximate widths of Verdana 11px (what Shields measures with), in pixels per character class:
// exact metrics are not needed, only text that never overflows its box.
function textWidth(text: string): number {
  let w = 0;
  for (const ch of text) {
    if ('iljI.,:;|!\'` '.includes(ch)) w += 3.9;
    else if ('ftr()[]{}-/'.includes(ch)) w += 4.9;
    else if ('mwMW'.includes(ch)) w += 10.7;
    else if (/[A-Z0-9]/.test(ch)) w += 7.6;
    else w += 6.6;
  }
  return Math.ceil(w);
}

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

export function badgeSvg(b: Badge): string {
  const lw = textWidth(b.label) + 10;
  const mw = textWidth(b.message) + 10;
  const w = lw + mw;
  const fill = COLORS[b.color];
  const label = xml(b.label);
  const message = xml(b.message);
  const text = (x: number, t: string): string => `<text x="${x}" y="15" fill="#010101" fill-opacity=".3">${t}</text><text x="${x}" y="14">${t}</text>`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${label}: ${message}">` +
    `<title>${label}: ${message}</title>` +
    `<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>` +
    `<clipPath id="r"><rect width="${w}" height="20" rx="3" fill="#fff"/></clipPath>` +
    `<g clip-path="url(#r)"><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${mw}" height="20" fill="${fill}"/><rect width="${w}" height="20" fill="url(#s)"/></g>` +
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">${text(lw / 2, label)}${text(lw + mw / 2, message)}</g>` +
    `</svg>`
  );
}
