#!/usr/bin/env node
// The compiled CLI lives in dist/cli/ (`npm run build` at the repository root, or `tsc -b sdk`).
import('../dist/cli/index.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`jobcenter-sdk: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  },
);
