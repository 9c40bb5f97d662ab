// Text helpers shared by the judge and the alert senders.

/** `text` cut to at most `max` characters, with an ellipsis when cut. */
export function clip(text: string, max = 1024): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
