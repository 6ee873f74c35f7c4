import { defineConfig } from "vitest/config"

/**
 * Inside the workspace our packages resolve to their TypeScript sources (this condition comes
 * first in each package's `exports`), so tests run without a build; users get `dist/`.
 */
const sourceCondition = "@effect-resilience/source"

/** Node processes the tests start (the demo, the CLI, the crash child) resolve the sources too. */
const nodeOptions = [process.env.NODE_OPTIONS, `--conditions=${sourceCondition}`].filter(Boolean).join(" ")

export default defineConfig({
  // Tests run in Node (Vite's SSR resolution). No "module" condition: it would hand Node the
  // extension-less ESM builds some packages ship for bundlers (@opentelemetry/semantic-conventions).
  ssr: {
    resolve: {
      conditions: [sourceCondition, "node", "development|production"]
    }
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts", "test/**/*.test.ts"],
    env: { NODE_OPTIONS: nodeOptions },
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
