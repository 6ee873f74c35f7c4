import * as Classifier from "@effect-resilience/core/Classifier"
import { describe, expect, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { GrpcError, GrpcPipeline } from "../src/index.js"
import { connect, serve, status } from "./server.js"

/** The raw error a plain grpc-js callback gets. */
const rawFailure = (script: ReturnType<typeof status>) =>
  Effect.gen(function* () {
    const server = yield* serve({ say: [script] })
    const { say } = yield* connect(server)
    const error = yield* Effect.async<grpc.ServiceError | null>((resume) => {
      say({ name: "x" }, new grpc.Metadata(), {}, (error) => resume(Effect.succeed(error)))
    })
    if (error === null) return yield* Effect.dieMessage("the call did not fail")
    return error
  })

const classify = (failure: unknown) => Effect.map(Classifier.Classifier, (c) => c.classify(failure))

describe("GrpcError and the default Classifier", () => {
  it.live("a grpc-js ServiceError and its GrpcError get the same classification, pushback included", () =>
    Effect.gen(function* () {
      const raw = yield* rawFailure(status(grpc.status.RESOURCE_EXHAUSTED, { "grpc-retry-pushback-ms": "250" }))
      const tagged = GrpcError.fromStatus(raw)
      expect(tagged.retryPushbackMillis).toBe(250)
      for (const failure of [raw, tagged]) {
        const c = yield* classify(failure)
        expect([c.category, c.retryable, c.retryAfter && Duration.toMillis(c.retryAfter)]).toEqual([
          "throttled",
          true,
          250
        ])
      }
    }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
  )

  for (const pushback of ["-1", "soon"]) {
    it.live(`a pushback of "${pushback}" means do not retry (gRFC A6), raw and tagged`, () =>
      Effect.gen(function* () {
        const raw = yield* rawFailure(status(grpc.status.UNAVAILABLE, { "grpc-retry-pushback-ms": pushback }))
        const trailers = new grpc.Metadata()
        trailers.set("grpc-retry-pushback-ms", pushback)
        const tagged = GrpcError.fromStatus({ code: grpc.status.UNAVAILABLE, details: "", metadata: trailers })
        expect(tagged.retryPushbackRefused).toBe(true)
        for (const failure of [raw, tagged]) {
          const c = yield* classify(failure)
          expect([c.category, c.retryable]).toEqual(["unavailable", false])
        }
      }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
    )
  }

  it.effect("the six codes of the worker seed are retried by default, the others not", () =>
    Effect.gen(function* () {
      const retried: Array<string> = []
      for (let code = 1; code <= 16; code++) {
        const c = yield* classify(new GrpcError.GrpcError({ code, details: "" }))
        if (c.retryable) retried.push(new GrpcError.GrpcError({ code, details: "" }).statusName)
      }
      expect(retried.sort()).toEqual([...GrpcPipeline.defaultRetryableCodes].sort())
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.live("the message names the status only: not the details grpc-js wrote (the address it could not reach)", () =>
    Effect.gen(function* () {
      const client = new grpc.Client("127.0.0.1:1", grpc.credentials.createInsecure())
      const raw = yield* Effect.async<grpc.ServiceError | null>((resume) => {
        client.makeUnaryRequest(
          "/test.Echo/Say",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from("{}"),
          new grpc.Metadata(),
          { deadline: Date.now() + 2_000 },
          (error) => resume(Effect.succeed(error))
        )
      }).pipe(Effect.ensuring(Effect.sync(() => client.close())))
      expect(raw).not.toBeNull()
      if (raw === null) return
      const error = GrpcError.fromStatus(raw)
      expect(error.code).toBe(grpc.status.UNAVAILABLE)
      expect(error.message).toBe("gRPC UNAVAILABLE (14)")
      expect(error.message).not.toContain("127.0.0.1")
      // the encoded failure (what a dead letter keeps) has no metadata
      expect(Object.keys(Schema.encodeSync(GrpcError.GrpcError)(error)).sort()).toEqual(["_tag", "code", "details"])
    })
  )
})

describe("GrpcPipeline", () => {
  it.effect("refuses an unknown code, naming its path", () =>
    Effect.gen(function* () {
      // as a config file would hold it
      const config: unknown = JSON.parse('{ "operation": "x", "retryableCodes": ["UNAVAILABLE", "SOMETIMES"] }')
      const error = yield* Effect.flip(Schema.decodeUnknown(GrpcPipeline.Policy)(config))
      // one issue per literal it is not, at the code's path (and "not undefined" at the field's)
      const paths = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => issue.path)
      expect(paths).toContainEqual(["retryableCodes", 1])
      expect(paths.every((path) => path[0] === "retryableCodes")).toBe(true)
      const decoded = yield* Schema.decodeUnknown(GrpcPipeline.Policy)({ operation: "x" })
      expect(decoded.retryableCodes).toEqual(GrpcPipeline.defaultRetryableCodes)
    })
  )
})
