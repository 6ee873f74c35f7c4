/**
 * The overload plots, drawn by Vega-Lite and rendered to SVG by Vega without a browser: one chart
 * per metric over time (offered load at the server, goodput, share of timeouts, queue length), a
 * line per configuration, the trigger shaded.
 */
import * as vega from "vega"
import * as vl from "vega-lite"
import type { Run, Scenario } from "./sim.js"

/** The metrics plotted, each read from a bin. */
const metrics = [
  { key: "offered", title: "offered load at the server (requests/s)" },
  { key: "goodput", title: "goodput (successful calls/s)" },
  { key: "timeouts", title: "share of attempts timed out" },
  { key: "queue", title: "server queue length" }
] as const

const rows = (runs: ReadonlyArray<Run>, binSeconds: number) =>
  runs.flatMap((run) =>
    run.bins.map((b) => ({
      configuration: run.configuration,
      t: b.t,
      offered: b.serverArrivals / binSeconds,
      goodput: b.goodput / binSeconds,
      timeouts: b.attemptsEnded === 0 ? 0 : b.timeouts / b.attemptsEnded,
      queue: b.queue
    }))
  )

/** An SVG of the four metrics over time for `runs` (up to about ten lines stay readable). */
export const svg = async (title: string, scenario: Scenario, runs: ReadonlyArray<Run>): Promise<string> => {
  const start = scenario.triggerAtMillis / 1000
  const end = start + scenario.triggerMillis / 1000
  const spec: vl.TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    data: { values: rows(runs, scenario.binMillis / 1000) },
    vconcat: metrics.map((m) => ({
      width: 720,
      height: 140,
      layer: [
        {
          data: { values: [{ start, end }] },
          mark: { type: "rect", color: "#f4cccc" },
          encoding: { x: { field: "start", type: "quantitative" }, x2: { field: "end" } }
        },
        {
          mark: { type: "line", strokeWidth: 1.2 },
          encoding: {
            x: { field: "t", type: "quantitative", title: "seconds (trigger shaded)" },
            y: { field: m.key, type: "quantitative", title: m.title },
            color: { field: "configuration", type: "nominal", legend: { orient: "right" } }
          }
        }
      ]
    }))
  }
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" })
  const out = await view.toSVG()
  view.finalize()
  return out
}
