/**
 * `pnpm bench classify [--runs N] [--iterations N] [--out FILE]`: first the accuracy of the default
 * Classifier on the live corpus of real failures (test/corpus: every case provoked against servers
 * started on 127.0.0.1), per source library, on raw values and on `Failures.fromUnknown(raw)`:
 * category, retryable, countsForBreaker and all three; then the nanoseconds per classification of
 * the corpus' raw failures and tagged failures, and per `Failures.fromUnknown` (the cost of building
 * a tagged failure at the boundary, goal < 1 us). Then nanoseconds per call of the
 * default Classifier (with one user exhaustive mapping installed, as an application would have it)
 * on already-tagged failures and on raw unknowns, against a same-process baseline that reads `_tag`
 * and switches to a constant. Each case is the median of `runs` timed loops of `iterations` calls
 * after a warm-up. Writes `apps/bench/results/classify.json` (`{ corpus: { accuracy, cost }, perCase:
 * [{ case, nsPerOp }] }`) and prints the tables. The target: an already-tagged failure costs at most 200 ns.
 */
import { Classification, Classifier, Errors, Failures } from "@effect-resilience/core"
import * as corpus from "@effect-resilience/test/corpus"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { median, parseRunArgs } from "./support.js"

const TARGET_NS = 200

class PaymentDeclined extends Schema.TaggedError<PaymentDeclined>()("PaymentDeclined", { reason: Schema.String }) {}
class InventoryLow extends Schema.TaggedError<InventoryLow>()("InventoryLow", { sku: Schema.String }) {}
class Backorder extends Schema.TaggedError<Backorder>()("Backorder", { sku: Schema.String }) {}

const declined = Classification.make({ category: "business", code: "payment.declined", message: "Payment declined" })

const inventory = Classification.make({ category: "resource", code: "inventory.low", message: "Out of stock" })

const mapping = Classifier.exhaustive<PaymentDeclined | InventoryLow | Backorder>()({
  PaymentDeclined: declined,
  InventoryLow: (e) => (e.sku.length > 0 ? inventory : declined),
  // Declares `base`: asks the defaults about a tag they do not know, i.e. a structural walk.
  Backorder: (_, base) => (base.retryable ? inventory : declined)
})

interface Case {
  readonly name: string
  /** Counted against the target for already-tagged failures. */
  readonly tagged: boolean
  readonly failure: unknown
}

const cases: ReadonlyArray<Case> = [
  { name: "tagged HttpError 503", tagged: true, failure: new Failures.HttpError({ status: 503 }) },
  {
    name: "tagged HttpError 429 + Retry-After",
    tagged: true,
    failure: new Failures.HttpError({ status: 429, headers: { "retry-after": "2" } })
  },
  { name: "tagged NetworkError ECONNRESET", tagged: true, failure: new Failures.NetworkError({ code: "ECONNRESET" }) },
  { name: "tagged PgError 40001", tagged: true, failure: new Failures.PgError({ code: "40001" }) },
  {
    name: "runtime CircuitOpen",
    tagged: true,
    failure: new Errors.CircuitOpen({ breaker: "upstream", retryAfterMillis: 1500 })
  },
  {
    name: "runtime AttemptTimeout",
    tagged: true,
    failure: new Errors.AttemptTimeout({ operation: "get", attempt: 1, timeoutMillis: 100 })
  },
  { name: "user-mapped PaymentDeclined", tagged: true, failure: new PaymentDeclined({ reason: "funds" }) },
  { name: "user-mapped InventoryLow (fn of e)", tagged: true, failure: new InventoryLow({ sku: "A1" }) },
  {
    name: "user-mapped Backorder (fn of e, base) *",
    tagged: false,
    failure: new Backorder({ sku: "A1" })
  },
  {
    name: "raw Node Error ECONNRESET",
    tagged: false,
    failure: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104, syscall: "read" })
  },
  {
    name: "raw TypeError fetch failed (cause)",
    tagged: false,
    failure: new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED", syscall: "connect" })
    })
  },
  {
    name: "raw pg error 40P01",
    tagged: false,
    failure: { name: "error", severity: "ERROR", code: "40P01", message: "deadlock detected" }
  },
  { name: "raw plain Error (unknown)", tagged: false, failure: new Error("boom") }
]

/** The baseline: what a hand-written classifier costs at least (read `_tag`, switch, constant). */
const constants = {
  unavailable: Classification.make({ category: "unavailable", code: "http.503", message: "Service unavailable" }),
  network: Classification.make({ category: "network", code: "node.ECONNRESET", message: "Connection reset" }),
  unknown: Classification.unknown
}
const baseline = (u: unknown): Classification.Classification => {
  if (typeof u !== "object" || u === null || !("_tag" in u)) return constants.unknown
  switch (u._tag) {
    case "HttpError":
      return constants.unavailable
    case "NetworkError":
      return constants.network
    default:
      return constants.unknown
  }
}

const parseArgs = (args: ReadonlyArray<string>) =>
  parseRunArgs(args, { runs: 9, iterations: 1_000_000, name: "classify" })

/**
 * One timed loop; returns CPU nanoseconds per call (user + system CPU time of this process, not wall
 * time: on a shared, loaded machine wall time mostly measures the other processes). The sink keeps
 * the calls from being optimised away.
 */
const timeLoop = (
  classify: (u: unknown) => Classification.Classification,
  failure: unknown,
  iterations: number,
  sink: { value: number }
): number => {
  let acc = 0
  const start = process.cpuUsage()
  for (let i = 0; i < iterations; i++) {
    const c = classify(failure)
    acc += c.retryable ? 1 : c.code.length
  }
  const used = process.cpuUsage(start)
  sink.value += acc
  return ((used.user + used.system) * 1000) / iterations
}

const FROM_UNKNOWN_TARGET_NS = 1000

/** CPU nanoseconds per call of `f` over every value of `values`, `rounds` times through the list. */
const timeOver = <A>(f: (u: unknown) => A, values: ReadonlyArray<unknown>, calls: number, sink: { value: number }) => {
  const rounds = Math.max(1, Math.floor(calls / values.length))
  let acc = 0
  const start = process.cpuUsage()
  for (let r = 0; r < rounds; r++) {
    for (const v of values) acc += f(v) === undefined ? 0 : 1
  }
  const used = process.cpuUsage(start)
  sink.value += acc
  return ((used.user + used.system) * 1000) / (rounds * values.length)
}

/** Accuracy on the live corpus, and the cost of classifying and tagging its failures. */
const runCorpus = async (options: { readonly runs: number; readonly iterations: number }, sink: { value: number }) => {
  const env = await corpus.start()
  let provoked: ReadonlyArray<corpus.Provoked>
  try {
    provoked = await corpus.provokeAll(env)
  } finally {
    await env.close()
  }
  const classifier = Effect.runSync(Classifier.make())
  const scored = corpus.score(provoked, classifier.classify)
  const accuracy = corpus.rows(scored)
  process.stdout.write(
    `Accuracy of the default Classifier on the live corpus (${provoked.length} real failures):\n\n` +
      `${corpus.table(accuracy)}\n\nwrong answers:\n${corpus.misses(scored).join("\n") || "(none)"}\n\n`
  )
  const raws = provoked.filter((p) => p.broken === undefined).map((p) => p.raw)
  const tagged = raws.map((u) => Failures.fromUnknown(u))
  const timed: ReadonlyArray<{
    readonly case: string
    readonly fn: (u: unknown) => unknown
    readonly values: ReadonlyArray<unknown>
    readonly runs: Array<number>
  }> = [
    { case: "corpus: classify raw failure", fn: classifier.classify, values: raws, runs: [] },
    { case: "corpus: classify tagged failure", fn: classifier.classify, values: tagged, runs: [] },
    { case: "corpus: Failures.fromUnknown(raw)", fn: Failures.fromUnknown, values: raws, runs: [] }
  ]
  const calls = Math.max(raws.length, Math.floor(options.iterations / 4))
  for (const t of timed) timeOver(t.fn, t.values, calls, sink)
  for (let round = 0; round < options.runs; round++) {
    for (const t of timed) t.runs.push(timeOver(t.fn, t.values, calls, sink))
  }
  const cost = timed.map((t) => ({ case: t.case, nsPerOp: Number(median(t.runs).toFixed(1)) }))
  const lines = [
    `| case (mean over the corpus' ${raws.length} failures) | ns/op (median of ${options.runs}) | target |`,
    "|---|---:|---|"
  ]
  for (const c of cost) {
    const target = c.case.includes("fromUnknown")
      ? c.nsPerOp < FROM_UNKNOWN_TARGET_NS
        ? `< ${FROM_UNKNOWN_TARGET_NS} ns: ok`
        : `>= ${FROM_UNKNOWN_TARGET_NS} ns: FAIL`
      : ""
    lines.push(`| ${c.case} | ${c.nsPerOp.toFixed(1)} | ${target} |`)
  }
  process.stdout.write(`${lines.join("\n")}\n\n`)
  return { accuracy, cost }
}

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseArgs(args)
  const sink = { value: 0 }
  const fromCorpus = await runCorpus(options, sink)
  const classifier = Effect.runSync(Classifier.make({ mappings: [mapping] }))
  const classify = classifier.classify

  const measured: Array<{ readonly name: string; readonly tagged: boolean | undefined; readonly runs: number[] }> = [
    { name: "baseline: read _tag + switch", tagged: undefined, runs: [] },
    ...cases.map((c) => ({ name: c.name, tagged: c.tagged, runs: [] }))
  ]
  const targets: ReadonlyArray<{
    readonly fn: (u: unknown) => Classification.Classification
    readonly failure: unknown
  }> = [
    { fn: baseline, failure: new Failures.HttpError({ status: 503 }) },
    ...cases.map((c) => ({ fn: classify, failure: c.failure }))
  ]

  // Warm-up: every case, so that the classify function sees all shapes before timing (as it would
  // in a service), then rounds in which every case is timed once, interleaved.
  for (const t of targets) timeLoop(t.fn, t.failure, Math.min(200_000, options.iterations), sink)
  for (let round = 0; round < options.runs; round++) {
    targets.forEach((t, i) => {
      measured[i]?.runs.push(timeLoop(t.fn, t.failure, options.iterations, sink))
    })
  }

  const rows = measured.map((m) => ({ case: m.name, nsPerOp: Number(median(m.runs).toFixed(1)) }))
  const base = rows[0]?.nsPerOp ?? 1
  const header = `| case | ns/op (median of ${options.runs}) | × baseline | target |`
  const lines = [header, "|---|---:|---:|---|"]
  measured.forEach((m, i) => {
    const ns = rows[i]?.nsPerOp ?? 0
    const target = m.tagged === true ? (ns <= TARGET_NS ? `≤ ${TARGET_NS} ns: ok` : `> ${TARGET_NS} ns: FAIL`) : ""
    lines.push(`| ${m.name} | ${ns.toFixed(1)} | ${(ns / base).toFixed(1)} | ${target} |`)
  })
  process.stdout.write(`${lines.join("\n")}\n`)
  process.stdout.write(
    "\n* a mapping function that declares `base` asks the defaults about a tag they do not know: that is a" +
      "\n  structural walk of the failure, as for a raw unknown, so it is not counted against the target.\n"
  )
  const worstTagged = Math.max(...measured.flatMap((m, i) => (m.tagged === true ? [rows[i]?.nsPerOp ?? 0] : [])))
  process.stdout.write(
    `\nslowest already-tagged case: ${worstTagged.toFixed(1)} ns/op (target ≤ ${TARGET_NS} ns) ` +
      `on Node ${process.version}, ${options.iterations} calls x ${options.runs} runs (sink ${sink.value > 0 ? "ok" : "0"})\n`
  )
  mkdirSync(dirname(options.out), { recursive: true })
  writeFileSync(options.out, `${JSON.stringify({ corpus: fromCorpus, perCase: rows }, null, 2)}\n`)
  process.stdout.write(`wrote ${options.out}\n`)
}
