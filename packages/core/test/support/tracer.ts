/**
 * A Tracer that records what it is given: spans as they end (name, attributes, parent) and span
 * events. Installing it also makes it "a tracer other than Effect's default", so the pipeline
 * makes its spans.
 */
import * as Tracer from "effect/Tracer"

export interface RecordedSpan {
  readonly name: string
  readonly spanId: string
  readonly attributes: Record<string, unknown>
  readonly parent: string | undefined
}

export interface RecordedEvent {
  readonly span: string
  readonly name: string
  readonly attributes: Record<string, unknown>
}

export const recordingTracer = () => {
  const ended: Array<RecordedSpan> = []
  const events: Array<RecordedEvent> = []
  let ids = 0
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const attributes = new Map<string, unknown>()
      const spanId = `s${++ids}`
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId,
        traceId: "t",
        parent,
        context,
        links,
        sampled: true,
        kind,
        status: { _tag: "Started", startTime },
        attributes,
        attribute: (key, value) => {
          attributes.set(key, value)
        },
        event: (eventName, _time, eventAttributes) => {
          events.push({ span: name, name: eventName, attributes: eventAttributes ?? {} })
        },
        addLinks: () => {},
        end: () => {
          ended.push({
            name,
            spanId,
            attributes: Object.fromEntries(attributes),
            parent: parent._tag === "Some" ? parent.value.spanId : undefined
          })
        }
      }
      return span
    },
    context: (f) => f()
  })
  return { tracer, ended, events }
}
