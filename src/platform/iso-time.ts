/**
 * What `Date#toISOString` writes (`2026-12-07T08:35:30.123Z`), written by
 * arithmetic on the time value. V8's toISOString breaks the time down and
 * formats it through a printf, about 0.5-0.8 µs a call here; a gallery page
 * writes about 50 times (each photo's, the cursor's) and an event list page
 * about 80, so it was a few percent of those responses' CPU. This takes about
 * 0.12 µs. Years outside 0-9999 (which toISOString writes as ±YYYYYY) and
 * invalid dates (which it refuses) go to toISOString itself.
 */
export function isoString(date: Date): string {
  return isoStringAt(date.getTime());
}

/** isoString of a time value (milliseconds since the epoch), such as Date.now(). */
export function isoStringAt(time: number): string {
  // A Date drops a time value's fraction towards zero (TimeClip): new Date(-0.5) is the epoch.
  const ms = Math.trunc(time);
  if (!(ms >= FIRST_FOUR_DIGIT_YEAR_MS && ms < FIRST_FIVE_DIGIT_YEAR_MS)) return new Date(ms).toISOString();
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  const { year, month, day } = civilFromDays(days);
  const hours = (rest / HOUR_MS) | 0;
  rest -= hours * HOUR_MS;
  const minutes = (rest / MINUTE_MS) | 0;
  rest -= minutes * MINUTE_MS;
  const seconds = (rest / 1000) | 0;
  const millis = rest - seconds * 1000;
  return `${TWO_DIGITS[(year / 100) | 0]}${TWO_DIGITS[year % 100]}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}T${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[millis]}Z`;
}

/**
 * The proleptic Gregorian date of a day number (days since 1970-01-01), by
 * Howard Hinnant's days_to_civil: eras of 400 years, years starting in March
 * so that the leap day is the last day of a year.
 */
function civilFromDays(days: number): { year: number; month: number; day: number } {
  const shifted = days + DAYS_FROM_0000_03_01_TO_EPOCH;
  const era = Math.floor(shifted / DAYS_PER_ERA);
  const dayOfEra = shifted - era * DAYS_PER_ERA;
  const yearOfEra = ((dayOfEra - ((dayOfEra / 1460) | 0) + ((dayOfEra / 36524) | 0) - ((dayOfEra / 146096) | 0)) / 365) | 0;
  const dayOfYear = dayOfEra - (365 * yearOfEra + ((yearOfEra / 4) | 0) - ((yearOfEra / 100) | 0));
  const monthFromMarch = ((5 * dayOfYear + 2) / 153) | 0;
  const day = dayOfYear - (((153 * monthFromMarch + 2) / 5) | 0) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const DAYS_PER_ERA = 146_097;
const DAYS_FROM_0000_03_01_TO_EPOCH = 719_468;
/** 0000-01-01T00:00:00.000Z and 10000-01-01T00:00:00.000Z. */
const FIRST_FOUR_DIGIT_YEAR_MS = -62_167_219_200_000;
const FIRST_FIVE_DIGIT_YEAR_MS = 253_402_300_800_000;

const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'));
