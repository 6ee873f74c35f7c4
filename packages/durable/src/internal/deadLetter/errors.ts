/**
 * The values the dead letter queue's public module and its implementation share: the status
 * schema, the review categories and the errors. They live here so that values flow one way
 * (the public module imports this file, never the reverse).
 *
 * @internal
 */
import type { Category } from "@effect-resilience/core/Classification"
import * as Schema from "effect/Schema"

/** @internal */
export const Status = Schema.Literal("pending", "replaying", "resolved", "discarded")

/** @internal */
export const manualReviewCategories: ReadonlyArray<Category> = ["validation", "authentication", "business"]

/** @internal */
export class DeadLetterStoreError extends Schema.TaggedError<DeadLetterStoreError>()("DeadLetterStoreError", {
  reason: Schema.Literal("unavailable", "corrupt", "foreign", "conflict", "failed"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** @internal */
export class EntryNotFound extends Schema.TaggedError<EntryNotFound>()("EntryNotFound", { id: Schema.String }) {
  override get message(): string {
    return `No dead letter has the id "${this.id}"`
  }
}

/** @internal */
export class InvalidStatus extends Schema.TaggedError<InvalidStatus>()("InvalidStatus", {
  id: Schema.String,
  status: Status,
  operation: Schema.String
}) {
  override get message(): string {
    return `Dead letter "${this.id}" is ${this.status}: cannot ${this.operation} it`
  }
}

/** @internal */
export class InvalidPayload extends Schema.TaggedError<InvalidPayload>()("InvalidPayload", {
  id: Schema.String,
  issues: Schema.Array(
    Schema.Struct({ path: Schema.Array(Schema.Union(Schema.String, Schema.Number)), message: Schema.String })
  ),
  message: Schema.String
}) {}
