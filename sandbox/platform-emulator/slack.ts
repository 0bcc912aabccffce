import { createHmac, randomBytes } from 'node:crypto';
import { $ZodError } from 'zod/v4/core';
import * as z from '#shared/zod';
import { directoryEntry } from './directory';
import { slackMentions } from './live-mentions';
import type {
  EmulatedApiRequest,
  EmulatedApiResponse,
  EmulatedDelivery,
  EmulatedFile,
  EmulatedRequest,
  EmulatorContext,
  InboundMessageInput,
  PlatformEmulator,
} from './types';
import { multipartForm, storedImage } from './uploaded-image';
import { emulatedAudioType, storedAudio } from './voice-file';

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
  files: readonly SlackFileObject[] = [],
) {
  const { botUserId } = ctx.credentials.slack;
  const direct = input.direct === true;
  const mention = input.mentionBot !== false && !direct;
  const ts = slackTs(ctx.now(), sequence);
  const shared = files.length > 0;
  const event = {
    type: mention ? 'app_mention' : 'message',
    // Slack's `message` for a member's upload is subtype `file_share`; its `app_mention` carries the same `files`.
    ...(shared && !mention ? { subtype: 'file_share', upload: true } : {}),
    ...(shared ? { files: [...files] } : {}),
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

/** A file object as an event's `files` carries it (the fields the adapter reads, and a few it does not). */
export interface SlackFileObject {
  readonly id: string;
  readonly name: string;
  readonly title: string;
  readonly mimetype: string;
  readonly filetype: string;
  readonly size: number;
  readonly mode: 'hosted';
  readonly url_private: string;
  readonly url_private_download: string;
}

/**
 * Slack's file object for a file kept at `id`, with URLs on the emulator's API origin in Slack's own path shape
 * (`/files-pri/{team}-{id}/download/{name}`), served by `handleApi` with the bot token.
 */
export function slackFileObject(apiBaseUrl: string, id: string, file: EmulatedFile): SlackFileObject {
  const base = `${apiBaseUrl}/files-pri/${SLACK_EMULATED_TEAM}-${id}`;
  const name = encodeURIComponent(file.name);
  const extension = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase() ?? 'binary';
  return {
    id,
    name: file.name,
    title: file.name,
    mimetype: extension === 'csv' ? 'text/csv' : (emulatedAudioType(file) ?? 'application/octet-stream'),
    filetype: extension,
    size: file.bytes.byteLength,
    mode: 'hosted',
    url_private: `${base}/${name}`,
    url_private_download: `${base}/download/${name}`,
  };
}

/**
 * A channel whose id starts with this refuses `chat.startStream` with `channel_type_not_supported` (a documented
 * error), so the adapter's fallback (`chat.postMessage` + `chat.update`) can be driven from the sandbox and tests.
 */
export const SLACK_NO_STREAM_CHANNEL_PREFIX = 'CNOSTREAM';

/**
 * Per-workspace, per-method limits in calls per minute (STREAMING-AND-LONG-CONNECTION.md §1.3; Slack's rate-limit
 * tiers: Tier 2 20+/min, Tier 3 50+/min, Tier 4 100+/min). Emulated at the tier floor over a sliding 60 s of
 * `ctx.now()`, never scaled. `chat.postMessage` ("special": about 1/s per channel) and `setStatus` are not limited.
 */
export const SLACK_METHOD_LIMITS_PER_MINUTE: Readonly<Record<string, number>> = {
  'chat.startStream': 20,
  'chat.stopStream': 20,
  'chat.update': 50,
  'chat.appendStream': 100,
};

/**
 * How long a streamed message accepts appends: about 5 minutes from `chat.startStream`, after which appends and
 * stops answer `message_not_in_streaming_state` (issue reports, not documented: unverified). Scaled by `clockScale`.
 */
export const SLACK_STREAM_LIFETIME_MS = 300_000;

/** `markdown_text` limit on every method that takes it; `text` limit of `postMessage`/`update`. */
const MARKDOWN_TEXT_LIMIT = 12_000;
const TEXT_LIMIT = 40_000;

const optionalString = z.optional(z.string());
const postBodySchema = z.looseObject({
  channel: optionalString,
  text: optionalString,
  markdown_text: optionalString,
  thread_ts: optionalString,
});
const startBodySchema = z.looseObject({
  channel: optionalString,
  thread_ts: optionalString,
  markdown_text: optionalString,
  recipient_user_id: optionalString,
  recipient_team_id: optionalString,
});
const streamBodySchema = z.looseObject({ channel: optionalString, ts: optionalString, markdown_text: optionalString });
const updateBodySchema = z.looseObject({
  channel: optionalString,
  ts: optionalString,
  text: optionalString,
  markdown_text: optionalString,
});
const statusBodySchema = z.looseObject({
  channel_id: optionalString,
  thread_ts: optionalString,
  status: optionalString,
});

/** Largest upload the emulated workspace takes (Slack's own limit is 1 GB; a workspace may restrict it). */
export const SLACK_UPLOAD_LIMIT_BYTES = 10 * 1024 * 1024;
const uploadUrlBodySchema = z.looseObject({
  filename: optionalString,
  length: z.optional(z.union([z.number(), z.string()])),
  alt_txt: optionalString,
});
const completeFileSchema = z.object({ id: z.string().check(z.minLength(1)), title: optionalString });
const completeBodySchema = z.looseObject({
  files: z.optional(z.union([z.string(), z.array(z.unknown())])),
  channel_id: optionalString,
  thread_ts: optionalString,
});

/** An external upload between `files.getUploadURLExternal` and `files.completeUploadExternal`. */
interface SlackUpload {
  readonly secret: string;
  readonly filename: string;
  readonly length: number;
  readonly alt: string;
  bytes?: Uint8Array;
}

function parseJsonList(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A message the bot posted, as Slack holds it. */
interface SlackMessage {
  readonly channel: string;
  text: string;
  /** Streamed messages: when the stream started and whether it still accepts appends. */
  stream?: { readonly startedAt: number; open: boolean };
}

type Answer = EmulatedApiResponse;
type MethodHandler = (body: unknown, ctx: EmulatorContext) => Answer;

/**
 * Plays Slack: pushes signed Events API requests, and serves (bearer bot token; faults as HTTP 429 + `Retry-After`,
 * HTTP 500, or `token_expired`) `chat.postMessage`, the streaming methods `chat.startStream`/`appendStream`/
 * `stopStream`, `chat.update`, `assistant.threads.setStatus` and the external file upload
 * (`files.getUploadURLExternal`, the upload URL, `files.completeUploadExternal`: a shared PNG is recorded as an image
 * message, a shared Ogg file as an audio message), recording what the bot posted and how it changed.
 */
export function createSlackEmulator(): PlatformEmulator {
  let sequence = 0;
  const messages = new Map<string, SlackMessage>();
  /** Channels that are 1:1 DMs: Slack's `D…` ids, and those this emulator sent `channel_type: im` events from. */
  const dmChannels = new Set<string>();
  const callTimes = new Map<string, number[]>();
  /** External uploads the bot started (`files.getUploadURLExternal`), by file id, until completed. */
  const uploads = new Map<string, SlackUpload>();
  /** Files members shared, by Slack file id (`F…`), served at `url_private_download`. */
  const files = new Map<string, EmulatedFile>();

  const json = (statusCode: number, body: object, headers: Record<string, string> = {}): Answer => ({
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  });
  const refuse = (error: string): Answer => json(200, { ok: false, error });
  const isDm = (channel: string) => channel.startsWith('D') || dmChannels.has(channel);
  const nextTs = (ctx: EmulatorContext) => slackTs(ctx.now(), ++sequence);

  /** A 429 with `Retry-After` once the method's per-minute budget is spent; otherwise counts the call. */
  const throttle = (method: string, ctx: EmulatorContext): Answer | undefined => {
    const limit = SLACK_METHOD_LIMITS_PER_MINUTE[method];
    if (limit === undefined) return undefined;
    const now = ctx.now();
    const recent = (callTimes.get(method) ?? []).filter((at) => at > now - 60_000);
    callTimes.set(method, recent);
    const oldest = recent[0];
    if (recent.length >= limit && oldest !== undefined) {
      const retryAfter = Math.max(1, Math.ceil((oldest + 60_000 - now) / 1000));
      return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfter) });
    }
    recent.push(now);
    return undefined;
  };

  /** The stream's message if it still accepts appends; a stream past its lifetime is closed (and shown finished). */
  const openStream = (ts: string, ctx: EmulatorContext): SlackMessage | undefined => {
    const message = messages.get(ts);
    const stream = message?.stream;
    if (!stream?.open) return undefined;
    if (ctx.now() - stream.startedAt >= SLACK_STREAM_LIFETIME_MS / ctx.clockScale) {
      stream.open = false;
      ctx.update('slack', ts, { stream: 'finished' });
      return undefined;
    }
    return message;
  };

  /** `channel_not_found` / `message_not_found` for a `(channel, ts)` that names no message of the bot. */
  const findMessage = (channel: string | undefined, ts: string | undefined): SlackMessage | Answer => {
    if (!channel) return refuse('channel_not_found');
    const message = ts ? messages.get(ts) : undefined;
    if (!message || message.channel !== channel) return refuse('message_not_found');
    return message;
  };

  const record = (
    ctx: EmulatorContext,
    delivery: Pick<EmulatedDelivery, 'chatId' | 'text' | 'messageId' | 'stream' | 'image' | 'audio'> & {
      threadTs?: string | undefined;
    },
    wire: string,
  ) => {
    const { threadTs, ...rest } = delivery;
    ctx.record({
      platform: 'slack',
      ...rest,
      mentions: slackMentions(wire),
      ...(threadTs ? { replyTo: threadTs, threadId: threadTs } : {}),
    });
  };

  const postMessage: MethodHandler = (raw, ctx) => {
    const body = postBodySchema.parse(raw);
    if (!body.channel) return refuse('channel_not_found');
    if (body.markdown_text !== undefined && body.text !== undefined) return refuse('markdown_text_conflict');
    const markdown = body.markdown_text !== undefined;
    const wire = body.markdown_text ?? body.text ?? '';
    if (wire === '') return refuse('no_text');
    if (wire.length > (markdown ? MARKDOWN_TEXT_LIMIT : TEXT_LIMIT)) return refuse('msg_too_long');
    const ts = nextTs(ctx);
    // `text` is mrkdwn, escaped by the sender; `markdown_text` is standard markdown, taken as written.
    const text = markdown ? wire : unescapeSlack(wire);
    messages.set(ts, { channel: body.channel, text });
    record(ctx, { chatId: body.channel, text, messageId: ts, threadTs: body.thread_ts }, wire);
    return json(200, { ok: true, channel: body.channel, ts, message: { type: 'message', text: wire, ts } });
  };

  // chat.startStream: `thread_ts` is required (slack-api-ref marks it so; "Streamed messages should always be replies
  // to a user request"); recipient ids are "Required when streaming to channels" (§1.3).
  const startStream: MethodHandler = (raw, ctx) => {
    const body = startBodySchema.parse(raw);
    if (!body.channel) return refuse('channel_not_found');
    if (body.channel.startsWith(SLACK_NO_STREAM_CHANNEL_PREFIX)) return refuse('channel_type_not_supported');
    if (!body.thread_ts) return refuse('invalid_arguments');
    if (!isDm(body.channel)) {
      if (!body.recipient_user_id) return refuse('missing_recipient_user_id');
      if (!body.recipient_team_id) return refuse('missing_recipient_team_id');
    }
    const text = body.markdown_text ?? '';
    if (text.length > MARKDOWN_TEXT_LIMIT) return refuse('msg_too_long');
    const limited = throttle('chat.startStream', ctx);
    if (limited) return limited;
    const ts = nextTs(ctx);
    messages.set(ts, { channel: body.channel, text, stream: { startedAt: ctx.now(), open: true } });
    record(ctx, { chatId: body.channel, text, messageId: ts, threadTs: body.thread_ts, stream: 'streaming' }, text);
    return json(200, { ok: true, channel: body.channel, ts });
  };

  // chat.appendStream: markdown_text "is what will be appended to the message received so far" (§1.3).
  const appendStream: MethodHandler = (raw, ctx) => {
    const body = streamBodySchema.parse(raw);
    const found = findMessage(body.channel, body.ts);
    if (!('channel' in found)) return found;
    if (!body.markdown_text) return refuse('no_text');
    if (body.markdown_text.length > MARKDOWN_TEXT_LIMIT) return refuse('msg_too_long');
    const limited = throttle('chat.appendStream', ctx);
    if (limited) return limited;
    const ts = body.ts ?? '';
    const message = openStream(ts, ctx);
    if (!message) return refuse('message_not_in_streaming_state');
    message.text += body.markdown_text;
    ctx.update('slack', ts, { text: message.text });
    return json(200, { ok: true, channel: message.channel, ts });
  };

  const stopStream: MethodHandler = (raw, ctx) => {
    const body = streamBodySchema.parse(raw);
    const found = findMessage(body.channel, body.ts);
    if (!('channel' in found)) return found;
    if ((body.markdown_text ?? '').length > MARKDOWN_TEXT_LIMIT) return refuse('msg_too_long');
    const limited = throttle('chat.stopStream', ctx);
    if (limited) return limited;
    const ts = body.ts ?? '';
    const message = openStream(ts, ctx);
    if (!message?.stream) return refuse('message_not_in_streaming_state');
    message.stream.open = false;
    message.text += body.markdown_text ?? '';
    ctx.update('slack', ts, { text: message.text, stream: 'finished' });
    return json(200, { ok: true, channel: message.channel, ts, message: { type: 'message', text: message.text, ts } });
  };

  // chat.update: Tier 3; a message still streaming answers `streaming_state_conflict` (documented error). A stopped
  // stream message is editable here; whether Slack allows that is unverified (STREAMING-AND-LONG-CONNECTION.md §2).
  const update: MethodHandler = (raw, ctx) => {
    const body = updateBodySchema.parse(raw);
    const found = findMessage(body.channel, body.ts);
    if (!('channel' in found)) return found;
    if (body.markdown_text !== undefined && body.text !== undefined) return refuse('markdown_text_conflict');
    const markdown = body.markdown_text !== undefined;
    const wire = body.markdown_text ?? body.text ?? '';
    if (wire === '') return refuse('no_text');
    if (wire.length > (markdown ? MARKDOWN_TEXT_LIMIT : TEXT_LIMIT)) return refuse('msg_too_long');
    const ts = body.ts ?? '';
    if (openStream(ts, ctx)) return refuse('streaming_state_conflict');
    const limited = throttle('chat.update', ctx);
    if (limited) return limited;
    found.text = markdown ? wire : unescapeSlack(wire);
    ctx.update('slack', ts, { text: found.text });
    return json(200, { ok: true, channel: found.channel, ts, text: wire });
  };

  // assistant.threads.setStatus: cosmetic "is thinking…" under the thread; nothing is recorded.
  const setStatus: MethodHandler = (raw) => {
    const body = statusBodySchema.parse(raw);
    if (!body.channel_id) return refuse('channel_not_found');
    if (!body.thread_ts || body.status === undefined) return refuse('invalid_arguments');
    return json(200, { ok: true });
  };

  // files.getUploadURLExternal: `filename` and `length` required (`length` 0 or absent is `missing_argument`, as
  // documented), `alt_txt` at most 1,000 characters (`alt_txt_too_large`). Answers a one-time upload URL on this
  // emulator (Slack's is on files.slack.com) and the file id.
  const getUploadUrl: MethodHandler = (raw, ctx) => {
    const body = uploadUrlBodySchema.parse(raw);
    const length = Number(body.length);
    if (!body.filename || !Number.isInteger(length) || length <= 0) return refuse('missing_argument');
    if ((body.alt_txt ?? '').length > 1000) return refuse('alt_txt_too_large');
    if (length > SLACK_UPLOAD_LIMIT_BYTES) return refuse('file_upload_size_restricted');
    const id = `F${randomBytes(5).toString('hex').toUpperCase()}`;
    const secret = randomBytes(12).toString('hex');
    uploads.set(id, { secret, filename: body.filename, length, alt: body.alt_txt ?? '' });
    return json(200, { ok: true, upload_url: `${ctx.apiBaseUrl}/upload/v1/${secret}`, file_id: id });
  };

  // files.completeUploadExternal: `files` ([{id, title?}], a JSON string in a form body) required; a file that was
  // never uploaded, or is already completed, is refused (`file_not_found`, the documented error name: unverified
  // for this case). With `channel_id` the file is shared as its own message (in `thread_ts`'s thread); without, it
  // stays private and nothing is shown.
  const completeUpload: MethodHandler = (raw, ctx) => {
    const body = completeBodySchema.parse(raw);
    const list = typeof body.files === 'string' ? parseJsonList(body.files) : body.files;
    const parsed = z.array(completeFileSchema).check(z.minLength(1)).safeParse(list);
    if (!parsed.success) return refuse('invalid_arguments');
    const done = parsed.data.map((file) => ({ file, upload: uploads.get(file.id) }));
    if (done.some(({ upload }) => upload?.bytes === undefined)) return refuse('file_not_found');
    for (const { file, upload } of done) {
      if (!upload?.bytes) continue;
      uploads.delete(file.id);
      if (!body.channel_id) continue;
      const title = file.title ?? upload.filename;
      const image = storedImage(upload.bytes, upload.alt || title);
      // An Ogg file is shown as an audio file the page plays (a spoken answer).
      const audio = image ? undefined : storedAudio(upload.bytes);
      record(
        ctx,
        {
          chatId: body.channel_id,
          text: title,
          messageId: file.id,
          threadTs: body.thread_ts,
          ...(image ? { image } : {}),
          ...(audio ? { audio } : {}),
        },
        '',
      );
    }
    return json(200, { ok: true, files: parsed.data.map((file) => ({ id: file.id, title: file.title ?? '' })) });
  };

  /** The upload URL: the bytes (raw, or a multipart form's file) of exactly the announced length; 200 `OK - n`. */
  const receiveUpload = async (secret: string, request: EmulatedApiRequest, ctx: EmulatorContext): Promise<Answer> => {
    const fault = ctx.fault?.() ?? 'none';
    if (fault === '429') return { statusCode: 429, headers: { 'retry-after': '1' }, body: '' };
    if (fault === '5xx') return { statusCode: 500, headers: {}, body: '' };
    const entry = [...uploads.entries()].find(([, upload]) => upload.secret === secret);
    if (!entry) return { statusCode: 404, headers: { 'content-type': 'text/plain' }, body: 'not found' };
    const form = await multipartForm(request);
    const file = form ? [...form.values()].find((value) => typeof value !== 'string') : undefined;
    const bytes =
      file && typeof file !== 'string' ? new Uint8Array(await file.arrayBuffer()) : new Uint8Array(request.body);
    // Slack's answer to a size that differs from `length` is not documented [unverified]: refused here.
    if (bytes.byteLength !== entry[1].length) {
      return { statusCode: 400, headers: { 'content-type': 'text/plain' }, body: 'length mismatch' };
    }
    entry[1].bytes = bytes;
    return { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: `OK - ${bytes.byteLength}` };
  };

  /** `users.info`: the member's profile title from the emulated directory (any user id is a member). */
  const usersInfo: MethodHandler = (body) => {
    const user = (body as { user?: unknown }).user;
    if (typeof user !== 'string' || user.length === 0) return refuse('user_not_found');
    return json(200, { ok: true, user: { id: user, profile: { title: directoryEntry('slack', user).title ?? '' } } });
  };

  const methods: Readonly<Record<string, MethodHandler>> = {
    'users.info': usersInfo,
    'files.getUploadURLExternal': getUploadUrl,
    'files.completeUploadExternal': completeUpload,
    'chat.postMessage': postMessage,
    'chat.startStream': startStream,
    'chat.appendStream': appendStream,
    'chat.stopStream': stopStream,
    'chat.update': update,
    'assistant.threads.setStatus': setStatus,
  };

  const serve = (handler: MethodHandler, request: EmulatedApiRequest, ctx: EmulatorContext): Answer => {
    const fault = ctx.fault?.() ?? 'none';
    if (fault === '429') return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': '1' });
    if (fault === '5xx') return json(500, { ok: false, error: 'internal_error' });
    if (fault === 'expired-token') return refuse('token_expired');
    const auth = Object.entries(request.headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
    if (auth !== `Bearer ${ctx.credentials.slack.botToken}`) return refuse(auth ? 'invalid_auth' : 'not_authed');
    let body: unknown;
    const type = Object.entries(request.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
    try {
      // Slack takes every method's arguments as a form too (the SDKs send forms); values are strings there.
      body = /^application\/x-www-form-urlencoded/i.test(type)
        ? Object.fromEntries(new URLSearchParams(request.body.toString('utf8')))
        : JSON.parse(request.body.toString('utf8'));
    } catch {
      return refuse('invalid_json');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return refuse('invalid_json');
    try {
      return handler(body, ctx);
    } catch (err) {
      // A field of the wrong type (zod): Slack's answer to malformed arguments.
      if (err instanceof $ZodError) return refuse('invalid_arguments');
      throw err;
    }
  };

  /**
   * `url_private_download`: the bytes for the bot token only. Without it (or with another token) Slack answers a
   * redirect to its sign-in page rather than an error, which the adapter must read as "not allowed"; an unknown file
   * (deleted) is 404.
   */
  const serveFile = (id: string, request: EmulatedApiRequest, ctx: EmulatorContext): Answer => {
    const auth = Object.entries(request.headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
    if (auth !== `Bearer ${ctx.credentials.slack.botToken}`) {
      return { statusCode: 302, headers: { location: 'https://slack.com/signin' }, body: '' };
    }
    const file = files.get(id);
    if (!file) return { statusCode: 404, headers: { 'content-type': 'text/plain' }, body: 'file_not_found' };
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(file.bytes.byteLength) },
      body: '',
      bytes: file.bytes,
    };
  };

  return {
    platform: 'slack',
    buildMessageEvent(input, ctx) {
      sequence++;
      if (input.direct === true) dmChannels.add(input.chatId);
      const shared = (input.files ?? []).map((file) => {
        const id = `F${randomBytes(5).toString('hex').toUpperCase()}`;
        files.set(id, file);
        return slackFileObject(ctx.apiBaseUrl, id, file);
      });
      const payload = slackMessagePayload(input, ctx, sequence, shared);
      return { ...buildSignedSlackRequest(payload, ctx, payload.event_id), messageId: payload.event.ts };
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
      const download = /^\/files-pri\/[A-Z0-9]+-(F[A-Z0-9]+)\/download\/[^/]+$/.exec(request.path);
      if (request.method === 'GET' && download) return serveFile(download[1] ?? '', request, ctx);
      const upload = /^\/upload\/v1\/([0-9a-f]+)$/.exec(request.path);
      if (request.method === 'POST' && upload) return receiveUpload(upload[1] ?? '', request, ctx);
      const method = request.method === 'POST' ? /^\/api\/([\w.]+)$/.exec(request.path)?.[1] : undefined;
      const handler = method === undefined ? undefined : methods[method];
      return handler ? serve(handler, request, ctx) : json(404, { ok: false, error: 'unknown_method' });
    },
  };
}
