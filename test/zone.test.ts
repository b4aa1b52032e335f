import t from 'tap'
import { IANAZone } from 'luxon'
import { resolveZone, systemZone, zoneOffsets } from '../lib/triggers/zone.js'

t.test('offsets agree with luxon every 37 minutes of a year, transitions included', async (t) => {
  for (const name of ['America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata']) {
    const zone = zoneOffsets(name)
    const reference = IANAZone.create(name)
    let mismatches = 0
    for (let ts = Date.UTC(2025, 0, 1); ts < Date.UTC(2026, 0, 1); ts += 37 * 60_000 + 13_000) {
      if (zone.offset(ts) !== reference.offset(ts) * 60_000) mismatches++
    }
    t.equal(mismatches, 0, name)
    t.equal(zone.offset(Date.UTC(1870, 0, 1)), Math.round(reference.offset(Date.UTC(1870, 0, 1)) * 60_000), `${name} in 1870 (local mean time, offsets with seconds)`)
  }
})

t.test('transition instants are exact to the second', async (t) => {
  const zone = zoneOffsets('America/New_York')
  const change = Date.UTC(2025, 2, 9, 7) // 02:00 EST → 03:00 EDT
  t.equal(zone.offset(change - 1), -5 * 3_600_000)
  t.equal(zone.offset(change), -4 * 3_600_000)
  t.equal(zone.transitionBetween(change - 3_600_000, change + 3_600_000), change)
  t.equal(zone.transitionBetween(change - 1, change), change, 'a transition right after lo')
  const lordHowe = zoneOffsets('Australia/Lord_Howe')
  const halfHour = Date.UTC(2025, 9, 4, 15, 30)
  t.equal(lordHowe.transitionBetween(halfHour - 5_400_000, halfHour + 60_000), halfHour, 'a transition at half past a UTC hour')
})

t.test('the cache is bounded', async (t) => {
  const zone = zoneOffsets('Europe/Paris')
  for (let day = 0; day < 20_010; day++) zone.offset(day * 86_400_000 + 1)
  t.equal(zone.offset(Date.UTC(2025, 6, 1)), 2 * 3_600_000, 'still right after the cache starts over')
  t.equal(zoneOffsets('Europe/Paris'), zone, 'one table per zone')
})

t.test('zone names', async (t) => {
  t.equal(resolveZone(undefined), systemZone())
  t.equal(resolveZone('Asia/Tokyo'), 'Asia/Tokyo')
  t.throws(() => resolveZone('Asia/Atlantis'), { code: 'FST_SCHEDULER_INVALID_TIMEZONE' })
  t.throws(() => resolveZone(null), { code: 'FST_SCHEDULER_INVALID_TIMEZONE' })
})

t.test('zones fixed by definition skip the sampling', async (t) => {
  t.equal(zoneOffsets('Etc/GMT-14').offset(Date.UTC(2025, 0, 1)), 14 * 3_600_000)
  t.equal(zoneOffsets('UTC').offset(0), 0)
  t.equal(zoneOffsets('Etc/GMT+5').offset(8.64e15), -5 * 3_600_000)
})

t.test('the process zone follows process.env.TZ', async (t) => {
  const saved = process.env.TZ
  t.teardown(() => {
    if (saved === undefined) delete process.env.TZ
    else process.env.TZ = saved
  })
  process.env.TZ = 'Asia/Tokyo'
  t.equal(systemZone(), 'Asia/Tokyo')
  t.equal(systemZone(), 'Asia/Tokyo', 'recalled')
  process.env.TZ = 'America/Denver'
  t.equal(systemZone(), 'America/Denver')
})
