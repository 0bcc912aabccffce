import { inflateSync } from 'node:zlib';
import { parseSkillResponse, SKILL_PROTOCOL_VERSION, type SkillRequest } from '#core/skills/remote-protocol';
import { createHttpSkillInvoker } from '#skills/http-invoker';
import { startDataSkill } from '../../../sandbox/skills/data-skill';
import type { RunningSkillServer } from '../../../sandbox/skills/skill-server';
import { readSampleSales, sumBy } from './sample-sales';

/**
 * The data skill's chart (issue 17: "a chart image where the platform supports images"), over real HTTP from the
 * sandbox's data skill on the sample sales data, read back through GroupGate's own invoker and response parser: a
 * two-column (label, number) result carries one PNG bar chart whose bars are the engine's numbers, in the table's
 * order; other results carry none.
 */

const rows = readSampleSales();
let skill: RunningSkillServer;

beforeAll(async () => {
  skill = await startDataSkill({ writeSql: async () => 'no model in this test' });
});
afterAll(() => skill.stop());

async function ask(sql: string) {
  const request: SkillRequest = {
    version: SKILL_PROTOCOL_VERSION,
    skill: 'data',
    requestId: 'req-chart',
    text: `/sql sales ${sql}`,
    command: '/sql',
    args: `sales ${sql}`,
    deadlineMs: 10_000,
  };
  const parsed = parseSkillResponse(await createHttpSkillInvoker({ urlOf: () => skill.url })(request, 10_000));
  if (!parsed.ok || parsed.response.action !== 'answer') throw new Error('expected an answer');
  return { reply: parsed.response.reply, images: parsed.images ?? [], dropped: parsed.droppedImages ?? [] };
}

/** Bar heights of an RGB chart, read from the inflated pixels: blue pixels per column at each bar's centre. */
function barHeights(png: Uint8Array, bars: number): number[] {
  const buf = Buffer.from(png);
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  const idat = buf.subarray(41, 41 + buf.readUInt32BE(33));
  const raw = inflateSync(idat);
  const blue = (x: number, y: number) => {
    const at = y * (width * 3 + 1) + 1 + x * 3;
    return raw[at] === 0x3b && raw[at + 1] === 0x82 && raw[at + 2] === 0xf6;
  };
  return Array.from({ length: bars }, (_, i) => {
    const x = 10 + i * 32 + 12;
    let count = 0;
    for (let y = 0; y < height; y++) if (blue(x, y)) count++;
    return count;
  });
}

describe('data skill chart', () => {
  it('a (label, number) result: the table, and a bar chart of the engine’s numbers in the table’s order', async () => {
    const sql = 'SELECT region, sum(units) AS units FROM sales GROUP BY region ORDER BY units DESC, region';
    const { reply, images, dropped } = await ask(sql);
    const expected = [
      ...sumBy(
        rows,
        (r) => r.region,
        (r) => r.units,
      ),
    ].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    expect(dropped).toEqual([]);
    for (const [region, units] of expected) expect(reply).toContain(`| ${region} | ${units} |`);
    expect(images).toHaveLength(1);
    const [chart] = images;
    expect(chart?.alt).toBe(`Bar chart of units by region, ${expected.length} bars in the table's order`);
    expect(chart?.width).toBe(20 + expected.length * 24 + (expected.length - 1) * 8);
    const heights = barHeights(chart?.data ?? new Uint8Array(), expected.length);
    const max = Math.max(...expected.map(([, units]) => units));
    // Each bar is its value's share of the largest, on the 200-pixel plot, to the pixel.
    expect(heights).toEqual(expected.map(([, units]) => Math.round((units / max) * 200)));
  });

  it.each([
    ['three columns', 'SELECT region, currency, sum(units) FROM sales GROUP BY ALL ORDER BY ALL'],
    ['a text second column', 'SELECT region, min(product) FROM sales GROUP BY region ORDER BY region'],
    ['one column', 'SELECT DISTINCT region FROM sales ORDER BY region'],
  ])('%s: the table alone', async (_, sql) => {
    const { reply, images } = await ask(sql);
    expect(reply).toContain('```sql');
    expect(images).toEqual([]);
  });
});
