// Instant helpers. Instants are stored in UTC, RFC 3339, milliseconds only when there are some.

export function iso(ms: number): string {
  const s = new Date(ms).toISOString();
  return s.endsWith('.000Z') ? `${s.slice(0, -5)}Z` : s;
}

/** Whole seconds (for condition transition times, which Kubernetes keeps to the second). */
export function isoSeconds(ms: number): string {
  return iso(Math.floor(ms / 1000) * 1000);
}

/** ms of an Instant (or Date); undefined when absent or unparsable. */
export function ms(value: string | Date | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const t = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}
