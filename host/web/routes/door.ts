/**
 * The door of every documented route: who may call it, then its path parameters, query and body against the route's
 * JSON Schemas (ajv, JSON Schema 2020-12), before the handler runs. A refusal is the API's 400
 * `{ error: { code: 'BAD_REQUEST', message, details: { field } } }` naming the field as a client wrote it
 * (`schedule.cron`, `entry[1]`), and never echoes the value back.
 *
 * A route's validators are compiled on its first request, not when the host starts: compiling all of them took
 * ~100 ms of every start (300 ms of the first in a process), against ~2 ms for one route's first request. The
 * OpenAPI test compiles them all (`checks`), so a schema ajv refuses still fails CI, not a client.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Context, Next } from 'koa';
import { badRequest } from '../../errors/index.js';
import { assertAdmin, assertWriter } from '../../services/access.js';
import { MAX_ID, singleValues } from '../../services/input.js';
import { bodyOf, requireActor } from '../middleware.js';
import type { Schema } from './schemas.js';
import type { RouteSpec } from './spec.js';

/** The base URI the named schemas are registered under; `#/components/schemas/X` in a route resolves against it. */
const DOCUMENT = 'jobcenter-api';
const DIGITS = /^\d{1,15}$/;

export class Door {
  #ajv: Ajv2020 | null = null;

  /** ajv itself is made at the first route's first request too (~1 ms of every start, with the named schemas). */
  constructor(private readonly components: Record<string, Schema>) {}

  private get ajv(): Ajv2020 {
    if (!this.#ajv) {
      // The schemas are not checked against the JSON Schema meta-schema here (compiling it cost ~35 ms of every
      // start): the OpenAPI test checks each of them, with a validator that does.
      const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, discriminator: true, verbose: true, validateSchema: false, formats: { 'date-time': true, uuid: true } });
      ajv.addKeyword({ keyword: 'components' });
      ajv.addSchema({ $id: DOCUMENT, components: { schemas: this.components } });
      this.#ajv = ajv;
    }
    return this.#ajv;
  }

  /** A validator of a schema that may refer to the named schemas. */
  compile(schema: Schema): ValidateFunction {
    return this.ajv.compile(againstDocument(schema) as Schema);
  }

  /** The validators of one route's path parameters, query and body (null where it takes none). */
  checks(spec: RouteSpec): RouteChecks {
    return {
      params: spec.params ? this.compile({ type: 'object', properties: spec.params, required: Object.keys(spec.params) }) : null,
      query: spec.query ? this.compile({ type: 'object', properties: spec.query }) : null,
      body: spec.body && spec.body !== 'multipart' ? { check: this.compile(spec.body.schema), required: spec.body.required } : null,
    };
  }

  /** The middleware that guards one route. */
  guard(spec: RouteSpec): (ctx: Context, next: Next) => Promise<void> {
    let compiled: RouteChecks | null = null;
    // A change to a project, a bundle, a job or a run: a viewer is refused (403) before its input is read, as the
    // services would refuse it after.
    const changes = spec.method !== 'GET' && /^\/api\/v1\/(projects|jobs|runs)\b/.test(spec.path);
    return async (ctx, next) => {
      if (spec.auth === 'user') {
        const actor = requireActor(ctx);
        if (changes) assertWriter(actor);
      }
      if (spec.auth === 'admin') assertAdmin(requireActor(ctx));
      const { params, query, body } = (compiled ??= this.checks(spec));
      if (params) check(params, numbersIn(ctx.params as Record<string, string>, spec.params!));
      if (query) check(query, numbersIn(singleValues(ctx.query), spec.query!));
      const sent = bodyOf(ctx);
      if (body && (sent !== undefined || body.required)) check(body.check, sent);
      await next();
    };
  }
}

export interface RouteChecks {
  readonly params: ValidateFunction | null;
  readonly query: ValidateFunction | null;
  readonly body: { readonly check: ValidateFunction; readonly required: boolean } | null;
}

/** `#/…` references point into the registered document. */
function againstDocument(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(againstDocument);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [key, key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `${DOCUMENT}${value}` : againstDocument(value)]),
  );
}

/**
 * Path and query values are text: those of integer parameters become numbers when they are plain decimal digits.
 * Anything else (signs, fractions, exponents, hex, spaces) stays text and is refused as not a whole number.
 */
function numbersIn(values: Record<string, string | undefined>, schemas: Record<string, Schema>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    out[name] = schemas[name]?.type === 'integer' && value !== undefined && DIGITS.test(value) ? Number(value) : value;
  }
  return out;
}

function check(validate: ValidateFunction, value: unknown): void {
  if (validate(value)) return;
  const { field, message } = refusal(validate.errors ?? []);
  throw badRequest(message, field);
}

/** The field and message of ajv's errors (it stops at the first; anyOf and propertyNames add their own after it). */
export function refusal(errors: ErrorObject[]): { field: string | undefined; message: string } {
  const named = errors.find((e) => e.propertyName !== undefined);
  if (named) {
    const field = join(fieldOf(named.instancePath), short(named.propertyName!));
    const rule = (named.parentSchema as Schema | undefined)?.description;
    return { field, message: `${field} is not allowed as a key${rule ? `: keys must be ${String(rule)}` : ''}` };
  }
  const error = errors[0];
  if (!error) return { field: undefined, message: 'the request is not valid' };
  const at = fieldOf(error.instancePath);
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') return refused(join(at, String(params.missingProperty)), 'is required');
  if (error.keyword === 'additionalProperties') {
    const field = join(at, short(String(params.additionalProperty)));
    return { field, message: `unknown field "${field}"` };
  }
  if (error.keyword === 'discriminator') return refused(join(at, String(params.tag)), 'must be given, as text');
  return refused(at, mustBe(error));
}

function refused(field: string | undefined, what: string): { field: string | undefined; message: string } {
  return { field, message: `${field ?? 'request body'} ${what}` };
}

/** What the value must be, in words, from the schema that refused it. */
function mustBe(error: ErrorObject): string {
  const schema = (error.parentSchema ?? {}) as Schema;
  const description = typeof schema.description === 'string' ? schema.description : undefined;
  const types = ([] as unknown[]).concat(schema.type ?? []).filter((t) => t !== 'null');
  if (schema.enum) return `must be one of ${(schema.enum as unknown[]).join(', ')}`;
  if (schema.const !== undefined) return `must be ${String(schema.const)}`;
  if (types.includes('integer') && (error.keyword === 'type' || /imum$/.test(error.keyword))) {
    const { minimum: min, maximum: max } = schema;
    if (min === 1 && max === MAX_ID) return 'must be a positive whole number (an id)';
    return min !== undefined && max !== undefined ? `must be a whole number from ${String(min)} to ${String(max)}` : 'must be a whole number';
  }
  if (schema.pattern !== undefined && description && ['type', 'pattern', 'minLength', 'maxLength'].includes(error.keyword)) return `must be ${description}`;
  if (error.keyword === 'minLength' || error.keyword === 'maxLength') return `must be ${String(schema.minLength ?? 0)} to ${String(schema.maxLength)} characters`;
  if (error.keyword === 'minItems' || error.keyword === 'maxItems') return `must have ${String(schema.minItems ?? 0)} to ${String(schema.maxItems ?? 'any number of')} items`;
  if (error.keyword === 'type') return `must be ${([] as unknown[]).concat(schema.type).map((t) => TYPE_WORDS[String(t)] ?? String(t)).join(' or ')}`;
  return description ? `must be ${description}` : (error.message ?? 'is not valid');
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'an array',
  null: 'null',
};

/** `/retries/backoff/delayMs` → `retries.backoff.delayMs`; `/entry/1` → `entry[1]`; the body itself → undefined. */
function fieldOf(pointer: string): string | undefined {
  if (pointer === '') return undefined;
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : join(path || undefined, part)), '');
}

/** A key as a client sent it, cut short: a refusal does not echo a 100 KB name back. */
function short(key: string): string {
  return key.length > 60 ? `${key.slice(0, 50)}… (${key.length} characters)` : key;
}

function join(path: string | undefined, key: string): string {
  return path ? `${path}.${key}` : key;
}
