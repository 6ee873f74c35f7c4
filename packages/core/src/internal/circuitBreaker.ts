/**
 * The circuit breaker's synchronous state machine and its Effect surface.
 *
 * All state is per instance. JavaScript runs one fiber at a time, so each synchronous method is
 * atomic with respect to other fibers: the half-open probe limit is a plain counter.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type { Classification } from "../Classification.js"
import { Classifier } from "../Classifier.js"
import { CircuitOpen } from "../Errors.js"
import * as Events from "../Events.js"
import { makeMemoryHandle } from "./circuitBreakerStore.js"
import { breakerGauges, breakerStateValue } from "./metrics.js"

// ---------------------------------------------------------------------------------------------
// Permits
// ---------------------------------------------------------------------------------------------

/** A call admitted while closed (shared by every call of one closed period: no allocation). */
class ClosedPermit implements CircuitBreaker.Permit {
  readonly _tag = "Permit"
  readonly probe = false
  constructor(readonly epoch: number) {}
}

/** A call admitted in metrics-only mode (recorded, never trips). */
class MetricsPermit implements CircuitBreaker.Permit {
  readonly _tag = "Permit"
  readonly probe = false
  constructor(readonly epoch: number) {}
}

/** A call admitted while disabled (nothing recorded). */
class BypassPermit implements CircuitBreaker.Permit {
  readonly _tag = "Permit"
  readonly probe = false
}

/** A half-open probe: holds a probe slot until it is settled, exactly once. */
class ProbePermit implements CircuitBreaker.Permit {
  readonly _tag = "Permit"
  readonly probe = true
  settled = false
  constructor(readonly epoch: number) {}
}

const bypassPermit = new BypassPermit()

class RejectionImpl implements CircuitBreaker.Rejection {
  readonly _tag = "Rejection"
  constructor(
    readonly state: "open" | "half-open" | "forced-open",
    readonly retryAfterMillis: number
  ) {}
}

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

const POLICY_CONSECUTIVE = 0
const POLICY_WINDOW = 1

/** The decoded config flattened to numbers for the hot path. */
interface Resolved {
  readonly policyKind: number
  readonly consecutiveThreshold: number
  readonly minimumCalls: number
  readonly failureRateThreshold: number
  /** `Infinity` when slow calls are not tracked. */
  readonly slowCallMillis: number
  /** `Infinity` when slow calls are not tracked. */
  readonly slowCallRateThreshold: number
  readonly maxProbes: number
  readonly successThreshold: number
  readonly openDurationFor: (reopenings: number) => number
}

/** How many steps of a user Schedule are precomputed into the open-duration table. */
const SCHEDULE_STEPS = 64

const resolve = (config: CircuitBreaker.Config, scheduleTable: ReadonlyArray<number> | undefined): Resolved => {
  const policy = config.policy
  const base = Duration.toMillis(config.openDuration)
  const backoff = config.openBackoff
  const openDurationFor =
    scheduleTable !== undefined && scheduleTable.length > 0
      ? (k: number) => scheduleTable[Math.min(k, scheduleTable.length - 1)] ?? base
      : backoff === undefined
        ? () => base
        : (k: number) => Math.min(base * backoff.multiplier ** k, Duration.toMillis(backoff.max))
  const halfOpen = config.halfOpen
  if (policy._tag === "ConsecutiveFailures") {
    return {
      policyKind: POLICY_CONSECUTIVE,
      consecutiveThreshold: policy.threshold,
      minimumCalls: 0,
      failureRateThreshold: 1,
      slowCallMillis: Number.POSITIVE_INFINITY,
      slowCallRateThreshold: Number.POSITIVE_INFINITY,
      maxProbes: halfOpen.maxProbes,
      successThreshold: halfOpen.successThreshold,
      openDurationFor
    }
  }
  return {
    policyKind: POLICY_WINDOW,
    consecutiveThreshold: Number.POSITIVE_INFINITY,
    minimumCalls: policy.minimumCalls,
    failureRateThreshold: policy.failureRateThreshold,
    slowCallMillis:
      policy.slowCall === undefined ? Number.POSITIVE_INFINITY : Duration.toMillis(policy.slowCall.duration),
    slowCallRateThreshold: policy.slowCall === undefined ? Number.POSITIVE_INFINITY : policy.slowCall.rateThreshold,
    maxProbes: halfOpen.maxProbes,
    successThreshold: halfOpen.successThreshold,
    openDurationFor
  }
}

// ---------------------------------------------------------------------------------------------
// The breaker
// ---------------------------------------------------------------------------------------------

type Mode = "normal" | "forced-open" | "disabled" | "metrics-only"
type AutoState = "closed" | "open" | "half-open"

/** @internal */
export class CircuitBreakerImpl implements CircuitBreaker.CircuitBreaker {
  private readonly r: Resolved
  private mode: Mode
  private state: AutoState = "closed"
  /** Bumped on every transition and mode change: permits of an older epoch are stale. */
  private epoch = 0
  private closedPermit: ClosedPermit
  private metricsPermit: MetricsPermit
  private openUntil = 0
  private reopenings = 0
  private probesInFlight = 0
  private probeSuccesses = 0
  private lastTransitionAt: number

  readonly needsClockWhenClosed: boolean
  readonly transitions: Stream.Stream<CircuitBreaker.Transition>
  readonly subscribe: Effect.Effect<Stream.Stream<CircuitBreaker.Transition>, never, Scope.Scope>
  readonly snapshot: Effect.Effect<CircuitBreaker.Snapshot>
  readonly currentState: Effect.Effect<Events.BreakerState>
  readonly forceOpen: Effect.Effect<void>
  readonly forceClosed: Effect.Effect<void>
  readonly disable: Effect.Effect<void>
  readonly metricsOnly: Effect.Effect<void>
  readonly reset: Effect.Effect<void>

  constructor(
    readonly name: string,
    readonly config: CircuitBreaker.Config,
    scheduleTable: ReadonlyArray<number> | undefined,
    private readonly store: CircuitBreaker.StoreHandle,
    private readonly emit: (transition: CircuitBreaker.Transition) => void,
    pubsub: PubSub.PubSub<CircuitBreaker.Transition>,
    nowMillis: number
  ) {
    this.r = resolve(config, scheduleTable)
    // A success can open a window breaker (minimumCalls reached at a high rate), which needs the
    // time; under the consecutive policy a success never opens and nothing is timed.
    this.needsClockWhenClosed = config.policy._tag !== "ConsecutiveFailures"
    this.mode = config.mode
    this.closedPermit = new ClosedPermit(0)
    this.metricsPermit = new MetricsPermit(0)
    this.lastTransitionAt = nowMillis
    this.transitions = Stream.fromPubSub(pubsub)
    this.subscribe = Effect.map(PubSub.subscribe(pubsub), (q) => Stream.fromQueue(q))
    this.snapshot = Effect.clockWith((clock) => Effect.sync(() => this.snapshotAt(clock.unsafeCurrentTimeMillis())))
    this.currentState = Effect.map(this.snapshot, (s) => s.state)
    const manual = (f: (now: number) => void) =>
      Effect.clockWith((clock) => Effect.sync(() => f(clock.unsafeCurrentTimeMillis())))
    this.forceOpen = manual((now) => this.forceOpenAt(now))
    this.forceClosed = manual((now) => this.forceClosedAt(now))
    this.disable = manual((now) => this.disableAt(now))
    this.metricsOnly = manual((now) => this.metricsOnlyAt(now))
    this.reset = manual((now) => this.resetAt(now))
  }

  /** The state as reported: a manual mode wins over the automatic state. */
  private reported(): Events.BreakerState {
    return this.mode === "normal" ? this.state : this.mode
  }

  private bump(): void {
    this.epoch++
    this.closedPermit = new ClosedPermit(this.epoch)
    this.metricsPermit = new MetricsPermit(this.epoch)
  }

  private transition(from: Events.BreakerState, now: number, reason: CircuitBreaker.TransitionReason): void {
    this.bump()
    this.lastTransitionAt = now
    const to = this.reported()
    const transition: CircuitBreaker.Transition = { breaker: this.name, from, to, atMillis: now, reason }
    this.store.decide({
      transition,
      openUntilMillis: to === "open" ? this.openUntil : undefined,
      reopenings: this.reopenings
    })
    this.emit(transition)
  }

  private open(now: number, reason: CircuitBreaker.TransitionReason): void {
    const from = this.reported()
    this.state = "open"
    this.openUntil = now + this.r.openDurationFor(this.reopenings)
    this.transition(from, now, reason)
  }

  private halfOpen(now: number): void {
    this.state = "half-open"
    this.probeSuccesses = 0
    this.transition("open", now, "open-duration-elapsed")
  }

  private close(now: number, reason: CircuitBreaker.TransitionReason): void {
    const from = this.reported()
    this.state = "closed"
    this.reopenings = 0
    this.probeSuccesses = 0
    this.store.clear(now)
    this.transition(from, now, reason)
  }

  /** Lazily moves open -> half-open once the open duration has elapsed. */
  private refresh(now: number): void {
    if (this.mode === "normal" && this.state === "open" && now >= this.openUntil) this.halfOpen(now)
  }

  // --- synchronous core --------------------------------------------------------------------

  tryAcquireFast(): CircuitBreaker.Permit | undefined {
    return this.mode === "normal" && this.state === "closed" && !this.needsClockWhenClosed
      ? this.closedPermit
      : undefined
  }

  tryAcquire(nowMillis: number): CircuitBreaker.Permit | CircuitBreaker.Rejection {
    if (this.mode === "normal") {
      if (this.state === "closed") return this.closedPermit
      if (this.state === "open") {
        if (nowMillis < this.openUntil) return new RejectionImpl("open", this.openUntil - nowMillis)
        this.halfOpen(nowMillis)
      }
      if (this.probesInFlight < this.r.maxProbes) {
        this.probesInFlight++
        return new ProbePermit(this.epoch)
      }
      return new RejectionImpl("half-open", 0)
    }
    if (this.mode === "disabled") return bypassPermit
    if (this.mode === "metrics-only") return this.metricsPermit
    return new RejectionImpl("forced-open", Number.POSITIVE_INFINITY)
  }

  onSuccess(permit: CircuitBreaker.Permit, durationMillis: number, nowMillis: number): void {
    const slow = durationMillis > this.r.slowCallMillis
    if (permit === this.closedPermit) {
      this.evaluate(this.store.record(slow ? "slow-success" : "success", nowMillis), nowMillis)
    } else if (permit instanceof ProbePermit) {
      if (!this.settle(permit)) return
      this.store.record(slow ? "slow-success" : "success", nowMillis)
      if (slow) {
        this.reopenings++
        this.open(nowMillis, "probe-slow")
      } else if (++this.probeSuccesses >= this.r.successThreshold) {
        this.close(nowMillis, "success-threshold")
      }
    } else if (permit === this.metricsPermit) {
      this.store.record(slow ? "slow-success" : "success", nowMillis)
    }
  }

  onFailure(
    permit: CircuitBreaker.Permit,
    classification: Classification,
    durationMillis: number,
    nowMillis: number
  ): void {
    if (!classification.countsForBreaker) {
      this.onNeutral(permit)
      return
    }
    const outcome = durationMillis > this.r.slowCallMillis ? "slow-failure" : "failure"
    if (permit === this.closedPermit) {
      this.evaluate(this.store.record(outcome, nowMillis), nowMillis)
    } else if (permit instanceof ProbePermit) {
      if (!this.settle(permit)) return
      this.store.record(outcome, nowMillis)
      this.reopenings++
      this.open(nowMillis, "probe-failed")
    } else if (permit === this.metricsPermit) {
      this.store.record(outcome, nowMillis)
    }
  }

  onNeutral(permit: CircuitBreaker.Permit): void {
    if (permit instanceof ProbePermit) this.settle(permit)
  }

  /** Releases a probe slot once; true when the probe still counts (same half-open period). */
  private settle(permit: ProbePermit): boolean {
    if (permit.settled) return false
    permit.settled = true
    this.probesInFlight--
    return permit.epoch === this.epoch
  }

  private evaluate(evidence: CircuitBreaker.Evidence, now: number): void {
    const r = this.r
    if (r.policyKind === POLICY_CONSECUTIVE) {
      if (evidence.consecutiveFailures >= r.consecutiveThreshold) this.open(now, "consecutive-failures")
      return
    }
    const calls = evidence.calls
    if (calls < r.minimumCalls || calls === 0) return
    if (evidence.failures / calls >= r.failureRateThreshold) this.open(now, "failure-rate")
    else if (evidence.slowCalls / calls >= r.slowCallRateThreshold) this.open(now, "slow-call-rate")
  }

  rejectionError(rejection: CircuitBreaker.Rejection): CircuitOpen {
    return new CircuitOpen({ breaker: this.name, retryAfterMillis: rejection.retryAfterMillis })
  }

  // --- manual control ----------------------------------------------------------------------

  private setMode(mode: Mode, now: number): void {
    this.refresh(now)
    const from = this.reported()
    this.mode = mode
    if (mode === "metrics-only") this.store.clear(now)
    if (from !== this.reported()) this.transition(from, now, "manual")
    else this.bump()
  }

  forceOpenAt(now: number): void {
    this.setMode("forced-open", now)
  }

  disableAt(now: number): void {
    this.setMode("disabled", now)
  }

  metricsOnlyAt(now: number): void {
    this.setMode("metrics-only", now)
  }

  forceClosedAt(now: number): void {
    this.closeManually(now, "manual")
  }

  resetAt(now: number): void {
    this.closeManually(now, "reset")
  }

  /** Back to normal and closed, with fresh evidence and no open-duration backoff. */
  private closeManually(now: number, reason: CircuitBreaker.TransitionReason): void {
    this.refresh(now)
    const from = this.reported()
    this.mode = "normal"
    this.state = "closed"
    this.reopenings = 0
    this.probeSuccesses = 0
    this.store.clear(now)
    if (from !== "closed") this.transition(from, now, reason)
    else this.bump()
  }

  snapshotAt(now: number): CircuitBreaker.Snapshot {
    this.refresh(now)
    const evidence = this.store.evidence(now)
    const state = this.reported()
    const calls = evidence.calls
    return {
      name: this.name,
      state,
      policy: this.config.policy._tag,
      calls,
      failures: evidence.failures,
      slowCalls: evidence.slowCalls,
      consecutiveFailures: evidence.consecutiveFailures,
      failureRate: calls === 0 ? 0 : evidence.failures / calls,
      slowCallRate: calls === 0 ? 0 : evidence.slowCalls / calls,
      probesInFlight: this.probesInFlight,
      probeSuccesses: state === "half-open" ? this.probeSuccesses : 0,
      reopenings: this.reopenings,
      ...(state === "open" ? { openUntilMillis: this.openUntil, retryAfterMillis: this.openUntil - now } : {}),
      lastTransitionAtMillis: this.lastTransitionAt
    }
  }

  // --- Effect surface ----------------------------------------------------------------------

  protect<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R | Classifier> {
    return Effect.clockWith((clock): Effect.Effect<A, E | CircuitOpen, R | Classifier> => {
      if (this.mode === "normal" && this.state === "closed") {
        // Closed: the permit holds nothing that an interruption would have to release, so no
        // uninterruptible region is needed (that is most of the cost of `onExit`).
        const permit = this.closedPermit
        const timed = this.needsClockWhenClosed
        const start = timed ? clock.unsafeCurrentTimeMillis() : 0
        return Effect.matchCauseEffect(self, {
          onSuccess: (a) => {
            if (timed) {
              const end = clock.unsafeCurrentTimeMillis()
              this.onSuccess(permit, end - start, end)
            } else {
              this.onSuccess(permit, 0, 0)
            }
            return Effect.succeed(a)
          },
          onFailure: (cause) => {
            const end = clock.unsafeCurrentTimeMillis()
            return Effect.zipRight(this.onCause(permit, cause, timed ? end - start : 0, end), Effect.failCause(cause))
          }
        })
      }
      return this.protectMasked(self, clock)
    })
  }

  /** Open, half-open or a manual mode: a probe permit must be released even when interrupted. */
  private protectMasked<A, E, R>(
    self: Effect.Effect<A, E, R>,
    clock: Clock.Clock
  ): Effect.Effect<A, E | CircuitOpen, R | Classifier> {
    return Effect.uninterruptibleMask((restore): Effect.Effect<A, E | CircuitOpen, R | Classifier> => {
      const start = clock.unsafeCurrentTimeMillis()
      const permit = this.tryAcquire(start)
      if (permit._tag === "Rejection") return Effect.fail(this.rejectionError(permit))
      return Effect.onExit(restore(self), (exit) => {
        const end = clock.unsafeCurrentTimeMillis()
        if (Exit.isSuccess(exit)) {
          this.onSuccess(permit, end - start, end)
          return Effect.void
        }
        return this.onCause(permit, exit.cause, end - start, end)
      })
    })
  }

  private onCause<E>(
    permit: CircuitBreaker.Permit,
    cause: Cause.Cause<E>,
    durationMillis: number,
    now: number
  ): Effect.Effect<void, never, Classifier> {
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) return this.classified(permit, failure.value, durationMillis, now)
    const defect = Cause.dieOption(cause)
    if (Option.isSome(defect)) return this.classified(permit, defect.value, durationMillis, now)
    // Interrupted: the call says nothing about the dependency; release a probe slot.
    this.onNeutral(permit)
    return Effect.void
  }

  private classified(
    permit: CircuitBreaker.Permit,
    failure: unknown,
    durationMillis: number,
    now: number
  ): Effect.Effect<void, never, Classifier> {
    return Effect.map(Classifier, (classifier) => {
      this.onFailure(permit, classifier.classify(failure), durationMillis, now)
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------------------------

/** @internal */
export const memoryStore: CircuitBreaker.CircuitBreakerStoreService = {
  attach: (_name, policy) => Effect.sync(() => makeMemoryHandle(policy))
}

/**
 * The first delays of a Schedule, stepped without sleeping. The step that ends the schedule is not
 * a delay, so it is left out.
 */
const scheduleTable = (
  schedule: Schedule.Schedule<unknown, unknown, never> | undefined
): Effect.Effect<ReadonlyArray<number> | undefined> =>
  schedule === undefined
    ? Effect.succeed(undefined)
    : Effect.gen(function* () {
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

/** @internal */
export const makeWith = (
  options: CircuitBreaker.MakeOptions | undefined,
  configSchema: Schema.Schema<CircuitBreaker.Config, CircuitBreaker.ConfigInput>,
  store: CircuitBreaker.CircuitBreakerStoreService,
  hub: Option.Option<Context.Tag.Service<typeof Events.ResilienceEvents>>
): Effect.Effect<CircuitBreaker.CircuitBreaker, never, Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* Effect.orDie(Schema.decodeUnknown(configSchema)(options ?? {}))
    const table = yield* scheduleTable(options?.openSchedule)
    const handle = yield* store.attach(config.name, config.policy)
    const outbox = yield* Queue.unbounded<CircuitBreaker.Transition>()
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<CircuitBreaker.Transition>(), PubSub.shutdown)
    // state and transitions as metrics, once per breaker however many pipelines share it
    const gauges = breakerGauges(config.name)
    gauges.state(breakerStateValue[config.mode === "normal" ? "closed" : config.mode] ?? -1)
    const forward = (t: CircuitBreaker.Transition): Effect.Effect<void> => {
      gauges.state(breakerStateValue[t.to] ?? -1)
      gauges.transition(t.from, t.to)
      const local = PubSub.publish(pubsub, t)
      return Option.isSome(hub)
        ? Effect.zipRight(
            local,
            hub.value.publish(
              Events.ResilienceEvent.BreakerTransition({
                breaker: t.breaker,
                from: t.from,
                to: t.to,
                atMillis: t.atMillis
              })
            )
          )
        : Effect.asVoid(local)
    }
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.flatMap(Queue.takeBetween(outbox, 1, Number.POSITIVE_INFINITY), (batch) =>
          Effect.forEach(batch, forward, { discard: true })
        )
      )
    )
    const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.unsafeCurrentTimeMillis()))
    return new CircuitBreakerImpl(
      config.name,
      config,
      table,
      handle,
      (t) => {
        Queue.unsafeOffer(outbox, t)
      },
      pubsub,
      now
    )
  })
