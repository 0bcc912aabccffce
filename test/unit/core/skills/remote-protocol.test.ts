import {
  MAX_PASSAGE_TEXT_CHARS,
  MAX_PASSAGE_TITLE_CHARS,
  MAX_PASSAGE_URL_CHARS,
  MAX_SKILL_PASSAGES,
  MAX_SKILL_REPLY_CHARS,
  parseSkillResponse,
  SKILL_PROTOCOL_VERSION,
} from '#core/skills/remote-protocol';

/** Protocol v1's response contract: what a skill may return, and how everything else is refused. */

const V = SKILL_PROTOCOL_VERSION;
const passage = (extra: Record<string, unknown> = {}) => ({ text: 'Net 30 means…', title: 'Glossary', ...extra });

describe('parseSkillResponse: accepted responses', () => {
  it('an answer', () => {
    expect(parseSkillResponse({ version: V, action: 'answer', reply: 'ARR: annual recurring revenue' })).toEqual({
      ok: true,
      response: { version: V, action: 'answer', reply: 'ARR: annual recurring revenue' },
    });
  });

  it('a decline', () => {
    expect(parseSkillResponse({ version: V, action: 'decline' })).toEqual({
      ok: true,
      response: { version: V, action: 'decline' },
    });
  });

  it('a ground with every passage field', () => {
    const full = passage({ section: 'Payment terms', url: 'https://wiki.example.com/glossary#net-30' });
    expect(parseSkillResponse({ version: V, action: 'ground', passages: [full, passage()] })).toEqual({
      ok: true,
      response: { version: V, action: 'ground', passages: [full, passage()] },
    });
  });

  it('ignores unknown fields (a skill may carry extra data) and drops them', () => {
    const parsed = parseSkillResponse({ version: V, action: 'answer', reply: 'hi', confidence: 0.9 });
    expect(parsed).toEqual({ ok: true, response: { version: V, action: 'answer', reply: 'hi' } });
  });

  it('accepts the limits exactly', () => {
    expect(parseSkillResponse({ version: V, action: 'answer', reply: 'x'.repeat(MAX_SKILL_REPLY_CHARS) }).ok).toBe(
      true,
    );
    const big = passage({ text: 't'.repeat(MAX_PASSAGE_TEXT_CHARS), title: 'T'.repeat(MAX_PASSAGE_TITLE_CHARS) });
    const passages = Array.from({ length: MAX_SKILL_PASSAGES }, () => big);
    expect(parseSkillResponse({ version: V, action: 'ground', passages }).ok).toBe(true);
  });
});

describe('parseSkillResponse: passage urls', () => {
  const urlOf = (url: unknown): unknown => {
    const parsed = parseSkillResponse({ version: V, action: 'ground', passages: [passage({ url })] });
    if (!parsed.ok || parsed.response.action !== 'ground') throw new Error(`not a ground: ${JSON.stringify(parsed)}`);
    return parsed.response.passages[0];
  };

  it.each([
    ['http', 'http://wiki.example.com/glossary'],
    ['javascript', 'javascript:alert(1)'],
    ['ftp', 'ftp://files.example.com/a'],
    ['not a URL', 'not a url'],
    ['empty', ''],
    ['with user info', 'https://docs.example.com@evil.example/'],
    ['too long', `https://example.com/${'a'.repeat(MAX_PASSAGE_URL_CHARS)}`],
  ])('drops a url that is %s from the passage and keeps the passage', (_case, url) => {
    expect(urlOf(url)).toEqual(passage());
  });

  it('keeps an https url, normalised', () => {
    expect(urlOf('HTTPS://Wiki.Example.com/a b')).toEqual(passage({ url: 'https://wiki.example.com/a%20b' }));
  });

  it('a url that is not a string is a schema violation, not a dropped link', () => {
    expect(parseSkillResponse({ version: V, action: 'ground', passages: [passage({ url: 42 })] })).toMatchObject({
      ok: false,
      reason: 'invalid_response',
      detail: expect.stringContaining('passages[0].url'),
    });
  });

  it('a blank section is dropped', () => {
    expect(urlOf(undefined)).toEqual(passage());
    const parsed = parseSkillResponse({ version: V, action: 'ground', passages: [passage({ section: '  ' })] });
    expect(parsed).toEqual({ ok: true, response: { version: V, action: 'ground', passages: [passage()] } });
  });
});

describe('parseSkillResponse: refused responses', () => {
  it.each([
    ['another version', { version: 'groupgate.skill.v2', action: 'decline' }, 'version "groupgate.skill.v2"'],
    ['no version', { action: 'answer', reply: 'hi' }, 'no version'],
    ['a version of another type', { version: 1, action: 'decline' }, 'version 1'],
  ])('%s: version_mismatch', (_case, raw, detail) => {
    const parsed = parseSkillResponse(raw);
    expect(parsed).toMatchObject({ ok: false, reason: 'version_mismatch' });
    expect(!parsed.ok && parsed.detail).toContain(detail);
    expect(!parsed.ok && parsed.detail).toContain(SKILL_PROTOCOL_VERSION);
  });

  it('clips a long foreign version in the detail', () => {
    const parsed = parseSkillResponse({ version: 'v'.repeat(10_000), action: 'decline' });
    expect(!parsed.ok && parsed.detail.length).toBeLessThan(150);
  });

  it.each([
    ['null', null],
    ['string', 'answer'],
    ['an array', [{ version: V, action: 'decline' }]],
    ['number', 42],
  ])('%s: invalid_response', (type, raw) => {
    expect(parseSkillResponse(raw)).toEqual({
      ok: false,
      reason: 'invalid_response',
      detail: `expected a JSON object, got ${type}`,
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['an unknown action', { action: 'shout', reply: 'hi' }, 'action'],
    ['no action', { reply: 'hi' }, 'action'],
    ['an answer without reply', { action: 'answer' }, 'reply'],
    ['an empty reply', { action: 'answer', reply: '' }, 'reply'],
    ['a blank reply', { action: 'answer', reply: ' \n\t ' }, 'reply: must not be blank'],
    ['a reply too long', { action: 'answer', reply: 'x'.repeat(MAX_SKILL_REPLY_CHARS + 1) }, 'reply'],
    ['a reply that is not a string', { action: 'answer', reply: ['hi'] }, 'reply'],
    ['a ground without passages', { action: 'ground' }, 'passages'],
    ['a ground with no passage', { action: 'ground', passages: [] }, 'passages'],
    [
      'too many passages',
      { action: 'ground', passages: Array.from({ length: MAX_SKILL_PASSAGES + 1 }, () => passage()) },
      'passages',
    ],
    ['a passage without title', { action: 'ground', passages: [{ text: 'x' }] }, 'passages[0].title'],
    ['a passage with a blank text', { action: 'ground', passages: [passage({ text: '   ' })] }, 'passages[0].text'],
    [
      'a passage text too long',
      { action: 'ground', passages: [passage({ text: 'x'.repeat(MAX_PASSAGE_TEXT_CHARS + 1) })] },
      'passages[0].text',
    ],
    [
      'a title too long',
      { action: 'ground', passages: [passage(), passage({ title: 'x'.repeat(MAX_PASSAGE_TITLE_CHARS + 1) })] },
      'passages[1].title',
    ],
    ['a section too long', { action: 'ground', passages: [passage({ section: 'x'.repeat(201) })] }, 'section'],
    ['a null section', { action: 'ground', passages: [passage({ section: null })] }, 'section'],
    ['a passage that is a string', { action: 'ground', passages: ['text'] }, 'passages[0]'],
  ])('%s: invalid_response naming the field', (_case, body, detail) => {
    const parsed = parseSkillResponse({ version: V, ...body });
    expect(parsed).toMatchObject({ ok: false, reason: 'invalid_response' });
    expect(!parsed.ok && parsed.detail).toContain(detail);
  });

  it('names at most a few issues, never the response text', () => {
    const secret = 'member said: my card is 4111 1111 1111 1111';
    const passages = Array.from({ length: 8 }, () => ({ text: secret, title: 7 }));
    const parsed = parseSkillResponse({ version: V, action: 'ground', passages });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.detail).not.toContain('4111');
    expect(!parsed.ok && parsed.detail.split(';')).toHaveLength(3);
  });
});
