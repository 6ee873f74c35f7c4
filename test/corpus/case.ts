/**
 * A case of the corpus: a failure provoked for real by the library that throws it in production,
 * and the classification the labelling table (docs/classification.md) says it must get.
 */
import type { Category } from "@effect-resilience/core/Classification"
import type { Env } from "./env.js"

/** The library (or runtime part) that produced the failure; accuracy is reported per library. */
export type Library =
  | "node:fs"
  | "node:net"
  | "node:http"
  | "node:tls"
  | "node:dns"
  | "node:child_process"
  | "node:zlib"
  | "JSON"
  | "fetch"
  | "undici"
  | "pg"
  | "pg-pool"
  | "ioredis"
  | "better-sqlite3"
  | "@grpc/grpc-js"
  | "@effect/platform"
  | "@effect/sql"
  | "effect"
  | "defect"

export interface Expected {
  readonly category: Category
  readonly retryable: boolean
  readonly countsForBreaker: boolean
  /** Where the protocol gives one (Retry-After, grpc-retry-pushback-ms). */
  readonly retryAfterMillis?: number
}

export interface Case {
  readonly name: string
  readonly library: Library
  readonly expected: Expected
  /** Provokes the failure and returns the raw value thrown or rejected (never a hand-built one). */
  readonly provoke: (env: Env) => Promise<unknown>
  /**
   * Set only where the labelling table lists the case as a known exception to the rule that every
   * case is right on retryable and countsForBreaker: the reason.
   */
  readonly knownException?: string
}

/** The labels of the table (docs/classification.md), by the kind of failure they describe. */
const label = (category: Category, retryable: boolean, countsForBreaker: boolean): Expected => ({
  category,
  retryable,
  countsForBreaker
})

export const L = {
  network: label("network", true, true),
  timeout: label("timeout", true, true),
  unavailable: label("unavailable", true, true),
  server: label("server", true, true),
  serverFinal: label("server", false, true),
  /** The peer does not speak the protocol: not retried (it will not start to), counted (it is the peer). */
  protocol: label("network", false, true),
  throttled: label("throttled", true, false),
  concurrency: label("concurrency", true, false),
  concurrencyFinal: label("concurrency", false, false),
  resource: label("resource", true, true),
  localResource: label("resource", true, false),
  localResourceFinal: label("resource", false, false),
  client: label("client", false, false),
  validation: label("validation", false, false),
  authentication: label("authentication", false, false),
  authorization: label("authorization", false, false),
  configuration: label("configuration", false, false),
  business: label("business", false, false),
  integrity: label("data-integrity", false, false),
  corruption: label("data-integrity", false, true),
  /** The caller gave up (its own abort): nothing to say about the dependency. */
  callerAbort: label("client", false, false),
  /** A programming defect: not retried, never a dependency's fault. */
  defect: label("unknown", false, false),
  /** A failure of a dependency nothing recognises. */
  unknown: label("unknown", false, true)
} as const

/** The same label with a Retry-After. */
export const after = (expected: Expected, retryAfterMillis: number): Expected => ({ ...expected, retryAfterMillis })

/** Thrown when a provocation did not fail: the case is broken, not the classifier. */
export class DidNotFail extends Error {
  constructor(what: string) {
    super(`expected a failure, got a success: ${what}`)
  }
}

/** The rejection of a promise (fails when it resolves). */
export const rejection = async (promise: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> => {
  try {
    const value = await (typeof promise === "function" ? promise() : promise)
    throw new DidNotFail(String(value).slice(0, 80))
  } catch (error) {
    if (error instanceof DidNotFail) throw error
    return error
  }
}

/**
 * Marks a promise that is awaited later as handled now, so that a rejection arriving while the
 * case awaits something else is not reported as unhandled; awaiting it still rejects.
 */
export const later = <A>(promise: Promise<A>): Promise<A> => {
  promise.catch(() => {})
  return promise
}

/** What a synchronous function throws (fails when it returns). */
export const thrown = (f: () => unknown): unknown => {
  try {
    const value = f()
    throw new DidNotFail(String(value).slice(0, 80))
  } catch (error) {
    if (error instanceof DidNotFail) throw error
    return error
  }
}

/** The first `error` an event emitter emits. */
export const emitted = (emitter: { once(event: "error", listener: (e: unknown) => void): unknown }) =>
  new Promise<unknown>((resolve) => emitter.once("error", resolve))
