import { expect, test } from 'tstyche'
import Fastify from 'fastify'
import pg from 'pg'
import { Redis } from 'ioredis'
import scheduler, { memoryStore } from 'fastify-scheduler'
import type { Store, StoredJob, InstanceStatus, RunHandle, LastRun } from 'fastify-scheduler'
import { postgresStore, type PostgresStoreOptions } from 'fastify-scheduler/postgres'
import { redisStore, type RedisStoreOptions } from 'fastify-scheduler/redis'

test('the stores are Stores, from their subpaths', () => {
  expect(postgresStore({ connectionString: 'postgres://127.0.0.1/test' })).type.toBe<Store>()
  expect(postgresStore({ pool: new pg.Pool(), schema: 'jobs', tablePrefix: 'app_' })).type.toBe<Store>()
  expect(redisStore({ url: 'redis://127.0.0.1:6379', prefix: 'app' })).type.toBe<Store>()
  expect(redisStore({ client: new Redis() })).type.toBe<Store>()
  expect(memoryStore()).type.toBe<Store>()
  expect({ connectionString: 5 }).type.not.toBeAssignableTo<PostgresStoreOptions>()
  expect({ prefix: ['a'] }).type.not.toBeAssignableTo<RedisStoreOptions>()
})

test('the plugin takes a store and its settings', () => {
  const app = Fastify()
  app.register(scheduler, {
    store: postgresStore({ connectionString: 'postgres://127.0.0.1/test' }),
    leaseTime: 30_000,
    pollInterval: 5_000,
    instanceId: 'web-1',
    jobs: [{ id: 'report', trigger: { cron: '0 6 * * *' }, onLost: 'rerun', handler: async () => {} }]
  })
  expect(scheduler).type.not.toBeCallableWith(app, { store: 'redis' })
  expect(scheduler).type.not.toBeCallableWith(app, { jobs: [{ id: 'x', trigger: { cron: '* * * * *' }, onLost: 'retry', handler: () => {} }] })
})

test('app.scheduler with a store: refresh, instances, started, lost runs', async () => {
  const app = Fastify()
  await app.register(scheduler, { store: redisStore({ url: 'redis://127.0.0.1:6379' }) })
  expect(app.scheduler.refresh()).type.toBe<Promise<void>>()
  expect(app.scheduler.getInstances()).type.toBe<InstanceStatus[]>()
  expect(app.scheduler.start()).type.toBe<Promise<void>>()
  const handle = app.scheduler.startRun('x')
  expect(handle).type.toBe<RunHandle>()
  expect(handle.started).type.toBe<Promise<string | null>>()
  expect<LastRun['status']>().type.toBe<'success' | 'error' | 'timeout' | 'aborted' | 'lost'>()
  expect<LastRun['finishedAt']>().type.toBe<string | null>()
  expect<StoredJob['watermark']>().type.toBe<number | null>()
})
