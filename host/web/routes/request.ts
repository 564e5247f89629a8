/** What the REST handlers read from a request: path ids, the query and a JSON body. */
import type { Context } from 'koa';
import { optionalObject, parseId, singleValues } from '../../services/input.js';
import { bodyOf } from '../middleware.js';

export const pathId = (ctx: Context, name = 'id'): number => parseId(ctx.params[name] ?? '', name);
// Read before any lookup, so a bad parameter is named even where the ids it goes with do not exist.
export const queryOf = (ctx: Context): Record<string, string | undefined> => singleValues(ctx.query);
export const objectBody = (ctx: Context): Record<string, unknown> => optionalObject(bodyOf(ctx));
