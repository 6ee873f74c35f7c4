/**
 * Worker for `pnpm bench brooker`: runs the points (strategy, clients) it is sent and posts back
 * each averaged row. Every point derives its own seeds, so the results do not depend on how points
 * are spread over workers.
 */
import { parentPort } from "node:worker_threads"
import { type Model, runPoint, type Strategy } from "./brooker-sim.js"

export interface Job {
  readonly index: number
  readonly strategy: Strategy
  readonly clients: number
  readonly trials: number
  readonly seed: number
  readonly base: number
  readonly cap: number
  readonly model: Model
}

parentPort?.on("message", (job: Job) => {
  const started = performance.now()
  const row = runPoint(job)
  parentPort?.postMessage({ index: job.index, row, ms: performance.now() - started })
})
