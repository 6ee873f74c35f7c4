/**
 * The records the demo ingests: payments generated from a seed. A share of them (`malformedRate`)
 * is malformed on purpose: a negative amount (the upstream answers 400) or a currency that is not
 * an ISO code (422). Those cannot succeed by retrying: they end in the dead letter queue.
 */
import * as Schema from "effect/Schema"
import { prng } from "./Prng.js"

export const Record = Schema.Struct({
  id: Schema.String,
  account: Schema.String,
  amount: Schema.Number,
  currency: Schema.String,
  reference: Schema.String
})
export type Record = typeof Record.Type

export const Receipt = Schema.Struct({ id: Schema.String, receipt: Schema.String })
export type Receipt = typeof Receipt.Type

const currencies = ["EUR", "USD", "GBP", "CHF", "JPY"]

export const generate = (options: {
  readonly records: number
  readonly seed: number
  readonly malformedRate: number
}): ReadonlyArray<Record> => {
  const random = prng(options.seed ^ 0x5eed)
  const width = String(options.records).length
  const out: Array<Record> = []
  for (let i = 1; i <= options.records; i++) {
    const malformed = random() < options.malformedRate
    const badAmount = malformed && random() < 0.5
    out.push({
      id: `r-${String(i).padStart(width, "0")}`,
      account: `acct-${1000 + Math.floor(random() * 9000)}`,
      amount: badAmount ? -Math.round(random() * 10_000) / 100 : Math.round(random() * 100_000) / 100,
      currency: malformed && !badAmount ? "??" : (currencies[Math.floor(random() * currencies.length)] ?? "EUR"),
      reference: `inv-${Math.floor(random() * 1e8)}`
    })
  }
  return out
}
