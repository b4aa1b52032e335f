import t from 'tap'
import { describe, ErrorCodes, SchedulerError } from '../lib/errors.js'

t.test('every code starts with FST_SCHEDULER_', async (t) => {
  for (const code of Object.values(ErrorCodes)) t.match(code, /^FST_SCHEDULER_[A-Z_]+$/)
})

t.test('SchedulerError', async (t) => {
  const error = new SchedulerError(ErrorCodes.JOB_NOT_FOUND, 'no job "x"', 404)
  t.equal(error.code, 'FST_SCHEDULER_JOB_NOT_FOUND')
  t.equal(error.statusCode, 404)
  t.equal(error.message, 'no job "x"')
  t.ok(error instanceof Error)
})

t.test('describe renders values for messages', async (t) => {
  t.equal(describe('x'), '"x"')
  t.equal(describe(5), '5')
  t.equal(describe(10n), '10')
  t.equal(describe(true), 'true')
  t.equal(describe(null), 'null')
  t.equal(describe(undefined), 'undefined')
  t.equal(describe(new Date(0)), '1970-01-01T00:00:00.000Z')
  t.equal(describe(new Date(Number.NaN)), 'Invalid Date')
  t.equal(describe(function handler () {}), 'function handler')
  t.equal(describe(() => {}), 'function (anonymous)')
  t.equal(describe({ a: 1 }), '{"a":1}')
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  t.equal(describe(cyclic), '[object Object]')
})
