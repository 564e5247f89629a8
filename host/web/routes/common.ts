/** Pieces the route descriptions share: answers, parameters and the usual refusals. */
import { ID, ref, type Schema } from './schemas.js';
import type { Answer } from './spec.js';

export const json = (description: string, schema: Schema): Answer => ({ description, schema });
export const listOf = (description: string, name: string): Answer => ({ description, schema: { type: 'array', items: ref(name) } });
export const NO_CONTENT: Answer = { description: 'done; no content' };

export const BY_ID = { id: ID };
export const LIMIT = (max: number, byDefault?: number): Schema => ({
  type: 'integer',
  minimum: 1,
  maximum: max,
  ...(byDefault === undefined ? {} : { default: byDefault }),
  description: 'how many items a page holds at most',
});
export const CURSOR: Schema = { type: 'string', maxLength: 1000, description: 'the nextCursor of the previous page' };
export const SEARCH: Schema = { type: 'string', maxLength: 200, description: 'only those whose name contains this text' };
export const FLAG: Schema = { type: 'string', enum: ['1', 'true', '0', 'false'], description: 'yes (1, true) or no (0, false, or left out)' };

export const NOT_VISIBLE = 'the project or job does not exist, or the caller may not see it';
export const VIEWER = 'viewers may only read; developers may change only their own projects';
