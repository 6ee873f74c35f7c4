/**
 * A discrete-event simulation of Marc Brooker's contention experiment ("Exponential Backoff And
 * Jitter", AWS Architecture Blog, 2015), driven by our own `Backoff` schedules.
 *
 * One row is updated with optimistic concurrency by N clients that all start at time 0. A client
 * reads the row's version (one network hop), then sends a conditional write (one hop to arrive). The
 * write succeeds when the row's version is unchanged at arrival; otherwise the client asks its
 * backoff schedule for the next delay (stepping the `Schedule` itself, with the simulated time as
 * `now` and the seeded `Random` service), sleeps it, and starts over from the read. Each hop takes
 * |Normal(10 ms, 2 ms)|. Time is simulated: events are processed in time order from a priority
 * queue, nothing sleeps.
 */
import * as Backoff from "@effect-resilience/core/Backoff"
import * as Classification from "@effect-resilience/core/Classification"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import type * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Intervals from "effect/ScheduleIntervals"

/** The strategies of the published experiment. */
export const strategies = ["none", "exponential", "full", "equal", "decorrelated"] as const

/** @see strategies */
export type Strategy = (typeof strategies)[number]

/** The backoff schedule of a strategy, built from our `Backoff` module. */
export const scheduleFor = (
  strategy: Strategy,
  options: { readonly base: Duration.DurationInput; readonly cap: Duration.DurationInput }
): Schedule.Schedule<Duration.Duration> => {
  switch (strategy) {
    case "none":
      return Backoff.constant(0)
    case "exponential":
      return Backoff.exponential(options.base).pipe(Backoff.capped(options.cap))
    case "full":
      return Backoff.exponential(options.base).pipe(Backoff.capped(options.cap), Backoff.jitter("full"))
    case "equal":
      return Backoff.exponential(options.base).pipe(Backoff.capped(options.cap), Backoff.jitter("equal"))
    case "decorrelated":
      return Backoff.decorrelated(options)
  }
}

/** A small, fast, seedable PRNG (mulberry32) for the network, apart from the schedules' `Random`. */
export const makeRng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** |Normal(mean, sd)| by Box-Muller. */
const makeHop = (rng: () => number, mean: number, sd: number): (() => number) => {
  let spare: number | undefined
  return () => {
    let z: number
    if (spare !== undefined) {
      z = spare
      spare = undefined
    } else {
      const u = 1 - rng()
      const v = rng()
      const r = Math.sqrt(-2 * Math.log(u))
      z = r * Math.cos(2 * Math.PI * v)
      spare = r * Math.sin(2 * Math.PI * v)
    }
    return Math.abs(mean + sd * z)
  }
}

/**
 * A binary min-heap of pending events, ordered by time then by insertion (so that ties are
 * processed deterministically). Each client has at most one pending event, so the heap holds client
 * ids and the event's time, order and kind live in per-client arrays.
 */
class EventQueue {
  private readonly heap: Array<number> = []
  private readonly time: Float64Array
  private readonly seq: Float64Array
  private readonly kind: Uint8Array
  private nextSeq = 0

  constructor(clients: number) {
    this.time = new Float64Array(clients)
    this.seq = new Float64Array(clients)
    this.kind = new Uint8Array(clients)
  }

  get size(): number {
    return this.heap.length
  }

  timeOf(client: number): number {
    return this.time[client] ?? 0
  }

  kindOf(client: number): number {
    return this.kind[client] ?? 0
  }

  private less(a: number, b: number): boolean {
    const ta = this.time[a] ?? 0
    const tb = this.time[b] ?? 0
    return ta < tb || (ta === tb && (this.seq[a] ?? 0) < (this.seq[b] ?? 0))
  }

  push(time: number, client: number, kind: number): void {
    this.time[client] = time
    this.seq[client] = this.nextSeq++
    this.kind[client] = kind
    const heap = this.heap
    let i = heap.length
    heap.push(client)
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent] ?? 0
      if (!this.less(client, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = client
  }

  /** Removes the client whose event is the earliest and returns it. */
  pop(): number {
    const heap = this.heap
    const top = heap[0] ?? 0
    const last = heap.pop() ?? 0
    const n = heap.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const lc = heap[l] ?? 0
        const rc = heap[r] ?? 0
        const m = r < n && this.less(rc, lc) ? r : l
        const mc = heap[m] ?? 0
        if (!this.less(mc, last)) break
        heap[i] = mc
        i = m
      }
      heap[i] = last
    }
    return top
  }
}

const READ_ARRIVES = 0
const WRITE_ARRIVES = 1

/**
 * How many hops a round trip takes.
 *
 * - `"brooker"` (default), as the post's published simulator: every request and every reply is a
 *   hop. The read reaches the row after one hop (the version is read there), its reply and the
 *   conditional write take one hop each, the write's reply one more; a client that failed sleeps its
 *   backoff once the reply is back, then sends the next read.
 * - `"oneway"`: replies are free. The version is read one hop after the client starts its read,
 *   the write arrives one hop later, and a failed client sleeps from the write's arrival.
 */
export type Model = "brooker" | "oneway"

const conflict = Classification.make({
  category: "concurrency",
  code: "row.version-conflict",
  message: "The row changed since it was read"
})

/** What one trial measured. */
export interface TrialResult {
  /** Writes that reached the row (successful or not). */
  readonly calls: number
  /** When the last client's write succeeded (ms of simulated time). */
  readonly completionMs: number
  /** Clients whose write succeeded (all of them unless a schedule gave up). */
  readonly finished: number
  /** Clients whose schedule stopped recurring before their write succeeded. */
  readonly gaveUp: number
}

/**
 * Runs one trial. The schedule's randomness comes from the `Random` service (seed it with
 * `Effect.withRandom(Random.make(seed))`), the network's from `networkSeed`.
 */
export const simulate = (options: {
  readonly clients: number
  readonly schedule: Schedule.Schedule<unknown, Backoff.RetryInput<string>>
  readonly networkSeed: number
  readonly hopMeanMs?: number
  readonly hopSdMs?: number
  readonly model?: Model
}): Effect.Effect<TrialResult> =>
  Effect.gen(function* () {
    const { clients, schedule } = options
    const hop = makeHop(makeRng(options.networkSeed), options.hopMeanMs ?? 10, options.hopSdMs ?? 2)
    // the reply hop, free in the one-way model
    const reply = (options.model ?? "brooker") === "brooker" ? hop : () => 0
    const queue = new EventQueue(clients)
    const states: Array<unknown> = []
    const readVersion: Array<number> = []
    const attempts: Array<number> = []
    for (let c = 0; c < clients; c++) {
      states.push(schedule.initial)
      readVersion.push(-1)
      attempts.push(0)
      queue.push(hop(), c, READ_ARRIVES)
    }
    let version = 0
    let calls = 0
    let finished = 0
    let gaveUp = 0
    let completionMs = 0
    while (queue.size > 0) {
      const c = queue.pop()
      const now = queue.timeOf(c)
      const kind = queue.kindOf(c)
      if (kind === READ_ARRIVES) {
        // the row answers with its version; the reply comes back, the conditional write goes out
        readVersion[c] = version
        queue.push(now + reply() + hop(), c, WRITE_ARRIVES)
        continue
      }
      calls++
      const attempt = (attempts[c] ?? 0) + 1
      attempts[c] = attempt
      if (readVersion[c] === version) {
        version++
        finished++
        completionMs = Math.max(completionMs, now + reply())
        continue
      }
      // the client learns of the conflict when the reply is back, and asks its schedule
      const learnedAt = now + reply()
      const input: Backoff.RetryInput<string> = { error: "conflict", classification: conflict, attempt }
      const [state, , decision] = yield* schedule.step(learnedAt, input, states[c])
      states[c] = state
      if (ScheduleDecision.isDone(decision)) {
        gaveUp++
        continue
      }
      const wakeAt = Math.max(learnedAt, Intervals.start(decision.intervals))
      queue.push(wakeAt + hop(), c, READ_ARRIVES)
    }
    return { calls, completionMs, finished, gaveUp }
  })

/** A 32-bit mix of several integers, to derive independent seeds per point and trial. */
export const mixSeed = (...parts: ReadonlyArray<number>): number => {
  let h = 0x9e3779b9
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
  }
  return h >>> 0
}

/** One row of the results: means over the trials. */
export interface Row {
  readonly strategy: Strategy
  readonly clients: number
  readonly calls: number
  readonly completionMs: number
}

/**
 * Runs `trials` trials of one point (strategy, clients) and averages them. Trial `t` uses the same
 * network randomness for every strategy (common random numbers), and its own seeded `Random` for
 * the schedule.
 */
export const runPoint = (options: {
  readonly strategy: Strategy
  readonly clients: number
  readonly trials: number
  readonly seed: number
  readonly base: Duration.DurationInput
  readonly cap: Duration.DurationInput
  readonly model?: Model
}): Row => {
  const schedule = scheduleFor(options.strategy, options)
  let calls = 0
  let completionMs = 0
  for (let t = 0; t < options.trials; t++) {
    const result = Effect.runSync(
      simulate({
        clients: options.clients,
        schedule,
        networkSeed: mixSeed(options.seed, options.clients, t),
        model: options.model ?? "brooker"
      }).pipe(
        Effect.withRandom(Random.make(mixSeed(options.seed, options.clients, t, strategies.indexOf(options.strategy))))
      )
    )
    if (result.finished !== options.clients) {
      throw new Error(`${options.strategy} with ${options.clients} clients: ${result.gaveUp} clients gave up`)
    }
    calls += result.calls
    completionMs += result.completionMs
  }
  return {
    strategy: options.strategy,
    clients: options.clients,
    calls: calls / options.trials,
    completionMs: completionMs / options.trials
  }
}
