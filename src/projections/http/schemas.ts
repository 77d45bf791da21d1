import { REPORT_KINDS } from '../report-rows.js'
import { KINDS } from './http-util.js'
import { responseSchemas } from './responses.js'

// JSON schemas of the routes' parameters and query strings (fastify validates them before a handler runs; a
// request that fails is a 400 MBWA_BAD_REQUEST naming what is wrong), with their answers' (responses.ts). Shared pieces are added to the server once
// and referred to with $ref, as fastify's shared-schema example does. Built per server: partitions bound the
// partition parameter.

export function sharedSchemas(partitions: number): Record<string, unknown>[] {
  return [
    { $id: 'wikiParams', type: 'object', properties: { wiki: { type: 'string', minLength: 1, maxLength: 100 } }, required: ['wiki'] },
    { $id: 'partition', type: 'integer', minimum: 0, maximum: partitions - 1 },
    { $id: 'pageLimit', type: 'integer', minimum: 1, maximum: 1000 },
    { $id: 'cursor', type: 'string', minLength: 1, maxLength: 8192 },
    { $id: 'title', type: 'string', maxLength: 1024 },
  ]
}

/** A wiki's discrepancy index, page after page (or, internally, one partition's page after a title). */
export const discrepanciesQuery = {
  params: { $ref: 'wikiParams#' },
  querystring: {
    type: 'object',
    properties: { kind: { type: 'string', enum: [...KINDS] }, limit: { $ref: 'pageLimit#' }, cursor: { $ref: 'cursor#' }, partition: { $ref: 'partition#' }, after: { $ref: 'title#' } },
  },
  response: responseSchemas.discrepancies,
}

/** A wiki's "missing here" list. */
export const missingQuery = {
  params: { $ref: 'wikiParams#' },
  querystring: {
    type: 'object',
    properties: { minWikis: { type: 'integer', minimum: 2, maximum: 99_999 }, limit: { $ref: 'pageLimit#' }, cursor: { $ref: 'cursor#' }, partition: { $ref: 'partition#' }, after: { type: 'string', maxLength: 2048 } },
  },
  response: responseSchemas.missing,
}

/** A wiki's pages in one partition, in title order (dump workers elsewhere). */
export const pagesQuery = {
  params: { $ref: 'wikiParams#' },
  querystring: {
    type: 'object',
    properties: { partition: { $ref: 'partition#' }, limit: { type: 'integer', minimum: 1, maximum: 10_000 }, after: { $ref: 'title#' } },
    required: ['partition'],
  },
  response: responseSchemas.pages,
}

/** One wiki's reports as a page or CSV, filtered by kind. */
export const reportsQuery = {
  params: { $ref: 'wikiParams#' },
  querystring: { type: 'object', properties: { kind: { type: 'string', enum: [...REPORT_KINDS] }, cursor: { $ref: 'cursor#' } } },
}

/** A wiki's dry-run diffs, as a page or as text. */
export const diffsQuery = {
  params: { $ref: 'wikiParams#' },
  querystring: { type: 'object', properties: { format: { type: 'string', enum: ['text', 'html'] } } },
}
