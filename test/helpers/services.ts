/**
 * Helpers for tests that need a real server (the PostgreSQL and Redis stores).
 * Where to find them comes from the environment (DATABASE_URL, REDIS_URL) with
 * local defaults; `requireService` skips those tests with a how-to when the
 * server is not reachable, except in CI (CI=true), where they must run and an
 * unreachable server fails the test instead.
 */
import pg from 'pg'
import { Redis } from 'ioredis'
import type { Test } from 'tap'

/** How long a probe waits for a server that does not answer (a refused connection fails at once). */
export const PROBE_TIMEOUT_MS = 1500

/** The PostgreSQL server the tests use: DATABASE_URL, or a local one. */
export function databaseUrl (): string {
  return nonEmpty(process.env.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/test')
}

/** The Redis server the tests use: REDIS_URL, or a local one. */
export function redisUrl (): string {
  return nonEmpty(process.env.REDIS_URL, 'redis://127.0.0.1:6379')
}

function nonEmpty (value: string | undefined, fallback: string): string {
  return value === undefined || value === '' ? fallback : value
}

/** A URL without its user and password, for messages. */
export function withoutCredentials (url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//')
}

/** What went wrong, from anything a probe rejects with (an AggregateError of a refused dual-stack connect has no message, only a code). */
function detail (error: unknown): string {
  const { message, code } = Object(error) as { message?: unknown, code?: unknown }
  return [message, code].filter(Boolean).map(String).join(', ')
}

/** Resolves when a PostgreSQL server answers at `url`; rejects (quickly) saying why not. Leaves nothing open. */
export async function pgReachable (url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS })
  // A connection that breaks later must not become an uncaught 'error' event.
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    throw new Error(`cannot reach ${withoutCredentials(url)}: ${detail(error)}`, { cause: error })
  } finally {
    await client.end()
  }
}

/** Resolves when a Redis server answers at `url`; rejects (quickly) saying why not. Leaves nothing open. */
export async function redisReachable (url: string): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    // One attempt, and no timer left behind to keep the process alive: no
    // reconnection, and disconnect() destroys the socket at once (its default
    // 2 s timer outlives a connection that was refused).
    retryStrategy: () => null,
    disconnectTimeout: 0
  })
  // The reason a connection failed comes as an 'error' event; connect() only says "Connection is closed".
  let failure: unknown
  client.on('error', (error) => { failure = error })
  try {
    await client.connect()
    await client.ping()
  } catch (error) {
    const reason = [detail(failure), detail(error)].filter(Boolean).join('; ')
    throw new Error(`cannot reach ${withoutCredentials(url)}: ${reason}`, { cause: error })
  } finally {
    client.disconnect()
  }
}

/**
 * Whether the tests that need `name` can run: true when `reachable` resolves.
 * Otherwise false, and the test is failed in CI (CI=true: those tests must run
 * there, never be skipped) or skipped elsewhere with `howTo` (e.g. "start it
 * (see README) or set DATABASE_URL").
 */
export async function requireService (t: Test, name: 'PostgreSQL' | 'Redis', reachable: () => Promise<void>, howTo: string): Promise<boolean> {
  try {
    await reachable()
    return true
  } catch (error) {
    const reason = `${name} not reachable (${detail(error)})`
    if (process.env.CI === 'true') {
      t.fail(`${reason}: in CI these tests must run, never be skipped`)
    } else {
      await t.skip(`${reason}: ${howTo}`, () => {})
    }
    return false
  }
}
