// GoTel-style message templates: `{namespace}/{name} missed its check-in; owner {owner}`.
// Unknown placeholders are left as written, so a typo shows instead of vanishing.
import type { OutboxEntry, Reservation } from '../api/reservation.ts';

export function renderTemplate(template: string, vars: Readonly<Record<string, string | number | undefined>>): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9_]*)\}/g, (all, key: string) => {
    const v = vars[key];
    return v === undefined ? all : String(v);
  });
}

/** The variables an alert message can use. */
export function alertVars(res: Reservation, entry: OutboxEntry): Record<string, string | number | undefined> {
  const st = res.status ?? {};
  return {
    namespace: res.metadata?.namespace ?? 'default',
    name: res.metadata?.name,
    owner: res.spec?.owner,
    kind: entry.kind,
    reason: entry.reason,
    state: st.state,
    dueTime: entry.dueTime,
    since: st.alert?.since,
    schedule: res.spec?.schedule ?? (res.spec?.every ? `every ${res.spec.every}` : undefined),
    timeZone: res.spec?.timeZone ?? 'UTC',
    lastCheckin: st.lastCheckin?.time,
    nextExpectedTime: st.nextExpectedTime,
    deadline: st.deadline,
    exitCode: st.lastResult?.exitCode,
    consecutiveFailures: st.consecutiveFailures ?? 0,
    message: entry.message,
  };
}

/** The alert text: spec.alertMessage rendered when set, else the entry's own message. */
export function renderAlertMessage(res: Reservation, entry: OutboxEntry): string {
  const tmpl = res.spec?.alertMessage;
  if (!tmpl) return entry.message ?? `${res.metadata?.namespace ?? 'default'}/${res.metadata?.name}: ${entry.kind} ${entry.reason}`;
  return renderTemplate(tmpl, alertVars(res, entry));
}
