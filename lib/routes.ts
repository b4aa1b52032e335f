/**
 * The status routes, as an encapsulated child plugin: its `prefix` applies and
 * the user's `onRequest` / `preHandler` hooks reach these routes only. Every
 * route has JSON schemas for params and responses, so the output is serialized
 * by fast-json-stringify (which also drops anything the schema doesn't name,
 * such as an error's stack) and documented by @fastify/swagger when present.
 */
import type { FastifyInstance } from 'fastify'
import { ErrorCodes, SchedulerError, describe } from './errors.js'
import type { JobStatus } from './job.js'
import type { ResolvedRoutes } from './options.js'
import type { Scheduler } from './scheduler.js'

export interface RoutesPluginOptions extends ResolvedRoutes {
  scheduler: Scheduler<FastifyInstance>
}

const runError = {
  type: ['object', 'null'],
  properties: { name: { type: 'string' }, message: { type: 'string' } },
  required: ['name', 'message'],
  additionalProperties: false
} as const

const lastRun = {
  type: ['object', 'null'],
  properties: {
    runId: { type: 'string' },
    scheduledAt: { type: 'string', format: 'date-time' },
    startedAt: { type: 'string', format: 'date-time' },
    // null for a run lost with its instance (shared stores).
    finishedAt: { type: ['string', 'null'], format: 'date-time' },
    durationMs: { type: ['number', 'null'] },
    status: { type: 'string', enum: ['success', 'error', 'timeout', 'aborted', 'lost'] },
    error: runError,
    instanceId: { type: 'string' }
  },
  required: ['runId', 'scheduledAt', 'startedAt', 'finishedAt', 'durationMs', 'status', 'error', 'instanceId']
} as const

const count = { type: 'integer', minimum: 0 } as const

const instanceSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    heartbeatAt: { type: 'string', format: 'date-time' },
    startedAt: { type: 'string', format: 'date-time' }
  },
  required: ['id', 'heartbeatAt', 'startedAt']
} as const

export const jobStatusSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    // Each trigger type has its own fields (expression, timezone, intervalMs, at, ...).
    trigger: {
      type: 'object',
      properties: {
        type: { type: 'string', enum: ['cron', 'interval', 'date'] },
        description: { type: 'string' }
      },
      required: ['type', 'description'],
      additionalProperties: true
    },
    paused: { type: 'boolean' },
    running: count,
    nextRunAt: { type: ['string', 'null'], format: 'date-time' },
    lastRun,
    stats: {
      type: 'object',
      properties: { runs: count, successes: count, failures: count, missed: count, skipped: count },
      required: ['runs', 'successes', 'failures', 'missed', 'skipped']
    }
  },
  required: ['id', 'name', 'trigger', 'paused', 'running', 'nextRunAt', 'lastRun', 'stats']
} as const

/** Fastify's own error format, which its default error handler produces. */
export const errorSchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' }
  },
  required: ['statusCode', 'error', 'message']
} as const

const params = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1 } },
  required: ['id']
} as const

interface IdParams {
  Params: { id: string }
}

/** The routes plugin. Registered by the scheduler plugin with `{ prefix, ...routes, scheduler }`. */
export async function schedulerRoutes (fastify: FastifyInstance, options: RoutesPluginOptions): Promise<void> {
  const { scheduler } = options
  for (const hook of options.onRequest) fastify.addHook('onRequest', hook)
  for (const hook of options.preHandler) fastify.addHook('preHandler', hook)

  fastify.get('/', {
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            state: { type: 'string', enum: ['stopped', 'running', 'paused'] },
            jobs: { type: 'array', items: jobStatusSchema },
            // The fleet on a shared store; this instance alone without one.
            instances: { type: 'array', items: instanceSchema }
          },
          required: ['state', 'jobs', 'instances']
        }
      }
    }
  }, async () => {
    // With a shared store: the fleet's state now (the last known if the store is unreachable).
    await scheduler.refresh()
    return { state: scheduler.state, jobs: scheduler.getJobs(), instances: scheduler.getInstances() }
  })

  fastify.get<IdParams>('/:id', {
    schema: { params, response: { 200: jobStatusSchema, 404: errorSchema } }
  }, async (request) => {
    await scheduler.refresh()
    const job = scheduler.getJob(request.params.id)
    // Thrown, not sent: Fastify's error handler (or the user's) answers in its own format.
    if (job === undefined) throw new SchedulerError(ErrorCodes.JOB_NOT_FOUND, `No job with id ${describe(request.params.id)}`, 404)
    return job
  })

  if (!options.actions) return

  fastify.post<IdParams>('/:id/run', {
    schema: {
      params,
      response: {
        202: { type: 'object', properties: { runId: { type: 'string' } }, required: ['runId'] },
        404: errorSchema,
        409: errorSchema,
        503: errorSchema
      }
    }
  }, async (request, reply) => {
    const { id } = request.params
    // Answered once the run has started, not when it ends: a run may take hours.
    // The outcome lands in the job's lastRun. With a shared store, `started`
    // waits for the claim (and rejects with a 503 when the store is unreachable).
    const runId = await scheduler.startRun(id).started
    if (runId === null) {
      const { running } = scheduler.getJob(id) as JobStatus
      throw new SchedulerError(ErrorCodes.INVALID_STATE, `Job ${describe(id)} is at its maxInstances: ${running} run(s) going`, 409)
    }
    reply.code(202)
    return { runId }
  })

  const change = { params, response: { 200: jobStatusSchema, 404: errorSchema } }
  fastify.post<IdParams>('/:id/pause', { schema: change }, async (request) => scheduler.pauseJob(request.params.id))
  fastify.post<IdParams>('/:id/resume', { schema: change }, async (request) => scheduler.resumeJob(request.params.id))
}
