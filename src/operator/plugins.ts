// What the operator runs beside its reconcile loop, wired from the modules that own it: the alert
// outbox (src/alerts) and the check-in API (src/checkin).
import type { OperatorPlugins } from './operator.ts';

export function operatorPlugins(): OperatorPlugins {
  return {};
}
