import { createHmac, randomBytes } from 'node:crypto';
import { slackMentions } from './live-mentions';
import type {
  EmulatedApiRequest,
  EmulatedApiResponse,
  EmulatedRequest,
  EmulatorContext,
  InboundMessageInput,
  PlatformEmulator,
} from './types';

/** Workspace every emulated Slack event comes from. */
export const SLACK_EMULATED_TEAM = 'T0SANDBOX';

/** The headers Slack adds: `v0=` + hex(HMAC-SHA256(signingSecret, `v0:{ts}:{raw body}`)). */
export function signSlack(rawBody: Buffer, signingSecret: string, timestampSeconds: number): Record<string, string> {
  const timestamp = String(timestampSeconds);
  const signature = createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(rawBody).digest('hex');
  return {
    'Content-Type': 'application/json',
    'X-Slack-Request-Timestamp': timestamp,
    'X-Slack-Signature': `v0=${signature}`,
  };
}

/** Builds a signed Events API request from any payload (captured fixtures, other event types, broken shapes). */
export function buildSignedSlackRequest(
  payload: object,
  ctx: Pick<EmulatorContext, 'credentials' | 'now'>,
  eventId = '',
): EmulatedRequest {
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  return {
    method: 'POST',
    path: '/webhook/slack',
    query: {},
    headers: signSlack(body, ctx.credentials.slack.signingSecret, Math.floor(ctx.now() / 1000)),
    body,
    eventId,
  };
}

function slackTs(nowMs: number, sequence: number): string {
  return `${Math.floor(nowMs / 1000)}.${String((nowMs % 1000) * 1000 + (sequence % 1000)).padStart(6, '0')}`;
}

/** Escapes Slack's control characters, as Slack does in the `text` it delivers. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * An `event_callback` envelope as Slack sends it for one member's message: `app_mention` for a channel message
 * that mentions the bot, `message` (`channel_type` `channel` or `im`) otherwise.
 */
export function slackMessagePayload(
  input: InboundMessageInput,
  ctx: Pick<EmulatorContext, 'credentials' | 'now'>,
  sequence = 0,
) {
  const { botUserId } = ctx.credentials.slack;
  const direct = input.direct === true;
  const mention = input.mentionBot !== false && !direct;
  const ts = slackTs(ctx.now(), sequence);
  const event = {
    type: mention ? 'app_mention' : 'message',
    user: input.userId,
    text: mention ? `<@${botUserId}> ${escapeSlack(input.text)}` : escapeSlack(input.text),
    ts,
    team: SLACK_EMULATED_TEAM,
    channel: input.chatId,
    event_ts: ts,
    ...(input.threadId ? { thread_ts: input.threadId } : {}),
    ...(mention ? {} : { channel_type: direct ? 'im' : 'channel' }),
  };
  return {
    token: 'emulated-verification-token',
    team_id: SLACK_EMULATED_TEAM,
    api_app_id: 'A0SANDBOX',
    event,
    type: 'event_callback',
    event_id: input.eventId ?? `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
    event_time: Math.floor(ctx.now() / 1000),
    authorizations: [{ team_id: SLACK_EMULATED_TEAM, user_id: botUserId, is_bot: true }],
    is_ext_shared_channel: false,
  };
}

/**
 * Plays Slack: pushes signed Events API requests, serves `chat.postMessage` (bearer bot token; faults as HTTP 429
 * + `Retry-After`, HTTP 500, or `token_expired`), and records what the bot posted.
 */
export function createSlackEmulator(): PlatformEmulator {
  let sequence = 0;
  const json = (statusCode: number, body: object, headers: Record<string, string> = {}): EmulatedApiResponse => ({
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  });

  const postMessage = (request: EmulatedApiRequest, ctx: EmulatorContext): EmulatedApiResponse => {
    const fault = ctx.fault?.() ?? 'none';
    if (fault === '429') {
      return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' });
    }
    if (fault === '5xx') {
      return json(500, { ok: false, error: 'internal_error' });
    }
    if (fault === 'expired-token') {
      return json(200, { ok: false, error: 'token_expired' });
    }
    const auth = Object.entries(request.headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
    if (auth !== `Bearer ${ctx.credentials.slack.botToken}`) {
      return json(200, { ok: false, error: auth ? 'invalid_auth' : 'not_authed' });
    }
    let body: { channel?: unknown; text?: unknown; thread_ts?: unknown };
    try {
      body = JSON.parse(request.body.toString('utf8')) as typeof body;
    } catch {
      return json(200, { ok: false, error: 'invalid_json' });
    }
    if (typeof body.channel !== 'string' || typeof body.text !== 'string' || body.text === '') {
      return json(200, { ok: false, error: typeof body.channel === 'string' ? 'no_text' : 'channel_not_found' });
    }
    if (body.text.length > 40_000) {
      return json(200, { ok: false, error: 'msg_too_long' });
    }
    sequence++;
    const ts = slackTs(ctx.now(), sequence);
    const threadTs = typeof body.thread_ts === 'string' ? body.thread_ts : undefined;
    ctx.record({
      platform: 'slack',
      chatId: body.channel,
      text: unescapeSlack(body.text),
      mentions: slackMentions(body.text),
      ...(threadTs ? { replyTo: threadTs, threadId: threadTs } : {}),
      messageId: ts,
    });
    return json(200, { ok: true, channel: body.channel, ts, message: { type: 'message', text: body.text, ts } });
  };

  return {
    platform: 'slack',
    buildMessageEvent(input, ctx) {
      sequence++;
      const payload = slackMessagePayload(input, ctx, sequence);
      return buildSignedSlackRequest(payload, ctx, payload.event_id);
    },
    buildHandshake(ctx) {
      const challenge = randomBytes(24).toString('base64url');
      return buildSignedSlackRequest(
        { token: 'emulated-verification-token', challenge, type: 'url_verification' },
        ctx,
        challenge,
      );
    },
    async handleApi(request, ctx) {
      if (request.method === 'POST' && request.path === '/api/chat.postMessage') {
        return postMessage(request, ctx);
      }
      return json(404, { ok: false, error: 'unknown_method' });
    },
  };
}
