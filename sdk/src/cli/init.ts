/**
 * `jobcenter-sdk init`: a new job project of one kind that builds and tests green. Source files come from
 * sdk/templates/<kind>/ (with __NAME__ replaced); package.json, jobcenter.json and tsconfig.json are written here
 * because they depend on the options.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, flag, parse, str, type Options } from './args.js';
import { isKind, KINDS, type Kind } from './project.js';

export const INIT_HELP = `Usage: jobcenter-sdk init <dir> [--kind thread|module|isolate|exec] [--name N] [options]

Creates a job project in <dir> (new or empty) that builds and tests green:
  thread   src/index.ts: a job using params, config profiles, the cache and the log
  module   src/index.ts: a module (defineModule) with a repository bean shared by two job beans
  isolate  src/index.ts: a job without Node APIs, packed as one script for the isolated-vm sandbox
  exec     run.sh: a shell job reading JOBCENTER_PARAMS and JOBCENTER_CONFIG_FILE
each with config/ properties, a test (node's test runner, the SDK's runLocal) and jobcenter.json.

  --kind K          the job kind (default: thread)
  --name N          the bundle and package name (default: the folder's name)
  --sdk SPEC        the @jobcenter/sdk dependency (default: ^<this sdk's version>; run from a JobCenter
                    checkout: file:<its sdk/>, with typescript and @types/node linked from the checkout too,
                    so that npm install needs no registry)
  --sdk-path DIR    depend on a local sdk folder instead (file:DIR); env JOBCENTER_SDK_PATH does the same
  --no-typecheck    leave out typescript and @types/node (and the "typecheck" script): an install then
                    needs nothing but the sdk, and build type-checks with the SDK's TypeScript if it has one
  --force           write into a folder that is not empty

Then: cd <dir> && npm install && npm test && npm run pack`;

const OPTIONS: Options = {
  kind: { type: 'string' },
  name: { type: 'string' },
  sdk: { type: 'string' },
  'sdk-path': { type: 'string' },
  'no-typecheck': { type: 'boolean' },
  force: { type: 'boolean' },
};
const TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));
const SDK_PACKAGE = fileURLToPath(new URL('../../package.json', import.meta.url));
const SDK_DIR = dirname(SDK_PACKAGE);
const MAIN: Record<Kind, string | undefined> = { thread: 'dist/src/index.js', module: 'dist/src/index.js', isolate: 'src/index.ts', exec: undefined };

export async function initCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const p = parse('init', argv, OPTIONS);
  if (p.values.help) return void out.write(`${INIT_HELP}\n`), 0;
  if (p.positionals.length !== 1) throw new CliError('init needs exactly one folder: jobcenter-sdk init <dir>\n(see: jobcenter-sdk init --help)');
  const kind = str(p, 'kind') ?? 'thread';
  if (!isKind(kind)) throw new CliError(`unknown kind "${kind}": use one of ${KINDS.join(', ')}`);
  const dir = resolve(p.positionals[0]);
  const name = str(p, 'name') ?? basename(dir).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '');
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) throw new CliError(`--name must be lower-case letters, digits, ".", "_" or "-", got "${name}"`);
  await assertEmpty(dir, flag(p, 'force'));
  const typecheck = kind !== 'exec' && !flag(p, 'no-typecheck');
  await copyTemplate(kind, dir, name);
  await writeJson(join(dir, 'package.json'), packageJson(kind, name, sdkSpec(str(p, 'sdk'), str(p, 'sdk-path')), typecheck));
  await writeJson(join(dir, 'jobcenter.json'), { name, version: '0.1.0', kind, ...(MAIN[kind] ? { main: MAIN[kind] } : {}), description: `The ${name} jobs.` });
  if (kind !== 'exec') await writeJson(join(dir, 'tsconfig.json'), tsconfig());
  await writeFile(join(dir, '.gitignore'), 'node_modules/\ndist/\nbundles/\n.jobcenter/\n');
  const shown = relative(process.cwd(), dir) || '.';
  out.write(`created a ${kind} project "${name}" in ${shown}\n\nnext:\n  cd ${shown}\n  npm install\n  npm test\n  npx jobcenter-sdk run ${firstJob(kind)}\n  npm run pack\n`);
  return 0;
}

async function assertEmpty(dir: string, force: boolean): Promise<void> {
  if (!existsSync(dir)) return;
  if (!(await stat(dir)).isDirectory()) throw new CliError(`${dir} exists and is not a folder`);
  const entries = (await readdir(dir)).filter((e) => e !== '.git');
  if (entries.length > 0 && !force) throw new CliError(`${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); use --force to write into it`);
}

async function copyTemplate(kind: Kind, dir: string, name: string): Promise<void> {
  const from = join(TEMPLATES, kind);
  await mkdir(dir, { recursive: true });
  await cp(from, dir, { recursive: true, force: true });
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    const text = await readFile(file, 'utf8');
    if (text.includes('__NAME__')) await writeFile(file, text.replaceAll('__NAME__', name));
  }
  // cp keeps modes, but a template unpacked by a tool that drops them must still give an executable script.
  if (kind === 'exec') await chmod(join(dir, 'run.sh'), 0o755);
}

function sdkSpec(spec: string | undefined, path: string | undefined): string {
  const local = path ?? process.env.JOBCENTER_SDK_PATH;
  if (local) return `file:${resolve(local)}`;
  if (spec) return spec;
  if (isCheckout()) return `file:${SDK_DIR}`;
  const own = JSON.parse(readFileSync(SDK_PACKAGE, 'utf8')) as { version: string };
  return `^${own.version}`;
}

/** This SDK runs from a JobCenter checkout (sdk/ of the repository), not from an installed package. */
function isCheckout(): boolean {
  return !SDK_DIR.split(sep).includes('node_modules');
}

/**
 * A dev tool as the project's dependency: a project made from a checkout links the checkout's copy (found from
 * its sdk/, where `npm install` put it), so its `npm install` needs no registry; otherwise the registry's `spec`.
 */
function toolSpec(name: string, spec: string, sdk: string): string {
  if (!sdk.startsWith('file:')) return spec;
  try {
    return `file:${dirname(createRequire(join(sdk.slice('file:'.length), 'package.json')).resolve(`${name}/package.json`))}`;
  } catch {
    return spec;
  }
}

function packageJson(kind: Kind, name: string, sdk: string, typecheck: boolean): Record<string, unknown> {
  const scripts: Record<string, string> = kind === 'exec'
    ? { test: 'node --test test/', pack: 'jobcenter-sdk pack' }
    : {
        build: 'jobcenter-sdk build',
        ...(typecheck ? { typecheck: 'tsc --noEmit' } : {}),
        test: 'jobcenter-sdk build && node --enable-source-maps --test dist/test/',
        pack: 'jobcenter-sdk pack',
      };
  const devDependencies: Record<string, string> = { '@jobcenter/sdk': sdk };
  if (typecheck) Object.assign(devDependencies, { '@types/node': toolSpec('@types/node', '^20.19.0', sdk), typescript: toolSpec('typescript', '~5.9.3', sdk) });
  return { name, version: '0.1.0', private: true, type: 'module', scripts, dependencies: {}, devDependencies };
}

function tsconfig(): Record<string, unknown> {
  return {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023'],
      types: ['node'],
      strict: true,
      skipLibCheck: true,
      rootDir: '.',
      outDir: 'dist',
    },
    include: ['src', 'test'],
  };
}

function firstJob(kind: Kind): string {
  return { thread: 'hello --config-file app.properties --profile dev', module: 'countOrders --profile dev', isolate: 'words --params \'{"text":"a b a"}\'', exec: './run.sh --params \'{"name":"Ada"}\'' }[kind];
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
