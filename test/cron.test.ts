import t from 'tap'
import { createTrigger } from '../lib/triggers/trigger.js'
import { fires, firesBetween } from './helpers/fires.js'

t.test('five fields: every n minutes, fixed times, ranges, lists and steps', async (t) => {
  t.same(fires('*/5 * * * *', '2026-01-01T00:00:00Z', 3), ['2026-01-01T00:05:00.000Z', '2026-01-01T00:10:00.000Z', '2026-01-01T00:15:00.000Z'])
  t.same(fires('*/5 * * * *', '2026-01-01T00:02:30.500Z', 1), ['2026-01-01T00:05:00.000Z'], 'a start between fires')
  t.same(fires('0 6 * * 1-5', '2026-01-02T07:00:00Z', 3), ['2026-01-05T06:00:00.000Z', '2026-01-06T06:00:00.000Z', '2026-01-07T06:00:00.000Z'], 'Friday after 06:00 → Monday')
  t.same(fires('15 3 1,15 * *', '2026-01-01T04:00:00Z', 3), ['2026-01-15T03:15:00.000Z', '2026-02-01T03:15:00.000Z', '2026-02-15T03:15:00.000Z'])
  t.same(fires('5-10/2 * * * *', '2026-01-01T00:00:00Z', 4), ['2026-01-01T00:05:00.000Z', '2026-01-01T00:07:00.000Z', '2026-01-01T00:09:00.000Z', '2026-01-01T01:05:00.000Z'])
  t.same(fires('0 22-23,1 * * *', '2026-01-01T00:00:00Z', 3), ['2026-01-01T01:00:00.000Z', '2026-01-01T22:00:00.000Z', '2026-01-01T23:00:00.000Z'])
  t.same(fires('59 23 31 12 *', '2026-06-01T00:00:00Z', 2), ['2026-12-31T23:59:00.000Z', '2027-12-31T23:59:00.000Z'], 'rolls over the year')
})

t.test('next is strictly after its argument, even exactly on a fire', async (t) => {
  const trigger = createTrigger({ cron: '0 * * * *' }, { timezone: 'UTC' })
  t.equal(trigger.next(new Date('2026-01-01T01:00:00.000Z'))?.toISOString(), '2026-01-01T02:00:00.000Z')
  t.equal(trigger.next(new Date('2026-01-01T00:59:59.999Z'))?.toISOString(), '2026-01-01T01:00:00.000Z')
})

t.test('six fields: seconds first', async (t) => {
  t.same(fires('*/10 * * * * *', '2026-01-01T00:00:00Z', 3), ['2026-01-01T00:00:10.000Z', '2026-01-01T00:00:20.000Z', '2026-01-01T00:00:30.000Z'])
  t.same(fires('30 0 12 * * *', '2026-01-01T00:00:00Z', 2), ['2026-01-01T12:00:30.000Z', '2026-01-02T12:00:30.000Z'])
  t.same(fires('0,59 59 23 * * *', '2026-01-01T23:59:00Z', 2), ['2026-01-01T23:59:59.000Z', '2026-01-02T23:59:00.000Z'], 'the last second of a day, then the next day')
})

t.test('names for months and weekdays', async (t) => {
  t.same(fires('0 9 * JAN,JUL MON', '2026-01-01T00:00:00Z', 2), ['2026-01-05T09:00:00.000Z', '2026-01-12T09:00:00.000Z'])
  t.same(fires('0 9 1 jul *', '2026-01-01T00:00:00Z', 1), ['2026-07-01T09:00:00.000Z'])
  t.same(fires('0 9 * * SAT,SUN', '2026-01-01T00:00:00Z', 2), ['2026-01-03T09:00:00.000Z', '2026-01-04T09:00:00.000Z'])
})

t.test('aliases', async (t) => {
  const start = '2026-01-01T00:30:00Z' // a Thursday
  t.same(fires('@hourly', start, 1), ['2026-01-01T01:00:00.000Z'])
  t.same(fires('@daily', start, 1), ['2026-01-02T00:00:00.000Z'])
  t.same(fires('@midnight', start, 1), ['2026-01-02T00:00:00.000Z'])
  t.same(fires('@weekly', start, 1), ['2026-01-04T00:00:00.000Z'], 'Sunday')
  t.same(fires('@monthly', start, 1), ['2026-02-01T00:00:00.000Z'])
  t.same(fires('@yearly', start, 1), ['2027-01-01T00:00:00.000Z'])
  t.same(fires('@annually', start, 1), ['2027-01-01T00:00:00.000Z'])
  t.same(fires('@minutely', start, 1), ['2026-01-01T00:31:00.000Z'])
  t.same(fires('@secondly', start, 1), ['2026-01-01T00:30:01.000Z'])
  t.same(fires('@DAILY', start, 1), ['2026-01-02T00:00:00.000Z'], 'case-insensitive')
})

t.test('calendar: short months, leap days, last days', async (t) => {
  t.same(fires('0 0 31 * *', '2026-01-01T00:00:00Z', 7).map((d) => d.slice(0, 10)),
    ['2026-01-31', '2026-03-31', '2026-05-31', '2026-07-31', '2026-08-31', '2026-10-31', '2026-12-31'], '31 skips short months')
  t.same(fires('0 0 29 2 *', '2025-01-01T00:00:00Z', 3).map((d) => d.slice(0, 10)), ['2028-02-29', '2032-02-29', '2036-02-29'], 'only in leap years')
  t.same(fires('0 0 29 2 *', '2096-03-01T00:00:00Z', 1).map((d) => d.slice(0, 10)), ['2104-02-29'], '2100 is not a leap year')
  t.same(fires('0 0 L * *', '2024-01-15T00:00:00Z', 3).map((d) => d.slice(0, 10)), ['2024-01-31', '2024-02-29', '2024-03-31'], 'L: the last day')
  t.same(fires('0 0 1,L * *', '2025-02-15T00:00:00Z', 3).map((d) => d.slice(0, 10)), ['2025-02-28', '2025-03-01', '2025-03-31'], 'L in a list')
})

t.test('calendar: nL and n#k in day-of-week', async (t) => {
  t.same(fires('0 0 * * 5L', '2026-01-01T00:00:00Z', 3).map((d) => d.slice(0, 10)), ['2026-01-30', '2026-02-27', '2026-03-27'], '5L: the last Friday')
  t.same(fires('0 0 * * 0L', '2026-01-01T00:00:00Z', 2).map((d) => d.slice(0, 10)), ['2026-01-25', '2026-02-22'], '0L: the last Sunday')
  t.same(fires('0 0 * * 7L', '2026-01-01T00:00:00Z', 2).map((d) => d.slice(0, 10)), ['2026-01-25', '2026-02-22'], '7L: Sunday as 7')
  t.same(fires('0 0 * * 1#3', '2026-01-01T00:00:00Z', 3).map((d) => d.slice(0, 10)), ['2026-01-19', '2026-02-16', '2026-03-16'], '1#3: the third Monday')
  t.same(fires('0 0 * * 1#1', '2026-01-01T00:00:00Z', 2).map((d) => d.slice(0, 10)), ['2026-01-05', '2026-02-02'], '1#1: the first Monday')
  t.same(fires('0 0 * * 5#5', '2026-01-01T00:00:00Z', 2).map((d) => d.slice(0, 10)), ['2026-01-30', '2026-05-29'], '5#5: months that have a fifth Friday')
  t.same(fires('0 0 * * 2,5L', '2026-01-01T00:00:00Z', 4).map((d) => d.slice(0, 10)), ['2026-01-06', '2026-01-13', '2026-01-20', '2026-01-27'], 'a plain day beside nL')
})

t.test('calendar: W, the weekday nearest a day, never leaving the month', async (t) => {
  // 2026-08-01 is a Saturday: 1W → Monday the 3rd, not Friday July 31.
  t.same(fires('0 0 1W * *', '2026-07-15T00:00:00Z', 2).map((d) => d.slice(0, 10)), ['2026-08-03', '2026-09-01'])
  // 2026-05-31 is a Sunday: 31W → Friday the 29th, not Monday June 1.
  t.same(fires('0 0 31W * *', '2026-05-15T00:00:00Z', 1).map((d) => d.slice(0, 10)), ['2026-05-29'])
  // 15W: Sun 2026-02-15 → Mon 16th; Sat 2026-08-15 → Fri 14th; Wed 2026-04-15 stays.
  t.same(firesBetween('0 0 15W * *', '2026-01-01T00:00:00Z', '2026-12-31T00:00:00Z').map((d) => d.slice(0, 10)),
    ['2026-01-15', '2026-02-16', '2026-03-16', '2026-04-15', '2026-05-15', '2026-06-15', '2026-07-15', '2026-08-14', '2026-09-15', '2026-10-15', '2026-11-16', '2026-12-15'])
  t.same(fires('0 0 31W * *', '2026-03-31T12:00:00Z', 1).map((d) => d.slice(0, 10)), ['2026-05-29'], 'months without a 31st are skipped')
  t.same(fires('0 0 1W,15 * *', '2026-07-20T00:00:00Z', 2).map((d) => d.slice(0, 10)), ['2026-08-03', '2026-08-15'], 'W in a list')
  t.same(fires('0 0 15w * *', '2026-02-01T00:00:00Z', 1).map((d) => d.slice(0, 10)), ['2026-02-16'], 'lower-case w')
})

t.test('calendar: LW, the last weekday of the month', async (t) => {
  // 2026-01-31 Sat → Fri 30th; 2026-02-28 Sat → Fri 27th; 2026-05-31 Sun → Fri 29th; 2026-03-31 Tue.
  t.same(fires('0 0 LW * *', '2026-01-01T00:00:00Z', 5).map((d) => d.slice(0, 10)), ['2026-01-30', '2026-02-27', '2026-03-31', '2026-04-30', '2026-05-29'])
})

t.test('Sunday is 0 and 7', async (t) => {
  t.same(fires('0 0 * * 0', '2026-01-01T00:00:00Z', 2), fires('0 0 * * 7', '2026-01-01T00:00:00Z', 2))
  t.same(fires('0 0 * * 7', '2026-01-01T00:00:00Z', 1).map((d) => d.slice(0, 10)), ['2026-01-04'])
  t.same(fires('0 0 * * 5-7', '2026-01-01T00:00:00Z', 3).map((d) => d.slice(0, 10)), ['2026-01-02', '2026-01-03', '2026-01-04'], 'Friday to Sunday')
})

t.test('day-of-month and day-of-week: OR when both are restricted, AND otherwise', async (t) => {
  // 1st of the month OR any Monday.
  t.same(fires('0 0 1 * 1', '2026-01-01T00:00:00Z', 4).map((d) => d.slice(0, 10)), ['2026-01-05', '2026-01-12', '2026-01-19', '2026-01-26'])
  t.same(fires('0 0 1 * 1', '2026-01-26T12:00:00Z', 2).map((d) => d.slice(0, 10)), ['2026-02-01', '2026-02-02'])
  // `?` and a leading `*` leave a field unrestricted: only the other one counts.
  t.same(fires('0 0 ? * 1', '2026-01-01T00:00:00Z', 1).map((d) => d.slice(0, 10)), ['2026-01-05'])
  t.same(fires('0 0 13 * ?', '2026-01-01T00:00:00Z', 1).map((d) => d.slice(0, 10)), ['2026-01-13'])
  // `*/2` starts with `*`: AND — odd days that are also Mondays.
  t.same(fires('0 0 */2 * 1', '2026-01-01T00:00:00Z', 3).map((d) => d.slice(0, 10)), ['2026-01-05', '2026-01-19', '2026-02-09'])
  // Friday the 13th needs both: not expressible by OR, so the 13th OR Fridays here.
  t.same(fires('0 0 13 * 5', '2026-02-01T00:00:00Z', 3).map((d) => d.slice(0, 10)), ['2026-02-06', '2026-02-13', '2026-02-20'])
})

t.test('startAt and endAt bound the fires, both inclusive', async (t) => {
  t.same(fires({ cron: '0 * * * *', startAt: '2026-01-01T05:00:00Z' }, '2026-01-01T00:00:00Z', 2), ['2026-01-01T05:00:00.000Z', '2026-01-01T06:00:00.000Z'])
  t.same(fires({ cron: '0 * * * *', startAt: '2026-01-01T05:00:00.001Z' }, '2026-01-01T00:00:00Z', 1), ['2026-01-01T06:00:00.000Z'], 'a startAt between seconds rounds up')
  t.same(fires({ cron: '0 * * * *', endAt: '2026-01-01T02:00:00Z' }, '2026-01-01T00:00:00Z', 5), ['2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z'])
  t.same(fires({ cron: '0 * * * *', startAt: '2026-01-01T05:00:00Z' }, '2026-01-01T07:30:00Z', 1), ['2026-01-01T08:00:00.000Z'], 'startAt in the past changes nothing')
})

t.test('toJSON describes the expression and its zone', async (t) => {
  const trigger = createTrigger({ cron: ' 0 6 * * 1-5 ', timezone: 'Europe/Berlin', startAt: '2026-01-01T00:00:00Z', jitter: 500 })
  t.same(trigger.toJSON(), {
    type: 'cron',
    description: '0 6 * * 1-5 (Europe/Berlin)',
    expression: '0 6 * * 1-5',
    timezone: 'Europe/Berlin',
    startAt: '2026-01-01T00:00:00.000Z',
    jitter: 500
  })
  t.equal(trigger.jitter, 500)
  t.equal(createTrigger({ cron: '0 6 * * *' }, { timezone: 'Asia/Tokyo' }).toJSON().timezone, 'Asia/Tokyo', 'the default zone from the options')
  t.equal(createTrigger({ cron: '0 6 * * *', timezone: 'UTC' }, { timezone: 'Asia/Tokyo' }).toJSON().timezone, 'UTC', 'the spec zone wins')
  t.equal(createTrigger({ cron: '0 6 * * *' }).toJSON().timezone, new Intl.DateTimeFormat().resolvedOptions().timeZone, 'else the process zone')
})

t.test('time zones without DST are a constant shift', async (t) => {
  t.same(fires('0 9 * * *', '2026-01-01T00:00:00Z', 2, 'Asia/Kolkata'), ['2026-01-01T03:30:00.000Z', '2026-01-02T03:30:00.000Z'])
  t.same(fires('0 9 * * *', '2026-01-01T00:00:00Z', 1, 'Asia/Kathmandu'), ['2026-01-01T03:15:00.000Z'])
  t.same(fires('0 0 * * *', '2026-01-01T00:00:00Z', 1, 'Pacific/Kiritimati'), ['2026-01-01T10:00:00.000Z'], 'UTC+14')
  t.same(fires('0 0 * * *', '2026-01-01T00:00:00Z', 1, 'Etc/GMT+12'), ['2026-01-01T12:00:00.000Z'], 'UTC-12')
})

t.test('a rare match far ahead is found, and the search is bounded', async (t) => {
  // The fifth Monday of a February: leap years whose February starts on a Monday.
  t.same(fires('0 0 * 2 1#5', '2025-01-01T00:00:00Z', 2).map((d) => d.slice(0, 10)), ['2044-02-29', '2072-02-29'])
  t.equal(createTrigger({ cron: '0 0 29 2 *', timezone: 'UTC' }).next(new Date(8.64e15 - 86_400_000)), null, 'no fire a Date can hold: null')
})

t.test('the per-trigger month cache is bounded', async (t) => {
  // 4,100 monthly fires visit more months than the cache keeps (4,096).
  const trigger = createTrigger({ cron: '0 0 1 * *', timezone: 'UTC' })
  let at: Date | null = new Date('2000-01-01T00:00:00Z')
  for (let i = 0; i < 4100 && at !== null; i++) at = trigger.next(at)
  t.equal(at?.toISOString(), '2341-09-01T00:00:00.000Z', '4,100 months after January 2000')
  t.equal(trigger.next(new Date('2000-01-15T00:00:00Z'))?.toISOString(), '2000-02-01T00:00:00.000Z', 'still right after the cache starts over')
})

t.test('parsed expressions are shared, and the cache of them is bounded', async (t) => {
  for (let i = 0; i < 1100; i++) createTrigger({ cron: `${i % 60} ${Math.floor(i / 60) % 24} * * *`, timezone: 'UTC' })
  t.same(fires('7 3 * * *', '2026-01-01T00:00:00Z', 1), ['2026-01-01T03:07:00.000Z'], 'a recalled expression')
  t.same(fires('7 3 * * *', '2026-01-01T00:00:00Z', 1), ['2026-01-01T03:07:00.000Z'], 'and again')
})

t.test('triggers sharing an expression and zone share answers, never bounds', async (t) => {
  const plain = createTrigger({ cron: '0 * * * *', timezone: 'Europe/Berlin' })
  const bounded = createTrigger({ cron: '0 * * * *', timezone: 'Europe/Berlin', startAt: '2026-01-01T05:00:00Z', endAt: '2026-01-01T06:00:00Z' })
  const otherZone = createTrigger({ cron: '0 * * * *', timezone: 'Asia/Kathmandu' })
  const at = new Date('2026-01-01T00:10:00Z')
  t.equal(plain.next(at)?.toISOString(), '2026-01-01T01:00:00.000Z')
  t.equal(bounded.next(at)?.toISOString(), '2026-01-01T05:00:00.000Z', 'startAt still applies')
  t.equal(plain.next(at)?.toISOString(), '2026-01-01T01:00:00.000Z', 'asked again')
  t.equal(otherZone.next(at)?.toISOString(), '2026-01-01T00:15:00.000Z', 'another zone, another answer')
  t.equal(bounded.next(new Date('2026-01-01T06:00:00Z')), null, 'endAt still applies')
})
