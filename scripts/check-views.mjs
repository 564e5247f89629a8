// Checks the console's templates (views/): none uses handlebars' triple-stash `{{{ }}}`, which writes a value
// without escaping it (issue 25: nothing a user types may break a page). Helpers that return HTML escape their
// arguments themselves (host/web/console/render.ts). Plain Node; prints each offending line and exits 1.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', 'views');

function templates(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...templates(full));
    else if (name.endsWith('.hbs')) out.push(full);
  }
  return out;
}

const problems = [];
const files = templates(root);
for (const file of files) {
  readFileSync(file, 'utf8').split('\n').forEach((line, index) => {
    if (line.includes('{{{') || line.includes('{{&')) problems.push(`${path.relative(process.cwd(), file)}:${index + 1}: unescaped output (triple-stash or {{&): ${line.trim()}`);
  });
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`views: ok (${files.length} templates, none writes a value unescaped)`);
