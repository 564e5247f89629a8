/** The routes outside /api/v1 (health, metrics) and the document itself; the web console's pages are not API routes. */
import { ref } from './schemas.js';
import type { RouteSpec } from './spec.js';
import { json } from './common.js';

export const HOST_ROUTES: RouteSpec[] = [
  {
    method: 'GET',
    path: '/healthz',
    tag: 'host',
    summary: 'Whether the host can serve',
    description: 'Ready: started, not stopping, and the database answers. Needs no token (load balancers, probes).',
    auth: 'public',
    answers: {
      200: json('the host serves', ref('Health')),
      503: json('starting, stopping, or the database does not answer (the body says which; Retry-After is set)', ref('Health')),
    },
  },
  {
    method: 'GET',
    path: '/metrics',
    tag: 'host',
    summary: 'Prometheus metrics',
    description: 'The Prometheus text format. Any user\'s token (a viewer\'s will do), or none when the host runs with --metrics-public.',
    auth: 'token',
    answers: { 200: { description: 'the metrics', type: 'text/plain; version=0.0.4' } },
    refusals: { 401: 'no valid token, and the host does not serve metrics publicly' },
  },
  {
    method: 'GET',
    path: '/api/v1/openapi.json',
    tag: 'host',
    summary: 'This reference, as an OpenAPI 3.1 document',
    description: 'Built from the same schemas the routes check their input with. Needs no token.',
    auth: 'public',
    answers: { 200: json('the OpenAPI document', { type: 'object' }) },
  },
];
