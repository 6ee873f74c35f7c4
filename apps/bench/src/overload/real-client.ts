/**
 * The client of the real-process overload run (a child process; see `real.ts`): calls the server
 * through our real pipeline, `Resilience.make(policy)`, as a Poisson stream of `rate` calls/s,
 * each call forked so that a slow server does not slow the arrivals. Counts per second (by the
 * second a call was made) the calls and those that succeeded, and per second of completion the
 * successes.
 *
 * argv: JSON of `ClientOptions`. At `t0 + duration` writes its counts to `out` and exits.
 */
import { Classifier, Failures, Resilience } from "@effect-resilience/core"
import * as Effect from "effect/Effect"
import { writeFileSync } from "node:fs"
import { strategy } from "./cores.js"

/** @see real-client.ts */
export interface ClientOptions {
  readonly t0: number
  readonly durationSeconds: number
  readonly rate: number
  readonly url: string
  readonly policy: Resilience.PolicyInput
  readonly seed: number
  readonly out: string
}

/** What the client counts each second. */
export interface ClientBin {
  requests: number
  succeeded: number
  goodput: number
}

const options: ClientOptions = JSON.parse(process.argv[2] ?? "{}")
const random = strategy.seededRandom(options.seed)
const bins: Array<ClientBin> = Array.from({ length: options.durationSeconds }, () => ({
  requests: 0,
  succeeded: 0,
  goodput: 0
}))
const bin = (): ClientBin | undefined => bins[Math.floor((Date.now() - options.t0) / 1000)]

const get = (signal: AbortSignal): Promise<void> =>
  fetch(options.url, { signal }).then(async (response) => {
    await response.arrayBuffer()
    if (!response.ok) throw Failures.fromHttpResponse(response)
  })

const program = Effect.gen(function* () {
  const pipeline = yield* Resilience.make(options.policy)
  yield* Effect.sleep(Math.max(0, options.t0 - Date.now()))
  const end = options.t0 + options.durationSeconds * 1000
  while (Date.now() < end) {
    const started = bin()
    if (started !== undefined) started.requests++
    yield* pipeline.tryPromise({ try: get, catch: (e) => (Failures.isFailure(e) ? e : Failures.fromUnknown(e)) }).pipe(
      Effect.tap(() =>
        Effect.sync(() => {
          if (started !== undefined) started.succeeded++
          const now = bin()
          if (now !== undefined) now.goodput++
        })
      ),
      Effect.ignore,
      Effect.forkDaemon
    )
    yield* Effect.sleep(-Math.log(1 - random()) * (1000 / options.rate))
  }
})

Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(Classifier.layer))).then(
  () => {
    writeFileSync(options.out, JSON.stringify(bins))
    process.exit(0)
  },
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
