/**
 * A gRPC server's refusal to be retried (gRFC A6: a negative or malformed `grpc-retry-pushback-ms`)
 * survives the boundary: `Failures.fromUnknown` keeps it on the `GrpcError`, a stored failure
 * keeps it through encode / decode, and the default classifier answers the same on the raw error
 * and on the tagged one: not retryable, with a code of its own.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Classifier from "../src/Classifier.js"
import * as Cores from "../src/Cores.js"
import * as Failures from "../src/Failures.js"

const classifier = Effect.runSync(Classifier.make())

/** A grpc-js-like service error (its metadata answers `get` with an array of values). */
const serviceError = (code: number, pushback: string | undefined, details = "scripted") =>
  Object.assign(new Error(`${code} ${details}`), {
    code,
    details,
    metadata: new Map(pushback === undefined ? [] : [["grpc-retry-pushback-ms", [pushback]]])
  })

describe("a refused gRPC pushback", () => {
  for (const pushback of ["-1", "-250", "soon", ""]) {
    it(`"${pushback}" on UNAVAILABLE: kept by fromUnknown, not retryable raw or tagged`, () => {
      const raw = serviceError(14, pushback)
      const tagged = Failures.fromUnknown(raw)
      expect(tagged).toMatchObject({ _tag: "GrpcError", code: 14, retryPushbackRefused: true })
      expect(tagged).not.toHaveProperty("retryPushbackMillis")
      for (const failure of [raw, tagged]) {
        const c = classifier.classify(failure)
        expect(c).toMatchObject({
          category: "unavailable",
          retryable: false,
          countsForBreaker: true,
          code: "grpc.UNAVAILABLE.pushback-refused"
        })
        expect(c.message).toBe("Unavailable (gRPC UNAVAILABLE): the server asked not to be retried")
        expect(c.retryAfter).toBeUndefined()
      }
    })
  }

  it("keeps the status's category and breaker evidence (RESOURCE_EXHAUSTED is throttled, not counted)", () => {
    const c = classifier.classify(Failures.fromUnknown(serviceError(8, "-1")))
    expect(c).toMatchObject({
      category: "throttled",
      retryable: false,
      countsForBreaker: false,
      code: "grpc.RESOURCE_EXHAUSTED.pushback-refused"
    })
  })

  it("a valid pushback is not a refusal: retried after it", () => {
    const tagged = Failures.fromUnknown(serviceError(14, "300"))
    expect(tagged).toMatchObject({ _tag: "GrpcError", retryPushbackMillis: 300 })
    expect(tagged).not.toHaveProperty("retryPushbackRefused")
    const c = classifier.classify(tagged)
    expect(c).toMatchObject({ retryable: true, code: "grpc.UNAVAILABLE" })
  })

  it("survives encode / decode (a dead letter stored and read back)", () => {
    const tagged = Option.getOrThrow(Failures.fromGrpcError(serviceError(14, "-1")))
    const decoded = Schema.decodeUnknownSync(Failures.GrpcError)(Schema.encodeSync(Failures.GrpcError)(tagged))
    expect(decoded.retryPushbackRefused).toBe(true)
    expect(classifier.classify(decoded).retryable).toBe(false)
  })

  it("the plain decision core (the Promise facade's) answers the same on the raw error", () => {
    const c = Cores.Classify.makeClassify(() => Date.now())(serviceError(14, "-1"))
    expect(c).toMatchObject({ retryable: false, countsForBreaker: true, code: "grpc.UNAVAILABLE.pushback-refused" })
  })

  it("a constructed GrpcError with the field set is classified the same", () => {
    const c = classifier.classify(new Failures.GrpcError({ code: 13, retryPushbackRefused: true }))
    expect(c).toMatchObject({ category: "server", retryable: false, code: "grpc.INTERNAL.pushback-refused" })
  })
})
