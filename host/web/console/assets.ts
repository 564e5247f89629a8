/**
 * /assets/: the console's own stylesheet and scripts (views/assets/) and uPlot's build from node_modules, served
 * from a list made at the first request for one (no path from the URL reaches the file system).
 */
import Router from '@koa/router';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { securityHeaders } from './guard.js';

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

function assetFiles(viewsDir: string): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  const add = (name: string, file: string): void => {
    const type = TYPES[path.extname(file)];
    if (type) files.set(name, { type, body: readFileSync(file) });
  };
  const own = path.join(viewsDir, 'assets');
  for (const name of readdirSync(own)) add(name, path.join(own, name));
  const uplot = path.dirname(createRequire(import.meta.url).resolve('uplot/package.json'));
  add('uPlot.iife.min.js', path.join(uplot, 'dist', 'uPlot.iife.min.js'));
  add('uPlot.min.css', path.join(uplot, 'dist', 'uPlot.min.css'));
  return files;
}

export function mountAssets(router: Router, viewsDir: string): void {
  let files: Map<string, { type: string; body: Buffer }> | null = null;
  router.get('/assets/:name', (ctx) => {
    const file = (files ??= assetFiles(viewsDir)).get(ctx.params.name ?? '');
    if (!file) return;
    securityHeaders(ctx);
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.type = file.type;
    ctx.body = file.body;
  });
}
