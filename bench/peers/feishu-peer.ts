import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createFeishuPlatform } from '#platforms/feishu/index';
import { toRawRequest } from '#shared/http';
import { SANDBOX_CREDENTIALS } from '../../sandbox/defaults';
import { requestOnlyContext } from '../../sandbox/platform-emulator/delivery-log';
import { buildSignedFeishuRequest, feishuMessageEvent, signFeishu } from '../../sandbox/platform-emulator/feishu';
import type { EmulatedRequest, EmulatorContext } from '../../sandbox/platform-emulator/types';
import { proxyEventOf, withBody, withHeader } from '../../test/helpers/emulated';
import { outcomeOf, quietly, type SecurityCheck } from './checks';
import { createNoIoWebhook } from './groupgate-handler';
import { createLarkLambda, LARK_HANDLED } from './lark-app';
import { type Accepting, type PairOptions, timePair } from './measure';
import type { PeerComparison, PlatformPeerResult } from './types';

const LARK_PEER = '@larksuiteoapi/node-sdk 1.74.0 EventDispatcher';

const TEXT = '你好，今天的值班是谁？🙂';

/**
 * One encrypted, signed `im.message.receive_v1` callback, as API Gateway hands it to a Lambda, timed through
 * GroupGate's adapter `parse` (signature, timestamp window, decrypt, token, parse) and its whole webhook handler
 * (no I/O) against the Feishu SDK's `EventDispatcher.invoke` behind the minimal Lambda wrapper it needs. All three
 * are first checked to accept that very event.
 */
export async function runFeishuPeerBench(options: PairOptions): Promise<PlatformPeerResult> {
  const request = build(emulatorContext(Date.now));
  const event = proxyEventOf(request);
  const credentials = SANDBOX_CREDENTIALS.feishu;
  const platform = createFeishuPlatform(credentials, { fetch, now: Date.now, sleep: async () => undefined });
  const lark = createLarkLambda(credentials);
  const webhook = await createNoIoWebhook();

  const parseAccepts = (e: APIGatewayProxyEvent): Accepting => {
    return async () => {
      const result = platform.parse(toRawRequest(e), Date.now());
      return result.kind === 'message' && result.message.mentionedBot;
    };
  };
  const larkAccepts = (e: APIGatewayProxyEvent): Accepting => {
    return async () => {
      const before = lark.received();
      const res = await lark.handler(e);
      return res.statusCode === 200 && res.body === JSON.stringify(LARK_HANDLED) && lark.received() === before + 1;
    };
  };

  const refusedBy = [
    (await outcomeOf(parseAccepts(event))) === 'refused' ? 'GroupGate parse' : '',
    (await outcomeOf(() => webhook.accepts(event))) === 'refused' ? 'GroupGate handler' : '',
    (await outcomeOf(larkAccepts(event))) === 'refused' ? 'Feishu SDK' : '',
  ].filter(Boolean);
  const comparisons: PeerComparison[] = [];
  const compare = async (path: PeerComparison['path'], groupgate: string, call: Accepting): Promise<void> => {
    const base = { platform: 'feishu', peer: LARK_PEER, path, groupgate } as const;
    if (refusedBy.length > 0) {
      comparisons.push({ ...base, error: `not timed: the signed event was refused by ${refusedBy.join(', ')}` });
      return;
    }
    if (Date.now() >= options.deadline) {
      comparisons.push({ ...base, error: 'skipped: time budget spent' });
      return;
    }
    comparisons.push({ ...base, result: await timePair(call, larkAccepts(event), options) });
  };
  await compare('verify+parse', 'createFeishuPlatform().parse(toRawRequest(event))', parseAccepts(event));
  await compare('handler, no I/O', 'webhook handler, in-memory store and queue', () => webhook.accepts(event));

  return { comparisons, checks: await quietly(() => feishuChecks(request, webhook.accepts, larkAccepts)) };
}

async function feishuChecks(
  request: EmulatedRequest,
  groupgate: (e: APIGatewayProxyEvent) => Promise<boolean>,
  lark: (e: APIGatewayProxyEvent) => Accepting,
): Promise<SecurityCheck[]> {
  const { encryptKey } = SANDBOX_CREDENTIALS.feishu;
  const signature = request.headers['X-Lark-Signature'] ?? '';
  const forged = withHeader(
    request,
    'X-Lark-Signature',
    `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`,
  );
  const stale = build(emulatorContext(() => Date.now() - 60 * 60_000));
  const unsigned = ['X-Lark-Signature', 'X-Lark-Request-Timestamp', 'X-Lark-Request-Nonce'].reduce(
    (r, name) => withHeader(r, name, undefined),
    request,
  );
  // Same JSON, other spacing, signed over the bytes sent: authentic, but not what JSON.stringify would produce.
  const spaced = Buffer.from(request.body.toString('utf8').replace('{"encrypt":', '{"encrypt": '), 'utf8');
  const respaced: EmulatedRequest = {
    ...withBody(request, spaced),
    headers: signFeishu(spaced, encryptKey, Math.floor(Date.now() / 1000)),
  };
  const wrongToken = build(emulatorContext(Date.now), 'not-the-verification-token');
  const cases: [string, EmulatedRequest, SecurityCheck['secure']][] = [
    ['forged signature (one hex digit changed)', forged, 'refused'],
    ['validly signed, timestamp 1 h old (replay)', stale, 'refused'],
    ['encrypted but unsigned (no X-Lark-* headers)', unsigned, 'refused'],
    ['validly signed, wrong verification token in header.token', wrongToken, 'refused'],
    ['validly signed, same JSON with a space after the colon', respaced, 'accepted'],
  ];
  const checks: SecurityCheck[] = [];
  for (const [check, r, secure] of cases) {
    const e = proxyEventOf(r);
    checks.push({
      platform: 'feishu',
      check,
      secure,
      groupgate: await outcomeOf(() => groupgate(e)),
      peer: await outcomeOf(lark(e)),
    });
  }
  return checks;
}

function build(ctx: EmulatorContext, token?: string): EmulatedRequest {
  const { event } = feishuMessageEvent({ chatId: 'oc_bench', userId: 'ou_alice', text: TEXT }, ctx);
  const payload = token === undefined ? event : { ...event, header: { ...event.header, token } };
  return buildSignedFeishuRequest(payload, ctx, { eventId: event.header.event_id });
}

function emulatorContext(now: () => number): EmulatorContext {
  return requestOnlyContext('http://127.0.0.1:9', SANDBOX_CREDENTIALS, now);
}
