import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Classification from "../Classification.js"

/** The plain-data shape of a set of faults (the Type of `Chaos.Faults`). */
export interface FaultsData {
  readonly latency?: { readonly rate: number; readonly millis: number } | undefined
  readonly failure?:
    | {
        readonly rate: number
        readonly category: Classification.Category
        readonly code?: string | undefined
        readonly message?: string | undefined
        readonly retryable?: boolean | undefined
        readonly retryAfterMillis?: number | undefined
      }
    | undefined
  readonly hang?: { readonly rate: number } | undefined
}

/** The plain-data shape of a chaos config (the Type of `Chaos.Config`). */
export interface ConfigData {
  readonly enabled: boolean
  readonly default: FaultsData
  readonly operations: { readonly [operation: string]: FaultsData }
}

/** The faults that apply to `operation`, or undefined when chaos is off. */
export const faultsFor = (config: ConfigData, operation: string): FaultsData | undefined => {
  if (!config.enabled) return undefined
  return Object.hasOwn(config.operations, operation) ? config.operations[operation] : config.default
}

/** The classification an injected failure carries. */
export const classificationOf = (failure: NonNullable<FaultsData["failure"]>): Classification.Classification =>
  Classification.make({
    category: failure.category,
    code: failure.code ?? `chaos.${failure.category}`,
    message: failure.message ?? `Injected ${failure.category} failure`,
    ...(failure.retryable === undefined ? {} : { retryable: failure.retryable }),
    ...(failure.retryAfterMillis === undefined ? {} : { retryAfter: Duration.millis(failure.retryAfterMillis) })
  })

/** True with probability `rate`, drawing from Effect's `Random` only when the outcome is uncertain. */
const roll = (rate: number): Effect.Effect<boolean> =>
  rate <= 0 ? Effect.succeed(false) : rate >= 1 ? Effect.succeed(true) : Effect.map(Random.next, (r) => r < rate)

/**
 * Wraps `self` with the faults. The draws happen in a fixed order (latency, hang, failure) so that a
 * seeded `Random` replays the same faults.
 */
export const apply = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  faults: FaultsData,
  injected: (classification: Classification.Classification) => E2
): Effect.Effect<A, E | E2, R> => {
  let out: Effect.Effect<A, E | E2, R> = self
  const failure = faults.failure
  if (failure !== undefined && failure.rate > 0) {
    const inner = out
    out = Effect.flatMap(roll(failure.rate), (hit) => (hit ? Effect.fail(injected(classificationOf(failure))) : inner))
  }
  const hang = faults.hang
  if (hang !== undefined && hang.rate > 0) {
    const inner = out
    out = Effect.flatMap(roll(hang.rate), (hit) => (hit ? Effect.never : inner))
  }
  const latency = faults.latency
  if (latency !== undefined && latency.rate > 0 && latency.millis > 0) {
    const inner = out
    const pause = Effect.sleep(Duration.millis(latency.millis))
    out = Effect.flatMap(roll(latency.rate), (hit) => (hit ? Effect.zipRight(pause, inner) : inner))
  }
  return out
}

/** What a misbehaving effect does on one call. */
export type Step<A, E> =
  | { readonly _tag: "Succeed"; readonly value: A; readonly after: Duration.DurationInput }
  | { readonly _tag: "Fail"; readonly error: E; readonly after: Duration.DurationInput }
  | { readonly _tag: "Hang" }

/** Counters of a misbehaving effect. */
export interface Stats {
  readonly calls: number
  readonly active: number
  readonly completed: number
  readonly interrupted: number
}

const emptyStats: Stats = { calls: 0, active: 0, completed: 0, interrupted: 0 }

/** Builds a misbehaving effect that follows `steps` call by call (the last step repeats). */
export const misbehaving = <A, E>(
  steps: readonly [Step<A, E>, ...Array<Step<A, E>>]
): Effect.Effect<{ readonly effect: Effect.Effect<A, E>; readonly stats: Effect.Effect<Stats> }> =>
  Effect.map(Ref.make(emptyStats), (stats) => {
    const last = steps[steps.length - 1] ?? steps[0]
    const run = (step: Step<A, E>): Effect.Effect<A, E> => {
      switch (step._tag) {
        case "Hang":
          return Effect.never
        case "Succeed":
          return Effect.zipRight(Effect.sleep(step.after), Effect.succeed(step.value))
        case "Fail":
          return Effect.zipRight(Effect.sleep(step.after), Effect.fail(step.error))
      }
    }
    const effect = Effect.acquireUseRelease(
      Ref.modify(stats, (s): [number, Stats] => [s.calls, { ...s, calls: s.calls + 1, active: s.active + 1 }]),
      (call) => run(steps[call] ?? last),
      (_, exit) =>
        Ref.update(stats, (s) => ({
          ...s,
          active: s.active - 1,
          completed: Exit.isInterrupted(exit) ? s.completed : s.completed + 1,
          interrupted: Exit.isInterrupted(exit) ? s.interrupted + 1 : s.interrupted
        }))
    )
    return { effect, stats: Ref.get(stats) }
  })
