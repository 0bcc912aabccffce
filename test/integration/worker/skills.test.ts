import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ENV } from '#config/env-names';
import { parseSkillsConfig, type SkillsConfig } from '#config/skills-config';
import { DEFAULT_MESSAGES } from '#core/answer-pipeline';
import type { QueuedEvent } from '#core/queue-message';
import { SKILL_PROTOCOL_VERSION, type SkillRequest } from '#core/skills/remote-protocol';
import { logger } from '#shared/powertools';
import { type LambdaHandler, RawPayload, startLambdaInvokeStandIn } from '../../../sandbox/local-aws/lambda-invoke';
import type { LocalServer } from '../../../sandbox/local-aws/local-server';
import { type Rig, recordOf, startRig, uniqueChat } from './harness';

/**
 * Third-party skills end to end through the real worker runtime (dynalite + fauxqs, the SageMaker and platform
 * stand-ins of the rig): each remote skill is a Lambda function served by the Invoke API stand-in and called through
 * the real `@aws-sdk/client-lambda` (`LAMBDA_ENDPOINT_URL`). Asserted: what the member receives, what the model is
 * sent, the audit and ledger rows, and exactly what each function received.
 */

const V = SKILL_PROTOCOL_VERSION;
const arn = (fn: string) => `arn:aws:lambda:us-east-1:123456789012:function:${fn}`;

/** Every request a function received, in arrival order. */
const received: { readonly fn: string; readonly request: SkillRequest }[] = [];

const recorded =
  (fn: string, answer: (request: SkillRequest) => Promise<unknown>): LambdaHandler =>
  async (event) => {
    const request = event as SkillRequest;
    received.push({ fn, request });
    return answer(request);
  };

const PASSAGE = {
  text: 'Full-time staff have 25 days of paid leave a year.',
  title: 'Employee handbook',
  section: 'Leave',
  url: 'https://intranet.example.com/handbook#leave',
};

/** The functions; `missing` is deliberately not registered (ResourceNotFoundException). */
const HANDLERS: Record<string, LambdaHandler> = {
  glossary: recorded('glossary', async (r) => ({ version: V, action: 'answer', reply: `Glossary: ${r.args}` })),
  handbook: recorded('handbook', async () => ({ version: V, action: 'ground', passages: [PASSAGE] })),
  watcher: recorded('watcher', async () => ({ version: V, action: 'decline' })),
  broken: recorded('broken', async () => {
    throw new TypeError('glossary backend exploded');
  }),
  slow: recorded('slow', async () => {
    // Unref'd: the abandoned call must not hold jest open after the run.
    await new Promise((r) => setTimeout(r, 2_000).unref());
    return { version: V, action: 'answer', reply: 'too late' };
  }),
  garbage: recorded('garbage', async () => new RawPayload('{"version": "groupgate.skill.v1", "action": ')),
  leaky: recorded('leaky', async () => ({ version: V, action: 'answer', reply: 'Call HR on 13912345678.' })),
  oldversion: recorded('oldversion', async () => ({ version: 'groupgate.skill.v0', action: 'answer', reply: 'old' })),
};

let rig: Rig;
let standIn: LocalServer;

beforeAll(async () => {
  [rig, standIn] = await Promise.all([
    startRig(),
    startLambdaInvokeStandIn({ handlers: Object.fromEntries(Object.entries(HANDLERS).map(([n, h]) => [arn(n), h])) }),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([rig?.stop(), standIn?.stop()]);
});

afterEach(() => {
  rig.capture = undefined;
  jest.restoreAllMocks();
});

/** A glossary skill (`/define`) backed by function `fn`. */
const glossary = (fn = 'glossary', extra: Record<string, unknown> = {}) => ({
  name: 'glossary',
  description: 'Company terms: /define <term>',
  functionArn: arn(fn),
  commands: ['/define'],
  ...extra,
});

function skillsConfig(remote: readonly object[], groups: Record<string, string[]>): SkillsConfig {
  return parseSkillsConfig(JSON.stringify({ remote, groups }));
}

/**
 * A worker runtime (a Lambda instance) whose config has `skills`. The invoker reads `LAMBDA_ENDPOINT_URL` and the
 * credentials from process.env when it is built, so they are set for the build only and restored after.
 */
function skillWorker(skills: SkillsConfig) {
  const set: Record<string, string> = {
    [ENV.lambdaEndpointUrl]: standIn.endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  const saved = Object.fromEntries(Object.keys(set).map((k) => [k, process.env[k]]));
  Object.assign(process.env, set);
  try {
    return rig.runtime({ config: { ...rig.config, skills } });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** The queue message the webhook makes of a member's Slack message, captured instead of sent to SQS. */
async function queued(chatId: string, userId: string, text: string): Promise<QueuedEvent> {
  const captured: QueuedEvent[] = [];
  rig.capture = captured;
  try {
    await rig.say('slack', { chatId, userId, text });
  } finally {
    rig.capture = undefined;
  }
  const [event] = captured;
  if (!event) throw new Error('the webhook enqueued nothing');
  return event;
}

const requestsFrom = (chatId: string) => received.filter((r) => r.request.origin?.chatId === chatId);
const repliesIn = (chatId: string) => rig.deliveries.filter((d) => d.chatId === chatId).map((d) => d.text);
/** A Slack channel reply as delivered: it mentions the member it answers. */
const to = (user: string, text: string) => `<@${user}> ${text}`;

async function rowsOf(table: string, chatId: string) {
  const out = await rig.aws.clients.doc.send(new ScanCommand({ TableName: table }));
  return (out.Items ?? []).filter((i) => i.chatId === chatId);
}

describe('a remote skill answers', () => {
  it('/define x: the member gets the skill text, the model is not called, the function gets protocol v1', async () => {
    const chat = uniqueChat('define');
    const worker = skillWorker(skillsConfig([glossary()], { [`slack:${chat}`]: ['glossary'] }));
    const event = await queued(chat, 'alice', '/define x');
    const prompts = rig.prompts.length;

    await expect(worker(recordOf(event, `${chat}-1`))).resolves.toMatchObject({ kind: 'replied', source: 'skill' });

    expect(repliesIn(chat)).toEqual([to('alice', 'Glossary: x')]);
    expect(rig.prompts).toHaveLength(prompts);
    const calls = requestsFrom(chat);
    expect(calls.map((c) => c.fn)).toEqual(['glossary']);
    const request = calls[0]?.request;
    expect(request).toMatchObject({
      version: 'groupgate.skill.v1',
      skill: 'glossary',
      text: '/define x',
      command: '/define',
      args: 'x',
      origin: { platform: 'slack', chatId: chat },
    });
    expect(request?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(request?.deadlineMs).toBeGreaterThanOrEqual(100);
    expect(request?.deadlineMs).toBeLessThanOrEqual(3_000);
    const memberRef = request?.origin?.memberRef ?? '';
    expect(memberRef).toMatch(/^[0-9a-f]{32}$/);
    expect(memberRef).not.toBe(event.message.senderId);
    expect(memberRef).not.toContain(event.message.senderId);
    expect(JSON.stringify(request)).not.toContain(event.message.senderId);

    const [audit] = await rowsOf(rig.aws.tables.audit, chat);
    expect(audit).toMatchObject({ source: 'skill', skill: 'glossary', answer: 'Glossary: x' });
    expect(audit).not.toHaveProperty('sources');
    expect(await rowsOf(rig.aws.tables.ledger, chat)).toEqual([expect.objectContaining({ source: 'skill' })]);

    // The same member in the same group: the same reference (a skill may keep per-member state); another member: not.
    await worker(recordOf(await queued(chat, 'alice', '/define y'), `${chat}-2`));
    await worker(recordOf(await queued(chat, 'bob', '/define z'), `${chat}-3`));
    const refs = requestsFrom(chat).map((c) => c.request.origin?.memberRef);
    expect(refs).toEqual([memberRef, memberRef, expect.stringMatching(/^[0-9a-f]{32}$/)]);
    expect(refs[2]).not.toBe(memberRef);
    expect(repliesIn(chat)).toEqual([to('alice', 'Glossary: x'), to('alice', 'Glossary: y'), to('bob', 'Glossary: z')]);
  }, 30_000);
});

describe('a remote skill grounds', () => {
  it('the passage reaches the model as numbered sources, and the reply lists them', async () => {
    const chat = uniqueChat('ground');
    const handbook = { name: 'handbook', description: 'HR handbook search', functionArn: arn('handbook') };
    const worker = skillWorker(skillsConfig([handbook], { [`slack:${chat}`]: ['handbook'] }));
    const question = `How many leave days do I get? ${chat}`;
    const prompts = rig.prompts.length;

    const result = await worker(recordOf(await queued(chat, 'alice', question), `${chat}-1`));

    expect(result).toMatchObject({ kind: 'replied', source: 'model' });
    expect(requestsFrom(chat).map((c) => [c.fn, c.request.text, c.request.command])).toEqual([
      ['handbook', question, undefined],
    ]);
    expect(rig.prompts).toHaveLength(prompts + 1);
    const [system, ...rest] = rig.prompts.at(-1) ?? [];
    expect(system?.role).toBe('system');
    expect(system?.content.startsWith(rig.config.systemPrompt)).toBe(true);
    const block = /<retrieved_sources>([\s\S]*)<\/retrieved_sources>/.exec(system?.content ?? '')?.[1];
    expect(block).toBe(`\n[1] Employee handbook — Leave\n  ${PASSAGE.text}\n`);
    expect(rest.at(-1)).toEqual({ role: 'user', content: question });

    expect(repliesIn(chat)).toEqual([
      to(
        'alice',
        `answer to: ${question}\n\n${DEFAULT_MESSAGES.sourcesHeading}\n[1] Employee handbook — Leave ${PASSAGE.url}`,
      ),
    ]);
    const [audit] = await rowsOf(rig.aws.tables.audit, chat);
    expect(audit?.source).toBe('model');
    // The audit says what the answer cited and which skill supplied it (not the passage text).
    expect(audit?.sources).toEqual([
      { skill: 'handbook', title: 'Employee handbook', section: 'Leave', url: PASSAGE.url },
    ]);
    expect(audit).not.toHaveProperty('skill');
  }, 30_000);
});

describe('a failing skill loses nothing: one reply, from the model', () => {
  it.each([
    ['the function throws (X-Amz-Function-Error)', 'broken', {}, 'function_error'],
    ['the function outlives timeoutMs', 'slow', { timeoutMs: 300 }, 'timeout'],
    ['the function returns bytes that are not JSON', 'garbage', {}, 'invalid_json'],
    ['the function answers in another protocol version', 'oldversion', {}, 'version_mismatch'],
    ['the function does not exist (ResourceNotFoundException)', 'missing', {}, 'not_found'],
  ] as const)(
    '%s',
    async (_label, fn, extra, reason) => {
      const warn = jest.spyOn(logger, 'warn');
      const chat = uniqueChat(`fail-${fn}`);
      const worker = skillWorker(skillsConfig([glossary(fn, extra)], { [`slack:${chat}`]: ['glossary'] }));
      const text = `/define ${chat}`;
      const prompts = rig.prompts.length;
      const started = Date.now();

      const result = await worker(recordOf(await queued(chat, 'alice', text), `${chat}-1`));

      expect(result).toMatchObject({ kind: 'replied', source: 'model' });
      expect(repliesIn(chat)).toEqual([to('alice', `answer to: ${text}`)]);
      expect(rig.prompts).toHaveLength(prompts + 1);
      expect(rig.prompts.at(-1)?.at(-1)).toEqual({ role: 'user', content: text });
      // Registered functions were asked once (one attempt: no retry inside the member's wait).
      expect(requestsFrom(chat)).toHaveLength(fn === 'missing' ? 0 : 1);
      expect(warn).toHaveBeenCalledWith(
        'skill call failed',
        expect.objectContaining({ skill: 'glossary', action: 'failed', reason }),
      );
      if (fn === 'slow') expect(Date.now() - started).toBeLessThan(2_000);
      const [audit] = await rowsOf(rig.aws.tables.audit, chat);
      expect(audit).toMatchObject({ source: 'model', answer: `answer to: ${text}` });
    },
    30_000,
  );
});

describe('per-group enablement', () => {
  it('a group without the skill never sends it a message nor lists it in /help; the group with it does', async () => {
    const tag = uniqueChat('groups');
    const [chatA, chatB] = [`${tag}-a`, `${tag}-b`];
    const worker = skillWorker(skillsConfig([glossary()], { [`slack:${chatA}`]: ['glossary'] }));
    const listed = `• glossary — Company terms: /define <term>`;
    const before = received.length;

    await expect(worker(recordOf(await queued(chatB, 'bob', '/define x'), `${chatB}-1`))).resolves.toMatchObject({
      kind: 'replied',
      source: 'model',
    });
    await worker(recordOf(await queued(chatB, 'bob', '/help'), `${chatB}-2`));
    // Not one request reached any function (a request without `origin` would not show under chatB).
    expect(received.length).toBe(before);
    expect(requestsFrom(chatB)).toEqual([]);
    const [modelReply, helpB] = repliesIn(chatB);
    expect(modelReply).toBe(to('bob', 'answer to: /define x'));
    expect(helpB?.startsWith(to('bob', DEFAULT_MESSAGES.helpIntro))).toBe(true);
    expect(helpB).not.toContain('glossary');

    await worker(recordOf(await queued(chatA, 'alice', '/help'), `${chatA}-1`));
    const [helpA] = repliesIn(chatA);
    expect(helpA?.startsWith(to('alice', DEFAULT_MESSAGES.helpIntro))).toBe(true);
    expect(helpA).toContain(listed);
    // /help is the deployment's own command: it is not sent to the group's skill either.
    expect(requestsFrom(chatA)).toEqual([]);
  }, 30_000);
});

describe('PII', () => {
  it('the skill receives the message with the phone number masked, in text and args', async () => {
    const chat = uniqueChat('pii');
    const watcher = { name: 'watcher', description: 'Sees every message', functionArn: arn('watcher') };
    const worker = skillWorker(skillsConfig([glossary(), watcher], { [`slack:${chat}`]: ['glossary', 'watcher'] }));

    await worker(recordOf(await queued(chat, 'alice', '/define 13812345678'), `${chat}-1`));
    await worker(recordOf(await queued(chat, 'alice', `call me on 13812345678 re ${chat}`), `${chat}-2`));

    const calls = requestsFrom(chat);
    expect(calls.map((c) => c.fn)).toEqual(['glossary', 'watcher']);
    expect(JSON.stringify(calls)).not.toContain('13812345678');
    expect(calls[0]?.request).toMatchObject({ text: '/define [手机号]', command: '/define', args: '[手机号]' });
    expect(calls[1]?.request.text).toBe(`call me on [手机号] re ${chat}`);
    expect(calls[1]?.request.command).toBeUndefined();
    // The skill answered the first (its reply echoes the masked args); the watcher declined, the model answered.
    expect(repliesIn(chat)).toEqual([
      to('alice', 'Glossary: [手机号]'),
      to('alice', `answer to: call me on [手机号] re ${chat}`),
    ]);
  }, 30_000);
});

describe('PII in a skill answer', () => {
  it('a phone number the skill writes is masked in the delivered reply and the audit, like model output', async () => {
    const chat = uniqueChat('pii-out');
    const worker = skillWorker(skillsConfig([glossary('leaky')], { [`slack:${chat}`]: ['glossary'] }));

    await expect(worker(recordOf(await queued(chat, 'alice', '/define hr'), `${chat}-1`))).resolves.toMatchObject({
      kind: 'replied',
      source: 'skill',
    });

    expect(repliesIn(chat)).toEqual([to('alice', 'Call HR on [手机号].')]);
    const [audit] = await rowsOf(rig.aws.tables.audit, chat);
    expect(audit).toMatchObject({ source: 'skill', answer: 'Call HR on [手机号].', outputPiiFound: 1 });
  }, 30_000);
});

describe('exactly once', () => {
  it('a redelivered event, after the reply, neither calls the skill again nor replies twice', async () => {
    const chat = uniqueChat('redeliver');
    const skills = skillsConfig([glossary()], { [`slack:${chat}`]: ['glossary'] });
    const event = await queued(chat, 'alice', '/define once');

    await expect(skillWorker(skills)(recordOf(event, `${chat}-1`))).resolves.toMatchObject({ kind: 'replied' });
    // The second receive of the same SQS message, on another Lambda instance.
    await expect(skillWorker(skills)(recordOf(event, `${chat}-1`, 2))).resolves.toEqual({ kind: 'already_replied' });

    expect(requestsFrom(chat)).toHaveLength(1);
    expect(repliesIn(chat)).toEqual([to('alice', 'Glossary: once')]);
    expect(await rowsOf(rig.aws.tables.audit, chat)).toHaveLength(1);
    expect(await rowsOf(rig.aws.tables.ledger, chat)).toHaveLength(1);
  }, 30_000);
});
