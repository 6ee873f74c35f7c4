import type { Entry, Filter, Page } from "../../DeadLetterQueue.js"

/** @internal */
const isArray = <A>(value: A | ReadonlyArray<A>): value is ReadonlyArray<A> => Array.isArray(value)

/** @internal */
export const toArray = <A>(value: A | ReadonlyArray<A> | undefined): ReadonlyArray<A> | undefined =>
  value === undefined ? undefined : isArray(value) ? value : [value]

/** @internal */
export const matches = (filter: Filter, entry: Entry): boolean => {
  if (filter.ids !== undefined && !filter.ids.includes(entry.id)) return false
  if (filter.queue !== undefined && entry.queue !== filter.queue) return false
  const categories = toArray(filter.category)
  if (categories !== undefined && !categories.includes(entry.failure.classification.category)) return false
  const statuses = toArray(filter.status)
  if (statuses !== undefined && !statuses.includes(entry.status)) return false
  if (filter.fromMillis !== undefined && entry.createdAtMillis < filter.fromMillis) return false
  if (filter.toMillis !== undefined && entry.createdAtMillis >= filter.toMillis) return false
  return true
}

/** Oldest first, then by id. @internal */
export const compare = (a: Entry, b: Entry): number =>
  a.createdAtMillis - b.createdAtMillis || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** @internal */
export const defaultLimit = 50

/** @internal */
export const maxLimit = 10_000

/** @internal */
export const normalizePage = (page: Partial<Page> | undefined): Page => ({
  limit: Math.min(maxLimit, Math.max(0, Math.floor(page?.limit ?? defaultLimit))),
  offset: Math.max(0, Math.floor(page?.offset ?? 0))
})
