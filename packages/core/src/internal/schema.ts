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
