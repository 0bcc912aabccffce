import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_SPECS, type TableKey, type TableSpec } from '#shared/table-specs';

/**
 * The five DynamoDB tables of ARCHITECTURE §3, built from TABLE_SPECS (the same data the sandbox uses): on-demand,
 * point-in-time recovery, encrypted with the AWS managed key, TTL on each spec's attribute. Tables are retained
 * when the stack is deleted, since the ledger and audit trail outlive deployments.
 */
export class State extends Construct {
  readonly tables: Readonly<Record<TableKey, Table>>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const entries = (Object.entries(TABLE_SPECS) as [TableKey, TableSpec][]).map(
      ([key, spec]) => [key, this.tableFor(spec)] as const,
    );
    this.tables = Object.fromEntries(entries) as Record<TableKey, Table>;
  }

  private tableFor(spec: TableSpec): Table {
    const table = new Table(this, spec.id, {
      partitionKey: { name: spec.partitionKey, type: AttributeType.STRING },
      sortKey: spec.sortKey ? { name: spec.sortKey, type: AttributeType.STRING } : undefined,
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: spec.ttlAttribute,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of spec.globalSecondaryIndexes ?? []) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: index.sortKeyType === 'N' ? AttributeType.NUMBER : AttributeType.STRING },
      });
    }
    return table;
  }
}
