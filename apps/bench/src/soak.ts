/**
 * `pnpm bench soak [records] [transient-rate]`: the soak of the batch runner (test/soak/soak.ts),
 * in a process of its own with `--expose-gc` so that its heap samples are taken after a GC.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(new URL("../../../test/soak/soak.ts", import.meta.url))

export const run = (args: ReadonlyArray<string>): Promise<void> =>
  new Promise((done, fail) => {
    const child = spawn(process.execPath, [...process.execArgv, "--expose-gc", script, ...args], { stdio: "inherit" })
    child.once("error", fail)
    child.once("exit", (code, signal) => {
      process.exitCode = code ?? (signal === null ? 1 : 130)
      done()
    })
  })
