/**
 * The console's templates: `views/layouts/main.hbs` around one page of `views/pages/`, with the partials of
 * `views/partials/`. Compiled at the first page a host renders, with handlebars itself imported then (~2 MB of heap
 * and ~50 ms of a first import, which a host nobody opens in a browser never needs). Every value goes through `{{ }}`
 * (escaped); helpers that return HTML escape what they are given. A page is a partial the layout names
 * (`{{> (lookup . 'page') }}`), so no template needs `{{{ }}}`.
 */
import type Handlebars from 'handlebars';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's views/ folder, from host/web/console (source, run by tsx) or dist/host/web/console (built). */
export function viewsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i += 1) {
    const candidate = path.join(dir, 'views');
    if (existsSync(path.join(candidate, 'layouts', 'main.hbs'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('the console templates (views/layouts/main.hbs) were not found above host/web/console');
}

/** Times are shown in UTC with their zone, as ISO-like text a reader can compare across pages. */
export function shownTime(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  const date = value instanceof Date ? value : new Date(String(value));
  if (Number.isNaN(date.getTime())) return '—';
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function shownDuration(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

export function shownBytes(n: unknown): string {
  if (typeof n !== 'number') return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function helpers(hb: typeof Handlebars): void {
  const escape = hb.Utils.escapeExpression;
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b || String(a) === String(b));
  hb.registerHelper('not', (a: unknown) => !a);
  hb.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean));
  hb.registerHelper('and', (...args: unknown[]) => args.slice(0, -1).every(Boolean));
  hb.registerHelper('time', (value: unknown) => {
    const text = shownTime(value);
    if (text === '—') return text;
    const iso = (value instanceof Date ? value : new Date(String(value))).toISOString();
    return new hb.SafeString(`<time datetime="${escape(iso)}">${escape(text)}</time>`);
  });
  hb.registerHelper('duration', shownDuration);
  hb.registerHelper('bytes', shownBytes);
  hb.registerHelper('json', (value: unknown) => (value === undefined || value === null ? '' : JSON.stringify(value, null, 2)));
  hb.registerHelper('lower', (value: unknown) => String(value ?? '').toLowerCase());
  hb.registerHelper('short', (value: unknown) => String(value ?? '').slice(0, 8));
  // Run ids are UUIDv7: their start is the time, shared by runs of the same minute; their end tells them apart.
  hb.registerHelper('runShort', (value: unknown) => `…${String(value ?? '').slice(-8)}`);
  hb.registerHelper('percent', (value: unknown) => (typeof value === 'number' ? `${(value * 100).toFixed(1)} %` : '—'));
  hb.registerHelper('selected', (a: unknown, b: unknown) => (a !== undefined && a !== null && String(a) === String(b) ? 'selected' : ''));
  hb.registerHelper('checked', (a: unknown) => (a ? 'checked' : ''));
}

/** The templates of one host's console: the layout, and the pages' names (partials and pages are registered in hb). */
interface Loaded {
  layout: Handlebars.TemplateDelegate;
  pages: Set<string>;
}

/** The console's templates, read at the first page a host renders (reading them all took ~0.7 ms of every start). */
export class Views {
  #loaded: Loaded | null = null;
  #loading: Promise<void> | null = null;

  constructor(readonly dir = viewsDir()) {}

  /** Imports handlebars and compiles the templates, once: the console's pages wait for it before they render. */
  ready(): Promise<void> {
    return (this.#loading ??= import('handlebars').then(({ default: handlebars }) => {
      this.#loaded = this.load(handlebars.create());
    }));
  }

  private load(hb: typeof Handlebars): Loaded {
    const pages = new Set<string>();
    helpers(hb);
    for (const [folder, prefix] of [['partials', ''], ['pages', 'page/']] as const) {
      for (const file of readdirSync(path.join(this.dir, folder))) {
        if (!file.endsWith('.hbs')) continue;
        const name = `${prefix}${file.slice(0, -4)}`;
        hb.registerPartial(name, hb.compile(readFileSync(path.join(this.dir, folder, file), 'utf8'), { strict: false }));
        if (prefix) pages.add(name);
      }
    }
    return { layout: hb.compile(readFileSync(path.join(this.dir, 'layouts', 'main.hbs'), 'utf8')), pages };
  }

  /** The whole page: `data` for the page and the layout (title, actor, nav, csrf, flash). After ready(). */
  render(page: string, data: Record<string, unknown>): string {
    if (!this.#loaded) throw new Error('the console templates are not loaded yet (Views.ready)');
    const { layout, pages } = this.#loaded;
    const name = `page/${page}`;
    if (!pages.has(name)) throw new Error(`no console page ${page}`);
    return layout({ ...data, page: name });
  }
}
