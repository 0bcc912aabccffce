import { crc32, deflateSync } from 'node:zlib';
import { cellToNumber, exactText, isNumeric, type QueryResult } from './query-result';

/**
 * A bar chart of a (label, number) result as a PNG, in pure TypeScript (node:zlib's deflate and CRC-32; no canvas,
 * no native module). Bars only: labels and values stay in the reply's table, which the chart sits next to, so no
 * font is needed and CJK labels cost nothing. The data skill sends it as a protocol v1 image (`chartImage` in
 * `data-skill.ts`); GroupGate posts it under the table on the platforms that take images (docs/SKILLS.md §8).
 */

/** Most bars drawn; a longer result is a list to read, not a chart. */
export const MAX_CHART_BARS = 30;

export interface ChartSeries {
  readonly labels: readonly string[];
  readonly values: readonly number[];
}

/**
 * The series of a result that reads as a bar chart: exactly two columns, the second numeric in every row (no
 * NULL), 1..`MAX_CHART_BARS` rows, every value finite. Otherwise undefined.
 */
export function chartSeries(result: QueryResult): ChartSeries | undefined {
  if (result.columns.length !== 2 || result.rows.length === 0 || result.rows.length > MAX_CHART_BARS) return undefined;
  if (result.totalRows !== result.rows.length) return undefined;
  const labels: string[] = [];
  const values: number[] = [];
  for (const [label, value] of result.rows) {
    if (label === undefined || value === undefined || !isNumeric(value)) return undefined;
    const number = cellToNumber(value);
    if (number === undefined || !Number.isFinite(number)) return undefined;
    labels.push(exactText(label));
    values.push(number);
  }
  return { labels, values };
}

export interface BarChartOptions {
  /** @default 24 */
  readonly barWidth?: number;
  /** @default 8 */
  readonly gap?: number;
  /** Drawing height, pixels, without the margin. @default 200 */
  readonly height?: number;
}

const MARGIN = 10;
const BACKGROUND = [0xff, 0xff, 0xff] as const;
const BAR = [0x3b, 0x82, 0xf6] as const;
const NEGATIVE_BAR = [0xef, 0x44, 0x44] as const;
const AXIS = [0x64, 0x74, 0x8b] as const;

/**
 * A PNG (8-bit RGB) with one bar per value, left to right, scaled to the largest magnitude; negative values hang
 * below the zero line in another colour. At least one value.
 */
export function renderBarChart(values: readonly number[], options: BarChartOptions = {}): Uint8Array {
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
    throw new RangeError('a bar chart needs at least one finite value');
  }
  const barWidth = options.barWidth ?? 24;
  const gap = options.gap ?? 8;
  const plotHeight = options.height ?? 200;
  const width = MARGIN * 2 + values.length * barWidth + (values.length - 1) * gap;
  const height = MARGIN * 2 + plotHeight;
  const max = Math.max(0, ...values);
  const min = Math.min(0, ...values);
  const span = max - min || 1;
  const zeroY = MARGIN + Math.round((max / span) * plotHeight);

  const pixels = new Uint8Array(width * height * 3);
  const paint = (x: number, y: number, [r, g, b]: readonly [number, number, number]) => {
    const at = (y * width + x) * 3;
    pixels[at] = r;
    pixels[at + 1] = g;
    pixels[at + 2] = b;
  };
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) paint(x, y, BACKGROUND);
  values.forEach((value, i) => {
    const left = MARGIN + i * (barWidth + gap);
    const length = Math.round((Math.abs(value) / span) * plotHeight);
    const top = value >= 0 ? zeroY - length : zeroY;
    const colour = value >= 0 ? BAR : NEGATIVE_BAR;
    for (let y = top; y < top + length; y++) for (let x = left; x < left + barWidth; x++) paint(x, y, colour);
  });
  for (let x = MARGIN - 4; x < width - MARGIN + 4; x++) paint(x, Math.min(zeroY, height - 1), AXIS);
  return encodePng(width, height, pixels);
}

const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** An 8-bit RGB PNG of `rgb` (width × height × 3 bytes, rows top to bottom), every row with filter 0. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  // compression, filter and interlace methods: 0
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0;
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
  return Buffer.concat([head, data, crc]);
}
