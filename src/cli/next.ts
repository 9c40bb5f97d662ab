// Placeholder: replaced by the `gotel next` schedule preview (issue 4).
import type { Command } from 'commander';

export function registerNext(_program: Command): void {}
