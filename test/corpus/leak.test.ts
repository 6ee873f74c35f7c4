/**
 * Nothing a failure carries at the boundary leaks into what a dead letter stores: every corpus case
 * goes through `Failures.fromUnknown`, the failure's Schema encoding and a dead letter (memory
 * store, `DeadLetterQueue.Entry` encoding), and the JSON is searched for the run's temp paths, ports,
 * hosts, password, role name and payload marker. The raw failures are searched too, so that the test
 * shows that the markers were there to leak.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Classifier, Failures } from "@effect-resilience/core"
import { DeadLetterQueue } from "@effect-resilience/durable"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { inspect } from "node:util"
import { type Env, markers, type Provoked, provokeAll, start } from "./index.js"

let env: Env | undefined
let provoked: ReadonlyArray<Provoked> = []

beforeAll(async () => {
  env = await start()
  provoked = await provokeAll(env)
}, 120_000)

afterAll(async () => {
  await env?.close()
})

/** What must not appear, as [label, pattern]. */
const secrets = (e: Env): ReadonlyArray<readonly [string, RegExp]> => {
  const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  return [
    ["temp dir", new RegExp(literal(markers.dirPrefix))],
    ["temp path", new RegExp(literal(e.dir))],
    ["password", new RegExp(literal(markers.password))],
    ["payload marker", new RegExp(literal(markers.payload))],
    ["host under .invalid", new RegExp(literal(markers.host))],
    ["role name", new RegExp(literal(markers.user))],
    ["scratch schema", new RegExp(literal(e.pg.schema))],
    ["loopback address", /127\.0\.0\.1/],
    ["localhost", /localhost/],
    ...e.ports.map((port): readonly [string, RegExp] => [`port ${port}`, new RegExp(`(?<![0-9])${port}(?![0-9])`)])
  ]
}

/** Everything a raw failure holds, as text: message, stack, own fields, causes. */
const rawText = (u: unknown): string =>
  inspect(u, { depth: 6, showHidden: false, breakLength: Number.POSITIVE_INFINITY })

describe("nothing leaks into a dead letter", () => {
  it("the raw failures do carry the markers (so that the search below means something)", () => {
    const all = provoked.map((p) => rawText(p.raw)).join("\n")
    const e = env
    if (e === undefined) throw new Error("no environment")
    const found = secrets(e)
      .filter(([, pattern]) => pattern.test(all))
      .map(([label]) => label)
    expect(found).toEqual(
      expect.arrayContaining([
        "temp dir",
        "password",
        "payload marker",
        "host under .invalid",
        "role name",
        "loopback address"
      ])
    )
  })

  it.effect("no tagged failure, and no dead letter built from one, holds a path, port, host, secret or payload", () =>
    Effect.gen(function* () {
      const e = env
      if (e === undefined) return yield* Effect.die(new Error("no environment"))
      const classifier = yield* Classifier.Classifier
      const dlq = yield* DeadLetterQueue.DeadLetterQueue
      const encodeFailure = Schema.encodeSync(Failures.Failure)
      const encodeEntry = Schema.encodeSync(DeadLetterQueue.Entry)
      const leaks: Array<string> = []
      for (const p of provoked) {
        const tagged = Failures.fromUnknown(p.raw)
        const classification = classifier.classify(tagged)
        const entry = yield* dlq.add({
          queue: "corpus",
          payload: { case: "corpus case" },
          failure: DeadLetterQueue.failureOf(tagged, classification, []),
          idempotencyKey: `case-${provoked.indexOf(p)}`
        })
        const stored = `${JSON.stringify(encodeFailure(tagged))}\n${JSON.stringify(encodeEntry(entry))}`
        for (const [label, pattern] of secrets(e)) {
          if (pattern.test(stored)) leaks.push(`[${p.case.library}] ${p.case.name}: ${label} in ${stored}`)
        }
      }
      expect(leaks).toEqual([])
    }).pipe(
      Effect.provide(
        Layer.mergeAll(Classifier.layer, DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)))
      )
    )
  )
})
