/**
 * The circuit breaker's decision core: the state machine (closed, open, half-open and the manual
 * modes), tripping on the evidence its store keeps, half-open probes and the open-duration
 * backoff. Plain synchronous TypeScript that imports nothing from `effect`: time is a number of
 * milliseconds passed in, durations are numbers of milliseconds, the open duration after `n`
 * re-openings is a plain function.
 *
 * All state is per instance. JavaScript runs one piece of code at a time, so each method is atomic
 * with respect to other fibers or promises: the half-open probe limit is a plain counter.
 *
 * @internal
 */
import { type Admitted, type Outcome, type Rejected as StrategyRejected, shared } from "../strategy/core.js"

/** The state a breaker reports: a manual mode wins over the automatic state. */
export type BreakerState = "closed" | "open" | "half-open" | "forced-open" | "disabled" | "metrics-only"

/** `normal` is automatic (closed / open / half-open). */
export type Mode = "normal" | "forced-open" | "disabled" | "metrics-only"

/** Why a breaker moved. */
export type TransitionReason =
  | "consecutive-failures"
  | "failure-rate"
  | "slow-call-rate"
  | "open-duration-elapsed"
  | "probe-failed"
  | "probe-slow"
  | "success-threshold"
  | "manual"
  | "reset"
  | "fleet-evidence"
  | "fleet"

/** One state change. */
export interface Transition {
  readonly breaker: string
  readonly from: BreakerState
  readonly to: BreakerState
  readonly atMillis: number
  readonly reason: TransitionReason
}

/** A tripping policy in numbers. `slowCallMillis` / `slowCallRateThreshold` are `Infinity` when slow calls are not tracked. */
export type Policy =
  | { readonly _tag: "ConsecutiveFailures"; readonly threshold: number }
  | {
      readonly _tag: "CountWindow"
      readonly size: number
      readonly minimumCalls: number
      readonly failureRateThreshold: number
      readonly slowCallMillis: number
      readonly slowCallRateThreshold: number
    }
  | {
      readonly _tag: "TimeWindow"
      readonly windowMillis: number
      readonly buckets: number
      readonly minimumCalls: number
      readonly failureRateThreshold: number
      readonly slowCallMillis: number
      readonly slowCallRateThreshold: number
    }

/** A breaker's settings, in numbers. */
export interface Settings {
  readonly name: string
  readonly policy: Policy
  /** The open duration (ms) after `reopenings` consecutive re-openings (0 the first time). */
  readonly openDurationFor: (reopenings: number) => number
  readonly maxProbes: number
  readonly successThreshold: number
  readonly mode: Mode
}

/** An outcome as the evidence store sees it. */
export type RecordedOutcome = "success" | "failure" | "slow-success" | "slow-failure"

/** The evidence in a breaker's window. */
export interface Evidence {
  readonly calls: number
  readonly failures: number
  readonly slowCalls: number
  readonly consecutiveFailures: number
}

/** A transition, with the end of the open period when it opened. */
export interface StoreDecision {
  readonly transition: Transition
  readonly openUntilMillis: number | undefined
  readonly reopenings: number
}

/**
 * A decision taken elsewhere (another process of a fleet) that a store applies to this breaker:
 * open for `remainingMillis` more with `reopenings` re-openings behind it, forced open, or closed.
 */
export type FleetDecision =
  | { readonly _tag: "Open"; readonly remainingMillis: number; readonly reopenings: number }
  | { readonly _tag: "ForcedOpen" }
  | { readonly _tag: "Closed" }

/**
 * What a store may do with the breaker it serves, handed to `EvidenceStore.connect` once, when the
 * breaker is made. Every method is synchronous; a store calls them from its background work.
 */
export interface BreakerControl {
  readonly name: string
  readonly policy: Policy
  /** The reason the breaker's policy opens on `evidence` (pooled evidence, say), or `undefined`. */
  readonly trips: (evidence: Evidence) => TransitionReason | undefined
  /** Opens a closed breaker (normal mode) on the fleet's evidence (reason `fleet-evidence`); whether it opened. */
  readonly openOnFleetEvidence: (nowMillis: number) => boolean
  /** Applies a decision taken elsewhere (reason `fleet`); the store hears it back through `decide`. */
  readonly apply: (decision: FleetDecision, nowMillis: number) => void
  /** The state at `nowMillis` (moves open -> half-open when due). */
  readonly stateAt: (nowMillis: number) => BreakerState
}

/** Where one breaker's evidence lives (synchronous: `record` runs on every call). Methods: call them on the store. */
export interface EvidenceStore {
  /** Folds an outcome at `atMillis` into the window; returns the evidence now. */
  record(outcome: RecordedOutcome, atMillis: number): Evidence
  /** The evidence at `atMillis` (a time window drops expired buckets). */
  evidence(atMillis: number): Evidence
  /** Forgets all evidence (the breaker closed or was reset). */
  clear(atMillis: number): void
  /** Told of every transition. */
  decide(decision: StoreDecision): void
  /** Optional: called once, when the breaker is made, with what the store may do to it. */
  connect?(control: BreakerControl): void
  /**
   * Optional: asked before a half-open probe is admitted (never on the closed path). `0` lets the
   * probe go; a positive number refuses it, to ask again after that many milliseconds (another
   * process of the fleet holds the probe).
   */
  probeGate?(nowMillis: number): number
}

/** The reason `policy` opens on `evidence`, or `undefined` when it stays closed. */
export const tripReason = (policy: Policy, evidence: Evidence): TransitionReason | undefined => {
  if (policy._tag === "ConsecutiveFailures") {
    return evidence.consecutiveFailures >= policy.threshold ? "consecutive-failures" : undefined
  }
  const calls = evidence.calls
  if (calls === 0 || calls < policy.minimumCalls) return undefined
  if (evidence.failures / calls >= policy.failureRateThreshold) return "failure-rate"
  if (evidence.slowCalls / calls >= policy.slowCallRateThreshold) return "slow-call-rate"
  return undefined
}

/** Why a call was refused: the breaker's state. */
export type RejectReason = "open" | "half-open" | "forced-open"

/**
 * A refusal: open (`retryAfterMillis` until a probe may go), half-open with every probe slot
 * taken (0: ask again when a probe settles), or forced open (`Infinity`).
 */
export interface Rejected extends StrategyRejected {
  readonly reason: RejectReason
}

/** An admission; `probe` says whether it holds a half-open probe slot. */
export interface Ticket extends Admitted {
  readonly probe: boolean
}

/** What a health check or a dashboard shows. */
export interface Snapshot {
  readonly name: string
  readonly state: BreakerState
  readonly policy: Policy["_tag"]
  readonly calls: number
  readonly failures: number
  readonly slowCalls: number
  readonly consecutiveFailures: number
  readonly failureRate: number
  readonly slowCallRate: number
  readonly probesInFlight: number
  readonly probeSuccesses: number
  readonly reopenings: number
  readonly openUntilMillis?: number
  readonly retryAfterMillis?: number
  readonly lastTransitionAtMillis: number
}

const bypass: Ticket = shared({ _tag: "Admitted", probe: false, settle: () => {} })
const halfOpenFull: Rejected = { _tag: "Rejected", reason: "half-open", retryAfterMillis: 0 }
const forcedOpen: Rejected = { _tag: "Rejected", reason: "forced-open", retryAfterMillis: Number.POSITIVE_INFINITY }

/**
 * One circuit breaker.
 *
 * Allocation: while closed, `admit` returns one ticket shared by every call of the closed period
 * and settling it folds the outcome into the store's counters (no allocation either way). A
 * probe allocates its ticket (it holds a slot, released once); an `open` refusal allocates its
 * data (the time left differs per call); a half-open or forced-open refusal is shared.
 */
export class Breaker {
  private mode: Mode
  private state: "closed" | "open" | "half-open" = "closed"
  /** Bumped on every transition and mode change: tickets of an older epoch are stale. */
  private epoch = 0
  private closedTicket: Ticket
  private metricsTicket: Ticket
  private openUntil = 0
  private reopenings = 0
  private probesInFlight = 0
  private probeSuccesses = 0
  private lastTransitionAt: number
  private readonly slowMillis: number

  constructor(
    readonly settings: Settings,
    private readonly store: EvidenceStore,
    private readonly onTransition: (transition: Transition) => void,
    nowMillis: number
  ) {
    this.mode = settings.mode
    this.slowMillis =
      settings.policy._tag === "ConsecutiveFailures" ? Number.POSITIVE_INFINITY : settings.policy.slowCallMillis
    this.lastTransitionAt = nowMillis
    this.closedTicket = this.closedTicketFor(0)
    this.metricsTicket = this.metricsTicketFor(0)
    const policy = settings.policy
    store.connect?.({
      name: settings.name,
      policy,
      trips: (evidence) => tripReason(policy, evidence),
      openOnFleetEvidence: (now) => this.openOnFleetEvidence(now),
      apply: (decision, now) => this.apply(decision, now),
      stateAt: (now) => this.stateAt(now)
    })
  }

  // --- admission ---------------------------------------------------------------------------

  /** Asks to make a call at `nowMillis`. Moves open -> half-open when due. */
  admit(nowMillis: number): Ticket | Rejected {
    if (this.mode === "normal") {
      if (this.state === "closed") return this.closedTicket
      if (this.state === "open") {
        if (nowMillis < this.openUntil) {
          return { _tag: "Rejected", reason: "open", retryAfterMillis: this.openUntil - nowMillis }
        }
        this.halfOpen(nowMillis)
      }
      if (this.probesInFlight < this.settings.maxProbes) {
        const wait = this.store.probeGate?.(nowMillis) ?? 0
        if (wait > 0) return { _tag: "Rejected", reason: "half-open", retryAfterMillis: wait }
        this.probesInFlight++
        return this.probeTicketFor(this.epoch)
      }
      return halfOpenFull
    }
    if (this.mode === "disabled") return bypass
    if (this.mode === "metrics-only") return this.metricsTicket
    return forcedOpen
  }

  /** The state at `nowMillis` (moves open -> half-open when due). */
  stateAt(nowMillis: number): BreakerState {
    this.refresh(nowMillis)
    return this.reported()
  }

  private closedTicketFor(epoch: number): Ticket {
    return shared({
      _tag: "Admitted",
      probe: false,
      // a neutral outcome is no evidence: an interruption need not reach this ticket
      holdsNothing: true,
      settle: (outcome, durationMillis, nowMillis) => {
        if (epoch !== this.epoch) return
        const recorded = this.recorded(outcome, durationMillis)
        if (recorded !== undefined) this.evaluate(this.store.record(recorded, nowMillis), nowMillis)
      }
    })
  }

  private metricsTicketFor(epoch: number): Ticket {
    return shared({
      _tag: "Admitted",
      probe: false,
      // a neutral outcome is no evidence: an interruption need not reach this ticket
      holdsNothing: true,
      settle: (outcome, durationMillis, nowMillis) => {
        if (epoch !== this.epoch) return
        const recorded = this.recorded(outcome, durationMillis)
        if (recorded !== undefined) this.store.record(recorded, nowMillis)
      }
    })
  }

  private probeTicketFor(epoch: number): Ticket {
    let settled = false
    return {
      _tag: "Admitted",
      probe: true,
      settle: (outcome, durationMillis, nowMillis) => {
        if (settled) return
        settled = true
        this.probesInFlight--
        // a probe of an earlier half-open period says nothing about this one
        if (epoch !== this.epoch) return
        const recorded = this.recorded(outcome, durationMillis)
        if (recorded === undefined) return
        this.store.record(recorded, nowMillis)
        if (recorded === "failure" || recorded === "slow-failure") {
          this.reopenings++
          this.open(nowMillis, "probe-failed")
        } else if (recorded === "slow-success") {
          this.reopenings++
          this.open(nowMillis, "probe-slow")
        } else if (++this.probeSuccesses >= this.settings.successThreshold) {
          this.close(nowMillis, "success-threshold")
        }
      }
    }
  }

  /** What the store records of an outcome; `undefined` when it is no evidence (neutral, or a failure that does not count). */
  private recorded(outcome: Outcome, durationMillis: number): RecordedOutcome | undefined {
    switch (outcome._tag) {
      case "Success":
        return durationMillis >= this.slowMillis ? "slow-success" : "success"
      case "Failure":
        if (!outcome.classification.countsForBreaker) return undefined
        return durationMillis >= this.slowMillis ? "slow-failure" : "failure"
      case "Neutral":
        return undefined
    }
  }

  private evaluate(evidence: Evidence, now: number): void {
    const reason = tripReason(this.settings.policy, evidence)
    if (reason !== undefined) this.open(now, reason)
  }

  // --- transitions -------------------------------------------------------------------------

  private reported(): BreakerState {
    return this.mode === "normal" ? this.state : this.mode
  }

  private bump(): void {
    this.epoch++
    this.closedTicket = this.closedTicketFor(this.epoch)
    this.metricsTicket = this.metricsTicketFor(this.epoch)
  }

  private transition(from: BreakerState, now: number, reason: TransitionReason): void {
    this.bump()
    this.lastTransitionAt = now
    const to = this.reported()
    const transition: Transition = { breaker: this.settings.name, from, to, atMillis: now, reason }
    this.store.decide({
      transition,
      openUntilMillis: to === "open" ? this.openUntil : undefined,
      reopenings: this.reopenings
    })
    this.onTransition(transition)
  }

  private open(now: number, reason: TransitionReason): void {
    const from = this.reported()
    this.state = "open"
    this.openUntil = now + this.settings.openDurationFor(this.reopenings)
    this.transition(from, now, reason)
  }

  private halfOpen(now: number): void {
    this.state = "half-open"
    this.probeSuccesses = 0
    this.transition("open", now, "open-duration-elapsed")
  }

  private close(now: number, reason: TransitionReason): void {
    const from = this.reported()
    this.state = "closed"
    this.reopenings = 0
    this.probeSuccesses = 0
    this.store.clear(now)
    this.transition(from, now, reason)
  }

  /** Lazily moves open -> half-open once the open duration has elapsed: no timer per breaker. */
  private refresh(now: number): void {
    if (this.mode === "normal" && this.state === "open" && now >= this.openUntil) this.halfOpen(now)
  }

  // --- manual control ----------------------------------------------------------------------

  private setMode(mode: Mode, now: number, reason: TransitionReason = "manual"): void {
    this.refresh(now)
    const from = this.reported()
    this.mode = mode
    if (mode === "metrics-only") this.store.clear(now)
    if (from !== this.reported()) this.transition(from, now, reason)
    else this.bump()
  }

  /** Rejects every call until `forceClosed` or `reset`. */
  forceOpen(now: number): void {
    this.setMode("forced-open", now)
  }

  /** Admits every call and records nothing. */
  disable(now: number): void {
    this.setMode("disabled", now)
  }

  /** Admits every call and records outcomes (for the snapshot), never opens. */
  metricsOnly(now: number): void {
    this.setMode("metrics-only", now)
  }

  /** Back to normal operation, closed, with fresh counts. */
  forceClosed(now: number): void {
    this.closeManually(now, "manual")
  }

  /** Closed, normal, fresh counts, no backoff: as new. */
  reset(now: number): void {
    this.closeManually(now, "reset")
  }

  // --- the fleet ----------------------------------------------------------------------------

  /** Opens a closed breaker in normal mode on evidence pooled elsewhere (reason `fleet-evidence`). */
  openOnFleetEvidence(now: number): boolean {
    if (this.mode !== "normal" || this.state !== "closed") return false
    this.open(now, "fleet-evidence")
    return true
  }

  /**
   * Applies a decision taken elsewhere (reason `fleet`). An opening applies in normal mode (a
   * local manual mode wins) and takes the remote end of the open period and its re-openings; a
   * forced open applies unless already forced open; a close applies in normal or forced-open mode.
   */
  apply(decision: FleetDecision, now: number): void {
    this.refresh(now)
    switch (decision._tag) {
      case "Open": {
        if (this.mode !== "normal") return
        const until = now + Math.max(0, decision.remainingMillis)
        this.reopenings = decision.reopenings
        if (this.state === "open") {
          this.openUntil = until
          return
        }
        const from = this.reported()
        this.state = "open"
        this.openUntil = until
        this.probeSuccesses = 0
        this.transition(from, now, "fleet")
        return
      }
      case "ForcedOpen":
        if (this.mode !== "forced-open") this.setMode("forced-open", now, "fleet")
        return
      case "Closed":
        if (this.mode === "forced-open" || (this.mode === "normal" && this.state !== "closed")) {
          this.closeManually(now, "fleet")
        }
        return
    }
  }

  private closeManually(now: number, reason: TransitionReason): void {
    this.refresh(now)
    const from = this.reported()
    this.mode = "normal"
    this.state = "closed"
    this.reopenings = 0
    this.probeSuccesses = 0
    this.store.clear(now)
    if (from !== "closed") this.transition(from, now, reason)
    else this.bump()
  }

  // --- observation -------------------------------------------------------------------------

  /** The snapshot at `now` (moves open -> half-open when due). */
  snapshotAt(now: number): Snapshot {
    this.refresh(now)
    const evidence = this.store.evidence(now)
    const state = this.reported()
    const calls = evidence.calls
    return {
      name: this.settings.name,
      state,
      policy: this.settings.policy._tag,
      calls,
      failures: evidence.failures,
      slowCalls: evidence.slowCalls,
      consecutiveFailures: evidence.consecutiveFailures,
      failureRate: calls === 0 ? 0 : evidence.failures / calls,
      slowCallRate: calls === 0 ? 0 : evidence.slowCalls / calls,
      probesInFlight: this.probesInFlight,
      probeSuccesses: state === "half-open" ? this.probeSuccesses : 0,
      reopenings: this.reopenings,
      ...(state === "open" ? { openUntilMillis: this.openUntil, retryAfterMillis: this.openUntil - now } : {}),
      lastTransitionAtMillis: this.lastTransitionAt
    }
  }
}

/**
 * The open duration after `n` re-openings: `base * multiplier^n`, at most `max` (`base` alone
 * without a backoff).
 */
export const openBackoff =
  (baseMillis: number, backoff: { readonly multiplier: number; readonly maxMillis: number } | undefined) =>
  (reopenings: number): number =>
    backoff === undefined ? baseMillis : Math.min(baseMillis * backoff.multiplier ** reopenings, backoff.maxMillis)

/** The open duration after `n` re-openings read from a table of delays (the last repeats); `fallback` when empty. */
export const openTable =
  (table: ReadonlyArray<number>, fallbackMillis: number) =>
  (reopenings: number): number =>
    table[Math.min(reopenings, table.length - 1)] ?? fallbackMillis
