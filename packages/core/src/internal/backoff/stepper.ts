/**
 * Backoffs stepped without Effect: the schedules of `Backoff` that draw no random number
 * (exponential, fibonacci, linear, constant; capped; bounded in elapsed time) as plain functions of
 * the time. Each such Effect `Schedule` is registered with its stepper (`internal/backoff/schedule.ts`),
 * so that a retry loop steps it without running an Effect, the same way in the Effect runtime and
 * outside it. A schedule that draws random numbers (jitter, decorrelated) or that a user wrote has
 * no stepper and is stepped as an Effect.
 *
 * The arithmetic is the schedules' own: a step returns when the next attempt starts (epoch ms,
 * `now + delay`), as a schedule's decision does, and the caller reads the delay back as
 * `start - now`; so both give the same milliseconds to the last bit.
 *
 * Plain TypeScript that imports nothing from `effect`.
 *
 * @internal
 */
import { exceedsElapsed } from "./core.js"

/** One call's walk through a backoff: it keeps the state of the steps made so far. */
export interface Cursor {
  /**
   * The step at `nowMillis`: when the next attempt starts (epoch ms), or `undefined` when the
   * backoff is done (then the cursor must not be stepped again).
   */
  readonly next: (nowMillis: number) => number | undefined
}

/** A backoff without Effect: makes one cursor per call. */
export interface Stepper {
  readonly start: () => Cursor
}

class Unfold<S> implements Cursor {
  constructor(
    private state: S,
    private readonly step: (state: S) => readonly [S, number]
  ) {}
  next(nowMillis: number): number {
    const [state, millis] = this.step(this.state)
    this.state = state
    return nowMillis + millis
  }
}

/** Delays computed from a state (what `unfoldDelays` makes a schedule of): never done. */
export const unfold = <S>(initial: S, step: (state: S) => readonly [S, number]): Stepper => ({
  start: () => new Unfold(initial, step)
})

class Capped implements Cursor {
  constructor(
    private readonly inner: Cursor,
    private readonly capMillis: number
  ) {}
  next(nowMillis: number): number | undefined {
    const start = this.inner.next(nowMillis)
    if (start === undefined || Math.max(0, start - nowMillis) <= this.capMillis) return start
    return nowMillis + this.capMillis
  }
}

/** A backoff whose delays are never longer than `capMillis` (as `Backoff.capped`). */
export const capped = (inner: Stepper, capMillis: number): Stepper => ({
  start: () => new Capped(inner.start(), capMillis)
})

class MaxElapsed implements Cursor {
  private first: number | undefined = undefined
  constructor(
    private readonly inner: Cursor,
    private readonly limitMillis: number
  ) {}
  next(nowMillis: number): number | undefined {
    const first = this.first ?? nowMillis
    const start = this.inner.next(nowMillis)
    if (start === undefined || exceedsElapsed(first, start, this.limitMillis)) return undefined
    this.first = first
    return start
  }
}

/**
 * A backoff that is done once the next attempt would start more than `limitMillis` after its
 * first step (as `Backoff.maxElapsed`).
 */
export const maxElapsed = (inner: Stepper, limitMillis: number): Stepper => ({
  start: () => new MaxElapsed(inner.start(), limitMillis)
})
