/**
 * End to end in a real browser: `pnpm demo` as a child process (its ops server on by default,
 * kept open after the report), and Debian's Chromium driven by playwright-core on its dashboard.
 * The page, opened while the demo runs, shows the upstream's breaker go open during the outage and
 * closed again, and a spike alert; a dead letter replayed with the read-only token, and then with
 * no token, is refused (403, 401) and nothing changes (the entry, the audit trail, the upstream's
 * accepted records); replayed with the operator token, it is resolved, the healed upstream
 * accepted it (checked in the upstream's own ledger) and the audit trail shows who did it.
 *
 * Each step is saved as a screenshot: in the test's temporary folder, or in docs/screenshots/
 * with `E2E_SCREENSHOTS=docs` (how the README's pictures are made).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type Browser, chromium, type Page } from "playwright-core"

const root = resolve(__dirname, "../..")
const main = join(root, "apps/demo/src/main.ts")
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const dir = mkdtempSync(join(tmpdir(), "dashboard-e2e-"))
const shots = process.env.E2E_SCREENSHOTS === "docs" ? join(root, "docs/screenshots") : join(dir, "screenshots")

/** What the demo prints about its servers. */
interface Demo {
  readonly child: ChildProcess
  readonly url: string
  readonly operatorToken: string
  readonly readOnlyToken: string
  readonly upstreamUrl: string
  readonly output: () => string
}

const startDemo = (): Promise<Demo> =>
  new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        main,
        // enough records that the outage (half-way) comes after 2 s of calm samples, the spike
        // detector's baseline, on a fast run: with 800, the batch runner grouping its store writes
        // reached the outage 1.6 s in, and no spike was found
        "--records",
        "2000",
        "--seed",
        "11",
        // few failures before the outage (malformed records, 5xx that retries absorb), and a 3 s
        // budget per record: those caught by the 4 s outage run out of it and fail for good (the
        // spike of failures for the alert), waiting in the dead letter queue for a replay; those
        // after it go through, so the breaker closes again
        "--malformed-rate",
        "0.02",
        "--transient-rate",
        "0.05",
        "--mix",
        "5xx=1",
        "--attempt-timeout-ms",
        "2000",
        "--deadline-ms",
        "3000",
        // late enough that the analytics hold a baseline of calm samples to judge the spike against
        "--outage-at",
        "0.5",
        "--outage-ms",
        "4000",
        "--read-back",
        "0",
        "--progress",
        "off",
        "--no-trace-summary",
        "--data-dir",
        dir,
        // the run waits for the page, so that the page sees it all; and stays up after its report
        "--ops-wait",
        "--ops-keep-open"
      ],
      { cwd: root, env: process.env, stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    const timer = setTimeout(() => fail(new Error(`the demo printed no ops URL in time\n${output}`)), 180_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const url = /ops dashboard and API at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1]
      const operatorToken = /operator token \(changes\): (\S+)/.exec(output)?.[1]
      const readOnlyToken = /read-only token \(reads\): +(\S+)/.exec(output)?.[1]
      const upstreamUrl = /upstream \(misbehaving on purpose\) at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]
      if (url && operatorToken && readOnlyToken && upstreamUrl) {
        clearTimeout(timer)
        done({ child, url, operatorToken, readOnlyToken, upstreamUrl, output: () => output })
      }
    }
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8")
    })
    child.stderr.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      fail(new Error(`the demo exited (${code}) before its ops server was up\n${output}`))
    })
  })

const getJson = async (url: string, token?: string): Promise<unknown> => {
  const response = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  if (!response.ok) throw new Error(`${url} answered ${response.status}`)
  return response.json()
}

/** Polls `probe` until it returns a value (a liveness bound, not a timing assertion). */
const eventually = async <A>(what: string, probe: () => Promise<A | undefined>, timeoutMillis = 90_000): Promise<A> => {
  const until = Date.now() + timeoutMillis
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

interface Entry {
  readonly id: string
  readonly status: string
  readonly replays: number
  readonly idempotencyKey: string
  readonly notes: ReadonlyArray<unknown>
}

const isEntry = (u: unknown): u is Entry =>
  typeof u === "object" && u !== null && "id" in u && "status" in u && "idempotencyKey" in u && "notes" in u

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

describe("the ops dashboard in Chromium, on the demo", () => {
  let browser: Browser | undefined
  let demo: Demo | undefined

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) {
      throw new Error(`${chromiumPath} is missing: install Debian's chromium package (.ci/run does when missing)`)
    }
    mkdirSync(shots, { recursive: true })
    // the browser starts while the demo does
    const [b, d] = await Promise.all([
      chromium.launch({
        executablePath: chromiumPath,
        headless: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync"
        ]
      }),
      startDemo()
    ])
    browser = b
    demo = d
  }, 240_000)

  afterAll(async () => {
    await browser?.close()
    if (demo !== undefined && demo.child.exitCode === null) {
      const exited = new Promise((r) => demo?.child.once("exit", r))
      demo.child.kill("SIGTERM")
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  it("shows the outage, the alert, and refuses or accepts a replay by the token's role", async () => {
    if (browser === undefined || demo === undefined) throw new Error("not started")
    const { url, operatorToken, readOnlyToken, upstreamUrl } = demo
    // a fresh profile: nothing kept between runs
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    // liveness bounds for a loaded machine: the demo's one process serves the page while it ingests
    context.setDefaultTimeout(120_000)
    const page: Page = await context.newPage()
    const pageErrors: Array<string> = []
    page.on("pageerror", (error) => pageErrors.push(error.message))
    try {
      const shot = async (name: string, section?: string) => {
        if (section !== undefined) await page.locator(section).scrollIntoViewIfNeeded()
        await page.screenshot({ path: join(shots, name) })
      }
      const useToken = async (token: string) => {
        await page.getByLabel("Bearer token").fill(token)
        await page.getByRole("button", { name: "Use token" }).click()
      }

      await page.goto(url, { waitUntil: "domcontentloaded", timeout: 120_000 })
      await useToken(readOnlyToken)
      await page.locator("#connection", { hasText: "Live." }).waitFor()

      // the outage: the upstream says when it started; the page shows the breaker open after it,
      // then closed again
      const outageStart = await eventually("the outage", async () => {
        const stats = await getJson(`${upstreamUrl}/stats`)
        return isRecord(stats) && typeof stats.outageStartedAtMillis === "number"
          ? stats.outageStartedAtMillis
          : undefined
      })
      // read from the page's DOM (this project's TypeScript has no DOM types, and the page's
      // content security policy refuses functions given as text)
      const transitionTimes = async (to: string) =>
        (
          await Promise.all(
            (await page.locator(`#transitions li[data-to='${to}']`).all()).map((li) => li.getAttribute("data-at"))
          )
        ).map(Number)
      const openedAt = await eventually("the breaker to open during the outage", async () =>
        (await transitionTimes("open")).find((at) => at >= outageStart - 1000)
      )
      await shot("1-breaker-open.png", "#breakers")
      await eventually("the breaker to close again", async () =>
        (await transitionTimes("closed")).some((at) => at > openedAt) &&
        (await page.locator("#breaker-rows [data-state]").first().getAttribute("data-state")) === "closed"
          ? true
          : undefined
      )
      await shot("2-breaker-closed-again.png", "#breakers")

      // the spike of failures during the outage, in the alert feed
      const spike = page.locator("#alert-list li[data-kind='spike']").first()
      await spike.waitFor()
      expect(await spike.textContent()).toMatch(/failed/)
      await shot("3-spike-alert.png", "#alerts")

      // a pending dead letter, shown whatever its status so that it stays listed once resolved
      await page.getByLabel("Status").selectOption("")
      await page.getByRole("button", { name: "Apply" }).click()
      const pendingRow = page.locator("#dlq-rows tr[data-status='pending']").first()
      await pendingRow.waitFor()
      const id = await pendingRow.getAttribute("data-id")
      if (id === null) throw new Error("a dead letter row without an id")
      const entryUrl = `${url}api/dead-letters/${encodeURIComponent(id)}`
      const readEntry = async () => {
        const entry = await getJson(entryUrl, readOnlyToken)
        if (!isEntry(entry)) throw new Error(`not a dead letter: ${JSON.stringify(entry)}`)
        return entry
      }
      const accepted = async (key: string) => {
        const ledger = await getJson(`${upstreamUrl}/ledger`)
        return isRecord(ledger) && Array.isArray(ledger.entries)
          ? ledger.entries.some((e: unknown) => isRecord(e) && e.key === key)
          : false
      }
      const auditTotal = async () => {
        const page = await getJson(`${url}api/audit?limit=1`, readOnlyToken)
        return isRecord(page) && typeof page.total === "number" ? page.total : -1
      }
      const before = await readEntry()
      expect(before.status).toBe("pending")
      expect(await accepted(before.idempotencyKey)).toBe(false)
      const auditBefore = await auditTotal()
      const unchanged = async () => {
        const now = await readEntry()
        expect({ status: now.status, replays: now.replays, notes: now.notes.length }).toEqual({
          status: before.status,
          replays: before.replays,
          notes: before.notes.length
        })
        expect(await accepted(before.idempotencyKey)).toBe(false)
        expect(await auditTotal()).toBe(auditBefore)
      }
      const replayFromPage = async (note: string) => {
        await page.getByRole("button", { name: `Replay ${id}`, exact: true }).click()
        const dialog = page.getByRole("dialog")
        await dialog.waitFor()
        await dialog.getByLabel(/Operator note/).fill(note)
        await dialog.getByRole("button", { name: "Replay", exact: true }).click()
      }

      // the read-only token: 403, nothing changed
      await replayFromPage("trying with the read-only token")
      await page.locator("#refusal[data-status='403']").waitFor()
      expect(await page.locator("#refusal").textContent()).toMatch(/403 Forbidden.*nothing was changed/)
      await shot("4-replay-refused-read-only.png", "#dead-letters")
      await unchanged()

      // no token at all: 401, nothing changed
      await page.getByRole("button", { name: "Forget token" }).click()
      await replayFromPage("trying with no token")
      await page.locator("#refusal[data-status='401']").waitFor()
      expect(await page.locator("#refusal").textContent()).toMatch(/401 Unauthorized.*nothing was changed/)
      await shot("5-replay-refused-no-token.png", "#dead-letters")
      await unchanged()

      // the operator token: resolved, and accepted by the (healed) upstream
      await useToken(operatorToken)
      await replayFromPage("upstream fixed; replayed from the dashboard")
      await page.locator(`#dlq-rows tr[data-id='${id}'][data-status='resolved']`).waitFor()
      await page.locator("#notice", { hasText: "resolved: 1" }).waitFor()
      await shot("6-replayed-resolved.png", "#dead-letters")
      const after = await readEntry()
      expect(after.status).toBe("resolved")
      expect(after.replays).toBe(before.replays + 1)
      expect(await accepted(before.idempotencyKey)).toBe(true)

      // the audit trail: the note and the replay, by the operator
      const auditRow = page.locator(`#audit-rows tr[data-action='dead-letter.replay'][data-target='${id}']`)
      await auditRow.waitFor()
      expect(await auditRow.textContent()).toContain("operator")
      expect(await auditTotal()).toBe(auditBefore + 2)
      await shot("7-audit-trail.png", "#audit")

      expect(pageErrors).toEqual([])
    } catch (error) {
      // what the page and the demo showed, to tell a failure of the page from one of the run
      await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => undefined)
      const message = error instanceof Error ? error.message : String(error)
      const alerts = await getJson(`${url}api/alerts`, readOnlyToken).catch((e) => String(e))
      throw new Error(
        `${message}\n(screenshot: ${join(shots, "failure.png")})\n--- the server's alerts ---\n${JSON.stringify(alerts)}\n--- the demo's output ---\n${demo.output().slice(-4000)}`
      )
    } finally {
      await context.close()
    }
  }, 360_000)
})
