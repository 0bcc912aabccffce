import { crc32, inflateSync } from 'node:zlib';
import { chartSeries, encodePng, MAX_CHART_BARS, renderBarChart } from '#data-analysis/chart';
import type { Cell, QueryResult } from '#data-analysis/query-result';

/** A PNG taken apart by the test itself: signature, chunks with their CRCs, IHDR fields and the inflated rows. */
function decodePng(png: Uint8Array) {
  const buf = Buffer.from(png);
  expect([...buf.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunks: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < buf.length; ) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('ascii', at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + length);
    expect(buf.readUInt32BE(at + 8 + length)).toBe(crc32(buf.subarray(at + 4, at + 8 + length)));
    chunks.push({ type, data });
    at += 12 + length;
  }
  expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
  const ihdr = chunks[0]?.data ?? Buffer.alloc(13);
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  expect([...ihdr.subarray(8)]).toEqual([8, 2, 0, 0, 0]);
  const raw = inflateSync(chunks[1]?.data ?? Buffer.alloc(0));
  expect(raw.length).toBe((width * 3 + 1) * height);
  const pixel = (x: number, y: number) => {
    const at = y * (width * 3 + 1) + 1 + x * 3;
    return [raw[at], raw[at + 1], raw[at + 2]];
  };
  return { width, height, pixel };
}

describe('encodePng', () => {
  it('writes a valid 8-bit RGB PNG of the given pixels', () => {
    const rgb = Uint8Array.of(255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30);
    const png = decodePng(encodePng(2, 2, rgb));
    expect([png.width, png.height]).toEqual([2, 2]);
    expect([png.pixel(0, 0), png.pixel(1, 0), png.pixel(0, 1), png.pixel(1, 1)]).toEqual([
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [10, 20, 30],
    ]);
  });
});

describe('renderBarChart', () => {
  it('sizes the image by the number of bars and draws taller bars for larger values', () => {
    const png = decodePng(renderBarChart([10, 5], { barWidth: 20, gap: 10, height: 100 }));
    expect([png.width, png.height]).toEqual([10 + 20 + 10 + 20 + 10, 120]);
    const blue = [0x3b, 0x82, 0xf6];
    const white = [0xff, 0xff, 0xff];
    expect(png.pixel(15, 15)).toEqual(blue);
    expect(png.pixel(45, 15)).toEqual(white);
    expect(png.pixel(45, 100)).toEqual(blue);
  });

  it('hangs negative values below the zero line in another colour', () => {
    const png = decodePng(renderBarChart([10, -10], { barWidth: 20, gap: 10, height: 100 }));
    expect(png.pixel(45, 100)).toEqual([0xef, 0x44, 0x44]);
    expect(png.pixel(15, 100)).toEqual([0xff, 0xff, 0xff]);
  });

  it('refuses no values or a non-finite one', () => {
    expect(() => renderBarChart([])).toThrow(RangeError);
    expect(() => renderBarChart([1, Number.NaN])).toThrow(RangeError);
  });
});

describe('chartSeries', () => {
  const text = (value: string): Cell => ({ kind: 'text', value });
  const result = (rows: Cell[][], totalRows = rows.length, columns = 2): QueryResult => ({
    columns: Array.from({ length: columns }, (_, i) => ({ name: `c${i}`, type: 'X' })),
    rows,
    totalRows,
    totalExact: true,
  });

  it('reads (label, number) rows of every numeric kind', () => {
    expect(
      chartSeries(
        result([
          [text('华东'), { kind: 'int', value: 248n }],
          [text('Europe'), { kind: 'decimal', unscaled: 12345n, scale: 2 }],
          [
            { kind: 'int', value: 2024n },
            { kind: 'float', value: 0.5 },
          ],
        ]),
      ),
    ).toEqual({ labels: ['华东', 'Europe', '2024'], values: [248, 123.45, 0.5] });
  });

  it.each<[string, QueryResult]>([
    ['three columns', result([[text('a'), { kind: 'int', value: 1n }, text('b')]], 1, 3)],
    ['a text value', result([[text('a'), text('1')]])],
    ['a NULL value', result([[text('a'), { kind: 'null' }]])],
    ['no rows', result([])],
    ['more rows than shown', result([[text('a'), { kind: 'int', value: 1n }]], 500)],
    [
      'too many bars',
      result(Array.from({ length: MAX_CHART_BARS + 1 }, (_, i) => [text(`r${i}`), { kind: 'int', value: 1n } as Cell])),
    ],
  ])('is undefined for %s', (_, r) => {
    expect(chartSeries(r)).toBeUndefined();
  });
});
