// @ts-check
/**
 * Time-series charts on uPlot (loaded by index.html as the global `uPlot`), with a text summary
 * next to each chart for screen readers and for anyone who wants the numbers.
 */

/** Colors with at least 3:1 contrast against white, told apart by dash pattern too. */
const palette = [
  { stroke: "#1f5fbf", dash: undefined },
  { stroke: "#b3261e", dash: [6, 3] },
  { stroke: "#7a4d00", dash: [2, 3] },
  { stroke: "#4a2a8c", dash: [10, 4, 2, 4] },
  { stroke: "#00695c", dash: [4, 4] },
  { stroke: "#6d4c41", dash: [1, 2] },
  { stroke: "#37474f", dash: [8, 2] }
]

/**
 * @typedef {{ label: string, values: ReadonlyArray<number | null> }} Series
 */

export class Chart {
  /**
   * @param {HTMLElement} container
   * @param {HTMLElement} summary
   * @param {{ format: (value: number) => string }} options
   */
  constructor(container, summary, options) {
    this.container = container
    this.summary = summary
    this.format = options.format
    /** @type {any} */
    this.plot = undefined
    this.labels = ""
    new ResizeObserver(() => {
      if (this.plot !== undefined) this.plot.setSize(this.size())
    }).observe(container)
  }

  size() {
    return { width: Math.max(280, this.container.clientWidth), height: 220 }
  }

  /**
   * @param {ReadonlyArray<number>} timesMillis
   * @param {ReadonlyArray<Series>} series
   */
  update(timesMillis, series) {
    const uPlot = Reflect.get(globalThis, "uPlot")
    const labels = series.map((s) => s.label).join("\u0000")
    const data = [
      timesMillis.map((t) => t / 1000),
      ...series.map((s) => s.values.map((v) => (Number.isFinite(v) ? v : null)))
    ]
    if (typeof uPlot === "function") {
      if (this.plot === undefined || labels !== this.labels) {
        this.plot?.destroy()
        this.container.replaceChildren()
        const format = this.format
        this.plot = new uPlot(
          {
            ...this.size(),
            legend: { live: true },
            cursor: { drag: { x: false, y: false } },
            scales: {
              y: {
                range: (/** @type {any} */ _u, /** @type {number} */ _min, /** @type {number} */ max) => [
                  0,
                  max > 0 ? max * 1.1 : 1
                ]
              }
            },
            axes: [
              {},
              {
                values: (/** @type {any} */ _u, /** @type {number[]} */ ticks) => ticks.map(format),
                size: 64
              }
            ],
            series: [
              { label: "time" },
              ...series.map((s, i) => {
                const look = palette[i % palette.length] ?? palette[0]
                return {
                  label: s.label,
                  stroke: look?.stroke,
                  dash: look?.dash,
                  width: 2,
                  spanGaps: false,
                  value: (/** @type {any} */ _u, /** @type {number | null} */ v) => (v === null ? "–" : format(v))
                }
              })
            ]
          },
          data,
          this.container
        )
        this.labels = labels
      } else {
        this.plot.setData(data)
      }
    } else {
      this.container.textContent = "The chart library did not load; the latest values are below."
    }
    const latest = series
      .map((s) => {
        const v = lastFinite(s.values)
        return `${s.label} ${v === undefined ? "–" : this.format(v)}`
      })
      .join(", ")
    this.summary.textContent = series.length === 0 ? "No data yet." : `Latest: ${latest}.`
  }
}

/** @param {ReadonlyArray<number | null>} values */
const lastFinite = (values) => {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i]
    if (typeof v === "number" && Number.isFinite(v)) return v
  }
  return undefined
}

/** A rate per second: one decimal below 10. @param {number} v */
export const perSecond = (v) => `${v < 10 ? v.toFixed(1) : Math.round(v)}/s`

/** A duration in milliseconds: seconds from 1000 ms on. @param {number} v */
export const millis = (v) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)} s` : `${Math.round(v)} ms`)
