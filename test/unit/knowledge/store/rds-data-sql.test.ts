import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import { type RdsDataCommand, type RdsDataSender, RdsDataSql, rowsOf } from '#knowledge/store/rds-data-sql';
import { SqlClientError } from '#knowledge/store/sql-client';

const OPTIONS = {
  resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:kb',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kb',
  database: 'groupgate',
};

/** Records every command and answers from `respond` (a thrown error is the Data API's). */
class FakeDataApi implements RdsDataSender {
  readonly sent: RdsDataCommand[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly respond: (command: RdsDataCommand) => unknown = () => ({})) {}
  async send(command: RdsDataCommand): Promise<unknown> {
    this.sent.push(command);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      return this.respond(command);
    } finally {
      this.inFlight--;
    }
  }
  names(): string[] {
    return this.sent.map((command) => command.constructor.name);
  }
}

async function caught(promise: Promise<unknown>): Promise<SqlClientError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SqlClientError) return error;
    throw error;
  }
  throw new Error('expected a SqlClientError');
}

describe('RdsDataSql parameters', () => {
  it('sends $n as typed named parameters and string arrays as array literals', async () => {
    const api = new FakeDataApi(() => ({ formattedRecords: '[]' }));
    await new RdsDataSql(api, OPTIONS).query(
      'SELECT * FROM t WHERE kb = ANY($1::text[]) AND a = $2 AND b = $3 AND c = $4 AND d = $5 AND e IS NOT DISTINCT FROM $6',
      [['a-private', 'b"q'], 'text', 7, 0.25, false, null],
    );
    const command = api.sent[0];
    expect(command).toBeInstanceOf(ExecuteStatementCommand);
    expect(command?.input).toEqual({
      ...OPTIONS,
      sql: 'SELECT * FROM t WHERE kb = ANY(:p1::text[]) AND a = :p2 AND b = :p3 AND c = :p4 AND d = :p5 AND e IS NOT DISTINCT FROM :p6',
      parameters: [
        { name: 'p1', value: { stringValue: '{"a-private","b\\"q"}' } },
        { name: 'p2', value: { stringValue: 'text' } },
        { name: 'p3', value: { longValue: 7 } },
        { name: 'p4', value: { doubleValue: 0.25 } },
        { name: 'p5', value: { booleanValue: false } },
        { name: 'p6', value: { isNull: true } },
      ],
      formatRecordsAs: 'JSON',
    });
  });

  it('refuses a NUL or a missing parameter before calling the Data API', async () => {
    const api = new FakeDataApi();
    const sql = new RdsDataSql(api, OPTIONS);
    expect((await caught(sql.query('SELECT $1', ['a\u0000']))).code).toBe('invalid_parameter');
    expect((await caught(sql.query('SELECT $1, $2', ['a']))).code).toBe('invalid_parameter');
    expect(api.sent).toHaveLength(0);
  });

  it('accepts the SDK client itself', () => {
    // Compile-time check that RDSDataClient satisfies RdsDataSender; no request is made.
    const client = new RDSDataClient({ region: 'eu-west-1' });
    expect(new RdsDataSql(client, OPTIONS)).toBeInstanceOf(RdsDataSql);
    client.destroy();
  });
});

describe('RdsDataSql rows', () => {
  it('parses formattedRecords into rows keyed by column', async () => {
    const records = [
      { kb_id: 'b-public', score: 0.032, section: null, rank: 1 },
      { kb_id: 'b-public', score: 0.016, section: 'Install', rank: 2 },
    ];
    const api = new FakeDataApi(() => ({ formattedRecords: JSON.stringify(records), $metadata: {} }));
    expect(await new RdsDataSql(api, OPTIONS).query('SELECT 1')).toEqual(records);
  });

  it('converts typed records with column labels when the Data API sends no JSON', () => {
    const rows = rowsOf({
      records: [
        [
          { stringValue: 'kb' },
          { longValue: 3 },
          { doubleValue: 0.5 },
          { booleanValue: true },
          { isNull: true },
          { arrayValue: { stringValues: ['a', 'b'] } },
        ],
      ],
      columnMetadata: [
        { name: 'kb_id', label: 'kb' },
        { name: 'n' },
        { name: 'score' },
        { name: 'ok' },
        { name: 'missing' },
        { name: 'tags' },
      ],
    });
    expect(rows).toEqual([{ kb: 'kb', n: 3, score: 0.5, ok: true, missing: null, tags: ['a', 'b'] }]);
  });

  it('returns no rows for a statement without a result', () => {
    expect(rowsOf({ numberOfRecordsUpdated: 3 })).toEqual([]);
  });

  it.each([
    ['formattedRecords that are not JSON', { formattedRecords: '[{' }],
    ['formattedRecords that are not rows', { formattedRecords: '[1, 2]' }],
    ['records without column names', { records: [[{ longValue: 1 }]], columnMetadata: [] }],
    ['a blob field', { records: [[{ blobValue: new Uint8Array([1]) }]], columnMetadata: [{ name: 'b' }] }],
    ['a non-object response', 'oops'],
  ])('refuses %s with bad_response', (_name, output) => {
    let error: unknown;
    try {
      rowsOf(output);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(SqlClientError);
    expect((error as SqlClientError).code).toBe('bad_response');
  });

  it('wraps a Data API failure as query_failed with its SQLSTATE', async () => {
    const failure = Object.assign(new Error('ERROR: relation "kb_chunks" does not exist; SQLState: 42P01'), {
      name: 'DatabaseErrorException',
    });
    const api = new FakeDataApi(() => {
      throw failure;
    });
    const error = await caught(new RdsDataSql(api, OPTIONS).query('SELECT 1 FROM kb_chunks'));
    expect(error.code).toBe('query_failed');
    expect(error.sqlState).toBe('42P01');
    expect(error.message).toContain('DatabaseErrorException');
    expect(error.cause).toBe(failure);
  });
});

describe('RdsDataSql transactions', () => {
  const transactional = () =>
    new FakeDataApi((command) =>
      command instanceof BeginTransactionCommand ? { transactionId: 'tx-1' } : { formattedRecords: '[{"n":1}]' },
    );

  it('begins, runs statements with the transactionId, and commits', async () => {
    const api = transactional();
    const result = await new RdsDataSql(api, OPTIONS).transaction(async (tx) => {
      await tx.query('UPDATE t SET n = $1', [1]);
      return tx.query('SELECT n FROM t');
    });
    expect(result).toEqual([{ n: 1 }]);
    expect(api.names()).toEqual([
      'BeginTransactionCommand',
      'ExecuteStatementCommand',
      'ExecuteStatementCommand',
      'CommitTransactionCommand',
    ]);
    expect(api.sent[0]?.input).toEqual(OPTIONS);
    expect(api.sent[1]?.input).toMatchObject({ transactionId: 'tx-1' });
    expect(api.sent[3]).toBeInstanceOf(CommitTransactionCommand);
    expect(api.sent[3]?.input).toEqual({
      resourceArn: OPTIONS.resourceArn,
      secretArn: OPTIONS.secretArn,
      transactionId: 'tx-1',
    });
  });

  it('rolls back and rethrows when the work throws', async () => {
    const api = transactional();
    const failure = new Error('work failed');
    await expect(
      new RdsDataSql(api, OPTIONS).transaction(async (tx) => {
        await tx.query('SELECT 1');
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(api.names()).toEqual(['BeginTransactionCommand', 'ExecuteStatementCommand', 'RollbackTransactionCommand']);
    expect(api.sent[2]).toBeInstanceOf(RollbackTransactionCommand);
    expect(api.sent[2]?.input).toMatchObject({ transactionId: 'tx-1' });
  });

  it("still throws the work's error when the rollback fails too", async () => {
    const failure = new Error('work failed');
    const api = new FakeDataApi((command) => {
      if (command instanceof BeginTransactionCommand) return { transactionId: 'tx-2' };
      if (command instanceof RollbackTransactionCommand) throw new Error('rollback failed');
      return {};
    });
    await expect(
      new RdsDataSql(api, OPTIONS).transaction(async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
  });

  it('sends a transaction’s statements one at a time even when started together', async () => {
    const api = transactional();
    await new RdsDataSql(api, OPTIONS).transaction((tx) =>
      Promise.all([tx.query('SELECT 1'), tx.query('SELECT 2'), tx.query('SELECT 3')]),
    );
    expect(api.maxInFlight).toBe(1);
    expect(api.sent.slice(1, 4).map((command) => (command.input as { sql?: string }).sql)).toEqual([
      'SELECT 1',
      'SELECT 2',
      'SELECT 3',
    ]);
  });

  it('refuses nested transactions and use of a finished transaction', async () => {
    const api = transactional();
    const sql = new RdsDataSql(api, OPTIONS);
    let escaped: RdsDataSql | undefined;
    const nested = await caught(
      sql.transaction(async (tx) => {
        escaped = tx instanceof RdsDataSql ? tx : undefined;
        return tx.transaction(async () => 1);
      }),
    );
    expect(nested.code).toBe('nested_transaction');
    expect(escaped).toBeDefined();
    expect((await caught(escaped!.query('SELECT 1'))).code).toBe('transaction_closed');
  });

  it('refuses a BeginTransaction answer without a transactionId', async () => {
    const api = new FakeDataApi(() => ({}));
    const error = await caught(new RdsDataSql(api, OPTIONS).transaction(async () => 1));
    expect(error.code).toBe('bad_response');
  });
});
