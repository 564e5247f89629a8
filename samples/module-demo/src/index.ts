/**
 * The module-demo sample: a spring-boot-like module. The host builds its beans once per bundle version and shares
 * them across runs:
 * - `repository` is a fake in-memory repository (think: a connection pool), seeded from the module config;
 * - `countPeople` and `addPerson` are job beans that both use that one repository;
 * - onStart / onStop and the repository's disposer write lifecycle lines to the host log.
 *
 * Only types are imported from the SDK: `defineModule` would check the shape at load time, but a plain object
 * typed as ModuleDefinition needs no SDK at run time, so the bundle carries no node_modules.
 */
import type { JobContext, ModuleContext, ModuleDefinition, PJob } from '@jobcenter/sdk';

class PeopleRepository {
  readonly #people: string[];
  constructor(
    seed: readonly string[],
    private readonly maxPeople: number,
  ) {
    this.#people = [...seed];
  }

  count(): number {
    return this.#people.length;
  }

  add(name: string): number {
    if (this.#people.length >= this.maxPeople) throw new Error(`the repository is full (${this.maxPeople} people)`);
    this.#people.push(name);
    return this.#people.length;
  }

  close(): void {
    this.#people.length = 0;
  }
}

const demo: ModuleDefinition = {
  beans: {
    repository: {
      factory(ctx: ModuleContext) {
        const seed = (ctx.config['repository.seed'] ?? '').split(',').filter(Boolean);
        const repository = new PeopleRepository(seed, Number(ctx.config['repository.maxPeople'] ?? 100));
        ctx.log.info('repository ready with %d people', repository.count());
        return repository;
      },
      dispose(repository: PeopleRepository) {
        repository.close();
      },
    },
    countPeople: async (ctx: ModuleContext): Promise<PJob> => {
      const repository = await ctx.get<PeopleRepository>('repository');
      return {
        execute(run: JobContext) {
          run.log.info('counting people');
          return `${repository.count()} people`;
        },
      };
    },
    addPerson: async (ctx: ModuleContext): Promise<PJob<{ name?: string } | null>> => {
      const repository = await ctx.get<PeopleRepository>('repository');
      return {
        execute(run) {
          const name = run.params?.name ?? 'Anonymous';
          const total = repository.add(name);
          run.log.info('added %s', name);
          return `added ${name}: ${total} people`;
        },
      };
    },
  },
  onStart(ctx) {
    ctx.log.info('module-demo started');
  },
  onStop(ctx) {
    ctx.log.info('module-demo stopping');
  },
};

export default demo;
