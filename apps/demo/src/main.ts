/**
 * `pnpm demo`: resilient batch ingest against a misbehaving upstream.
 *
 *   pnpm demo                                  5,000 records, seed 42, 30 % transient failures
 *   pnpm demo --records 20000 --seed 7 --transient-rate 0.4 --mix 5xx=1,429=1,slow=1,reset=1
 *   pnpm demo --batch-id demo-42-1 ...         resume a batch (same id, same records and seed)
 *   pnpm demo --report-json report.json        also write the report as JSON
 *   pnpm demo --crash-test 5                   SIGKILL the ingest 5 times, resume, check against the upstream
 *   pnpm demo --ops-keep-open                  keep the ops dashboard up after the report (Ctrl-C to stop)
 *   pnpm demo upstream --healthy --port 8080   only the upstream (healed: for `pnpm cli dlq replay`)
 *
 * The upstream runs as a child process with its own SQLite file; Ctrl-C / SIGTERM interrupt the
 * run cleanly, `kill -9` too abruptly: either way, run again with the printed --batch-id to resume
 * from the checkpoint. `--help` lists every flag.
 */
import { mkdirSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { parseArgs } from "node:util"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as CrashTest from "./CrashTest.js"
import * as Ingest from "./Ingest.js"
import * as Ops from "./Ops.js"
import * as Upstream from "./Upstream.js"
import * as UpstreamProcess from "./UpstreamProcess.js"

const help = `pnpm demo [upstream] [flags]

ingest (default):
  --records N             records to ingest (default 5000)
  --seed N                seed of the data set and of the failure mix (default 42)
  --batch-id ID           batch id; reuse one to resume its checkpoint (default demo-<seed>-<time>)
  --data-dir DIR          SQLite files and upstream state (default ./data)
  --concurrency N         records in flight (default 64)
  --transient-rate R      share of requests meeting a transient fault, 0..1 (default 0.3)
  --mix K=W,...           weights of the faults 5xx, 429, slow, reset (default 5xx=5,429=2,slow=1,reset=2)
  --malformed-rate R      share of malformed records, refused with 400/422 (default 0.01)
  --slow-ms N             how late a slow answer comes (default 1500)
  --outage-at R           full outage once this share of records was accepted (default 0.4)
  --outage-ms N           outage length, 0 for none (default 2000)
  --attempt-timeout-ms N  per attempt (default 1000)
  --max-attempts N        per record, CircuitOpen rejections included (default 20)
  --deadline-ms N         per record, retries included (default 30000); a record in flight when
                          a run was killed waits this long (and 2 s) before a rerun takes it over
  --read-back N           read N delivered records back by GET after the ingest (default 500)
  --hedging               hedge the GETs: a second request after half the attempt timeout
  --metrics-port N        Prometheus /metrics on 127.0.0.1 (default 0: any free port)
  --report-json FILE      also write the report as JSON
  --progress MODE         auto | tty | lines | off (default auto)
  --no-trace-summary      do not print the trace summary
  --crash-test N          kill the ingest with SIGKILL at N seeded points, resume each time, then
                          check every record against the upstream (delivered once or dead-lettered)
  --upstream-url URL      use an upstream already running instead of starting one

ops server and dashboard (on by default, 127.0.0.1):
  --ops-port N            its port (default 0: any free port; the URL is printed)
  --ops-token T           the operator token (default: a random one, printed)
  --ops-read-only-token T the read-only token (default: a random one, printed)
  --ops-linger N          after the report, keep it (and the upstream) up N more seconds (default 0)
  --ops-keep-open         after the report, keep it up until Ctrl-C
  --ops-wait              start the run only once the dashboard is open with a token (to watch it all)
  --no-ops                no ops server

upstream:
  --port N                port on 127.0.0.1 (default 8080)
  --db FILE               its SQLite file of accepted records (default <data-dir>/upstream.db)
  --healthy               no faults, accept malformed records (the healed upstream for DLQ replay)
  --outage-after N        a full outage of --outage-ms once N records were accepted (default 0: none)
  --seed, --transient-rate, --mix, --slow-ms as above
`

const Int = (min: number) =>
  Schema.NumberFromString.pipe(
    Schema.int({ message: () => "expected a whole number" }),
    Schema.greaterThanOrEqualTo(min, { message: () => `expected a whole number >= ${min}` })
  )
const Ratio = Schema.NumberFromString.pipe(Schema.between(0, 1, { message: () => "expected a number from 0 to 1" }))

const Flags = Schema.Struct({
  records: Int(1),
  seed: Int(0),
  concurrency: Int(1),
  "transient-rate": Ratio,
  "malformed-rate": Ratio,
  "slow-ms": Int(1),
  "outage-at": Ratio,
  "outage-ms": Int(0),
  "attempt-timeout-ms": Int(1),
  "max-attempts": Int(1),
  "deadline-ms": Int(1),
  "read-back": Int(0),
  "metrics-port": Int(0),
  port: Int(0),
  "outage-after": Int(0),
  "crash-test": Int(0),
  "parent-pid": Int(0),
  "ops-port": Int(0),
  "ops-linger": Int(0),
  progress: Schema.Literal("auto", "tty", "lines", "off"),
  mix: Schema.String.pipe(
    Schema.pattern(/^(5xx|429|slow|reset)=\d+(\.\d+)?(,(5xx|429|slow|reset)=\d+(\.\d+)?)*$/, {
      message: () => "expected K=W pairs such as 5xx=5,429=2,slow=1,reset=2"
    })
  )
})

const defaults = {
  records: "5000",
  seed: "42",
  concurrency: "64",
  "transient-rate": "0.3",
  "malformed-rate": "0.01",
  "slow-ms": "1500",
  "outage-at": "0.4",
  "outage-ms": "2000",
  "attempt-timeout-ms": "1000",
  "max-attempts": "20",
  "deadline-ms": "30000",
  "read-back": "500",
  "metrics-port": "0",
  port: "8080",
  "outage-after": "0",
  "crash-test": "0",
  "parent-pid": "0",
  "ops-port": "0",
  "ops-linger": "0",
  progress: "auto",
  mix: "5xx=5,429=2,slow=1,reset=2"
}

const parseMix = (text: string): Upstream.FaultMix["weights"] => {
  const weights = { "5xx": 0, "429": 0, slow: 0, reset: 0 }
  for (const pair of text.split(",")) {
    const [kind, weight] = pair.split("=")
    if (kind === "5xx" || kind === "429" || kind === "slow" || kind === "reset") weights[kind] = Number(weight)
  }
  return weights
}

const stringOptions = [
  "records",
  "seed",
  "batch-id",
  "data-dir",
  "concurrency",
  "transient-rate",
  "mix",
  "malformed-rate",
  "slow-ms",
  "outage-at",
  "outage-ms",
  "attempt-timeout-ms",
  "max-attempts",
  "deadline-ms",
  "read-back",
  "metrics-port",
  "report-json",
  "progress",
  "port",
  "db",
  "outage-after",
  "crash-test",
  "parent-pid",
  "upstream-url",
  "ops-port",
  "ops-token",
  "ops-read-only-token",
  "ops-linger"
] as const

// `pnpm demo` runs in apps/demo: resolve paths from where the command was typed.
const base = process.env.INIT_CWD ?? process.cwd()

const main = Effect.gen(function* () {
  const parsed = yield* Effect.try({
    try: () =>
      parseArgs({
        args: process.argv.slice(2).filter((a) => a !== "--"),
        allowPositionals: true,
        options: {
          ...Object.fromEntries(stringOptions.map((name) => [name, { type: "string" as const }])),
          hedging: { type: "boolean" },
          healthy: { type: "boolean" },
          "no-trace-summary": { type: "boolean" },
          "no-ops": { type: "boolean" },
          "ops-keep-open": { type: "boolean" },
          "ops-wait": { type: "boolean" },
          help: { type: "boolean", short: "h" }
        }
      }),
    catch: (e) => (e instanceof Error ? e.message : String(e))
  })
  const values = parsed.values
  if (values.help === true) {
    process.stdout.write(help)
    return
  }
  const text = (name: string): string | undefined => {
    const v: unknown = Reflect.get(values, name)
    return typeof v === "string" ? v : undefined
  }
  const raw = Object.fromEntries(Object.entries(defaults).map(([k, d]) => [k, text(k) ?? d]))
  const flags = yield* Schema.decodeUnknown(Flags)(raw).pipe(
    Effect.mapError((e) =>
      ParseResult.ArrayFormatter.formatErrorSync(e)
        .map((issue) => `--${issue.path.map(String).join(".")}: ${issue.message}`)
        .join("; ")
    )
  )
  const mix: Upstream.FaultMix = { transientRate: flags["transient-rate"], weights: parseMix(flags.mix) }
  const command = parsed.positionals[0] ?? "ingest"

  const dataDir = resolve(base, text("data-dir") ?? "data")
  if (command === "upstream") {
    const healthy = values.healthy === true
    const db = resolve(base, text("db") ?? join(dataDir, "upstream.db"))
    mkdirSync(dirname(db), { recursive: true })
    const upstream = yield* Upstream.start({
      port: flags.port,
      seed: flags.seed,
      mix,
      slow: Duration.millis(flags["slow-ms"]),
      outageAfter: flags["outage-after"] > 0 ? flags["outage-after"] : undefined,
      outage: Duration.millis(flags["outage-ms"]),
      healthy,
      db
    })
    const parent = flags["parent-pid"]
    if (parent > 0) {
      // started by the demo: say where we listen, and die with the demo however it dies
      UpstreamProcess.watchParent(parent, () => process.exit(0))
      process.stdout.write(UpstreamProcess.readyLine(upstream.url))
    } else {
      process.stderr.write(
        `upstream ${healthy ? "(healthy: no faults, accepts every record)" : "(misbehaving)"} at ${upstream.url}/records, accepted records in ${db}; Ctrl-C stops it\n`
      )
    }
    return yield* Effect.never
  }
  if (command !== "ingest") return yield* Effect.fail(`unknown command "${command}" (try --help)`)

  const batchId = text("batch-id") ?? `demo-${flags.seed}-${Date.now()}`
  const ingest: Ingest.IngestOptions = {
    records: flags.records,
    seed: flags.seed,
    batchId,
    dataDir,
    concurrency: flags.concurrency,
    mix,
    malformedRate: flags["malformed-rate"],
    slow: Duration.millis(flags["slow-ms"]),
    outageAt: flags["outage-at"],
    outage: Duration.millis(flags["outage-ms"]),
    attemptTimeout: Duration.millis(flags["attempt-timeout-ms"]),
    deadline: Duration.millis(flags["deadline-ms"]),
    maxAttempts: flags["max-attempts"],
    hedging: values.hedging === true,
    readBack: flags["read-back"],
    metricsPort: flags["metrics-port"],
    reportJson: resolvePath(text("report-json")),
    progress: flags.progress,
    traceSummary: values["no-trace-summary"] !== true,
    upstreamUrl: text("upstream-url")
  }
  if (flags["crash-test"] > 0) {
    // each run gets the user's flags, with the batch id and data folder made explicit
    const args = process.argv.slice(2).filter((a) => a !== "--")
    const ingestArgs: Array<string> = []
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] ?? ""
      const name = arg.startsWith("--") ? arg.slice(2).split("=")[0] : undefined
      if (name === "crash-test" || name === "report-json" || name === "batch-id" || name === "data-dir") {
        if (!arg.includes("=")) i++
        continue
      }
      ingestArgs.push(arg)
    }
    // the killed runs serve no dashboard
    ingestArgs.push("--batch-id", batchId, "--data-dir", dataDir, "--no-ops")
    mkdirSync(dataDir, { recursive: true })
    yield* CrashTest.run({ kills: flags["crash-test"], ingest, ingestArgs })
    return
  }
  const ops =
    values["no-ops"] === true
      ? undefined
      : Ops.start({
          port: flags["ops-port"],
          operatorToken: text("ops-token"),
          readOnlyToken: text("ops-read-only-token"),
          linger: values["ops-keep-open"] === true ? "forever" : Duration.seconds(flags["ops-linger"]),
          waitForDashboard: values["ops-wait"] === true,
          dlqFile: Ingest.files(dataDir, batchId).dlq,
          upstream: {
            ...Ingest.upstreamOptions(ingest, Ingest.files(dataDir, batchId).upstream),
            // an upstream given with --upstream-url keeps its file where it is: the healed copy gets its own
            ...(ingest.upstreamUrl === undefined ? {} : { db: join(dataDir, "upstream-healed.db") })
          }
        })
  yield* Ingest.run({ ...ingest, ops })
}).pipe(Effect.scoped)

function resolvePath(path: string | undefined): string | undefined {
  return path === undefined ? undefined : resolve(base, path)
}

NodeRuntime.runMain(
  main.pipe(
    Effect.catchAll((error) =>
      Effect.sync(() => {
        process.stderr.write(`error: ${typeof error === "string" ? error : error.message}\n`)
        process.exitCode = 1
      })
    )
  ),
  {
    // interrupted by Ctrl-C / SIGTERM: exit 130, as shells expect of an interrupted command
    teardown: (exit, onExit) =>
      onExit(Exit.isSuccess(exit) ? (process.exitCode === 1 ? 1 : 0) : Cause.isInterruptedOnly(exit.cause) ? 130 : 1)
  }
)
