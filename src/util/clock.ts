// The clock, injected wherever GoTel reads the time, so tests can drive it. The judging core never
// reads a clock: time is passed to it.

/** The current instant. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
