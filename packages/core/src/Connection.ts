/**
 * A connection that heals: a scoped service that acquires a connection (of any type: a database
 * client, a Redis client, a gRPC channel, a socket), checks its health on an interval, and when a
 * check fails drops it and acquires a new one with backoff, while calls wait for a healthy
 * connection within their deadline instead of failing at once.
 *
 * ```text
 * Connecting ──acquired──▶ Connected ──health check failed──▶ Disconnected ──▶ Connecting ...
 *     │                                                            ▲
 *     └──────────acquire failed (retry after the backoff)──────────┘
 * (scope closed) ──▶ Closed
 * ```
 *
 * - The state is a `SubscriptionRef` (watch `state.changes`); statistics count connects,
 *   disconnects, attempts, health checks and the time spent connected.
 * - `acquire` runs in a scope of the connection's own, closed when the connection is dropped or
 *   the service's scope ends, so an `acquireRelease` inside it (a pool, a client) is released
 *   then; `release` is run then too.
 * - `get` / `use` return at once while connected; otherwise they wait for the connection, up to
 *   the caller's `Deadline` (or `maxWait` without one), and fail with {@link ConnectionUnavailable}.
 * - The health check is a user effect. Checks for drivers live next to the drivers, with a
 *   ready-made connection each: `RedisConnection` (`PING`) in `@effect-resilience/redis`,
 *   `SqlHealth` (`SELECT 1`) in `@effect-resilience/sql`; `GrpcConnection` (the gRPC health
 *   protocol) in `@effect-resilience/grpc`.
 * - A `ConnectionUnavailable` is not known to the default classifier (it would be `unknown`):
 *   give {@link classificationRule} to `Classifier.layerWith` so that retry and breakers see it as
 *   `unavailable`.
 *
 * @since 0.3.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Queue from "effect/Queue"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Backoff from "./Backoff.js"
import * as Classification from "./Classification.js"
import { Classifier } from "./Classifier.js"
import * as Deadline from "./Deadline.js"
import { ConnectionCore, type CoreState } from "./internal/connection/core.js"
import * as Rule from "./Rule.js"
import { tagOf } from "./internal/retryPolicy/retry.js"
import { NonNegativeDuration, PositiveDuration } from "./internal/schema.js"

/**
 * Where a connection is.
 *
 * - `Connecting`: acquiring (`attempt` counts the tries since it was last connected).
 * - `Connected`: healthy since `sinceMillis` (epoch ms of the Clock).
 * - `Disconnected`: dropped or not acquired, for `reason` (fit for a user); the next try is at
 *   `retryingAtMillis` (undefined when the reconnect schedule gave up).
 * - `Closed`: the service's scope ended.
 *
 * @since 0.3.0
 * @category models
 */
export type State = Data.TaggedEnum<{
  Connecting: { readonly attempt: number }
  Connected: { readonly sinceMillis: number }
  Disconnected: { readonly reason: string; readonly retryingAtMillis: number | undefined }
  Closed: {}
}>

/**
 * Constructors and matchers for {@link State}.
 *
 * @example
 * ```ts
 * import { Connection } from "@effect-resilience/core"
 *
 * const label = Connection.State.$match({
 *   Connecting: ({ attempt }) => `connecting (${attempt})`,
 *   Connected: () => "up",
 *   Disconnected: ({ reason }) => `down: ${reason}`,
 *   Closed: () => "closed"
 * })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const State = Data.taggedEnum<State>()

/**
 * No healthy connection within the caller's deadline (or `maxWait`), or the service was closed.
 * `state` is where the connection was when the caller gave up; `reason` the last reason it was
 * dropped. The message names the connection, never a host or a credential.
 *
 * @example
 * ```ts
 * import { Connection } from "@effect-resilience/core"
 *
 * const e = new Connection.ConnectionUnavailable({ connection: "orders-db", state: "Disconnected", waitedMillis: 250 })
 * ```
 *
 * @since 0.3.0
 * @category errors
 */
export class ConnectionUnavailable extends Schema.TaggedError<ConnectionUnavailable>()("ConnectionUnavailable", {
  connection: Schema.String,
  state: Schema.Literal("Connecting", "Disconnected", "Closed"),
  reason: Schema.optional(Schema.String),
  waitedMillis: Schema.Number
}) {
  override get message(): string {
    return this.state === "Closed"
      ? `Connection "${this.connection}" is closed`
      : `Connection "${this.connection}" was not available within ${this.waitedMillis} ms`
  }
}

/**
 * A classifier rule for {@link ConnectionUnavailable}: `unavailable` (retryable, evidence for a
 * breaker), code `resilience.ConnectionUnavailable`.
 *
 * @example
 * ```ts
 * import { Classifier, Connection } from "@effect-resilience/core"
 *
 * const layer = Classifier.layerWith({ rules: [Connection.classificationRule] })
 * ```
 *
 * @since 0.3.0
 * @category utils
 */
export const classificationRule = [
  Rule.tag("ConnectionUnavailable"),
  Classification.make({
    category: "unavailable",
    code: "resilience.ConnectionUnavailable",
    message: "The connection to the dependency is not available"
  })
] as const

const Reconnect = Schema.Struct({
  initialDelay: Schema.optionalWith(NonNegativeDuration, { default: () => Duration.millis(100) }),
  maxDelay: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(10) }),
  factor: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 2 }),
  jitter: Schema.optionalWith(Schema.Literal("none", "full", "equal"), { default: () => "full" as const })
})

/**
 * The connection's settings as data. Defaults: a health check every 5 s, each allowed 2 s; one
 * failed check drops the connection (`failuresToDisconnect`); an acquire allowed 10 s; callers
 * without a deadline wait up to 5 s (`maxWait`); reconnects back off exponentially from 100 ms,
 * x2, up to 10 s, with full jitter (the first try after a drop is at once).
 *
 * @example
 * ```ts
 * import { Connection } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(Connection.Config)({ name: "orders-db", healthInterval: "2 seconds" })
 * ```
 *
 * @since 0.3.0
 * @category config
 */
export const Config = Schema.Struct({
  name: Schema.NonEmptyString,
  healthInterval: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(5) }),
  healthTimeout: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(2) }),
  failuresToDisconnect: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100)), { default: () => 1 }),
  acquireTimeout: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(10) }),
  maxWait: Schema.optionalWith(NonNegativeDuration, { default: () => Duration.seconds(5) }),
  reconnect: Schema.optionalWith(Reconnect, { default: () => Schema.decodeSync(Reconnect)({}) })
})

/**
 * A decoded config.
 *
 * @since 0.3.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * The config as written (every field but `name` optional, durations as `DurationInput`).
 *
 * @since 0.3.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * What happened to a connection so far. `connectedMillis` includes the current connected period.
 *
 * @since 0.3.0
 * @category models
 */
export interface Stats {
  readonly connects: number
  readonly disconnects: number
  readonly connectAttempts: number
  readonly failedConnects: number
  readonly healthChecks: number
  readonly failedHealthChecks: number
  readonly connectedMillis: number
  readonly lastReason: string | undefined
}

/**
 * A connection that heals.
 *
 * @since 0.3.0
 * @category models
 */
export interface Connection<C> {
  readonly name: string
  /** The state; `state.changes` streams it. Written by the service only. */
  readonly state: SubscriptionRef.SubscriptionRef<State>
  readonly stats: Effect.Effect<Stats>
  /** The connection, at once when connected; otherwise after waiting for it within the deadline. */
  readonly get: Effect.Effect<C, ConnectionUnavailable>
  /**
   * Runs `f` with the connection ({@link Connection.get} first). When `f` fails with a failure
   * that says the connection may be broken (classified `network`, `timeout` or `unavailable` by
   * the `Classifier` in context when the connection was made; any failure without one), a health
   * check runs at once rather than at the next interval.
   */
  readonly use: <A, E, R>(
    f: (connection: C) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | ConnectionUnavailable, R>
  /** Runs a health check now rather than at the next interval (after a call saw the connection break). */
  readonly checkNow: Effect.Effect<void>
}

/**
 * What `make` takes besides the config.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options<C, E, R, E2, R2> {
  /** Opens a connection; runs in a scope of the connection's own, closed when it is dropped. */
  readonly acquire: Effect.Effect<C, E, R>
  /** Closes a connection that is dropped or at the end (after the connection's scope). */
  readonly release?: ((connection: C) => Effect.Effect<void>) | undefined
  /** Fails (or takes longer than `healthTimeout`) when the connection is not healthy. */
  readonly healthCheck: (connection: C) => Effect.Effect<unknown, E2, R2>
  /** Overrides `config.reconnect`: the delays between failed acquires. */
  readonly acquireSchedule?: Schedule.Schedule<unknown, unknown> | undefined
}

/** A reason fit for a user: the Classifier's message when one is in context, else the failure's tag. */
const reasonOf = (what: string, cause: unknown, classifier: Option.Option<Classifier["Type"]>): string =>
  Option.match(classifier, {
    onNone: () => `${what} (${tagOf(cause)})`,
    onSome: (c) => `${what}: ${c.classify(cause).message}`
  })

class HealthTimeout {
  readonly _tag = "HealthTimeout"
}

/**
 * Makes a connection that heals, for the lifetime of the scope: it starts acquiring at once (in
 * the background: `make` returns without waiting for the first connection), and when the scope
 * ends it stops, releases the connection and moves to `Closed`. A bad config fails with a
 * `ParseError` naming the path.
 *
 * @example
 * ```ts
 * import { Connection, Deadline } from "@effect-resilience/core"
 * import { Effect } from "effect"
 * import * as net from "node:net"
 *
 * const program = Effect.gen(function* () {
 *   const socket = yield* Connection.make(
 *     {
 *       acquire: Effect.async<net.Socket, Error>((resume) => {
 *         const s = net.connect(6379, "127.0.0.1", () => resume(Effect.succeed(s)))
 *         s.once("error", (e) => resume(Effect.fail(e)))
 *       }),
 *       release: (s) => Effect.sync(() => s.destroy()),
 *       healthCheck: (s) => (s.destroyed ? Effect.fail("closed") : Effect.void)
 *     },
 *     { name: "cache", healthInterval: "1 second" }
 *   )
 *   // waits for the connection for up to 2 s
 *   return yield* socket.use((s) => Effect.succeed(s.remotePort)).pipe(Deadline.within("2 seconds"))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = <C, E, R, E2, R2>(
  options: Options<C, E, R, E2, R2>,
  config: ConfigInput
): Effect.Effect<Connection<C>, ParseResult.ParseError, Scope.Scope | Exclude<R, Scope.Scope> | R2> =>
  Effect.gen(function* () {
    const settings = yield* Schema.decodeUnknown(Config)(config)
    const name = settings.name
    const classifier = yield* Effect.serviceOption(Classifier)
    const schedule: Schedule.Schedule<unknown, unknown> =
      options.acquireSchedule ?? reconnectSchedule(settings.reconnect)
    const state = yield* SubscriptionRef.make<State>(State.Connecting({ attempt: 1 }))
    const wake = yield* Queue.sliding<void>(1)

    // the state machine and statistics (plain TypeScript); this fiber only tells it what happened
    const machine = new ConnectionCore(settings.failuresToDisconnect)
    const publish = Effect.suspend(() => SubscriptionRef.set(state, toState(machine.state)))
    let connection: Option.Option<C> = Option.none()
    let connectionScope: Scope.CloseableScope | undefined

    const drop = Effect.suspend(() => {
      const scope = connectionScope
      connectionScope = undefined
      connection = Option.none()
      return scope === undefined ? Effect.void : Scope.close(scope, Exit.void)
    })

    const acquireOnce = Effect.gen(function* () {
      const scope = yield* Scope.make()
      connectionScope = scope
      machine.acquireStarted()
      const exit = yield* options.acquire.pipe(
        Scope.extend(scope),
        Effect.timeoutFail({ duration: settings.acquireTimeout, onTimeout: () => new HealthTimeout() }),
        Effect.exit
      )
      if (Exit.isSuccess(exit) && options.release !== undefined) {
        const release = options.release
        const c = exit.value
        yield* Scope.addFinalizer(scope, release(c))
      }
      if (Exit.isFailure(exit)) yield* drop
      return exit
    })

    /** Checks health until the machine drops the connection. */
    const watch = (c: C) =>
      Effect.gen(function* () {
        while (true) {
          yield* Effect.raceFirst(Effect.sleep(settings.healthInterval), Queue.take(wake))
          const exit = yield* options
            .healthCheck(c)
            .pipe(
              Effect.timeoutFail({ duration: settings.healthTimeout, onTimeout: () => new HealthTimeout() }),
              Effect.exit
            )
          const now = yield* Clock.currentTimeMillis
          const reason = Exit.isSuccess(exit) ? "" : failureReason("health check", exit.cause, classifier)
          if (machine.healthChecked(Exit.isSuccess(exit), reason, now)) return
        }
      })

    const loop = Effect.gen(function* () {
      let scheduleState: unknown = schedule.initial
      while (true) {
        yield* publish
        const exit = yield* acquireOnce
        if (Exit.isFailure(exit)) {
          const reason = failureReason("connect", exit.cause, classifier)
          const now = yield* Clock.currentTimeMillis
          const [next, , decision] = yield* schedule.step(now, undefined, scheduleState)
          if (ScheduleDecision.isDone(decision)) {
            // the reconnect schedule gave up: stay disconnected (calls fail after their wait)
            machine.acquireFailed(reason, undefined)
            yield* publish
            return yield* Effect.never
          }
          scheduleState = next
          const at = Math.max(now, ScheduleIntervals.start(decision.intervals))
          machine.acquireFailed(reason, at)
          yield* publish
          yield* Effect.sleep(Duration.millis(at - now))
          machine.retry()
          continue
        }
        const c = exit.value
        connection = Option.some(c)
        machine.acquired(yield* Clock.currentTimeMillis)
        scheduleState = schedule.initial
        yield* publish
        yield* watch(c)
        yield* drop
        // the first try after a drop is at once; the backoff is for tries that fail
        yield* publish
        machine.retry()
      }
    })

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        machine.close(yield* Clock.currentTimeMillis)
        yield* drop
        yield* publish
      })
    )
    // added after the finalizer above, so it runs first: the loop stops before the connection goes
    yield* Effect.forkScoped(loop)

    const checkNow = Queue.offer(wake, undefined)
    /** Whether a call's failure suggests the connection broke. */
    const suspicious = (failure: unknown): boolean =>
      Option.match(classifier, {
        onNone: () => true,
        onSome: (c) => {
          const category = c.classify(failure).category
          return category === "network" || category === "timeout" || category === "unavailable"
        }
      })

    const unavailable = (waitedMillis: number) =>
      Effect.flatMap(SubscriptionRef.get(state), (s) =>
        Effect.fail(
          new ConnectionUnavailable({
            connection: name,
            // (connected again just as the wait ran out: reported as still connecting)
            state: s._tag === "Closed" ? "Closed" : s._tag === "Connected" ? "Connecting" : s._tag,
            ...(machine.counters.lastReason === undefined ? {} : { reason: machine.counters.lastReason }),
            waitedMillis
          })
        )
      )

    const wait = Effect.gen(function* () {
      const left = yield* Deadline.remaining
      const millis = Math.min(
        Option.getOrElse(left, () => Number.POSITIVE_INFINITY),
        Duration.toMillis(settings.maxWait)
      )
      const ready = yield* state.changes.pipe(
        Stream.filter((s) => s._tag === "Connected" || s._tag === "Closed"),
        Stream.runHead,
        Effect.timeout(Duration.millis(millis)),
        Effect.option
      )
      const c = connection
      const connected = Option.exists(Option.flatten(ready), (s) => s._tag === "Connected")
      if (connected && Option.isSome(c)) return c.value
      return yield* unavailable(millis)
    })

    const get: Effect.Effect<C, ConnectionUnavailable> = Effect.suspend(() => {
      const c = connection
      if (Option.isSome(c)) return Effect.succeed(c.value)
      if (machine.state._tag === "Closed") return unavailable(0)
      return wait
    })

    return {
      name,
      state,
      stats: Effect.map(Clock.currentTimeMillis, (now) => ({
        ...machine.counters,
        connectedMillis: machine.connectedMillis(now)
      })),
      get,
      use: (f) => Effect.flatMap(get, (c) => Effect.tapError(f(c), (e) => (suspicious(e) ? checkNow : Effect.void))),
      checkNow
    }
  })

/** The core's state as the public `State`. */
const toState = (s: CoreState): State => {
  switch (s._tag) {
    case "Connecting":
      return State.Connecting({ attempt: s.attempt })
    case "Connected":
      return State.Connected({ sinceMillis: s.sinceMillis })
    case "Disconnected":
      return State.Disconnected({ reason: s.reason, retryingAtMillis: s.retryingAtMillis })
    case "Closed":
      return State.Closed()
  }
}

/** Why an acquire or a health check failed, in words fit for a user. */
const failureReason = <E>(
  what: "connect" | "health check",
  cause: Cause.Cause<E>,
  classifier: Option.Option<Classifier["Type"]>
): string => {
  const failure = Option.getOrUndefined(firstFailure(cause))
  return failure instanceof HealthTimeout ? `${what} timed out` : reasonOf(`${what} failed`, failure, classifier)
}

/** The first failure of a cause: its error, else its defect. */
const firstFailure = <E>(cause: Cause.Cause<E>): Option.Option<unknown> =>
  Option.orElse(Cause.failureOption(cause), () => Cause.dieOption(cause))

const reconnectSchedule = (reconnect: Config["reconnect"]): Schedule.Schedule<unknown, unknown> => {
  const capped = Backoff.capped(Backoff.exponential(reconnect.initialDelay, reconnect.factor), reconnect.maxDelay)
  return reconnect.jitter === "none" ? capped : Backoff.jitter(capped, reconnect.jitter)
}
