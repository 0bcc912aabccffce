import { ModelError } from '#core/errors';
import { createStreamAccumulator } from '#model/stream-parser';

const chunk = (content: string | null, finish: string | null = null) =>
  JSON.stringify({
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta: { content }, finish_reason: finish }],
  });
const usage = JSON.stringify({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 } });

const PIECES = ['你好', '，世界 ', '🎉👩‍💻', ' done'];
const SSE = `${[...PIECES.map((p) => chunk(p)), chunk(null, 'stop'), usage].map((j) => `data: ${j}\n\n`).join('')}data: [DONE]\n\n`;
const JSON_LINES = `${[...PIECES.map((p) => chunk(p)), chunk(null, 'length')].join('\n')}\n`;

/** Splits bytes at the given offsets (so cuts can land inside a UTF-8 character or a line). */
function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(bytes.subarray(start, cut));
    start = cut;
  }
  return out;
}

function run(parts: readonly Uint8Array[]) {
  let t = 100;
  const acc = createStreamAccumulator({ startedAt: 100, now: () => t });
  const deltas: string[] = [];
  for (const part of parts) {
    t += 10;
    deltas.push(...acc.push(part));
  }
  return { deltas, result: acc.finish() };
}

describe('createStreamAccumulator', () => {
  const sseBytes = new TextEncoder().encode(SSE);

  it('parses SSE delivered in one piece', () => {
    const { deltas, result } = run([sseBytes]);
    expect(deltas).toEqual(PIECES);
    expect(result).toEqual({
      content: PIECES.join(''),
      finishReason: 'stop',
      usage: { promptTokens: 12, completionTokens: 5, totalTokens: 17 },
      timeToFirstTokenMs: 10,
    });
  });

  it('gives the same result for every single split point, including inside multi-byte characters', () => {
    const whole = run([sseBytes]).result;
    for (let cut = 1; cut < sseBytes.length; cut++) {
      const { deltas, result } = run(splitAt(sseBytes, [cut]));
      expect(deltas.join('')).toBe(whole.content);
      expect({ ...result, timeToFirstTokenMs: 0 }).toEqual({ ...whole, timeToFirstTokenMs: 0 });
    }
  });

  it('survives byte-by-byte delivery and records time to first token at the first content byte chunk', () => {
    const parts = splitAt(
      sseBytes,
      Array.from({ length: sseBytes.length - 1 }, (_, i) => i + 1),
    );
    const { result } = run(parts);
    expect(result.content).toBe('你好，世界 🎉👩‍💻 done');
    const firstLineEnd = SSE.indexOf('\n');
    // each byte advances the clock by 10 ms; the first delta completes on its line's newline byte
    expect(result.timeToFirstTokenMs).toBe((new TextEncoder().encode(SSE.slice(0, firstLineEnd)).length + 1) * 10);
  });

  it('parses JSON lines with seeded random splits and CRLF endings', () => {
    const bytes = new TextEncoder().encode(JSON_LINES.replaceAll('\n', '\r\n'));
    let seed = 7;
    for (let round = 0; round < 50; round++) {
      const cuts: number[] = [];
      for (let i = 1; i < bytes.length; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        if (seed % 9 === 0) cuts.push(i);
      }
      const { result } = run(splitAt(bytes, cuts));
      expect(result.content).toBe(PIECES.join(''));
      expect(result.finishReason).toBe('length');
      expect(result.usage).toBeUndefined();
    }
  });

  it.each([
    ['length', 'length'],
    ['eos_token', 'stop'],
    ['content_filter', 'content_filter'],
    ['something_new', 'unknown'],
  ])('maps the final finish_reason %j to %j', (wire, expected) => {
    const text = `data: ${chunk('a')}\n\ndata: ${chunk(null, wire)}\n\ndata: [DONE]\n\n`;
    expect(run([new TextEncoder().encode(text)]).result.finishReason).toBe(expected);
  });

  it('a stream cut off before any finish_reason or [DONE] is "unknown", never "stop"', () => {
    expect(run([new TextEncoder().encode(`data: ${chunk('partial')}\n\n`)]).result.finishReason).toBe('unknown');
  });

  it('ignores SSE comments and other fields, and a final line without newline', () => {
    const text = `: keep-alive\nevent: message\nid: 1\ndata: ${chunk('a')}\n\ndata:${chunk('b', 'stop')}`;
    expect(run([new TextEncoder().encode(text)]).result).toMatchObject({ content: 'ab', finishReason: 'stop' });
  });

  it.each([
    ['a non-JSON data line', 'data: {oops\n\n'],
    ['an off-contract chunk', 'data: {"choices":"nope"}\n\n'],
    ['data after [DONE]', `data: [DONE]\n\ndata: ${chunk('late')}\n\n`],
    ['an empty stream', ''],
    ['only [DONE]', 'data: [DONE]\n\n'],
  ])('rejects %s as bad_response', (_label, text) => {
    const attempt = () => run([new TextEncoder().encode(text)]);
    expect(attempt).toThrow(ModelError);
    expect(attempt).toThrow(expect.objectContaining({ reason: 'bad_response' }));
  });

  it('rejects invalid UTF-8', () => {
    const bad = new Uint8Array([...new TextEncoder().encode(`data: ${chunk('x')}`.slice(0, 20)), 0xff, 0xfe, 0x0a]);
    expect(() => run([bad])).toThrow(expect.objectContaining({ reason: 'bad_response' }));
  });
});
