/**
 * Consumed DynamoDB capacity (ReturnConsumedCapacity) is reported to a sink, so the cost ledger can price every call.
 */
export interface CapacitySink {
  add(capacity: { readonly read?: number; readonly write?: number }): void;
}
