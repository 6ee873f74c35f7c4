// @ts-check
/**
 * The dashboard's access to the ops API: JSON requests and server-sent event streams, each with
 * the bearer token in an `Authorization` header (never a cookie, so no request can be forged from
 * another site). Event streams are read with fetch and a ReadableStream because EventSource cannot
 * send headers.
 */

const storageKey = "effect-resilience-ops-token"

/** The token of this tab (session storage: gone when the tab closes). */
export const token = {
  /** @returns {string} */
  get: () => sessionStorage.getItem(storageKey) ?? "",
  /** @param {string} value */
  set: (value) => {
    if (value === "") sessionStorage.removeItem(storageKey)
    else sessionStorage.setItem(storageKey, value)
  }
}

/** A refused or failed request: the HTTP status and the server's message (never a stack trace). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message)
    this.status = status
  }
  get refused() {
    return this.status === 401 || this.status === 403
  }
}

/** @returns {Record<string, string>} */
const authHeaders = () => {
  const value = token.get()
  return value === "" ? {} : { authorization: `Bearer ${value}` }
}

/**
 * The message of an error body: the API answers `{ _tag, message }`, a 400 a parse error.
 * @param {Response} response
 */
const errorOf = async (response) => {
  let message = response.statusText || `HTTP ${response.status}`
  try {
    const body = await response.json()
    if (body && typeof body.message === "string") message = body.message
    else if (body && Array.isArray(body.issues) && body.issues[0]?.message) message = String(body.issues[0].message)
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(response.status, message)
}

/**
 * A JSON request to the API.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export const request = async (method, path, body) => {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json", ...authHeaders() }
  if (body !== undefined) headers["content-type"] = "application/json"
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit"
  })
  if (!response.ok) throw await errorOf(response)
  const text = await response.text()
  return text === "" ? undefined : JSON.parse(text)
}

/** @param {string} path */
export const get = (path) => request("GET", path)
/** @param {string} path @param {unknown} [body] */
export const post = (path, body) => request("POST", path, body ?? {})

/**
 * Reads one text/event-stream response into events, calling `onEvent` for each.
 * @param {ReadableStream<Uint8Array>} body
 * @param {(event: { id: string | undefined, event: string, data: string }) => void} onEvent
 * @param {(retryMillis: number) => void} onRetry
 */
const readEvents = async (body, onEvent, onRetry) => {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  /** @type {string | undefined} */
  let id
  let event = ""
  /** @type {Array<string>} */
  let data = []
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    const lines = buffer.split(/\r\n|\r|\n/)
    buffer = lines.pop() ?? ""
    for (const line of lines) {
      if (line === "") {
        if (data.length > 0) onEvent({ id, event: event || "message", data: data.join("\n") })
        event = ""
        data = []
        continue
      }
      if (line.startsWith(":")) continue
      const colon = line.indexOf(":")
      const field = colon === -1 ? line : line.slice(0, colon)
      let text = colon === -1 ? "" : line.slice(colon + 1)
      if (text.startsWith(" ")) text = text.slice(1)
      if (field === "data") data.push(text)
      else if (field === "event") event = text
      else if (field === "id" && !text.includes("\0")) id = text
      else if (field === "retry" && /^\d+$/.test(text)) onRetry(Number(text))
    }
  }
}

/**
 * Follows an event stream of the API until `signal` aborts: reconnects after a dropped connection
 * (with `Last-Event-ID`, so the server sends what was missed), and stops on a refusal (401/403),
 * which it reports through `onStatus`.
 * @param {string} path
 * @param {{
 *   signal: AbortSignal,
 *   onEvent: (event: { id: string | undefined, event: string, data: any }) => void,
 *   onStatus: (status: "live" | "reconnecting" | "refused" | "unavailable", error?: ApiError) => void
 * }} options
 */
export const follow = async (path, { signal, onEvent, onStatus }) => {
  /** @type {string | undefined} */
  let lastId
  let retryMillis = 2000
  while (!signal.aborted) {
    try {
      /** @type {Record<string, string>} */
      const headers = { accept: "text/event-stream", ...authHeaders() }
      if (lastId !== undefined) headers["last-event-id"] = lastId
      const response = await fetch(path, { headers, signal, cache: "no-store", credentials: "omit" })
      if (!response.ok) {
        const error = await errorOf(response)
        if (error.refused) {
          onStatus("refused", error)
          return
        }
        if (response.status === 404) {
          onStatus("unavailable", error)
          return
        }
        throw error
      }
      if (response.body === null) throw new ApiError(0, "the event stream has no body")
      onStatus("live")
      await readEvents(
        response.body,
        (event) => {
          if (event.id !== undefined) lastId = event.id
          let data
          try {
            data = JSON.parse(event.data)
          } catch {
            return
          }
          onEvent({ id: event.id, event: event.event, data })
        },
        (millis) => {
          retryMillis = millis
        }
      )
    } catch (error) {
      if (signal.aborted) return
      onStatus("reconnecting", error instanceof ApiError ? error : undefined)
    }
    if (signal.aborted) return
    onStatus("reconnecting")
    await new Promise((resolve) => setTimeout(resolve, retryMillis))
  }
}
