/** Failures of @grpc/grpc-js clients against the run's grpc-js server (and against no server). */
import * as grpc from "@grpc/grpc-js"
import { after, type Case, type Expected, L, rejection } from "../case.js"
import { type Env, type GrpcScript, grpcService } from "../env.js"

const CorpusClient = grpc.makeGenericClientConstructor(grpcService, "Corpus")

/** One unary call; `script` tells the server what to answer. */
const call = (port: number, script: GrpcScript, options: grpc.ClientOptions = {}, deadlineMillis?: number) =>
  rejection(async () => {
    const client = new CorpusClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options)
    try {
      return await new Promise((resolve, reject) => {
        const callOptions: grpc.CallOptions =
          deadlineMillis === undefined ? {} : { deadline: new Date(Date.now() + deadlineMillis) }
        client.makeUnaryRequest(
          grpcService.call.path,
          grpcService.call.requestSerialize,
          grpcService.call.responseDeserialize,
          Buffer.from(JSON.stringify(script)),
          new grpc.Metadata(),
          callOptions,
          (error, value) => (error === null || error === undefined ? resolve(value) : reject(error))
        )
      })
    } finally {
      client.close()
    }
  })

/** The label of each status the server returns, from the gRPC status codes doc and the worker seed. */
const statusLabels: ReadonlyArray<readonly [code: grpc.status, name: string, expected: Expected]> = [
  [grpc.status.CANCELLED, "CANCELLED", L.callerAbort],
  [grpc.status.UNKNOWN, "UNKNOWN", L.server],
  [grpc.status.INVALID_ARGUMENT, "INVALID_ARGUMENT", L.validation],
  [grpc.status.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", L.timeout],
  [grpc.status.NOT_FOUND, "NOT_FOUND", L.client],
  [grpc.status.ALREADY_EXISTS, "ALREADY_EXISTS", L.integrity],
  [grpc.status.PERMISSION_DENIED, "PERMISSION_DENIED", L.authorization],
  [grpc.status.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED", L.throttled],
  [grpc.status.FAILED_PRECONDITION, "FAILED_PRECONDITION", L.business],
  [grpc.status.ABORTED, "ABORTED", L.concurrency],
  [grpc.status.OUT_OF_RANGE, "OUT_OF_RANGE", L.validation],
  [grpc.status.UNIMPLEMENTED, "UNIMPLEMENTED", L.configuration],
  [grpc.status.INTERNAL, "INTERNAL", L.server],
  [grpc.status.UNAVAILABLE, "UNAVAILABLE", L.unavailable],
  [grpc.status.DATA_LOSS, "DATA_LOSS", L.corruption],
  [grpc.status.UNAUTHENTICATED, "UNAUTHENTICATED", L.authentication]
]

export const grpcCases: ReadonlyArray<Case> = [
  ...statusLabels.map(
    ([code, name, expected]): Case => ({
      name: `server returns ${name} (${code})`,
      library: "@grpc/grpc-js",
      expected,
      provoke: (env: Env) => call(env.grpcPort, { code })
    })
  ),
  {
    name: "server returns RESOURCE_EXHAUSTED with grpc-retry-pushback-ms: 1200",
    library: "@grpc/grpc-js",
    expected: after(L.throttled, 1200),
    provoke: (env) => call(env.grpcPort, { code: grpc.status.RESOURCE_EXHAUSTED, pushbackMillis: 1200 })
  },
  {
    name: "server returns UNAVAILABLE with grpc-retry-pushback-ms: 300",
    library: "@grpc/grpc-js",
    expected: after(L.unavailable, 300),
    provoke: (env) => call(env.grpcPort, { code: grpc.status.UNAVAILABLE, pushbackMillis: 300 })
  },
  // gRFC A6: a negative or malformed pushback is the server asking not to be retried; the label is
  // the status's own with retryable off (still evidence for a breaker where the status is).
  {
    name: "server returns UNAVAILABLE with grpc-retry-pushback-ms: -1 (do not retry)",
    library: "@grpc/grpc-js",
    expected: { ...L.unavailable, retryable: false },
    provoke: (env) => call(env.grpcPort, { code: grpc.status.UNAVAILABLE, pushbackMillis: -1 })
  },
  {
    name: "server returns RESOURCE_EXHAUSTED with grpc-retry-pushback-ms: -1000 (do not retry)",
    library: "@grpc/grpc-js",
    expected: { ...L.throttled, retryable: false },
    provoke: (env) => call(env.grpcPort, { code: grpc.status.RESOURCE_EXHAUSTED, pushbackMillis: -1000 })
  },
  {
    name: "server returns UNAVAILABLE with a malformed grpc-retry-pushback-ms (do not retry)",
    library: "@grpc/grpc-js",
    expected: { ...L.unavailable, retryable: false },
    provoke: (env) => call(env.grpcPort, { code: grpc.status.UNAVAILABLE, pushbackText: "later" })
  },
  {
    name: "the handler throws (UNKNOWN)",
    library: "@grpc/grpc-js",
    expected: L.server,
    provoke: (env) => call(env.grpcPort, { throwError: true })
  },
  {
    name: "client deadline exceeded (DEADLINE_EXCEEDED)",
    library: "@grpc/grpc-js",
    expected: L.timeout,
    provoke: (env) => call(env.grpcPort, { delayMillis: 1000 }, {}, 50)
  },
  {
    name: "no server listening (UNAVAILABLE)",
    library: "@grpc/grpc-js",
    expected: L.unavailable,
    provoke: (env) => call(env.closedPort, {})
  },
  {
    name: "response over maxReceiveMessageLength (RESOURCE_EXHAUSTED, local limit)",
    library: "@grpc/grpc-js",
    expected: L.client,
    provoke: (env) => call(env.grpcPort, { bigResponse: true }, { "grpc.max_receive_message_length": 1024 })
  },
  {
    name: "method the server does not implement (UNIMPLEMENTED)",
    library: "@grpc/grpc-js",
    expected: L.configuration,
    provoke: (env) =>
      rejection(async () => {
        const client = new grpc.Client(`127.0.0.1:${env.grpcPort}`, grpc.credentials.createInsecure())
        try {
          return await new Promise((resolve, reject) =>
            client.makeUnaryRequest(
              "/corpus.Corpus/Missing",
              (b: Buffer) => b,
              (b: Buffer) => b,
              Buffer.from("{}"),
              (error, value) => (error === null || error === undefined ? resolve(value) : reject(error))
            )
          )
        } finally {
          client.close()
        }
      })
  },
  {
    name: "call cancelled by the caller (CANCELLED, Cancelled on client)",
    library: "@grpc/grpc-js",
    expected: L.callerAbort,
    provoke: (env) =>
      rejection(async () => {
        const client = new CorpusClient(`127.0.0.1:${env.grpcPort}`, grpc.credentials.createInsecure())
        try {
          return await new Promise((resolve, reject) => {
            const pending = client.makeUnaryRequest(
              grpcService.call.path,
              grpcService.call.requestSerialize,
              grpcService.call.responseDeserialize,
              Buffer.from(JSON.stringify({ delayMillis: 1000 })),
              (error, value) => (error === null || error === undefined ? resolve(value) : reject(error))
            )
            setTimeout(() => pending.cancel(), 30)
          })
        } finally {
          client.close()
        }
      })
  }
]
