import t, { type Test } from 'tap'
import { createTrigger, type TriggerSpec } from '../lib/triggers/trigger.js'
import { ErrorCodes, SchedulerError } from '../lib/errors.js'

/** Asserts that the spec is refused with `code` and a message containing each of `mentions`. */
function refuses (t: Test, spec: unknown, code: string, mentions: string[], options = {}): void {
  try {
    createTrigger(spec as TriggerSpec, options)
    t.fail(`accepted ${JSON.stringify(spec)}`)
  } catch (err) {
    t.type(err, SchedulerError)
    const { code: actual, message } = err as SchedulerError
    t.equal(actual, code, message)
    for (const mention of mentions) t.match(message, mention, `the message names ${mention}`)
  }
}

t.test('invalid cron expressions name the expression', async (t) => {
  const bad: Array<[string, string]> = [
    ['61 * * * *', '61'],
    ['* * *', 'got 3'],
    ['* * * * * * *', 'got 7'],
    ['', 'empty'],
    ['   ', 'empty'],
    ['*/0 * * * *', '*/0'],
    ['0 25 * * *', '25'],
    ['0 0 32 * *', '32'],
    ['0 0 * 13 *', '13'],
    ['0 0 * * 8', '8'],
    ['0 0 * * MOO', 'MOO'],
    ['@reboot', 'unknown alias'],
    ['@every 5m', 'unknown alias'],
    ['0 0 1-5W * *', '1-5W'],
    ['0 0 0W * *', '0W']
  ]
  for (const [cron, detail] of bad) refuses(t, { cron }, ErrorCodes.INVALID_TRIGGER, [JSON.stringify(cron), detail])
  refuses(t, { cron: 42 }, ErrorCodes.INVALID_TRIGGER, ['42', 'expected a string'])
})

t.test('impossible cron expressions are refused', async (t) => {
  refuses(t, { cron: '0 0 30 2 *' }, ErrorCodes.INVALID_TRIGGER, ['"0 0 30 2 *"'])
  refuses(t, { cron: '0 0 31 4,6,9,11 *' }, ErrorCodes.INVALID_TRIGGER, ['"0 0 31 4,6,9,11 *"'])
  refuses(t, { cron: '0 0 30W 2 *' }, ErrorCodes.INVALID_TRIGGER, ['"0 0 30W 2 *"', 'never fire'])
  refuses(t, { cron: '0 0 1 1 *', startAt: '2026-01-02T00:00:00Z', endAt: '2026-12-31T00:00:00Z' }, ErrorCodes.INVALID_TRIGGER, ['never fires between', '2026-01-02'])
})

t.test('unknown time zones are refused with their own code', async (t) => {
  refuses(t, { cron: '* * * * *', timezone: 'Mars/Olympus' }, ErrorCodes.INVALID_TIMEZONE, ['"Mars/Olympus"'])
  refuses(t, { cron: '* * * * *', timezone: '' }, ErrorCodes.INVALID_TIMEZONE, ['""'])
  refuses(t, { cron: '* * * * *', timezone: 5 }, ErrorCodes.INVALID_TIMEZONE, ['5'])
  refuses(t, { cron: '* * * * *' }, ErrorCodes.INVALID_TIMEZONE, ['"Nowhere/Land"'], { timezone: 'Nowhere/Land' })
})

t.test('bad intervals name the value', async (t) => {
  for (const interval of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1.5, 'PT0S', '5 minutes', 'P1M', 'P1Y', { minutes: 0 }, { minutes: -5 }, { months: 1 }, { fortnights: 1 }, {}, [], true]) {
    refuses(t, { interval }, ErrorCodes.INVALID_TRIGGER, ['Invalid interval'])
  }
  refuses(t, { interval: 1000, immediate: 'yes' }, ErrorCodes.INVALID_TRIGGER, ['immediate', '"yes"'])
})

t.test('bad dates and bounds name the value', async (t) => {
  refuses(t, { at: 'not a date' }, ErrorCodes.INVALID_TRIGGER, ['"not a date"'])
  refuses(t, { at: '2026-02-30T00:00:00Z' }, ErrorCodes.INVALID_TRIGGER, ['2026-02-30'])
  refuses(t, { at: new Date(Number.NaN) }, ErrorCodes.INVALID_TRIGGER, ['Invalid Date'])
  refuses(t, { at: Number.POSITIVE_INFINITY }, ErrorCodes.INVALID_TRIGGER, ['Infinity'])
  refuses(t, { at: {} }, ErrorCodes.INVALID_TRIGGER, ['{}'])
  refuses(t, { cron: '* * * * *', startAt: 'soon' }, ErrorCodes.INVALID_TRIGGER, ['startAt', '"soon"'])
  refuses(t, { cron: '* * * * *', endAt: 'later' }, ErrorCodes.INVALID_TRIGGER, ['endAt', '"later"'])
  refuses(t, { cron: '* * * * *', startAt: '2026-02-01T00:00:00Z', endAt: '2026-01-01T00:00:00Z' }, ErrorCodes.INVALID_TRIGGER, ['endAt 2026-01-01T00:00:00.000Z is before startAt 2026-02-01T00:00:00.000Z'])
  refuses(t, { at: '2026-01-01T00:00:00Z', endAt: '2025-12-31T00:00:00Z' }, ErrorCodes.INVALID_TRIGGER, ['at 2026-01-01T00:00:00.000Z', 'endAt 2025-12-31', 'never fire'])
  refuses(t, { at: '2026-01-01T00:00:00Z', startAt: '2026-06-01T00:00:00Z' }, ErrorCodes.INVALID_TRIGGER, ['startAt 2026-06-01', 'never fire'])
  refuses(t, { at: '2026-01-01T00:00:00Z', startAt: '2026-02-01T00:00:00Z', endAt: '2026-03-01T00:00:00Z' }, ErrorCodes.INVALID_TRIGGER, ['startAt 2026-02-01T00:00:00.000Z – endAt 2026-03-01'])
  refuses(t, { interval: { hours: 1 }, startAt: '2026-01-01T00:00:00Z', endAt: '2025-12-31T00:00:00Z' }, ErrorCodes.INVALID_TRIGGER, ['before startAt'])
  refuses(t, { interval: { hours: 1 }, endAt: '2026-01-01T00:30:00Z' }, ErrorCodes.INVALID_TRIGGER, ['never fires before endAt'], { anchor: '2026-01-01T00:00:00Z' })
  refuses(t, { interval: 1000 }, ErrorCodes.INVALID_TRIGGER, ['anchor', '"whenever"'], { anchor: 'whenever' })
})

t.test('bad jitter', async (t) => {
  for (const jitter of [-1, Number.NaN, Number.POSITIVE_INFINITY, '100']) refuses(t, { interval: 1000, jitter }, ErrorCodes.INVALID_TRIGGER, ['jitter'])
})

t.test('the spec itself must be one object with one kind', async (t) => {
  refuses(t, null, ErrorCodes.INVALID_TRIGGER, ['null'])
  refuses(t, 'every minute', ErrorCodes.INVALID_TRIGGER, ['"every minute"'])
  refuses(t, [], ErrorCodes.INVALID_TRIGGER, ['[]'])
  refuses(t, {}, ErrorCodes.INVALID_TRIGGER, ['found none'])
  refuses(t, { cron: '* * * * *', interval: 1000 }, ErrorCodes.INVALID_TRIGGER, ['found cron and interval'])
  refuses(t, { cron: '* * * * *', timzone: 'UTC' }, ErrorCodes.INVALID_TRIGGER, ['unknown field "timzone"'])
  refuses(t, { interval: 1000, timezone: 'UTC' }, ErrorCodes.INVALID_TRIGGER, ['"timezone" applies to cron triggers only'])
  refuses(t, { at: 0, immediate: true }, ErrorCodes.INVALID_TRIGGER, ['"immediate" applies to interval triggers only'])
})

t.test('errors carry a code, a status and the cause', async (t) => {
  try {
    createTrigger({ cron: '61 * * * *' })
  } catch (err) {
    const error = err as SchedulerError
    t.equal(error.name, 'SchedulerError')
    t.equal(error.statusCode, 500)
    t.ok(error.cause instanceof Error, 'the parser error is kept as the cause')
  }
})
