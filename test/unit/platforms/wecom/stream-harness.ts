import type { ChatPlatform, IncomingMessage, RawRequest } from '#platforms/types';
import { computeMsgSignature, decryptMessage } from '#platforms/wecom/biz-msg-crypt';
import { createWeComPlatform, deriveAesKey, type WeComConfig } from '#platforms/wecom/index';
import { encryptedReplyEnvelopeSchema, type StreamReply, streamReplySchema } from '#platforms/wecom/stream-protocol';
import { type StreamSnapshot, type StreamSnapshotStore, supersedes } from '#stores/stream-snapshots';
import { buildEncryptedWeComRequest, createWeComEmulator } from '../../../../sandbox/platform-emulator/wecom';
import { startTestServer, type TestServer } from '../../../helpers/http-test-server';
import { CREDENTIALS, emulatorContext, type Fault, NOW, toRaw } from '../dingtalk/helpers';

/**
 * WeCom streaming rig: the adapter with an in-memory snapshot store (the DynamoDB store's rule, `supersedes`), a
 * fake clock whose `sleep` advances it, and the emulator's `response_url` API on a real local server.
 */

export const { token, encodingAesKey } = CREDENTIALS.wecom;
export const aesKey = deriveAesKey(encodingAesKey, 'test key');
export const ON = { enabled: true, optOutChats: [] } as const;

/** The DynamoDB store's semantics in memory; every write attempt is logged with the clock it carried. */
export class MemorySnapshots implements StreamSnapshotStore {
  readonly rows = new Map<string, StreamSnapshot>();
  readonly firstPolls = new Map<string, number>();
  readonly writes: { id: string; snapshot: StreamSnapshot; stored: boolean }[] = [];
  failPuts = false;

  async get(id: string): Promise<StreamSnapshot | undefined> {
    return this.rows.get(id);
  }

  async put(id: string, snapshot: StreamSnapshot): Promise<boolean> {
    if (this.failPuts) throw new Error('DynamoDB unavailable');
    const stored = supersedes(this.rows.get(id), snapshot);
    if (stored) this.rows.set(id, snapshot);
    this.writes.push({ id, snapshot, stored });
    return stored;
  }

  async firstPolledAt(id: string, now: number): Promise<number> {
    const first = this.firstPolls.get(id) ?? now;
    this.firstPolls.set(id, first);
    return first;
  }
}

export interface StreamRig {
  readonly server: TestServer;
  readonly ctx: ReturnType<typeof emulatorContext>;
  readonly clock: { now: number };
  readonly store: MemorySnapshots;
  readonly platform: ChatPlatform;
  readonly message: IncomingMessage;
  /** The encrypted, signed refresh callback WeCom would post for `streamId`. */
  refresh(streamId: string, tamper?: (r: RawRequest) => RawRequest): RawRequest;
}

export async function startStreamRig(
  options: {
    config?: Partial<WeComConfig>;
    faults?: Fault[];
    withStore?: boolean;
    chatId?: string;
    /** `sleep` waits for the test to move the clock instead of moving it (a session paced against a script). */
    drivenClock?: boolean;
  } = {},
): Promise<StreamRig> {
  const emulator = createWeComEmulator();
  const clock = { now: NOW };
  let ctx: ReturnType<typeof emulatorContext> | undefined;
  const server = await startTestServer((req) => emulator.handleApi(req, ctx!));
  ctx = emulatorContext(server.url, { now: () => clock.now, faults: options.faults ?? [] });
  const store = new MemorySnapshots();
  const platform = createWeComPlatform(
    {
      token,
      encodingAesKey,
      replyUrls: { origins: [], insecureOrigins: [server.url] },
      streaming: ON,
      ...options.config,
    },
    {
      fetch,
      now: () => clock.now,
      sleep: async (ms) => {
        if (!options.drivenClock) {
          clock.now += ms;
          return;
        }
        const until = clock.now + ms;
        while (clock.now < until) await new Promise((resolve) => setImmediate(resolve));
      },
      ...(options.withStore === false ? {} : { streamSnapshots: store }),
    },
  );
  const event = emulator.buildMessageEvent(
    { chatId: options.chatId ?? 'wr-team', userId: 'zhangsan', text: '你好' },
    ctx,
  );
  const parsed = platform.parse(toRaw(event), clock.now);
  if (parsed.kind !== 'message') throw new Error('expected a message');
  const emulatorCtx = ctx;
  const refresh = (streamId: string, tamper: (r: RawRequest) => RawRequest = (r) => r) => {
    const payload = { msgid: `refresh-${clock.now}`, aibotid: 'aib', chattype: 'group', chatid: 'wr-team' };
    const request = createRefreshRequest({ ...payload, from: { userid: 'zhangsan' }, streamId }, emulatorCtx);
    return tamper(request);
  };
  return { server, ctx, clock, store, platform, message: parsed.message, refresh };
}

function createRefreshRequest(
  input: Record<string, unknown> & { streamId: string },
  ctx: ReturnType<typeof emulatorContext>,
): RawRequest {
  const { streamId, ...rest } = input;
  // Built the way the emulator builds every callback (signed query, `{"encrypt"}` body).
  return toRaw(buildEncryptedWeComRequest({ ...rest, msgtype: 'stream', stream: { id: streamId } }, ctx));
}

/** Opens a passive reply the adapter produced (checks the envelope's signature like WeCom). */
export function openPassiveReply(body: string): StreamReply {
  const envelope = encryptedReplyEnvelopeSchema.parse(JSON.parse(body));
  const expected = computeMsgSignature(token, String(envelope.timestamp), envelope.nonce, envelope.encrypt);
  if (expected !== envelope.msgsignature) throw new Error('passive reply signature does not verify');
  return streamReplySchema.parse(JSON.parse(decryptMessage(aesKey, envelope.encrypt, '')));
}

/** Lets queued promise callbacks (the session's pump) run. */
export async function settleMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
