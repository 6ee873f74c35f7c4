/**
 * Failures of Node's own modules: fs, net, http, TLS, dns, child_process, zlib, JSON, and the
 * programming defects the runtime throws.
 */
import * as assert from "node:assert"
import { execFile, spawn } from "node:child_process"
import { promises as dns, Resolver } from "node:dns"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import * as net from "node:net"
import { join } from "node:path"
import * as tls from "node:tls"
import * as vm from "node:vm"
import * as zlib from "node:zlib"
import { type Case, emitted, L, rejection, thrown } from "../case.js"
import { markers } from "../env.js"

/** The response of a GET (the value an HTTP boundary maps, as Node's http client never rejects on a status). */
const response = (url: string) =>
  new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.get(url, (res) => {
      res.resume()
      resolve(res)
    })
    req.on("error", reject)
  })

/** A GET whose response body is read to the end: the errors of the exchange. */
const exchange = (url: string, options: http.RequestOptions = {}) =>
  rejection(
    () =>
      new Promise((resolve, reject) => {
        const req = http.get(url, options, (res) => {
          res.on("error", reject)
          res.on("data", () => {})
          res.on("end", () => resolve(res.statusCode))
        })
        req.on("error", reject)
      })
  )

const tlsConnect = (options: tls.ConnectionOptions) =>
  rejection(
    () =>
      new Promise((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", ...options }, () => {
          socket.end()
          resolve("connected")
        })
        socket.on("error", reject)
      })
  )

const runFile = (file: string, args: ReadonlyArray<string>, options: Parameters<typeof execFile>[2] = {}) =>
  rejection(
    () =>
      new Promise((resolve, reject) =>
        execFile(file, args, options, (error, stdout) => (error === null ? resolve(stdout) : reject(error)))
      )
  )

const spawned = (file: string, args: ReadonlyArray<string>, options: Parameters<typeof spawn>[2] = {}) =>
  rejection(
    () =>
      new Promise((resolve, reject) => {
        const child = spawn(file, args, options)
        child.on("error", reject)
        child.on("exit", resolve)
      })
  )

const resolver = (port: number) => {
  const r = new Resolver({ timeout: 100, tries: 1 })
  r.setServers([`127.0.0.1:${port}`])
  return r
}

const resolve4 = (r: Resolver, name: string) =>
  rejection(() => new Promise((resolve, reject) => r.resolve4(name, (e, a) => (e === null ? resolve(a) : reject(e)))))

export const fsCases: ReadonlyArray<Case> = [
  {
    name: "readFile of a missing file (ENOENT)",
    library: "node:fs",
    expected: L.configuration,
    provoke: (env) => rejection(fs.promises.readFile(join(env.dir, "missing.json")))
  },
  {
    name: "readFileSync of a directory (EISDIR)",
    library: "node:fs",
    expected: L.configuration,
    provoke: async (env) => thrown(() => fs.readFileSync(env.dir))
  },
  {
    name: "mkdir of an existing directory (EEXIST)",
    library: "node:fs",
    expected: L.integrity,
    provoke: (env) => rejection(fs.promises.mkdir(env.dir))
  },
  {
    name: "open with wx of an existing file (EEXIST)",
    library: "node:fs",
    expected: L.integrity,
    provoke: async (env) => {
      const file = join(env.dir, "exists.txt")
      fs.writeFileSync(file, "x")
      return rejection(fs.promises.open(file, "wx"))
    }
  },
  {
    name: "readdir of a file (ENOTDIR)",
    library: "node:fs",
    expected: L.configuration,
    provoke: async (env) => {
      const file = join(env.dir, "plain.txt")
      fs.writeFileSync(file, "x")
      return rejection(fs.promises.readdir(file))
    }
  },
  {
    name: "rmdir of a non-empty directory (ENOTEMPTY)",
    library: "node:fs",
    expected: L.integrity,
    provoke: async (env) => {
      const sub = join(env.dir, "full")
      fs.mkdirSync(sub, { recursive: true })
      fs.writeFileSync(join(sub, "f"), "x")
      return rejection(fs.promises.rmdir(sub))
    }
  },
  {
    name: "stat through a symlink loop (ELOOP)",
    library: "node:fs",
    expected: L.configuration,
    provoke: async (env) => {
      const a = join(env.dir, "loop-a")
      const b = join(env.dir, "loop-b")
      fs.rmSync(a, { force: true })
      fs.rmSync(b, { force: true })
      fs.symlinkSync(b, a)
      fs.symlinkSync(a, b)
      return rejection(fs.promises.stat(a))
    }
  },
  {
    name: "open of a file name longer than NAME_MAX (ENAMETOOLONG)",
    library: "node:fs",
    expected: L.validation,
    provoke: (env) => rejection(fs.promises.open(join(env.dir, "n".repeat(300)), "r"))
  },
  {
    name: "readSync on a closed descriptor (EBADF)",
    library: "node:fs",
    expected: L.defect,
    provoke: async (env) => {
      const fd = fs.openSync(join(env.dir, "exists.txt"), "w")
      fs.closeSync(fd)
      return thrown(() => fs.readSync(fd, Buffer.alloc(1)))
    }
  },
  {
    name: "readlink of a regular file (EINVAL)",
    library: "node:fs",
    expected: L.defect,
    provoke: (env) => rejection(fs.promises.readlink(join(env.dir, "exists.txt")))
  },
  {
    name: "readFile with a number as path (ERR_INVALID_ARG_TYPE)",
    library: "node:fs",
    expected: L.defect,
    provoke: async () => thrown(() => fs.readFileSync(JSON.parse("{}")))
  }
]

export const netCases: ReadonlyArray<Case> = [
  {
    name: "connect to a closed port (ECONNREFUSED)",
    library: "node:net",
    expected: L.network,
    provoke: (env) => emitted(net.connect(env.closedPort, "127.0.0.1"))
  },
  {
    name: "peer resets the connection (ECONNRESET)",
    library: "node:net",
    expected: L.network,
    provoke: (env) => {
      const socket = net.connect(env.resetPort, "127.0.0.1")
      socket.on("connect", () => socket.write("hello"))
      return emitted(socket)
    }
  },
  {
    name: "listen on a port in use (EADDRINUSE)",
    library: "node:net",
    expected: L.localResource,
    provoke: (env) => {
      const server = net.createServer()
      server.listen(env.httpPort, "127.0.0.1")
      return emitted(server)
    }
  },
  {
    name: "listen on an address this host does not have (EADDRNOTAVAIL)",
    library: "node:net",
    expected: L.configuration,
    provoke: () => {
      const server = net.createServer()
      server.listen(0, "192.0.2.1")
      return emitted(server)
    }
  },
  {
    name: "connect to port 70000 (ERR_SOCKET_BAD_PORT)",
    library: "node:net",
    expected: L.defect,
    provoke: async () => thrown(() => net.connect(70_000, "127.0.0.1"))
  },
  {
    name: "write after end (ERR_STREAM_WRITE_AFTER_END)",
    library: "node:net",
    expected: L.defect,
    provoke: (env) =>
      new Promise((resolve) => {
        const socket = net.connect(env.hangPort, "127.0.0.1", () => {
          socket.end()
          socket.write("late", (error) => {
            socket.destroy()
            resolve(error)
          })
        })
        socket.on("error", () => {})
      })
  }
]

export const httpCases: ReadonlyArray<Case> = [
  {
    name: "GET to a closed port (ECONNREFUSED)",
    library: "node:http",
    expected: L.network,
    provoke: (env) => exchange(`http://127.0.0.1:${env.closedPort}/`)
  },
  {
    name: "server closes before answering (socket hang up, ECONNRESET)",
    library: "node:http",
    expected: L.network,
    provoke: (env) => exchange(`${env.httpUrl}/hangup`)
  },
  {
    name: "response cut short (aborted, ECONNRESET)",
    library: "node:http",
    expected: L.network,
    provoke: (env) => exchange(`${env.httpUrl}/short`)
  },
  {
    name: "a server that does not speak HTTP (HPE_INVALID_CONSTANT)",
    library: "node:http",
    expected: L.protocol,
    provoke: (env) => exchange(`http://127.0.0.1:${env.garbagePort}/`)
  },
  {
    name: "AbortSignal.timeout fires (AbortError, cause TimeoutError)",
    library: "node:http",
    expected: L.timeout,
    provoke: (env) => exchange(`${env.httpUrl}/slow-headers?ms=2000`, { signal: AbortSignal.timeout(50) })
  },
  {
    name: "the caller aborts (AbortError, cause AbortError)",
    library: "node:http",
    expected: L.callerAbort,
    provoke: (env) => {
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 30)
      return exchange(`${env.httpUrl}/slow-headers?ms=2000`, { signal: controller.signal })
    }
  },
  {
    name: "invalid URL (ERR_INVALID_URL)",
    library: "node:http",
    expected: L.defect,
    provoke: async () => thrown(() => http.get("http://[not-a-host/"))
  },
  {
    name: "invalid header name (ERR_INVALID_HTTP_TOKEN)",
    library: "node:http",
    expected: L.defect,
    provoke: async (env) => thrown(() => http.get(env.httpUrl, { headers: { "bad header": "x" } }))
  },
  {
    name: "response 503 with Retry-After: 7",
    library: "node:http",
    expected: { ...L.unavailable, retryAfterMillis: 7000 },
    provoke: (env) => response(`${env.httpUrl}/status/503?retry-after=7`)
  },
  {
    name: "response 429 with Retry-After: 2",
    library: "node:http",
    expected: { ...L.throttled, retryAfterMillis: 2000 },
    provoke: (env) => response(`${env.httpUrl}/status/429?retry-after=2`)
  },
  {
    name: "response 500",
    library: "node:http",
    expected: L.server,
    provoke: (env) => response(`${env.httpUrl}/status/500`)
  },
  {
    name: "response 404",
    library: "node:http",
    expected: L.client,
    provoke: (env) => response(`${env.httpUrl}/status/404`)
  },
  {
    name: "response 401",
    library: "node:http",
    expected: L.authentication,
    provoke: (env) => response(`${env.httpUrl}/status/401`)
  }
]

export const tlsCases: ReadonlyArray<Case> = [
  {
    name: "self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)",
    library: "node:tls",
    expected: L.configuration,
    provoke: (env) => tlsConnect({ port: env.httpsPort })
  },
  {
    name: "certificate for another host name (ERR_TLS_CERT_ALTNAME_INVALID)",
    library: "node:tls",
    expected: L.configuration,
    provoke: (env) => tlsConnect({ port: env.httpsPort, ca: env.httpsCert, servername: "other.example" })
  },
  {
    name: "expired certificate (CERT_HAS_EXPIRED)",
    library: "node:tls",
    expected: L.configuration,
    provoke: (env) => tlsConnect({ port: env.expiredPort, ca: env.expiredCert })
  },
  {
    name: "certificate signed by an unknown CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)",
    library: "node:tls",
    expected: L.configuration,
    provoke: (env) => tlsConnect({ port: env.unknownCaPort })
  },
  {
    name: "TLS to a plain HTTP port (ERR_SSL_WRONG_VERSION_NUMBER)",
    library: "node:tls",
    expected: L.configuration,
    provoke: (env) => tlsConnect({ port: env.httpPort })
  },
  {
    name: "https.get to a self-signed server (DEPTH_ZERO_SELF_SIGNED_CERT)",
    library: "node:tls",
    expected: L.configuration,
    provoke: (env) =>
      rejection(
        () =>
          new Promise((resolve, reject) => {
            https.get(`https://127.0.0.1:${env.httpsPort}/`, resolve).on("error", reject)
          })
      )
  }
]

export const dnsCases: ReadonlyArray<Case> = [
  {
    name: "lookup of a name under .invalid (ENOTFOUND, getaddrinfo)",
    library: "node:dns",
    expected: L.configuration,
    provoke: () => rejection(dns.lookup(markers.host))
  },
  {
    name: "resolve4 answered NXDOMAIN (ENOTFOUND, queryA)",
    library: "node:dns",
    expected: L.configuration,
    provoke: (env) => resolve4(resolver(env.dnsPort), "nothing-here.test")
  },
  {
    name: "resolve4 answered SERVFAIL (ESERVFAIL)",
    library: "node:dns",
    expected: L.network,
    provoke: (env) => resolve4(resolver(env.dnsPort), "servfail.test")
  },
  {
    name: "resolve4 answered REFUSED (EREFUSED)",
    library: "node:dns",
    expected: L.network,
    provoke: (env) => resolve4(resolver(env.dnsPort), "refused.test")
  },
  {
    name: "resolve4 against a server that never answers (ETIMEOUT)",
    library: "node:dns",
    expected: L.timeout,
    provoke: (env) => resolve4(resolver(env.silentUdpPort), "anything.test")
  },
  {
    name: "lookup with a number as host name (ERR_INVALID_ARG_TYPE)",
    library: "node:dns",
    expected: L.defect,
    provoke: () => rejection(async () => dns.lookup(JSON.parse("42")))
  }
]

export const childProcessCases: ReadonlyArray<Case> = [
  {
    name: "spawn of a missing script (ENOENT, syscall holds the path)",
    library: "node:child_process",
    expected: L.configuration,
    provoke: (env) => spawned(join(env.dir, "missing-script.sh"), [])
  },
  {
    name: "spawn of a file without the execute bit (EACCES)",
    library: "node:child_process",
    expected: L.authorization,
    provoke: (env) => {
      const file = join(env.dir, "not-executable.sh")
      fs.writeFileSync(file, "#!/bin/sh\necho hi\n", { mode: 0o644 })
      return spawned(file, [])
    }
  },
  {
    name: "spawn with a missing working directory (ENOENT)",
    library: "node:child_process",
    expected: L.configuration,
    provoke: (env) => spawned("node", ["-e", "0"], { cwd: join(env.dir, "no-such-dir") })
  },
  {
    name: "execFile of a command that exits 3 (code 3)",
    library: "node:child_process",
    expected: L.unknown,
    provoke: () => runFile("node", ["-e", "process.exit(3)"])
  },
  {
    name: "execFile killed by its timeout (killed, SIGTERM)",
    library: "node:child_process",
    expected: L.timeout,
    provoke: () => runFile("node", ["-e", "setTimeout(() => {}, 5000)"], { timeout: 150 })
  },
  {
    name: "execFile output over maxBuffer (ERR_CHILD_PROCESS_STDIO_MAXBUFFER)",
    library: "node:child_process",
    expected: L.localResourceFinal,
    provoke: () => runFile("node", ["-e", "process.stdout.write('x'.repeat(10000))"], { maxBuffer: 100 })
  },
  {
    name: "execFile aborted by the caller (ABORT_ERR)",
    library: "node:child_process",
    expected: L.callerAbort,
    provoke: () => {
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 50)
      return runFile("node", ["-e", "setTimeout(() => {}, 5000)"], { signal: controller.signal })
    }
  },
  {
    name: "spawn with a number as command (ERR_INVALID_ARG_TYPE)",
    library: "node:child_process",
    expected: L.defect,
    provoke: async () => thrown(() => spawn(JSON.parse("1"), []))
  }
]

const gzipped = zlib.gzipSync(Buffer.from(`{"marker":"${markers.payload}","filler":"${"y".repeat(200)}"}`))

export const zlibCases: ReadonlyArray<Case> = [
  {
    name: "gunzip of bytes that are not gzip (Z_DATA_ERROR)",
    library: "node:zlib",
    expected: L.validation,
    provoke: async () => thrown(() => zlib.gunzipSync(Buffer.from(`not gzip ${markers.payload}`)))
  },
  {
    name: "gunzip of a truncated stream (Z_BUF_ERROR)",
    library: "node:zlib",
    expected: L.validation,
    provoke: async () => thrown(() => zlib.gunzipSync(gzipped.subarray(0, gzipped.length - 12)))
  },
  {
    name: "inflate of a corrupt deflate stream (Z_DATA_ERROR, invalid block type)",
    library: "node:zlib",
    expected: L.validation,
    provoke: async () => thrown(() => zlib.inflateRawSync(Buffer.from([0xff, 0xff, 0xff, 0xff])))
  },
  {
    name: "brotli decompress of garbage (ERR__ERROR_FORMAT_...)",
    library: "node:zlib",
    expected: L.validation,
    provoke: async () => thrown(() => zlib.brotliDecompressSync(Buffer.from("definitely not brotli data")))
  },
  {
    name: "gunzip over maxOutputLength (ERR_BUFFER_TOO_LARGE)",
    library: "node:zlib",
    expected: L.validation,
    provoke: async () => thrown(() => zlib.gunzipSync(gzipped, { maxOutputLength: 16 }))
  },
  {
    name: "gzip with level 42 (ERR_OUT_OF_RANGE)",
    library: "node:zlib",
    expected: L.defect,
    provoke: async () => thrown(() => zlib.gzipSync("x", { level: 42 }))
  }
]

export const jsonCases: ReadonlyArray<Case> = [
  {
    name: "JSON.parse of a truncated document (SyntaxError)",
    library: "JSON",
    expected: L.validation,
    provoke: async () => thrown(() => JSON.parse(`{"marker":"${markers.payload}"`))
  },
  {
    name: "JSON.parse of HTML (SyntaxError, unexpected token)",
    library: "JSON",
    expected: L.validation,
    provoke: async () => thrown(() => JSON.parse("<html>error page</html>"))
  },
  {
    name: "JSON.parse of an empty body (SyntaxError, unexpected end)",
    library: "JSON",
    expected: L.validation,
    provoke: async () => thrown(() => JSON.parse(""))
  },
  {
    name: "JSON.stringify of a cycle (TypeError)",
    library: "JSON",
    expected: L.defect,
    provoke: async () => {
      const cyclic: { self?: unknown } = {}
      cyclic.self = cyclic
      return thrown(() => JSON.stringify(cyclic))
    }
  },
  {
    name: "JSON.stringify of a BigInt (TypeError)",
    library: "JSON",
    expected: L.defect,
    provoke: async () => thrown(() => JSON.stringify({ n: 1n }))
  }
]

export const defectCases: ReadonlyArray<Case> = [
  {
    name: "calling what is not a function (TypeError)",
    library: "defect",
    expected: L.defect,
    provoke: async () => thrown(() => JSON.parse("{}").run())
  },
  {
    name: "reading a property of undefined (TypeError)",
    library: "defect",
    expected: L.defect,
    provoke: async () => thrown(() => JSON.parse("{}").a.b)
  },
  {
    name: "an undeclared variable (ReferenceError)",
    library: "defect",
    expected: L.defect,
    provoke: async () => thrown(() => new Function("return notDeclaredAnywhere")())
  },
  {
    name: "an undeclared variable in another realm (vm ReferenceError)",
    library: "defect",
    expected: L.defect,
    provoke: async () => thrown(() => vm.runInNewContext("notDeclaredAnywhere"))
  },
  {
    name: "an invalid array length (RangeError)",
    library: "defect",
    expected: L.defect,
    provoke: async () => thrown(() => new Array(JSON.parse("-1")))
  },
  {
    name: "stack overflow (RangeError, maximum call stack)",
    library: "defect",
    expected: L.defect,
    provoke: async () => {
      const recurse = (n: number): number => recurse(n + 1) + 1
      return thrown(() => recurse(0))
    }
  },
  {
    name: "Buffer.from(number) (ERR_INVALID_ARG_TYPE)",
    library: "defect",
    expected: L.defect,
    provoke: async () => thrown(() => Buffer.from(JSON.parse("5")))
  },
  {
    name: "reading past a buffer's end (ERR_BUFFER_OUT_OF_BOUNDS)",
    library: "defect",
    expected: L.defect,
    provoke: async () => thrown(() => Buffer.alloc(2).readUInt32BE(0))
  },
  {
    name: "a failed assertion (ERR_ASSERTION)",
    library: "defect",
    expected: L.defect,
    provoke: async () => thrown(() => assert.strictEqual(1, 2))
  },
  {
    name: "source text that does not parse (SyntaxError from new Function)",
    library: "defect",
    expected: L.defect,
    provoke: async () => thrown(() => new Function("return {{"))
  },
  {
    name: "BigInt division by zero (RangeError)",
    library: "defect",
    expected: L.defect,
    provoke: async () => thrown(() => 1n / BigInt(JSON.parse("0")))
  }
]
