/**
 * `pnpm cli ...`: the operator CLI of effect-resilience.
 *
 *   pnpm cli dlq stats --db data/dlq.db
 *   pnpm cli dlq list --db data/dlq.db --status pending --queue orders
 *   pnpm cli dlq show <id> --db data/dlq.db
 *   pnpm cli dlq replay --db data/dlq.db --queue orders --target http://localhost:8080/orders --operator alice
 *   pnpm cli dlq discard <id> --db data/dlq.db --operator alice --note "customer cancelled"
 *   pnpm cli dlq discard --db data/dlq.db --queue orders --category validation --operator alice
 *   pnpm cli dlq purge --db data/dlq.db --older-than "30 days" --operator alice
 *   pnpm cli audit --db data/dlq.db --actor alice --since 2024-06-01 --limit 20
 *
 * Errors are printed as one line (and as `{"error": ...}` on the last line with --json), exit code 1.
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Audit from "./audit.js"
import * as Dlq from "./dlq.js"

const root = Command.make("resilience").pipe(
  Command.withDescription("Operator commands for effect-resilience"),
  Command.withSubcommands([Dlq.command, Audit.command])
)

const cli = Command.run(root, { name: "effect-resilience", version: "0.1.0" })

// `pnpm cli` runs in apps/cli: resolve relative paths (--db) from where the command was typed.
if (process.env.INIT_CWD !== undefined) process.chdir(process.env.INIT_CWD)

const args = process.argv
const wantsJson = args.includes("--json")

const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : String(error)

const program = cli(args).pipe(
  Effect.catchAllCause((cause) => {
    // @effect/cli has already printed its own help / validation messages
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) {
      return Effect.sync(() => {
        process.exitCode = 1
      })
    }
    if (Cause.isInterruptedOnly(cause)) return Effect.void
    const error = Option.getOrElse(failure, () => Cause.squash(cause))
    const tag =
      typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
        ? error._tag
        : "Error"
    const message = Option.isSome(failure) ? messageOf(error) : `Unexpected error: ${messageOf(error)}`
    return Effect.zipRight(
      wantsJson ? Console.log(JSON.stringify({ error: { tag, message } })) : Console.error(`error: ${message}`),
      Effect.sync(() => {
        process.exitCode = 1
      })
    )
  }),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(program, { disableErrorReporting: true })
