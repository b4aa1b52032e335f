/**
 * The plugin's options: their types, defaults and validation. Everything is
 * checked at registration, so a typo fails `app.ready()` with an error naming
 * the option and the value instead of being ignored. The options the
 * Scheduler core takes as they are (timezone's type aside: `clock`,
 * `defaults`, `shutdownTimeout`) are validated by its constructor, with the
 * same error code and format, so the rules live in one place.
 */
import type { FastifyInstance, onRequestHookHandler, preHandlerHookHandler } from 'fastify'
import type { Clock } from './clock.js'
import { ErrorCodes, SchedulerError, describe, invalidOption } from './errors.js'
import type { JobDefinition, JobOptions } from './job.js'
import type { SchedulerCoreOptions } from './scheduler.js'
import type { Store } from './stores/store.js'
import { resolveZone } from './triggers/zone.js'

/**
 * A hook written either way, `async (request, reply) => {}` or with `done`: one
 * function type (as Fastify's route options use), not a union of the two, so
 * an inline hook's parameters are typed from context.
 */
type RouteHook<T extends (this: never, ...args: never[]) => unknown> =
  (this: ThisParameterType<T>, ...args: Parameters<T>) => void | Promise<unknown>
export type OnRequestHook = RouteHook<onRequestHookHandler>
export type PreHandlerHook = RouteHook<preHandlerHookHandler>

/** The status routes. */
export interface RoutesOptions {
  /** Where the routes live; default `'/jobs'`. */
  prefix?: string
  /** Run before every route of the plugin (put authentication here). */
  onRequest?: OnRequestHook | OnRequestHook[]
  /** Run before every route's handler, after validation. */
  preHandler?: PreHandlerHook | PreHandlerHook[]
  /** Add `POST {prefix}/:id/run`, `/pause` and `/resume`; default false. */
  actions?: boolean
  /** Allow `actions: true` without an `onRequest` or `preHandler` hook. */
  allowUnauthenticatedActions?: boolean
}

/**
 * An object whose methods carry `@Cron` / `@Interval` / `@At`. Anything but a
 * job definition: an entry with `trigger` or `handler` is a definition, so a
 * broken definition is reported as one rather than as "no decorated methods".
 */
export type JobSource = object & { trigger?: never, handler?: never }

export interface SchedulerOptions {
  /** IANA zone for cron triggers that name none; default: the process's zone. */
  timezone?: string
  /** Jobs added at registration: definitions, and objects with decorated methods. */
  // `any` data: each job in the list has its own data type.
  jobs?: Array<JobDefinition<any, FastifyInstance> | JobSource>
  /** Start firing in `onReady`; default true. With false, call `app.scheduler.start()`. */
  autoStart?: boolean
  /** ms `close()` waits for running jobs before aborting their signal; default 10000. */
  shutdownTimeout?: number
  /** Defaults for every job's `maxInstances`, `coalesce`, `misfireGraceTime` and `timeout`. */
  defaults?: Partial<JobOptions>
  /** The status routes; default `{ prefix: '/jobs' }`; false adds none. */
  routes?: false | RoutesOptions
  /**
   * A shared store (`postgresStore` from 'fastify-scheduler/postgres',
   * `redisStore` from 'fastify-scheduler/redis'): every server on it acts as
   * one scheduler, each fire running on one of them. Default: none, the jobs
   * of this process only.
   */
  store?: Store
  /** With a store: ms a run's lease lasts without renewal (renewed every third of it); default 30000. */
  leaseTime?: number
  /** With a store: ms between re-reads of the stored jobs (the fallback for missed notifications); default 5000. */
  pollInterval?: number
  /** With a store: this instance's id in `lastRun.instanceId` and the `instances` list; default a random UUID. */
  instanceId?: string
  /** Time source, for tests; default: the system clock. */
  clock?: Clock
}

export interface ResolvedRoutes {
  prefix: string
  onRequest: OnRequestHook[]
  preHandler: PreHandlerHook[]
  actions: boolean
}

export interface ResolvedOptions {
  /** Handed to the Scheduler core, which validates them. */
  core: Pick<SchedulerCoreOptions, 'timezone' | 'clock' | 'defaults' | 'shutdownTimeout' | 'store' | 'leaseTime' | 'pollInterval' | 'instanceId'>
  jobs: Array<JobDefinition<unknown, FastifyInstance> | JobSource>
  autoStart: boolean
  routes: ResolvedRoutes | false
}

export const DEFAULT_PREFIX = '/jobs'

const OPTION_NAMES = new Set(['timezone', 'jobs', 'autoStart', 'shutdownTimeout', 'defaults', 'routes', 'store', 'leaseTime', 'pollInterval', 'instanceId', 'clock'])
/** Fastify's own `register` options: they arrive in the plugin's options too. */
const REGISTER_OPTION_NAMES = new Set(['prefix', 'logLevel', 'logSerializers'])
const ROUTES_OPTION_NAMES = new Set(['prefix', 'onRequest', 'preHandler', 'actions', 'allowUnauthenticatedActions'])

/** Validates the plugin's options and fills in the defaults. Throws FST_SCHEDULER_INVALID_OPTION. */
export function resolveOptions (options: unknown): ResolvedOptions {
  if (!isPlainObject(options)) throw invalidOption('options', options, 'expected an object')
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key) && !REGISTER_OPTION_NAMES.has(key)) {
      throw invalidOption(key, options[key], `unknown option; known: ${[...OPTION_NAMES].join(', ')}`)
    }
  }
  const { timezone, jobs, autoStart, shutdownTimeout, defaults, routes, store, leaseTime, pollInterval, instanceId, clock } = options
  if (timezone !== undefined) {
    try {
      resolveZone(timezone)
    } catch (err) {
      throw new SchedulerError(ErrorCodes.INVALID_OPTION, `Invalid option timezone ${describe(timezone)}: expected an IANA zone name such as "Europe/Berlin" or "UTC"`, 500, { cause: err })
    }
  }
  if (autoStart !== undefined && typeof autoStart !== 'boolean') throw invalidOption('autoStart', autoStart, 'must be a boolean')
  return {
    // The core validates these (the same rules and messages with or without the plugin).
    core: {
      timezone: timezone as string | undefined,
      clock: clock as Clock | undefined,
      defaults: defaults as Partial<JobOptions> | undefined,
      shutdownTimeout: shutdownTimeout as number | undefined,
      store: store as Store | undefined,
      leaseTime: leaseTime as number | undefined,
      pollInterval: pollInterval as number | undefined,
      instanceId: instanceId as string | undefined
    },
    jobs: resolveJobs(jobs),
    autoStart: autoStart ?? true,
    routes: resolveRoutes(routes)
  }
}

/** Is this `jobs` entry a job definition (for addJob), rather than an object with decorated methods (for addJobsFrom)? */
export function isJobDefinition (entry: object): entry is JobDefinition<unknown, FastifyInstance> {
  return Object.hasOwn(entry, 'trigger') || Object.hasOwn(entry, 'handler')
}

function resolveJobs (jobs: unknown): ResolvedOptions['jobs'] {
  if (jobs === undefined) return []
  if (!Array.isArray(jobs)) throw invalidOption('jobs', jobs, 'expected an array of job definitions and objects with decorated methods')
  jobs.forEach((entry: unknown, index) => {
    // Definitions are checked by addJob, objects by addJobsFrom; here only that each is an object.
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw invalidOption(`jobs[${index}]`, entry, 'expected a job definition { id, trigger, handler } or an object with decorated methods')
    }
  })
  return jobs as ResolvedOptions['jobs']
}

function resolveRoutes (routes: unknown): ResolvedRoutes | false {
  if (routes === false) return false
  if (routes === undefined) return { prefix: DEFAULT_PREFIX, onRequest: [], preHandler: [], actions: false }
  if (!isPlainObject(routes)) throw invalidOption('routes', routes, 'expected false or { prefix, onRequest, preHandler, actions, allowUnauthenticatedActions }')
  for (const key of Object.keys(routes)) {
    if (!ROUTES_OPTION_NAMES.has(key)) {
      throw invalidOption(`routes.${key}`, routes[key], `unknown option; known: ${[...ROUTES_OPTION_NAMES].join(', ')}`)
    }
  }
  const { prefix = DEFAULT_PREFIX, actions = false, allowUnauthenticatedActions = false } = routes
  if (typeof prefix !== 'string' || !prefix.startsWith('/')) throw invalidOption('routes.prefix', prefix, 'must be a path starting with "/"')
  const onRequest = hooks('routes.onRequest', routes.onRequest) as OnRequestHook[]
  const preHandler = hooks('routes.preHandler', routes.preHandler) as PreHandlerHook[]
  if (typeof actions !== 'boolean') throw invalidOption('routes.actions', actions, 'must be a boolean')
  if (typeof allowUnauthenticatedActions !== 'boolean') {
    throw invalidOption('routes.allowUnauthenticatedActions', allowUnauthenticatedActions, 'must be a boolean')
  }
  // The POST routes run and pause jobs: refuse to expose them to anyone by accident.
  if (actions && onRequest.length === 0 && preHandler.length === 0 && !allowUnauthenticatedActions) {
    throw invalidOption('routes.actions', actions, 'the POST routes need an onRequest or preHandler hook (authentication); set allowUnauthenticatedActions: true to expose them without one')
  }
  return { prefix, onRequest, preHandler, actions }
}

/** A hook option as a list: undefined, a function, or an array of functions. */
function hooks (name: string, value: unknown): unknown[] {
  if (value === undefined) return []
  const list = Array.isArray(value) ? value : [value]
  list.forEach((hook, index) => {
    if (typeof hook !== 'function') throw invalidOption(Array.isArray(value) ? `${name}[${index}]` : name, hook, 'must be a function')
  })
  return list
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
