/**
 * What the ops server tests share: tokens, a JSON call over real HTTP, and a server-sent events
 * client (fetch + ReadableStream, the way the dashboard reads the streams, since a browser's
 * EventSource cannot send an Authorization header).
 */
import { OpsServer } from "@effect-resilience/ops"
import { expect } from "@effect/vitest"
import { Effect, Schema, type Scope } from "effect"

export const operatorToken = "operator-token-for-the-tests"
export const readOnlyToken = "read-only-token-for-the-tests"

export const tokens: OpsServer.ConfigInput["tokens"] = [
  { name: "alice", role: "operator", sha256: OpsServer.hashToken(operatorToken) },
  { name: "dashboard", role: "read-only", sha256: OpsServer.hashToken(readOnlyToken) }
]

export interface Reply {
  readonly status: number
  readonly body: unknown
  readonly text: string
  readonly headers: Headers
}

export const call = (
  method: "GET" | "POST",
  path: string,
  options: { readonly token?: string; readonly body?: unknown; readonly headers?: Record<string, string> } = {}
): Effect.Effect<Reply, never, OpsServer.OpsServer> =>
  Effect.flatMap(OpsServer.OpsServer, (server) =>
    Effect.promise(async () => {
      const headers: Record<string, string> = { ...options.headers }
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
      if (options.body !== undefined) headers["content-type"] = "application/json"
      const response = await fetch(new URL(path, server.url), {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
      })
      const text = await response.text()
      let body: unknown
      try {
        body = text === "" ? undefined : JSON.parse(text)
      } catch {
        body = undefined
      }
      return { status: response.status, body, text, headers: response.headers }
    })
  )

export const ErrorBody = Schema.Struct({
  _tag: Schema.String,
  message: Schema.optional(Schema.String),
  issues: Schema.optional(
    Schema.Array(
      Schema.Struct({ path: Schema.Array(Schema.Union(Schema.String, Schema.Number)), message: Schema.String })
    )
  )
})

/** A reply's body, decoded with the schema the API promises for it. */
export const body = <A, I>(schema: Schema.Schema<A, I>, reply: Reply): A => Schema.decodeUnknownSync(schema)(reply.body)

/** No stack trace, host, or credential in a body; no cookie; nothing cached. */
export const clean = (reply: { readonly text: string; readonly headers: Headers }) => {
  expect(reply.text).not.toMatch(/\n\s+at |node:internal|127\.0\.0\.1|localhost/)
  expect(reply.text).not.toContain(operatorToken)
  expect(reply.text).not.toContain(readOnlyToken)
  expect(reply.headers.get("set-cookie")).toBeNull()
  expect(reply.headers.get("cache-control")).toBe("no-store")
}

/** One block of an event stream: an event (`id`, `event`, `data`), a `retry:` hint or a comment. */
export interface Block {
  readonly id?: string
  readonly event?: string
  readonly data?: string
  readonly retry?: number
  readonly comment?: string
}

const parseBlock = (text: string): Block => {
  const block: { id?: string; event?: string; data?: string; retry?: number; comment?: string } = {}
  for (const line of text.split("\n")) {
    if (line.startsWith(":")) block.comment = line.slice(1).trim()
    else {
      const colon = line.indexOf(":")
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
      if (field === "id") block.id = value
      else if (field === "event") block.event = value
      else if (field === "data") block.data = block.data === undefined ? value : `${block.data}\n${value}`
      else if (field === "retry") block.retry = Number(value)
    }
  }
  return block
}

export interface EventStreamClient {
  readonly status: number
  readonly headers: Headers
  /** The next block; fails when the stream ends first or none comes within 10 s (a liveness bound). */
  readonly next: Effect.Effect<Block>
  /** The next block that is an event (heartbeats and the retry hint skipped). */
  readonly nextEvent: Effect.Effect<Block>
  /** Resolves true when the server ends the stream (reading and dropping what comes until then). */
  readonly ended: Effect.Effect<boolean>
  /** The body of a refused request. */
  readonly text: string
}

/** Opens an event stream; it is disconnected when the scope closes (or `disconnect` runs). */
export const openEvents = (
  path: string,
  options: { readonly token?: string; readonly lastEventId?: string } = {}
): Effect.Effect<
  EventStreamClient & { readonly disconnect: Effect.Effect<void> },
  never,
  OpsServer.OpsServer | Scope.Scope
> =>
  Effect.flatMap(OpsServer.OpsServer, (server) =>
    Effect.acquireRelease(
      Effect.promise(async () => {
        const controller = new AbortController()
        const headers: Record<string, string> = { accept: "text/event-stream" }
        if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
        if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId
        const response = await fetch(new URL(path, server.url), { headers, signal: controller.signal })
        const refused = response.status !== 200
        const text = refused ? await response.text() : ""
        const reader = refused ? undefined : response.body?.getReader()
        const decoder = new TextDecoder()
        let buffer = ""
        const pending: Array<Block> = []
        let done = false
        const fill = async (): Promise<void> => {
          while (pending.length === 0 && !done && reader !== undefined) {
            const chunk = await reader.read()
            if (chunk.done) {
              done = true
              break
            }
            buffer += decoder.decode(chunk.value, { stream: true })
            let end = buffer.indexOf("\n\n")
            while (end >= 0) {
              pending.push(parseBlock(buffer.slice(0, end)))
              buffer = buffer.slice(end + 2)
              end = buffer.indexOf("\n\n")
            }
          }
        }
        const read = async (): Promise<Block> => {
          await fill()
          const block = pending.shift()
          if (block === undefined) throw new Error("the event stream ended")
          return block
        }
        const readEvent = async (): Promise<Block> => {
          for (;;) {
            const block = await read()
            if (block.event !== undefined) return block
          }
        }
        const untilEnd = async (): Promise<boolean> => {
          for (;;) {
            pending.length = 0
            await fill()
            if (done) return true
          }
        }
        return {
          status: response.status,
          headers: response.headers,
          text,
          next: Effect.promise(read).pipe(Effect.timeout("10 seconds"), Effect.orDie),
          nextEvent: Effect.promise(readEvent).pipe(Effect.timeout("10 seconds"), Effect.orDie),
          ended: Effect.promise(untilEnd).pipe(Effect.timeout("10 seconds"), Effect.orDie),
          disconnect: Effect.sync(() => controller.abort())
        }
      }),
      (client) => client.disconnect
    )
  )
