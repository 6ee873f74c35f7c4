/**
 * The default classify function and the composition of user rules and mappings over it.
 *
 * Speed: a tagged failure is dispatched on `_tag` through a Map built once per classifier; the
 * answer is a constant classification computed when the tables module loaded, so the only
 * allocation is a copy when a Retry-After (or breaker / limiter wait) must be attached.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import type * as Classification from "../Classification.js"
import { RetriesExhausted } from "../Errors.js"
import type { Rule, RuleContext } from "../Rule.js"
import { headerValue, recognise, retryAfterMillis, type Visitor } from "./classifierRecognise.js"
import * as T from "./classifierTables.js"

type Classify = (failure: unknown) => Classification.Classification

const withDelay = (base: Classification.Classification, millis: number | undefined): Classification.Classification =>
  millis === undefined || !(millis > 0) ? base : { ...base, retryAfter: Duration.millis(millis) }

const numberField = (u: object, key: string): number | undefined => {
  const value: unknown = Reflect.get(u, key)
  return typeof value === "number" ? value : undefined
}

const stringField = (u: object, key: string): string | undefined => {
  const value: unknown = Reflect.get(u, key)
  return typeof value === "string" ? value : undefined
}

/**
 * The default classify function. `now` (epoch milliseconds) is only read to turn a Retry-After
 * HTTP date into a delay.
 */
export const makeDefault = (now: () => number): Classify => {
  const http = (status: number, headers: unknown): Classification.Classification => {
    const base = T.http(status)
    if (headers === undefined) return base
    const value = headerValue(headers, "retry-after")
    return value === undefined ? base : withDelay(base, retryAfterMillis(value, now))
  }

  const visitor: Visitor<Classification.Classification> = {
    http,
    node: (code) => T.node(code),
    undici: (code) => T.undici(code),
    grpc: (code, pushbackMillis) => withDelay(T.grpc(code), pushbackMillis),
    pg: (code) => T.pg(code),
    redis: (code) => T.redis(code),
    abort: () => T.abort,
    timeout: () => T.timeout
  }

  const raw = (u: unknown): Classification.Classification => recognise(u, visitor) ?? T.unknown

  const byCode =
    (table: (code: string) => Classification.Classification) =>
    (u: object): Classification.Classification => {
      const code = stringField(u, "code")
      return code === undefined ? raw(u) : table(code)
    }

  const byTag = new Map<string, (u: object) => Classification.Classification>([
    [
      "HttpError",
      (u) => {
        const status = numberField(u, "status")
        return status === undefined ? raw(u) : http(status, Reflect.get(u, "headers"))
      }
    ],
    ["NetworkError", byCode(T.node)],
    ["FetchError", byCode(T.undici)],
    ["PgError", byCode(T.pg)],
    ["RedisError", byCode(T.redis)],
    [
      "GrpcError",
      (u) => {
        const code = numberField(u, "code")
        return code === undefined ? raw(u) : withDelay(T.grpc(code), numberField(u, "retryPushbackMillis"))
      }
    ],
    ["AbortError", () => T.abort],
    ["TimeoutError", () => T.timeout],
    ["UnknownFailure", () => T.unknown],
    // The runtime's own failures.
    ["AttemptTimeout", () => T.attemptTimeout],
    ["DeadlineExceeded", () => T.deadlineExceeded],
    ["CircuitOpen", (u) => withDelay(T.circuitOpen, numberField(u, "retryAfterMillis"))],
    ["BulkheadRejected", () => T.bulkheadRejected],
    ["RateLimited", (u) => withDelay(T.rateLimited, numberField(u, "retryAfterMillis"))],
    ["RetryBudgetExhausted", () => T.retryBudgetExhausted],
    [
      "RetriesExhausted",
      (u) => {
        const last = u instanceof RetriesExhausted ? u.lastClassification : undefined
        if (last === undefined) return T.retriesExhausted
        return last.retryable ? { ...last, retryable: false } : last
      }
    ],
    // Effect's own.
    ["TimeoutException", () => T.timeout],
    ["UnknownException", (u) => (Cause.isUnknownException(u) && u.error !== u ? classify(u.error) : T.unknown)]
  ])

  const classify = (u: unknown): Classification.Classification => {
    if (typeof u !== "object" || u === null) return T.unknown
    if ("_tag" in u) {
      const tag = u._tag
      if (typeof tag === "string") {
        const handler = byTag.get(tag)
        if (handler !== undefined) return handler(u)
      }
    }
    return raw(u)
  }
  return classify
}

/** A mapping's handler: called only with a failure whose `_tag` is the key it is stored under. */
export type MappingHandler = (failure: unknown, fallback: Classify) => Classification.Classification

/** A compiled rule: a classification when it matches, undefined otherwise. */
export type CompiledRule = (failure: unknown, context: RuleContext) => Classification.Classification | undefined

/** What a rule or a mapping answers: a classification, or a function of the failure and the base. */
export type Result<A> =
  | Classification.Classification
  | ((failure: A, base: Classification.Classification) => Classification.Classification)

/** Compiles one `[rule, result]` pair. */
export const compileRule =
  <A>(rule: Rule<A>, result: Result<A>): CompiledRule =>
  (failure, context) => {
    if (!rule.test(failure, context)) return undefined
    return typeof result === "function" ? result(failure, context.base()) : result
  }

class Context implements RuleContext {
  private cached: Classification.Classification | undefined = undefined
  constructor(
    private readonly failure: unknown,
    private readonly fallback: Classify
  ) {}
  readonly base = (): Classification.Classification => {
    if (this.cached === undefined) this.cached = this.fallback(this.failure)
    return this.cached
  }
}

/**
 * Composes rules (in order), then tag mappings, then the fallback. A rule's `base()` is what the
 * mappings and the fallback say. Each case gets its own closure, so a classifier without rules
 * pays nothing for them.
 */
export const compose = (
  rules: ReadonlyArray<CompiledRule>,
  mappings: ReadonlyMap<string, MappingHandler>,
  fallback: Classify
): Classify => {
  const byTag =
    mappings.size === 0
      ? fallback
      : (u: unknown): Classification.Classification => {
          if (typeof u === "object" && u !== null && "_tag" in u) {
            const tag = u._tag
            if (typeof tag === "string") {
              const handler = mappings.get(tag)
              if (handler !== undefined) return handler(u, fallback)
            }
          }
          return fallback(u)
        }
  if (rules.length === 0) return byTag
  return (u) => {
    const context = new Context(u, byTag)
    for (const rule of rules) {
      const result = rule(u, context)
      if (result !== undefined) return result
    }
    return byTag(u)
  }
}
