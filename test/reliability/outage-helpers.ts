import type { ModelSource } from '#core/cost/ledger-row';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import { seededRandom } from '../../sandbox/faults';
import type { ModelsView } from '../../sandbox/model-control';
import type { PrimaryState } from '../../sandbox/model-switch';
import { type Delivered, getJson, inPool, postEvent, sleep } from './helpers';

/**
 * The primary-outage suite's plan and book-keeping (issue 16): which event is sent in which phase, how a reply or a
 * ledger row is tied back to its event and member, and the sandbox routes the suite reads.
 */

/**
 * When an event is sent. `tripping`: the primary was just switched down and the breaker is still closed (its calls
 * fail and count towards opening); `outage`: still down, breaker open; `cooling`: back up, sent across the breaker's
 * cool-down; `probe`: one event alone after the cool-down; `after`: back to normal.
 */
export type Phase = 'before' | 'tripping' | 'outage' | 'cooling' | 'probe' | 'after';

export interface PlannedEvent {
  readonly eventId: string;
  readonly platform: PlatformName;
  readonly chatId: string;
  readonly userId: string;
  /** Unique per event, and echoed by the instant engine: ties a reply to its event. */
  readonly token: string;
  readonly text: string;
  /** Concurrent deliveries of the same event id (a platform's retries racing the first). */
  readonly deliveries: number;
  readonly phase: Phase;
}

/** The fields of a `GET /_sandbox/ledger` row the suite reads. */
export interface LedgerEntry {
  readonly eventId: string;
  readonly chatId: string;
  readonly model: string;
  readonly modelSource?: ModelSource;
  readonly cached: boolean;
  /** ISO time the invocation started, before its model call. */
  readonly at: string;
}

export interface DeadLetters {
  readonly depth: number;
  /** `platform#eventId` of each dead-lettered message. */
  readonly events: readonly string[];
}

/** Every chat of the suite starts with this, so its replies and rows are told apart from anything else. */
export const CHAT_PREFIX = 'out-';
const GROUPS = 24;
const MEMBERS_PER_GROUP = 4;
/** Phase sizes as shares of the total; `probe` is one event and `after` takes the rest. */
const SHARES = { before: 0.25, tripping: 0.1, outage: 0.35, cooling: 0.1 } as const;
/** Enough failed calls to open the breaker (5 by default) with room to spare. */
const MIN_TRIPPING = 10;
const MIN_EVENTS = 40;

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * A deterministic plan of `total` events: group g lives on platform g mod 4 with members `u{gg}{k}`, each event has
 * one unique token and 1–3 concurrent deliveries, and the phases follow each other in `Phase` order.
 * @throws Error below `MIN_EVENTS`: too few to trip the breaker and still fill every phase.
 */
export function planOutage(total: number, seed: number): PlannedEvent[] {
  if (!Number.isInteger(total) || total < MIN_EVENTS)
    throw new Error(`the outage suite needs an integer of at least ${MIN_EVENTS} events, got ${total}`);
  const sized = (share: number) => Math.round(total * share);
  const counts: [Phase, number][] = [
    ['before', sized(SHARES.before)],
    ['tripping', Math.max(MIN_TRIPPING, sized(SHARES.tripping))],
    ['outage', sized(SHARES.outage)],
    ['cooling', sized(SHARES.cooling)],
    ['probe', 1],
  ];
  counts.push(['after', total - counts.reduce((n, [, c]) => n + c, 0)]);
  const phases = counts.flatMap(([phase, n]) => Array.from({ length: n }, () => phase));
  const random = seededRandom(seed);
  return phases.map((phase, i) => {
    const group = Math.floor(random() * GROUPS);
    const member = Math.floor(random() * MEMBERS_PER_GROUP);
    const token = `k${pad(i, 4)}z`;
    return {
      eventId: `out${pad(i, 5)}${pad(Math.floor(random() * 1e6), 6)}`,
      platform: PLATFORMS[group % PLATFORMS.length] as PlatformName,
      chatId: `${CHAT_PREFIX}g${pad(group, 2)}`,
      userId: `u${pad(group, 2)}${member}`,
      token,
      text: `what is the status of ticket ${token} for team ${group}?`,
      // The probe goes alone, once: a second delivery is deduplicated, but keeps the run easy to read.
      deliveries: phase === 'probe' ? 1 : 1 + Math.floor(random() * 3),
      phase,
    };
  });
}

const TOKEN = /k\d{4}z/g;
const MEMBER_MENTION = /(?:<@|@)(u\d{3})\b/;

/** Ties replies, ledger rows and dead letters back to the planned events and their members. */
export class OutageBook {
  private readonly byToken: ReadonlyMap<string, PlannedEvent>;
  private readonly byEventId: ReadonlyMap<string, PlannedEvent>;

  constructor(readonly events: readonly PlannedEvent[]) {
    this.byToken = new Map(events.map((e) => [e.token, e]));
    this.byEventId = new Map(events.map((e) => [e.eventId, e]));
  }

  /** The planned event with this id (a ledger row's `eventId`, or the id part of a DLQ key). */
  event(eventId: string): PlannedEvent | undefined {
    return this.byEventId.get(eventId.slice(eventId.indexOf('#') + 1));
  }

  /**
   * Which event a reply answers (its one token, else its `replyTo`), and which member it is addressed to (its
   * @-mention, or the one member the platform notifies); `tokens` lists every token it carries.
   */
  attribute(reply: Delivered): { event?: PlannedEvent; member?: string; tokens: string[] } {
    const tokens = [...new Set(reply.text.match(TOKEN) ?? [])];
    const byText = tokens.length === 1 ? this.byToken.get(tokens[0] as string) : undefined;
    const byReply = reply.replyTo ? this.event(reply.replyTo) : undefined;
    const [mentioned, ...others] = reply.mentions ?? [];
    const member = MEMBER_MENTION.exec(reply.text)?.[1] ?? (others.length === 0 ? mentioned : undefined);
    return { event: byText ?? byReply, tokens, ...(member ? { member } : {}) };
  }

  /**
   * Members of `sent` whose replies plus dead-lettered events do not yet cover the events sent to them. A reply that
   * names no event (an apology carries no token) still counts for the member it is addressed to.
   */
  shortMembers(sent: readonly PlannedEvent[], replies: readonly Delivered[], dlq: readonly string[]): string[] {
    const expected = countBy(sent.map((e) => e.userId));
    const covered = countBy([
      ...replies.map((r) => {
        const { event, member } = this.attribute(r);
        return event?.userId ?? member;
      }),
      ...dlq.map((key) => this.event(key)?.userId),
    ]);
    return [...expected].filter(([m, n]) => (covered.get(m) ?? 0) < n).map(([m]) => m);
  }
}

/** How many times each defined value occurs. */
export function countBy(values: readonly (string | undefined)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

/** The sandbox routes the suite reads and drives, bound to one sandbox URL. */
export function outageRoutes(base: string) {
  return {
    models: () => getJson<ModelsView>(base, '/_sandbox/model'),
    /** Switches the primary; the answer must be 200 with the new state. */
    async setPrimary(state: PrimaryState): Promise<ModelsView> {
      const res = await fetch(`${base}/_sandbox/model/primary`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ state }),
      });
      const view = (await res.json()) as ModelsView;
      if (res.status !== 200 || view.primary.state !== state)
        throw new Error(`POST /_sandbox/model/primary ${state} answered ${res.status}: ${JSON.stringify(view)}`);
      return view;
    },
    replies: async () =>
      (await getJson<Delivered[]>(base, '/_sandbox/messages')).filter((d) => d.chatId.startsWith(CHAT_PREFIX)),
    ledger: async () =>
      (await getJson<LedgerEntry[]>(base, '/_sandbox/ledger')).filter((r) => r.chatId.startsWith(CHAT_PREFIX)),
    deadLetters: () => getJson<DeadLetters>(base, '/_sandbox/dlq'),
    /** Every delivery of each event at once (the races dedup must survive), `lanes` events in flight; webhook statuses. */
    async send(events: readonly PlannedEvent[], lanes = 12): Promise<number[]> {
      const statuses = await inPool(
        events.map((e) => () => Promise.all(Array.from({ length: e.deliveries }, () => post(base, e)))),
        lanes,
      );
      return statuses.flat();
    },
    /** One more delivery of each event, as a platform's late retry (Feishu retries after 15 s, 5 min, …). */
    retry: (events: readonly PlannedEvent[]) =>
      inPool(
        events.map((e) => () => post(base, e)),
        12,
      ),
    /** Sends `events` one by one, spread evenly until `until` (epoch ms); webhook statuses. */
    async trickle(events: readonly PlannedEvent[], until: number): Promise<number[]> {
      const statuses: number[] = [];
      for (const [i, e] of events.entries()) {
        statuses.push(...(await Promise.all(Array.from({ length: e.deliveries }, () => post(base, e)))));
        await sleep(Math.max(0, (until - Date.now()) / (events.length - i)));
      }
      return statuses;
    },
  };
}

export type OutageRoutes = ReturnType<typeof outageRoutes>;

const post = (base: string, e: PlannedEvent) =>
  postEvent(base, { platform: e.platform, chatId: e.chatId, userId: e.userId, text: e.text, eventId: e.eventId });

/**
 * Waits until every member's events among `sent` are answered or dead-lettered, or `budgetMs` has passed (the final
 * accounting then reports what is missing).
 */
export async function waitCovered(
  routes: OutageRoutes,
  book: OutageBook,
  sent: readonly PlannedEvent[],
  budgetMs: number,
): Promise<void> {
  const until = Date.now() + budgetMs;
  for (;;) {
    const [replies, dlq] = await Promise.all([routes.replies(), routes.deadLetters()]);
    if (book.shortMembers(sent, replies, dlq.events).length === 0 || Date.now() > until) return;
    await sleep(250);
  }
}
