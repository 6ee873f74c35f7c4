/**
 * The progress line on stderr: done / total, rate, retries, breaker state. On a terminal it is
 * redrawn in place a few times a second; otherwise (a pipe, CI) a plain line every 2 seconds.
 */
import type * as Batch from "@effect-resilience/durable/Batch"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

export type Mode = "auto" | "tty" | "lines" | "off"

export interface Sources {
  readonly total: number
  readonly progress: Effect.Effect<Option.Option<Batch.Progress>>
  readonly retries: Effect.Effect<number>
  readonly breaker: Effect.Effect<string>
}

const bar = (done: number, total: number, width: number): string => {
  const filled = total === 0 ? width : Math.round((done / total) * width)
  return `${"#".repeat(filled)}${"-".repeat(Math.max(0, width - filled))}`
}

const line = (
  sources: Sources,
  progress: Option.Option<Batch.Progress>,
  retries: number,
  breaker: string,
  tty: boolean
) => {
  const p = Option.getOrUndefined(progress)
  const done = p?.done ?? 0
  const rate = p?.rate ?? 0
  const eta =
    p === undefined
      ? ""
      : Option.match(p.etaMillis, { onNone: () => "", onSome: (ms) => ` eta ${Math.ceil(ms / 1000)}s` })
  const head = tty ? `[${bar(done, sources.total, 24)}] ` : ""
  return `${head}${done}/${sources.total} ${rate.toFixed(0)}/s${eta} | ok ${p?.succeeded ?? 0} dlq ${
    p?.deadLettered ?? 0
  } skipped ${p?.skipped ?? 0} | retries ${retries} | breaker ${breaker}`
}

export interface Renderer {
  readonly stop: Effect.Effect<void>
}

export const start = (mode: Mode, sources: Sources): Effect.Effect<Renderer, never, Scope.Scope> =>
  Effect.gen(function* () {
    const tty = mode === "tty" || (mode === "auto" && process.stderr.isTTY === true)
    if (mode === "off") return { stop: Effect.void }
    const draw = Effect.gen(function* () {
      const text = line(sources, yield* sources.progress, yield* sources.retries, yield* sources.breaker, tty)
      process.stderr.write(tty ? `\r\u001b[2K${text}` : `${text}\n`)
    })
    const fiber = yield* Effect.forkScoped(Effect.repeat(draw, Schedule.spaced(tty ? "200 millis" : "2 seconds")))
    let stopped = false
    return {
      stop: Effect.suspend(() => {
        if (stopped) return Effect.void
        stopped = true
        return Effect.zipRight(
          Fiber.interrupt(fiber),
          Effect.zipRight(
            draw,
            Effect.sync(() => tty && process.stderr.write("\n"))
          )
        )
      })
    }
  })
