/**
 * Three real server processes on one Redis store (see
 * test/helpers/fleet-scenarios.ts); their runs are counted in PostgreSQL.
 * Needs Redis (REDIS_URL, default redis://127.0.0.1:6379) and PostgreSQL
 * (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
 */
import t from 'tap'
import { Redis } from 'ioredis'
import { databaseUrl, pgReachable, redisReachable, redisUrl, requireService } from './helpers/services.js'
import { fleetScenarios } from './helpers/fleet-scenarios.js'

t.setTimeout(300_000)
const redis = new URL(redisUrl())
if (await requireService(t, 'Redis', async () => await redisReachable(redis.href), 'start Redis (see README, Set-up) or set REDIS_URL') &&
  await requireService(t, 'PostgreSQL', async () => await pgReachable(databaseUrl()), 'start PostgreSQL (see README, Set-up) or set DATABASE_URL')) {
  fleetScenarios(t, {
    kind: 'redis',
    databaseUrl: databaseUrl(),
    host: redis.hostname,
    port: Number(redis.port === '' ? 6379 : redis.port),
    urlVia: (port) => Object.assign(new URL(redis.href), { host: `127.0.0.1:${port}` }).href,
    drop: async (prefix) => {
      const client = new Redis(redis.href)
      try {
        const keys = await client.keys(`{${prefix}}*`)
        if (keys.length > 0) await client.del(...keys)
      } finally {
        client.disconnect()
      }
    }
  })
}
