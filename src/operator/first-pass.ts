// A leadership term's first pass: every Reservation listed when the term began is judged once,
// and each judgement (re)arms that Reservation's deadline timer in the work queue. When the last
// one is done, every deadline has its timer again: the operator logs it and sets
// gotel_deadlines_armed, which is how "restart to every timer re-armed" is measured.
export class FirstPass {
  private pending = new Set<string>();
  private startedAt = 0;
  private onDone?: (count: number, ms: number) => void;
  private count = 0;

  /** Starts a pass over `keys` (replacing one in progress); `onDone` runs once all were judged. */
  begin(keys: string[], now: number, onDone: (count: number, ms: number) => void): void {
    this.pending = new Set(keys);
    this.count = keys.length;
    this.startedAt = now;
    this.onDone = onDone;
    this.check(now);
  }

  /** A key was judged successfully (a failed judgement is retried and counts when it succeeds). */
  judged(key: string, now: number): void {
    if (this.pending.delete(key)) this.check(now);
  }

  /** The term ended: the pass no longer means anything. */
  cancel(): void {
    this.pending.clear();
    this.onDone = undefined;
  }

  /** Keys still waiting for their first judgement in this term. */
  get remaining(): number {
    return this.pending.size;
  }

  private check(now: number): void {
    if (this.pending.size > 0 || !this.onDone) return;
    const done = this.onDone;
    this.onDone = undefined;
    done(this.count, now - this.startedAt);
  }
}
