import { OPEN_SURFACES_INDEX } from '#stores/event-record';

/**
 * The DynamoDB tables of ARCHITECTURE §3, defined once as plain data. The CDK `State` construct and the sandbox
 * (which creates the same tables in dynalite) both read this, so the local tables cannot drift from production.
 */
export interface TableSpec {
  /** Logical id in CDK and the sandbox's table name. */
  readonly id: 'Conversations' | 'Events' | 'AnswerCache' | 'Ledger' | 'Audit';
  readonly partitionKey: string;
  readonly sortKey?: string;
  /** Attribute holding the epoch-seconds expiry that DynamoDB TTL deletes on (lazily: readers check it too). */
  readonly ttlAttribute: string;
  readonly globalSecondaryIndexes?: readonly {
    readonly name: string;
    readonly partitionKey: string;
    readonly sortKey: string;
    /** The sort key's DynamoDB type: `N` for epoch numbers. Every other key attribute is a string. @default 'S' */
    readonly sortKeyType?: 'S' | 'N';
  }[];
}

export const TABLE_SPECS = {
  conversations: { id: 'Conversations', partitionKey: 'pk', ttlAttribute: 'expiresAt' },
  /**
   * pk = `platform#eventId`. The sparse `openSurfaces` index holds only events whose streamed reply may still be open
   * (`openSurface = 'open'`), sorted by when the stream sweeper may finish them (`surfaceSweepAt`, epoch ms).
   */
  events: {
    id: 'Events',
    partitionKey: 'pk',
    ttlAttribute: 'expiresAt',
    globalSecondaryIndexes: [
      { name: OPEN_SURFACES_INDEX, partitionKey: 'openSurface', sortKey: 'surfaceSweepAt', sortKeyType: 'N' },
    ],
  },
  answerCache: { id: 'AnswerCache', partitionKey: 'pk', ttlAttribute: 'expiresAt' },
  /** pk = `GROUP#platform#tenant#chat`, sk = `<ISO time>#<invocation id>`; GSI by day for finance reports. */
  ledger: {
    id: 'Ledger',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'expiresAt',
    globalSecondaryIndexes: [{ name: 'byDay', partitionKey: 'day', sortKey: 'sk' }],
  },
  /** pk = `GROUP#platform#tenant#chat`, sk = `<ISO time>#<event id>`. */
  audit: { id: 'Audit', partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expiresAt' },
} as const satisfies Record<string, TableSpec>;

export type TableKey = keyof typeof TABLE_SPECS;
