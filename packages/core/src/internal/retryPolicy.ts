/**
 * Moved to `./retryPolicy/retry.ts`; this path stays until every importer uses the new one.
 *
 * @internal
 */
export { spanEvent, summarize, tagOf } from "./retryPolicy/retry.js"
