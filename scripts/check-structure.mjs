// Checks the shape of host/ (issue 24; docs/architecture.md says why):
// - no import cycle between its .ts files;
// - no file under host/web/ imports host/store/ (the web goes through services and the domain);
// - no executor kind (host/executors/thread, module, isolate, exec) imports another kind's folder, and
//   host/executors/shared/ imports no kind but exec/worker-children.ts (the child-process containment that thread
//   and module workers load through shared/run-leftovers.ts);
// - only host/executors/exec/ imports child_process (DESIGN.md §1).
// Plain Node, no dependencies. It reads the specifiers of `import … from`, `export … from`, side-effect imports
// (`import './x.js'`) and `import('./x.js')` in every .ts file under host/, keeping relative ones only. Type-only
// imports count too (`import type`, `export type … from`): a cycle of types is still a circle a reader has to
// walk, and one value import added later makes it a real one.
// Prints each problem (a cycle as a path of files) and exits 1; prints `structure: ok …` and exits 0 otherwise.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const hostDir = path.join(root, 'host');

function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...tsFiles(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Comments out of the way, so an import in a comment does not count; strings stay (they hold the specifiers). */
function withoutComments(source) {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const SPECIFIER = [
  /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** The files under host/ that `file` imports (relative specifiers; `.js` maps to the `.ts` source). */
function importsOf(file) {
  const source = withoutComments(readFileSync(file, 'utf8'));
  const found = new Set();
  for (const pattern of SPECIFIER) {
    for (const match of source.matchAll(pattern)) {
      const spec = match[1];
      if (!spec.startsWith('.')) continue;
      const target = resolve(path.dirname(file), spec);
      if (target && target.startsWith(hostDir + path.sep)) found.add(target);
    }
  }
  return [...found];
}

function resolve(dir, spec) {
  const base = path.resolve(dir, spec);
  const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts')];
  return candidates.find((c) => c.endsWith('.ts') && existsSync(c)) ?? null;
}

const files = tsFiles(hostDir).sort();
const graph = new Map(files.map((f) => [f, importsOf(f)]));

// Tarjan's strongly connected components: every component of more than one file (or a file importing itself) holds a
// cycle; one cycle per component is printed, found by a walk that stays inside the component.
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];

function connect(v) {
  index.set(v, counter);
  low.set(v, counter);
  counter++;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v)) {
    if (!index.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v), index.get(w)));
    }
  }
  if (low.get(v) === index.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v).includes(v)) components.push(new Set(component));
  }
}

for (const file of files) if (!index.has(file)) connect(file);

/** The shortest cycle through the component's first file (breadth-first, inside the component). */
function cycleIn(component) {
  const start = [...component].sort()[0];
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v)) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [v];
        for (let p = previous.get(v); p !== null; p = previous.get(p)) path.unshift(p);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

const rel = (f) => path.relative(root, f);
const problems = [];
for (const component of components) problems.push(`cycle (${component.size} files): ${cycleIn(component).map(rel).join(' -> ')}`);

const under = (file, folder) => file.startsWith(path.join(hostDir, folder) + path.sep);
for (const [file, imports] of graph) {
  if (!under(file, 'web')) continue;
  for (const target of imports) if (under(target, 'store')) problems.push(`web imports the store: ${rel(file)} -> ${rel(target)}`);
}

const KINDS = ['thread', 'module', 'isolate', 'exec'];
const WORKER_CHILDREN = path.join(hostDir, 'executors', 'exec', 'worker-children.ts');
const kindOf = (file) => KINDS.find((kind) => under(file, path.join('executors', kind))) ?? (under(file, path.join('executors', 'shared')) ? 'shared' : null);
for (const [file, imports] of graph) {
  const from = kindOf(file);
  if (from === null) continue;
  for (const target of imports) {
    const to = kindOf(target);
    if (to === null || to === 'shared' || to === from) continue;
    if (from === 'shared' && target === WORKER_CHILDREN) continue;
    problems.push(`executor ${from} imports executor ${to}: ${rel(file)} -> ${rel(target)}`);
  }
}

for (const file of files) {
  if (under(file, path.join('executors', 'exec'))) continue;
  if (/\bfrom\s*['"](?:node:)?child_process['"]|\bimport\s*\(\s*['"](?:node:)?child_process['"]/.test(withoutComments(readFileSync(file, 'utf8')))) {
    problems.push(`child_process imported outside executors/exec/: ${rel(file)}`);
  }
}

if (problems.length > 0) {
  for (const problem of problems) console.log(problem);
  process.exit(1);
}
console.log(`structure: ok (${files.length} files: no cycle, the web does not import the store, no executor kind imports another, child_process only in exec)`);
