// @ts-check
/**
 * The ops dashboard: breakers (live over server-sent events), error, retry and latency charts per
 * operation (from `GET /api/analytics`), the alert feed (live), dead letters (filter, pages,
 * inspect, replay, discard, notes) and the audit trail. Every change asks for confirmation, and a
 * refusal (401 without a valid token, 403 for a read-only one) is shown as such: the server changed
 * nothing. All text from the server is set with textContent, never parsed as HTML.
 */
import { ApiError, follow, get, post, token } from "./api.js"
import { Chart, millis as formatMillis, perSecond as formatRate } from "./charts.js"

// ---------------------------------------------------------------------------------------------
// small helpers

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => {
  const element = document.getElementById(id)
  if (element === null) throw new Error(`#${id} is missing`)
  return element
}

/**
 * @param {string} tag
 * @param {{ text?: string, className?: string, attrs?: Record<string, string> }} [options]
 * @param {ReadonlyArray<Node | string>} [children]
 */
const el = (tag, options = {}, children = []) => {
  const node = document.createElement(tag)
  if (options.text !== undefined) node.textContent = options.text
  if (options.className !== undefined) node.className = options.className
  for (const [k, v] of Object.entries(options.attrs ?? {})) node.setAttribute(k, v)
  for (const child of children) node.append(child)
  return node
}

/**
 * Replaces what `container` shows, unless it would show the same (polling does not churn the DOM),
 * and keeps keyboard focus on the control with the same label when it is redrawn.
 * @param {HTMLElement} container
 * @param {ReadonlyArray<Node>} nodes
 */
const replace = (container, ...nodes) => {
  const html = nodes.map((node) => (node instanceof Element ? node.outerHTML : (node.textContent ?? ""))).join("")
  if (container.innerHTML === html) return
  const focused = document.activeElement
  const label = focused !== null && container.contains(focused) ? focused.getAttribute("aria-label") : null
  container.replaceChildren(...nodes)
  if (label !== null) {
    const again = container.querySelector(`[aria-label="${CSS.escape(label)}"]`)
    if (again instanceof HTMLElement) again.focus()
  }
}

/** @param {string} id @param {string} text */
const setText = (id, text) => {
  const element = $(id)
  if (element.textContent !== text) element.textContent = text
}

/** Tells a screen reader what changed by itself (a transition, an alert). @param {string} text */
const announce = (text) => {
  $("announce").textContent = text
}

/** @param {string} id @param {boolean} disabled */
const setDisabled = (id, disabled) => {
  const button = $(id)
  if (disabled) button.setAttribute("disabled", "")
  else button.removeAttribute("disabled")
}

/** @param {number} millis */
const clock = (millis) => new Date(millis).toLocaleTimeString(undefined, { hour12: false })
/** @param {number} millis */
const dateTime = (millis) => new Date(millis).toLocaleString(undefined, { hour12: false })
/** @param {number} x */
const percent = (x) => `${(x * 100).toFixed(x >= 0.1 || x === 0 ? 0 : 1)} %`

/** @param {unknown} value */
const compact = (value) => {
  if (value === undefined) return "–"
  const text = JSON.stringify(value)
  return text.length > 120 ? `${text.slice(0, 117)}…` : text
}

const notice = $("notice")
const refusal = $("refusal")

/** @param {string} text */
const say = (text) => {
  notice.textContent = text
}

/**
 * Shows why a request failed; a refusal says that nothing was changed.
 * @param {string} what
 * @param {unknown} error
 */
const showError = (what, error) => {
  if (error instanceof ApiError) {
    const name =
      error.status === 401 ? "401 Unauthorized" : error.status === 403 ? "403 Forbidden" : `HTTP ${error.status}`
    refusal.textContent = error.refused
      ? `Refused (${name}): ${error.message}. ${what} was not done; nothing was changed.`
      : `${what} failed (${name}): ${error.message}.`
    refusal.dataset.status = String(error.status)
  } else {
    refusal.textContent = `${what} failed: the ops server could not be reached.`
    refusal.dataset.status = "0"
  }
  refusal.hidden = false
}

const clearError = () => {
  refusal.hidden = true
  refusal.textContent = ""
  delete refusal.dataset.status
}

// ---------------------------------------------------------------------------------------------
// confirmation dialog

const dialog = /** @type {HTMLDialogElement} */ ($("confirm"))
const dialogNote = /** @type {HTMLTextAreaElement} */ ($("confirm-note"))

/**
 * Asks before a change. Resolves with the operator note ("" when none) or undefined if cancelled.
 * @param {{ title: string, text: string, action: string, note: boolean }} options
 * @returns {Promise<string | undefined>}
 */
const confirmChange = (options) =>
  new Promise((resolve) => {
    $("confirm-title").textContent = options.title
    $("confirm-text").textContent = options.text
    $("confirm-ok").textContent = options.action
    $("confirm-note-field").hidden = !options.note
    dialogNote.value = ""
    const cancel = $("confirm-cancel")
    const onCancel = () => dialog.close("cancel")
    cancel.addEventListener("click", onCancel, { once: true })
    dialog.addEventListener(
      "close",
      () => {
        cancel.removeEventListener("click", onCancel)
        resolve(dialog.returnValue === "ok" ? dialogNote.value.trim() : undefined)
      },
      { once: true }
    )
    dialog.returnValue = ""
    dialog.showModal()
    ;(options.note ? dialogNote : $("confirm-ok")).focus()
  })

// ---------------------------------------------------------------------------------------------
// connection: token, streams and polling

/** @type {AbortController | undefined} */
let session
const connection = $("connection")
const streams = { breakers: "connecting", alerts: "connecting" }

const showConnection = () => {
  if (token.get() === "") {
    connection.textContent = "Not connected: enter a token."
    connection.dataset.state = "none"
    return
  }
  const states = Object.values(streams)
  const state = states.includes("refused")
    ? "refused"
    : states.every((s) => s === "live" || s === "polling")
      ? "live"
      : states.includes("reconnecting")
        ? "reconnecting"
        : "connecting"
  connection.dataset.state = state
  connection.textContent =
    state === "refused"
      ? "The token was refused: enter a valid one."
      : state === "live"
        ? "Live."
        : state === "reconnecting"
          ? "Connection lost, reconnecting…"
          : "Connecting…"
}

/**
 * Runs `task` now and every `millis` until the session ends.
 * @param {AbortSignal} signal
 * @param {number} millis
 * @param {() => Promise<void>} task
 */
const every = (signal, millis, task) => {
  const run = async () => {
    if (signal.aborted) return
    try {
      await task()
    } catch (error) {
      if (error instanceof ApiError && error.refused) {
        streams.breakers = "refused"
        showConnection()
      }
    }
    if (!signal.aborted) setTimeout(run, millis)
  }
  void run()
}

const start = () => {
  session?.abort()
  session = new AbortController()
  const signal = session.signal
  if (token.get() === "") {
    showConnection()
    return
  }
  streams.breakers = "connecting"
  streams.alerts = "connecting"
  showConnection()
  void follow("/api/breakers/events", {
    signal,
    onEvent: onBreakerEvent,
    onStatus: (status) => {
      streams.breakers = status
      showConnection()
    }
  })
  void follow("/api/alerts/events", {
    signal,
    onEvent: onAlertEvent,
    onStatus: (status) => {
      // a server without the alert stream: read the recent alerts now and then instead
      if (status === "unavailable") {
        streams.alerts = "polling"
        every(signal, 5000, loadAlerts)
      } else streams.alerts = status
      showConnection()
    }
  })
  every(signal, 2000, loadBreakers)
  every(signal, 2000, loadAnalytics)
  every(signal, 4000, () => loadDeadLetters(false))
  every(signal, 4000, loadAudit)
}

const tokenInput = /** @type {HTMLInputElement} */ ($("token"))
$("token-form").addEventListener("submit", (event) => {
  event.preventDefault()
  token.set(tokenInput.value.trim())
  tokenInput.value = ""
  clearError()
  say(token.get() === "" ? "Token cleared." : "Token set for this tab.")
  start()
})
$("token-forget").addEventListener("click", () => {
  token.set("")
  tokenInput.value = ""
  say("Token forgotten: the page keeps what it showed, but reads and changes are refused until a token is set.")
  start()
})

// ---------------------------------------------------------------------------------------------
// breakers

/** @type {Map<string, any>} */
const breakers = new Map()
/** @type {Array<{ breaker: string, from: string, to: string, atMillis: number }>} */
const transitions = []
const maxTransitions = 200

/** @param {{ event: string, data: any }} message */
const onBreakerEvent = ({ event, data }) => {
  if (event === "snapshot" && Array.isArray(data?.breakers)) {
    for (const snapshot of data.breakers) breakers.set(snapshot.name, snapshot)
    if (data.reason === "too-old")
      say("Some breaker transitions were missed while the page was behind; states are current.")
    renderBreakers()
  } else if (event === "transition" && typeof data?.breaker === "string") {
    const known = breakers.get(data.breaker) ?? {
      name: data.breaker,
      calls: 0,
      failures: 0,
      failureRate: 0,
      reopenings: 0
    }
    breakers.set(data.breaker, { ...known, state: data.to, lastTransitionAtMillis: data.atMillis })
    transitions.unshift(data)
    announce(`Breaker ${data.breaker}: ${data.from} to ${data.to}`)
    if (transitions.length > maxTransitions) transitions.length = maxTransitions
    renderBreakers()
    renderTransitions()
  }
}

const loadBreakers = async () => {
  const list = await get("/api/breakers")
  if (!Array.isArray(list)) return
  for (const snapshot of list) {
    // a transition read from the stream is never rolled back by an older poll
    const known = breakers.get(snapshot.name)
    if (known !== undefined && (known.lastTransitionAtMillis ?? 0) > snapshot.lastTransitionAtMillis) {
      breakers.set(snapshot.name, {
        ...snapshot,
        state: known.state,
        lastTransitionAtMillis: known.lastTransitionAtMillis
      })
    } else breakers.set(snapshot.name, snapshot)
  }
  renderBreakers()
}

const breakerActions = [
  { path: "force-open", label: "Force open", text: "Every call through it is refused until it is closed or reset." },
  { path: "force-closed", label: "Force closed", text: "Every call goes through, whatever the failures." },
  { path: "disable", label: "Disable", text: "It stops counting and lets every call through." },
  { path: "reset", label: "Reset", text: "It goes back to closed with its counts cleared." }
]

const renderBreakers = () => {
  const rows = $("breaker-rows")
  if (breakers.size === 0) {
    replace(rows, el("tr", {}, [el("td", { text: "No breakers yet.", className: "empty", attrs: { colspan: "8" } })]))
    return
  }
  const names = [...breakers.keys()].sort()
  replace(
    rows,
    ...names.map((name) => {
      const b = breakers.get(name)
      const actions = el(
        "td",
        { className: "actions" },
        breakerActions.map((action) => {
          const button = el("button", {
            text: action.label,
            attrs: { type: "button", "aria-label": `${action.label} ${name}` }
          })
          button.addEventListener("click", () => changeBreaker(name, action))
          return button
        })
      )
      return el("tr", { attrs: { "data-breaker": name } }, [
        el("th", { text: name, attrs: { scope: "row" } }),
        el("td", {}, [
          el("span", {
            text: b.state ?? "unknown",
            className: `state state-${b.state}`,
            attrs: { "data-state": b.state ?? "unknown" }
          })
        ]),
        el("td", { text: String(b.calls ?? "–"), className: "num" }),
        el("td", { text: String(b.failures ?? "–"), className: "num" }),
        el("td", { text: typeof b.failureRate === "number" ? percent(b.failureRate) : "–", className: "num" }),
        el("td", { text: String(b.reopenings ?? "–"), className: "num" }),
        el("td", { text: b.lastTransitionAtMillis ? clock(b.lastTransitionAtMillis) : "–" }),
        actions
      ])
    })
  )
}

const renderTransitions = () => {
  replace(
    $("transitions"),
    ...transitions.map((t) =>
      el(
        "li",
        { attrs: { "data-from": t.from, "data-to": t.to, "data-breaker": t.breaker, "data-at": String(t.atMillis) } },
        [
          el("time", { text: clock(t.atMillis), attrs: { datetime: new Date(t.atMillis).toISOString() } }),
          ` ${t.breaker}: `,
          el("span", { text: t.from, className: `state state-${t.from}` }),
          " → ",
          el("span", { text: t.to, className: `state state-${t.to}` })
        ]
      )
    )
  )
}

/**
 * @param {string} name
 * @param {{ path: string, label: string, text: string }} action
 */
const changeBreaker = async (name, action) => {
  const note = await confirmChange({
    title: `${action.label}: ${name}`,
    text: `${action.label} the breaker ${name}? ${action.text} The change is recorded in the audit trail.`,
    action: action.label,
    note: false
  })
  if (note === undefined) return
  clearError()
  try {
    const snapshot = await post(`/api/breakers/${encodeURIComponent(name)}/${action.path}`)
    breakers.set(name, snapshot)
    renderBreakers()
    say(`${action.label}: ${name} is now ${snapshot.state}.`)
    void loadAudit()
  } catch (error) {
    showError(`${action.label} of ${name}`, error)
  }
}

// ---------------------------------------------------------------------------------------------
// analytics: rates and latency

const operationSelect = /** @type {HTMLSelectElement} */ ($("operation"))
const ratesChart = new Chart($("rates-chart"), $("rates-summary"), { format: formatRate })
const categoriesChart = new Chart($("categories-chart"), $("categories-summary"), { format: formatRate })
const latencyChart = new Chart($("latency-chart"), $("latency-summary"), { format: formatMillis })
/** @type {any} */
let analytics

const loadAnalytics = async () => {
  try {
    analytics = await get("/api/analytics")
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      $("analytics-info").textContent = "This server has no analytics."
      return
    }
    throw error
  }
  renderAnalytics()
}

const renderAnalytics = () => {
  const operations = Array.isArray(analytics?.operations) ? analytics.operations : []
  const names = operations.map((/** @type {any} */ o) => String(o.operation))
  const current = operationSelect.value
  if (names.join("\u0000") !== [...operationSelect.options].map((o) => o.value).join("\u0000")) {
    operationSelect.replaceChildren(
      ...names.map((/** @type {string} */ n) => el("option", { text: n, attrs: { value: n } }))
    )
    const busiest = operations
      .slice()
      .sort((/** @type {any} */ a, /** @type {any} */ b) => sum(b.calls) - sum(a.calls))[0]?.operation
    operationSelect.value = names.includes(current) ? current : (busiest ?? "")
  }
  const intervalSeconds = (analytics?.intervalMillis ?? 1000) / 1000
  $("analytics-info").textContent = `Sampled every ${intervalSeconds} s.`
  const series = operations.find((/** @type {any} */ o) => o.operation === operationSelect.value)
  if (series === undefined) return
  /** @param {ReadonlyArray<number>} xs */
  const perSecond = (xs) => xs.map((x) => x / intervalSeconds)
  ratesChart.update(series.timestamps, [
    { label: "calls", values: perSecond(series.calls) },
    { label: "failures", values: perSecond(series.failures) },
    { label: "retries", values: perSecond(series.retries) },
    { label: "rejections", values: perSecond(series.rejections) }
  ])
  const categories = [
    ...new Set([...Object.keys(series.failuresByCategory ?? {}), ...Object.keys(series.retriesByCategory ?? {})])
  ].sort()
  categoriesChart.update(
    series.timestamps,
    categories.flatMap((category) => [
      ...(series.failuresByCategory?.[category]
        ? [{ label: `failures ${category}`, values: perSecond(series.failuresByCategory[category]) }]
        : []),
      ...(series.retriesByCategory?.[category]
        ? [{ label: `retries ${category}`, values: perSecond(series.retriesByCategory[category]) }]
        : [])
    ])
  )
  /** @param {ReadonlyArray<number | null>} xs */
  const millis = (xs) => xs.map((x) => (x === null ? null : x * 1000))
  latencyChart.update(series.timestamps, [
    { label: "p50", values: millis(series.latency.p50) },
    { label: "p95", values: millis(series.latency.p95) },
    { label: "p99", values: millis(series.latency.p99) }
  ])
}
operationSelect.addEventListener("change", renderAnalytics)

/** @param {ReadonlyArray<number>} xs */
const sum = (xs) => (Array.isArray(xs) ? xs.reduce((a, b) => a + b, 0) : 0)

// ---------------------------------------------------------------------------------------------
// alerts

/** @type {Map<string, any>} */
const alerts = new Map()
const maxAlerts = 200

/** @param {{ event: string, data: any }} message */
const onAlertEvent = ({ event, data }) => {
  if (event === "snapshot") {
    const list = Array.isArray(data?.alerts) ? data.alerts : Array.isArray(data?.recent) ? data.recent : []
    for (const alert of list) alerts.set(alert.id, alert)
  } else if (event === "alert" && typeof data?.id === "string") {
    alerts.set(data.id, data)
    announce(`Alert, ${data.severity}: ${data.summary}`)
  }
  renderAlerts()
}

const loadAlerts = async () => {
  const body = await get("/api/alerts")
  const list = Array.isArray(body)
    ? body
    : Array.isArray(body?.entries)
      ? body.entries
      : Array.isArray(body?.alerts)
        ? body.alerts
        : []
  for (const alert of list) alerts.set(alert.id, alert)
  renderAlerts()
}

const renderAlerts = () => {
  const list = [...alerts.values()].sort((a, b) => b.atMillis - a.atMillis).slice(0, maxAlerts)
  const target = $("alert-list")
  if (list.length === 0) {
    replace(target, el("li", { text: "No alerts.", className: "empty" }))
    return
  }
  replace(
    target,
    ...list.map((alert) =>
      el(
        "li",
        {
          className: `alert severity-${alert.severity}`,
          attrs: { "data-kind": alert.kind, "data-severity": alert.severity }
        },
        [
          el("p", { className: "alert-head" }, [
            el("span", { text: alert.severity, className: "badge" }),
            " ",
            el("strong", { text: `${alert.kind}` }),
            ` · ${alert.operation}${alert.category ? ` · ${alert.category}` : ""} · `,
            el("time", { text: clock(alert.atMillis), attrs: { datetime: new Date(alert.atMillis).toISOString() } })
          ]),
          el("p", { text: alert.summary }),
          el("p", { text: `Suggested: ${alert.suggestedAction}`, className: "hint" }),
          el("details", {}, [
            el("summary", { text: "Evidence" }),
            el(
              "dl",
              { className: "evidence" },
              Object.entries(alert.evidence ?? {}).flatMap(([k, v]) => [
                el("dt", { text: k }),
                el("dd", { text: String(Math.round(Number(v) * 1000) / 1000) })
              ])
            )
          ])
        ]
      )
    )
  )
}

// ---------------------------------------------------------------------------------------------
// dead letters

const dlq = {
  offset: 0,
  limit: 10,
  total: 0,
  entries: /** @type {Array<any>} */ ([]),
  open: /** @type {string | undefined} */ (undefined)
}
const filterForm = /** @type {HTMLFormElement} */ ($("dlq-filter"))
const categories = [
  "transient",
  "timeout",
  "throttled",
  "unavailable",
  "network",
  "server",
  "validation",
  "client",
  "authentication",
  "authorization",
  "business",
  "resource",
  "concurrency",
  "configuration",
  "cancelled",
  "unknown"
]
$("dlq-category").append(...categories.map((c) => el("option", { text: c, attrs: { value: c } })))

const filterQuery = () => {
  const params = new URLSearchParams()
  const data = new FormData(filterForm)
  for (const name of ["queue", "status", "category"]) {
    const value = String(data.get(name) ?? "").trim()
    if (value !== "") params.set(name, value)
  }
  return params
}

/** @param {boolean} announce */
const loadDeadLetters = async (announce) => {
  const params = filterQuery()
  params.set("limit", String(dlq.limit))
  params.set("offset", String(dlq.offset))
  const page = await get(`/api/dead-letters?${params}`)
  dlq.entries = page.entries
  dlq.total = page.total
  if (dlq.offset > 0 && dlq.offset >= dlq.total) {
    dlq.offset = Math.max(0, Math.floor((dlq.total - 1) / dlq.limit) * dlq.limit)
    return loadDeadLetters(announce)
  }
  renderDeadLetters()
  if (announce) say(`${dlq.total} dead letters match.`)
  if (dlq.open !== undefined) {
    const entry = dlq.entries.find((e) => e.id === dlq.open)
    if (entry !== undefined) renderDetail(entry, false)
  }
}

filterForm.addEventListener("submit", (event) => {
  event.preventDefault()
  dlq.offset = 0
  loadDeadLetters(true).catch((error) => showError("Listing dead letters", error))
})
$("dlq-prev").addEventListener("click", () => {
  dlq.offset = Math.max(0, dlq.offset - dlq.limit)
  loadDeadLetters(true).catch((error) => showError("Listing dead letters", error))
})
$("dlq-next").addEventListener("click", () => {
  if (dlq.offset + dlq.limit < dlq.total) dlq.offset += dlq.limit
  loadDeadLetters(true).catch((error) => showError("Listing dead letters", error))
})

/** @param {any} entry */
const categoryOf = (entry) => entry?.failure?.classification?.category ?? "unknown"

const renderDeadLetters = () => {
  const rows = $("dlq-rows")
  if (dlq.entries.length === 0) {
    replace(
      rows,
      el("tr", {}, [el("td", { text: "No dead letters match.", className: "empty", attrs: { colspan: "8" } })])
    )
  } else {
    replace(
      rows,
      ...dlq.entries.map((entry) => {
        const pending = entry.status === "pending"
        const inspect = el("button", {
          text: "Inspect",
          attrs: { type: "button", "aria-label": `Inspect ${entry.id}` }
        })
        inspect.addEventListener("click", () => renderDetail(entry, true))
        const replay = el("button", { text: "Replay", attrs: { type: "button", "aria-label": `Replay ${entry.id}` } })
        replay.addEventListener("click", () => replayOne(entry))
        const discard = el("button", {
          text: "Discard",
          className: "danger",
          attrs: { type: "button", "aria-label": `Discard ${entry.id}` }
        })
        discard.addEventListener("click", () => discardOne(entry))
        if (!pending) {
          replay.setAttribute("disabled", "")
          discard.setAttribute("disabled", "")
        }
        return el("tr", { attrs: { "data-id": entry.id, "data-status": entry.status } }, [
          el("th", { attrs: { scope: "row" } }, [el("code", { text: entry.id })]),
          el("td", { text: entry.queue }),
          el("td", { text: categoryOf(entry) }),
          el("td", { className: "failure" }, [
            el("code", { text: entry.failure?.classification?.code ?? "" }),
            " ",
            el("span", { text: entry.failure?.message ?? "", className: "hint" })
          ]),
          el("td", {}, [el("span", { text: entry.status, className: `status status-${entry.status}` })]),
          el("td", { text: dateTime(entry.createdAtMillis) }),
          el("td", { text: String(entry.replays), className: "num" }),
          el("td", { className: "actions" }, [inspect, replay, discard])
        ])
      })
    )
  }
  const first = dlq.total === 0 ? 0 : dlq.offset + 1
  const last = Math.min(dlq.total, dlq.offset + dlq.entries.length)
  setText("dlq-page", `${first}–${last} of ${dlq.total}`)
  setDisabled("dlq-prev", dlq.offset === 0)
  setDisabled("dlq-next", dlq.offset + dlq.limit >= dlq.total)
}

/**
 * The detail panel of one dead letter.
 * @param {any} entry
 * @param {boolean} focus
 */
const renderDetail = (entry, focus) => {
  dlq.open = entry.id
  const panel = $("dlq-detail")
  const close = el("button", { text: "Close", attrs: { type: "button" } })
  close.addEventListener("click", () => {
    dlq.open = undefined
    panel.hidden = true
  })
  const note = el("button", { text: "Add a note…", attrs: { type: "button" } })
  note.addEventListener("click", () => noteOne(entry))
  const history = Array.isArray(entry.failure?.history) ? entry.failure.history : []
  replace(
    panel,
    el("h3", { text: `Dead letter ${entry.id}` }),
    el("dl", { className: "facts" }, [
      el("dt", { text: "Queue" }),
      el("dd", { text: entry.queue }),
      el("dt", { text: "Status" }),
      el("dd", { text: entry.status }),
      el("dt", { text: "Idempotency key" }),
      el("dd", {}, [el("code", { text: entry.idempotencyKey })]),
      el("dt", { text: "Failure" }),
      el("dd", { text: `${entry.failure?.tag ?? ""}: ${entry.failure?.message ?? ""}` }),
      el("dt", { text: "Classification" }),
      el("dd", {
        text: `${categoryOf(entry)} (${entry.failure?.classification?.code ?? "?"}), retryable: ${entry.failure?.classification?.retryable ?? "?"}`
      }),
      el("dt", { text: "Created / updated" }),
      el("dd", { text: `${dateTime(entry.createdAtMillis)} / ${dateTime(entry.updatedAtMillis)}` }),
      el("dt", { text: "Replays" }),
      el("dd", { text: String(entry.replays) })
    ]),
    el("h4", { text: "Payload" }),
    el("pre", { text: JSON.stringify(entry.payload, null, 2) }),
    el("h4", { text: `Attempts (${history.length})` }),
    el(
      "ol",
      { className: "log" },
      history.map((/** @type {any} */ a) =>
        el("li", {
          text: `${a.classification?.category ?? ""} ${a.classification?.code ?? ""}${a.delayMillis !== undefined ? `, then waited ${a.delayMillis} ms` : ""}`
        })
      )
    ),
    el("h4", { text: `Notes (${entry.notes?.length ?? 0})` }),
    el(
      "ol",
      { className: "log" },
      (entry.notes ?? []).map((/** @type {any} */ n) =>
        el("li", { text: `${dateTime(n.atMillis)} ${n.operator ?? "system"} ${n.action}: ${n.text}` })
      )
    ),
    el("div", { className: "buttons" }, [note, close])
  )
  panel.hidden = false
  if (focus) panel.focus()
}

/** @param {any} entry */
const replayOne = async (entry) => {
  const note = await confirmChange({
    title: `Replay ${entry.id}`,
    text: `Send the dead letter ${entry.id} (queue ${entry.queue}, ${categoryOf(entry)}) to the replay handler again? It is resolved if the handler succeeds.`,
    action: "Replay",
    note: true
  })
  if (note === undefined) return
  clearError()
  try {
    if (note !== "") await post(`/api/dead-letters/${encodeURIComponent(entry.id)}/notes`, { text: note })
    const report = await post(`/api/dead-letters/${encodeURIComponent(entry.id)}/replay`)
    say(describeReplay(report))
  } catch (error) {
    showError(`Replay of ${entry.id}`, error)
  }
  await refreshAfterChange()
}

/** @param {any} report */
const describeReplay = (report) => {
  const parts = []
  if (report.resolved?.length) parts.push(`resolved: ${report.resolved.length}`)
  if (report.failed?.length)
    parts.push(
      `failed again: ${report.failed.length} (${report.failed.map((/** @type {any} */ f) => f.classification?.code).join(", ")})`
    )
  if (report.invalid?.length) parts.push(`refused by the payload schema: ${report.invalid.length}`)
  if (report.skipped?.length) parts.push(`skipped (not pending): ${report.skipped.length}`)
  if (report.notFound?.length) parts.push(`not found: ${report.notFound.length}`)
  return `Replay done. ${parts.length === 0 ? "Nothing to replay." : `${parts.join("; ")}.`}`
}

/** @param {any} entry */
const discardOne = async (entry) => {
  const note = await confirmChange({
    title: `Discard ${entry.id}`,
    text: `Discard the dead letter ${entry.id} (queue ${entry.queue})? It will not be replayed. Say why in the note.`,
    action: "Discard",
    note: true
  })
  if (note === undefined) return
  clearError()
  try {
    await post(`/api/dead-letters/${encodeURIComponent(entry.id)}/discard`, note === "" ? {} : { note })
    say(`Discarded ${entry.id}.`)
  } catch (error) {
    showError(`Discard of ${entry.id}`, error)
  }
  await refreshAfterChange()
}

/** @param {any} entry */
const noteOne = async (entry) => {
  const note = await confirmChange({
    title: `Note on ${entry.id}`,
    text: `Add an operator note to the dead letter ${entry.id}.`,
    action: "Add note",
    note: true
  })
  if (note === undefined || note === "") return
  clearError()
  try {
    const after = await post(`/api/dead-letters/${encodeURIComponent(entry.id)}/notes`, { text: note })
    renderDetail(after, false)
    say(`Note added to ${entry.id}.`)
  } catch (error) {
    showError(`Note on ${entry.id}`, error)
  }
  await refreshAfterChange()
}

$("dlq-replay-all").addEventListener("click", async () => {
  const params = filterQuery()
  /** @type {Record<string, unknown>} */
  const filter = {}
  const queue = params.get("queue")
  const category = params.get("category")
  if (queue) filter.queue = queue
  if (category) filter.category = category
  const note = await confirmChange({
    title: "Replay every matching dead letter",
    text: `Replay up to 200 pending dead letters${queue ? ` of queue ${queue}` : ""}${category ? ` in category ${category}` : ""}?`,
    action: "Replay all",
    note: false
  })
  if (note === undefined) return
  clearError()
  try {
    say(describeReplay(await post("/api/dead-letters/replay", { filter })))
  } catch (error) {
    showError("Replay of the matching dead letters", error)
  }
  await refreshAfterChange()
})

const refreshAfterChange = async () => {
  try {
    await Promise.all([loadDeadLetters(false), loadAudit()])
  } catch {
    // the list keeps what it showed; the refusal (if any) is already on screen
  }
}

// ---------------------------------------------------------------------------------------------
// audit trail

const audit = { offset: 0, limit: 20, total: 0 }

const loadAudit = async () => {
  const page = await get(`/api/audit?limit=${audit.limit}&offset=${audit.offset}`)
  audit.total = page.total
  const rows = $("audit-rows")
  if (page.entries.length === 0) {
    replace(rows, el("tr", {}, [el("td", { text: "No changes yet.", className: "empty", attrs: { colspan: "5" } })]))
  } else {
    replace(
      rows,
      ...page.entries.map((/** @type {any} */ e) =>
        el("tr", { attrs: { "data-action": e.action, "data-target": e.target } }, [
          el("td", { text: dateTime(e.atMillis) }),
          el("td", { text: e.actor }),
          el("td", { text: e.action }),
          el("td", {}, [el("code", { text: e.target })]),
          el("td", { text: `${compact(summaryOf(e.before))} → ${compact(summaryOf(e.after))}` })
        ])
      )
    )
  }
  const first = audit.total === 0 ? 0 : audit.offset + 1
  setText("audit-page", `${first}–${Math.min(audit.total, audit.offset + page.entries.length)} of ${audit.total}`)
  setDisabled("audit-prev", audit.offset === 0)
  setDisabled("audit-next", audit.offset + audit.limit >= audit.total)
}

/** The fields that say what changed: a breaker's state, a dead letter's status. @param {any} value */
const summaryOf = (value) => {
  if (value === null || typeof value !== "object") return value
  if ("state" in value) return { state: value.state }
  if ("status" in value) return { status: value.status, replays: value.replays, notes: value.notes }
  return value
}

$("audit-prev").addEventListener("click", () => {
  audit.offset = Math.max(0, audit.offset - audit.limit)
  loadAudit().catch((error) => showError("Reading the audit trail", error))
})
$("audit-next").addEventListener("click", () => {
  if (audit.offset + audit.limit < audit.total) audit.offset += audit.limit
  loadAudit().catch((error) => showError("Reading the audit trail", error))
})

// ---------------------------------------------------------------------------------------------

start()
