import { defineConfig } from "vitest/config"

/**
 * Inside the workspace our packages resolve to their TypeScript sources (the `exports` condition
 * below comes first in each package.json), so tests run without a build; users get `dist/`.
 */
const sourceCondition = "@effect-resilience/source"

/** Node processes the tests start (the demo, the CLI, the crash child) resolve the sources too. */
const nodeOptions = [process.env.NODE_OPTIONS, `--conditions=${sourceCondition}`].filter(Boolean).join(" ")

export default defineConfig({
  resolve: {
    conditions: [sourceCondition, "module", "browser", "development|production"]
  },
  ssr: {
    resolve: {
      conditions: [sourceCondition, "module", "node", "development|production"]
    }
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts", "test/**/*.test.ts"],
    env: { NODE_OPTIONS: nodeOptions },
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
