import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Writable } from 'node:stream'
import fastifyScheduler from '../../lib/index.js'
import type { SchedulerOptions } from '../../lib/options.js'
import { ManualClock } from './fake-clock.js'

export interface LogRecord {
  level: number
  msg?: string
  jobId?: string
  runId?: string
  [field: string]: unknown
}

export interface TestApp {
  app: FastifyInstance
  clock: ManualClock
  /** What the app's pino logger wrote, parsed; empty unless `logs: true`. */
  logs: LogRecord[]
}

/** A settable promise: the test decides when a job's run ends. */
export function deferred<T = void> (): { promise: Promise<T>, resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}

/**
 * A Fastify app with the plugin registered on a manual clock (UTC), not yet
 * ready. With `logs`, the app logs at trace level into `logs`.
 */
export async function build (options: SchedulerOptions = {}, settings: { logs?: boolean, fastify?: FastifyServerOptions } = {}): Promise<TestApp> {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock()
  const logs: LogRecord[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      logs.push(JSON.parse(chunk.toString()) as LogRecord)
      callback()
    }
  })
  const app = Fastify({ ...(settings.logs === true ? { logger: { level: 'trace', stream } } : {}), ...settings.fastify })
  await app.register(fastifyScheduler, { timezone: 'UTC', ...options, clock })
  return { app, clock, logs }
}

/** pino's numeric levels. */
export const LEVEL = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const
