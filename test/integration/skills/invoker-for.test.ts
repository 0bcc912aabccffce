import { ENV } from '#config/env-names';
import { parseSkillsConfig } from '#config/skills-config';
import { ConfigError } from '#core/errors';
import { SKILL_PROTOCOL_VERSION, type SkillRequest } from '#core/skills/remote-protocol';
import { SkillInvokeError } from '#core/skills/remote-skill';
import { skillInvokerFor } from '#skills/invoker-for';
import { startLambdaInvokeStandIn } from '../../../sandbox/local-aws/lambda-invoke';
import type { LocalServer } from '../../../sandbox/local-aws/local-server';
import { startTestServer, type TestServer } from '../../helpers/http-test-server';

/** `skillInvokerFor`: one invoker routing each configured skill to Lambda (the stand-in) or HTTP. */

const V = SKILL_PROTOCOL_VERSION;
const GLOSSARY_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:glossary';
const request = (skill: string): SkillRequest => ({ version: V, skill, requestId: 'r', text: 'hi', deadlineMs: 3000 });

let standIn: LocalServer;
let http: TestServer;

beforeAll(async () => {
  standIn = await startLambdaInvokeStandIn({
    handlers: { [GLOSSARY_ARN]: async () => ({ version: V, action: 'answer', reply: 'from Lambda' }) },
  });
  http = await startTestServer(() => ({
    statusCode: 200,
    body: JSON.stringify({ version: V, action: 'answer', reply: 'from HTTP' }),
  }));
});

afterAll(async () => {
  await Promise.all([standIn.stop(), http.close()]);
});

const config = () =>
  parseSkillsConfig(
    JSON.stringify({
      remote: [
        { name: 'glossary', description: 'Terms', functionArn: GLOSSARY_ARN },
        { name: 'search', description: 'Docs', url: `${http.url}/search` },
      ],
    }),
  );

const env = () => ({
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  [ENV.lambdaEndpointUrl]: standIn.endpoint,
});

describe('skillInvokerFor', () => {
  it('routes a functionArn skill to Lambda (LAMBDA_ENDPOINT_URL) and a url skill over HTTP', async () => {
    const invoke = skillInvokerFor(config(), env());
    await expect(invoke(request('glossary'), 3000)).resolves.toMatchObject({ reply: 'from Lambda' });
    await expect(invoke(request('search'), 3000)).resolves.toMatchObject({ reply: 'from HTTP' });
    expect(http.requests.at(-1)?.path).toBe('/search');
  });

  it('an unknown skill is not_found', async () => {
    const invoke = skillInvokerFor(config(), env());
    await expect(invoke(request('weather'), 3000)).rejects.toEqual(expect.any(SkillInvokeError));
    await expect(invoke(request('weather'), 3000)).rejects.toMatchObject({ reason: 'not_found' });
  });

  it('without remote skills every call is not_found', async () => {
    const invoke = skillInvokerFor(parseSkillsConfig(undefined), {});
    await expect(invoke(request('glossary'), 3000)).rejects.toMatchObject({ reason: 'not_found' });
  });

  it.each(['not a url', 'ftp://127.0.0.1:1'])('refuses LAMBDA_ENDPOINT_URL=%j at creation', (value) => {
    expect(() => skillInvokerFor(config(), { ...env(), [ENV.lambdaEndpointUrl]: value })).toThrow(ConfigError);
  });
});
