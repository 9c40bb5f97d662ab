#!/usr/bin/env node
// The `gotel` command: the compiled CLI (npm ci compiles src/ to dist/ through `prepare`).
// A committed launcher because npm links bins before `prepare` builds them, so dist/ files would
// not be executable.
import '../dist/cli/main.js';
