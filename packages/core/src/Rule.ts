/**
 * Rules pick failures for a user's own classification: predicates over a failure's tag, code,
 * HTTP status and message, composed with {@link and}, {@link or} and {@link not}. A rule is paired
 * with a classification (or a function returning one) in `Classifier.layerWith({ rules })`.
 *
 * A rule that narrows (such as {@link tag}) types the failure its classification function receives.
 *
 * @example
 * ```ts
 * import { Classification, Classifier, Rule } from "@effect-resilience/core"
 *
 * const quota = Rule.and(Rule.status(403), Rule.messageMatches(/quota/i))
 * const layer = Classifier.layerWith({
 *   rules: [
 *     [quota, Classification.make({ category: "throttled", code: "app.quota", message: "Quota exceeded" })],
 *     [Rule.code("pg.23505"), (_, base) => ({ ...base, category: "business" })]
 *   ]
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Category, Classification } from "./Classification.js"
import { statusOf } from "./internal/classifier/recognise.js"

/**
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const isRule = (u: object) => Rule.TypeId in u
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@effect-resilience/core/Rule")

/**
 * @example
 * ```ts
 * import type { Rule } from "@effect-resilience/core"
 *
 * type Id = Rule.TypeId
 * ```
 *
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * What a rule may ask besides the failure itself: `base()` is the classification the classifier
 * below the rules (the defaults) gives it, computed at most once per failure and only when asked.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const retryableByDefault = Rule.make("retryable", (_, context): _ is unknown => context.base().retryable)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RuleContext {
  readonly base: () => Classification
}

/**
 * A predicate over failures. `A` is what a matching failure is known to be (`unknown` when the
 * rule does not narrow).
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const rule: Rule.Rule<{ readonly _tag: "PaymentDeclined" }> = Rule.tag("PaymentDeclined")
 * rule.label // "tag(PaymentDeclined)"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Rule<out A = unknown> {
  readonly [TypeId]: TypeId
  /** A readable description, such as `and(tag(PaymentDeclined), status(402))`. */
  readonly label: string
  readonly test: (failure: unknown, context: RuleContext) => failure is A
}

/**
 * Builds a rule from a refinement.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const isString = Rule.make("string", (u): u is string => typeof u === "string")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A>(label: string, test: (failure: unknown, context: RuleContext) => failure is A): Rule<A> => ({
  [TypeId]: TypeId,
  label,
  test
})

const isObject = (u: unknown): u is object => typeof u === "object" && u !== null

/**
 * Matches failures whose `_tag` is one of `tags`, and types them so.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const rule = Rule.tag("PaymentDeclined", "CardExpired")
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const tag = <const T extends ReadonlyArray<string>>(...tags: T): Rule<{ readonly _tag: T[number] }> => {
  const set: ReadonlySet<string> = new Set(tags)
  return make(`tag(${tags.join(", ")})`, (u): u is { readonly _tag: T[number] } => {
    if (!isObject(u) || !("_tag" in u)) return false
    const t = u._tag
    return typeof t === "string" && set.has(t)
  })
}

/**
 * Matches failures with one of these HTTP statuses: `status`, `statusCode`, or `response.status`.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const teapot = Rule.status(418)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const status = (...statuses: ReadonlyArray<number>): Rule => {
  const set: ReadonlySet<number> = new Set(statuses)
  return make(`status(${statuses.join(", ")})`, (u): u is unknown => {
    if (!isObject(u)) return false
    const s = statusOf(u)
    return s !== undefined && set.has(s)
  })
}

/**
 * Matches failures with an HTTP status in `[min, max]`.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const serverErrors = Rule.statusBetween(500, 599)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const statusBetween = (min: number, max: number): Rule =>
  make(`statusBetween(${min}, ${max})`, (u): u is unknown => {
    if (!isObject(u)) return false
    const s = statusOf(u)
    return s !== undefined && s >= min && s <= max
  })

const rawCode = (u: unknown): string | undefined => {
  if (!isObject(u) || !("code" in u)) return undefined
  return typeof u.code === "string" ? u.code : undefined
}

/**
 * Matches failures by code: the stable classification code the defaults give (`"pg.23505"`,
 * `"http.503"`, `"node.ECONNRESET"`) or the failure's own string `code` property (`"E_QUOTA"`).
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const uniqueViolation = Rule.code("pg.23505")
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const code = (...codes: ReadonlyArray<string>): Rule => {
  const set: ReadonlySet<string> = new Set(codes)
  return make(`code(${codes.join(", ")})`, (u, context): u is unknown => {
    const own = rawCode(u)
    return (own !== undefined && set.has(own)) || set.has(context.base().code)
  })
}

/**
 * Matches failures whose stable classification code starts with `prefix` (`"pg.23"` is the whole
 * integrity-constraint class, `"http.5"` every server status).
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const integrity = Rule.codeStartsWith("pg.23")
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const codeStartsWith = (prefix: string): Rule =>
  make(`codeStartsWith(${prefix})`, (u, context): u is unknown => {
    const own = rawCode(u)
    return own?.startsWith(prefix) === true || context.base().code.startsWith(prefix)
  })

/**
 * Matches failures the defaults put in one of these categories.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const transient = Rule.category("network", "unavailable")
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const category = (...categories: ReadonlyArray<Category>): Rule => {
  const set: ReadonlySet<Category> = new Set(categories)
  return make(`category(${categories.join(", ")})`, (_, context): _ is unknown => set.has(context.base().category))
}

/**
 * Matches failures whose `message` matches a regular expression or contains a string.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const quota = Rule.messageMatches(/quota/i)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const messageMatches = (pattern: RegExp | string): Rule<{ readonly message: string }> => {
  // A global or sticky RegExp keeps state between calls: use a copy without those flags.
  const regexp =
    typeof pattern === "string" ? undefined : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""))
  return make(`messageMatches(${String(pattern)})`, (u): u is { readonly message: string } => {
    if (!isObject(u) || !("message" in u) || typeof u.message !== "string") return false
    return regexp === undefined ? u.message.includes(String(pattern)) : regexp.test(u.message)
  })
}

/**
 * Matches instances of a class.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const rangeErrors = Rule.instanceOf(RangeError)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const instanceOf = <A>(ctor: abstract new (...args: never) => A): Rule<A> =>
  make(`instanceOf(${ctor.name})`, (u): u is A => u instanceof ctor)

/**
 * Matches what a refinement or predicate accepts.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const retryableFlag = Rule.is((u) => typeof u === "object" && u !== null && "retryable" in u)
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export function is<A>(refinement: (u: unknown) => u is A, label?: string): Rule<A>
export function is(predicate: (u: unknown) => boolean, label?: string): Rule
export function is(predicate: (u: unknown) => boolean, label = "is(predicate)"): Rule {
  return make(label, (u): u is unknown => predicate(u))
}

/**
 * Matches when every rule matches.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const declinedByBank = Rule.and(Rule.tag("PaymentDeclined"), Rule.messageMatches("bank"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export function and<A, B>(a: Rule<A>, b: Rule<B>): Rule<A & B>
export function and<A, B, C>(a: Rule<A>, b: Rule<B>, c: Rule<C>): Rule<A & B & C>
export function and(...rules: ReadonlyArray<Rule>): Rule
export function and(...rules: ReadonlyArray<Rule>): Rule {
  return make(`and(${rules.map((r) => r.label).join(", ")})`, (u, context): u is unknown => {
    for (const rule of rules) if (!rule.test(u, context)) return false
    return true
  })
}

/**
 * Matches when any rule matches.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const conflict = Rule.or(Rule.status(409), Rule.code("pg.40001"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export function or<A, B>(a: Rule<A>, b: Rule<B>): Rule<A | B>
export function or<A, B, C>(a: Rule<A>, b: Rule<B>, c: Rule<C>): Rule<A | B | C>
export function or(...rules: ReadonlyArray<Rule>): Rule
export function or(...rules: ReadonlyArray<Rule>): Rule {
  return make(`or(${rules.map((r) => r.label).join(", ")})`, (u, context): u is unknown => {
    for (const rule of rules) if (rule.test(u, context)) return true
    return false
  })
}

/**
 * Matches when the rule does not.
 *
 * @example
 * ```ts
 * import { Rule } from "@effect-resilience/core"
 *
 * const notTeapot = Rule.not(Rule.status(418))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const not = (rule: Rule<unknown>): Rule =>
  make(`not(${rule.label})`, (u, context): u is unknown => !rule.test(u, context))
