/**
 * Cascades: a dependency's breaker opened, then the breakers of operations that depend on it
 * (directly or through others) opened within a window, each after the one it depends on.
 *
 * Each opening is linked to the opening of its nearest dependency (breadth first through the
 * graph) that came at most `windowMillis` before it (the latest such opening). An opening with no
 * such link is a root; a root with at least one linked opening below it is a cascade, reported
 * with its chain in the order the breakers opened (which is dependency order: a link always
 * points back in time). An opening of a dependent before its dependency, or of an operation the
 * graph does not connect, or later than the window, makes no cascade.
 *
 * Plain TypeScript, no `effect`.
 *
 * @internal
 */

/** @internal */
export type Dependencies = Readonly<Record<string, ReadonlyArray<string>>>

/** @internal */
export interface Opening {
  readonly name: string
  readonly atMillis: number
}

/** @internal */
export interface CascadeLink {
  readonly name: string
  readonly atMillis: number
  /** The opening this one is attributed to. */
  readonly after: string
  readonly delayMillis: number
  /** How many dependency edges from the root. */
  readonly depth: number
}

/** @internal */
export interface Cascade {
  readonly root: string
  readonly rootAtMillis: number
  readonly chain: ReadonlyArray<CascadeLink>
}

/** The dependencies of `name`, nearest first (breadth first, each once, cycles ignored). */
const dependenciesOf = (graph: Dependencies, name: string): Array<string> => {
  const seen = new Set<string>([name])
  const out: Array<string> = []
  let frontier: ReadonlyArray<string> = [name]
  while (frontier.length > 0) {
    const next: Array<string> = []
    for (const n of frontier) {
      for (const d of graph[n] ?? []) {
        if (seen.has(d)) continue
        seen.add(d)
        out.push(d)
        next.push(d)
      }
    }
    frontier = next
  }
  return out
}

/** The cascades among breaker openings (in any order), by the dependency graph. */
export const cascades = (
  openings: ReadonlyArray<Opening>,
  graph: Dependencies,
  windowMillis: number
): Array<Cascade> => {
  const sorted = openings.slice().sort((a, b) => a.atMillis - b.atMillis)
  const parent = new Map<number, number>()
  sorted.forEach((e, i) => {
    for (const d of dependenciesOf(graph, e.name)) {
      let found = -1
      for (let j = i - 1; j >= 0; j--) {
        const o = sorted[j]
        if (o === undefined || e.atMillis - o.atMillis > windowMillis) break
        if (o.name === d) {
          found = j
          break
        }
      }
      if (found >= 0) {
        parent.set(i, found)
        break
      }
    }
  })
  const rootOf = (i: number): { root: number; depth: number } => {
    let depth = 0
    let at = i
    for (let p = parent.get(at); p !== undefined; p = parent.get(at)) {
      at = p
      depth += 1
    }
    return { root: at, depth }
  }
  const byRoot = new Map<number, Array<CascadeLink>>()
  for (const [i, p] of parent) {
    const e = sorted[i]
    const from = sorted[p]
    if (e === undefined || from === undefined) continue
    const { root, depth } = rootOf(i)
    const links = byRoot.get(root) ?? []
    links.push({ name: e.name, atMillis: e.atMillis, after: from.name, delayMillis: e.atMillis - from.atMillis, depth })
    byRoot.set(root, links)
  }
  const out: Array<Cascade> = []
  for (const [root, links] of byRoot) {
    const r = sorted[root]
    if (r === undefined) continue
    out.push({
      root: r.name,
      rootAtMillis: r.atMillis,
      chain: links.sort((a, b) => a.atMillis - b.atMillis || a.depth - b.depth)
    })
  }
  return out.sort((a, b) => a.rootAtMillis - b.rootAtMillis)
}
