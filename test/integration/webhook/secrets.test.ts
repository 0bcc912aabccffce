import { ENV } from '#config/env-names';
import { createDefaultIngestDeps, createWebhookHandler } from '#handlers/webhook';
import { SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { type LocalAws, startLocalAws } from '../../../sandbox/local-aws/index';
import { requestOnlyContext } from '../../../sandbox/platform-emulator/delivery-log';
import { createSlackEmulator } from '../../../sandbox/platform-emulator/slack';
import { proxyEventOf } from '../../helpers/emulated';
import { startTestServer, type TestServer } from '../../helpers/http-test-server';
import { localAwsEnv } from '../../helpers/local-aws-json';

/**
 * As deployed: the platform's credentials come from its Secrets Manager secret (`SLACK_SECRET_ID`), read by the
 * webhook's hand-signed client (no SDK) on the platform's first request. A stand-in Secrets Manager answers
 * GetSecretValue; dynalite and fauxqs take the reservation and the send.
 */
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:groupgate-slack-AbCdEf';
let aws: LocalAws;
let secretsManager: TestServer;
let secretString: string;

beforeAll(async () => {
  aws = await startLocalAws({ queue: { name: 'secrets-it', visibilityTimeoutSeconds: 30, maxReceiveCount: 3 } });
  secretsManager = await startTestServer(() => ({
    statusCode: 200,
    headers: { 'content-type': 'application/x-amz-json-1.1' },
    body: JSON.stringify({ ARN: SECRET_ARN, SecretString: secretString }),
  }));
}, 30_000);

afterAll(async () => {
  await secretsManager?.close();
  await aws?.stop();
});

/** A cold start: dependencies built once, on the first request, as the Lambda handler builds them. */
const handlerWithSecret = async () => {
  const deps = createDefaultIngestDeps({
    ...localAwsEnv(aws),
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
    [ENV.slackSecretId]: SECRET_ARN,
    ENABLED_PLATFORMS: 'slack',
    QUEUE_URL: aws.queues.queueUrl,
    EVENTS_TABLE: aws.tables.events,
  });
  return createWebhookHandler(() => deps);
};
const slackEvent = () =>
  proxyEventOf(
    createSlackEmulator().buildMessageEvent(
      { chatId: 'C-secret', userId: 'alice', text: 'hi' },
      requestOnlyContext('http://127.0.0.1:9', SANDBOX_CREDENTIALS, Date.now),
    ),
  );

describe('platform credentials from Secrets Manager', () => {
  it('reads the secret once, signed, and verifies the platform’s events with it', async () => {
    secretString = JSON.stringify(SANDBOX_CREDENTIALS.slack);
    const before = secretsManager.requests.length;
    const handle = await handlerWithSecret();
    expect((await handle(slackEvent())).statusCode).toBe(200);
    expect((await handle(slackEvent())).statusCode).toBe(200);
    const reads = secretsManager.requests.slice(before);
    expect(reads).toHaveLength(1);
    expect(reads[0]?.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(reads[0]?.headers.authorization).toMatch(/\/us-east-1\/secretsmanager\/aws4_request/);
    expect(JSON.parse(reads[0]?.body.toString('utf8') ?? '')).toEqual({ SecretId: SECRET_ARN });
  });

  it('refuses events signed with another secret than the stored one', async () => {
    secretString = JSON.stringify({ ...SANDBOX_CREDENTIALS.slack, signingSecret: 'rotated-signing-secret' });
    const handle = await handlerWithSecret();
    expect((await handle(slackEvent())).statusCode).toBe(401);
  });

  it('answers 500 while the secret is unusable, and recovers once it is fixed', async () => {
    secretString = 'not json';
    const handle = await handlerWithSecret();
    const failed = await handle(slackEvent());
    expect(failed.statusCode).toBe(500);
    expect(failed.body).not.toContain('not json');
    secretString = JSON.stringify(SANDBOX_CREDENTIALS.slack);
    expect((await handle(slackEvent())).statusCode).toBe(200);
  });
});
