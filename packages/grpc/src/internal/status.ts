/**
 * What a gRPC status says besides its code: the server's `grpc-retry-pushback-ms` (gRFC A6). A
 * whole number of milliseconds is the delay before the next attempt; a value that is negative or
 * not a number is the server asking not to be retried at all.
 *
 * @internal
 */
import type * as grpc from "@grpc/grpc-js"
import * as Failures from "@effect-resilience/core/Failures"

/** @internal */
export interface Pushback {
  readonly millis: number | undefined
  readonly refused: boolean
}

const none: Pushback = { millis: undefined, refused: false }
const refused: Pushback = { millis: undefined, refused: true }

/** @internal */
export const PUSHBACK_KEY = "grpc-retry-pushback-ms"

/** The pushback a status's trailers carry. */
export const pushbackOf = (metadata: grpc.Metadata | null | undefined): Pushback => {
  const values = metadata?.get(PUSHBACK_KEY) ?? []
  const first = values[0]
  if (first === undefined) return none
  const text = typeof first === "string" ? first : first.toString("utf8")
  return /^\s*\d+\s*$/.test(text) ? { millis: Number(text), refused: false } : refused
}

/** gRPC status names, indexed by code: the classifier's own list. */
export const codeNames = Failures.grpcStatusNames

/** @internal */
export type CodeName = (typeof codeNames)[number]

/** The name of a code (`UNAVAILABLE`), or its number for a code outside 0..16. */
export const codeName = (code: number): string => codeNames[code] ?? String(code)

/** The code of a name. */
export const codeOf = (name: CodeName): number => codeNames.indexOf(name)
