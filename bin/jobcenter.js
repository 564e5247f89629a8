#!/usr/bin/env node
// The compiled CLI lives in dist/; `npm run build` makes it. Before a build (or after a partial one) a missing file
// of dist/ is said as that, not as a module-resolution stack.
const dist = new URL('../dist/', import.meta.url);
import('../dist/host/cli.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && typeof err.url === 'string' && err.url.startsWith(dist.href)) {
    const missing = err.url.slice(new URL('..', dist).href.length);
    process.stderr.write(`jobcenter: the host is not built (${missing} is missing): run \`npm run build\` first (\`npm start\` builds, then starts)\n`);
  } else {
    process.stderr.write(`jobcenter: ${err && err.stack ? err.stack : err}\n`);
  }
  process.exitCode = 1;
});
