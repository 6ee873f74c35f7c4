/**
 * Reads the documentation of the workspace's public modules and READMEs: the JSDoc of every export
 * (its tags and its examples) and the fenced ```ts blocks of a Markdown file. Plain string work on
 * the source text, so that it needs no TypeScript compiler API (the project's `tsc` is the native
 * one, which has none).
 */

/** The categories an export may name (see the team conventions). */
export const categories: ReadonlyArray<string> = [
  "models",
  "constructors",
  "layers",
  "combinators",
  "services",
  "schemas",
  "errors",
  "config",
  "getters",
  "utils",
  "testing",
  "symbols"
]

/** A fenced code block found in a JSDoc comment or a Markdown file. */
export interface CodeBlock {
  /** 1-based line of the first line of code (the line after the opening fence) in the source file. */
  readonly line: number
  /** The words after the language on the opening fence, e.g. `["no-run"]` for "```ts no-run". */
  readonly flags: ReadonlyArray<string>
  readonly code: string
}

/** One documented (or undocumented) export of a module. */
export interface ExportDoc {
  readonly name: string
  /** 1-based line of the `export` keyword. */
  readonly line: number
  /** The JSDoc comment right above the export, as its lines without the leading ` * `. */
  readonly doc: ReadonlyArray<string> | undefined
  /** 1-based line of the first line of `doc`. */
  readonly docLine: number
  readonly since: string | undefined
  readonly category: string | undefined
  readonly examples: ReadonlyArray<CodeBlock>
  /** Problems with the examples themselves (e.g. an example that is not a fenced ```ts block). */
  readonly exampleProblems: ReadonlyArray<{ readonly line: number; readonly message: string }>
}

const fenceOpen = /^```(\w+)?((?:[ \t]+[\w-]+)*)[ \t]*$/
const fenceClose = /^```[ \t]*$/

/**
 * The fenced blocks of Markdown text whose language is `ts` (or `typescript`). `lineOffset` is added
 * to the line numbers (for text that starts further down a file).
 */
export const fencedBlocks = (
  lines: ReadonlyArray<string>,
  lineOffset = 0
): Array<CodeBlock & { readonly lang: string; readonly open: number; readonly close: number }> => {
  const blocks: Array<CodeBlock & { lang: string; open: number; close: number }> = []
  let i = 0
  while (i < lines.length) {
    const open = fenceOpen.exec((lines[i] ?? "").trim())
    if (open === null) {
      i += 1
      continue
    }
    const lang = open[1] ?? ""
    const flags = (open[2] ?? "")
      .trim()
      .split(/\s+/)
      .filter((w) => w.length > 0)
    const start = i + 1
    let end = start
    while (end < lines.length && !fenceClose.test((lines[end] ?? "").trim())) end += 1
    blocks.push({
      lang,
      flags,
      line: start + 1 + lineOffset,
      code: lines.slice(start, end).join("\n"),
      open: i,
      close: end
    })
    i = end + 1
  }
  return blocks
}

/** The ```ts blocks of a Markdown file. */
export const markdownExamples = (text: string): Array<CodeBlock> =>
  fencedBlocks(text.split("\n"))
    .filter((b) => b.lang === "ts" || b.lang === "typescript")
    .map(({ code, flags, line }) => ({ code, flags, line }))

const exportDeclaration =
  /^(\s*)export\s+(?:declare\s+)?(?:abstract\s+)?(const|let|function\*?|class|interface|type|namespace|enum)\s+([A-Za-z_$][\w$]*)/

/** The text of a JSDoc block: its lines between `/**` and `*\/`, leading ` * ` removed. */
const docLines = (raw: ReadonlyArray<string>): Array<string> =>
  raw.map((l, i) => {
    let s = l
    if (i === 0) s = s.replace(/^\s*\/\*\*/, "")
    s = s.replace(/\*\/\s*$/, "")
    return s.replace(/^\s*\* ?/, "").replace(/^\s+$/, "")
  })

const parseDoc = (
  lines: ReadonlyArray<string>,
  firstLine: number
): Pick<ExportDoc, "since" | "category" | "examples" | "exampleProblems"> => {
  let since: string | undefined
  let category: string | undefined
  const examples: Array<CodeBlock> = []
  const exampleProblems: Array<{ line: number; message: string }> = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i] ?? ""
    const tag = /^@(\w+)\s*(.*)$/.exec(line.trim())
    if (tag === null) {
      i += 1
      continue
    }
    const [, name, rest = ""] = tag
    if (name === "since") since = rest.trim() || undefined
    if (name === "category") category = rest.trim() || undefined
    if (name !== "example") {
      i += 1
      continue
    }
    // An example runs to the next tag outside a fence, or to the end of the comment.
    const body: Array<string> = []
    let j = i + 1
    let inFence = false
    for (; j < lines.length; j++) {
      const l = lines[j] ?? ""
      if (!inFence && /^@\w+/.test(l.trim())) break
      if (l.trim().startsWith("```")) inFence = !inFence
      body.push(l)
    }
    const bodyStart = i + 1
    const blocks = fencedBlocks(body, firstLine + bodyStart - 1)
    const outside = body.filter((l, k) => !blocks.some((b) => k >= b.open && k <= b.close) && l.trim().length > 0)
    if (blocks.length === 0 || outside.length > 0 || rest.trim().length > 0) {
      exampleProblems.push({
        line: firstLine + i,
        message: "an @example must hold only fenced ```ts blocks"
      })
    }
    for (const b of blocks) {
      if (b.lang !== "ts") {
        exampleProblems.push({ line: b.line - 1, message: `an @example block must be \`\`\`ts, not \`\`\`${b.lang}` })
      } else {
        examples.push({ line: b.line, flags: b.flags, code: b.code })
      }
    }
    i = j
  }
  return { since, category, examples, exampleProblems }
}

/**
 * Every export of a module's source text that is a declaration (`export const`, `function`,
 * `class`, `interface`, `type`, `namespace`, `enum`), at the top level or as a member of an exported
 * namespace, with its JSDoc. Re-exports (`export * as X from`, `export { ... }`) are not listed.
 * Overloads of an exported function after the first are not listed (the first carries the docs).
 */
export const moduleExports = (text: string): Array<ExportDoc> => {
  const lines = text.split("\n")
  const out: Array<ExportDoc> = []
  let pendingDoc: { lines: Array<string>; start: number } | undefined
  let docStart = -1
  let namespaceDepth = 0
  let namespace = ""
  let lastFunction: string | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ""
    const trimmed = line.trim()
    if (docStart < 0 && trimmed.startsWith("/**")) {
      docStart = i
    }
    if (docStart >= 0) {
      if (trimmed.endsWith("*/")) {
        pendingDoc = { lines: docLines(lines.slice(docStart, i + 1)), start: docStart + 1 }
        docStart = -1
      }
      continue
    }
    if (trimmed.length === 0 || trimmed.startsWith("//")) continue
    const m = exportDeclaration.exec(line)
    const indent = m?.[1]?.length ?? -1
    const topLevel = m !== null && indent === 0
    const inNamespace = m !== null && namespaceDepth > 0 && indent === 2
    if (m !== null && (topLevel || inNamespace)) {
      const kind = m[2] ?? ""
      const name = m[3] ?? ""
      const qualified = inNamespace ? `${namespace}.${name}` : name
      const isOverload = kind.startsWith("function") && lastFunction === qualified
      if (!isOverload) {
        const parsed = pendingDoc ? parseDoc(pendingDoc.lines, pendingDoc.start) : undefined
        out.push({
          name: qualified,
          line: i + 1,
          doc: pendingDoc?.lines,
          docLine: pendingDoc?.start ?? i + 1,
          since: parsed?.since,
          category: parsed?.category,
          examples: parsed?.examples ?? [],
          exampleProblems: parsed?.exampleProblems ?? []
        })
      }
      lastFunction = kind.startsWith("function") ? qualified : undefined
      if (kind === "namespace" && topLevel && !trimmed.endsWith("}")) {
        namespaceDepth = 1
        namespace = name
      }
    } else if (namespaceDepth > 0 && line.startsWith("}")) {
      namespaceDepth = 0
    } else if (!line.startsWith(" ") && !line.startsWith("}") && !line.startsWith(")")) {
      lastFunction = undefined
    }
    pendingDoc = undefined
  }
  return out
}

/** The module's own JSDoc (the first comment of the file, which names the module's `@since`). */
export const moduleDoc = (
  text: string
): { readonly since: string | undefined; readonly examples: ReadonlyArray<CodeBlock> } | undefined => {
  const lines = text.split("\n")
  const start = lines.findIndex((l) => l.trim().length > 0)
  if (start < 0 || !(lines[start] ?? "").trim().startsWith("/**")) return undefined
  const end = lines.findIndex((l, i) => i >= start && l.trim().endsWith("*/"))
  if (end < 0) return undefined
  const parsed = parseDoc(docLines(lines.slice(start, end + 1)), start + 1)
  return { since: parsed.since, examples: parsed.examples }
}
