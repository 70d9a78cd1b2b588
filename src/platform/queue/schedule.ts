import { CronExpressionParser } from 'cron-parser';

/** The first slot of `cron` (UTC) strictly after `after`; throws on an invalid expression. */
export function nextSlot(cron: string, after: Date): Date {
  return CronExpressionParser.parse(cron, { currentDate: after, tz: 'UTC' }).next().toDate();
}
