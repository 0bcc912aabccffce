import { parseSkillsConfig, type RemoteSkillConfig } from '#config/skills-config';
import { commandForm } from '#core/safety/sanitise-input';
import { SKILL_PROTOCOL_VERSION, type SkillRequest } from '#core/skills/remote-protocol';
import {
  remoteSkill,
  type SkillCallReport,
  SkillInvokeError,
  type SkillInvokeFailure,
  type SkillInvoker,
} from '#core/skills/remote-skill';
import { type GroundingPassage, runSkills, type SkillContext } from '#core/skills/skill';
import { createCircuitBreaker } from '#model/circuit-breaker';

/**
 * A remote skill inside the real chain (`runSkills`), with the real config parser and command form; only the
 * transport (the invoker) and the clock are test doubles.
 */

const V = SKILL_PROTOCOL_VERSION;
const T0 = 1_700_000_000_000;

function config(skill: Record<string, unknown> = {}): RemoteSkillConfig {
  const remote = [{ name: 'glossary', description: 'Company terms', url: 'http://127.0.0.1:1/skill', ...skill }];
  const parsed = parseSkillsConfig(JSON.stringify({ remote }));
  const [first] = parsed.remote;
  if (first === undefined) throw new Error('no skill parsed');
  return first;
}

interface ContextOptions {
  /** What `outboundText()` resolves to (the masked text); the text itself when not given. */
  readonly outbound?: string | null;
  /** ms from T0. @default 25_000 */
  readonly deadlineIn?: number;
}

function context(text: string, options: ContextOptions = {}): SkillContext {
  return {
    text,
    commandForm: commandForm(text),
    conversationKey: 'slack#T#C#U',
    clearContext: async () => {},
    outboundText: async () => (options.outbound === null ? undefined : (options.outbound ?? text)),
    origin: { platform: 'slack', chatId: 'C0123', memberRef: 'm-7f3a' },
    deadline: T0 + (options.deadlineIn ?? 25_000),
  };
}

/** A remote skill over a scripted invoker, a settable clock and a report log. */
function rig(skillConfig: RemoteSkillConfig, respond: SkillInvoker) {
  const clock = { now: T0 };
  const reports: SkillCallReport[] = [];
  const requests: { request: SkillRequest; timeoutMs: number }[] = [];
  let ids = 0;
  const invoke = jest.fn<Promise<unknown>, Parameters<SkillInvoker>>(async (request, timeoutMs) => {
    requests.push({ request, timeoutMs });
    return respond(request, timeoutMs);
  });
  const skill = remoteSkill(skillConfig, {
    invoke,
    now: () => clock.now,
    newRequestId: () => `req-${++ids}`,
    report: (call) => reports.push(call),
  });
  /** Runs the chain; the terminal handler records the passages it got. */
  const run = async (ctx: SkillContext, final?: (grounding: readonly GroundingPassage[]) => Promise<string>) => {
    const finals: (readonly GroundingPassage[])[] = [];
    const result = await runSkills([skill], ctx, async (grounding) => {
      finals.push(grounding);
      return final ? final(grounding) : 'model answer';
    });
    return { result, finals };
  };
  return { skill, clock, reports, requests, invoke, run };
}

const answer = (reply: string) => async () => ({ version: V, action: 'answer', reply });

describe('remoteSkill: the three actions', () => {
  it('answer: the skill reply is the turn reply, the model is not asked', async () => {
    const r = rig(config(), async () => {
      r.clock.now += 120;
      return { version: V, action: 'answer', reply: 'ARR: annual recurring revenue' };
    });
    const { result, finals } = await r.run(context('what is ARR?', { outbound: 'what is ARR? [PHONE]' }));
    expect(result).toEqual({
      kind: 'skill',
      skill: 'glossary',
      reply: { reply: 'ARR: annual recurring revenue', source: 'skill' },
    });
    expect(finals).toEqual([]);
    expect(r.reports).toEqual([{ skill: 'glossary', action: 'answer', latencyMs: 120 }]);
    expect(r.requests).toEqual([
      {
        request: {
          version: V,
          skill: 'glossary',
          requestId: 'req-1',
          text: 'what is ARR? [PHONE]',
          origin: { platform: 'slack', chatId: 'C0123', memberRef: 'm-7f3a' },
          deadlineMs: 3000,
        },
        timeoutMs: 3000,
      },
    ]);
  });

  it('ground: the message goes on with the passages, tagged with the skill and with only https links', async () => {
    const r = rig(config(), async () => ({
      version: V,
      action: 'ground',
      passages: [
        {
          text: 'Net 30: payment due in 30 days.',
          title: 'Finance glossary',
          section: 'N',
          url: 'https://w.example/n',
        },
        { text: 'Net 60: …', title: 'Finance glossary', url: 'http://w.example/insecure' },
      ],
    }));
    const { result, finals } = await r.run(context('what does net 30 mean'));
    expect(result).toEqual({ kind: 'final', value: 'model answer' });
    expect(finals).toEqual([
      [
        {
          text: 'Net 30: payment due in 30 days.',
          title: 'Finance glossary',
          section: 'N',
          url: 'https://w.example/n',
          skill: 'glossary',
        },
        { text: 'Net 60: …', title: 'Finance glossary', skill: 'glossary' },
      ],
    ]);
    expect(r.reports).toEqual([{ skill: 'glossary', action: 'ground', latencyMs: 0, passages: 2 }]);
  });

  it('decline: the message goes on unchanged', async () => {
    const r = rig(config(), async () => ({ version: V, action: 'decline' }));
    const { result, finals } = await r.run(context('hello'));
    expect(result).toEqual({ kind: 'final', value: 'model answer' });
    expect(finals).toEqual([[]]);
    expect(r.reports).toEqual([{ skill: 'glossary', action: 'decline', latencyMs: 0 }]);
  });
});

describe('remoteSkill: failures decline and are reported', () => {
  const reasons: SkillInvokeFailure[] = [
    'timeout',
    'function_error',
    'throttled',
    'not_found',
    'access_denied',
    'transport',
    'too_large',
    'invalid_json',
  ];

  it.each(reasons)('an invoker failure %s: next() and a failed report', async (reason) => {
    const r = rig(config(), async () => {
      r.clock.now += 40;
      throw new SkillInvokeError(reason, `it went ${reason}`);
    });
    const { result, finals } = await r.run(context('what is ARR?'));
    expect(result).toEqual({ kind: 'final', value: 'model answer' });
    expect(finals).toEqual([[]]);
    expect(r.reports).toEqual([
      { skill: 'glossary', action: 'failed', reason, detail: `it went ${reason}`, latencyMs: 40 },
    ]);
  });

  it.each<[string, unknown, string]>([
    ['another protocol version', { version: 'groupgate.skill.v2', action: 'answer', reply: 'hi' }, 'version_mismatch'],
    ['no version', { action: 'answer', reply: 'hi' }, 'version_mismatch'],
    ['an unknown action', { version: V, action: 'shout' }, 'invalid_response'],
    ['an empty reply', { version: V, action: 'answer', reply: '' }, 'invalid_response'],
    ['a ground without passages', { version: V, action: 'ground', passages: [] }, 'invalid_response'],
    ['a bare string', 'ARR is…', 'invalid_response'],
    ['null', null, 'invalid_response'],
  ])('a response with %s: next() and a failed report', async (_case, response, reason) => {
    const r = rig(config(), async () => response);
    const { result, finals } = await r.run(context('what is ARR?'));
    expect(result).toEqual({ kind: 'final', value: 'model answer' });
    expect(finals).toEqual([[]]);
    expect(r.reports).toEqual([
      { skill: 'glossary', action: 'failed', reason, detail: expect.any(String), latencyMs: 0 },
    ]);
  });

  it('an invoker that breaks its contract (another error, or a synchronous throw) is an unexpected failure', async () => {
    const rejecting = rig(config(), async () => {
      throw new TypeError('cannot read properties of undefined');
    });
    expect((await rejecting.run(context('hi'))).result).toEqual({ kind: 'final', value: 'model answer' });
    expect(rejecting.reports).toEqual([
      expect.objectContaining({
        action: 'failed',
        reason: 'unexpected',
        detail: 'TypeError: cannot read properties of undefined',
      }),
    ]);

    const reports: SkillCallReport[] = [];
    const throwing = remoteSkill(config(), {
      invoke: () => {
        throw 'not even an error';
      },
      now: () => T0,
      newRequestId: () => 'r',
      report: (call) => reports.push(call),
    });
    expect(await runSkills([throwing], context('hi'), async () => 'model answer')).toEqual({
      kind: 'final',
      value: 'model answer',
    });
    expect(reports).toEqual([expect.objectContaining({ reason: 'unexpected', detail: 'not even an error' })]);
  });

  it('an invoker that ignores its timeout is abandoned shortly after it (timeout)', async () => {
    let settle: (value: unknown) => void = () => {};
    const r = rig(config({ timeoutMs: 100 }), () => new Promise((resolve) => (settle = resolve)));
    const started = Date.now();
    const { result } = await r.run(context('hi'));
    expect(result).toEqual({ kind: 'final', value: 'model answer' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r.reports).toEqual([expect.objectContaining({ action: 'failed', reason: 'timeout' })]);
    // A late answer changes nothing: no second reply, no second report.
    settle({ version: V, action: 'answer', reply: 'too late' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.reports).toHaveLength(1);
  });

  it('a report that throws costs nothing', async () => {
    const skill = remoteSkill(config(), {
      invoke: answer('ARR: annual recurring revenue'),
      now: () => T0,
      newRequestId: () => 'r',
      report: () => {
        throw new Error('metrics sink down');
      },
    });
    expect(await runSkills([skill], context('hi'), async () => 'model answer')).toMatchObject({
      kind: 'skill',
      reply: { reply: 'ARR: annual recurring revenue' },
    });
  });
});

describe('remoteSkill: matching', () => {
  it('a skill without commands or pattern is asked about every message', async () => {
    const r = rig(config(), answer('yes'));
    for (const text of ['hello', '/define ARR', '？']) await r.run(context(text));
    expect(r.invoke).toHaveBeenCalledTimes(3);
    expect(r.requests.map(({ request }) => request.command)).toEqual([undefined, undefined, undefined]);
  });

  describe('commands', () => {
    const skillConfig = config({ commands: ['/define', '#Define'] });

    it.each([
      ['/define ARR', '/define', 'ARR'],
      ['/DEFINE   ARR and MRR  ', '/define', 'ARR and MRR'],
      ['／define ARR', '/define', 'ARR'],
      ['／ｄｅｆｉｎｅ\u3000ARR', '/define', 'ARR'],
      ['/define', '/define', ''],
      ['/define\nARR', '/define', 'ARR'],
      ['＃define ARR', '#define', 'ARR'],
    ])('%j matches: command %j, args %j', async (text, command, args) => {
      const r = rig(skillConfig, answer('defined'));
      const { result } = await r.run(context(text));
      expect(result.kind).toBe('skill');
      expect(r.requests[0]?.request).toMatchObject({ command, args, text });
    });

    it.each([
      ['another command', '/definitely ARR'],
      ['the command later in the message', 'please /define ARR'],
      ['no command', 'what is ARR'],
      ['a built-in command', '/reset'],
      ['an empty message', ''],
    ])('%s does not match: no call, no report, the chain goes on', async (_case, text) => {
      const r = rig(skillConfig, answer('defined'));
      const { result, finals } = await r.run(context(text));
      expect(result).toEqual({ kind: 'final', value: 'model answer' });
      expect(finals).toEqual([[]]);
      expect(r.invoke).not.toHaveBeenCalled();
      expect(r.reports).toEqual([]);
    });

    it('args come from the outbound (masked) text, not the raw text', async () => {
      const r = rig(skillConfig, answer('defined'));
      await r.run(context('/define 13800138000', { outbound: '/define [PHONE]' }));
      expect(r.requests[0]?.request).toMatchObject({ command: '/define', args: '[PHONE]', text: '/define [PHONE]' });
      expect(JSON.stringify(r.requests)).not.toContain('13800138000');
    });
  });

  describe('pattern', () => {
    it('matches the text case-insensitively, anywhere', async () => {
      const r = rig(config({ pattern: 'invoice\\s+#?\\d+' }), answer('paid'));
      expect((await r.run(context('Is INVOICE #4711 paid?'))).result.kind).toBe('skill');
      expect((await r.run(context('invoices are due monthly'))).result.kind).toBe('final');
      expect(r.invoke).toHaveBeenCalledTimes(1);
      expect(r.requests[0]?.request.command).toBeUndefined();
      expect(r.requests[0]?.request.args).toBeUndefined();
    });

    it('is a Unicode expression', async () => {
      const r = rig(config({ pattern: '^\\p{Script=Han}+$' }), answer('汉字'));
      expect((await r.run(context('发票'))).result.kind).toBe('skill');
      expect((await r.run(context('invoice'))).result.kind).toBe('final');
    });

    it('with commands too, both must hold', async () => {
      const r = rig(config({ commands: ['/define'], pattern: '^\\S+\\s+\\S' }), answer('defined'));
      expect((await r.run(context('/define'))).result.kind).toBe('final');
      expect((await r.run(context('what /define ARR'))).result.kind).toBe('final');
      expect((await r.run(context('/define ARR'))).result.kind).toBe('skill');
      expect(r.invoke).toHaveBeenCalledTimes(1);
    });
  });
});

describe('remoteSkill: time and moderation', () => {
  it('gives the skill at most its timeout', async () => {
    const r = rig(config({ timeoutMs: 2000 }), answer('ok'));
    await r.run(context('hi', { deadlineIn: 25_000 }));
    expect(r.requests[0]).toMatchObject({ timeoutMs: 2000, request: { deadlineMs: 2000 } });
  });

  it('gives less when the turn deadline is nearer, keeping a safety second', async () => {
    const r = rig(config({ timeoutMs: 5000 }), answer('ok'));
    await r.run(context('hi', { deadlineIn: 2500 }));
    expect(r.requests[0]).toMatchObject({ timeoutMs: 1500, request: { deadlineMs: 1500 } });
  });

  it.each([1099, 1000, 0, -5000])('skips the call with %d ms to the deadline (no_time) and goes on', async (left) => {
    const r = rig(config(), answer('ok'));
    const { result, finals } = await r.run(context('hi', { deadlineIn: left }));
    expect(result).toEqual({ kind: 'final', value: 'model answer' });
    expect(finals).toEqual([[]]);
    expect(r.invoke).not.toHaveBeenCalled();
    expect(r.reports).toEqual([{ skill: 'glossary', action: 'skipped', reason: 'no_time', latencyMs: 0 }]);
  });

  it('calls with exactly the minimum budget', async () => {
    const r = rig(config(), answer('ok'));
    await r.run(context('hi', { deadlineIn: 1100 }));
    expect(r.requests[0]?.timeoutMs).toBe(100);
  });

  it('never sends a message input moderation blocked (skipped, blocked)', async () => {
    const r = rig(config(), answer('ok'));
    const { result } = await r.run(context('something blocked', { outbound: null }));
    expect(result).toEqual({ kind: 'final', value: 'model answer' });
    expect(r.invoke).not.toHaveBeenCalled();
    expect(r.reports).toEqual([{ skill: 'glossary', action: 'skipped', reason: 'blocked', latencyMs: 0 }]);
  });

  it('a failing outboundText is the pipeline failing: it propagates, the skill is not called', async () => {
    const r = rig(config(), answer('ok'));
    const ctx = { ...context('hi'), outboundText: () => Promise.reject(new Error('masking failed')) };
    await expect(r.run(ctx)).rejects.toThrow('masking failed');
    expect(r.invoke).not.toHaveBeenCalled();
  });
});

describe('remoteSkill: next()', () => {
  const outcomes: [string, SkillInvoker, number][] = [
    ['answer', answer('hi'), 0],
    ['ground', async () => ({ version: V, action: 'ground', passages: [{ text: 't', title: 'T' }] }), 1],
    ['decline', async () => ({ version: V, action: 'decline' }), 1],
    ['failure', async () => Promise.reject(new SkillInvokeError('throttled', 'slow down')), 1],
    ['invalid response', async () => ({ version: V }), 1],
  ];

  it.each(outcomes)('after %s it is called %d time(s)', async (_case, invoke, calls) => {
    const skill = remoteSkill(config(), { invoke, now: () => T0, newRequestId: () => 'r', report: () => {} });
    const next = jest.fn(async () => 'rest of chain');
    await skill.handle(context('hi'), next);
    expect(next).toHaveBeenCalledTimes(calls);
  });

  it.each(outcomes.filter(([, , calls]) => calls === 1))(
    'after %s, an error of the rest of the chain propagates unchanged and is not reported as the skill failing',
    async (_case, invoke) => {
      const reports: SkillCallReport[] = [];
      const skill = remoteSkill(config(), {
        invoke,
        now: () => T0,
        newRequestId: () => 'r',
        report: (call) => reports.push(call),
      });
      const modelDown = new SkillInvokeError('timeout', 'the model timed out');
      const next = jest.fn(async () => {
        throw modelDown;
      });
      await expect(skill.handle(context('hi'), next)).rejects.toBe(modelDown);
      expect(next).toHaveBeenCalledTimes(1);
      expect(reports).toHaveLength(1);
      expect(reports[0]?.detail).not.toBe('the model timed out');
    },
  );

  it('through runSkills, a model failure after a ground reaches the caller', async () => {
    const r = rig(config(), async () => ({ version: V, action: 'ground', passages: [{ text: 't', title: 'T' }] }));
    const failure = new Error('model endpoint 503');
    await expect(r.run(context('hi'), () => Promise.reject(failure))).rejects.toBe(failure);
    expect(r.reports).toEqual([expect.objectContaining({ action: 'ground' })]);
  });
});

describe('remoteSkill: circuit breaker', () => {
  function breakerRig(respond: SkillInvoker) {
    const clock = { now: T0 };
    const reports: SkillCallReport[] = [];
    const invoke = jest.fn<Promise<unknown>, Parameters<SkillInvoker>>(respond);
    const now = () => clock.now;
    const skill = remoteSkill(config(), {
      invoke,
      now,
      newRequestId: () => 'req',
      report: (call) => reports.push(call),
      breaker: createCircuitBreaker({ now, failureThreshold: 3, coolDownMs: 30_000 }),
    });
    const ask = () =>
      runSkills([skill], { ...context('what is a DLQ?'), deadline: clock.now + 25_000 }, async () => 'model answer');
    return { clock, reports, invoke, ask };
  }

  it('after repeated failures the skill is skipped, the model still answers, and one probe goes after the cool-down', async () => {
    let healthy = false;
    const r = breakerRig(async () => {
      if (!healthy) throw new SkillInvokeError('function_error', 'boom');
      return { version: V, action: 'decline' };
    });
    for (let i = 0; i < 3; i++) expect(await r.ask()).toEqual({ kind: 'final', value: 'model answer' });
    expect(r.invoke).toHaveBeenCalledTimes(3);

    // Open: not called, reported as skipped, and the member is still answered.
    expect(await r.ask()).toEqual({ kind: 'final', value: 'model answer' });
    expect(r.invoke).toHaveBeenCalledTimes(3);
    expect(r.reports.at(-1)).toMatchObject({ action: 'skipped', reason: 'circuit_open' });

    // After the cool-down one probe; its success (a decline is a valid answer) closes the circuit.
    r.clock.now += 30_000;
    healthy = true;
    await r.ask();
    await r.ask();
    expect(r.invoke).toHaveBeenCalledTimes(5);
  });

  it('a failed probe opens it again for another cool-down', async () => {
    const r = breakerRig(async () => {
      throw new SkillInvokeError('timeout', 'slow');
    });
    for (let i = 0; i < 3; i++) await r.ask();
    r.clock.now += 30_000;
    await r.ask();
    expect(r.invoke).toHaveBeenCalledTimes(4);
    await r.ask();
    expect(r.invoke).toHaveBeenCalledTimes(4);
  });
});

describe('remoteSkill: shared files, only for skills that accept them', () => {
  const csv = new TextEncoder().encode('region,units\nEast,3\n');
  const filesOf = (outcome: Awaited<ReturnType<NonNullable<SkillContext['files']>['fetch']>>) => {
    const fetch = jest.fn(async () => outcome);
    return { files: { count: 1, fetch }, fetch };
  };

  it('a skill configured with acceptsFiles gets each file base64, named and typed', async () => {
    const r = rig(config({ acceptsFiles: true }), answer('3 units'));
    const shared = filesOf({ ok: true, files: [{ name: 'sales.csv', mediaType: 'text/csv', bytes: csv }] });
    await r.run({ ...context('/data total units'), files: shared.files });
    expect(r.requests[0]?.request.files).toEqual([
      { name: 'sales.csv', mediaType: 'text/csv', data: Buffer.from(csv).toString('base64') },
    ]);
  });

  it('a skill that did not ask for files never gets them, and nothing is downloaded for it', async () => {
    const r = rig(config(), answer('ok'));
    const shared = filesOf({ ok: true, files: [{ name: 'sales.csv', mediaType: 'text/csv', bytes: csv }] });
    await r.run({ ...context('/data total units'), files: shared.files });
    expect(r.requests[0]?.request).not.toHaveProperty('files');
    expect(shared.fetch).not.toHaveBeenCalled();
  });

  it('a message the skill does not match downloads nothing', async () => {
    const r = rig(config({ acceptsFiles: true, commands: ['/data'] }), answer('never'));
    const shared = filesOf({ ok: true, files: [] });
    await r.run({ ...context('hello there'), files: shared.files });
    expect(shared.fetch).not.toHaveBeenCalled();
    expect(r.invoke).not.toHaveBeenCalled();
  });

  it('a file that cannot be downloaded: the member is told why, the skill is not called, the model not asked', async () => {
    const r = rig(config({ acceptsFiles: true }), answer('never'));
    const message = 'sales.csv is no longer available from the chat: share it again.';
    const shared = filesOf({ ok: false, reason: 'gone', message });
    const { result, finals } = await r.run({ ...context('/data total units'), files: shared.files });
    expect(result).toEqual({ kind: 'skill', skill: 'glossary', reply: { reply: message, source: 'command' } });
    expect(finals).toHaveLength(0);
    expect(r.invoke).not.toHaveBeenCalled();
    expect(r.reports).toEqual([
      { skill: 'glossary', action: 'skipped', reason: 'file_unavailable', detail: 'gone', latencyMs: 0 },
    ]);
  });

  it('a message input moderation blocks never downloads its files either', async () => {
    const r = rig(config({ acceptsFiles: true }), answer('never'));
    const shared = filesOf({ ok: true, files: [] });
    await r.run({ ...context('/data total units', { outbound: null }), files: shared.files });
    expect(shared.fetch).not.toHaveBeenCalled();
  });
});
