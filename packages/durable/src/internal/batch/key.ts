/**
 * The values `Batch` and its runner share, kept here so that values flow one way (the public
 * module imports this file, never the reverse).
 *
 * @internal
 */
import * as Schema from "effect/Schema"

/** @internal */
export class DuplicateItemKey extends Schema.TaggedError<DuplicateItemKey>()("DuplicateItemKey", {
  batchId: Schema.String,
  key: Schema.String
}) {
  override get message(): string {
    return `Batch "${this.batchId}" has more than one item with the key "${this.key}"`
  }
}

/** @internal */
export const idempotencyKey = (batchId: string, key: string): string => `${batchId}/${key}`
