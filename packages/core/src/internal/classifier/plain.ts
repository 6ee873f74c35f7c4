/**
 * The default classification of raw failures as plain TypeScript (no `effect`): the same
 * recognisers and tables as the default Classifier, for bindings other than Effect (the Promise
 * facade). It reads raw failures only (a Node system error, an undici error, a fetch Response or
 * an HTTP error with `status`, a pg / Redis / gRPC error, an abort, a timeout); Effect's tagged
 * failures are the Classifier's business.
 *
 * @internal
 */
import type { Verdict } from "./categories.js"
import { recognise, retryAfterOf, type Visitor } from "./recognise.js"
import * as T from "./tables.js"

/** A verdict, with the delay a server asked for (Retry-After, gRPC pushback), if any. */
export interface PlainClassification extends Verdict {
  readonly retryAfterMillis: number | undefined
}

const plain = (verdict: Verdict, retryAfterMillis: number | undefined): PlainClassification => ({
  category: verdict.category,
  severity: verdict.severity,
  retryable: verdict.retryable,
  countsForBreaker: verdict.countsForBreaker,
  code: verdict.code,
  message: verdict.message,
  retryAfterMillis: retryAfterMillis !== undefined && retryAfterMillis > 0 ? retryAfterMillis : undefined
})

/** A verdict without a delay. */
export const fromVerdict = (verdict: Verdict): PlainClassification => plain(verdict, undefined)

const makeVisitor = (now: () => number): Visitor<PlainClassification> => ({
  http: (status, headers) => plain(T.http(status), headers === undefined ? undefined : retryAfterOf(headers, now)),
  node: (code, syscall) => fromVerdict(T.node(code, syscall)),
  undici: (code) => fromVerdict(T.undici(code)),
  grpc: (code, pushbackMillis, reason, pushbackRefused) =>
    pushbackRefused ? fromVerdict(T.grpcRefused(code, reason)) : plain(T.grpcWith(code, reason), pushbackMillis),
  pg: (code) => fromVerdict(T.pg(code)),
  redis: (code) => fromVerdict(T.redis(code)),
  sqlite: (code, reason) => fromVerdict(T.sqlite(code, reason)),
  abort: () => fromVerdict(T.abort),
  timeout: () => fromVerdict(T.timeout),
  decode: (format) => fromVerdict(T.decode(format)),
  defect: (name, code) => fromVerdict(T.defect(name, code))
})

const unknownClassification = fromVerdict(T.unknown)

/** The default classify function; `now` (epoch ms) turns a Retry-After HTTP date into a delay. */
export const makeClassify = (now: () => number): ((failure: unknown) => PlainClassification) => {
  const visitor = makeVisitor(now)
  return (failure) => recognise(failure, visitor) ?? unknownClassification
}

/** The verdicts of the runtime's own failures. */
export const runtime = {
  attemptTimeout: fromVerdict(T.attemptTimeout),
  deadlineExceeded: fromVerdict(T.deadlineExceeded),
  circuitOpen: fromVerdict(T.circuitOpen),
  bulkheadRejected: fromVerdict(T.bulkheadRejected),
  retryBudgetExhausted: fromVerdict(T.retryBudgetExhausted)
} as const
