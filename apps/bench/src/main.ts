/**
 * `pnpm bench NAME [args]`: runs one benchmark or experiment. Each writes its results under
 * `apps/bench/results/` and prints a table.
 */
const benches: Record<
  string,
  { readonly describe: string; readonly run: (args: ReadonlyArray<string>) => Promise<void> }
> = {
  admission: {
    describe:
      "ns/op added by each synchronous admission core (budget, bulkhead, rate limiter, throttles) vs Effect.succeed (--runs N)",
    run: async (args) => (await import("./admission.js")).run(args)
  },
  brooker: {
    describe: "Brooker's backoff-and-jitter contention experiment (--seed N --trials N --clients 10,20)",
    run: async (args) => (await import("./brooker.js")).run(args)
  },
  overhead: {
    describe:
      "cost of the pipeline on the built dist vs bare Effect loops, opossum, cockatiel, p-retry (--quick --rounds N --only a,b)",
    run: async (args) => (await import("./overhead.js")).run(args)
  },
  ingest: {
    describe:
      "the demo's ingest vs bare fetch and HttpClient loops against a healthy upstream in its own process: records/s, CPU ms/record, p99 (--quick --rounds N --records N --only a,b --cpu-prof DIR)",
    run: async (args) => (await import("./ingest.js")).run(args)
  },
  dlq: {
    describe:
      "dead letter insert/replay throughput on memory, SQLite, PostgreSQL; checkpoint overhead per batch item (--items N --runs N --pg-url URL)",
    run: async (args) => (await import("./dlq.js")).run(args)
  },
  classify: {
    describe: "ns/op of the default Classifier on tagged failures and raw errors vs a baseline (--runs N)",
    run: async (args) => (await import("./classify.js")).run(args)
  },
  redis: {
    describe:
      "breaker shared on Redis: decision cost vs memory, time for an opening to reach 3 processes, Redis commands/s per process (--runs N --seconds S --flush MS)",
    run: async (args) => (await import("./redis.js")).run(args)
  },
  breaker: {
    describe: "ns/op the circuit breaker adds (sync core and protect) to Effect.succeed in a loop (--runs N)",
    run: async (args) => (await import("./breaker.js")).run(args)
  },
  overload: {
    describe:
      "retry storms and recovery: a seeded simulation of Bronson's scenario, then real processes (--seed N --no-real)",
    run: async (args) => (await import("./overload/main.js")).run(args)
  },
  soak: {
    describe:
      "records through the batch runner against the demo's faulty upstream: heap slope, open descriptors, every record accounted for ([records] [transient-rate], default 100000 0.1)",
    run: async (args) => (await import("./soak.js")).run(args)
  }
}

const [name, ...args] = process.argv.slice(2)
const bench = name === undefined ? undefined : benches[name]
if (bench === undefined) {
  process.stderr.write(
    `usage: pnpm bench <name> [args]\n\n${Object.entries(benches)
      .map(([n, b]) => `  ${n.padEnd(12)} ${b.describe}`)
      .join("\n")}\n`
  )
  process.exit(name === undefined ? 0 : 1)
} else {
  await bench.run(args)
}
