/**
 * A policy file's text to decoded policies: YAML (or JSON) parsed by the `yaml` package, then
 * every entry decoded with core's own `Resilience.Policy` (a preset entry through core's own
 * `Presets` function, so the merge of overrides is the one `Presets` documents). Every problem is
 * collected, each with the path of its field from the file's root (`policies.payments.retry.maxAttempts`).
 *
 * @internal
 */
import * as Presets from "@effect-resilience/core/Presets"
import * as Resilience from "@effect-resilience/core/Resilience"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as YAML from "yaml"

/** One problem: where (a field path from the file's root, "" for the file itself) and what. */
export interface Problem {
  readonly path: string
  readonly message: string
}

/** One decoded policy of the file. */
export interface Entry {
  /** The policy's name in the file (the key under `policies`). */
  readonly name: string
  /** The policy as written, after its preset and overrides were merged. */
  readonly input: Resilience.PolicyInput
  readonly policy: Resilience.Policy
  /** Equal for two entries exactly when their decoded policies are equal. */
  readonly key: string
}

/** The presets a file may name, by the name it uses. */
export const presets: Readonly<Record<"database" | "http" | "objectStore" | "cache", Presets.Preset>> = {
  database: Presets.database,
  http: Presets.http,
  objectStore: Presets.objectStore,
  cache: Presets.cache
}

const PresetName = Schema.Literal("database", "http", "objectStore", "cache")

const Fields = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const Root = Schema.Struct({ policies: Schema.Record({ key: Schema.NonEmptyString, value: Fields }) })

/** What a preset's overrides may hold, as written: any field of a policy but its operation. */
const Overrides = Schema.partialWith(Schema.encodedSchema(Resilience.Policy).pipe(Schema.omit("operation")), {
  exact: true
})

const PresetEntry = Schema.Struct({ preset: PresetName, overrides: Schema.optional(Fields) })

const strict = { errors: "all", onExcessProperty: "error" } as const

const pathString = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, key) => {
    if (typeof key === "number") return `${acc}[${key}]`
    const part = String(key)
    return acc === "" ? part : `${acc}.${part}`
  }, "")

const expected = /^Expected ([\s\S]*), actual ([\s\S]*)$/

/**
 * A ParseError's issues as problems, read the way a person fixes a file: a union's members each
 * report their mismatch at the same path ("Expected DurationInput", "Expected false", "Expected
 * undefined" for an optional field), so the issues of one path are joined into one line
 * ("Expected DurationInput | false, actual ..."), the optional field's `undefined` is dropped, and
 * a path is left out when a deeper one says what is wrong inside it.
 */
export const problemsOf = (error: ParseResult.ParseError, prefix: ReadonlyArray<PropertyKey>): Array<Problem> => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    path: [...prefix, ...issue.path],
    message: issue.message
  }))
  const keyOf = (path: ReadonlyArray<PropertyKey>) => JSON.stringify(path.map(String))
  const deeper = (path: ReadonlyArray<PropertyKey>) =>
    issues.some(
      (other) => other.path.length > path.length && path.every((key, i) => String(key) === String(other.path[i]))
    )
  const byPath = new Map<string, { path: ReadonlyArray<PropertyKey>; messages: Array<string> }>()
  for (const issue of issues) {
    if (deeper(issue.path)) continue
    const key = keyOf(issue.path)
    const group = byPath.get(key) ?? { path: issue.path, messages: [] }
    if (!group.messages.includes(issue.message)) group.messages.push(issue.message)
    byPath.set(key, group)
  }
  return Array.from(byPath.values(), ({ path, messages }) => {
    const parsed = messages.map((m) => expected.exec(m))
    const meaningful = parsed.filter((m) => m === null || m[1] !== "undefined")
    const kept = meaningful.length > 0 ? meaningful : parsed
    const actuals = new Set(kept.map((m) => (m === null ? undefined : m[2])))
    const message =
      kept.every((m) => m !== null) && actuals.size === 1
        ? `Expected ${kept.map((m) => m?.[1]).join(" | ")}, actual ${kept[0]?.[2]}`
        : messages.filter((_, i) => kept.includes(parsed[i] ?? null)).join("; ")
    return { path: pathString(path), message }
  })
}

/** The text as data: JSON for a `.json` file, YAML (a superset of JSON) otherwise. */
export const parse = (text: string, format: "json" | "yaml"): Either.Either<unknown, Array<Problem>> => {
  if (format === "json") {
    try {
      return Either.right(JSON.parse(text))
    } catch (error) {
      return Either.left([{ path: "", message: `not JSON: ${error instanceof Error ? error.message : String(error)}` }])
    }
  }
  const document = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (document.errors.length > 0) {
    return Either.left(
      document.errors.map((error) => {
        const at = error.linePos?.[0]
        const first = error.message.split("\n")[0] ?? error.message
        return {
          path: "",
          message: at === undefined ? `not YAML: ${first}` : `not YAML (line ${at.line}, column ${at.col}): ${first}`
        }
      })
    )
  }
  return Either.right(document.toJS())
}

/** A canonical text of a decoded value: keys sorted, durations as milliseconds. Equal texts, equal values. */
export const canonical = (value: unknown): string => {
  if (Duration.isDuration(value)) return `${Duration.toMillis(value)}ms`
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(Reflect.get(value, k))}`).join(",")}}`
  }
  return value === undefined ? "undefined" : JSON.stringify(value)
}

const decodePolicy = Schema.decodeUnknownEither(Resilience.Policy)

/**
 * One entry of `policies`: a policy, or a preset with overrides. Every field is checked with the
 * policy's own Schema (so the problems of one entry are all reported, structure and ranges alike);
 * a preset's overrides are checked on their own first, then merged by the preset and checked again
 * (a rule across fields, such as a window's minimum calls within its size, may need both).
 */
const decodeEntry = (name: string, fields: Record<string, unknown>): Either.Either<Entry, Array<Problem>> => {
  const at = ["policies", name]
  let input: Resilience.PolicyInput
  let overridden: ReadonlySet<string> = new Set()
  if (Object.hasOwn(fields, "preset")) {
    const entry = Schema.decodeUnknownEither(PresetEntry)(fields, strict)
    const written = { ...(Either.isRight(entry) ? entry.right.overrides : {}), operation: name }
    const checked = decodePolicy(written, strict)
    const problems = [
      ...(Either.isLeft(entry) ? problemsOf(entry.left, at) : []),
      ...(Either.isLeft(checked) ? problemsOf(checked.left, [...at, "overrides"]) : [])
    ]
    const overrides = Schema.decodeUnknownEither(Overrides)(Either.isRight(entry) ? (entry.right.overrides ?? {}) : {})
    if (problems.length > 0 || Either.isLeft(entry)) return Either.left(problems)
    if (Either.isLeft(overrides)) return Either.left(problemsOf(overrides.left, [...at, "overrides"]))
    input = presets[entry.right.preset](name, overrides.right)
    overridden = new Set(Object.keys(overrides.right))
  } else {
    // the key names the policy; an `operation` written in the entry names its spans and metrics
    const written = { operation: name, ...fields }
    const checked = decodePolicy(written, strict)
    if (Either.isLeft(checked)) return Either.left(problemsOf(checked.left, at))
    const typed = Schema.decodeUnknownEither(Schema.encodedSchema(Resilience.Policy))(written)
    if (Either.isLeft(typed)) return Either.left(problemsOf(typed.left, at))
    input = typed.right
  }
  const decoded = decodePolicy(input, strict)
  if (Either.isLeft(decoded)) {
    // a preset's own values decode: a problem in a merged field comes from the overrides
    const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
    const fromOverrides = issues.length > 0 && issues.every((i) => overridden.has(String(i.path[0])))
    return Either.left(problemsOf(decoded.left, fromOverrides ? [...at, "overrides"] : at))
  }
  return Either.right({ name, input, policy: decoded.right, key: canonical(decoded.right) })
}

/** The file's data (already parsed) to its entries, or every problem of every entry. */
export const decode = (data: unknown): Either.Either<ReadonlyMap<string, Entry>, Array<Problem>> => {
  const root = Schema.decodeUnknownEither(Root)(data, strict)
  if (Either.isLeft(root)) return Either.left(problemsOf(root.left, []))
  const problems: Array<Problem> = []
  const entries = new Map<string, Entry>()
  for (const [name, fields] of Object.entries(root.right.policies)) {
    const entry = decodeEntry(name, fields)
    if (Either.isLeft(entry)) problems.push(...entry.left)
    else entries.set(name, entry.right)
  }
  return problems.length > 0 ? Either.left(problems) : Either.right(entries)
}
