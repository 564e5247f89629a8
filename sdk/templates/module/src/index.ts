/**
 * __NAME__: a JobCenter module. The host builds these beans once per loaded bundle version, in one worker, and
 * shares them across every run (like a Spring Boot context): a bean asks `ctx.get` for the beans it needs, and a
 * bean with `execute` (or `resolve`) is a job whose `entry` is the bean's name.
 */
import { defineModule, type PJob } from '@jobcenter/sdk';

export interface Order {
  readonly id: number;
  readonly amount: number;
}

/** A stand-in for a connection pool or a client: expensive to build, so built once and shared. */
export class OrderRepository {
  private open = true;
  constructor(
    readonly region: string,
    private readonly orders: readonly Order[],
  ) {}

  async list(minAmount = 0): Promise<Order[]> {
    if (!this.open) throw new Error('repository is closed');
    return this.orders.filter((o) => o.amount >= minAmount);
  }

  close(): void {
    this.open = false;
  }
}

export default defineModule({
  beans: {
    repository: {
      factory: (ctx) => {
        const size = Number(ctx.config['orders.size'] ?? '5');
        ctx.log.info('repository: opening %s with %d orders', ctx.config.region ?? 'local', size);
        const orders = Array.from({ length: size }, (_, i) => ({ id: i + 1, amount: (i + 1) * 10 }));
        return new OrderRepository(ctx.config.region ?? 'local', orders);
      },
      dispose: (repo: OrderRepository) => repo.close(),
    },
    countOrders: async (ctx): Promise<PJob<{ minAmount?: number } | null>> => {
      const repo = await ctx.get<OrderRepository>('repository');
      return {
        async execute(run) {
          const orders = await repo.list(run.params?.minAmount ?? 0);
          run.log.info('%d orders in %s', orders.length, repo.region);
          return `${orders.length} orders`;
        },
      };
    },
    sumOrders: async (ctx): Promise<PJob> => {
      const repo = await ctx.get<OrderRepository>('repository');
      return {
        async execute(run) {
          const sum = (await repo.list()).reduce((total, o) => total + o.amount, 0);
          run.log.info('sum of orders in %s: %d', repo.region, sum);
          return `sum ${sum}`;
        },
      };
    },
  },
  onStart: (ctx) => ctx.log.info('module started'),
  onStop: (ctx) => ctx.log.info('module stopping'),
});
