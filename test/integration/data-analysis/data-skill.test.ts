import {
  MAX_SKILL_REPLY_CHARS,
  parseSkillResponse,
  SKILL_PROTOCOL_VERSION,
  type SkillRequest,
  type SkillResponse,
} from '#core/skills/remote-protocol';
import { answerDataRequest, type DataSkillDeps } from '#data-analysis/data-skill';
import type { DatasetSpec } from '#data-analysis/dataset';
import type { SqlPromptMessage, WriteSql } from '#data-analysis/write-sql';
import { SAMPLE_SALES_DATASET } from '../../../sandbox/skills/data-skill';
import { readSampleSales, sumBy } from './sample-sales';

/**
 * The data skill end to end on real DuckDB with a scripted model: the reply's numbers are the engine's (checked
 * against sums the test computes from the CSV itself), the one retry, `/sql`, the dataset list, and every failure an
 * answer naming it — except an internal fault, which declines. Each response is checked by GroupGate's own parser.
 */

const rows = readSampleSales();

const request = (text: string, extra: Partial<SkillRequest> = {}): SkillRequest => ({
  version: SKILL_PROTOCOL_VERSION,
  skill: 'data',
  requestId: 'req-1',
  text,
  deadlineMs: 10_000,
  ...extra,
});

/** A model that replies with the given texts in turn, recording what it was asked. */
function scriptedModel(...replies: string[]): WriteSql & { readonly calls: SqlPromptMessage[][] } {
  const calls: SqlPromptMessage[][] = [];
  const writeSql = async (messages: readonly SqlPromptMessage[]) => {
    calls.push([...messages]);
    const reply = replies[calls.length - 1];
    if (reply === undefined) throw new Error('the scripted model has no more replies');
    return reply;
  };
  return Object.assign(writeSql, { calls });
}

const sqlBlock = (sql: string) => `\`\`\`sql\n${sql}\n\`\`\``;

async function answer(req: SkillRequest, deps: DataSkillDeps): Promise<string> {
  const response = await answerDataRequest(req, deps);
  const parsed = parseSkillResponse(JSON.parse(JSON.stringify(response)));
  expect(parsed.ok).toBe(true);
  if (response.action !== 'answer') throw new Error(`expected an answer, got ${response.action}`);
  expect(response.reply.length).toBeLessThanOrEqual(MAX_SKILL_REPLY_CHARS);
  return response.reply;
}

/** The Markdown table of a reply: header cells, then each row's cells. */
function tableOf(reply: string): { header: string[]; body: string[][] } {
  const lines = reply.split('\n').filter((line) => line.startsWith('| '));
  const cells = (line: string) =>
    line
      .slice(2, -2)
      .split(' | ')
      .map((cell) => cell.trim());
  const [header = '', , ...body] = lines;
  return { header: cells(header), body: body.map(cells) };
}

const salesOnly = (writeSql: WriteSql, extra: Partial<DataSkillDeps> = {}): DataSkillDeps => ({
  datasets: [SAMPLE_SALES_DATASET],
  writeSql,
  ...extra,
});

const inline = (name: string, csv: string | Uint8Array, title = `Dataset ${name}`): DatasetSpec => ({
  name,
  title,
  load: async () => (typeof csv === 'string' ? Buffer.from(csv) : csv),
});

describe('a question the model writes SQL for', () => {
  it('answers with the engine’s numbers, equal to sums computed from the file', async () => {
    const sql = 'SELECT region, sum(units) AS units FROM sales GROUP BY region ORDER BY region';
    const model = scriptedModel(sqlBlock(sql));
    const reply = await answer(request('/data sales units by region?'), salesOnly(model));

    const expected = sumBy(
      rows,
      (r) => r.region,
      (r) => r.units,
    );
    const { header, body } = tableOf(reply);
    expect(header).toEqual(['region', 'units']);
    expect(body).toHaveLength(expected.size);
    for (const [region, units] of body) expect(Number(units)).toBe(expected.get(region ?? ''));
    expect(body.map(([region]) => region)).toContain('华东');
    expect(reply.startsWith(`${expected.size} rows from sales.`)).toBe(true);
    expect(reply).toContain(sqlBlock(sql));
  });

  it('rounds revenue from the engine, never shows the model’s own numbers', async () => {
    const model = scriptedModel(
      `Revenue is 123456789 in total.\n${sqlBlock('SELECT currency, sum(units * unit_price) AS revenue FROM sales GROUP BY currency ORDER BY currency')}`,
    );
    const reply = await answer(request('/data revenue by currency'), salesOnly(model));
    expect(reply).not.toContain('123456789');
    const expected = sumBy(
      rows,
      (r) => r.currency,
      (r) => r.units * r.unitPrice,
    );
    const { body } = tableOf(reply);
    expect(body.map(([currency]) => currency)).toEqual(['CNY', 'EUR', 'USD']);
    for (const [currency, revenue] of body) {
      expect(revenue).toMatch(/^\d+(\.\d{1,4})?$/);
      expect(Number(revenue)).toBeCloseTo(expected.get(currency ?? '') ?? Number.NaN, 3);
    }
  });

  it('tells the model the table, its typed columns, sample rows and the question', async () => {
    const model = scriptedModel(sqlBlock('SELECT count(*) AS orders FROM sales'));
    const reply = await answer(request('/data how many orders?'), salesOnly(model));
    expect(tableOf(reply).body).toEqual([[String(rows.length)]]);
    const [system, user] = model.calls[0] ?? [];
    expect(system?.role).toBe('system');
    expect(system?.content).toMatch(/```sql/);
    expect(user?.content).toContain(`Table: sales (${rows.length} rows)`);
    expect(user?.content).toContain('- units BIGINT');
    expect(user?.content).toContain('- order_date DATE');
    expect(user?.content).toContain(rows[0]?.orderDate);
    expect(user?.content).toContain('how many orders?');
  });

  it('retries once with the engine’s error, then answers from the corrected SQL', async () => {
    const bad = 'SELECT sum(revenue) FROM sales';
    const good = 'SELECT sum(units) AS units FROM sales';
    const model = scriptedModel(sqlBlock(bad), sqlBlock(good));
    const reply = await answer(request('/data total units'), salesOnly(model));
    expect(model.calls).toHaveLength(2);
    const retry = model.calls[1] ?? [];
    expect(retry.at(-2)).toEqual({ role: 'assistant', content: sqlBlock(bad) });
    expect(retry.at(-1)?.content).toMatch(/revenue/);
    expect(tableOf(reply).body).toEqual([[String(rows.reduce((sum, r) => sum + r.units, 0))]]);
    expect(reply).toContain(good);
  });

  it('retries a reply without SQL, and gives up after the second failure showing the SQL it tried', async () => {
    const model = scriptedModel('I think about 500 units.', sqlBlock('SELECT nope FROM sales'));
    const reply = await answer(request('/data total units'), salesOnly(model));
    expect(model.calls).toHaveLength(2);
    expect(reply).toMatch(/failed twice/);
    expect(reply).toMatch(/nope/);
    expect(reply).toContain('SELECT nope FROM sales');
    expect(reply).not.toContain('500 units');
  });

  it('does not retry a query that reaches outside the table', async () => {
    const model = scriptedModel(sqlBlock("SELECT * FROM read_csv('/etc/passwd')"), sqlBlock('SELECT 1'));
    const reply = await answer(request('/data show the passwords'), salesOnly(model));
    expect(model.calls).toHaveLength(1);
    expect(reply).toMatch(/only the table sales can be queried/);
    expect(reply).not.toMatch(/root:/);
  });

  it('answers that the model is unavailable, pointing at /sql', async () => {
    const writeSql: WriteSql = async () => {
      throw new Error('endpoint down');
    };
    const reply = await answer(request('/data total units'), salesOnly(writeSql));
    expect(reply).toMatch(/model could not write the SQL/);
    expect(reply).toMatch(/\/sql sales SELECT/);
  });

  it('answers that the model took too long when the deadline passes while it writes', async () => {
    // The signal may have fired already: the engine's child process can take longer to start than the deadline.
    const hanging: WriteSql = (_, signal) =>
      new Promise((_resolve, reject) => {
        if (signal?.aborted) reject(new Error('aborted'));
        signal?.addEventListener('abort', () => reject(new Error('aborted')));
      });
    const reply = await answer(request('/data total units', { deadlineMs: 600 }), salesOnly(hanging));
    expect(reply).toMatch(/^The model took too long to write the SQL\. You can write it yourself: \/sql sales/);
  });

  it('picks the named dataset among several, and asks which one when the first word names none', async () => {
    const regions = inline('regions', 'region,manager\n华东,Li\nEurope,Anna\n', 'Region managers');
    const model = scriptedModel(sqlBlock('SELECT manager FROM regions ORDER BY manager'));
    const deps = { datasets: [SAMPLE_SALES_DATASET, regions], writeSql: model };
    expect(tableOf(await answer(request('/data regions who manages what?'), deps)).body).toEqual([['Anna'], ['Li']]);
    const unknown = await answer(request('/data revenue by region'), deps);
    expect(unknown).toMatch(/no dataset named “revenue”/);
    expect(unknown).toMatch(/sales \(Sample sales orders 2024\), regions \(Region managers\)/);
    expect(model.calls).toHaveLength(1);
  });
});

describe('/sql', () => {
  const noModel = scriptedModel();

  it('runs the member’s own SQL, string literals in their case, from command and args', async () => {
    const sql =
      "SELECT product, sum(units) AS units FROM sales WHERE region = 'North America' GROUP BY product ORDER BY product";
    const reply = await answer(
      request(`/sql sales ${sql}`, { command: '/sql', args: `sales ${sql}` }),
      salesOnly(noModel),
    );
    const expected = sumBy(
      rows.filter((r) => r.region === 'North America'),
      (r) => r.product,
      (r) => r.units,
    );
    const { body } = tableOf(reply);
    expect(body).toHaveLength(expected.size);
    for (const [product, units] of body) expect(Number(units)).toBe(expected.get(product ?? ''));
    expect(noModel.calls).toHaveLength(0);
  });

  it('reads the command from the text when GroupGate matched none, and needs no dataset name with one dataset', async () => {
    const reply = await answer(request('／SQL SELECT count(*) AS n FROM sales'), salesOnly(noModel));
    expect(tableOf(reply).body).toEqual([[String(rows.length)]]);
  });

  it.each([
    ['/sql sales DROP TABLE sales', /DROP statement/],
    ['/sql sales SELECT 1; DROP TABLE sales', /2 SQL statements/],
    ["/sql sales COPY sales TO '/tmp/out.csv'", /only the table sales/],
    ['/sql sales SELECT units FROM nowhere', /nowhere/],
  ])('answers %s with why it did not run', async (text, message) => {
    expect(await answer(request(text), salesOnly(noModel))).toMatch(message);
  });

  it('stops a runaway query at the time limit', async () => {
    const reply = await answer(
      request('/sql sales WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r'),
      salesOnly(noModel, { limits: { queryTimeMs: 200 } }),
    );
    expect(reply).toMatch(/ran longer than 0.2 s and was stopped/);
  });

  it('cuts the query time to what is left of the request’s deadline', async () => {
    const reply = await answer(
      request('/sql sales WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r', {
        deadlineMs: 1_000,
      }),
      salesOnly(noModel),
    );
    expect(reply).toMatch(/ran longer than 0\.\d s and was stopped/);
  });

  it('keeps a long result within one message, saying how many rows it shows', async () => {
    const reply = await answer(request('/sql sales SELECT * FROM sales'), salesOnly(noModel));
    expect(reply).toMatch(/^First \d+ of 200 rows from sales \(shortened to fit one message\)\./);
    expect(reply).toContain('SELECT * FROM sales');
  });

  it('gives usage for an empty /sql', async () => {
    expect(await answer(request('/sql'), salesOnly(noModel))).toMatch(/^Usage: \/sql sales SELECT/);
  });
});

describe('/data without a question', () => {
  it('lists each dataset with its row count and typed columns, and says which cannot be read', async () => {
    const broken = inline('broken', Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0xff), 'Not a CSV');
    const reply = await answer(request('/data'), {
      datasets: [SAMPLE_SALES_DATASET, broken],
      writeSql: scriptedModel(),
    });
    expect(reply).toContain(`• sales — Sample sales orders 2024 (${rows.length} rows)`);
    expect(reply).toContain('columns: order_date DATE, region VARCHAR, product VARCHAR, units BIGINT');
    expect(reply).toMatch(/• Not a CSV: Dataset broken cannot be used\. The dataset file is not UTF-8 text/);
  });

  it('describes one dataset by name', async () => {
    const reply = await answer(request('/数据 sales'), salesOnly(scriptedModel()));
    expect(reply).toMatch(/^• sales — Sample sales orders 2024/);
    expect(reply).toMatch(/Ask: \/data sales <your question>/);
  });
});

describe('failures', () => {
  it('answers when the dataset cannot be loaded', async () => {
    const unreachable: DatasetSpec = {
      name: 'sales',
      title: 'Sales',
      load: async () => {
        throw new Error('AccessDenied');
      },
    };
    const reply = await answer(request('/sql SELECT 1'), { datasets: [unreachable], writeSql: scriptedModel() });
    expect(reply).toBe('Dataset sales could not be read just now; try again later.');
  });

  it('answers that a dataset over the size limit cannot be used', async () => {
    const reply = await answer(request('/sql SELECT 1'), salesOnly(scriptedModel(), { limits: { maxCsvBytes: 100 } }));
    expect(reply).toMatch(/over the limit of 100 bytes/);
  });

  it('declines on an internal fault, reporting it, so the question still reaches the model', async () => {
    const faults: unknown[] = [];
    const misnamed = inline('Not A Name', 'a\n1\n');
    const response: SkillResponse = await answerDataRequest(request('/sql SELECT 1'), {
      datasets: [misnamed],
      writeSql: scriptedModel(),
      onInternalError: (error) => faults.push(error),
    });
    expect(response).toEqual({ version: SKILL_PROTOCOL_VERSION, action: 'decline' });
    expect(faults).toHaveLength(1);
  });

  it.each([
    ['a message without a command', request('how are sales?')],
    ['another skill’s command', request('/define ARR', { command: '/define', args: 'ARR' })],
  ])('declines %s', async (_, req) => {
    const model = scriptedModel();
    expect(await answerDataRequest(req, salesOnly(model))).toEqual({
      version: SKILL_PROTOCOL_VERSION,
      action: 'decline',
    });
    expect(model.calls).toHaveLength(0);
  });

  it('answers that no dataset is registered', async () => {
    expect(await answer(request('/data'), { datasets: [], writeSql: scriptedModel() })).toMatch(/No datasets/);
  });
});
