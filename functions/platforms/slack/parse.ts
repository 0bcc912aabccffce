import type { $ZodError } from 'zod/v4/core';
import { MalformedEventError, SignatureError } from '#core/errors';
import { getHeader } from '#platforms/shared/headers';
import { decodeJsonObject, isRecord } from '#platforms/shared/json-body';
import { assertWithinWindow, parseEpochHeader } from '#platforms/shared/timestamp-window';
import type { IncomingMessage, ParseResult, RawRequest } from '#platforms/types';
import * as z from '#shared/zod';
import { SLACK_DEFAULT_REPLAY_WINDOW_MS, type SlackConfig } from './config';
import { slackAttachments } from './files';
import { isValidSlackSignature } from './signature';
import { mentionsSlackUser, normaliseSlackText } from './text';

const envelopeSchema = z.object({
  event_id: z.string().check(z.minLength(1)),
  team_id: z.optional(z.string().check(z.minLength(1))),
  event: z.looseObject({ type: z.string() }),
});

const messageSchema = z.object({
  user: z.string().check(z.minLength(1)),
  text: z.string(),
  ts: z.string().check(z.regex(/^\d+\.\d+$/)),
  channel: z.string().check(z.minLength(1)),
  team: z.optional(z.string().check(z.minLength(1))),
  thread_ts: z.optional(z.string()),
  channel_type: z.optional(z.string()),
});

/**
 * Verifies and parses one Slack Events API request.
 *
 * One message, one `IncomingMessage`: an app subscribed to both `app_mention` and `message.*` receives a bot
 * mention twice, with different `event_id`s. GroupGate acts on `app_mention` for mentions in channels, and on
 * `message` for DMs (`channel_type: im`, where Slack sends no `app_mention`) and for channel messages that do not
 * mention the bot (so the core can apply its prefix rule). A channel `message` that mentions the bot is ignored
 * as `duplicate_of_app_mention`. The app must therefore subscribe to `app_mention`.
 *
 * A message with files (subtype `file_share`, or the `app_mention` of one) carries them as `attachments`
 * (`files.ts`); the file's comment is the message's text.
 */
export function parseSlackRequest(config: SlackConfig, request: RawRequest, now: number): ParseResult {
  if (request.method !== 'POST') {
    throw new MalformedEventError(`Slack events are POSTed, got ${request.method}`);
  }
  verifySignature(config, request, now);
  const payload = decodeJsonObject(request.body, getHeader(request.headers, 'content-type'));

  if (payload.type === 'url_verification') {
    if (typeof payload.challenge !== 'string') {
      throw new MalformedEventError('Slack url_verification without a string `challenge`');
    }
    return {
      kind: 'handshake',
      response: {
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ challenge: payload.challenge }),
      },
    };
  }
  return parseSlackEventsBody(config, payload);
}

/**
 * Parses an Events API body (`event_callback`) that needs no verification: the webhook's, once its signature checked,
 * or Socket Mode's `events_api` envelope `payload`, which is the same body delivered on the app's authenticated
 * socket (`ChatPlatform.parseConnectionEvent`). Other body types are ignored (a URL check never comes over a socket).
 * @throws MalformedEventError when the body is not an object or an `event_callback` lacks fields.
 */
export function parseSlackEventsBody(config: SlackConfig, payload: unknown): ParseResult {
  if (!isRecord(payload)) throw new MalformedEventError('Slack event body is not a JSON object');
  if (payload.type !== 'event_callback') {
    return { kind: 'ignored', reason: `unsupported_envelope:${String(payload.type)}` };
  }
  const envelope = envelopeSchema.safeParse(payload);
  if (!envelope.success) {
    throw new MalformedEventError(`Slack event_callback is missing fields: ${issuePaths(envelope.error)}`);
  }
  return parseEvent(config, envelope.data.event_id, envelope.data.team_id, envelope.data.event);
}

function verifySignature(config: SlackConfig, request: RawRequest, now: number): void {
  const signature = getHeader(request.headers, 'x-slack-signature');
  const timestamp = getHeader(request.headers, 'x-slack-request-timestamp');
  if (signature === undefined || timestamp === undefined) {
    throw new SignatureError('Slack request without X-Slack-Signature or X-Slack-Request-Timestamp');
  }
  if (!isValidSlackSignature(signature, config.signingSecret, timestamp, request.body)) {
    throw new SignatureError('Slack X-Slack-Signature does not match the body');
  }
  assertWithinWindow(
    parseEpochHeader(timestamp, 'seconds'),
    now,
    config.replayWindowMs ?? SLACK_DEFAULT_REPLAY_WINDOW_MS,
  );
}

function parseEvent(
  config: SlackConfig,
  eventId: string,
  teamId: string | undefined,
  event: Record<string, unknown>,
): ParseResult {
  const ignored = (reason: string): ParseResult => ({ kind: 'ignored', reason, eventId });
  if (event.type !== 'app_mention' && event.type !== 'message') {
    return ignored(`unsupported_event_type:${String(event.type)}`);
  }
  // A member's message with files is subtype `file_share`; every other subtype is an edit, a join, a bot's post…
  if (event.subtype !== undefined && event.subtype !== 'file_share') {
    return ignored(`unsupported_subtype:${String(event.subtype)}`);
  }
  if (event.bot_id !== undefined || isRecord(event.bot_profile)) {
    return ignored('bot_message');
  }
  if (event.user === config.botUserId) {
    return ignored('own_message');
  }
  const parsed = messageSchema.safeParse(event);
  if (!parsed.success) {
    throw new MalformedEventError(`Slack ${event.type} event is missing fields: ${issuePaths(parsed.error)}`);
  }
  const e = parsed.data;
  const direct = e.channel_type === 'im';
  const mentioned = event.type === 'app_mention' || mentionsSlackUser(e.text, config.botUserId);
  if (event.type === 'message' && !direct && mentioned) {
    return ignored('duplicate_of_app_mention');
  }
  const tenantId = teamId ?? e.team;
  if (tenantId === undefined) {
    throw new MalformedEventError('Slack event without team_id');
  }
  const attachments = slackAttachments(event.files);
  const message: IncomingMessage = {
    platform: 'slack',
    tenantId,
    chatId: e.channel,
    chatType: direct ? 'direct' : 'group',
    threadId: e.thread_ts,
    senderId: e.user,
    eventId,
    messageId: e.ts,
    text: normaliseSlackText(e.text, config.botUserId),
    mentionedBot: mentioned,
    timestamp: slackTsToMs(e.ts),
    // Group answers go in a thread (the existing one, or one started on the question); a DM answers inline
    // unless the question was itself in a thread, as a thread in a 1:1 chat only hides the answer.
    replyHandle: {
      platform: 'slack',
      channel: e.channel,
      threadTs: direct ? e.thread_ts : (e.thread_ts ?? e.ts),
      messageTs: e.ts,
      // The member's own workspace (`event.team`), which differs from the app's in a Slack Connect channel.
      teamId: e.team ?? tenantId,
      userId: e.user,
      direct,
    },
    ...(attachments.length > 0 ? { attachments } : {}),
  };
  return { kind: 'message', message };
}

/** `"1355517523.000005"` (seconds.microseconds) → epoch ms. */
function slackTsToMs(ts: string): number {
  const [seconds = '0', fraction = '0'] = ts.split('.');
  return Number(seconds) * 1000 + Math.floor(Number(fraction.padEnd(6, '0').slice(0, 6)) / 1000);
}

function issuePaths(error: $ZodError): string {
  return error.issues.map((issue) => issue.path.join('.') || '(root)').join(', ');
}
