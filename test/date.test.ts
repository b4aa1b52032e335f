import t from 'tap'
import { createTrigger } from '../lib/triggers/trigger.js'

t.test('fires once, strictly after the argument', async (t) => {
  const trigger = createTrigger({ at: '2026-12-24T18:00:00Z' })
  t.equal(trigger.next(new Date('2026-01-01T00:00:00Z'))?.toISOString(), '2026-12-24T18:00:00.000Z')
  t.equal(trigger.next(new Date('2026-12-24T17:59:59.999Z'))?.toISOString(), '2026-12-24T18:00:00.000Z')
  t.equal(trigger.next(new Date('2026-12-24T18:00:00Z')), null)
  t.equal(trigger.next(new Date('2027-01-01T00:00:00Z')), null)
})

t.test('a Date, epoch ms, or an ISO string with or without an offset', async (t) => {
  const at = (value: unknown, timezone = 'UTC'): unknown => createTrigger({ at: value } as never, { timezone }).toJSON().at
  t.equal(at(new Date('2026-12-24T18:00:00Z')), '2026-12-24T18:00:00.000Z')
  t.equal(at(Date.UTC(2026, 11, 24, 18)), '2026-12-24T18:00:00.000Z')
  t.equal(at('2026-12-24T19:00:00+01:00'), '2026-12-24T18:00:00.000Z')
  t.equal(at('2026-12-24T18:00'), '2026-12-24T18:00:00.000Z', 'no offset: the zone option (UTC)')
  t.equal(at('2026-12-24T18:00', 'Europe/Berlin'), '2026-12-24T17:00:00.000Z', 'no offset: the zone option (Berlin)')
  t.equal(at('2026-12-24', 'America/New_York'), '2026-12-24T05:00:00.000Z', 'a date alone: midnight in the zone')
})

t.test('toJSON', async (t) => {
  t.same(createTrigger({ at: 0, startAt: -1000, jitter: 5 }).toJSON(), {
    type: 'date',
    description: 'once at 1970-01-01T00:00:00.000Z',
    at: '1970-01-01T00:00:00.000Z',
    startAt: '1969-12-31T23:59:59.000Z',
    jitter: 5
  })
})
