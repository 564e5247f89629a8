/**
 * The console's templates and handlebars itself are loaded by the first page a host renders, not at its start: a host
 * that nobody opens in a browser does not carry them (~1.7 MB of heap). Pages asked for at once all wait for the one
 * load. Its own file: the check looks at this process's module cache, which no other host may have filled.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { startHost, type TestHost } from '../helpers/host.js';

const cache = createRequire(import.meta.url).cache;
const handlebarsLoaded = (): boolean => Object.keys(cache).some((file) => /[\\/]node_modules[\\/]handlebars[\\/]/.test(file));

let th: TestHost;
before(async () => {
  th = await startHost({ options: { seedSamples: false } });
});
after(async () => {
  await th?.stop();
});

test('handlebars is loaded by the first console page, and pages asked for at once are all rendered', async () => {
  assert.equal(handlebarsLoaded(), false, 'a started host has not loaded handlebars');
  assert.equal((await th.api.get('/api/v1/projects')).status, 200);
  assert.equal(handlebarsLoaded(), false, 'the REST API does not load it');
  const pages = await Promise.all(Array.from({ length: 4 }, () => fetch(`${th.url}/login`)));
  for (const page of pages) {
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form[^>]+action="\/login"/);
  }
  assert.equal(handlebarsLoaded(), true);
});
