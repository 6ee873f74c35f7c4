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
  /**
   * For a ticket shared by many calls (a closed breaker's): an array holding this ticket alone,
   * made once, which a walk admitted by this ticket alone returns instead of making an array
   * per call. Never mutated.
   */
  readonly alone?: ReadonlyArray<Admitted> | undefined
}

/** A refusal: `reason` is short and stable (`open`, `full`, `exceeded`, `queue-timeout`, ...). */
export interface Rejected {
  readonly _tag: "Rejected"
  readonly reason: string
  /** When it is worth asking again, if the strategy knows (0 when it does not). */
  readonly retryAfterMillis: number
}

/**
 * Timers on the caller's clock (a `TestClock` in tests). `arm` returns the timer's canceller;
 * `nowMillis`, when given, is the time on `now` the caller just read (it spares a clock read).
 */
export interface Timers {
  readonly now: () => number
  readonly arm: (millis: number, onFire: () => void, nowMillis?: number) => () => void
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
      // popped, not `queue.length = 0` (a call into the runtime, on every call of a pipeline):
      // every entry is popped once, and it is nearly always one
      while (queue.length > 0) queue.pop()
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
    arm: (millis, onFire, nowMillis) => {
      const at = (nowMillis ?? now()) + millis
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

/** A ticket shared by many calls, with its {@link Admitted.alone} array. */
export const shared = <T extends Admitted>(ticket: T): T => {
  const alone: Array<Admitted> = []
  const withAlone: T = { ...ticket, alone }
  alone.push(withAlone)
  return withAlone
}

/** An admission that holds nothing (for strategies with nothing to give back). */
export const admittedFree: Admitted = shared({ _tag: "Admitted", settle: () => {}, holdsNothing: true })

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
  // the first ticket, while it is the only one (no array is made for it yet)
  let first: Admitted | undefined
  for (let i = from; i < strategies.length; i++) {
    const decision = (strategies[i] as AdmissionStrategy).admit(nowMillis, random)
    switch (decision._tag) {
      case "Admitted": {
        // arrays by `Array.of`, not literals: V8 pretenures a literal's allocation site once a
        // few of its arrays survived a scavenge, and then every call's array is allocated in the
        // old generation (about a third of a call, measured); nor `[]` then push, which grows a
        // backing store on the first push
        if (held !== undefined) held.push(decision)
        else if (first === undefined) first = decision
        else held = Array.of(first, decision)
        break
      }
      case "Rejected": {
        if (held !== undefined) release(held, nowMillis)
        else if (first !== undefined) first.settle(neutral, 0, nowMillis)
        return { _tag: "Rejected", index: i, rejected: decision }
      }
      case "Wait": {
        const waiting: Array<Admitted> = held ?? (first === undefined ? [] : Array.of(first))
        return { _tag: "Wait", index: i, wait: decision, tickets: waiting }
      }
    }
  }
  if (held !== undefined) return held
  if (first === undefined) return noTickets
  return first.alone ?? Array.of(first)
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
