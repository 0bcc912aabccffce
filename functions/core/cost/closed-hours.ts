import * as z from '#shared/zod';

/**
 * Scale-to-zero business hours of the SageMaker endpoint (issue 16): the schema of the `scaleToZero` CDK key (also
 * the cost report's `--scale-to-zero` option, so both read the same JSON the stack prints as its `ScaleToZeroSchedule`
 * output), and the pure arithmetic of its closed hours. No clock, no I/O: times in and out are epoch milliseconds.
 *
 * Business hours are `opensAt`..`closesAt` on each of `openDays`, in `timeZone` (IANA), within one local day:
 * `opensAt` must be before `closesAt` (an overnight window such as 22:00–06:00 is refused rather than guessed at).
 * Everything else is closed: the nights, and whole days not in `openDays`.
 */

/** Day names as Application Auto Scaling cron expressions spell them, Monday first. */
export const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const DAY = `(?:${WEEKDAYS.join('|')})`;
/** `MON-FRI`, `MON,WED,FRI`, `SUN-THU`, `MON-WED,FRI`: days and ranges (a range runs forwards, wrapping after SUN). */
const OPEN_DAYS = new RegExp(`^${DAY}(?:-${DAY})?(?:,${DAY}(?:-${DAY})?)*$`);
const HH_MM = /^(?:[01]\d|2[0-3]):[0-5]\d$/;

/** True when `Intl` knows `zone` as a time zone (IANA names such as `Asia/Shanghai`, `Europe/Berlin`, `UTC`). */
export function isTimeZone(zone: string): boolean {
  if (zone === '' || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** `HH:MM` as minutes after local midnight. */
export function minutesOfDay(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** The days `openDays` names, in week order without repeats; `MON-FRI` → MON..FRI, `FRI-MON` → FRI, SAT, SUN, MON. */
export function expandOpenDays(openDays: string): Weekday[] {
  const days = new Set<Weekday>();
  for (const part of openDays.split(',')) {
    const [first, last = first] = part.split('-') as [Weekday, Weekday?];
    const start = WEEKDAYS.indexOf(first);
    const end = WEEKDAYS.indexOf(last);
    for (let i = start; ; i = (i + 1) % 7) {
      days.add(WEEKDAYS[i] as Weekday);
      if (i === end) break;
    }
  }
  return WEEKDAYS.filter((d) => days.has(d));
}

export const DEFAULT_IDLE_MINUTES = 15;

export const scaleToZeroSchema = z
  .strictObject({
    /** IANA time zone the hours are in, e.g. `Asia/Shanghai`; daylight saving follows it. */
    timeZone: z
      .string()
      .check(z.refine(isTimeZone, 'must be an IANA time zone such as Asia/Shanghai or Europe/Berlin')),
    /** Days the endpoint is kept warm, e.g. `MON-FRI` or `MON,TUE,THU`. */
    openDays: z
      .string()
      .check(
        z.regex(OPEN_DAYS, `must be days or ranges of ${WEEKDAYS.join('|')} separated by commas, such as MON-FRI`),
      ),
    /** Local time the endpoint starts waking (it takes minutes: set it a little before members arrive). */
    opensAt: z.string().check(z.regex(HH_MM, 'must be a 24-hour time HH:MM')),
    /** Local time after which the endpoint may scale to zero once idle. */
    closesAt: z.string().check(z.regex(HH_MM, 'must be a 24-hour time HH:MM')),
    /**
     * The target-tracking policy's scale-in cooldown, in minutes: after a scaling activity (a wake, the opening) it
     * waits this long before removing a copy, so a closed-hours endpoint goes to zero no sooner than this after it
     * last scaled, and only once the policy's own low-traffic alarm has seen its evaluation window without calls
     * (`LOW_TRAFFIC_WINDOW_MINUTES`). @default 15
     */
    idleMinutes: z._default(z.int().check(z.gte(5), z.lte(120)), DEFAULT_IDLE_MINUTES),
  })
  .check(
    z.refine((s) => !HH_MM.test(s.opensAt) || !HH_MM.test(s.closesAt) || s.opensAt < s.closesAt, {
      path: ['closesAt'],
      error: 'must be after opensAt on the same day (overnight business hours are not supported)',
    }),
  );

export type ScaleToZeroSchedule = z.output<typeof scaleToZeroSchema>;
export type ScaleToZeroInput = z.input<typeof scaleToZeroSchema>;

/** A half-open interval of epoch milliseconds, `[start, end)`. */
export interface Interval {
  readonly start: number;
  readonly end: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Offset of `zone` from UTC at the instant `utcMs`, in ms (UTC+8 → 8 h). */
export function zoneOffsetMs(utcMs: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(utcMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/**
 * The instant a local wall-clock time happens in `zone`. `localMs` is the wall-clock time written as if it were UTC.
 * A time skipped by a spring-forward change (02:30 on the night clocks jump 02:00 → 03:00) maps to the instant the
 * same number of minutes after the change; a time that happens twice (autumn) maps to the first.
 */
export function localToUtc(localMs: number, zone: string): number {
  // The offsets a day either side: zones change offset at most once a day, so these are the two candidates.
  const candidates = [
    ...new Set([localMs - zoneOffsetMs(localMs - DAY_MS, zone), localMs - zoneOffsetMs(localMs + DAY_MS, zone)]),
  ];
  const shown = candidates.filter((t) => t + zoneOffsetMs(t, zone) === localMs);
  return shown.length > 0 ? Math.min(...shown) : Math.max(...candidates);
}

/** The local calendar day (as UTC midnight of that date) of the instant `utcMs` in `zone`. */
function localDay(utcMs: number, zone: string): number {
  const local = utcMs + zoneOffsetMs(utcMs, zone);
  return local - (((local % DAY_MS) + DAY_MS) % DAY_MS);
}

/** Monday = 0 … Sunday = 6 of a local day given as UTC midnight. */
function weekdayOf(dayMs: number): Weekday {
  return WEEKDAYS[(new Date(dayMs).getUTCDay() + 6) % 7] as Weekday;
}

/** Business hours of every open local day from the day before `period` to the day after, unclipped, in order. */
export function businessHours(schedule: ScaleToZeroSchedule, period: Interval): Interval[] {
  const open = new Set(expandOpenDays(schedule.openDays));
  const opens = minutesOfDay(schedule.opensAt) * MINUTE_MS;
  const closes = minutesOfDay(schedule.closesAt) * MINUTE_MS;
  const intervals: Interval[] = [];
  // A day either side: a local day can start up to 14 h before or after the UTC one.
  for (let day = localDay(period.start, schedule.timeZone) - DAY_MS; day <= period.end + DAY_MS; day += DAY_MS) {
    if (!open.has(weekdayOf(day))) continue;
    intervals.push({
      start: localToUtc(day + opens, schedule.timeZone),
      end: localToUtc(day + closes, schedule.timeZone),
    });
  }
  return intervals;
}

/** `period` minus business hours: the closed intervals, in order. */
export function closedIntervals(schedule: ScaleToZeroSchedule, period: Interval): Interval[] {
  const closed: Interval[] = [];
  let cursor = period.start;
  for (const open of businessHours(schedule, period)) {
    if (open.end <= cursor || open.start >= period.end) continue;
    if (open.start > cursor) closed.push({ start: cursor, end: open.start });
    cursor = Math.max(cursor, open.end);
  }
  if (cursor < period.end) closed.push({ start: cursor, end: period.end });
  return closed;
}

/** Sorted, merged union of intervals (touching ones join). */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.end > i.start).sort((a, b) => a.start - b.start);
  const merged: Interval[] = [];
  for (const next of sorted) {
    const last = merged[merged.length - 1];
    if (last && next.start <= last.end)
      merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, next.end) };
    else merged.push(next);
  }
  return merged;
}

/** Total length of `a ∩ b` in ms; both lists sorted and non-overlapping. */
function overlapMs(a: readonly Interval[], b: readonly Interval[]): number {
  let total = 0;
  for (const x of a) {
    for (const y of b) total += Math.max(0, Math.min(x.end, y.end) - Math.max(x.start, y.start));
  }
  return total;
}

/**
 * Minutes the target-tracking policy's low-traffic (scale-in) alarm must see before it fires: added to `idleMinutes`
 * wherever the report decides when the endpoint went back to sleep. Application Auto Scaling creates and sizes that
 * alarm itself; 15 one-minute datapoints is the window its target-tracking scale-in alarms commonly use, not verified
 * in AWS documentation for SageMaker inference components.
 */
export const LOW_TRAFFIC_WINDOW_MINUTES = 15;

/**
 * Minutes a woken component is taken to need before its copy answers (instance, model download, vLLM start-up;
 * several minutes in practice, up to the construct's timeouts when it fails). Meanwhile the fallback model answers.
 */
export const WAKE_MINUTES = 15;

/**
 * The rule the cost report states under its saving: when, in closed hours, the endpoint is taken to be awake.
 * It errs towards awake (a smaller saving): a primary answer's whole clock hour counts, however late in it the answer
 * came, and every closed-hours answer by the fallback model counts as a wake (a sleeping endpoint refused the call and
 * started a copy) even when the fallback answered for another reason.
 */
export const AWAKE_RULE =
  'closed hours count as awake (no saving) from the start of each UTC hour in which the primary model answered ' +
  `until the end of that hour plus idleMinutes + ${LOW_TRAFFIC_WINDOW_MINUTES} min, from each closed-hours answer ` +
  `by the fallback model (a wake) for ${WAKE_MINUTES} min of start-up plus idleMinutes + ` +
  `${LOW_TRAFFIC_WINDOW_MINUTES} min, and for idleMinutes + ${LOW_TRAFFIC_WINDOW_MINUTES} min after each closing ` +
  `(the endpoint scales in only after its scale-in cooldown, idleMinutes, and the ${LOW_TRAFFIC_WINDOW_MINUTES}-minute ` +
  'low-traffic window of its target-tracking alarm); awake hours are charged at the full minimum instance count';

/** The answers the awake rule reads, as epoch ms in any order: those outside closed hours change nothing. */
export interface AnswerTimes {
  /** Answers by the primary model (the endpoint was awake). */
  readonly primary: readonly number[];
  /** Answers by the fallback model: in closed hours, each one is a wake (`WAKE_MINUTES` then the scale-in delay). */
  readonly fallback: readonly number[];
}

export interface ClosedHours {
  /** Closed hours in the period, by the schedule alone. */
  readonly closedHours: number;
  /** Of those, hours the endpoint is estimated to have been awake (`AWAKE_RULE`). */
  readonly awakeHours: number;
  /** closedHours − awakeHours: hours the endpoint is estimated to have had no instance. */
  readonly asleepHours: number;
}

/**
 * Closed hours of `period` and how many of them the endpoint slept, estimated by `AWAKE_RULE` from the instants the
 * primary and the fallback model answered.
 */
export function closedHoursIn(schedule: ScaleToZeroSchedule, period: Interval, answers: AnswerTimes): ClosedHours {
  if (period.end <= period.start) return { closedHours: 0, awakeHours: 0, asleepHours: 0 };
  const closed = closedIntervals(schedule, period);
  const idleMs = (schedule.idleMinutes + LOW_TRAFFIC_WINDOW_MINUTES) * MINUTE_MS;
  const isClosed = (t: number) => closed.some((c) => t >= c.start && t < c.end);
  const awake = mergeIntervals([
    ...answers.primary.map((t) => {
      const hourStart = Math.floor(t / HOUR_MS) * HOUR_MS;
      return { start: hourStart, end: hourStart + HOUR_MS + idleMs };
    }),
    // A fallback answer in business hours is an outage of an endpoint that is up anyway, not a wake.
    ...answers.fallback.filter(isClosed).map((t) => ({ start: t, end: t + WAKE_MINUTES * MINUTE_MS + idleMs })),
    // The endpoint is still up at each closing, including one just before the period starts.
    ...businessHours(schedule, period).map((open) => ({ start: open.end, end: open.end + idleMs })),
  ]);
  const closedMs = closed.reduce((t, c) => t + (c.end - c.start), 0);
  const awakeMs = overlapMs(closed, awake);
  return {
    closedHours: closedMs / HOUR_MS,
    awakeHours: awakeMs / HOUR_MS,
    asleepHours: (closedMs - awakeMs) / HOUR_MS,
  };
}
