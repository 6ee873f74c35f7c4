/**
 * The decision core of a connection that heals: its state machine and statistics, in plain
 * TypeScript that imports nothing from `effect`. The Effect side (`Connection.ts`) acquires,
 * sleeps and checks health, tells the core what happened, and publishes the state the core is in.
 *
 * ```text
 * Connecting --acquired--> Connected --failuresToDisconnect failed checks--> Disconnected
 *     |                                                                          |
 *     +--acquire failed--> Disconnected --retry--> Connecting (attempt + 1) <----+ (attempt 1)
 * any --close--> Closed (absorbing)
 * ```
 *
 * An event that does not fit the state (an acquire reported while closed, a health check while
 * disconnected) changes nothing and is answered `false`. Time is passed in as milliseconds.
 *
 * @internal
 */

/** Where a connection is. */
export type CoreState =
  | { readonly _tag: "Connecting"; readonly attempt: number }
  | { readonly _tag: "Connected"; readonly sinceMillis: number }
  | { readonly _tag: "Disconnected"; readonly reason: string; readonly retryingAtMillis: number | undefined }
  | { readonly _tag: "Closed" }

/** What happened so far. `connectedMillis` holds the closed periods only; see `connectedMillis(now)`. */
export interface Counters {
  connects: number
  disconnects: number
  connectAttempts: number
  failedConnects: number
  healthChecks: number
  failedHealthChecks: number
  connectedMillis: number
  lastReason: string | undefined
}

/** A connection's state machine. */
export class ConnectionCore {
  state: CoreState = { _tag: "Connecting", attempt: 1 }
  readonly counters: Counters = {
    connects: 0,
    disconnects: 0,
    connectAttempts: 0,
    failedConnects: 0,
    healthChecks: 0,
    failedHealthChecks: 0,
    connectedMillis: 0,
    lastReason: undefined
  }
  /** Failed health checks in a row, while connected. */
  private failuresInARow = 0
  /** Whether the current Connecting state has started its acquire. */
  private acquiring = false

  constructor(readonly failuresToDisconnect: number) {}

  /** An acquire starts (once per Connecting). */
  readonly acquireStarted = (): boolean => {
    if (this.state._tag !== "Connecting" || this.acquiring) return false
    this.acquiring = true
    this.counters.connectAttempts++
    return true
  }

  /** The acquire succeeded. */
  readonly acquired = (nowMillis: number): boolean => {
    if (this.state._tag !== "Connecting" || !this.acquiring) return false
    this.acquiring = false
    this.counters.connects++
    this.failuresInARow = 0
    this.state = { _tag: "Connected", sinceMillis: nowMillis }
    return true
  }

  /** The acquire failed; the next try is at `retryingAtMillis` (undefined: never). */
  readonly acquireFailed = (reason: string, retryingAtMillis: number | undefined): boolean => {
    if (this.state._tag !== "Connecting" || !this.acquiring) return false
    this.acquiring = false
    this.counters.failedConnects++
    this.counters.lastReason = reason
    this.attemptsSinceConnected = this.state.attempt
    this.state = { _tag: "Disconnected", reason, retryingAtMillis }
    return true
  }

  /** Tries that failed since the connection was last up (the next Connecting is one more). */
  private attemptsSinceConnected = 0

  /** The wait is over: acquire again. */
  readonly retry = (): boolean => {
    if (this.state._tag !== "Disconnected" || this.state.retryingAtMillis === undefined) return false
    this.state = { _tag: "Connecting", attempt: this.attemptsSinceConnected + 1 }
    return true
  }

  /**
   * A health check ended. `true` when this check dropped the connection (the caller releases it
   * and, at `nowMillis`, tries again: the first try after a drop is at once).
   */
  readonly healthChecked = (ok: boolean, reason: string, nowMillis: number): boolean => {
    if (this.state._tag !== "Connected") return false
    this.counters.healthChecks++
    if (ok) {
      this.failuresInARow = 0
      return false
    }
    this.counters.failedHealthChecks++
    this.failuresInARow++
    if (this.failuresInARow < this.failuresToDisconnect) return false
    this.counters.connectedMillis += Math.max(0, nowMillis - this.state.sinceMillis)
    this.counters.disconnects++
    this.counters.lastReason = reason
    this.attemptsSinceConnected = 0
    this.failuresInARow = 0
    this.state = { _tag: "Disconnected", reason, retryingAtMillis: nowMillis }
    return true
  }

  /** The service's scope ended. */
  readonly close = (nowMillis: number): boolean => {
    if (this.state._tag === "Closed") return false
    if (this.state._tag === "Connected") {
      this.counters.connectedMillis += Math.max(0, nowMillis - this.state.sinceMillis)
    }
    this.acquiring = false
    this.state = { _tag: "Closed" }
    return true
  }

  /** Time connected so far, the current period included. */
  readonly connectedMillis = (nowMillis: number): number =>
    this.counters.connectedMillis +
    (this.state._tag === "Connected" ? Math.max(0, nowMillis - this.state.sinceMillis) : 0)
}
