// Typed errors for everything the core rejects in a spec. The operator turns them into a
// Ready=False condition; `gotel next` prints the message and exits 2. `field` names the place
// in the Reservation (`spec.schedule`, `spec.timeZone`, `spec.maintenanceWindows[0].duration`),
// `reason` is a CamelCase condition reason, `message` says what is wrong in one line.

export type SpecErrorReason = 'InvalidSchedule' | 'UnknownTimeZone' | 'InvalidDuration' | 'InvalidSpec' | 'CronJobNotFound';

export class ScheduleError extends Error {
  readonly field: string;
  readonly reason: SpecErrorReason;
  /** The problem without the field prefix. */
  readonly detail: string;

  constructor(field: string, reason: SpecErrorReason, detail: string) {
    super(`${field}: ${detail}`);
    this.name = 'ScheduleError';
    this.field = field;
    this.reason = reason;
    this.detail = detail;
  }

  /** The same problem reported under another field (e.g. a maintenance window's schedule). */
  at(field: string): ScheduleError {
    return new ScheduleError(field, this.reason, this.detail);
  }
}
