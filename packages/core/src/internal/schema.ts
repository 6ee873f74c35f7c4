/**
 * Schemas shared by every module's config: durations as `Duration.DurationInput`.
 *
 * A config file may write a duration as a number of milliseconds or as a string Effect
 * understands (`"250 millis"`, `"10 seconds"`); code may also pass a `Duration`. The decoded value
 * is a `Duration`; a value that is not a duration fails with a `ParseError` naming its path.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/** `Duration.decode` turns a negative input into zero: a config that says -5 is refused instead. */
const isNegative = (u: unknown): boolean =>
  (typeof u === "number" && u < 0) ||
  (typeof u === "bigint" && u < 0n) ||
  (typeof u === "string" && /^\s*-/.test(u)) ||
  (Array.isArray(u) && u.some((part) => typeof part === "number" && part < 0))

const isDurationInput = (u: unknown): u is Duration.DurationInput =>
  !isNegative(u) && Option.isSome(Duration.decodeUnknown(u))

/** What may be written for a duration. @internal */
export const DurationInputFromSelf = Schema.declare(isDurationInput, {
  identifier: "DurationInput",
  description: 'a duration: a number of milliseconds, or a string such as "250 millis" or "10 seconds"'
})

/**
 * A duration as written (`Duration.DurationInput`), decoded to a `Duration`.
 *
 * @internal
 */
export const DurationInput: Schema.Schema<Duration.Duration, Duration.DurationInput> = Schema.transformOrFail(
  DurationInputFromSelf,
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) =>
      Option.match(isNegative(input) ? Option.none() : Duration.decodeUnknown(input), {
        onNone: () => ParseResult.fail(new ParseResult.Type(ast, input, "not a duration")),
        onSome: ParseResult.succeed
      }),
    encode: ParseResult.succeed
  }
)

/** A duration longer than zero. @internal */
export const PositiveDuration = DurationInput.pipe(
  Schema.filter((d) => Duration.greaterThan(d, Duration.zero) || "a duration longer than zero")
)

/** A duration of zero or more. @internal */
export const NonNegativeDuration = DurationInput.pipe(
  Schema.filter((d) => Duration.greaterThanOrEqualTo(d, Duration.zero) || "a duration of zero or more")
)

/** A finite duration longer than zero. @internal */
export const FinitePositiveDuration = PositiveDuration.pipe(
  Schema.filter((d) => Duration.isFinite(d) || "a finite duration")
)

/**
 * A union of structs told apart by `key`. Effect's union parser (3.22) turns the input's `key`
 * into a string to pick a member, and that throws on a value no string can be made of (an object
 * without a prototype, as `querystring.parse` or `Object.create(null)` give): a defect where a
 * ParseError belongs. Such a value is refused first, at its path; anything else goes to the union.
 *
 * @internal
 */
export const discriminated = <A, I>(key: string, union: Schema.Schema<A, I>): Schema.Schema<A, I> =>
  Schema.declare([union], {
    decode: (members) => (input, options) => {
      if (typeof input === "object" && input !== null && Object.hasOwn(input, key)) {
        const value: unknown = Reflect.get(input, key)
        if (typeof value === "object" && value !== null && !printable(value)) {
          return ParseResult.fail(new ParseResult.Pointer(key, input, new ParseResult.Type(members.ast, value)))
        }
      }
      return ParseResult.decodeUnknown(members)(input, options)
    },
    encode: (members) => (input, options) => ParseResult.encodeUnknown(members)(input, options)
  })

const printable = (value: object): boolean => {
  try {
    String(value)
    return true
  } catch {
    return false
  }
}
