import { expect, test } from 'tstyche'
import { createTrigger, ErrorCodes, SchedulerError } from 'fastify-scheduler'
import type { Trigger, TriggerJSON, TriggerSpec, DurationObject } from 'fastify-scheduler'

test('createTrigger accepts the three spec kinds and returns a Trigger', () => {
  expect(createTrigger({ cron: '0 6 * * 1-5', timezone: 'Europe/Berlin' })).type.toBe<Trigger>()
  expect(createTrigger({ interval: 30_000 })).type.toBe<Trigger>()
  expect(createTrigger({ interval: 'PT30S', immediate: true })).type.toBe<Trigger>()
  expect(createTrigger({ interval: { hours: 1, minutes: 30 }, startAt: new Date(), endAt: '2027-01-01T00:00:00Z', jitter: 500 })).type.toBe<Trigger>()
  expect(createTrigger({ at: '2026-12-24T18:00:00Z' }, { timezone: 'UTC' })).type.toBe<Trigger>()
  expect(createTrigger({ at: Date.now() })).type.toBe<Trigger>()
})

test('Trigger.next and toJSON', () => {
  const trigger = createTrigger({ cron: '* * * * *' })
  expect(trigger.next(new Date())).type.toBe<Date | null>()
  expect(trigger.toJSON()).type.toBe<TriggerJSON>()
  expect(trigger.toJSON().type).type.toBe<'cron' | 'interval' | 'date'>()
  expect(trigger.jitter).type.toBe<number>()
})

test('wrong specs do not compile', () => {
  expect(createTrigger).type.not.toBeCallableWith({ cron: '* * * * *', interval: 1000 })
  expect(createTrigger).type.not.toBeCallableWith({ interval: 1000, timezone: 'UTC' })
  expect(createTrigger).type.not.toBeCallableWith({ at: new Date(), immediate: true })
  expect(createTrigger).type.not.toBeCallableWith({ cron: 5 })
  expect(createTrigger).type.not.toBeCallableWith({ interval: { months: 1 } })
  expect(createTrigger).type.not.toBeCallableWith({})
  expect(createTrigger).type.not.toBeCallableWith({ cron: '* * * * *', jitter: '5s' })
  expect<DurationObject>().type.toBeAssignableFrom({ weeks: 1, days: 2, hours: 3, minutes: 4, seconds: 5, milliseconds: 6 })
  expect<TriggerSpec>().type.not.toBeAssignableFrom({ cron: '* * * * *', timezone: 1 })
})

test('errors carry a typed code', () => {
  expect(new SchedulerError(ErrorCodes.INVALID_TRIGGER, 'x').code).type.toBe<string>()
  expect(ErrorCodes.INVALID_TRIGGER).type.toBe<'FST_SCHEDULER_INVALID_TRIGGER'>()
})
