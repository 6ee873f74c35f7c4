/**
 * `audit`: the audit trail of changes made through the CLI and the ops server, read from the
 * same database as the dead letters (`--db FILE` or `--url URL`), newest first, with filters
 * (`--actor`, `--action`, `--target`, `--since`) and pages (`--limit`, `--offset`). `--json` prints
 * the page as one line of JSON.
 */
import * as AuditLog from "@effect-resilience/durable/AuditLog"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { dateFlag, db, integerFlag, json, output, url, withStore } from "./dlq.js"
import * as Format from "./format.js"

/** The `audit` command. */
export const command = Command.make(
  "audit",
  {
    db,
    url,
    json,
    actor: Options.text("actor").pipe(Options.withDescription("Only changes by this operator"), Options.optional),
    action: Options.text("action").pipe(
      Options.withDescription("Only this action, e.g. dead-letter.discard, dead-letter.replay, breaker.reset"),
      Options.optional
    ),
    target: Options.text("target").pipe(
      Options.withDescription("Only changes of this target (a dead letter id, a breaker name)"),
      Options.optional
    ),
    since: dateFlag("since").pipe(Options.withDescription("At or after (ISO date)"), Options.optional),
    limit: integerFlag("limit", 1).pipe(Options.withDefault(50)),
    offset: integerFlag("offset", 0).pipe(Options.withDefault(0))
  },
  (opts) =>
    withStore(
      opts,
      Effect.gen(function* () {
        const audit = yield* AuditLog.AuditLog
        const page = yield* audit.list({
          actor: Option.getOrUndefined(opts.actor),
          action: Option.getOrUndefined(opts.action),
          target: Option.getOrUndefined(opts.target),
          sinceMillis: Option.getOrUndefined(Option.map(opts.since, (d) => d.getTime())),
          limit: opts.limit,
          offset: opts.offset
        })
        const result = { entries: page.entries, total: page.total, limit: opts.limit, offset: opts.offset }
        yield* output(opts.json, result, () => Format.audit(page, opts))
      })
    )
).pipe(
  Command.withDescription(
    "The audit trail (who, what, when, before and after), newest first (filters: --actor, --action, --target, --since)"
  )
)
