// The API as the app and the dashboard call it, typed from the generated spec (openapi.gen.d.ts).
// app/js/api.js and dashboard/js/api.js name these in JSDoc only, so browsers run the files as they
// are; `tsc -p typecheck` checks every call's path, body and the fields read from its answer.

import type { components, paths } from './openapi.gen';

export type { components, paths };
export type Schema<N extends keyof components['schemas']> = components['schemas'][N];

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** `/api/v1/tickets/{id}` → `/api/v1/tickets/${string}`: the shape of a path the code builds. */
type Filled<P extends string> = P extends `${infer A}{${string}}${infer B}` ? `${A}${string}${Filled<B>}` : P;

type WithMethod<M extends Method> = { [P in keyof paths]: paths[P][Lowercase<M>] extends undefined ? never : P }[keyof paths];

/** The spec's path for `S` called with `M`: an exact path first, else a templated one, a query allowed. */
export type Route<M extends Method, S extends string> = S extends WithMethod<M>
  ? S
  : { [P in WithMethod<M>]: S extends Filled<P> | `${Filled<P>}?${string}` ? P : never }[WithMethod<M>];

type Op<M extends Method, S extends string> = NonNullable<paths[Route<M, S>][Lowercase<M>]>;

/** `S` itself when the spec has it for `M`, else `never` (so an unknown path is an error). */
export type KnownPath<M extends Method, S extends string> = [Route<M, S>] extends [never] ? never : S;

/** The JSON body the operation takes (`never` when it takes none). */
export type Body<M extends Method, S extends string> = Op<M, S> extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

type Json<R> = R extends { content: { 'application/json': infer B } } ? B : null;

/** The success answer's JSON: 200, else 201, else null (204). */
export type Answer<M extends Method, S extends string> = Op<M, S> extends { responses: infer R }
  ? R extends { 200: infer X } ? Json<X> : R extends { 201: infer X } ? Json<X> : null
  : never;
