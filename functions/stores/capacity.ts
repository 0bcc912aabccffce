/**
 * Consumed DynamoDB capacity (ReturnConsumedCapacity) is reported to a sink, so the cost ledger can price every call.
 */
export interface CapacitySink {
  add(capacity: { readonly read?: number; readonly write?: number }): void;
}

/** Per-invocation DynamoDB capacity (ReturnConsumedCapacity), so the ledger prices exactly the work one call caused. */
export class CapacityMeter implements CapacitySink {
  read = 0;
  write = 0;
  add(capacity: { readonly read?: number; readonly write?: number }): void {
    this.read += capacity.read ?? 0;
    this.write += capacity.write ?? 0;
  }
}
