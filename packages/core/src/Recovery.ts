/**
 * Recovery actions: what to do about a failure before retrying it. A pipeline made with
 * `Resilience.make(policy, { recovery })` runs, after a failed attempt that another may follow,
 * the actions whose `appliesTo` accepts the failure's `Classification`, highest `priority` first:
 *
 * - {@link refreshCredentials} on `authentication`: fetches a new token into a `Ref` the operation
 *   reads, single-flight (concurrent failures share one refresh; a refresh that completed after
 *   the failed attempt started is reused, not repeated);
 * - {@link failover} on `network` / `unavailable`: moves a current-endpoint `Ref` to the next
 *   healthy endpoint, and fails back to the primary when its health check passes again;
 * - {@link freeResource} on `resource`: runs an effect that frees something (a cache, a pool).
 *
 * Each action reports `Recovered`, `Partial` (with its limitations), `Failed` (with a reason) or
 * `NotApplicable`. The retry then reads that verdict (the rule, in full, in docs/ARCHITECTURE.md):
 *
 * - an action `Recovered`: no later action runs; the failure is retried even when it is not
 *   retryable (a 401 after a refresh), at once (no backoff, no Retry-After);
 * - an action `Partial` (and none recovered): the failure is retried even when not retryable,
 *   after the backoff;
 * - otherwise (every action failed, did not apply, or the budget refused): the retry decides as
 *   the classification says, as it would without recovery.
 *
 * Recovery never adds attempts: `maxAttempts`, the deadline and the retry budget bound the call as
 * before, and no action runs after the last attempt. A {@link Budget} bounds the actions of one call
 * (how many, how long) and of a sliding window across calls (their cost); a refused action stops
 * the actions of that failure and is reported with the bound that refused it.
 *
 * Every action is published as a `RecoveryAction` event on the `ResilienceEvents` hub, runs in a
 * span of its own (`resilience.recovery <name>`), and is written to the {@link AuditSink} when one
 * is provided.
 *
 * @since 0.3.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import type * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { Category, Classification } from "./Classification.js"
import * as Deadline from "./Deadline.js"
import * as Events from "./Events.js"
import * as budgetCore from "./internal/recovery/budget.js"
import { spanEventWith, tagOf } from "./internal/retryPolicy/retry.js"
import { PositiveDuration } from "./internal/schema.js"
import * as LogLevel from "effect/LogLevel"
import * as Log from "./Log.js"

/**
 * What a recovery action reports.
 *
 * @since 0.3.0
 * @category models
 */
export type Outcome = Data.TaggedEnum<{
  /** The cause of the failure was dealt with: the retry should succeed. */
  Recovered: {}
  /** Something was done, with limitations (a degraded endpoint, a token with fewer scopes). */
  Partial: { readonly limitations: ReadonlyArray<string> }
  /** The action ran and did not help; `reason` is fit for a user (no host, no credential). */
  Failed: { readonly reason: string }
  /** The action had nothing to do for this failure. */
  NotApplicable: {}
}>

/**
 * Constructors and matchers for {@link Outcome}.
 *
 * @example
 * ```ts
 * import { Recovery } from "@effect-resilience/core"
 *
 * const degraded = Recovery.Outcome.Partial({ limitations: ["read-only replica"] })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const Outcome = Data.taggedEnum<Outcome>()

/**
 * What an action is told about the failed attempt.
 *
 * @since 0.3.0
 * @category models
 */
export interface ActionContext {
  readonly operation: string
  /** The attempt that failed (1 for the first). */
  readonly attempt: number
  readonly classification: Classification
  /** The failure itself (the operation's error). */
  readonly error: unknown
  /** When the failed attempt started (epoch ms of the Clock); the call's start when not known better. */
  readonly attemptStartedAtMillis: number
  /** When it failed. */
  readonly failedAtMillis: number
}

/**
 * A recovery action, as a value. `priority`: higher runs first (ties keep the order given).
 * `cost` (default 1) is what one run takes from the budget's window. `run` may fail: a failure
 * or a defect is reported as `Failed`; running out of time too.
 *
 * @example
 * ```ts
 * import { Recovery } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const clearCache: Recovery.Action = {
 *   name: "clear-cache",
 *   priority: 10,
 *   appliesTo: (c) => c.category === "resource",
 *   run: () => Effect.as(Effect.log("cache cleared"), Recovery.Outcome.Recovered())
 * }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Action {
  readonly name: string
  readonly priority: number
  readonly cost?: number | undefined
  readonly appliesTo: (classification: Classification) => boolean
  readonly run: (context: ActionContext) => Effect.Effect<Outcome, unknown>
}

/**
 * The recovery budget as data: per call, at most `maxAttemptsPerCall` actions, costing at most
 * `maxCostPerCall` (when set), with `maxTimePerCall` spent in them; per sliding `window`, actions
 * costing at most `maxCostPerWindow` in all (across every call sharing the {@link Recovery}).
 * Defaults: 3 actions, no cost bound per call, 10 s, 100 per minute.
 *
 * @example
 * ```ts
 * import { Recovery } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const budget = Schema.decodeUnknownSync(Recovery.Budget)({ maxAttemptsPerCall: 2, window: "30 seconds", maxCostPerWindow: 10 })
 * ```
 *
 * @since 0.3.0
 * @category config
 */
export const Budget = Schema.Struct({
  maxAttemptsPerCall: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => 3 }),
  maxCostPerCall: Schema.optional(Schema.Number.pipe(Schema.nonNegative())),
  maxTimePerCall: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(10) }),
  window: Schema.optionalWith(PositiveDuration, { default: () => Duration.minutes(1) }),
  maxCostPerWindow: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 100 })
})

/**
 * A decoded budget.
 *
 * @since 0.3.0
 * @category config
 */
export interface Budget extends Schema.Schema.Type<typeof Budget> {}

/**
 * The budget as written (every field optional, durations as `DurationInput`).
 *
 * @since 0.3.0
 * @category config
 */
export interface BudgetInput extends Schema.Schema.Encoded<typeof Budget> {}

/**
 * Why the budget refused an action: the call's actions (`attempts`), the call's cost
 * (`call-cost`), the call's time (`time`), or the window's cost (`window`).
 *
 * @since 0.3.0
 * @category models
 */
export type Refusal = budgetCore.Refusal

/**
 * What the actions did about one failure: the verdict the retry reads, each action's outcome, and
 * the budget's refusal if one stopped them.
 *
 * @since 0.3.0
 * @category models
 */
export interface Report {
  readonly verdict: "recovered" | "partial" | "none"
  readonly outcomes: ReadonlyArray<{ readonly action: string; readonly outcome: Outcome }>
  readonly refused: Refusal | undefined
}

/**
 * An audit entry of a recovery action (the shape of `AuditLog.EntryInput` in
 * `@effect-resilience/durable`): actor `recovery`, action `recovery.<name>`, the operation as
 * target, and what happened as `after`.
 *
 * @since 0.3.0
 * @category models
 */
export interface AuditEntry {
  readonly actor: string
  readonly action: string
  readonly target: string
  readonly before?: unknown
  readonly after?: unknown
}

/**
 * Where recovery actions are audited. A `Context.Reference` whose default writes nowhere, so core
 * needs no audit store: provide one (for instance from `AuditLog` of `@effect-resilience/durable`)
 * with `Effect.provideService(Recovery.AuditSink, { record })` or a Layer. A write that fails is
 * the sink's to handle: recovery does not wait on it failing.
 *
 * @example
 * ```ts
 * import { Recovery } from "@effect-resilience/core"
 * import { Effect, Layer } from "effect"
 *
 * const logged = Layer.succeed(Recovery.AuditSink, {
 *   record: (entry) => Effect.log(`${entry.action} on ${entry.target}`)
 * })
 * ```
 *
 * @since 0.3.0
 * @category services
 */
export class AuditSink extends Context.Reference<AuditSink>()("@effect-resilience/core/Recovery/AuditSink", {
  defaultValue: (): AuditSinkService => ({ record: () => Effect.void })
}) {}

/**
 * What an audit sink offers.
 *
 * @since 0.3.0
 * @category models
 */
export interface AuditSinkService {
  readonly record: (entry: AuditEntry) => Effect.Effect<void>
}

/**
 * A set of actions under one budget. Pipelines given the same `Recovery` share its budget's
 * window.
 *
 * @since 0.3.0
 * @category models
 */
export interface Recovery {
  /** The actions, highest priority first. */
  readonly actions: ReadonlyArray<Action>
  readonly budget: Budget
  /**
   * The runner of one call: each failure of the call goes through it (its ledger counts the
   * call's actions and time).
   */
  readonly forCall: () => (operation: string, input: FailureInput) => Effect.Effect<Report>
}

/**
 * The failure a runner is given.
 *
 * @since 0.3.0
 * @category models
 */
export interface FailureInput {
  readonly error: unknown
  readonly classification: Classification
  readonly attempt: number
  readonly attemptStartedAtMillis: number | undefined
  readonly failedAtMillis: number
}

type Published = Events.ResilienceEvent & { readonly _tag: "RecoveryAction" }

const outcomeName = (outcome: Outcome): Published["outcome"] =>
  outcome._tag === "Recovered"
    ? "recovered"
    : outcome._tag === "Partial"
      ? "partial"
      : outcome._tag === "Failed"
        ? "failed"
        : "not-applicable"

/** Publishes, logs, notes on the span and audits one action (or a refusal). */
const report = (log: Log.Emitter, event: Published): Effect.Effect<void> =>
  Effect.all(
    [
      Events.publish(event),
      log.emit(
        event.outcome === "failed" ? LogLevel.Warning : LogLevel.Info,
        `${event.action}:${event.outcome}`,
        `recovery ${event.action} for ${event.operation}: ${event.outcome}${event.reason === undefined ? "" : ` (${event.reason})`}`,
        {
          operation: event.operation,
          action: event.action,
          outcome: event.outcome,
          attempt: event.attempt,
          category: event.category
        }
      ),
      spanEventWith("resilience.recovery", () => ({
        "resilience.operation": event.operation,
        "resilience.recovery.action": event.action,
        "resilience.recovery.outcome": event.outcome,
        "resilience.attempt": event.attempt,
        "resilience.category": event.category,
        ...(event.reason === undefined ? {} : { "resilience.reason": event.reason })
      })),
      Effect.flatMap(AuditSink, (sink) =>
        sink.record({
          actor: "recovery",
          action: `recovery.${event.action}`,
          target: event.operation,
          after: {
            outcome: event.outcome,
            attempt: event.attempt,
            category: event.category,
            durationMillis: event.durationMillis,
            ...(event.reason === undefined ? {} : { reason: event.reason }),
            ...(event.limitations.length === 0 ? {} : { limitations: event.limitations })
          }
        })
      )
    ],
    { discard: true }
  )

const failedWith = (reason: string): Outcome => Outcome.Failed({ reason })

/** What an action that ran out of time fails with. */
class RecoveryTimeout {
  readonly _tag = "RecoveryTimeout"
}
const timedOut = () => new RecoveryTimeout()

/** The reason of an action that failed: its error's tag, never its message (it may name a host). */
const reasonOf = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure))
    return failure.value instanceof RecoveryTimeout ? "timeout" : `failed (${tagOf(failure.value)})`
  return Cause.isInterruptedOnly(cause) ? "interrupted" : "defect"
}

/**
 * Makes a set of actions under a budget (decoded here: a bad field fails with a `ParseError`
 * naming its path).
 *
 * @example
 * ```ts
 * import { Recovery } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const clear = Recovery.freeResource(Effect.log("cache cleared"), { name: "clear-cache" })
 *   return yield* Recovery.make([clear], { maxAttemptsPerCall: 1, maxCostPerWindow: 20 })
 * })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (
  actions: ReadonlyArray<Action>,
  budget?: BudgetInput
): Effect.Effect<Recovery, ParseResult.ParseError> =>
  Effect.map(Schema.decodeUnknown(Budget)(budget ?? {}), (decoded) => unsafeMake(actions, decoded))

const unsafeMake = (actions: ReadonlyArray<Action>, budget: Budget): Recovery => {
  const sorted = actions
    .map((action, index) => ({ action, index }))
    .sort((a, b) => b.action.priority - a.action.priority || a.index - b.index)
    .map(({ action }) => action)
  const shared = new budgetCore.RecoveryBudget({
    maxAttemptsPerCall: budget.maxAttemptsPerCall,
    maxCostPerCall: budget.maxCostPerCall,
    maxTimePerCallMillis: Duration.toMillis(budget.maxTimePerCall),
    windowMillis: Duration.toMillis(budget.window),
    maxCostPerWindow: budget.maxCostPerWindow
  })
  const log = Log.unsafeMakeEmitter()
  const forCall = () => {
    const ledger = shared.newCall()
    return (operation: string, input: FailureInput): Effect.Effect<Report> =>
      Effect.gen(function* () {
        const clock = yield* Effect.clock
        const context: ActionContext = {
          operation,
          attempt: input.attempt,
          classification: input.classification,
          error: input.error,
          attemptStartedAtMillis: input.attemptStartedAtMillis ?? input.failedAtMillis,
          failedAtMillis: input.failedAtMillis
        }
        const outcomes: Array<{ readonly action: string; readonly outcome: Outcome }> = []
        let verdict: Report["verdict"] = "none"
        for (const action of sorted) {
          if (!action.appliesTo(input.classification)) continue
          const start = clock.unsafeCurrentTimeMillis()
          const refused = shared.tryStart(ledger, action.cost ?? 1, start)
          const base = {
            operation,
            action: action.name,
            attempt: input.attempt,
            category: input.classification.category
          }
          if (refused !== undefined) {
            yield* report(
              log,
              Events.ResilienceEvent.RecoveryAction({
                ...base,
                outcome: "refused",
                reason: `budget-${refused}`,
                limitations: [],
                durationMillis: 0
              })
            )
            return { verdict, outcomes, refused }
          }
          const deadlineLeft = Option.getOrElse(yield* Deadline.remaining, () => Number.POSITIVE_INFINITY)
          const limit = Math.min(shared.timeLeft(ledger), deadlineLeft)
          const outcome = yield* Effect.suspend(() => action.run(context)).pipe(
            Effect.timeoutFail({ duration: Duration.millis(limit), onTimeout: timedOut }),
            Effect.catchAllCause((cause) => Effect.succeed(failedWith(reasonOf(cause)))),
            Effect.tap((o) =>
              Effect.annotateCurrentSpan({
                "resilience.recovery.outcome": outcomeName(o),
                ...(o._tag === "Failed" ? { "resilience.reason": o.reason } : {})
              })
            ),
            Effect.withSpan(`resilience.recovery ${action.name}`, {
              attributes: {
                "resilience.operation": operation,
                "resilience.recovery.action": action.name,
                "resilience.attempt": input.attempt,
                "resilience.category": input.classification.category
              },
              captureStackTrace: false
            })
          )
          const end = clock.unsafeCurrentTimeMillis()
          shared.finish(ledger, end - start)
          outcomes.push({ action: action.name, outcome })
          yield* report(
            log,
            Events.ResilienceEvent.RecoveryAction({
              ...base,
              outcome: outcomeName(outcome),
              reason: outcome._tag === "Failed" ? outcome.reason : undefined,
              limitations: outcome._tag === "Partial" ? outcome.limitations : [],
              durationMillis: end - start
            })
          )
          if (outcome._tag === "Recovered") {
            verdict = "recovered"
            break
          }
          if (outcome._tag === "Partial") verdict = "partial"
        }
        return { verdict, outcomes, refused: undefined }
      })
  }
  return { actions: sorted, budget, forCall }
}

/**
 * A credential refresh that tells how many refreshes it made.
 *
 * @since 0.3.0
 * @category models
 */
export interface CredentialRefresh extends Action {
  /** How many refreshes were started (joined and reused ones are not counted). */
  readonly refreshes: Effect.Effect<number>
}

/**
 * Refreshes credentials on an `authentication` failure: runs `refresh` and sets `store` (a `Ref`
 * or a `SubscriptionRef` the operation reads its token from), so the retry uses the new token.
 *
 * Single-flight: a failure while a refresh is in flight waits for that refresh instead of starting
 * another, and a failure of an attempt that started before the last refresh completed reuses it
 * (the attempt used the old token). So 100 concurrent calls failing with 401 make one refresh. The
 * refresh runs in a fiber of the Scope, not the caller's: a caller whose time runs out stops
 * waiting for it, and the others still get it.
 *
 * @example
 * ```ts
 * import { Recovery } from "@effect-resilience/core"
 * import { Effect, Ref } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const token = yield* Ref.make("expired")
 *   const refresh = yield* Recovery.refreshCredentials({ refresh: Effect.succeed("fresh"), store: token })
 *   return yield* Recovery.make([refresh])
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const refreshCredentials = <T, E>(options: {
  readonly refresh: Effect.Effect<T, E>
  readonly store: Ref.Ref<T>
  readonly name?: string | undefined
  readonly priority?: number | undefined
  readonly cost?: number | undefined
  readonly appliesTo?: ((classification: Classification) => boolean) | undefined
}): Effect.Effect<CredentialRefresh, never, Scope.Scope> =>
  Effect.map(Effect.scope, (scope) => {
    let inFlight: Deferred.Deferred<Outcome> | undefined
    let completedAt: number | undefined
    let started = 0
    const refreshed: Effect.Effect<Outcome> = options.refresh.pipe(
      Effect.flatMap((token) => options.store.modify(() => [undefined, token])),
      Effect.zipRight(Clock.currentTimeMillis),
      Effect.map((now): Outcome => {
        completedAt = now
        return Outcome.Recovered()
      }),
      Effect.catchAllCause((cause) => Effect.succeed(failedWith(reasonOf(cause))))
    )
    const run = (context: ActionContext): Effect.Effect<Outcome> =>
      Effect.flatMap(Deferred.make<Outcome>(), (mine) => {
        if (inFlight !== undefined) return Deferred.await(inFlight)
        if (completedAt !== undefined && completedAt >= context.attemptStartedAtMillis) {
          return Effect.succeed(Outcome.Recovered())
        }
        inFlight = mine
        started++
        const leader = refreshed.pipe(
          Effect.onExit((exit) =>
            Effect.suspend(() => {
              inFlight = undefined
              return Deferred.done(mine, Exit.isSuccess(exit) ? exit : Exit.succeed(failedWith("interrupted")))
            })
          )
        )
        return Effect.zipRight(Effect.forkIn(leader, scope), Deferred.await(mine))
      })
    return {
      name: options.name ?? "refresh-credentials",
      priority: options.priority ?? 100,
      cost: options.cost,
      appliesTo: options.appliesTo ?? ((c) => c.category === "authentication"),
      run,
      refreshes: Effect.sync(() => started)
    }
  })

/**
 * A failover between endpoints: the current one, and the action that moves it.
 *
 * @since 0.3.0
 * @category models
 */
export interface Failover<A> extends Action {
  /** The endpoint to use now (read it in the operation, on every attempt). */
  readonly current: Effect.Effect<A>
  /** The index of the current endpoint (0 is the primary), to watch its changes. */
  readonly index: SubscriptionRef.SubscriptionRef<number>
}

/**
 * Fails over between `endpoints` (the first is the primary). On a failure of a chosen category
 * (`network` and `unavailable` by default) it moves to the next endpoint, in order and around,
 * whose `healthCheck` passes (within `healthTimeout`, 2 s by default); with none healthy it
 * reports `Failed`, with a single endpoint `NotApplicable`. Moves are serialised, and a failure of
 * an attempt that started before the last move reuses it rather than moving again, so concurrent
 * failures move once. Every `failBackEvery` (5 s by default) while away from the primary, the
 * primary's health check is run, and the failover returns to it when it passes (published as a
 * `RecoveryAction` of action `<name>.fail-back`, and audited).
 *
 * @example
 * ```ts
 * import { Recovery } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const endpoints = yield* Recovery.failover({
 *     endpoints: ["http://127.0.0.1:8081", "http://127.0.0.1:8082"],
 *     healthCheck: (url) => Effect.tryPromise(() => fetch(`${url}/health`)),
 *     failBackEvery: "10 seconds"
 *   })
 *   return yield* endpoints.current
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const failover = <A>(options: {
  readonly endpoints: readonly [A, ...Array<A>]
  readonly healthCheck: (endpoint: A) => Effect.Effect<unknown, unknown>
  readonly healthTimeout?: Duration.DurationInput | undefined
  readonly failBackEvery?: Duration.DurationInput | undefined
  readonly name?: string | undefined
  readonly priority?: number | undefined
  readonly cost?: number | undefined
  readonly appliesTo?: ((classification: Classification) => boolean) | undefined
}): Effect.Effect<Failover<A>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const endpoints = options.endpoints
    // indexes are kept in range by the modulo below; the primary stands in for none
    const at = (i: number): A => endpoints[i] ?? endpoints[0]
    const name = options.name ?? "failover"
    const log = Log.unsafeMakeEmitter()
    const index = yield* SubscriptionRef.make(0)
    const lock = yield* Effect.makeSemaphore(1)
    const healthTimeout = Duration.decode(options.healthTimeout ?? "2 seconds")
    let movedAt: number | undefined
    let lastCategory: Category = "unavailable"
    let lastOperation = name
    const healthy = (endpoint: A): Effect.Effect<boolean> =>
      options.healthCheck(endpoint).pipe(
        Effect.timeout(healthTimeout),
        Effect.as(true),
        Effect.catchAllCause(() => Effect.succeed(false))
      )
    const run = (context: ActionContext): Effect.Effect<Outcome> =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          if (endpoints.length === 1) return Outcome.NotApplicable()
          if (movedAt !== undefined && movedAt >= context.attemptStartedAtMillis) return Outcome.Recovered()
          const from = yield* SubscriptionRef.get(index)
          for (let k = 1; k < endpoints.length; k++) {
            const to = (from + k) % endpoints.length
            if (yield* healthy(at(to))) {
              yield* SubscriptionRef.set(index, to)
              movedAt = yield* Clock.currentTimeMillis
              lastCategory = context.classification.category
              lastOperation = context.operation
              return Outcome.Recovered()
            }
          }
          return failedWith("no healthy endpoint")
        })
      )
    const failBack = Effect.gen(function* () {
      if ((yield* SubscriptionRef.get(index)) === 0) return
      const start = yield* Clock.currentTimeMillis
      if (!(yield* healthy(endpoints[0]))) return
      const moved = yield* lock.withPermits(1)(
        Effect.gen(function* () {
          if ((yield* SubscriptionRef.get(index)) === 0) return false
          yield* SubscriptionRef.set(index, 0)
          movedAt = yield* Clock.currentTimeMillis
          return true
        })
      )
      if (!moved) return
      const end = yield* Clock.currentTimeMillis
      yield* report(
        log,
        Events.ResilienceEvent.RecoveryAction({
          operation: lastOperation,
          action: `${name}.fail-back`,
          attempt: 0,
          category: lastCategory,
          outcome: "recovered",
          reason: undefined,
          limitations: [],
          durationMillis: end - start
        })
      )
    })
    yield* Effect.forkScoped(Effect.repeat(failBack, Schedule.spaced(options.failBackEvery ?? "5 seconds")))
    return {
      name,
      priority: options.priority ?? 50,
      cost: options.cost,
      appliesTo: options.appliesTo ?? ((c) => c.category === "network" || c.category === "unavailable"),
      run,
      current: Effect.map(SubscriptionRef.get(index), at),
      index
    }
  })

/**
 * Frees a resource on a `resource` failure (an exhausted pool, a full disk, memory): runs `free`
 * and reports `Recovered` when it succeeds.
 *
 * @example
 * ```ts
 * import { Recovery } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const evict = Recovery.freeResource(Effect.log("evicted idle connections"), { name: "evict-idle" })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const freeResource = (
  free: Effect.Effect<unknown, unknown>,
  options?: {
    readonly name?: string | undefined
    readonly priority?: number | undefined
    readonly cost?: number | undefined
    readonly appliesTo?: ((classification: Classification) => boolean) | undefined
  }
): Action => ({
  name: options?.name ?? "free-resource",
  priority: options?.priority ?? 10,
  cost: options?.cost,
  appliesTo: options?.appliesTo ?? ((c) => c.category === "resource"),
  run: () => Effect.as(free, Outcome.Recovered())
})
