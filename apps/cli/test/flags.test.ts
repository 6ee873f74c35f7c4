/**
 * The CLI's flags under random input, in-process (the `dlq` command as `main.ts` runs it): random
 * argv built from the real subcommands and flags with random values never dies (no defect, no
 * throw), it succeeds or fails with a typed error; and a bad value for a flag fails naming that
 * flag. Nothing leaves the machine: stores are temporary SQLite files (or a path that cannot be
 * opened), PostgreSQL and replay targets are refused ports on 127.0.0.1.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import fc from "fast-check"
import * as Audit from "../src/audit.js"
import * as Dlq from "../src/dlq.js"

const dir = mkdtempSync(join(tmpdir(), "cli-flags-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
mkdirSync(join(dir, "a-directory"))

const cli = Command.run(Command.make("resilience").pipe(Command.withSubcommands([Dlq.command, Audit.command])), {
  name: "effect-resilience",
  version: "0.0.0"
})

/** A Console that prints nothing (help and validation messages would flood the test's output). */
const silent: Console.Console = {
  [Console.TypeId]: Console.TypeId,
  assert: () => Effect.void,
  clear: Effect.void,
  count: () => Effect.void,
  countReset: () => Effect.void,
  debug: () => Effect.void,
  dir: () => Effect.void,
  dirxml: () => Effect.void,
  error: () => Effect.void,
  group: () => Effect.void,
  groupEnd: Effect.void,
  info: () => Effect.void,
  log: () => Effect.void,
  table: () => Effect.void,
  time: () => Effect.void,
  timeEnd: () => Effect.void,
  timeLog: () => Effect.void,
  trace: () => Effect.void,
  warn: () => Effect.void,
  unsafe: console
}

const run = (args: ReadonlyArray<string>) =>
  Effect.runPromise(
    Effect.exit(cli(["node", "effect-resilience", ...args])).pipe(
      Effect.withConsole(silent),
      Effect.provide(NodeContext.layer)
    )
  )

/** The text of a failure: a ValidationError's help document, or the error's message. */
const textOf = (exit: Exit.Exit<void, unknown>): string => {
  if (Exit.isSuccess(exit)) return ""
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") return ""
  const error = failure.value
  if (ValidationError.isValidationError(error)) return HelpDoc.toAnsiText(error.error)
  return typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error)
}

const word = fc.string({ maxLength: 12 })
const junk = fc.oneof(
  word,
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom("", " ", "-1", "0", "1e999", "NaN", "0x10", "--json", "30 days", "-5 days", "soon", "2020-13-45")
)
const db = fc.constantFrom(join(dir, "dlq.db"), join(dir, "a-directory"), join(dir, "missing", "x.db"), "", " ")
const flag = fc.oneof(
  db.map((v) => ["--db", v]),
  fc.constantFrom(["--url", "postgres://127.0.0.1:1/none"], ["--url", ""], ["--url", "not a url"]),
  fc.constantFrom(["--json"], ["--review"], ["--all"]),
  fc.tuple(
    fc.constantFrom(
      "--queue",
      "--category",
      "--status",
      "--since",
      "--until",
      "--limit",
      "--offset",
      "--operator",
      "--note",
      "--older-than",
      "--timeout-ms",
      "--target",
      "--actor",
      "--action"
    ),
    fc.oneof(junk, fc.constantFrom("pending", "validation", "2024-01-01", "10", "http://127.0.0.1:1/x", "alice"))
  ),
  junk.map((v) => [v])
)
const argv = fc
  .tuple(
    fc.constantFrom(
      ["dlq"],
      ["dlq", "list"],
      ["dlq", "show"],
      ["dlq", "replay"],
      ["dlq", "discard"],
      ["dlq", "purge"],
      ["audit"]
    ),
    fc.constantFrom(["dlq", "stats"], ["dlq", "nope"], []),
    fc.array(flag, { maxLength: 6 })
  )
  .map(([command, other, flags]) => [...(flags.length % 2 === 0 ? command : other), ...flags.flat()])

describe("pnpm cli: random flags", () => {
  it("never dies: every run succeeds or fails with a typed error", async () => {
    await fc.assert(
      fc.asyncProperty(argv, async (args) => {
        const exit = await run(args)
        if (Exit.isFailure(exit)) {
          expect(Cause.isDie(exit.cause), `${args.join(" ")}\n${Cause.pretty(exit.cause)}`).toBe(false)
          expect(Cause.failureOption(exit.cause)._tag).toBe("Some")
        }
      }),
      { numRuns: 150, seed: 7 }
    )
  }, 120_000)

  const bad: ReadonlyArray<readonly [flag: string, values: fc.Arbitrary<string>]> = [
    [
      "--limit",
      fc.oneof(
        fc.constantFrom("ten", "1.5", "", "1e999"),
        word.filter((w) => !/^-?\d+$/.test(w))
      )
    ],
    ["--offset", fc.constantFrom("x", "2.5", "")],
    // an empty value of a repeated flag is dropped by @effect/cli before it reaches us (no filter)
    ["--status", word.filter((w) => w !== "" && !["pending", "replaying", "resolved", "discarded"].includes(w))],
    ["--category", fc.constantFrom("nope", " ", "VALIDATION")],
    ["--since", fc.constantFrom("soon", "2020-13-45", "", "yesterday")]
  ]
  it.each(bad)("a bad %s is refused naming the flag", async (name, values) => {
    await fc.assert(
      fc.asyncProperty(values, async (value) => {
        const exit = await run(["dlq", "list", "--db", join(dir, "dlq.db"), name, value])
        expect(Exit.isFailure(exit)).toBe(true)
        expect(textOf(exit)).toContain(name.slice(2))
      }),
      { numRuns: 15, seed: 7 }
    )
  })

  it("a bad --older-than is refused naming the flag", async () => {
    const exit = await run(["dlq", "purge", "--db", join(dir, "dlq.db"), "--operator", "a", "--older-than", "soon"])
    expect(textOf(exit)).toContain("--older-than")
  })
})
