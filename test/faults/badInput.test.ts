/**
 * Bad input, everywhere a user or a file gives it: random values (JSON, and what code may pass:
 * NaN, infinities, bigints, undefined) shaped as each config's objects, with the right keys and
 * wrong values, fed to every config and policy decoder through its public constructor. Never a
 * throw or a defect: a config is either accepted (and then builds) or refused with a `ParseError`
 * whose message names the path of every problem.
 *
 * Then the dead letter payload decoder, on a SQLite file (below).
 *
 * The inputs are generated from each schema's encoded side (struct keys, union members, literals),
 * each value replaced now and then by junk or by an almost-right value ("-1 seconds", 0, NaN).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  AdaptiveConcurrency,
  AdaptiveThrottle,
  Bulkhead,
  CircuitBreaker,
  Classification,
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
import * as SqlDeadLetterQueue from "@effect-resilience/sql/SqlDeadLetterQueue"
import { describe, expect, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
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

/**
 * The dead letter payload decoder: stored payloads (random JSON, and records of an older shape)
 * replayed through `DeadLetterQueue.handler` with the current schema, on a SQLite file. A payload
 * that decodes is handled; one that does not is reported with the path of each problem and kept
 * pending with a note saying so, never dropped and never a defect.
 */
describe("stored dead letters whose payload no longer decodes", () => {
  /** The current shape; the stored letters were written when `currency` did not exist. */
  const Order = Schema.Struct({
    id: Schema.String,
    amount: Schema.Number.pipe(Schema.nonNegative()),
    currency: Schema.Literal("EUR", "USD")
  })

  const onSqlite = <A, E>(effect: Effect.Effect<A, E, DeadLetterQueue.DeadLetterQueue | Classifier.Classifier>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "dlq-payload-"))),
      (dir) =>
        effect.pipe(
          Effect.provide(
            Layer.merge(
              DeadLetterQueue.layer().pipe(
                Layer.provide(SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename: join(dir, "dlq.db") }))
              ),
              Classifier.layer
            )
          )
        ),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )

  const failure = DeadLetterQueue.failureOf(
    new Error("upstream said 503"),
    Classification.make({ category: "unavailable", code: "http.503", message: "Unavailable" }),
    []
  )
  const handled: Array<string> = []
  const resend = DeadLetterQueue.handler(Order, (order) => Effect.sync(() => handled.push(order.id)))

  it.effect("an older payload is reported with its path and kept pending, with a note; the rest replay", () =>
    onSqlite(
      Effect.gen(function* () {
        const dlq = yield* DeadLetterQueue.DeadLetterQueue
        const old = yield* dlq.add({ queue: "orders", payload: { id: "o-1", amount: 5 }, failure })
        const wrong = yield* dlq.add({ queue: "orders", payload: { id: "o-2", amount: -1, currency: "EUR" }, failure })
        const fine = yield* dlq.add({ queue: "orders", payload: { id: "o-3", amount: 7, currency: "USD" }, failure })
        const report = yield* dlq.replay({ queue: "orders" }, resend, { operator: "alice" })

        expect(report.resolved).toEqual([fine.id])
        expect(handled).toContain("o-3")
        const invalid = new Map(report.invalid.map((i) => [i.id, i.issues]))
        expect(invalid.get(old.id)).toEqual([{ path: ["currency"], message: "is missing" }])
        expect(invalid.get(wrong.id)?.map((i) => i.path)).toEqual([["amount"]])
        for (const id of [old.id, wrong.id]) {
          const entry = yield* Effect.flatMap(
            dlq.get(id),
            Effect.orElseFail(() => new Error(`${id} was dropped`))
          )
          expect(entry.status).toBe("pending")
          expect(entry.notes.at(-1)?.text).toContain("no longer decodes")
          expect(entry.notes.at(-1)?.text).toContain(id === old.id ? '["currency"]' : '["amount"]')
        }
        expect((yield* dlq.stats).byStatus).toMatchObject({ pending: 2, resolved: 1 })
      })
    )
  )

  it.effect("random stored payloads: handled, or reported with every problem's path and kept; never a defect", () =>
    onSqlite(
      Effect.gen(function* () {
        const dlq = yield* DeadLetterQueue.DeadLetterQueue
        // what a store holds is JSON: the random values that have a JSON form, as read back
        const payloads = fc
          .sample(fc.oneof(shaped(Schema.encodedSchema(Order).ast), fc.jsonValue({ maxDepth: 2 })), {
            numRuns: 200,
            seed: 11
          })
          .flatMap((value) => {
            try {
              const text = JSON.stringify(value)
              const parsed: unknown = typeof text === "string" ? JSON.parse(text) : undefined
              return parsed === undefined ? [] : [parsed]
            } catch {
              return []
            }
          })
        const entries = yield* dlq.addAll(payloads.map((payload) => ({ queue: "random", payload, failure })))
        const exit = yield* Effect.exit(dlq.replay({ queue: "random" }, resend, { operator: "fuzz" }))
        if (Exit.isFailure(exit)) return expect.unreachable(Cause.pretty(exit.cause))
        const report = exit.value
        expect(report.resolved.length + report.invalid.length).toBe(entries.length)
        expect(report.failed).toEqual([])
        expect(report.invalid.length).toBeGreaterThan(30)
        for (const { id, issues } of report.invalid) {
          expect(issues.length).toBeGreaterThan(0)
          const entry = yield* Effect.flatMap(
            dlq.get(id),
            Effect.orElseFail(() => new Error(`${id} was dropped`))
          )
          expect(entry.status).toBe("pending")
          const note = entry.notes.at(-1)?.text ?? ""
          for (const issue of issues) for (const key of issue.path) expect(note).toContain(step(key))
        }
        expect((yield* dlq.stats).total).toBe(entries.length)
      })
    )
  )
})
