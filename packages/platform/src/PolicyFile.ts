/**
 * Policies in a file (YAML or JSON) that reload while the program runs.
 *
 * ```yaml
 * policies:
 *   payments:                      # a policy as Resilience.make takes it (operation: the name)
 *     attemptTimeout: 2 seconds
 *     retry: { maxAttempts: 3 }
 *     breaker: { policy: { _tag: ConsecutiveFailures, threshold: 5 } }
 *   users-db:                      # a preset with overrides, merged as Presets merges them
 *     preset: database
 *     overrides: { attemptTimeout: 1 second }
 * ```
 *
 * - At start-up the file is decoded with `Resilience.Policy`; a bad file fails with a
 *   {@link PolicyFileError} that lists every problem with its path
 *   (`policies.payments.retry.maxAttempts: Expected a number between 1 and 1000, actual 0`).
 * - The file's directory is watched (an editor that saves by renaming a new file over the old one
 *   is seen), saves are debounced, and the file is also read every `poll` in case a watch event
 *   is lost (network file systems, some container mounts).
 * - A valid change builds every pipeline of the new version, then swaps the whole set in one step:
 *   a call takes the version current when it starts and finishes under it, so no call ever runs
 *   under half of a change. Policies whose decoded config is unchanged keep their pipeline (and its
 *   bulkhead, limiter, ...); a breaker or retry budget whose name and config are unchanged is the
 *   same instance, its state kept, even when other fields of its policy changed.
 * - A breaker (or budget) whose config changed is a new one, closed and fresh, as Polly rebuilds a
 *   changed strategy: its old state was measured against thresholds that no longer hold. Under a
 *   sharing registry (`CircuitBreaker.layerRegistry()`), whose breakers are shared by name with
 *   the rest of the program, a name cannot hold two configs: such a change is refused, naming the
 *   field (rename the breaker to start a new one).
 * - An invalid change (or one that removes a policy the program makes calls through) keeps the
 *   running policies and is reported: a {@link Rejected} event on {@link PolicyFile.changes}, a
 *   warning log with every problem, and the `onReload` callback (for an audit trail).
 *
 * @since 0.3.0
 */
import type { Classifier } from "@effect-resilience/core/Classifier"
import type * as Resilience from "@effect-resilience/core/Resilience"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/policyFile/runtime.js"

/**
 * One problem of a file: the path of the field from the file's root (empty for the file itself:
 * it could not be read or parsed) and what is wrong.
 *
 * @example
 * ```ts
 * import type { PolicyFile } from "@effect-resilience/platform"
 *
 * const line = (p: PolicyFile.Problem) => (p.path === "" ? p.message : `${p.path}: ${p.message}`)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export const Problem = Schema.Struct({ path: Schema.String, message: Schema.String })

/**
 * A decoded {@link Problem}.
 *
 * @example
 * ```ts
 * import type { PolicyFile } from "@effect-resilience/platform"
 *
 * const problem: PolicyFile.Problem = { path: "policies.payments.retry.maxAttempts", message: "Expected ..." }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Problem extends Schema.Schema.Type<typeof Problem> {}

const about = {
  /** The file as given to `make`. */
  file: Schema.String,
  /** When the change was read (Clock time). */
  atMillis: Schema.Number,
  /** SHA-256 of the file's text, when it could be read: what was applied or refused. */
  sha256: Schema.optional(Schema.String),
  /** The file's owner (uid) and modification time, where the file system tells them: who changed it. */
  fileOwner: Schema.optional(Schema.Number),
  modifiedAtMillis: Schema.optional(Schema.Number)
}

/**
 * A change applied: the new version's number and the policies added, changed and removed.
 *
 * @example
 * ```ts
 * import { PolicyFile } from "@effect-resilience/platform"
 * import { Schema } from "effect"
 *
 * const toJson = Schema.encodeSync(PolicyFile.Applied)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export const Applied = Schema.TaggedStruct("Applied", {
  ...about,
  version: Schema.Int,
  added: Schema.Array(Schema.String),
  changed: Schema.Array(Schema.String),
  removed: Schema.Array(Schema.String)
})

/**
 * A decoded {@link Applied}.
 *
 * @example
 * ```ts
 * import type { PolicyFile } from "@effect-resilience/platform"
 *
 * const touched = (e: PolicyFile.Applied) => [...e.added, ...e.changed, ...e.removed]
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Applied extends Schema.Schema.Type<typeof Applied> {}

/**
 * A change refused: the version that keeps running and every problem of the file.
 *
 * @example
 * ```ts
 * import { PolicyFile } from "@effect-resilience/platform"
 * import { Schema } from "effect"
 *
 * const toJson = Schema.encodeSync(PolicyFile.Rejected)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export const Rejected = Schema.TaggedStruct("Rejected", {
  ...about,
  version: Schema.Int,
  problems: Schema.Array(Problem)
})

/**
 * A decoded {@link Rejected}.
 *
 * @example
 * ```ts
 * import type { PolicyFile } from "@effect-resilience/platform"
 *
 * const paths = (e: PolicyFile.Rejected) => e.problems.map((p) => p.path)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Rejected extends Schema.Schema.Type<typeof Rejected> {}

/**
 * What a change of the file did: {@link Applied} or {@link Rejected}.
 *
 * @example
 * ```ts
 * import { PolicyFile } from "@effect-resilience/platform"
 * import { Schema } from "effect"
 *
 * const toJson = Schema.encodeSync(PolicyFile.ReloadEvent)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export const ReloadEvent = Schema.Union(Applied, Rejected)

/**
 * A decoded {@link ReloadEvent}.
 *
 * @example
 * ```ts
 * import type { PolicyFile } from "@effect-resilience/platform"
 *
 * const describe = (e: PolicyFile.ReloadEvent) =>
 *   e._tag === "Applied" ? `version ${e.version}` : `${e.problems.length} problems`
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export type ReloadEvent = Applied | Rejected

const lines = (problems: ReadonlyArray<Problem>): string =>
  problems.map((p) => `  ${p.path === "" ? p.message : `${p.path}: ${p.message}`}`).join("\n")

/**
 * The file could not be used at start-up: it could not be read, parsed or decoded, or a pipeline
 * could not be built. `problems` holds every problem, each with its path; the message lists them
 * under the file's name (for the operator who wrote it).
 *
 * @example
 * ```ts
 * import type { PolicyFile } from "@effect-resilience/platform"
 *
 * const report = (error: PolicyFile.PolicyFileError) => error.problems.map((p) => p.path)
 * ```
 *
 * @since 0.3.0
 * @category errors
 */
export class PolicyFileError extends Schema.TaggedError<PolicyFileError>()("PolicyFileError", {
  file: Schema.String,
  problems: Schema.Array(Problem)
}) {
  override get message(): string {
    return `Invalid policy file ${this.file}:\n${lines(this.problems)}`
  }
}

/**
 * No policy of that name in the file.
 *
 * @example
 * ```ts
 * import type { PolicyFile } from "@effect-resilience/platform"
 *
 * const missing = (error: PolicyFile.PolicyNotFound) => error.policy
 * ```
 *
 * @since 0.3.0
 * @category errors
 */
export class PolicyNotFound extends Schema.TaggedError<PolicyNotFound>()("PolicyNotFound", {
  file: Schema.String,
  policy: Schema.String
}) {
  override get message(): string {
    return `No policy "${this.policy}" in the policy file`
  }
}

/**
 * Options of {@link make}.
 *
 * - `format`: `"yaml"` or `"json"` (default: JSON for a `.json` file, YAML otherwise).
 * - `debounce`: how long the file must stay quiet after a change before it is read (default 100 ms):
 *   an editor's save is several file system events.
 * - `poll`: the file is also read this often (default 5 s; `false`: never), in case a watch event is
 *   lost. An unchanged text costs a read and a comparison.
 * - `onReload`: told of every {@link ReloadEvent} after it took effect (an audit entry, say); its
 *   failure is logged and changes nothing.
 *
 * @example
 * ```ts
 * import type { PolicyFile } from "@effect-resilience/platform"
 * import { Effect } from "effect"
 *
 * const options: PolicyFile.Options = {
 *   debounce: "200 millis",
 *   onReload: (event) => Effect.logInfo(`policies: ${event._tag} by uid ${event.fileOwner ?? "?"}`)
 * }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  readonly format?: "yaml" | "json" | undefined
  readonly debounce?: Duration.DurationInput | undefined
  readonly poll?: Duration.DurationInput | false | undefined
  readonly onReload?: ((event: ReloadEvent) => Effect.Effect<void, unknown>) | undefined
}

/**
 * One version of the whole file: its number (1 at start-up, +1 per applied change) and its
 * pipelines.
 *
 * @example
 * ```ts
 * import type { PolicyFile } from "@effect-resilience/platform"
 *
 * const timeouts = (version: PolicyFile.Version) =>
 *   version.names.map((name) => version.pipeline(name)?.policy.attemptTimeout)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Version {
  readonly number: number
  readonly names: ReadonlyArray<string>
  readonly pipeline: (name: string) => Resilience.Pipeline | undefined
}

/**
 * The pipeline of one policy of the file, as it is when each call starts.
 *
 * - `protect(self)`: runs `self` through the pipeline of the version current when the call
 *   starts; the call finishes under it whatever is applied meanwhile.
 * - `use(f)`: the same with the pipeline and the version's number in hand.
 * - `current`: the pipeline now (to inspect it; a call made through it later may run under a
 *   version that has been replaced).
 *
 * @example
 * ```ts
 * import type { PolicyFile } from "@effect-resilience/platform"
 * import { Effect } from "effect"
 *
 * const charge = (payments: PolicyFile.Reloadable) => payments.protect(Effect.succeed("charged"))
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Reloadable {
  readonly name: string
  readonly protect: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | Resilience.PipelineError, R>
  readonly use: <A, E, R>(
    f: (pipeline: Resilience.Pipeline, version: number) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
  readonly current: Effect.Effect<Resilience.Pipeline>
}

/**
 * A policy file, loaded and watched.
 *
 * - `pipeline(name)`: the {@link Reloadable} pipeline of a policy (fails with
 *   {@link PolicyNotFound}); from then on a change that removes the policy is refused.
 * - `use(f)`: runs `f` with one whole {@link Version}, kept until `f` ends (for a call that goes
 *   through several policies and must see them from one version).
 * - `changes` / `subscribe`: every {@link ReloadEvent} (`subscribe` misses none after it returns).
 * - `reload`: reads the file now (as on SIGHUP); `undefined` when nothing changed.
 *
 * @example
 * ```ts
 * import type { PolicyFile } from "@effect-resilience/platform"
 * import { Effect, Stream } from "effect"
 *
 * const report = (file: PolicyFile.PolicyFile) =>
 *   Stream.runForEach(file.changes, (event) => Effect.log(event._tag, event.version))
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface PolicyFile {
  readonly file: string
  readonly version: Effect.Effect<number>
  readonly current: Effect.Effect<Version>
  readonly pipeline: (name: string) => Effect.Effect<Reloadable, PolicyNotFound>
  readonly use: <A, E, R>(f: (version: Version) => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly reload: Effect.Effect<ReloadEvent | undefined>
  readonly changes: Stream.Stream<ReloadEvent>
  readonly subscribe: Effect.Effect<Stream.Stream<ReloadEvent>, never, Scope.Scope>
}

/**
 * The tag of {@link layer}.
 *
 * @example
 * ```ts
 * import { PolicyFile } from "@effect-resilience/platform"
 * import { Effect } from "effect"
 *
 * const charge = Effect.gen(function* () {
 *   const file = yield* PolicyFile.PolicyFile
 *   const payments = yield* file.pipeline("payments")
 *   return yield* payments.protect(Effect.succeed("charged"))
 * })
 * ```
 *
 * @since 0.3.0
 * @category services
 */
export const PolicyFile: Context.Tag<PolicyFile, PolicyFile> = Context.GenericTag<PolicyFile>(
  "@effect-resilience/platform/PolicyFile"
)

/**
 * Loads a policy file and watches it for as long as the scope lives. Needs a `FileSystem` and a
 * `Path` (`NodeContext.layer`) and the `Classifier`; breakers and retry budgets come from the
 * registries in context (`CircuitBreaker.Registry`, `RetryBudget.Registry`), so they can be shared
 * with the rest of the program and watched by the operator API.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { PolicyFile } from "@effect-resilience/platform"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const file = yield* PolicyFile.make("config/policies.yaml", {
 *     onReload: (event) => Effect.logInfo(`policy file: ${event._tag}`)
 *   })
 *   const payments = yield* file.pipeline("payments")
 *   return yield* payments.protect(Effect.succeed("charged"))
 * }).pipe(Effect.scoped, Effect.provide([NodeContext.layer, Classifier.layer]))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (
  file: string,
  options?: Options
): Effect.Effect<PolicyFile, PolicyFileError, FileSystem.FileSystem | Path.Path | Classifier | Scope.Scope> =>
  internal.make(file, options, {
    applied: (fields) => Applied.make(fields),
    rejected: (fields) => Rejected.make(fields),
    error: (problems) => new PolicyFileError({ file, problems }),
    notFound: (policy) => new PolicyNotFound({ file, policy })
  })

/**
 * The file as a service, watched for as long as the Layer lives.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { PolicyFile } from "@effect-resilience/platform"
 * import { NodeContext } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const Policies = PolicyFile.layer("config/policies.yaml").pipe(
 *   Layer.provide(Layer.merge(NodeContext.layer, Classifier.layer))
 * )
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (
  file: string,
  options?: Options
): Layer.Layer<PolicyFile, PolicyFileError, FileSystem.FileSystem | Path.Path | Classifier> =>
  Layer.scoped(PolicyFile, make(file, options))

/**
 * Checks a policy file's text without running anything (for CI, or a command that validates a
 * change before it is deployed): the names of its policies, or every problem with its path.
 *
 * @example
 * ```ts
 * import { PolicyFile } from "@effect-resilience/platform"
 * import { Either } from "effect"
 *
 * const result = PolicyFile.check("policies:\n  payments:\n    retry: { maxAttempts: 0 }\n", "yaml")
 * if (Either.isLeft(result)) console.log(result.left.map((p) => p.path)) // ["policies.payments.retry.maxAttempts"]
 * ```
 *
 * @since 0.3.0
 * @category utils
 */
export const check: (
  text: string,
  format: "yaml" | "json"
) => Either.Either<ReadonlyArray<string>, ReadonlyArray<Problem>> = internal.check
