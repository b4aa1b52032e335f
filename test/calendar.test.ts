import t from 'tap'
import { civilFromDays, daysFromCivil, daysInMonth, isLeapYear, weekday } from '../lib/triggers/calendar.js'

t.test('day numbers round-trip through civil dates and agree with Date.UTC', async (t) => {
  for (let days = -800_000; days <= 800_000; days += 997) {
    const { year, month, day } = civilFromDays(days)
    t.equal(daysFromCivil(year, month, day), days)
    const date = new Date(days * 86_400_000)
    if (year !== date.getUTCFullYear() || month !== date.getUTCMonth() + 1 || day !== date.getUTCDate()) {
      t.fail(`civilFromDays(${days}) = ${year}-${month}-${day}, Date says ${date.toISOString()}`)
    }
    if (weekday(days) !== date.getUTCDay()) t.fail(`weekday(${days}) = ${weekday(days)}, Date says ${date.getUTCDay()}`)
  }
})

t.test('leap years and month lengths', async (t) => {
  t.same([1900, 2000, 2024, 2025, 2100].map(isLeapYear), [false, true, true, false, false])
  t.equal(daysInMonth(2024, 2), 29)
  t.equal(daysInMonth(2025, 2), 28)
  t.equal(daysInMonth(2100, 2), 28)
  t.equal(daysInMonth(2025, 4), 30)
  t.equal(daysInMonth(2025, 12), 31)
  t.equal(weekday(0), 4, '1970-01-01 was a Thursday')
})
