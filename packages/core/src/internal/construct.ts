/**
 * Building a `Schema.TaggedError` whose fields the runtime has already checked.
 *
 * `new Class(props)` validates every field against the schema (about 20 us for a small error and
 * hundreds of microseconds for one holding an attempt history, on a 2-core machine);
 * `new Class(props, true)` skips the validation but still copies the props, merges defaults,
 * defines them a second time and captures a stack trace, which costs about as much. This builds
 * the same value (a real `Error` with the class's prototype, `_tag` and the fields as own
 * properties) without either, in well under a microsecond: no stack trace is captured, since it
 * would only show the runtime's own frames. Decoding a stored failure goes through the schema and
 * validates as usual.
 *
 * @internal
 */
export const unsafeConstruct = <P extends object, A extends object>(
  Class: { readonly _tag: string; new (props: P, options?: boolean): A },
  props: P
): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    const self: unknown = Reflect.construct(Error, [], Class)
    return self instanceof Class ? Object.assign(self, props, { _tag: Class._tag }) : new Class(props, true)
  } finally {
    Error.stackTraceLimit = limit
  }
}
