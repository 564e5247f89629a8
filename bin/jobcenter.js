#!/usr/bin/env node
// The compiled CLI lives in dist/; `npm run build` makes it.
import('../dist/host/cli.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  process.stderr.write(`jobcenter: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
