/**
 * Bad input, everywhere a user or a file gives it: random values (JSON, and what code may pass:
 * NaN, infinities, bigints, undefined) shaped as each config's objects, with the right keys and
 * wrong values, fed to every config and policy decoder through its public constructor. Never a
 * throw or a defect: a config is either accepted (and then builds) or refused with a `ParseError`
 * whose message names the path of every problem.
 *
 * The inputs are generated from each schema's encoded side (struct keys, union members, literals),
 * each value replaced now and then by junk or by an almost-right value ("-1 seconds", 0, NaN).
 */
import {
  AdaptiveConcurrency,
  AdaptiveThrottle,
  Bulkhead,
  CircuitBreaker,
  Classifier,
  RateLimiter,
  Resilience,
  RetryBudget,
  RetryPolicy,
  Timeout
} from "@effect-resilience/core"
import { DeadLetterQueue } from "@effect-resilience/durable"
import { ResilientHttpClient } from "@effect-resilience/platform"
import * as SqlConnection from "@effect-resilience/sql/SqlConnection"
import { describe, expect, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"
import fc from "fast-check"

/** Values that are almost right somewhere: the edges a decoder must refuse or take whole. */
const edgeValues: ReadonlyArray<unknown> = [
  0,
  -0,
  -1,
  1,
  0.5,
  1.5,
  2 ** 31,
  Number.MAX_SAFE_INTEGER,
  1e308,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -1n,
  0n,
  10n ** 30n,
  "",
  " ",
  "0",
  "10",
  "1 second",
  "250 millis",
  "-1 seconds",
  " -5 millis",
  "Infinity",
  "infinity",
  "1e400 millis",
  "NaN millis",
  "5 parsecs",
  "postgres://u:secret@127.0.0.1:1/db",
  [1, 0],
  [-1, 0],
  [0, -1],
  [Number.NaN, 1],
  [1, 2, 3],
  [],
  {},
  { _tag: "CountWindow" },
  { _tag: "Nope" },
  // no string can be made of these (Effect's union parser once threw on them as a discriminant)
  Object.create(null),
  { toString: 1, valueOf: 1 },
  true,
  false,
  null,
  undefined
]
const edges = fc.constantFrom(...edgeValues)

const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: edges },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2, withBigInt: true, withNullPrototype: true, withDate: true }) }
)

/** Objects with the schema's keys (encoded side), each value right-shaped or junk. */
const shaped = (ast: AST.AST, depth = 0): fc.Arbitrary<unknown> => {
  if (depth > 4) return junk
  switch (ast._tag) {
    case "TypeLiteral": {
      const fields: Record<string, fc.Arbitrary<unknown>> = {}
      for (const ps of ast.propertySignatures) {
        fields[String(ps.name)] = fc.oneof({ weight: 3, arbitrary: shaped(ps.type, depth + 1) }, junk)
      }
      return fc.record(fields, { requiredKeys: [] })
    }
    case "Union":
      return fc.oneof(...ast.types.map((member) => shaped(member, depth + 1)))
    case "Literal":
      return fc.oneof({ weight: 3, arbitrary: fc.constant(ast.literal) }, junk)
    case "Refinement":
    case "Transformation":
      return shaped(ast.from, depth)
    case "Declaration":
      // a union behind a guard (see the discriminated unions of core and sql): its members
      return ast.typeParameters.length === 0 ? junk : fc.oneof(...ast.typeParameters.map((p) => shaped(p, depth + 1)))
    default:
      return junk
  }
}

const inputsOf = (schema: Schema.Schema.AnyNoContext): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 6, arbitrary: shaped(schema.ast) }, junk)

/** How ParseResult formats one step of a path in a message: `["key"]` or `[0]`. */
const step = (key: PropertyKey): string => `[${typeof key === "string" ? JSON.stringify(key) : String(key)}]`

/** The exit of a constructor: accepted, or a ParseError naming each problem's path; nothing else. */
const checkExit = (input: unknown, exit: Exit.Exit<unknown, unknown>): "accepted" | "refused" => {
  if (Exit.isSuccess(exit)) return "accepted"
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None" || !ParseResult.isParseError(failure.value)) {
    throw new Error(`not a ParseError for ${String(input)}: ${Cause.pretty(exit.cause)}`)
  }
  const error = failure.value
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  expect(issues.length).toBeGreaterThan(0)
  for (const issue of issues) {
    for (const key of issue.path) expect(error.message).toContain(step(key))
    expect(issue.message.length).toBeGreaterThan(0)
  }
  return "refused"
}

/**
 * Random input as a caller's config type: what a config file or untyped code hands the
 * constructor, which decodes it as `unknown` (the point is that it is not one).
 */
const untrusted = <A>(input: unknown): A => input as A

/** A client that never goes out (a config is only built, nothing is sent). */
const offline = HttpClient.make((request) =>
  Effect.succeed(HttpClientResponse.fromWeb(request, new Response(null, { status: 204 })))
)

type Build = (input: unknown) => Effect.Effect<unknown, unknown, never>

const rows: ReadonlyArray<readonly [name: string, schema: Schema.Schema.AnyNoContext, build: Build]> = [
  [
    "Resilience.make (Policy)",
    Resilience.Policy,
    (u) => Effect.scoped(Resilience.make(untrusted(u))).pipe(Effect.provide(Classifier.layer))
  ],
  ["CircuitBreaker.make", CircuitBreaker.Config, (u) => Effect.scoped(CircuitBreaker.make(untrusted(u)))],
  ["Bulkhead.make", Bulkhead.Config, (u) => Effect.scoped(Bulkhead.make(untrusted(u)))],
  ["RateLimiter.make", RateLimiter.Config, (u) => Effect.scoped(RateLimiter.make(untrusted(u)))],
  ["AdaptiveThrottle.make", AdaptiveThrottle.Config, (u) => Effect.scoped(AdaptiveThrottle.make(untrusted(u)))],
  [
    "AdaptiveConcurrency.make",
    AdaptiveConcurrency.Config,
    (u) => Effect.scoped(AdaptiveConcurrency.make(untrusted(u)))
  ],
  ["RetryBudget.make", RetryBudget.Config, (u) => Effect.scoped(RetryBudget.make(untrusted(u)))],
  ["RetryPolicy.fromConfig", RetryPolicy.Config, (u) => RetryPolicy.fromConfig("fuzz", untrusted(u))],
  ["Timeout.make", Timeout.Config, (u) => Timeout.make(untrusted(u))],
  [
    "DeadLetterQueue.make",
    DeadLetterQueue.Config,
    (u) => DeadLetterQueue.make(untrusted(u)).pipe(Effect.provide(DeadLetterQueue.layerStoreMemory))
  ],
  [
    "ResilientHttpClient.make",
    ResilientHttpClient.Config,
    (u) => Effect.scoped(ResilientHttpClient.make(offline, untrusted(u))).pipe(Effect.provide(Classifier.layer))
  ],
  // decoded only: an accepted connection config would open a file or a server
  ["SqlConnection.Config", SqlConnection.Config, (u) => Schema.decodeUnknown(SqlConnection.Config)(u)]
]

describe("random input to every config and policy decoder: accepted, or a ParseError naming the path", () => {
  it.each(rows)("%s", (_name, schema, build) => {
    const seen = { accepted: 0, refused: 0 }
    fc.assert(
      fc.property(inputsOf(schema), (input) => {
        // a throw here (not a failure) fails the property, as a defect does in checkExit
        const outcome = checkExit(input, Effect.runSyncExit(build(input)))
        seen[outcome]++
      }),
      { numRuns: 300, seed: 11 }
    )
    // the generator reaches both sides: configs refused and configs that build
    expect(seen.refused).toBeGreaterThan(30)
    expect(seen.accepted + seen.refused).toBe(300)
  })
})
