// metav1.Condition helpers: lastTransitionTime moves only when a condition's status flips.
import type { Condition } from '../api/reservation.ts';
import { isoSeconds } from './time.ts';

export interface ConditionInput {
  type: string;
  status: Condition['status'];
  reason: string;
  message: string;
}

/**
 * The new list of conditions: those given replace the same types (keeping lastTransitionTime when
 * the status did not change), other types already present are kept as they were.
 */
export function mergeConditions(previous: Condition[] | undefined, next: ConditionInput[], generation: number | undefined, now: number): Condition[] {
  const prev = previous ?? [];
  const out: Condition[] = [];
  for (const n of next) {
    const old = prev.find((p) => p.type === n.type);
    out.push({
      type: n.type,
      status: n.status,
      reason: n.reason,
      message: n.message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime: old && old.status === n.status && old.lastTransitionTime ? old.lastTransitionTime : isoSeconds(now),
    });
  }
  for (const p of prev) if (!next.some((n) => n.type === p.type)) out.push(p);
  return out;
}
