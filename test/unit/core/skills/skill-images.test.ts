import { deflateSync } from 'node:zlib';
import { checkPng, MAX_REPLY_IMAGE_SIDE } from '#core/reply-image';
import {
  MAX_SKILL_IMAGE_ALT_CHARS,
  MAX_SKILL_IMAGE_BYTES,
  MAX_SKILL_IMAGES,
  MAX_SKILL_REPLY_CHARS,
  MAX_SKILL_RESPONSE_BYTES,
  parseSkillResponse,
  SKILL_PROTOCOL_VERSION,
} from '#core/skills/remote-protocol';
import { encodePng, renderBarChart } from '#data-analysis/chart';

/**
 * Protocol v1's optional `images` on an answer: each image is checked on its own (media type, strict base64, decoded
 * size, PNG signature, IHDR dimensions, IEND, alt text), a bad one is dropped with its reason, and the answer is never
 * lost for an image.
 */

const V = SKILL_PROTOCOL_VERSION;
const chart = renderBarChart([3, 1, 2]);
const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const image = (extra: Record<string, unknown> = {}) => ({
  mediaType: 'image/png',
  data: base64(chart),
  alt: 'Bar chart of units by region',
  ...extra,
});
const answer = (images: unknown) => ({ version: V, action: 'answer', reply: '| region | units |', images });

/** A PNG of `width` × `height` that a decoder would open (one grey row repeated). */
function png(width: number, height: number): Uint8Array {
  return encodePng(width, height, new Uint8Array(width * height * 3).fill(0x80));
}

describe('parseSkillResponse: images on an answer', () => {
  it('keeps a valid PNG, decoded, with its dimensions and alt text as one line', () => {
    const parsed = parseSkillResponse(answer([image({ alt: '  Bar chart\nof units  ' })]));
    expect(parsed).toEqual({
      ok: true,
      response: { version: V, action: 'answer', reply: '| region | units |' },
      images: [
        { mediaType: 'image/png', data: new Uint8Array(chart), alt: 'Bar chart of units', width: 108, height: 220 },
      ],
      droppedImages: [],
    });
  });

  it('an answer without images is unchanged (older skills, older GroupGates)', () => {
    expect(parseSkillResponse({ version: V, action: 'answer', reply: 'hi' })).toEqual({
      ok: true,
      response: { version: V, action: 'answer', reply: 'hi' },
    });
  });

  it.each([
    ['not a list', { a: 1 }, ['images: not_a_list']],
    ['not an object', ['x'], ['images[0]: not_an_object']],
    ['another media type', [image({ mediaType: 'image/jpeg' })], ['images[0]: media_type']],
    ['no media type', [image({ mediaType: undefined })], ['images[0]: media_type']],
    [
      'base64 with white space',
      [image({ data: `${base64(chart).slice(0, 8)}\n${base64(chart).slice(8)}` })],
      ['images[0]: bad_base64'],
    ],
    ['base64url characters', [image({ data: base64(chart).replace(/.$/, '_') })], ['images[0]: bad_base64']],
    ['unpadded base64', [image({ data: 'iVBORw0KGgo' })], ['images[0]: bad_base64']],
    ['empty data', [image({ data: '' })], ['images[0]: bad_base64']],
    ['data that is not a string', [image({ data: [1, 2] })], ['images[0]: bad_base64']],
    [
      'a JPEG',
      [image({ data: base64(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, ...new Array(60).fill(0))) })],
      ['images[0]: not_png'],
    ],
    [
      'a truncated PNG (no IEND)',
      [image({ data: base64(chart.subarray(0, chart.length - 12)) })],
      ['images[0]: not_png'],
    ],
    [
      'a PNG wider than allowed',
      [image({ data: base64(png(MAX_REPLY_IMAGE_SIDE + 1, 1)) })],
      ['images[0]: dimensions'],
    ],
    ['a blank alt', [image({ alt: ' \u200b ' })], ['images[0]: bad_alt']],
    ['no alt', [image({ alt: undefined })], ['images[0]: bad_alt']],
    ['an alt too long', [image({ alt: 'a'.repeat(MAX_SKILL_IMAGE_ALT_CHARS + 1) })], ['images[0]: bad_alt']],
  ])('drops %s and keeps the answer', (_, images, dropped) => {
    const parsed = parseSkillResponse(answer(images));
    expect(parsed).toEqual({
      ok: true,
      response: { version: V, action: 'answer', reply: '| region | units |' },
      images: [],
      droppedImages: dropped,
    });
  });

  it('drops an image over the size limit, from its base64 length, without decoding it', () => {
    // A PNG padded past the limit: its base64 text is longer than any file within the limit can be.
    const big = Buffer.concat([chart.subarray(0, 33), Buffer.alloc(MAX_SKILL_IMAGE_BYTES), chart.subarray(33)]);
    const parsed = parseSkillResponse(answer([image({ data: base64(big) })]));
    expect(parsed.ok && parsed.droppedImages).toEqual(['images[0]: too_large']);
  });

  it('keeps at most MAX_SKILL_IMAGES, reporting the rest, and checks each image on its own', () => {
    const parsed = parseSkillResponse(answer([image({ mediaType: 'text/plain' }), image(), image(), image()]));
    expect(MAX_SKILL_IMAGES).toBe(2);
    expect(parsed.ok && parsed.images?.length).toBe(1);
    expect(parsed.ok && parsed.droppedImages).toEqual([
      'images[0]: media_type',
      'images[2]: too_many',
      'images[3]: too_many',
    ]);
  });

  it('a bad image never makes a broken answer valid: the reply is still checked', () => {
    expect(parseSkillResponse({ version: V, action: 'answer', reply: '', images: [image()] })).toMatchObject({
      ok: false,
      reason: 'invalid_response',
    });
  });

  it('two images at the cap and a 4,000-character reply of 3-byte characters fit in one response body', () => {
    const wire = JSON.stringify({
      version: V,
      action: 'answer',
      reply: '数'.repeat(MAX_SKILL_REPLY_CHARS),
      images: [0, 1].map(() => ({
        mediaType: 'image/png',
        data: 'A'.repeat(Math.ceil(MAX_SKILL_IMAGE_BYTES / 3) * 4),
        alt: '图'.repeat(MAX_SKILL_IMAGE_ALT_CHARS),
      })),
    });
    expect(Buffer.byteLength(wire)).toBeLessThanOrEqual(MAX_SKILL_RESPONSE_BYTES);
  });
});

describe('checkPng', () => {
  it('reads the IHDR dimensions of a whole file', () => {
    expect(checkPng(png(3, 2))).toEqual({ ok: true, width: 3, height: 2 });
    expect(checkPng(png(MAX_REPLY_IMAGE_SIDE, 1))).toEqual({ ok: true, width: MAX_REPLY_IMAGE_SIDE, height: 1 });
  });

  it('refuses a file whose first chunk is not IHDR, or that is too short', () => {
    const idatFirst = Buffer.concat([png(1, 1).subarray(0, 8), Buffer.from([0, 0, 0, 13]), Buffer.from('IDAT')]);
    expect(checkPng(Buffer.concat([idatFirst, png(1, 1).subarray(16)]))).toEqual({ ok: false, reason: 'not_png' });
    expect(checkPng(png(1, 1).subarray(0, 20))).toEqual({ ok: false, reason: 'not_png' });
    expect(checkPng(deflateSync(Buffer.from('not an image')))).toEqual({ ok: false, reason: 'not_png' });
  });

  it('refuses zero dimensions', () => {
    const file = Buffer.from(png(1, 1));
    file.writeUInt32BE(0, 16);
    expect(checkPng(file)).toEqual({ ok: false, reason: 'dimensions' });
  });
});
