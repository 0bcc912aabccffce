import { parseSkillsConfig } from '#config/skills-config';
import { commandForm } from '#core/safety/sanitise-input';
import { SKILL_PROTOCOL_VERSION, type SkillRequest } from '#core/skills/remote-protocol';
import { remoteSkill, type SkillCallReport, SkillInvokeError } from '#core/skills/remote-skill';
import { runSkills, type SkillContext } from '#core/skills/skill';
import { createLambdaSkillInvoker, type LambdaSkillInvoker } from '#skills/lambda-invoker';
import { LOCAL_CREDENTIALS } from '../../../sandbox/local-aws/clients';
import { type LambdaHandler, RawPayload, startLambdaInvokeStandIn } from '../../../sandbox/local-aws/lambda-invoke';
import type { LocalServer } from '../../../sandbox/local-aws/local-server';
import { startTestServer, type TestServer } from '../../helpers/http-test-server';

/**
 * The Lambda invoker with the real `@aws-sdk/client-lambda` over real sockets: against the Invoke stand-in for what
 * a function does (answer, throw, hang, oversize or non-JSON payloads, a missing function), and against a plain HTTP
 * server answering as Lambda's front end does for what the stand-in does not emulate (throttling, access denied).
 */

const V = SKILL_PROTOCOL_VERSION;
const ACCOUNT = '123456789012';
const arn = (name: string, region = 'eu-west-1') => `arn:aws:lambda:${region}:${ACCOUNT}:function:${name}`;

function request(skill: string, extra: Partial<SkillRequest> = {}): SkillRequest {
  return {
    version: V,
    skill,
    requestId: 'req-1',
    text: '/define ARR',
    command: '/define',
    args: 'ARR',
    origin: { platform: 'slack', chatId: 'C0123', memberRef: 'm-7f3a' },
    deadlineMs: 3000,
    ...extra,
  };
}

/** Every function the stand-in hosts, and what each received. */
const received: unknown[] = [];
const pending: (() => void)[] = [];
const handlers: Record<string, LambdaHandler> = {
  [arn('glossary')]: async (event) => {
    received.push(event);
    const args = (event as { args?: string }).args;
    return { version: V, action: 'answer', reply: `${args}: annual recurring revenue` };
  },
  broken: async () => {
    throw new TypeError('cannot read properties of undefined (reading "term") for member text');
  },
  slow: () =>
    new Promise((resolve) => {
      pending.push(() => resolve({ version: V, action: 'decline' }));
    }),
  huge: async () => ({ version: V, action: 'answer', reply: 'x'.repeat(70 * 1024) }),
  'not-json': async () => new RawPayload('<html>502 Bad Gateway</html>'),
  'not-utf8': async () => new RawPayload(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])),
  empty: async () => new RawPayload(''),
  nothing: async () => undefined,
};

/** Skill name → function the invoker calls. */
const functions: Record<string, string> = {
  glossary: arn('glossary'),
  'glossary-live': `${arn('glossary')}:live`,
  broken: arn('broken', 'us-east-1'),
  slow: 'slow',
  huge: 'huge',
  'not-json': 'not-json',
  'not-utf8': 'not-utf8',
  empty: 'empty',
  nothing: 'nothing',
  missing: arn('missing'),
};

let standIn: LocalServer;
let invoker: LambdaSkillInvoker;

beforeAll(async () => {
  standIn = await startLambdaInvokeStandIn({ handlers });
  invoker = createLambdaSkillInvoker({
    region: 'us-east-1',
    endpoint: standIn.endpoint,
    credentials: LOCAL_CREDENTIALS,
    functionArnOf: (skill) => functions[skill],
  });
});

afterAll(async () => {
  for (const release of pending.splice(0)) release();
  invoker.destroy();
  await standIn.stop();
});

async function failure(promise: Promise<unknown>): Promise<SkillInvokeError> {
  const error = await promise.then(
    (value) => new Error(`resolved with ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  if (!(error instanceof SkillInvokeError)) throw error;
  return error;
}

describe('Lambda invoker against the Invoke stand-in', () => {
  it('round-trips a request and its answer', async () => {
    received.length = 0;
    const sent = request('glossary');
    await expect(invoker(sent, 3000)).resolves.toEqual({
      version: V,
      action: 'answer',
      reply: 'ARR: annual recurring revenue',
    });
    expect(received).toEqual([sent]);
  });

  it('invokes a qualified ARN (an alias) of the function', async () => {
    await expect(invoker(request('glossary-live'), 3000)).resolves.toMatchObject({ action: 'answer' });
  });

  it('a function that throws: function_error naming the error type, not its message', async () => {
    const error = await failure(invoker(request('broken'), 3000));
    expect(error.reason).toBe('function_error');
    expect(error.message).toBe('function error (Unhandled): TypeError');
  });

  it('a function that does not exist: not_found', async () => {
    const error = await failure(invoker(request('missing'), 3000));
    expect(error.reason).toBe('not_found');
    expect(error.message).toContain(`Function not found: ${arn('missing')}`);
  });

  it('a skill with no function configured: not_found, without a call', async () => {
    expect((await failure(invoker(request('unconfigured'), 3000))).reason).toBe('not_found');
  });

  it('a function slower than the timeout: timeout, as soon as the timeout passes', async () => {
    const started = Date.now();
    const error = await failure(invoker(request('slow'), 300));
    const elapsed = Date.now() - started;
    expect(error.reason).toBe('timeout');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
  });

  it('a payload over 64 KiB: too_large', async () => {
    const error = await failure(invoker(request('huge'), 3000));
    expect(error.reason).toBe('too_large');
    expect(error.message).toMatch(/response of \d+ bytes; the limit is 65536/);
  });

  it.each([
    ['not JSON', 'not-json', 'response is not JSON'],
    ['not UTF-8', 'not-utf8', 'response is not UTF-8'],
    ['empty', 'empty', 'response is empty'],
  ])('a payload that is %s: invalid_json', async (_case, skill, message) => {
    const error = await failure(invoker(request(skill), 3000));
    expect(error.reason).toBe('invalid_json');
    expect(error.message).toContain(message);
  });

  it('a function that returns nothing: its JSON null (the protocol check refuses it later)', async () => {
    await expect(invoker(request('nothing'), 3000)).resolves.toBeNull();
  });

  it('end to end: a remote skill in the chain answers through Lambda', async () => {
    const [glossary] = parseSkillsConfig(
      JSON.stringify({
        remote: [{ name: 'glossary', description: 'Terms', functionArn: arn('glossary'), commands: ['/define'] }],
      }),
    ).remote;
    if (glossary === undefined) throw new Error('no skill');
    const reports: SkillCallReport[] = [];
    const skill = remoteSkill(glossary, {
      invoke: invoker,
      now: Date.now,
      newRequestId: () => 'req-e2e',
      report: (call) => reports.push(call),
    });
    const text = '／Define MRR';
    const ctx: SkillContext = {
      text,
      commandForm: commandForm(text),
      conversationKey: 'slack#T#C#U',
      clearContext: async () => {},
      outboundText: async () => text,
      deadline: Date.now() + 20_000,
    };
    const result = await runSkills([skill], ctx, async () => 'model answer');
    expect(result).toEqual({
      kind: 'skill',
      skill: 'glossary',
      reply: { reply: 'MRR: annual recurring revenue', source: 'skill' },
    });
    expect(reports).toEqual([{ skill: 'glossary', action: 'answer', latencyMs: expect.any(Number) }]);
  });
});

describe('Lambda invoker against service errors', () => {
  let front: TestServer;
  let lambdaFront: LambdaSkillInvoker;
  const serviceError = (statusCode: number, type: string) => ({
    statusCode,
    headers: { 'x-amzn-ErrorType': type, 'x-amzn-RequestId': 'r-1' },
    body: JSON.stringify({ Type: 'User', message: `${type} from the front end` }),
  });
  const answers: Record<string, ReturnType<typeof serviceError>> = {
    throttled: serviceError(429, 'TooManyRequestsException'),
    denied: serviceError(403, 'AccessDeniedException'),
    'bad-token': serviceError(403, 'UnrecognizedClientException'),
    'service-down': serviceError(500, 'ServiceException'),
    'cannot-start': serviceError(502, 'EC2UnexpectedException'),
  };

  beforeAll(async () => {
    front = await startTestServer((req) => {
      const name = decodeURIComponent(req.path.split('/')[3] ?? '');
      return answers[name] ?? serviceError(404, 'ResourceNotFoundException');
    });
    lambdaFront = createLambdaSkillInvoker({
      region: 'us-east-1',
      endpoint: front.url,
      credentials: LOCAL_CREDENTIALS,
      functionArnOf: (skill) => skill,
    });
  });

  afterAll(async () => {
    lambdaFront.destroy();
    await front.close();
  });

  it.each([
    ['throttled', 'throttled'],
    ['denied', 'access_denied'],
    ['bad-token', 'access_denied'],
    ['service-down', 'transport'],
    ['cannot-start', 'transport'],
  ])('%s: %s, after exactly one attempt', async (skill, reason) => {
    const before = front.requests.length;
    const error = await failure(lambdaFront(request(skill), 3000));
    expect(error.reason).toBe(reason);
    expect(front.requests.length - before).toBe(1);
    expect(front.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: `/2015-03-31/functions/${skill}/invocations`,
      headers: { 'x-amz-invocation-type': 'RequestResponse' },
    });
  });

  it('a port nobody listens on: transport', async () => {
    const closed = await startTestServer(() => ({ statusCode: 200 }));
    await closed.close();
    const nowhere = createLambdaSkillInvoker({
      region: 'us-east-1',
      endpoint: closed.url,
      credentials: LOCAL_CREDENTIALS,
      functionArnOf: (skill) => skill,
    });
    try {
      expect((await failure(nowhere(request('anything'), 3000))).reason).toBe('transport');
    } finally {
      nowhere.destroy();
    }
  });
});

describe('Lambda invoker loading', () => {
  it('loads the SDK on the first call, not when created', async () => {
    const loads: string[] = [];
    await jest.isolateModulesAsync(async () => {
      jest.doMock('@aws-sdk/client-lambda', () => {
        loads.push('client-lambda');
        return jest.requireActual('@aws-sdk/client-lambda');
      });
      const { createLambdaSkillInvoker: create } = await import('#skills/lambda-invoker');
      const lazy = create({
        region: 'us-east-1',
        endpoint: standIn.endpoint,
        credentials: LOCAL_CREDENTIALS,
        functionArnOf: (skill) => functions[skill],
      });
      expect(loads).toEqual([]);
      await expect(lazy(request('glossary'), 3000)).resolves.toMatchObject({ action: 'answer' });
      await expect(lazy(request('glossary'), 3000)).resolves.toMatchObject({ action: 'answer' });
      expect(loads).toEqual(['client-lambda']);
      lazy.destroy();
    });
  });
});

describe('the Invoke stand-in on the wire (what the SDK above relies on)', () => {
  const invoke = (name: string, body: string, headers: Record<string, string> = {}, query = '') =>
    fetch(`${standIn.endpoint}/2015-03-31/functions/${encodeURIComponent(name)}/invocations${query}`, {
      method: 'POST',
      headers,
      body,
    });

  it('answers a RequestResponse call with the result as JSON', async () => {
    const response = await invoke(arn('glossary'), JSON.stringify(request('glossary')));
    expect(response.status).toBe(200);
    expect(response.headers.get('x-amz-executed-version')).toBe('$LATEST');
    expect(response.headers.get('x-amz-function-error')).toBeNull();
    expect(await response.json()).toMatchObject({ action: 'answer' });
  });

  it('reports a thrown error as Lambda does: 200, X-Amz-Function-Error, the runtime error object', async () => {
    const response = await invoke('broken', '{}');
    expect(response.status).toBe(200);
    expect(response.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await response.json()).toMatchObject({
      errorType: 'TypeError',
      errorMessage: expect.stringContaining('cannot read properties'),
    });
  });

  it('answers an unknown function 404 ResourceNotFoundException with the full ARN', async () => {
    const response = await invoke('nope', '{}');
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(await response.json()).toEqual({
      Type: 'User',
      message: 'Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope',
    });
  });

  it('finds a function registered by ARN through its name with a Qualifier query', async () => {
    const response = await invoke(arn('glossary'), JSON.stringify(request('glossary')), {}, '?Qualifier=prod');
    expect(response.status).toBe(200);
  });

  it('refuses a body that is not JSON (400 InvalidRequestContentException)', async () => {
    const response = await invoke('nothing', '{not json');
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
  });

  it('accepts Event (202) and DryRun (204) invocations', async () => {
    expect((await invoke('nothing', '{}', { 'x-amz-invocation-type': 'Event' })).status).toBe(202);
    expect((await invoke('nothing', '{}', { 'x-amz-invocation-type': 'DryRun' })).status).toBe(204);
  });

  it('answers another operation 404 UnknownOperationException', async () => {
    const response = await fetch(`${standIn.endpoint}/2015-03-31/functions/nothing`, { method: 'GET' });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
  });
});
