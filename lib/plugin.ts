/**
 * The Fastify plugin: a thin adapter over the Scheduler core. It validates the
 * options, decorates `app.scheduler`, adds the jobs of `options.jobs` at
 * registration (a bad one fails `app.ready()`), registers the status routes,
 * and ties the scheduler's lifecycle to the server's: start in `onReady`, stop
 * firing at `preClose`, drain in `onClose` (DESIGN rule 7).
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { BoundScheduler } from './bound-scheduler.js'
import { isJobDefinition, resolveOptions, type SchedulerOptions } from './options.js'
import { schedulerRoutes } from './routes.js'
import { Scheduler } from './scheduler.js'

// In this module (not a .d.ts of its own) so the emitted dist/plugin.d.ts
// carries it and every importer of the package sees `app.scheduler` typed.
declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The job scheduler. Every instance sees the same jobs, but a job added
     * through an instance's `scheduler` gets that instance as `this` and
     * `ctx.fastify`, so a job added in an encapsulated plugin sees its decorators.
     */
    scheduler: BoundScheduler<FastifyInstance>
  }
}

async function scheduler (fastify: FastifyInstance, options: SchedulerOptions): Promise<void> {
  const resolved = resolveOptions(options)
  const core = new Scheduler<FastifyInstance>({
    ...resolved.core,
    // Runs log through a child of it bound to { jobId, runId }: that child is `ctx.log`.
    logger: fastify.log,
    context: fastify
  })

  // A getter, so `this` is whichever instance reads `scheduler`: fastify-plugin
  // decorates the parent, and encapsulated children inherit the property through
  // their prototype chain. One view per instance, made on first use.
  const views = new WeakMap<FastifyInstance, BoundScheduler<FastifyInstance>>()
  fastify.decorate('scheduler', {
    getter (this: FastifyInstance): BoundScheduler<FastifyInstance> {
      let view = views.get(this)
      if (view === undefined) {
        view = new BoundScheduler(core, this)
        views.set(this, view)
      }
      return view
    }
  })

  // The core logs a run's end (success at debug, failure at error), missed fires
  // and max-instances skips at warn; the start of a run is logged here.
  core.on('job:start', ({ id, runId, scheduledAt }) => {
    fastify.log.debug({ jobId: id, runId, scheduledAt }, 'job started')
  })

  for (const entry of resolved.jobs) {
    if (isJobDefinition(entry)) core.addJob(entry)
    else core.addJobsFrom(entry)
  }

  if (resolved.routes !== false) await fastify.register(schedulerRoutes, { ...resolved.routes, scheduler: core })

  // onReady, so both `listen()` and `inject()` start it, and never before the
  // whole plugin tree has loaded.
  if (resolved.autoStart) {
    fastify.addHook('onReady', async () => {
      // With a shared store this connects and reconciles: an unreachable store fails ready().
      await core.start()
    })
  }

  // shutdown() stops firing synchronously and returns the drain: started at
  // preClose so no new run begins while the server closes, awaited at onClose.
  let closing: Promise<void> | undefined
  fastify.addHook('preClose', async () => {
    closing ??= core.shutdown()
  })
  fastify.addHook('onClose', async () => {
    await (closing ??= core.shutdown())
  })
}

/** The plugin: `app.register(fastifyScheduler, options)`. */
export const fastifyScheduler: FastifyPluginAsync<SchedulerOptions> = fp(scheduler, {
  name: 'fastify-scheduler',
  fastify: '5.x'
})
