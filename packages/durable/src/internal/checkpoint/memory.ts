import * as Effect from "effect/Effect"
import type * as Checkpoint from "../../Checkpoint.js"

type Store = Checkpoint.CheckpointStore["Type"]

/**
 * The state is owned by the service made here (one per call): batch id -> (item key -> outcome).
 * A `Map` keeps first-insertion order and `set` on an existing key keeps its position, which is
 * exactly the ordering contract of the store. Updates are synchronous, so they are atomic with
 * respect to other fibers.
 *
 * @internal
 */
export const makeMemory: Effect.Effect<Store> = Effect.sync((): Store => {
  const batches = new Map<string, Map<string, Checkpoint.Outcome>>()
  return {
    load: (batchId) =>
      Effect.sync(() =>
        Array.from(batches.get(batchId) ?? [], ([key, outcome]): Checkpoint.Entry => ({ key, outcome }))
      ),
    record: (batchId, entries) =>
      Effect.sync(() => {
        if (entries.length === 0) return
        let items = batches.get(batchId)
        if (items === undefined) {
          items = new Map()
          batches.set(batchId, items)
        }
        for (const entry of entries) items.set(entry.key, entry.outcome)
      }),
    clear: (batchId) =>
      Effect.sync(() => {
        batches.delete(batchId)
      })
  }
})
