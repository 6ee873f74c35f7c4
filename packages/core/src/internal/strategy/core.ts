/**
 * The strategy interface's decision core: plain TypeScript that imports nothing from `effect`, so
 * that the Effect binding, the Promise facade and a later Effect 4 binding share it.
 *
 * An admission strategy (breaker, rate limiter, adaptive throttle, adaptive concurrency, bulkhead,
 * or one of a user's) decides synchronously, on the hot path, whether an attempt may start:
 *
 * - `Admitted`: it may; the ticket is settled exactly once when the attempt ends (success, a
 *   classified failure, or neutral: interrupted, cancelled, or never run because a later strategy
 *   refused it).
 * - `Rejected`: it may not; the data says why (the binding turns it into a typed error).
 * - `Wait`: it may after a wait (a reserved rate-limit token, a place in a bulkhead's queue);
 *   `start` begins the wait on the timers it is given and calls `done` exactly once, unless the
 *   wait is cancelled first.
 *
 * @internal
 */

/** What a decision core reads of a failure's Classification (a `Classification` satisfies it). */
export interface ClassificationView {
  readonly category: string
  readonly retryable: boolean
  readonly countsForBreaker: boolean
}

/** How an admitted attempt ended. */
export type Outcome =
  | { readonly _tag: "Success" }
  | { readonly _tag: "Failure"; readonly classification: ClassificationView }
  | { readonly _tag: "Neutral" }

/** The outcome of a successful attempt (shared: outcomes carry no per-call data but failures). */
export const success: Outcome = { _tag: "Success" }

/** The outcome of an attempt that was interrupted, cancelled, or never ran. */
export const neutral: Outcome = { _tag: "Neutral" }

/** A failure's outcome. */
export const failure = (classification: ClassificationView): Outcome => ({ _tag: "Failure", classification })

/** Permission to run one attempt, to be settled exactly once. */
export interface Admitted {
  readonly _tag: "Admitted"
  readonly settle: (outcome: Outcome, durationMillis: number, nowMillis: number) => void
  /**
   * True when settling this ticket neutral does nothing (it holds no slot, no probe, no token):
   * an attempt holding only such tickets need not be told of an interruption, which spares the
   * binding an uninterruptible region per attempt.
   */
  readonly holdsNothing?: boolean | undefined
}

/** A refusal: `reason` is short and stable (`open`, `full`, `exceeded`, `queue-timeout`, ...). */
export interface Rejected {
  readonly _tag: "Rejected"
  readonly reason: string
  /** When it is worth asking again, if the strategy knows (0 when it does not). */
  readonly retryAfterMillis: number
}

/** Timers on the caller's clock (a `TestClock` in tests). `arm` returns the timer's canceller. */
export interface Timers {
  readonly now: () => number
  readonly arm: (millis: number, onFire: () => void) => () => void
}

/**
 * A timer in a {@link liveTimers} queue; `fire` is cleared once it fired or was cancelled. A class,
 * not an object literal, so that V8 never pretenures the entries (one per attempt, short-lived).
 */
class QueuedTimer {
  constructor(
    readonly at: number,
    public fire: (() => void) | undefined
  ) {}
}

/**
 * Timers on the live clock. A pipeline arms one timer per attempt, nearly always of the same
 * duration, and cancels it a moment later: a Node timer each time (`setTimeout` + `clearTimeout`)
 * costs about as much as the whole bare call. So timers that fall due in the order they are armed
 * wait in one queue behind ONE Node timer, set for the earliest; cancelling is marking the entry.
 * A timer due before the last one queued (a shorter duration) gets a Node timer of its own.
 *
 * The Node timer keeps the process alive only while a queued timer is live (it is unref'd when
 * the last is cancelled), as separate timers would. Entries are never early: when the Node timer
 * fires before an entry's time on `now`, it is set again. Cancelled entries are dropped from the
 * front at once and compacted when they outnumber the live ones.
 */
export const liveTimers = (now: () => number): Timers => {
  let queue: Array<QueuedTimer> = []
  let head = 0
  let live = 0
  let handle: ReturnType<typeof setTimeout> | undefined
  let reffed = false
  const drop = () => {
    while (head < queue.length && (queue[head] as QueuedTimer).fire === undefined) head++
    if (head === queue.length) {
      queue.length = 0
      head = 0
    } else if (head > 1024 && (queue.length - head - live > live || head * 2 > queue.length)) {
      queue = queue.slice(head).filter((t) => t.fire !== undefined)
      head = 0
    }
  }
  const schedule = () => {
    if (head === queue.length) return
    handle = setTimeout(onTimer, Math.max(1, (queue[head] as QueuedTimer).at - now()))
    reffed = live > 0
    if (!reffed) handle.unref()
  }
  const onTimer = () => {
    handle = undefined
    const t = now()
    while (head < queue.length) {
      const entry = queue[head] as QueuedTimer
      const fire = entry.fire
      if (fire !== undefined && entry.at > t) break
      // past the entry before it runs: what it does may arm or cancel timers
      head++
      if (fire !== undefined) {
        entry.fire = undefined
        live -= 1
        fire()
      }
    }
    drop()
    // a timer armed by what fired may have set the Node timer already
    if (handle === undefined) schedule()
  }
  return {
    now,
    arm: (millis, onFire) => {
      const at = now() + millis
      const last = queue.length > head ? (queue[queue.length - 1] as QueuedTimer).at : -Infinity
      if (at < last) {
        const own = setTimeout(onFire, millis)
        return () => clearTimeout(own)
      }
      const entry = new QueuedTimer(at, onFire)
      queue.push(entry)
      live += 1
      if (handle === undefined) schedule()
      else if (!reffed) {
        handle.ref()
        reffed = true
      }
      return () => {
        if (entry.fire === undefined) return
        entry.fire = undefined
        live -= 1
        drop()
        if (live === 0 && reffed && handle !== undefined) {
          handle.unref()
          reffed = false
        }
      }
    }
  }
}

/** Admission after a wait. */
export interface Wait {
  readonly _tag: "Wait"
  /**
   * Starts waiting. `maxWaitMillis` is what the call's deadline leaves (undefined: no deadline).
   * Calls `done` exactly once with the admission or a refusal, unless the returned canceller runs
   * first (then `done` is never called and nothing is held).
   */
  readonly start: (
    timers: Timers,
    maxWaitMillis: number | undefined,
    done: (decision: Admitted | Rejected) => void
  ) => () => void
}

/** A strategy's decision. */
export type Decision = Admitted | Rejected | Wait

/** An admission strategy, as the pipeline walks it. */
export interface AdmissionStrategy {
  /** The kind of strategy: `breaker`, `rate-limit`, `adaptive-throttle`, `adaptive-concurrency`, `bulkhead`, ... */
  readonly component: string
  /** The instance's name (shared instances share it). */
  readonly name: string
  /** Decides synchronously. `random` returns a number in [0, 1) from the caller's seeded source. */
  readonly admit: (nowMillis: number, random: () => number) => Decision
  /** The state a trace should show transitions of (a breaker's `closed`/`open`/...), if it has one. */
  readonly stateAt?: ((nowMillis: number) => string) | undefined
}

/** An admission that holds nothing (for strategies with nothing to give back). */
export const admittedFree: Admitted = { _tag: "Admitted", settle: () => {}, holdsNothing: true }

/**
 * Where a walk through a list of strategies stopped: a refusal, or a wait, at `index`. A walk
 * that did not stop is the array of tickets itself (no wrapper to allocate on the hot path).
 */
export type Stop =
  | { readonly _tag: "Rejected"; readonly index: number; readonly rejected: Rejected }
  | { readonly _tag: "Wait"; readonly index: number; readonly wait: Wait; readonly tickets: Array<Admitted> }

/** Walking a list of strategies: every ticket when all admitted, else where it stopped. */
export type Walk = ReadonlyArray<Admitted> | Stop

/** Whether a walk admitted everything. */
export const isAdmitted = (walk: Walk): walk is ReadonlyArray<Admitted> => Array.isArray(walk)

const noTickets: ReadonlyArray<Admitted> = []

/**
 * Asks the strategies from `from` on, in order, adding to `tickets`. On a refusal the tickets
 * already held are settled neutral (a half-open probe slot or a bulkhead place is never kept by a
 * call that does not run).
 */
export const walk = (
  strategies: ReadonlyArray<AdmissionStrategy>,
  from: number,
  tickets: Array<Admitted> | undefined,
  nowMillis: number,
  random: () => number
): Walk => {
  let held = tickets
  for (let i = from; i < strategies.length; i++) {
    const decision = (strategies[i] as AdmissionStrategy).admit(nowMillis, random)
    switch (decision._tag) {
      case "Admitted": {
        // one element from the start, not `[]` then push (the empty array grows a backing store on
        // the first push); and `Array.of`, not a literal `[decision]`: V8 pretenures a literal's
        // allocation site once a few of its arrays survived a scavenge, and then every call's
        // array is allocated in the old generation (about a third of a call, measured)
        if (held === undefined) held = Array.of(decision)
        else held.push(decision)
        break
      }
      case "Rejected": {
        if (held !== undefined) release(held, nowMillis)
        return { _tag: "Rejected", index: i, rejected: decision }
      }
      case "Wait": {
        return { _tag: "Wait", index: i, wait: decision, tickets: held ?? [] }
      }
    }
  }
  return held ?? noTickets
}

/** Settles every ticket with one outcome, innermost first. */
export const settleAll = (
  tickets: ReadonlyArray<Admitted>,
  outcome: Outcome,
  durationMillis: number,
  nowMillis: number
): void => {
  for (let i = tickets.length - 1; i >= 0; i--) (tickets[i] as Admitted).settle(outcome, durationMillis, nowMillis)
}

/** Gives every ticket back (neutral). */
export const release = (tickets: ReadonlyArray<Admitted>, nowMillis: number): void =>
  settleAll(tickets, neutral, 0, nowMillis)

/**
 * A small seeded pseudo-random source (mulberry32), for decision cores that need a number in
 * [0, 1) synchronously. The Effect binding seeds it from Effect's `Random`, so a seeded test is
 * deterministic.
 */
export const seededRandom = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
