/**
 * Conformance suites for store implementations: every `DeadLetterQueueStore`, `CheckpointStore`,
 * `IdempotencyStore` and `AuditLogStore` (memory here, SQLite and PostgreSQL in `@effect-resilience/sql`, your own)
 * must pass them. Each one declares a `describe` block of `@effect/vitest` tests; call it at the
 * top level of a test file.
 *
 * This module imports `@effect/vitest` (an optional peer dependency of this package) and is not
 * re-exported from the package index: import it by its own path, from tests only.
 *
 * Each test builds the given Layer afresh, so a store Layer must build an empty store (a new temp
 * file, a new database) each time. Time is the `TestClock`'s: stores must read the `Clock`.
 *
 * @since 0.2.0
 */
import type * as Layer from "effect/Layer"
import type { AuditLogStore } from "./AuditLog.js"
import type { CheckpointStore } from "./Checkpoint.js"
import type { DeadLetterQueueStore } from "./DeadLetterQueue.js"
import type { IdempotencyStore } from "./Idempotency.js"
import * as auditLog from "./internal/suites/auditLog.js"
import * as checkpoint from "./internal/suites/checkpoint.js"
import * as deadLetterQueue from "./internal/suites/deadLetterQueue.js"
import * as idempotency from "./internal/suites/idempotency.js"

/**
 * Declares the dead letter queue store suite (`DeadLetterQueue on <name>`): the queue's rules
 * (claims, replays, leases, notes, filters, counts) run on the given store.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import * as StoreSuites from "@effect-resilience/durable/StoreSuites"
 *
 * StoreSuites.deadLetterQueueStore("memory", DeadLetterQueue.layerStoreMemory)
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const deadLetterQueueStore: (name: string, layer: Layer.Layer<DeadLetterQueueStore, unknown>) => void =
  deadLetterQueue.suite

/**
 * Declares the checkpoint store suite (`CheckpointStore on <name>`).
 *
 * @example
 * ```ts
 * import { Checkpoint } from "@effect-resilience/durable"
 * import * as StoreSuites from "@effect-resilience/durable/StoreSuites"
 *
 * StoreSuites.checkpointStore("memory", Checkpoint.layerStoreMemory)
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const checkpointStore: (name: string, layer: Layer.Layer<CheckpointStore, unknown>) => void = checkpoint.suite

/**
 * Declares the idempotency store suite (`IdempotencyStore on <name>`).
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import * as StoreSuites from "@effect-resilience/durable/StoreSuites"
 *
 * StoreSuites.idempotencyStore("memory", Idempotency.layerStoreMemory)
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const idempotencyStore: (name: string, layer: Layer.Layer<IdempotencyStore, unknown>) => void = idempotency.suite

/**
 * Declares the audit log store suite (`AuditLogStore on <name>`): entries as recorded, newest
 * first, pages, filters on actor, action, target and time, JSON before and after.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 * import * as StoreSuites from "@effect-resilience/durable/StoreSuites"
 *
 * StoreSuites.auditLogStore("memory", AuditLog.layerStoreMemory)
 * ```
 *
 * @since 0.3.0
 * @category testing
 */
export const auditLogStore: (name: string, layer: Layer.Layer<AuditLogStore, unknown>) => void = auditLog.suite
