/**
 * Proleptic Gregorian calendar arithmetic on day numbers (days since
 * 1970-01-01), for wall times encoded as "local milliseconds" (the wall time's
 * fields read as if it were UTC). Integer math only: no Date objects, no zones.
 */

export const DAY = 86_400_000

/** Day number of a civil date (month 1–12). After Howard Hinnant's days_from_civil. */
export function daysFromCivil (year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}

export interface CivilDate { year: number, month: number, day: number }

/** Civil date of a day number. After Howard Hinnant's civil_from_days. */
export function civilFromDays (days: number): CivilDate {
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day }
}

export function isLeapYear (year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

export function daysInMonth (year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : MONTH_DAYS[month - 1]
}

/** Day of the week of a day number, 0 = Sunday (1970-01-01 was a Thursday). */
export function weekday (days: number): number {
  return ((days % 7) + 11) % 7
}
