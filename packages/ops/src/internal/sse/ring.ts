/**
 * The decision core of the server-sent event feeds: a bounded ring of the latest events, numbered
 * from 1, and what a client that reconnects with a `Last-Event-ID` gets from it. Plain TypeScript
 * (no Effect), so that its rules are property-tested on their own.
 *
 * An event id is `<epoch>-<sequence>`: the epoch names one life of one feed (a restarted server has
 * a new one), so an id from another life is never mistaken for one of this life.
 *
 * @internal
 */

/** One event of the ring. @internal */
export interface Item<A> {
  readonly seq: number
  readonly value: A
}

/** The events after a sequence number, or why they cannot be given. @internal */
export type Since<A> =
  | { readonly _tag: "Replay"; readonly items: ReadonlyArray<Item<A>> }
  | { readonly _tag: "Gap"; readonly reason: "too-old" | "unknown-id" }

/**
 * The latest `capacity` events. `last` is the sequence number of the newest (0 while empty).
 *
 * @internal
 */
export class Ring<A> {
  private readonly slots: Array<Item<A> | undefined>
  private next = 1

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("a ring holds at least one event")
    this.slots = new Array<Item<A> | undefined>(capacity)
  }

  /** The sequence number of the newest event, 0 while empty. */
  get last(): number {
    return this.next - 1
  }

  /** The sequence number of the oldest event held (`last + 1` while empty). */
  get first(): number {
    return Math.max(1, this.next - this.capacity)
  }

  append(value: A): Item<A> {
    const item: Item<A> = { seq: this.next, value }
    this.slots[(this.next - 1) % this.capacity] = item
    this.next += 1
    return item
  }

  /**
   * The events after `seq`, oldest first: every one of them when the ring still holds the one
   * right after `seq`; a gap (`too-old`) when some were dropped; `unknown-id` for a number this
   * ring never gave.
   */
  since(seq: number): Since<A> {
    if (!Number.isInteger(seq) || seq < 0 || seq > this.last) return { _tag: "Gap", reason: "unknown-id" }
    if (seq < this.first - 1) return { _tag: "Gap", reason: "too-old" }
    const items: Array<Item<A>> = []
    for (let s = seq + 1; s <= this.last; s++) {
      const item = this.slots[(s - 1) % this.capacity]
      if (item !== undefined) items.push(item)
    }
    return { _tag: "Replay", items }
  }
}

/** The id of an event: `<epoch>-<seq>`. @internal */
export const formatId = (epoch: string, seq: number): string => `${epoch}-${seq}`

const idPattern = /^([0-9a-z]{1,32})-(0|[1-9][0-9]{0,14})$/

/** The sequence number an id names in `epoch`, or undefined (malformed, or of another epoch). @internal */
export const parseId = (epoch: string, id: string): number | undefined => {
  const match = idPattern.exec(id)
  if (match === null || match[1] !== epoch) return undefined
  return Number(match[2])
}

/**
 * Where a new connection starts:
 *
 * - `Fresh` (no `Last-Event-ID`): a snapshot, then events after `cursor`.
 * - `Resume`: the events the client missed (`items`), then events after `cursor`.
 * - `Reset`: the id cannot be resumed from (`too-old`: events were dropped since; `unknown-id`:
 *   another life of the feed, or not an id of ours): a snapshot saying so, then events after `cursor`.
 *
 * @internal
 */
export type Start<A> =
  | { readonly _tag: "Fresh"; readonly cursor: number }
  | { readonly _tag: "Resume"; readonly items: ReadonlyArray<Item<A>>; readonly cursor: number }
  | { readonly _tag: "Reset"; readonly reason: "too-old" | "unknown-id"; readonly cursor: number }

/** @internal */
export const start = <A>(ring: Ring<A>, epoch: string, lastEventId: string | undefined): Start<A> => {
  if (lastEventId === undefined || lastEventId.trim() === "") return { _tag: "Fresh", cursor: ring.last }
  const seq = parseId(epoch, lastEventId.trim())
  if (seq === undefined) return { _tag: "Reset", reason: "unknown-id", cursor: ring.last }
  const since = ring.since(seq)
  return since._tag === "Gap"
    ? { _tag: "Reset", reason: since.reason, cursor: ring.last }
    : { _tag: "Resume", items: since.items, cursor: since.items.at(-1)?.seq ?? seq }
}
