/**
 * Three real server processes on one PostgreSQL store (see
 * test/helpers/fleet-scenarios.ts). Needs PostgreSQL: DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/test.
 */
import t from 'tap'
import pg from 'pg'
import { databaseUrl, pgReachable, requireService } from './helpers/services.js'
import { fleetScenarios } from './helpers/fleet-scenarios.js'

t.setTimeout(300_000)
const url = new URL(databaseUrl())
if (await requireService(t, 'PostgreSQL', async () => await pgReachable(url.href), 'start PostgreSQL (see README, Set-up) or set DATABASE_URL')) {
  fleetScenarios(t, {
    kind: 'postgres',
    databaseUrl: url.href,
    host: url.hostname,
    port: Number(url.port === '' ? 5432 : url.port),
    urlVia: (port) => Object.assign(new URL(url.href), { host: `127.0.0.1:${port}` }).href,
    drop: async (prefix) => {
      const admin = new pg.Client({ connectionString: url.href })
      await admin.connect()
      try {
        const { rows } = await admin.query<{ statement: string }>(`
          SELECT format('DROP TABLE IF EXISTS %I CASCADE', tablename) AS statement FROM pg_tables WHERE schemaname = 'public' AND starts_with(tablename, $1)
          UNION ALL
          SELECT format('DROP SEQUENCE IF EXISTS %I CASCADE', sequencename) FROM pg_sequences WHERE schemaname = 'public' AND starts_with(sequencename, $1)
          UNION ALL
          SELECT format('DROP FUNCTION IF EXISTS %s CASCADE', p.oid::regprocedure) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND starts_with(p.proname, $1)`, [prefix])
        for (const { statement } of rows) await admin.query(statement)
      } finally {
        await admin.end()
      }
    }
  })
}
