// `gotel --version` and `gotel version`: the package's version. The single executable has no
// package.json beside it, so its build defines __GOTEL_VERSION__ (scripts/build-exe.ts); run from
// the repository or dist/, the version is read from package.json two levels up.
import { readFileSync } from 'node:fs';

declare const __GOTEL_VERSION__: string | undefined;

export function packageVersion(): string {
  if (typeof __GOTEL_VERSION__ === 'string') return __GOTEL_VERSION__;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}
