import { readFileSync } from 'node:fs';
import { SAMPLE_SALES_FILE } from '../../../sandbox/skills/data-skill';

/**
 * The sandbox's sample sales CSV read by the test itself (not by DuckDB), so a test can check the engine's numbers
 * against an independent computation. The file's only quoting is a field with a comma ("Desk Lamp, LED").
 */
export interface SaleRow {
  readonly orderDate: string;
  readonly region: string;
  readonly product: string;
  readonly units: number;
  readonly unitPrice: number;
  readonly currency: string;
}

function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields;
}

export function readSampleSales(): SaleRow[] {
  const [header, ...lines] = readFileSync(SAMPLE_SALES_FILE, 'utf8').trim().split('\n');
  expect(header).toBe('order_date,region,product,units,unit_price,currency');
  return lines.map((line) => {
    const [orderDate = '', region = '', product = '', units = '', unitPrice = '', currency = ''] = splitCsvLine(line);
    return { orderDate, region, product, units: Number(units), unitPrice: Number(unitPrice), currency };
  });
}

/** Sum of `value(row)` per `key(row)`. */
export function sumBy(rows: readonly SaleRow[], key: (row: SaleRow) => string, value: (row: SaleRow) => number) {
  const sums = new Map<string, number>();
  for (const row of rows) sums.set(key(row), (sums.get(key(row)) ?? 0) + value(row));
  return sums;
}
