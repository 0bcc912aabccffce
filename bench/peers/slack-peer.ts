import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createSlackPlatform } from '#platforms/slack/index';
import { toRawRequest } from '#shared/http';
import { SANDBOX_CREDENTIALS } from '../../sandbox/defaults';
import { requestOnlyContext } from '../../sandbox/platform-emulator/delivery-log';
import { createSlackEmulator } from '../../sandbox/platform-emulator/slack';
import type { EmulatorContext } from '../../sandbox/platform-emulator/types';
import { proxyEventOf, withHeader } from '../../test/helpers/emulated';
import { createBoltLambda } from './bolt-app';
import { outcomeOf, quietly, type SecurityCheck } from './checks';
import { createNoIoWebhook } from './groupgate-handler';
import { type Accepting, type PairOptions, timePair } from './measure';
import type { PeerComparison, PlatformPeerResult } from './types';

const BOLT_PEER = '@slack/bolt 5.1.0 AwsLambdaReceiver';

const TEXT = '你好，今天的值班是谁？🙂';

/**
 * One signed `app_mention` Events API request, as API Gateway hands it to a Lambda, timed through
 * GroupGate's adapter `parse` and its whole webhook handler (no I/O) against Bolt's `AwsLambdaReceiver` handler with
 * a listener that does nothing. All three are first checked to accept that very event.
 */
export async function runSlackPeerBench(options: PairOptions): Promise<PlatformPeerResult> {
  const ctx = emulatorContext(Date.now);
  const event = proxyEventOf(
    createSlackEmulator().buildMessageEvent({ chatId: 'C0BENCH', userId: 'U0ALICE', text: TEXT }, ctx),
  );
  const credentials = SANDBOX_CREDENTIALS.slack;
  const platform = createSlackPlatform(credentials, { fetch, now: Date.now, sleep: async () => undefined });
  const bolt = createBoltLambda(credentials);
  const webhook = await createNoIoWebhook();

  const parseAccepts = (e: APIGatewayProxyEvent): Accepting => {
    return async () => {
      const result = platform.parse(toRawRequest(e), Date.now());
      return result.kind === 'message' && result.message.mentionedBot;
    };
  };
  const boltAccepts = (e: APIGatewayProxyEvent): Accepting => {
    return async () => {
      const before = bolt.mentions();
      const res = await bolt.handler(e, {});
      return res.statusCode === 200 && bolt.mentions() === before + 1;
    };
  };

  const refusedBy = [
    (await outcomeOf(parseAccepts(event))) === 'refused' ? 'GroupGate parse' : '',
    (await outcomeOf(() => webhook.accepts(event))) === 'refused' ? 'GroupGate handler' : '',
    (await outcomeOf(boltAccepts(event))) === 'refused' ? 'Bolt' : '',
  ].filter(Boolean);
  const comparisons: PeerComparison[] = [];
  const compare = async (path: PeerComparison['path'], groupgate: string, call: Accepting): Promise<void> => {
    const base = { platform: 'slack', peer: BOLT_PEER, path, groupgate } as const;
    if (refusedBy.length > 0) {
      comparisons.push({ ...base, error: `not timed: the signed event was refused by ${refusedBy.join(', ')}` });
      return;
    }
    if (Date.now() >= options.deadline) {
      comparisons.push({ ...base, error: 'skipped: time budget spent' });
      return;
    }
    comparisons.push({ ...base, result: await timePair(call, boltAccepts(event), options) });
  };
  await compare('verify+parse', 'createSlackPlatform().parse(toRawRequest(event))', parseAccepts(event));
  await compare('handler, no I/O', 'webhook handler, in-memory store and queue', () => webhook.accepts(event));

  return { comparisons, checks: await quietly(() => slackChecks(event, webhook.accepts, boltAccepts)) };
}

async function slackChecks(
  event: APIGatewayProxyEvent,
  groupgate: (e: APIGatewayProxyEvent) => Promise<boolean>,
  bolt: (e: APIGatewayProxyEvent) => Accepting,
): Promise<SecurityCheck[]> {
  const emulator = createSlackEmulator();
  const build = (now: () => number) =>
    emulator.buildMessageEvent({ chatId: 'C0BENCH', userId: 'U0ALICE', text: TEXT }, emulatorContext(now));
  const fresh = build(Date.now);
  const signature = fresh.headers['X-Slack-Signature'] ?? '';
  const forged = proxyEventOf(
    withHeader(fresh, 'X-Slack-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`),
  );
  const stale = proxyEventOf(build(() => Date.now() - 10 * 60_000));
  // API Gateway base64-encodes bodies when the API declares binary media types (e.g. `*/*`).
  const base64: APIGatewayProxyEvent = {
    ...event,
    body: Buffer.from(event.body ?? '', 'utf8').toString('base64'),
    isBase64Encoded: true,
  };
  const cases: [string, APIGatewayProxyEvent, SecurityCheck['secure']][] = [
    ['forged signature (one hex digit changed)', forged, 'refused'],
    ['validly signed, timestamp 10 min old (replay)', stale, 'refused'],
    ['validly signed, body base64-encoded by API Gateway (non-ASCII text)', base64, 'accepted'],
  ];
  const checks: SecurityCheck[] = [];
  for (const [check, e, secure] of cases) {
    checks.push({
      platform: 'slack',
      check,
      secure,
      groupgate: await outcomeOf(() => groupgate(e)),
      peer: await outcomeOf(bolt(e)),
    });
  }
  return checks;
}

function emulatorContext(now: () => number): EmulatorContext {
  return requestOnlyContext('http://127.0.0.1:9', SANDBOX_CREDENTIALS, now);
}
