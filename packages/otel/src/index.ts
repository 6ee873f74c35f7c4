/**
 * @since 0.1.0
 */
export * as Otel from "./Otel.js"
export * as TraceSummary from "./TraceSummary.js"
