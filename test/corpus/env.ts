/**
 * The servers the corpus provokes its failures against, started once per run on 127.0.0.1 and torn
 * down after it: an HTTP server with scripted routes, HTTPS servers (self-signed, expired, signed by
 * an unknown CA: certificates made by `openssl` into the run's temp dir), raw TCP servers that reset,
 * hang or speak garbage, a tiny DNS server that answers with a chosen RCODE, a UDP port that never
 * answers, two redis-servers (a primary and its replica, our own so that the cases may change their
 * configuration), a gRPC server and a scratch schema and role in the local PostgreSQL.
 *
 * Distinctive markers (the temp dir's name, a password, a payload marker) let the leak test grep
 * what a dead letter stores for them.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { createSocket, type Socket as UdpSocket } from "node:dgram"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as grpc from "@grpc/grpc-js"
import pg from "pg"

/** What a run's cases may mention; the leak test looks for each of them in the stored JSON. */
export const markers = {
  dirPrefix: "corpus-LEAKDIR-",
  password: "pw-LEAKSECRET-4b7e19",
  payload: "LEAKPAYLOAD-c0ffee",
  host: "corpus-nohost-leak.invalid",
  user: "corpus_leakuser"
} as const

export interface Env {
  /** The run's temp dir (its name carries `markers.dirPrefix`). */
  readonly dir: string
  /** A port on 127.0.0.1 nothing listens on. */
  readonly closedPort: number
  readonly httpPort: number
  readonly httpUrl: string
  /** HTTPS with a self-signed certificate for 127.0.0.1 / localhost. */
  readonly httpsPort: number
  /** The self-signed certificate (PEM), to trust it as a CA. */
  readonly httpsCert: string
  /** HTTPS with a (self-signed) certificate that expired in 2020. */
  readonly expiredPort: number
  /** That expired certificate (PEM), to trust it as a CA so that expiry is what fails. */
  readonly expiredCert: string
  /** HTTPS with a certificate signed by a CA nobody trusts. */
  readonly unknownCaPort: number
  /** TCP: resets every connection as soon as it is accepted. */
  readonly resetPort: number
  /** TCP: accepts and never answers. */
  readonly hangPort: number
  /** TCP: answers anything with bytes that are not HTTP. */
  readonly garbagePort: number
  /** UDP DNS server: answers queries for `servfail.test` SERVFAIL, `refused.test` REFUSED, else NXDOMAIN. */
  readonly dnsPort: number
  /** UDP port that receives and never answers. */
  readonly silentUdpPort: number
  readonly redisPort: number
  readonly redisReplicaPort: number
  readonly grpcPort: number
  readonly pg: {
    readonly host: string
    readonly port: number
    readonly database: string
    readonly user: string
    /** A scratch schema the cases create tables in (dropped at teardown). */
    readonly schema: string
    /** A role without privileges and with CONNECTION LIMIT 1. */
    readonly limitedRole: string
  }
  /** Every port the run used: the leak test greps for them. */
  readonly ports: ReadonlyArray<number>
  readonly close: () => Promise<void>
}

const listen = (server: Server | NetServer): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      if (address === null || typeof address === "string") reject(new Error("no address"))
      else resolve(address.port)
    })
  })

const closeServer = (server: Server | NetServer): Promise<void> =>
  new Promise((resolve) => {
    if ("closeAllConnections" in server) server.closeAllConnections()
    server.close(() => resolve())
  })

/** A port that was free a moment ago (listen on 0, read it, close). */
export const freePort = async (): Promise<number> => {
  const server = createNetServer()
  const port = await listen(server)
  await closeServer(server)
  return port
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The scripted HTTP routes. */
const handle = (req: IncomingMessage, res: ServerResponse): void => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1")
  const path = url.pathname
  const status = /^\/status\/(\d{3})$/.exec(path)
  if (status !== null) {
    const headers: Record<string, string> = { "content-type": "text/plain" }
    for (const [name, value] of url.searchParams) headers[name] = value
    // Drain the request body first, so that a client never sees a reset for an unread body.
    req.resume()
    req.on("end", () => {
      res.writeHead(Number(status[1]), headers)
      res.end("status")
    })
    return
  }
  switch (path) {
    case "/slow-headers": {
      const timer = setTimeout(() => res.end("late"), Number(url.searchParams.get("ms") ?? "2000"))
      res.on("close", () => clearTimeout(timer))
      return
    }
    case "/slow-body": {
      res.writeHead(200, { "content-type": "text/plain" })
      res.write("first part")
      const timer = setTimeout(() => res.end("late"), Number(url.searchParams.get("ms") ?? "2000"))
      res.on("close", () => clearTimeout(timer))
      return
    }
    case "/hangup":
      req.socket.destroy()
      return
    case "/short":
      res.writeHead(200, { "content-length": "100" })
      res.write("0123456789")
      setTimeout(() => req.socket.destroy(), 10)
      return
    case "/text":
      res.writeHead(200, { "content-type": "application/json" })
      res.end("<html>not json</html>")
      return
    case "/big":
      res.writeHead(200, { "content-type": "text/plain" })
      res.end("x".repeat(64 * 1024))
      return
    default:
      req.resume()
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
  }
}

const openssl = (args: ReadonlyArray<string>, cwd: string): void => {
  execFileSync("openssl", args, { cwd, stdio: "ignore" })
}

interface Certs {
  readonly selfSigned: { readonly key: string; readonly cert: string }
  readonly expired: { readonly key: string; readonly cert: string }
  readonly unknownCa: { readonly key: string; readonly cert: string }
}

/** Certificates for the TLS cases, made with Debian's openssl into the run's temp dir. */
const makeCerts = (dir: string): Certs => {
  const san = "subjectAltName=IP:127.0.0.1,DNS:localhost"
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  openssl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "self.key",
      "-out",
      "self.crt",
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      san
    ],
    dir
  )
  // A leaf signed by a CA that no client trusts.
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Corpus CA"], dir)
  openssl(["req", ...ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost", "-addext", san], dir)
  openssl(
    [
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "leaf.crt",
      "-days",
      "2",
      "-copy_extensions",
      "copy"
    ],
    dir
  )
  // `openssl ca` is the one command of OpenSSL 3.0 that takes explicit validity dates.
  writeFileSync(
    join(dir, "ca.cnf"),
    [
      "[ ca ]",
      "default_ca = corpus",
      "[ corpus ]",
      "database = index.txt",
      "new_certs_dir = .",
      "serial = serial",
      "default_md = sha256",
      "policy = any",
      "copy_extensions = copy",
      "unique_subject = no",
      "[ any ]",
      "commonName = supplied",
      ""
    ].join("\n")
  )
  writeFileSync(join(dir, "index.txt"), "")
  writeFileSync(join(dir, "serial"), "01\n")
  openssl(["req", ...ec, "-keyout", "old.key", "-out", "old.csr", "-subj", "/CN=localhost", "-addext", san], dir)
  openssl(
    [
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-selfsign",
      "-keyfile",
      "old.key",
      "-in",
      "old.csr",
      "-out",
      "old.crt",
      "-startdate",
      "20200101000000Z",
      "-enddate",
      "20200102000000Z"
    ],
    dir
  )
  const read = (name: string) => readFileSync(join(dir, name), "utf8")
  return {
    selfSigned: { key: read("self.key"), cert: read("self.crt") },
    expired: { key: read("old.key"), cert: read("old.crt") },
    unknownCa: { key: read("leaf.key"), cert: read("leaf.crt") }
  }
}

/** A DNS answer with the question echoed and the RCODE the name asks for (RFC 1035 §4.1.1). */
const dnsAnswer = (query: Buffer): Buffer => {
  const labels: Array<string> = []
  let offset = 12
  while (offset < query.length) {
    const length = query[offset] ?? 0
    if (length === 0) break
    labels.push(query.subarray(offset + 1, offset + 1 + length).toString("latin1"))
    offset += length + 1
  }
  const name = labels.join(".").toLowerCase()
  const rcode = name.startsWith("servfail.") ? 2 : name.startsWith("refused.") ? 5 : 3
  const answer = Buffer.from(query)
  // QR = 1, opcode and RD copied, RA = 1, RCODE; no answer, authority or additional records.
  answer[2] = 0x80 | ((query[2] ?? 0) & 0x79)
  answer[3] = 0x80 | rcode
  answer.writeUInt16BE(0, 6)
  answer.writeUInt16BE(0, 8)
  answer.writeUInt16BE(0, 10)
  return answer
}

const bindUdp = (onMessage: (socket: UdpSocket, msg: Buffer, port: number, address: string) => void) =>
  new Promise<{ readonly socket: UdpSocket; readonly port: number }>((resolve, reject) => {
    const socket = createSocket("udp4")
    socket.on("message", (msg, rinfo) => onMessage(socket, msg, rinfo.port, rinfo.address))
    socket.once("error", reject)
    socket.bind(0, "127.0.0.1", () => resolve({ socket, port: socket.address().port }))
  })

const waitForPort = async (port: number, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1")
      socket.once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      socket.once("error", () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`)
    await sleep(20)
  }
}

const startRedis = async (port: number, workDir: string, extra: ReadonlyArray<string>): Promise<ChildProcess> => {
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--enable-debug-command",
      "local",
      "--dir",
      workDir,
      ...extra
    ],
    // A replica writes the RDB it receives into its dir: the run's temp dir, removed at teardown.
    { stdio: "ignore", cwd: workDir }
  )
  const failed = new Promise<never>((_, reject) =>
    child.once("error", (e) => reject(new Error(`redis-server could not start (is it installed?): ${e.message}`)))
  )
  await Promise.race([waitForPort(port, 10_000), failed])
  return child
}

/** The gRPC service of the corpus: one unary method whose request says what status to answer. */
export const grpcService = {
  call: {
    path: "/corpus.Corpus/Call",
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer): Buffer => value,
    requestDeserialize: (value: Buffer): Buffer => value,
    responseSerialize: (value: Buffer): Buffer => value,
    responseDeserialize: (value: Buffer): Buffer => value
  }
} satisfies grpc.ServiceDefinition

/** What the gRPC server is asked to do. */
export interface GrpcScript {
  readonly code?: number
  readonly pushbackMillis?: number
  /** A `grpc-retry-pushback-ms` sent as is (a malformed one); `pushbackMillis` wins when both are set. */
  readonly pushbackText?: string
  readonly delayMillis?: number
  readonly bigResponse?: boolean
  readonly throwError?: boolean
}

const startGrpc = async (): Promise<{ readonly server: grpc.Server; readonly port: number }> => {
  const server = new grpc.Server()
  const call: grpc.handleUnaryCall<Buffer, Buffer> = (unary, callback) => {
    const script: GrpcScript = JSON.parse(unary.request.toString("utf8"))
    const answer = () => {
      if (script.throwError === true) throw new Error("handler exploded")
      if (script.code !== undefined) {
        const metadata = new grpc.Metadata()
        if (script.pushbackMillis !== undefined) metadata.set("grpc-retry-pushback-ms", String(script.pushbackMillis))
        else if (script.pushbackText !== undefined) metadata.set("grpc-retry-pushback-ms", script.pushbackText)
        callback({ code: script.code, details: `scripted status ${script.code}`, metadata })
      } else {
        callback(null, Buffer.from(script.bigResponse === true ? "x".repeat(64 * 1024) : "ok"))
      }
    }
    if (script.delayMillis !== undefined) {
      const timer = setTimeout(answer, script.delayMillis)
      unary.on("cancelled", () => clearTimeout(timer))
    } else answer()
  }
  server.addService(grpcService, { call })
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) =>
      error === null ? resolve(port) : reject(error)
    )
  )
  return { server, port }
}

const pgBase = { host: "127.0.0.1", port: 5432, database: "postgres", user: "postgres" } as const

const setUpPg = async (suffix: string) => {
  const schema = `corpus_${suffix}`
  const limitedRole = `${markers.user}_${suffix}`
  const client = new pg.Client(pgBase)
  await client.connect()
  try {
    await client.query(`CREATE SCHEMA ${schema}`)
    await client.query(`CREATE ROLE ${limitedRole} LOGIN CONNECTION LIMIT 1`)
    await client.query(`GRANT USAGE ON SCHEMA ${schema} TO ${limitedRole}`)
  } finally {
    await client.end()
  }
  const drop = async () => {
    const admin = new pg.Client(pgBase)
    await admin.connect()
    try {
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 OR query LIKE $2 AND pid <> pg_backend_pid()",
        [limitedRole, `%${schema}%`]
      )
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await admin.query(`DROP ROLE IF EXISTS ${limitedRole}`)
    } finally {
      await admin.end()
    }
  }
  return { schema, limitedRole, drop }
}

/** Starts everything; `close` stops it all and removes the temp dir. */
export const start = async (): Promise<Env> => {
  const dir = mkdtempSync(join(tmpdir(), markers.dirPrefix))
  const closers: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })]
  const close = async () => {
    for (const closer of closers.reverse()) {
      try {
        await closer()
      } catch {
        // keep closing the rest
      }
    }
  }
  try {
    const certs = makeCerts(dir)
    const http = createHttpServer(handle)
    const httpPort = await listen(http)
    closers.push(() => closeServer(http))
    const https = createHttpsServer(certs.selfSigned, handle)
    const httpsPort = await listen(https)
    closers.push(() => closeServer(https))
    const expired = createHttpsServer(certs.expired, handle)
    const expiredPort = await listen(expired)
    closers.push(() => closeServer(expired))
    const unknownCa = createHttpsServer(certs.unknownCa, handle)
    const unknownCaPort = await listen(unknownCa)
    closers.push(() => closeServer(unknownCa))

    const sockets = new Set<Socket>()
    const tcp = (onConnection: (socket: Socket) => void) => {
      const server = createNetServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {})
        onConnection(socket)
      })
      closers.push(() => {
        for (const s of sockets) s.destroy()
        return closeServer(server)
      })
      return listen(server)
    }
    const resetPort = await tcp((socket) => socket.resetAndDestroy())
    const hangPort = await tcp(() => {})
    const garbagePort = await tcp((socket) => {
      socket.once("data", () => socket.end("SSH-2.0-OpenSSH_9.2 not http at all\r\n\r\n"))
    })

    const dns = await bindUdp((socket, msg, port, address) => socket.send(dnsAnswer(msg), port, address))
    closers.push(() => {
      dns.socket.close()
    })
    const silent = await bindUdp(() => {})
    closers.push(() => {
      silent.socket.close()
    })

    const redisPort = await freePort()
    const redis = await startRedis(redisPort, dir, [])
    closers.push(() => {
      redis.kill("SIGKILL")
    })
    const redisReplicaPort = await freePort()
    const replica = await startRedis(redisReplicaPort, dir, ["--replicaof", "127.0.0.1", String(redisPort)])
    closers.push(() => {
      replica.kill("SIGKILL")
    })

    const grpcServer = await startGrpc()
    closers.push(() => {
      grpcServer.server.forceShutdown()
    })

    const suffix = `${process.pid}_${Math.floor(Math.random() * 1e6)}`
    const pgScratch = await setUpPg(suffix)
    closers.push(pgScratch.drop)

    const closedPort = await freePort()
    return {
      dir,
      closedPort,
      httpPort,
      httpUrl: `http://127.0.0.1:${httpPort}`,
      httpsPort,
      httpsCert: certs.selfSigned.cert,
      expiredPort,
      expiredCert: certs.expired.cert,
      unknownCaPort,
      resetPort,
      hangPort,
      garbagePort,
      dnsPort: dns.port,
      silentUdpPort: silent.port,
      redisPort,
      redisReplicaPort,
      grpcPort: grpcServer.port,
      pg: { ...pgBase, schema: pgScratch.schema, limitedRole: pgScratch.limitedRole },
      ports: [
        closedPort,
        httpPort,
        httpsPort,
        expiredPort,
        unknownCaPort,
        resetPort,
        hangPort,
        garbagePort,
        dns.port,
        silent.port,
        redisPort,
        redisReplicaPort,
        grpcServer.port
      ],
      close
    }
  } catch (error) {
    await close()
    throw error
  }
}
