import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DocumentClient } from '#shared/json-document-client';
import type { CapacitySink } from './capacity';
import { type ContextStore, type ConversationContext, type Exchange, isTransactConflict } from './context-store';
import type { DeliveredReply } from './event-record';
import type { EventStore } from './event-store';

/** One delivered reply: the event's replied status and, when the pipeline produced one, the turn to keep. */
export interface Delivery {
  readonly eventKey: string;
  readonly at: number;
  readonly reply: DeliveredReply;
  readonly conversationKey: string;
  /** The context the pipeline loaded (its version guards the append) and the exchange to append. */
  readonly turn?: { readonly loaded: ConversationContext; readonly exchange: Exchange };
}

/**
 * Records a delivery: the replied status and the turn in one TransactWriteItems (one round trip instead of two).
 * When another writer changed the conversation since it was loaded, or the store has no transactions, the status is
 * written alone and `appendTurn` re-loads and appends (idempotent by eventId), so neither a reply nor a turn is lost.
 *
 * Contract: throws only if the replied status was not written. A turn that cannot be saved goes to `onTurnLost`
 * (logged by the caller), because the reply is already out and a redelivery would not send it again anyway.
 */
export class DeliveryStore {
  // Learnt from the first attempt: DynamoDB and the sandbox's dynalite (its TransactWriteItems emulation,
  // sandbox/local-aws/dynalite-transactions.ts) run TransactWriteItems; a store without it (a bare dynalite) answers
  // UnknownOperationException, and then every later delivery goes straight to the two separate writes.
  private transactions = true;

  constructor(
    private readonly db: DocumentClient,
    private readonly events: EventStore,
    private readonly contexts: ContextStore,
    private readonly onTurnLost: (err: unknown, delivery: Delivery) => void,
  ) {}

  async record(delivery: Delivery, now: number, meter: CapacitySink): Promise<void> {
    const { turn } = delivery;
    const plan = turn && this.contexts.buildAppend(delivery.conversationKey, turn.loaded, turn.exchange, now);
    if (this.transactions && plan?.kind === 'write') {
      try {
        const out = await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              plan.transactItem,
              this.events.buildReplied(delivery.eventKey, delivery.at, delivery.reply),
            ],
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        meter.add({ write: (out.ConsumedCapacity ?? []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0) });
        return;
      } catch (err) {
        if ((err as Error).name === 'UnknownOperationException') this.transactions = false;
        else if (!isTransactConflict(err, 0)) throw err;
      }
    }
    const saveTurn = async (): Promise<void> => {
      if (!turn || plan?.kind === 'already_saved') return;
      await this.contexts
        .appendTurn(delivery.conversationKey, turn.loaded, turn.exchange, now, meter)
        .catch((err: unknown) => this.onTurnLost(err, delivery));
    };
    // Independent items: written side by side; only the replied status may fail the record.
    await Promise.all([this.events.markReplied(delivery.eventKey, delivery.at, delivery.reply, meter), saveTurn()]);
  }
}
