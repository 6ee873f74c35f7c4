/** Failures of fetch (Node's global, undici inside) and of undici 7 used directly. */
import { Agent, Client, interceptors, request } from "undici"
import { after, type Case, L, rejection } from "../case.js"
import type { Env } from "../env.js"
import { markers } from "../env.js"

const body = JSON.stringify({ marker: markers.payload })

const fetchStatus = (env: Env, status: number, query = "") =>
  fetch(`${env.httpUrl}/status/${status}${query}`, { method: "POST", body })

/** undici's `request` through the responseError interceptor: a status >= 400 rejects with ResponseError. */
const undiciStatus = (env: Env, status: number, query = "") =>
  rejection(async () => {
    const dispatcher = new Agent().compose(interceptors.responseError())
    try {
      const res = await request(`${env.httpUrl}/status/${status}${query}`, { method: "POST", body, dispatcher })
      return await res.body.text()
    } finally {
      await dispatcher.close()
    }
  })

const withClient = (env: Env, options: ConstructorParameters<typeof Client>[1], path: string) =>
  rejection(async () => {
    const client = new Client(env.httpUrl, options)
    try {
      const res = await client.request({ path, method: "GET" })
      return await res.body.text()
    } finally {
      await client.destroy()
    }
  })

export const fetchCases: ReadonlyArray<Case> = [
  {
    name: "fetch to a closed port (TypeError fetch failed, cause ECONNREFUSED)",
    library: "fetch",
    expected: L.network,
    provoke: (env) => rejection(fetch(`http://127.0.0.1:${env.closedPort}/`, { method: "POST", body }))
  },
  {
    name: "fetch, the server hangs up (cause UND_ERR_SOCKET)",
    library: "fetch",
    expected: L.network,
    provoke: (env) => rejection(fetch(`${env.httpUrl}/hangup`))
  },
  {
    name: "fetch, the body is cut short (TypeError terminated, cause UND_ERR_SOCKET)",
    library: "fetch",
    expected: L.network,
    provoke: (env) => rejection(async () => (await fetch(`${env.httpUrl}/short`)).text())
  },
  {
    name: "fetch of a name under .invalid (cause ENOTFOUND)",
    library: "fetch",
    expected: L.configuration,
    provoke: () => rejection(fetch(`http://${markers.host}/`))
  },
  {
    name: "fetch to a self-signed server (cause DEPTH_ZERO_SELF_SIGNED_CERT)",
    library: "fetch",
    expected: L.configuration,
    provoke: (env) => rejection(fetch(`https://127.0.0.1:${env.httpsPort}/`))
  },
  {
    name: "fetch with AbortSignal.timeout (DOMException TimeoutError)",
    library: "fetch",
    expected: L.timeout,
    provoke: (env) => rejection(fetch(`${env.httpUrl}/slow-headers?ms=2000`, { signal: AbortSignal.timeout(50) }))
  },
  {
    name: "fetch aborted by the caller (DOMException AbortError)",
    library: "fetch",
    expected: L.callerAbort,
    provoke: (env) => {
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 30)
      return rejection(fetch(`${env.httpUrl}/slow-headers?ms=2000`, { signal: controller.signal }))
    }
  },
  {
    name: "fetch body read times out (AbortSignal.timeout while reading)",
    library: "fetch",
    expected: L.timeout,
    provoke: (env) =>
      rejection(async () =>
        (await fetch(`${env.httpUrl}/slow-body?ms=2000`, { signal: AbortSignal.timeout(80) })).text()
      )
  },
  {
    name: "fetch of an invalid URL (TypeError, cause ERR_INVALID_URL)",
    library: "fetch",
    expected: L.defect,
    provoke: () => rejection(fetch("http://[not-a-host/"))
  },
  {
    name: "fetch with a GET body (TypeError)",
    library: "fetch",
    expected: L.defect,
    provoke: (env) => rejection(fetch(env.httpUrl, { method: "GET", body }))
  },
  {
    name: "response.json() of an HTML body (SyntaxError)",
    library: "fetch",
    expected: L.validation,
    provoke: (env) => rejection(async () => (await fetch(`${env.httpUrl}/text`)).json())
  },
  {
    name: "Response 503 with Retry-After: 3",
    library: "fetch",
    expected: after(L.unavailable, 3000),
    provoke: (env) => fetchStatus(env, 503, "?retry-after=3")
  },
  {
    name: "Response 429 with retry-after-ms: 1500",
    library: "fetch",
    expected: after(L.throttled, 1500),
    provoke: (env) => fetchStatus(env, 429, "?retry-after-ms=1500")
  },
  {
    name: "Response 429 with x-ms-retry-after-ms: 750",
    library: "fetch",
    expected: after(L.throttled, 750),
    provoke: (env) => fetchStatus(env, 429, "?x-ms-retry-after-ms=750")
  },
  {
    name: "Response 502",
    library: "fetch",
    expected: L.unavailable,
    provoke: (env) => fetchStatus(env, 502)
  },
  {
    name: "Response 422",
    library: "fetch",
    expected: L.validation,
    provoke: (env) => fetchStatus(env, 422)
  },
  {
    name: "Response 403",
    library: "fetch",
    expected: L.authorization,
    provoke: (env) => fetchStatus(env, 403)
  }
]

export const undiciCases: ReadonlyArray<Case> = [
  {
    name: "request to a closed port (ECONNREFUSED)",
    library: "undici",
    expected: L.network,
    provoke: (env) => rejection(request(`http://127.0.0.1:${env.closedPort}/`, { method: "POST", body }))
  },
  {
    name: "ResponseError 503 with Retry-After: 4 (responseError interceptor)",
    library: "undici",
    expected: after(L.unavailable, 4000),
    provoke: (env) => undiciStatus(env, 503, "?retry-after=4")
  },
  {
    name: "ResponseError 429 with Retry-After: 1",
    library: "undici",
    expected: after(L.throttled, 1000),
    provoke: (env) => undiciStatus(env, 429, "?retry-after=1")
  },
  {
    name: "ResponseError 429 with retry-after-ms: 250",
    library: "undici",
    expected: after(L.throttled, 250),
    provoke: (env) => undiciStatus(env, 429, "?retry-after-ms=250")
  },
  {
    name: "ResponseError 500",
    library: "undici",
    expected: L.server,
    provoke: (env) => undiciStatus(env, 500)
  },
  {
    name: "ResponseError 504",
    library: "undici",
    expected: L.timeout,
    provoke: (env) => undiciStatus(env, 504)
  },
  {
    name: "ResponseError 404",
    library: "undici",
    expected: L.client,
    provoke: (env) => undiciStatus(env, 404)
  },
  {
    name: "ResponseError 400",
    library: "undici",
    expected: L.validation,
    provoke: (env) => undiciStatus(env, 400)
  },
  {
    name: "ResponseError 401",
    library: "undici",
    expected: L.authentication,
    provoke: (env) => undiciStatus(env, 401)
  },
  {
    name: "ResponseError 409",
    library: "undici",
    expected: L.concurrencyFinal,
    provoke: (env) => undiciStatus(env, 409)
  },
  {
    name: "RequestRetryError after retries of a 503 with Retry-After: 2 (retry interceptor)",
    library: "undici",
    expected: after(L.unavailable, 2000),
    provoke: (env) =>
      rejection(async () => {
        const dispatcher = new Agent().compose(
          interceptors.retry({ maxRetries: 1, minTimeout: 1, maxTimeout: 5, retryAfter: false, throwOnError: true })
        )
        try {
          const res = await request(`${env.httpUrl}/status/503?retry-after=2`, { dispatcher })
          return await res.body.text()
        } finally {
          await dispatcher.close()
        }
      })
  },
  {
    name: "headersTimeout (UND_ERR_HEADERS_TIMEOUT)",
    library: "undici",
    expected: L.timeout,
    provoke: (env) => withClient(env, { headersTimeout: 50 }, "/slow-headers?ms=2000")
  },
  {
    name: "bodyTimeout (UND_ERR_BODY_TIMEOUT)",
    library: "undici",
    expected: L.timeout,
    provoke: (env) => withClient(env, { bodyTimeout: 50 }, "/slow-body?ms=2000")
  },
  {
    name: "the server hangs up (UND_ERR_SOCKET)",
    library: "undici",
    expected: L.network,
    provoke: (env) => withClient(env, {}, "/hangup")
  },
  {
    name: "the body is cut short (UND_ERR_SOCKET / content length)",
    library: "undici",
    expected: L.network,
    provoke: (env) => withClient(env, {}, "/short")
  },
  {
    name: "a server that does not speak HTTP (HTTPParserError)",
    library: "undici",
    expected: L.protocol,
    provoke: (env) => rejection(request(`http://127.0.0.1:${env.garbagePort}/`))
  },
  {
    name: "maxResponseSize exceeded (UND_ERR_RES_EXCEEDED_MAX_SIZE)",
    library: "undici",
    expected: L.client,
    provoke: (env) => withClient(env, { maxResponseSize: 1024 }, "/big")
  },
  {
    name: "request with AbortSignal.timeout (TimeoutError)",
    library: "undici",
    expected: L.timeout,
    provoke: (env) => rejection(request(`${env.httpUrl}/slow-headers?ms=2000`, { signal: AbortSignal.timeout(50) }))
  },
  {
    name: "request aborted by the caller (AbortError)",
    library: "undici",
    expected: L.callerAbort,
    provoke: (env) => {
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 30)
      return rejection(request(`${env.httpUrl}/slow-headers?ms=2000`, { signal: controller.signal }))
    }
  },
  {
    name: "request on a closed client (UND_ERR_CLOSED)",
    library: "undici",
    expected: L.defect,
    provoke: (env) =>
      rejection(async () => {
        const client = new Client(env.httpUrl)
        const closing = client.close()
        try {
          return await client.request({ path: "/", method: "GET" })
        } finally {
          await closing
        }
      })
  },
  {
    name: "request on a destroyed client (UND_ERR_DESTROYED)",
    library: "undici",
    expected: L.defect,
    provoke: (env) =>
      rejection(async () => {
        const client = new Client(env.httpUrl)
        await client.destroy()
        return client.request({ path: "/", method: "GET" })
      })
  },
  {
    name: "invalid method (UND_ERR_INVALID_ARG)",
    library: "undici",
    expected: L.configuration,
    provoke: (env) => rejection(async () => request(env.httpUrl, { method: JSON.parse('"NOT A METHOD"') }))
  },
  {
    name: "content-length that does not match the body (UND_ERR_REQ_CONTENT_LENGTH_MISMATCH)",
    library: "undici",
    expected: L.client,
    provoke: (env) =>
      rejection(request(`${env.httpUrl}/status/200`, { method: "POST", body, headers: { "content-length": "3" } }))
  }
]
