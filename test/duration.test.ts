import t from 'tap'
import { formatDuration, parseDuration } from '../lib/duration.js'
import { parseInstant } from '../lib/instant.js'

t.test('parseDuration', async (t) => {
  t.equal(parseDuration(5), 5)
  t.equal(parseDuration('PT0.25S'), 250)
  t.equal(parseDuration({ seconds: 1, milliseconds: 1 }), 1001)
  t.throws(() => parseDuration(0.5, 'timeout'), /Invalid timeout 0\.5: must be a whole number of milliseconds/)
  t.throws(() => parseDuration({ milliseconds: 0.5 }), /whole number of milliseconds/)
  t.throws(() => parseDuration({ years: 1 }), /months and years have no fixed length/)
  t.throws(() => parseDuration({ minutes: '5' }), /"minutes" must be a finite number >= 0/)
  t.throws(() => parseDuration(null), /expected milliseconds, an ISO 8601 duration/)
  t.throws(() => parseDuration(new Date()), /expected milliseconds/)
})

t.test('formatDuration', async (t) => {
  t.equal(formatDuration(90_061_001), '1d 1h 1m 1s 1ms')
  t.equal(formatDuration(60_000), '1m')
})

t.test('parseInstant', async (t) => {
  t.equal(parseInstant(' 2026-01-01T00:00:00Z ', 'UTC'), Date.UTC(2026, 0, 1), 'surrounding spaces are ignored')
  t.throws(() => parseInstant(8.64e15 + 1, 'UTC', 'at'), /Invalid at 8640000000000001: not a valid point in time/)
  t.throws(() => parseInstant(undefined, 'UTC'), /Invalid date undefined: expected a Date/)
})
