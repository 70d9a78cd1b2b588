// Event times: an instant (what the database and the API hold) plus the IANA
// zone the event happens in (what people read and type). The conversions here
// run on the server with Intl, so the forms work without JavaScript and never
// depend on the browser's own zone (decision 0022).

const LOCAL_INPUT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/;

const formatters = new Map<string, Intl.DateTimeFormat>();
/** One formatter per zone for the wall-clock parts (ICU formatters are costly to build). */
function partsFormatter(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

let supported: Map<string, string> | undefined;
/** Intl's zone names by lower case (Node's list has no "UTC" and spells some zones the old way, e.g. Asia/Calcutta). */
function supportedZones(): Map<string, string> {
  supported ??= new Map(['UTC', ...Intl.supportedValuesOf('timeZone')].map((zone) => [zone.toLowerCase(), zone]));
  return supported;
}

/**
 * The zone's name as stored, or null when it is not an IANA zone Intl knows.
 * Known names are spelt as Intl lists them. A valid alias Intl does not list
 * (Asia/Kolkata, Europe/Kyiv: what newer browsers report) is kept as given
 * when it is written like a zone name, else replaced by Intl's own name for it.
 */
export function normalizeTimeZone(value: string): string | null {
  if (!ZONE_NAME.test(value)) return null;
  const listed = supportedZones().get(value.toLowerCase());
  if (listed) return listed;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
  return ALIAS_SPELLING.test(value) ? value : resolved;
}
const ALIAS_SPELLING = /^[A-Z][A-Za-z0-9_+-]*(\/[A-Z][A-Za-z0-9_+-]*)*$/;

/** Every zone for a form's select, grouped by region ("Europe", "America"...), UTC first. */
export function timeZoneGroups(): { region: string; zones: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const zone of Intl.supportedValuesOf('timeZone')) {
    const region = zone.includes('/') ? zone.slice(0, zone.indexOf('/')) : 'Other';
    let zones = groups.get(region);
    if (!zones) groups.set(region, (zones = []));
    zones.push(zone);
  }
  return [
    { region: 'Universal', zones: ['UTC'] },
    ...[...groups].sort(([a], [b]) => a.localeCompare(b)).map(([region, zones]) => ({ region, zones })),
  ];
}

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallTimeAt(instant: number, zone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const part of partsFormatter(zone).formatToParts(instant)) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

const asUtc = (t: WallTime) => Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);

/** The zone's offset from UTC at an instant, in milliseconds (positive east of Greenwich). */
export function offsetAt(instant: number, zone: string): number {
  return asUtc(wallTimeAt(Math.floor(instant / 1000) * 1000, zone)) - Math.floor(instant / 1000) * 1000;
}

/** "2031-01-10T18:00" for a datetime-local input: the instant's wall time in the zone. */
export function toZonedInput(instant: Date | string, zone: string): string {
  const t = wallTimeAt(new Date(instant).getTime(), zone);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${String(t.year).padStart(4, '0')}-${two(t.month)}-${two(t.day)}T${two(t.hour)}:${two(t.minute)}`;
}

export type ZonedInstant =
  | { ok: true; instant: Date; /** The wall time fell in a daylight-saving gap and was moved forward by the gap. */ shifted: boolean }
  | { ok: false };

/**
 * The instant a wall time ("2031-01-10T18:00", as a datetime-local input
 * sends it) names in a zone. An hour repeated when clocks go back means its
 * first occurrence; an hour skipped when they go forward does not exist, and
 * is read as the same time after the jump (02:30 becomes 03:30), as calendar
 * apps do. Not a wall time at all: ok false.
 */
export function fromZonedInput(value: string, zone: string): ZonedInstant {
  const match = LOCAL_INPUT.exec(value);
  if (!match) return { ok: false };
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(wall);
  if (year < 1 || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    return { ok: false };
  }
  // The offsets a day either side cover any transition near this wall time.
  const candidates = [...new Set([offsetAt(wall - 86_400_000, zone), offsetAt(wall, zone), offsetAt(wall + 86_400_000, zone)])]
    .map((offset) => wall - offset)
    .filter((instant) => asUtc(wallTimeAt(instant, zone)) === wall)
    .sort((a, b) => a - b);
  if (candidates.length > 0) return { ok: true, instant: new Date(candidates[0]!), shifted: false };
  // In a gap: keep the distance from the wall time before the jump, with the offset from before it.
  return { ok: true, instant: new Date(wall - offsetAt(wall - 86_400_000, zone)), shifted: true };
}
