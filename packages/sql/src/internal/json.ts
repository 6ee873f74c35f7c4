import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * The JSON of a dead letter's failure and notes, checked and written by hand for the shapes the
 * stores write at every insert, with the Schema's encoding as the fallback (and the judge).
 *
 * A failing batch writes one failure per item; encoding each through `Schema.encode(parseJson)`
 * cost about as much as the SQLite insert itself. Here a failure is checked field by field (the
 * checks the Schema would make) and written with `JSON.stringify` per leaf; its classification,
 * usually one object shared by many failures, is encoded once with the Schema and its JSON kept by
 * object (classifications are immutable data), per store. Anything the hand-written path does not expect (a field it does not know, a value of
 * another type, a number JSON cannot hold) makes it step aside: the Schema encodes the value and
 * either succeeds or fails with its own message. The field lists are compared with the Schemas'
 * when this module loads: a Schema that gained or lost a field turns the fast path off instead of
 * dropping the field. A test compares both encodings on generated values.
 *
 * @internal
 */

const FailureJson = Schema.parseJson(DLQ.Failure)
const NotesJson = Schema.parseJson(Schema.Array(DLQ.Note))
const encodeFailureEither = Schema.encodeEither(FailureJson)
const encodeNotesEither = Schema.encodeEither(NotesJson)
const encodeClassificationEither = Schema.encodeUnknownEither(Schema.parseJson(DLQ.Failure.fields.classification))

const sameFields = (fields: object, expected: ReadonlyArray<string>) => {
  const keys = Object.keys(fields)
  return keys.length === expected.length && expected.every((k, i) => keys[i] === k)
}

const attemptFields = DLQ.Failure.fields.history.value.fields
const fastPath =
  sameFields(DLQ.Failure.fields, ["tag", "message", "classification", "history"]) &&
  sameFields(attemptFields, ["attempt", "failure", "classification", "delayMillis", "atMillis"]) &&
  sameFields(attemptFields.failure.fields, ["tag", "message"]) &&
  sameFields(DLQ.Note.fields, ["atMillis", "operator", "action", "text"])

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null

/**
 * The classification's JSON, by object (weak: it holds nothing a failure does not). Each store
 * makes its own ({@link makeEncoder}).
 */
type Classifications = WeakMap<object, string>

/** `undefined` when the classification is not valid (the Schema then says why). */
const classificationJson = (classifications: Classifications, classification: unknown): string | undefined => {
  if (!isRecord(classification)) return undefined
  const known = classifications.get(classification)
  if (known !== undefined) return known
  const encoded = encodeClassificationEither(classification)
  if (Either.isLeft(encoded)) return undefined
  classifications.set(classification, encoded.right)
  return encoded.right
}

const isFiniteNumber = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u)

/** A failure summary `{ tag, message }`, or `undefined` to step aside. */
const summaryJson = (u: unknown): string | undefined =>
  isRecord(u) && typeof u.tag === "string" && typeof u.message === "string"
    ? `{"tag":${JSON.stringify(u.tag)},"message":${JSON.stringify(u.message)}}`
    : undefined

const attemptJson = (classifications: Classifications, u: unknown): string | undefined => {
  if (!isRecord(u) || !Number.isSafeInteger(u.attempt) || !isFiniteNumber(u.atMillis)) return undefined
  const failure = summaryJson(u.failure)
  const classification = classificationJson(classifications, u.classification)
  if (failure === undefined || classification === undefined) return undefined
  const delay = u.delayMillis
  if (delay !== undefined && !isFiniteNumber(delay)) return undefined
  return `{"attempt":${u.attempt},"failure":${failure},"classification":${classification}${
    delay === undefined ? "" : `,"delayMillis":${delay}`
  },"atMillis":${u.atMillis}}`
}

const fastFailureJson = (classifications: Classifications, failure: DLQ.Failure): string | undefined => {
  const u: unknown = failure
  if (!isRecord(u) || typeof u.tag !== "string" || typeof u.message !== "string" || !Array.isArray(u.history)) {
    return undefined
  }
  const classification = classificationJson(classifications, u.classification)
  if (classification === undefined) return undefined
  const history: Array<string> = []
  for (const record of u.history) {
    const json = attemptJson(classifications, record)
    if (json === undefined) return undefined
    history.push(json)
  }
  return `{"tag":${JSON.stringify(u.tag)},"message":${JSON.stringify(u.message)},"classification":${classification},"history":[${history.join(",")}]}`
}

const noteJson = (u: unknown): string | undefined => {
  if (!isRecord(u) || !isFiniteNumber(u.atMillis) || typeof u.action !== "string" || typeof u.text !== "string") {
    return undefined
  }
  const operator = u.operator
  if (operator !== undefined && typeof operator !== "string") return undefined
  return `{"atMillis":${u.atMillis}${operator === undefined ? "" : `,"operator":${JSON.stringify(operator)}`},"action":${JSON.stringify(
    u.action
  )},"text":${JSON.stringify(u.text)}}`
}

const fastNotesJson = (notes: ReadonlyArray<DLQ.Note>): string | undefined => {
  const u: unknown = notes
  if (!Array.isArray(u)) return undefined
  if (u.length === 0) return "[]"
  const parts: Array<string> = []
  for (const note of u) {
    const json = noteJson(note)
    if (json === undefined) return undefined
    parts.push(json)
  }
  return `[${parts.join(",")}]`
}

/**
 * The encoder of one store: its classification JSON kept by object, owned by the store.
 *
 * @internal
 */
export interface Encoder {
  /**
   * The failure's JSON, as `Schema.encode(Schema.parseJson(DeadLetterQueue.Failure))` writes it,
   * or the Schema's error.
   */
  readonly failureJson: (failure: DLQ.Failure) => Either.Either<string, ParseResult.ParseError>
  /**
   * The notes' JSON, as `Schema.encode(Schema.parseJson(Schema.Array(DeadLetterQueue.Note)))`
   * writes it, or the Schema's error.
   */
  readonly notesJson: (notes: ReadonlyArray<DLQ.Note>) => Either.Either<string, ParseResult.ParseError>
}

/** @internal */
export const makeEncoder = (): Encoder => {
  const classifications: Classifications = new WeakMap()
  return {
    failureJson: (failure) => {
      const fast = fastPath ? fastFailureJson(classifications, failure) : undefined
      return fast === undefined ? encodeFailureEither(failure) : Either.right(fast)
    },
    notesJson: (notes) => {
      const fast = fastPath ? fastNotesJson(notes) : undefined
      return fast === undefined ? encodeNotesEither(notes) : Either.right(fast)
    }
  }
}
