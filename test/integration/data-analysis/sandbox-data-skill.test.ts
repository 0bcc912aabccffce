import { request as httpRequest } from 'node:http';
import {
  parseSkillResponse,
  SKILL_PROTOCOL_VERSION,
  type SkillRequest,
  type SkillResponse,
} from '#core/skills/remote-protocol';
import { createHttpSkillInvoker } from '#skills/http-invoker';
import { LAMBDA_SYNC_PAYLOAD_BYTES, startDataSkill } from '../../../sandbox/skills/data-skill';
import type { RunningSkillServer } from '../../../sandbox/skills/skill-server';
import { readSampleSales, sumBy } from './sample-sales';

/**
 * The sandbox's data skill over real HTTP on 127.0.0.1, asked through GroupGate's own HTTP skill invoker and
 * response parser: the sample dataset `sales` by default, model-written and member-written SQL, and the HTTP
 * contract of the demo skills (404, 405, 400 with a reason, 413).
 */

const rows = readSampleSales();
let skill: RunningSkillServer;
const modelReplies: string[] = [];

beforeAll(async () => {
  skill = await startDataSkill({
    writeSql: async () => modelReplies.shift() ?? 'no more scripted replies',
  });
});

afterAll(() => skill.stop());

const request = (text: string, extra: Partial<SkillRequest> = {}): SkillRequest => ({
  version: SKILL_PROTOCOL_VERSION,
  skill: 'data',
  requestId: 'req-http',
  text,
  origin: { platform: 'slack', chatId: 'C0123', memberRef: 'member-ref' },
  deadlineMs: 10_000,
  ...extra,
});

async function ask(text: string, extra: Partial<SkillRequest> = {}): Promise<SkillResponse> {
  const invoke = createHttpSkillInvoker({ urlOf: () => skill.url });
  const parsed = parseSkillResponse(await invoke(request(text, extra), 10_000));
  if (!parsed.ok) throw new Error(`GroupGate would refuse this response: ${parsed.reason} ${parsed.detail}`);
  return parsed.response;
}

const replyOf = (response: SkillResponse): string => {
  if (response.action !== 'answer') throw new Error(`expected an answer, got ${response.action}`);
  return response.reply;
};

async function post(body: string, method = 'POST', path = '/'): Promise<{ status: number; json: unknown }> {
  const res = await fetch(new URL(path, skill.url), {
    method,
    headers: { 'content-type': 'application/json' },
    ...(method === 'GET' ? {} : { body }),
  });
  return { status: res.status, json: await res.json() };
}

describe('sandbox data skill over HTTP', () => {
  it('answers a model-written query on the sample sales data with the engine’s numbers', async () => {
    modelReplies.push(
      '```sql\nSELECT currency, sum(units) AS units FROM sales GROUP BY currency ORDER BY currency\n```',
    );
    const reply = replyOf(await ask('/data units by currency', { command: '/data', args: 'units by currency' }));
    const expected = sumBy(
      rows,
      (r) => r.currency,
      (r) => r.units,
    );
    for (const [currency, units] of expected) expect(reply).toContain(`| ${currency} | ${units} |`);
  });

  it('runs /sql without the model and declines what is not its command', async () => {
    expect(replyOf(await ask('/sql sales SELECT count(*) AS n FROM sales'))).toContain(`| ${rows.length} |`);
    expect(await ask('what were the sales in March?')).toEqual({ version: SKILL_PROTOCOL_VERSION, action: 'decline' });
  });

  it('records each call with the action it answered', () => {
    const actions = skill
      .calls()
      .filter((call) => call.status === 200)
      .map((call) => call.action);
    expect(actions).toEqual(expect.arrayContaining(['answer', 'decline']));
  });

  it.each<[string, string, string, number, RegExp]>([
    ['a GET', 'GET', '/', 405, /use POST/],
    ['another path', 'POST', '/other', 404, /no such path/],
    ['a body that is not JSON', 'POST', '/', 400, /not valid JSON/],
  ])('refuses %s', async (_, method, path, status, error) => {
    const res = await post('{oops', method, path);
    expect(res.status).toBe(status);
    expect(res.json).toEqual({ error: expect.stringMatching(error) });
  });

  it('refuses another protocol version and a request without its fields, naming them', async () => {
    const other = await post(JSON.stringify({ ...request('/data'), version: 'groupgate.skill.v2' }));
    expect(other).toEqual({
      status: 400,
      json: { error: expect.stringMatching(/unsupported version "groupgate.skill.v2"/) },
    });
    const missing = await post(JSON.stringify({ version: SKILL_PROTOCOL_VERSION, text: '/data' }));
    expect(missing.status).toBe(400);
    expect(missing.json).toEqual({ error: expect.stringMatching(/requestId/) });
  });

  it('refuses a body over Lambda’s 6 MB synchronous payload with 413 (it takes shared files)', async () => {
    const body = JSON.stringify(request(`/sql sales SELECT '${'x'.repeat(LAMBDA_SYNC_PAYLOAD_BYTES)}'`));
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(skill.url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(413);
  });

  it('takes a CSV shared with /sql in the request (over 64 KiB) and answers from it', async () => {
    const lines = Array.from({ length: 8000 }, (_, i) => `row-${i},${i % 7}`);
    const csv = `label,n\n${lines.join('\n')}\n`;
    expect(csv.length).toBeGreaterThan(64 * 1024);
    const expected = lines.reduce((sum, _, i) => sum + (i % 7), 0);
    const reply = replyOf(
      await ask('/sql SELECT sum(n) AS total FROM big', {
        files: [{ name: 'big.csv', mediaType: 'text/csv', data: Buffer.from(csv).toString('base64') }],
      }),
    );
    expect(reply).toContain(`| ${expected} |`);
    const recorded = skill.calls().at(-1)?.request?.files;
    expect(recorded).toEqual([{ name: 'big.csv', mediaType: 'text/csv', data: '' }]);
  });
});
