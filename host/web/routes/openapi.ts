/**
 * The OpenAPI 3.1 document of the host (GET /api/v1/openapi.json), built from the route descriptions and the same
 * schemas the door checks requests with.
 */
import { HOST_VERSION } from '../../config/index.js';
import { ACCOUNT_ROUTES } from './account-routes.js';
import { DASHBOARD_ROUTES } from './dashboard.js';
import { HOST_ROUTES } from './host-routes.js';
import { JOB_ROUTES } from './job-routes.js';
import { PROJECT_ROUTES } from './project-routes.js';
import { OUTPUT_SCHEMAS } from './responses.js';
import { INPUT_SCHEMAS, ref, type Schema } from './schemas.js';
import type { RouteSpec } from './spec.js';

/** Every route the host serves, described once. */
export const ROUTES: readonly RouteSpec[] = [...HOST_ROUTES, ...ACCOUNT_ROUTES, ...PROJECT_ROUTES, ...JOB_ROUTES, ...DASHBOARD_ROUTES];

/** The named schemas: request bodies and answers. */
export const COMPONENTS: Record<string, Schema> = { ...INPUT_SCHEMAS, ...OUTPUT_SCHEMAS };

const WHY: Record<number, string> = {
  400: 'a parameter, query value or body field is not valid: details.field names it',
  401: 'no valid token: send Authorization: Bearer <token> (POST /api/v1/auth/login, or an API token)',
  403: 'the caller may not do this',
  503: 'the host is starting or stopping, or its database does not answer (Retry-After is set)',
};

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    (paths[path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'JobCenter REST API',
      version: HOST_VERSION,
      description: 'An embedded job host for Node.js. docs/api.md in the repository explains paging, errors and roles, with examples.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: ['host', 'auth', 'projects', 'bundles', 'jobs', 'runs', 'dashboard', 'users', 'tokens'].map((name) => ({ name })),
    paths,
    components: {
      schemas: COMPONENTS,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'a session token (POST /api/v1/auth/login) or an API token (POST /api/v1/tokens)' },
        session: { type: 'apiKey', in: 'cookie', name: 'jc_session', description: 'the session cookie login sets (the console)' },
      },
    },
  };
}

function operation(route: RouteSpec): Record<string, unknown> {
  const parameters = [
    ...Object.entries(route.params ?? {}).map(([name, schema]) => parameter(name, 'path', schema, true)),
    ...Object.entries(route.query ?? {}).map(([name, schema]) => parameter(name, 'query', schema, false)),
  ];
  return {
    operationId: operationId(route),
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    ...(route.auth === 'public' ? { security: [] } : { security: route.auth === 'token' ? [{ bearer: [] }, {}] : [{ bearer: [] }, { session: [] }] }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body ? { requestBody: requestBody(route.body) } : {}),
    responses: responses(route),
  };
}

function parameter(name: string, where: 'path' | 'query', schema: Schema, required: boolean): Record<string, unknown> {
  const { description, ...rest } = schema;
  return { name, in: where, required, ...(description ? { description } : {}), schema: rest };
}

function requestBody(body: NonNullable<RouteSpec['body']>): Record<string, unknown> {
  if (body === 'multipart') {
    const file = { type: 'object', properties: { file: { type: 'string', contentMediaType: 'application/zip', description: 'the bundle zip' } }, required: ['file'] };
    return { required: true, content: { 'multipart/form-data': { schema: file } } };
  }
  return { required: body.required, content: { 'application/json': { schema: body.schema } } };
}

function responses(route: RouteSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(route.answers)) {
    const media = answer.schema ? { 'application/json': { schema: answer.schema } } : answer.type ? { [answer.type]: {} } : undefined;
    out[status] = { description: answer.description, ...(media ? { content: media } : {}) };
  }
  const refusals: Record<number, string> = {};
  if (route.params || route.query || (route.body && route.body !== 'multipart')) refusals[400] = WHY[400]!;
  if (route.auth === 'user' || route.auth === 'admin') refusals[401] = WHY[401]!;
  if (route.auth === 'admin') refusals[403] = 'only admins may do this';
  Object.assign(refusals, route.refusals);
  if (route.path !== '/healthz') refusals[503] ??= WHY[503]!;
  for (const [status, why] of Object.entries(refusals)) {
    out[status] = { description: why, content: { 'application/json': { schema: ref('Error') } } };
  }
  return out;
}

/** getJobsById, postJobsByIdTrigger: stable names for generated clients. */
function operationId(route: RouteSpec): string {
  const words = route.path
    .replace(/^\/api\/v1/, '')
    .split(/[/._-]/)
    .filter(Boolean)
    .map((part) => (part.startsWith(':') ? `By${capital(part.slice(1))}` : capital(part)));
  return `${route.method.toLowerCase()}${words.join('') || 'Root'}`;
}

function capital(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
