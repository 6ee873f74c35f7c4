/**
 * The circuit breaker's Effect binding: the decoded config turned into the core's numbers, an
 * open-duration Schedule stepped into a table, transitions published (the breaker's own stream,
 * the `ResilienceEvents` hub, metrics), the Strategy face and `protect`, and the registries.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as LogLevel from "effect/LogLevel"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as CircuitBreaker from "../../CircuitBreaker.js"
import { CircuitOpen } from "../../Errors.js"
import * as Events from "../../Events.js"
import * as Log from "../../Log.js"
import { breakerGauges, breakerStateValue } from "../metrics.js"
import * as strategy from "../strategy/binding.js"
import * as core from "./core.js"
import { makeWindow } from "./window.js"
import { unsafeConstruct } from "../construct.js"

/** The core's policy, in numbers. @internal */
export const policyOf = (policy: CircuitBreaker.TripPolicy): core.Policy => {
  switch (policy._tag) {
    case "ConsecutiveFailures":
      return { _tag: "ConsecutiveFailures", threshold: policy.threshold }
    case "CountWindow":
      return {
        _tag: "CountWindow",
        size: policy.size,
        minimumCalls: policy.minimumCalls,
        failureRateThreshold: policy.failureRateThreshold,
        slowCallMillis:
          policy.slowCall === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(policy.slowCall.duration),
        slowCallRateThreshold: policy.slowCall === undefined ? Number.POSITIVE_INFINITY : policy.slowCall.rateThreshold
      }
    case "TimeWindow":
      return {
        _tag: "TimeWindow",
        windowMillis: Duration.toMillis(policy.window),
        buckets: policy.buckets,
        minimumCalls: policy.minimumCalls,
        failureRateThreshold: policy.failureRateThreshold,
        slowCallMillis:
          policy.slowCall === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(policy.slowCall.duration),
        slowCallRateThreshold: policy.slowCall === undefined ? Number.POSITIVE_INFINITY : policy.slowCall.rateThreshold
      }
  }
}

/** How many steps of a user Schedule are stepped into the open-duration table. */
const SCHEDULE_STEPS = 64

/**
 * The first delays of a Schedule, stepped at creation without sleeping (simulated time from 0).
 * The step that ends the schedule is not a delay, so it is left out.
 */
const scheduleTable = (schedule: Schedule.Schedule<unknown, unknown, never>): Effect.Effect<ReadonlyArray<number>> =>
  Effect.gen(function* () {
    const delays: Array<number> = []
    let state: unknown = schedule.initial
    let now = 0
    while (delays.length < SCHEDULE_STEPS) {
      const [next, _, decision] = yield* schedule.step(now, undefined, state)
      if (ScheduleDecision.isDone(decision)) break
      const start = ScheduleIntervals.start(decision.intervals)
      delays.push(Math.max(0, start - now))
      state = next
      now = start
    }
    return delays
  })

/** The core's settings for a decoded config. @internal */
export const settingsOf = (
  config: CircuitBreaker.Config,
  openDurationFor: (reopenings: number) => number
): core.Settings => ({
  name: config.name,
  policy: policyOf(config.policy),
  openDurationFor,
  maxProbes: config.halfOpen.maxProbes,
  successThreshold: config.halfOpen.successThreshold,
  mode: config.mode
})

/** The open duration after `reopenings` re-openings, from the config alone (no user Schedule). @internal */
export const openDurationFor = (config: CircuitBreaker.Config): ((reopenings: number) => number) => {
  const backoff = config.openBackoff
  return core.openBackoff(
    Duration.toMillis(config.openDuration),
    backoff === undefined ? undefined : { multiplier: backoff.multiplier, maxMillis: Duration.toMillis(backoff.max) }
  )
}

const openDurationOf = (
  config: CircuitBreaker.Config,
  schedule: Schedule.Schedule<unknown, unknown, never> | undefined
): Effect.Effect<(reopenings: number) => number> =>
  schedule === undefined
    ? Effect.succeed(openDurationFor(config))
    : Effect.map(scheduleTable(schedule), (table) => core.openTable(table, Duration.toMillis(config.openDuration)))

/** The in-memory store: every breaker gets its own counters. Holds nothing itself. @internal */
export const memoryStore: CircuitBreaker.CircuitBreakerStoreService = {
  attach: (_name, policy) => Effect.sync(() => makeWindow(policyOf(policy)))
}

const transitionEvent = (t: core.Transition): Events.ResilienceEvent =>
  Events.ResilienceEvent.BreakerTransition({ breaker: t.breaker, from: t.from, to: t.to, atMillis: t.atMillis })

/**
 * A breaker for a decoded config, on `store`, for the lifetime of the scope. Transitions are
 * queued synchronously by the core and forwarded by a fiber of the scope (to the breaker's own
 * stream, the hub in context when it was made, and metrics), so the hot path never runs an
 * Effect for them.
 *
 * @internal
 */
export const makeWith = (
  config: CircuitBreaker.Config,
  openSchedule: Schedule.Schedule<unknown, unknown, never> | undefined,
  store: CircuitBreaker.CircuitBreakerStoreService
): Effect.Effect<CircuitBreaker.CircuitBreaker, never, Scope.Scope> =>
  Effect.gen(function* () {
    const hub = yield* Events.ResilienceEvents
    const openDurationFor = yield* openDurationOf(config, openSchedule)
    const handle = yield* store.attach(config.name, config.policy)
    const outbox = yield* Queue.unbounded<core.Transition>()
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<core.Transition>(), PubSub.shutdown)
    // state and transitions as metrics, once per breaker however many pipelines share it
    const gauges = breakerGauges(config.name)
    gauges.state(breakerStateValue[config.mode === "normal" ? "closed" : config.mode] ?? -1)
    const log = Log.unsafeMakeEmitter()
    const forward = (t: core.Transition): Effect.Effect<void> => {
      gauges.state(breakerStateValue[t.to] ?? -1)
      gauges.transition(t.from, t.to)
      const opened = t.to === "open" || t.to === "forced-open"
      return Effect.zipRight(
        log.emit(
          opened ? LogLevel.Warning : LogLevel.Info,
          `${t.from}->${t.to}`,
          `circuit breaker ${t.breaker} ${t.from} -> ${t.to}`,
          { breaker: t.breaker, from: t.from, to: t.to }
        ),
        Effect.zipRight(PubSub.publish(pubsub, t), hub.publish(transitionEvent(t)))
      )
    }
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.flatMap(Queue.takeBetween(outbox, 1, Number.POSITIVE_INFINITY), (batch) =>
          Effect.forEach(batch, forward, { discard: true })
        )
      )
    )
    const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.unsafeCurrentTimeMillis()))
    const breaker = new core.Breaker(
      settingsOf(config, openDurationFor),
      handle,
      (t) => {
        Queue.unsafeOffer(outbox, t)
      },
      now
    )
    return fromCore(breaker, config, pubsub)
  })

/** @internal */
export const TypeId: unique symbol = Symbol.for("@effect-resilience/core/CircuitBreaker")

const fromCore = (
  breaker: core.Breaker,
  config: CircuitBreaker.Config,
  pubsub: PubSub.PubSub<core.Transition>
): CircuitBreaker.CircuitBreaker => {
  const name = config.name
  const face: Pick<CircuitBreaker.CircuitBreaker, "component" | "name" | "admit" | "stateAt" | "reject"> = {
    component: "breaker",
    name,
    admit: (nowMillis) => breaker.admit(nowMillis),
    stateAt: (nowMillis) => breaker.stateAt(nowMillis),
    // the fields are known good: no validation on the rejection path
    reject: (rejected) => unsafeConstruct(CircuitOpen, { breaker: name, retryAfterMillis: rejected.retryAfterMillis })
  }
  const now = <A>(f: (nowMillis: number) => A): Effect.Effect<A> =>
    Effect.clockWith((clock) => Effect.sync(() => f(clock.unsafeCurrentTimeMillis())))
  const snapshot = now((t) => breaker.snapshotAt(t))
  return {
    [TypeId]: TypeId,
    ...face,
    config,
    protect: strategy.protect(face),
    snapshotAt: (nowMillis) => breaker.snapshotAt(nowMillis),
    snapshot,
    currentState: now((t) => breaker.stateAt(t)),
    transitions: Stream.fromPubSub(pubsub),
    subscribe: Effect.map(PubSub.subscribe(pubsub), (queue) => Stream.fromQueue(queue)),
    forceOpen: now((t) => breaker.forceOpen(t)),
    forceClosed: now((t) => breaker.forceClosed(t)),
    disable: now((t) => breaker.disable(t)),
    metricsOnly: now((t) => breaker.metricsOnly(t)),
    reset: now((t) => breaker.reset(t))
  }
}

// ---------------------------------------------------------------------------------------------
// Registries
// ---------------------------------------------------------------------------------------------

const none: Effect.Effect<ReadonlyArray<never>> = Effect.succeed([])

type Make = (config: CircuitBreaker.ConfigInput) => ReturnType<CircuitBreaker.RegistryService["get"]>

/**
 * The default registry: shares nothing and holds nothing. Each `get` makes a new breaker in the
 * caller's scope.
 *
 * @internal
 */
export const unshared = (make: Make): CircuitBreaker.RegistryService => ({
  shared: false,
  get: (name, config) => make({ ...config, name }),
  all: none,
  snapshots: none
})

/**
 * A registry that shares breakers by name, for the lifetime of the current scope. Breakers live
 * in that scope and publish to the `ResilienceEvents` hub in context now.
 *
 * @internal
 */
export const shared = (
  make: Make,
  defaults: CircuitBreaker.ConfigInput | undefined
): Effect.Effect<CircuitBreaker.RegistryService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const hub = yield* Events.ResilienceEvents
    const scope = yield* Effect.scope
    const breakers = new Map<string, CircuitBreaker.CircuitBreaker>()
    const lock = yield* Effect.makeSemaphore(1)
    const create = (name: string, config: CircuitBreaker.ConfigInput | undefined) =>
      lock.withPermits(1)(
        Effect.suspend(() => {
          const existing = breakers.get(name)
          if (existing !== undefined) return Effect.succeed(existing)
          return make({ ...defaults, ...config, name }).pipe(
            Effect.provideService(Events.ResilienceEvents, hub),
            Scope.extend(scope),
            Effect.tap((breaker) => Effect.sync(() => breakers.set(name, breaker)))
          )
        })
      )
    const all = Effect.sync(() => Array.from(breakers.values()))
    return {
      shared: true,
      get: (name, config) =>
        Effect.suspend(() => {
          const existing = breakers.get(name)
          return existing !== undefined ? Effect.succeed(existing) : create(name, config)
        }),
      all,
      snapshots: Effect.flatMap(all, (list) => Effect.forEach(list, (breaker) => breaker.snapshot))
    }
  })
