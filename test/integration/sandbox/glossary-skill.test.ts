import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import {
  MAX_PASSAGE_SECTION_CHARS,
  MAX_PASSAGE_TEXT_CHARS,
  MAX_SKILL_PASSAGES,
  MAX_SKILL_REPLY_CHARS,
  parseSkillResponse,
  SKILL_PROTOCOL_VERSION,
  type SkillRequest,
  type SkillResponse,
} from '#core/skills/remote-protocol';
import { SkillInvokeError } from '#core/skills/remote-skill';
import { createHttpSkillInvoker } from '#skills/http-invoker';
import { handler as exampleHandler } from '../../../examples/skills/glossary-lambda/index';
import {
  buildGlossary,
  GLOSSARY_FILE,
  loadGlossary,
  MAX_GLOSSARY_PASSAGES,
  MAX_REQUEST_BYTES,
  type RunningGlossarySkill,
  startGlossarySkill,
} from '../../../sandbox/skills/glossary-skill';

/**
 * The sandbox's glossary skill over real HTTP on 127.0.0.1: each protocol v1 action, the matching rules (commands,
 * CJK substrings, Latin whole words), refused requests, and every 200 answer checked by GroupGate's own response
 * parser (`parseSkillResponse`) — the skill must be one GroupGate accepts.
 */

let skill: RunningGlossarySkill;

beforeAll(async () => {
  skill = await startGlossarySkill();
});

afterAll(() => skill.stop());

const request = (text: string, extra: Partial<SkillRequest> = {}): SkillRequest => ({
  version: SKILL_PROTOCOL_VERSION,
  skill: 'glossary',
  requestId: 'req-1',
  text,
  origin: { platform: 'slack', chatId: 'C0123', memberRef: '5f0c3a…' },
  deadlineMs: 3000,
  ...extra,
});

async function post(body: unknown, raw = false): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await fetch(skill.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

/** Asks the skill; the answer must be 200 and a response GroupGate's parser accepts, within protocol v1's limits. */
async function ask(text: string, extra: Partial<SkillRequest> = {}): Promise<SkillResponse> {
  const { status, json } = await post(request(text, extra));
  expect(status).toBe(200);
  const parsed = parseSkillResponse(json);
  if (!parsed.ok) throw new Error(`GroupGate would refuse this response: ${parsed.reason} ${parsed.detail}`);
  const response = parsed.response;
  if (response.action === 'answer') expect(response.reply.length).toBeLessThanOrEqual(MAX_SKILL_REPLY_CHARS);
  if (response.action === 'ground') {
    expect(response.passages.length).toBeLessThanOrEqual(MAX_SKILL_PASSAGES);
    for (const passage of response.passages) {
      expect(passage.text.length).toBeLessThanOrEqual(MAX_PASSAGE_TEXT_CHARS);
      expect((passage.section ?? '').length).toBeLessThanOrEqual(MAX_PASSAGE_SECTION_CHARS);
    }
  }
  return response;
}

const replyOf = (response: SkillResponse): string => {
  if (response.action !== 'answer') throw new Error(`expected an answer, got ${response.action}`);
  return response.reply;
};
const sectionsOf = (response: SkillResponse): (string | undefined)[] => {
  if (response.action !== 'ground') throw new Error(`expected ground, got ${response.action}`);
  return response.passages.map((p) => p.section);
};

describe('answer: /define and /释义', () => {
  test('a command GroupGate matched (command and args fields) is answered with the definition', async () => {
    const reply = replyOf(await ask('/define FAQ cache', { command: '/define', args: 'FAQ cache' }));
    expect(reply).toMatch(/^FAQ cache \(问答缓存\): .*60 minutes/);
  });

  test('/释义 with a Chinese name answers the same entry', async () => {
    const reply = replyOf(await ask('/释义 上下文范围', { command: '/释义', args: '上下文范围' }));
    expect(reply).toMatch(/^context scope \(上下文范围\): /);
  });

  test('without command fields (a skill configured for every message) the text is parsed', async () => {
    expect(replyOf(await ask('/define dlq'))).toMatch(/^DLQ \(死信队列\): The dead-letter queue/);
  });

  test('full-width, upper case, separators, plural and end punctuation are all the same term', async () => {
    expect(replyOf(await ask('／DEFINE   Circuit-Breakers？'))).toMatch(/^circuit breaker \(熔断器\): /);
    expect(replyOf(await ask('/define "scale to zero"'))).toMatch(/^scale-to-zero /);
    expect(replyOf(await ask('/释义 AI卡片'))).toMatch(/^AI card \(AI 卡片\): /);
    expect(replyOf(await ask('/define backup model'))).toMatch(/^fallback model /);
  });

  test('an unknown term is still an answer, naming the known terms', async () => {
    const reply = replyOf(await ask('/define flux capacitor'));
    expect(reply).toMatch(/^No entry for flux capacitor; known terms: FAQ cache \(问答缓存\), /);
    expect(reply).toContain('trigger rules (触发规则)');
  });

  test('a very long unknown term is echoed shortened; the reply stays within protocol limits', async () => {
    const reply = replyOf(await ask(`/define ${'x'.repeat(3000)}`));
    expect(reply).toMatch(/^No entry for x{60}…; known terms: /);
  });

  test('the command alone answers with the usage', async () => {
    expect(replyOf(await ask('/define', { command: '/define', args: '' }))).toMatch(
      /^Usage: \/define <term> \(or \/释义 <term>\)\. Known terms: /,
    );
  });

  test('a command word it does not own is not a /define: the text is matched for terms instead', async () => {
    expect((await ask('/cost please', { command: '/cost', args: 'please' })).action).toBe('decline');
    expect(sectionsOf(await ask('/definition of the DLQ'))).toEqual(['DLQ']);
  });
});

describe('ground: messages that mention glossary terms', () => {
  test('one passage per term, titled as the glossary, sectioned by term, with no url', async () => {
    const response = await ask('what is a context scope?');
    expect(response).toEqual({
      version: SKILL_PROTOCOL_VERSION,
      action: 'ground',
      passages: [
        {
          title: 'GroupGate glossary',
          section: 'context scope',
          text: expect.stringMatching(/^context scope \(上下文范围\): How far a conversation's memory reaches/),
        },
      ],
    });
  });

  test('Latin terms: any case, whole words only, plurals, and space or hyphen alike', async () => {
    expect(sectionsOf(await ask('Why did my PII MASKING not apply?'))).toEqual(['PII masking']);
    expect(sectionsOf(await ask('how many DLQs are there'))).toEqual(['DLQ']);
    expect(sectionsOf(await ask('does it scale to zero at night'))).toEqual(['scale-to-zero']);
    expect(sectionsOf(await ask('the dead letter queue is filling up'))).toEqual(['DLQ']);
    expect((await ask('DLQX is a product name; so is recontextualize and webhooks2')).action).toBe('decline');
  });

  test('CJK terms are found as substrings, and Latin terms right next to CJK text', async () => {
    expect(sectionsOf(await ask('请问死信队列里的消息怎么处理？'))).toEqual(['DLQ']);
    expect(sectionsOf(await ask('FAQ cache是什么'))).toEqual(['FAQ cache']);
    expect(sectionsOf(await ask('钉钉的AI卡片为什么不更新'))).toEqual(['AI card']);
  });

  test('where names overlap the longest wins ("上下文范围" is the scope, not the context)', async () => {
    expect(sectionsOf(await ask('上下文范围怎么配置'))).toEqual(['context scope']);
    expect(sectionsOf(await ask('上下文多久过期'))).toEqual(['conversation context']);
  });

  test('a term named twice (by name and alias) gives one passage', async () => {
    expect(sectionsOf(await ask('Is the DLQ the same as a dead-letter queue? 死信队列?'))).toEqual(['DLQ']);
  });

  test(`at most ${MAX_GLOSSARY_PASSAGES} passages, in the order the terms appear`, async () => {
    const text =
      'The circuit breaker opened, the fallback model answered, the ledger row says so, and the DLQ is empty';
    expect(sectionsOf(await ask(text))).toEqual(['circuit breaker', 'fallback model', 'ledger row']);
  });
});

describe('decline', () => {
  test.each([
    ['small talk', 'hello there, how are you?'],
    ['an empty message', ''],
    ['Chinese without a glossary term', '今天天气怎么样'],
  ])('%s', async (_name, text) => {
    expect(await ask(text)).toEqual({ version: SKILL_PROTOCOL_VERSION, action: 'decline' });
  });

  test('fields v1 does not name are ignored', async () => {
    expect((await ask('hello', { futureField: true } as Partial<SkillRequest>)).action).toBe('decline');
  });
});

describe('refused requests', () => {
  test.each([
    [
      'another version',
      { ...request('x'), version: 'groupgate.skill.v2' },
      /unsupported version "groupgate\.skill\.v2"/,
    ],
    ['no version', { text: 'x' }, /unsupported version undefined/],
    ['text missing', { ...request('x'), text: undefined }, /^text: /],
    ['text not a string', { ...request('x'), text: 42 }, /^text: .*expected string/],
    ['deadlineMs not a number', { ...request('x'), deadlineMs: '3000' }, /deadlineMs: .*expected number/],
    ['a malformed origin', { ...request('x'), origin: { platform: 'slack' } }, /origin\.chatId: .*origin\.memberRef/],
    ['an array', [request('x')], /must be a JSON object/],
  ])('%s: 400 with the reason', async (_name, body, reason) => {
    const { status, json } = await post(body);
    expect(status).toBe(400);
    expect((json as { error: string }).error).toMatch(reason);
  });

  test('a body that is not JSON: 400', async () => {
    const { status, json } = await post('{"version": ', true);
    expect({ status, json }).toEqual({ status: 400, json: { error: 'the body is not valid JSON' } });
  });

  test('another path: 404, whatever the method', async () => {
    for (const method of ['POST', 'GET']) {
      const res = await fetch(new URL('/invoke', skill.url), { method, ...(method === 'POST' ? { body: '{}' } : {}) });
      expect({ method, status: res.status }).toEqual({ method, status: 404 });
      expect(((await res.json()) as { error: string }).error).toMatch(/no such path \/invoke/);
    }
  });

  test.each(['GET', 'PUT', 'DELETE'])('%s on the endpoint: 405, allowing POST', async (method) => {
    const res = await fetch(skill.url, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    await res.body?.cancel();
  });

  test('a body over 64 KiB: 413 (a body of exactly 64 KiB is read)', async () => {
    const over = JSON.stringify(request('a'.repeat(MAX_REQUEST_BYTES)));
    expect((await post(over, true)).status).toBe(413);
    const base = JSON.stringify(request(''));
    const exact = JSON.stringify(request('b'.repeat(MAX_REQUEST_BYTES - Buffer.byteLength(base))));
    expect(Buffer.byteLength(exact)).toBe(MAX_REQUEST_BYTES);
    expect((await post(exact, true)).status).toBe(200);
  });

  test('a chunked body (no Content-Length) over 64 KiB: 413 too', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(skill.url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 5; i++) req.write(Buffer.alloc(16 * 1024, 0x20));
      req.end();
    });
    expect(status).toBe(413);
  });
});

describe('through GroupGate’s own HTTP skill invoker', () => {
  const invoke = () => createHttpSkillInvoker({ urlOf: (name) => (name === 'glossary' ? skill.url : undefined) });

  test('the request GroupGate sends is understood, and the response it reads parses', async () => {
    const raw = await invoke()(request('/define trigger rules', { command: '/define', args: 'trigger rules' }), 3000);
    const parsed = parseSkillResponse(raw);
    expect(parsed.ok && parsed.response.action === 'answer' && parsed.response.reply).toMatch(/^trigger rules /);
  });

  test('a request the skill refuses (400) is a failure GroupGate classifies, not an answer', async () => {
    const bad = { ...request('x'), version: 'groupgate.skill.v0' } as unknown as SkillRequest;
    await expect(invoke()(bad, 3000)).rejects.toEqual(expect.any(SkillInvokeError));
    await expect(invoke()(bad, 3000)).rejects.toMatchObject({ reason: 'transport', message: 'HTTP 400' });
  });
});

describe('calls()', () => {
  test('records each request: the valid ones with what the skill did, the refused ones with why', async () => {
    const fresh = await startGlossarySkill();
    try {
      await fetch(fresh.url, {
        method: 'POST',
        body: JSON.stringify(request('what is the FAQ cache', { requestId: 'r-ground' })),
      });
      await fetch(fresh.url, { method: 'POST', body: 'nope' });
      await fetch(new URL('/x', fresh.url));
      expect(fresh.calls()).toEqual([
        {
          method: 'POST',
          path: '/',
          status: 200,
          action: 'ground',
          request: expect.objectContaining({ requestId: 'r-ground', text: 'what is the FAQ cache' }),
        },
        { method: 'POST', path: '/', status: 400, error: 'the body is not valid JSON' },
        { method: 'GET', path: '/x', status: 404, error: expect.stringMatching(/no such path/) },
      ]);
    } finally {
      await fresh.stop();
    }
  });
});

describe('start and stop', () => {
  test('listens on 127.0.0.1 at the port asked for, and stops listening on stop()', async () => {
    const port = await freePort();
    const fixed = await startGlossarySkill({ port });
    expect(fixed.url).toBe(`http://127.0.0.1:${port}/`);
    const res = await fetch(fixed.url, { method: 'POST', body: JSON.stringify(request('hi')) });
    expect(res.status).toBe(200);
    await res.body?.cancel();
    await fixed.stop();
    await expect(fetch(fixed.url, { method: 'POST', body: '{}' })).rejects.toThrow();
  });
});

describe('the glossary data', () => {
  const glossary = loadGlossary();

  test('20–30 entries, each with a definition that fits one passage', () => {
    expect(glossary.entries.length).toBeGreaterThanOrEqual(20);
    expect(glossary.entries.length).toBeLessThanOrEqual(30);
    for (const entry of glossary.entries) expect(entry.definition.length).toBeLessThan(MAX_PASSAGE_TEXT_CHARS - 100);
  });

  test('every term, Chinese name and alias finds its own entry, by /define and in a message', () => {
    for (const entry of glossary.entries) {
      for (const name of [entry.term, ...(entry.zh ? [entry.zh] : []), ...entry.aliases]) {
        expect({ name, found: glossary.lookup(name)?.term }).toEqual({ name, found: entry.term });
        expect({ name, mentioned: glossary.mentioned(`tell me about ${name} please`)[0]?.term }).toEqual({
          name,
          mentioned: entry.term,
        });
      }
    }
  });

  test('a name shared by two entries is refused when the glossary is built', () => {
    const entry = (term: string, aliases: string[]) => ({ term, aliases, definition: 'A definition long enough.' });
    expect(() =>
      buildGlossary({ title: 'T', entries: [entry('first term', ['shared']), entry('second term', ['Shared'])] }),
    ).toThrow(/"Shared" names both first term and second term/);
  });

  test('the data file is where the module says', () => {
    expect(GLOSSARY_FILE).toMatch(/sandbox\/skills\/glossary\.json$/);
  });
});

describe('the Lambda handler example of docs/SKILLS.md (examples/skills/glossary-lambda)', () => {
  /** Its responses, as GroupGate reads a Lambda payload: they must parse. */
  const invoke = async (req: SkillRequest): Promise<SkillResponse> => {
    const parsed = parseSkillResponse(JSON.parse(JSON.stringify(await exampleHandler(req))));
    if (!parsed.ok) throw new Error(`GroupGate would refuse this response: ${parsed.reason} ${parsed.detail}`);
    return parsed.response;
  };

  test('answers /define, from the command fields or from the text', async () => {
    expect(await invoke(request('/define on-call', { command: '/define', args: 'on-call' }))).toMatchObject({
      action: 'answer',
      reply: expect.stringMatching(/^on-call: The engineer/),
    });
    expect(await invoke(request('/define nothing'))).toMatchObject({
      action: 'answer',
      reply: 'No entry for "nothing". Known: cost centre, on-call',
    });
  });

  test('grounds a message that names a term, declines the rest', async () => {
    expect(await invoke(request('Which cost centre pays for this?'))).toEqual({
      version: SKILL_PROTOCOL_VERSION,
      action: 'ground',
      passages: [{ text: expect.any(String), title: 'Company glossary', section: 'cost centre' }],
    });
    expect((await invoke(request('hello'))).action).toBe('decline');
  });

  test('throws on a request it does not understand (GroupGate sees a function error)', async () => {
    await expect(exampleHandler({ ...request('x'), version: 'groupgate.skill.v2' })).rejects.toThrow(/not a v1/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
