/**
 * Duration fields of config schemas: written as `Duration.DurationInput` (a number of
 * milliseconds, a string Effect's `Duration.decode` reads such as "250 millis", or a `Duration`),
 * decoded to a `Duration`. A value that is not a duration fails with a `ParseError` naming its path.
 *
 * Core has the same schemas in its internals; this copy stays until core exports them publicly.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const DurationInputFromSelf = Schema.declare(
  (u: unknown): u is Duration.DurationInput => Option.isSome(Duration.decodeUnknown(u)),
  {
    identifier: "DurationInput",
    description: 'a duration: a number of milliseconds, or a string such as "250 millis" or "10 seconds"'
  }
)

/** @internal */
export const DurationInput: Schema.Schema<Duration.Duration, Duration.DurationInput> = Schema.transformOrFail(
  DurationInputFromSelf,
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) =>
      Option.match(Duration.decodeUnknown(input), {
        onNone: () => ParseResult.fail(new ParseResult.Type(ast, input, "not a duration")),
        onSome: ParseResult.succeed
      }),
    encode: ParseResult.succeed
  }
)

/** @internal */
export const PositiveDuration = DurationInput.pipe(
  Schema.filter((d) => Duration.greaterThan(d, Duration.zero) || "a duration longer than zero")
)
