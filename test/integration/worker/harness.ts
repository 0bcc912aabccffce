import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createVoiceEngines } from '#composition/voice-engines';
import { createWorkerRuntime, type WorkerRuntimeDeps } from '#composition/worker-runtime';
import { loadWorkerConfig, type WorkerConfig } from '#config/worker-config';
import type { IngestDeps } from '#core/ingest';
import { eventKey } from '#core/key-part';
import type { QueuedEvent } from '#core/queue-message';
import { createDefaultIngestDeps, createWebhookHandler } from '#handlers/webhook';
import { createWorkerHandler } from '#handlers/worker';
import { EVENT_STREAM_CONTENT_TYPE, encodePayloadPart } from '#local-model/event-stream';
import { createSageMakerClient } from '#model/sagemaker-client';
import { createEnabledPlatforms, createPlatformResolver } from '#platforms/registry';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import { logger } from '#shared/powertools';
import { DynamoStreamSnapshots } from '#stores/stream-snapshots';
import { lambdaContext } from '../../../sandbox/api-gateway';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { createQueues, type LocalAws, startLocalAws } from '../../../sandbox/local-aws/index';
import { noWebhook, patchDelivery } from '../../../sandbox/platform-emulator/delivery-log';
import { createDingTalkEmulator } from '../../../sandbox/platform-emulator/dingtalk';
import { createFeishuEmulator } from '../../../sandbox/platform-emulator/feishu';
import { createSlackEmulator } from '../../../sandbox/platform-emulator/slack';
import type {
  EmulatedDelivery,
  EmulatedRequest,
  EmulatorContext,
  InboundMessageInput,
  PlatformEmulator,
} from '../../../sandbox/platform-emulator/types';
import { createWeComEmulator } from '../../../sandbox/platform-emulator/wecom';
import { proxyEventOf } from '../../helpers/emulated';
import { sqsRecordOf } from '../../helpers/factories';
import {
  type RecordedRequest,
  startTestServer,
  type TestResponse,
  type TestServer,
} from '../../helpers/http-test-server';
import { localAwsEnv } from '../../helpers/local-aws-json';

/**
 * The worker's integration rig: the real webhook and worker handlers over dynalite + fauxqs (with the poller that
 * plays Lambda's event-source mapping), a local server speaking the SageMaker chat-completions contract that
 * records every prompt, and the platform emulators' send APIs on a local HTTP server recording every delivery.
 */
export type ChatMessage = { readonly role: 'system' | 'user' | 'assistant'; readonly content: string };

/** What the model server does with one request; `answer` is called with the prompt it received. */
export type ModelBehaviour = (messages: readonly ChatMessage[]) => TestResponse | Promise<TestResponse>;

export const ENDPOINT = 'groupgate-it';

/**
 * With `RigOptions.voice`: the chat (on every platform; WeCom has no spoken answers) whose answers are also spoken.
 */
export const SPOKEN_CHAT = 'voice-spoken';

export function completion(content: string): TestResponse {
  return {
    statusCode: 200,
    body: JSON.stringify({
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28 },
    }),
  };
}

/** Default model: echoes the last user message, so each reply names its question. */
export const echoModel: ModelBehaviour = (messages) => completion(`answer to: ${messages.at(-1)?.content ?? ''}`);

export type Step = Parameters<NonNullable<WorkerRuntimeDeps['checkpoint']>>[0];

export interface Rig {
  readonly aws: LocalAws;
  readonly config: WorkerConfig;
  /** Every prompt the model server received, in arrival order. */
  readonly prompts: ChatMessage[][];
  /** Every reply the platforms' send APIs accepted. */
  readonly deliveries: EmulatedDelivery[];
  /** Worker clock = real time + offset, so leases and deadlines still run while tests jump ahead. */
  clockOffsetMs: number;
  model: ModelBehaviour;
  /** Crash injection for the worker the poller drives; `undefined` = no crash. */
  checkpoint: ((step: Step, event: QueuedEvent) => void) | undefined;
  /** ms the worker believes its invocation has left; the model deadline is this minus a 5 s margin. */
  remainingMs: number;
  /** When set, the webhook hands queue messages here instead of to SQS (to process them by hand). */
  capture: QueuedEvent[] | undefined;
  /** The WeCom relay queue (`RigOptions.wecomRelay`). */
  readonly wecomRelayQueueUrl?: string;
  /** The webhook's ingest dependencies (the long-connection connector admits events through them too). */
  readonly ingest: IngestDeps;
  /** Base URL of the platforms' emulated APIs (`<platformUrl>/_emulator/<platform>`), an allowed reply origin. */
  readonly platformUrl: string;
  now(): number;
  /** Delivers a member's message through the emulator and the real webhook; returns the platform event id. */
  say(platform: PlatformName, input: InboundMessageInput): Promise<string>;
  /**
   * Builds a member's message as `say` does (so the emulator knows it, and replies to it are accepted) without
   * delivering it: the webhook request, for tests that deliver its body another way (a long connection).
   */
  messageEvent(platform: PlatformName, input: InboundMessageInput): EmulatedRequest;
  /** Builds a separate worker runtime over the same stores (a second Lambda instance). */
  runtime(overrides?: Partial<WorkerRuntimeDeps>): ReturnType<typeof createWorkerRuntime>;
  /** The worker Lambda handler the poller calls, for direct batch tests. */
  handle(event: SQSEvent): Promise<SQSBatchResponse>;
  waitFor(count: number, filter: (d: EmulatedDelivery) => boolean, timeoutMs?: number): Promise<EmulatedDelivery[]>;
  /**
   * Waits until the event's `replied` status (written with its turn, after the send) is stored: a delivery alone does
   * not mean the turn is saved yet.
   */
  waitForReplied(platform: PlatformName, eventId: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const EMULATORS: Record<PlatformName, PlatformEmulator> = {
  feishu: createFeishuEmulator(),
  slack: createSlackEmulator(),
  dingtalk: createDingTalkEmulator(),
  wecom: createWeComEmulator(),
};

export interface RigOptions {
  readonly maxReceiveCount?: number;
  readonly lexicon?: string;
  /**
   * Stream replies (`STREAMING=true`): the worker calls the model's response-stream route, which plays each
   * `ModelBehaviour` answer as streamed chunks. Off by default, so the one-shot tests keep their call pattern.
   */
  readonly streaming?: boolean;
  /**
   * WeCom long-connection mode: a relay FIFO queue is created and the worker's WeCom adapter writes replies to
   * messages that came over the socket there (`WECOM_RELAY_QUEUE_URL`), for a connector to send.
   */
  readonly wecomRelay?: boolean;
  /**
   * Voice messages are transcribed by the sandbox's engine (`VOICE_ASR=local`: pocketsphinx, English, at most 10 s),
   * and answers in `SPOKEN_CHAT` are also spoken (`VOICE_TTS=local`: espeak-ng); off by default, when voice messages
   * are answered with the "cannot listen yet" note.
   */
  readonly voice?: boolean;
}

/**
 * The response-stream route's answer for a behaviour's response: a 200 completion becomes JSON-lines chunks of a few
 * words each in AWS event-stream frames (usage last); anything else is answered as it is (an error status).
 */
const STREAM_CHUNK_DELAY_MS = 15;

function asStream(response: TestResponse): TestResponse {
  if (response.statusCode !== 200 || typeof response.body !== 'string') return response;
  const parsed = JSON.parse(response.body) as {
    choices: { message: { content: string }; finish_reason: string }[];
    usage: unknown;
  };
  const content = parsed.choices[0]?.message.content ?? '';
  const pieces = content.match(/\S+\s*|\s+/g) ?? [];
  const line = (value: object) => `${JSON.stringify(value)}\n`;
  const lines = [
    ...pieces.map((piece) => line({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })),
    line({ choices: [{ index: 0, delta: {}, finish_reason: parsed.choices[0]?.finish_reason ?? 'stop' }] }),
    line({ choices: [], usage: parsed.usage }),
  ];
  return {
    statusCode: 200,
    headers: { 'content-type': EVENT_STREAM_CONTENT_TYPE },
    parts: lines.map((l) => encodePayloadPart(new TextEncoder().encode(l))),
    // A few ms a chunk, as a model writes: updates reach the platform while the answer is still coming.
    partDelayMs: STREAM_CHUNK_DELAY_MS,
  };
}

function stringHeaders(headers: Readonly<Record<string, unknown>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, String(v)]));
}

export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const webhookRef: { handler?: ReturnType<typeof createWebhookHandler> } = {};
  // The worker's expected warnings (injected crashes, redeliveries) would drown the test output.
  logger.setLogLevel('ERROR');
  const prompts: ChatMessage[][] = [];
  const deliveries: EmulatedDelivery[] = [];
  let modelServer: TestServer | undefined;
  let platformServer: TestServer | undefined;
  let aws: LocalAws | undefined;
  const rig = {
    prompts,
    deliveries,
    clockOffsetMs: 0,
    model: echoModel,
    checkpoint: undefined,
    capture: undefined,
    remainingMs: 20_000,
    now: () => Date.now() + rig.clockOffsetMs,
  } as Pick<
    Rig,
    'prompts' | 'deliveries' | 'clockOffsetMs' | 'model' | 'checkpoint' | 'capture' | 'remainingMs' | 'now'
  >;

  try {
    modelServer = await startTestServer(async (request: RecordedRequest) => {
      const streamed = request.path === `/endpoints/${ENDPOINT}/invocations-response-stream`;
      if (request.method !== 'POST' || (!streamed && request.path !== `/endpoints/${ENDPOINT}/invocations`)) {
        return { statusCode: 404, body: '{"message":"no such endpoint"}' };
      }
      const body = JSON.parse(request.body.toString('utf8')) as { messages: ChatMessage[] };
      prompts.push(body.messages);
      const response = await rig.model(body.messages);
      return streamed ? asStream(response) : response;
    });
    const emulatorContext = (platform: PlatformName): EmulatorContext => ({
      apiBaseUrl: `${platformServer?.url}/_emulator/${platform}`,
      credentials: SANDBOX_CREDENTIALS,
      now: Date.now,
      clockScale: 1,
      record: (d) => {
        deliveries.push({ ...d, at: new Date().toISOString() });
      },
      update: (p, messageId, patch) => patchDelivery(deliveries, p, messageId, patch) !== undefined,
      // WeCom's stream refresh callbacks, played by its emulator, reach the same webhook handler as `say`.
      postWebhook: async (request) => {
        if (!webhookRef.handler) return noWebhook();
        const res = await webhookRef.handler(proxyEventOf(request));
        return { statusCode: res.statusCode, headers: stringHeaders(res.headers), body: res.body };
      },
    });
    platformServer = await startTestServer(async (request) => {
      const match = /^\/_emulator\/([a-z]+)(\/.*)$/.exec(request.path);
      const platform = match?.[1] as PlatformName | undefined;
      if (!match || !platform || !PLATFORMS.includes(platform)) return { statusCode: 404, body: '{}' };
      const out = await EMULATORS[platform].handleApi({ ...request, path: match[2] ?? '/' }, emulatorContext(platform));
      // A shared file's download answers with its bytes.
      return { statusCode: out.statusCode, headers: out.headers, body: out.bytes ?? out.body };
    });

    const handleBatch = async (event: SQSEvent): Promise<SQSBatchResponse> => worker(event);
    aws = await startLocalAws({
      queue: {
        name: `worker-it-${process.pid}`,
        visibilityTimeoutSeconds: 1,
        maxReceiveCount: options.maxReceiveCount ?? 4,
      },
      worker: { handler: handleBatch, batchSize: 10, concurrency: 2, waitTimeSeconds: 1 },
    });
    const localAws = aws;
    const relay = options.wecomRelay
      ? await createQueues(localAws.clients.sqs, {
          name: `worker-it-relay-${process.pid}`,
          maxReceiveCount: 5,
          visibilityTimeoutSeconds: 30,
        })
      : undefined;
    const env = {
      ...(relay ? { WECOM_RELAY_QUEUE_URL: relay.queueUrl, ...localAwsEnv(localAws) } : {}),
      ...credentialEnv(SANDBOX_CREDENTIALS),
      ENABLED_PLATFORMS: PLATFORMS.join(','),
      QUEUE_URL: localAws.queues.queueUrl,
      EVENTS_TABLE: localAws.tables.events,
      CONVERSATIONS_TABLE: localAws.tables.conversations,
      ANSWER_CACHE_TABLE: localAws.tables.answerCache,
      LEDGER_TABLE: localAws.tables.ledger,
      AUDIT_TABLE: localAws.tables.audit,
      MODEL_ENDPOINT_NAME: ENDPOINT,
      MODEL_ENDPOINT_URL: modelServer.url,
      REPLY_HANDLE_ORIGINS: platformServer.url,
      FEISHU_API_BASE_URL: `${platformServer.url}/_emulator/feishu`,
      SLACK_API_BASE_URL: `${platformServer.url}/_emulator/slack`,
      DINGTALK_API_BASE_URL: `${platformServer.url}/_emulator/dingtalk`,
      WECOM_API_BASE_URL: `${platformServer.url}/_emulator/wecom`,
      DINGTALK_BOT_NAME: 'GroupGate',
      WECOM_BOT_NAME: 'GroupGate',
      ...(options.lexicon ? { CONTENT_LEXICON: options.lexicon } : {}),
      STREAMING: options.streaming === true ? 'true' : 'false',
      // Any template id: the emulator publishes every id with the `msgContent` and `flowStatus` variables.
      DINGTALK_CARD_TEMPLATE_ID: 'harness-streaming-card',
      ...(options.voice
        ? {
            VOICE_ASR: 'local',
            VOICE_LANGUAGES: 'en-US',
            VOICE_MAX_SECONDS: '10',
            VOICE_TTS: 'local',
            VOICE_REPLY_CHATS: ['feishu', 'slack', 'dingtalk', 'wecom'].map((p) => `${p}:${SPOKEN_CHAT}`).join(','),
          }
        : {}),
    };
    // The lease must end before the receives run out, so a crashed attempt's event is claimable again in time.
    const config: WorkerConfig = { ...loadWorkerConfig(env), claimLeaseMs: 1_500 };
    // WeCom's stream snapshots: written by the worker, read by the webhook's refresh answers (events table).
    const streamSnapshots = new DynamoStreamSnapshots(localAws.clients.doc, { tableName: localAws.tables.events });
    const platforms = await createEnabledPlatforms(PLATFORMS, env, {
      replyHandleOrigins: [platformServer.url],
      deps: { streamSnapshots },
    });
    const model = createSageMakerClient({
      endpointName: ENDPOINT,
      endpointUrl: modelServer.url,
      region: 'us-east-1',
      modelId: config.model.modelId,
      instanceType: config.model.instanceType,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      timeouts: { requestTimeoutMs: 5_000 },
      retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
      now: () => rig.now(),
    });
    const runtime = (overrides: Partial<WorkerRuntimeDeps> = {}) =>
      createWorkerRuntime({
        config,
        clients: localAws.clients,
        platforms,
        model,
        now: () => rig.now(),
        remainingMs: () => rig.remainingMs,
        voice: createVoiceEngines(config.voice, env),
        ...overrides,
      });
    // Each record's own event: a batch's message groups run side by side, so no "current" record exists.
    const polled = runtime({ checkpoint: (step, event) => rig.checkpoint?.(step, event) });
    const workerHandler = createWorkerHandler(async () => polled);
    const worker = (event: SQSEvent) => workerHandler(event, lambdaContext('worker-it', 30_000) as unknown as Context);

    const baseIngest = await createDefaultIngestDeps({ ...env, ...localAwsEnv(localAws) });
    const ingestDeps: IngestDeps = {
      ...baseIngest,
      platform: createPlatformResolver(PLATFORMS, env, {
        replyHandleOrigins: [platformServer.url],
        deps: { streamSnapshots },
      }),
      enqueue: async (event, ids) => {
        if (rig.capture) rig.capture.push(event);
        else await baseIngest.enqueue(event, ids);
      },
    };
    const webhook = createWebhookHandler(async () => ingestDeps);
    webhookRef.handler = webhook;

    return Object.assign(rig, {
      aws: localAws,
      config,
      ingest: ingestDeps,
      ...(relay ? { wecomRelayQueueUrl: relay.queueUrl } : {}),
      platformUrl: platformServer.url,
      async say(platform: PlatformName, input: InboundMessageInput) {
        const request = EMULATORS[platform].buildMessageEvent(input, emulatorContext(platform));
        const res = await webhook(proxyEventOf(request));
        if (res.statusCode !== 200) throw new Error(`webhook answered ${res.statusCode}: ${res.body}`);
        EMULATORS[platform].onWebhookResponse?.(
          request,
          { statusCode: res.statusCode, headers: stringHeaders(res.headers), body: res.body },
          emulatorContext(platform),
        );
        return request.eventId;
      },
      messageEvent: (platform: PlatformName, input: InboundMessageInput) =>
        EMULATORS[platform].buildMessageEvent(input, emulatorContext(platform)),
      runtime,
      handle: worker,
      async waitFor(count: number, filter: (d: EmulatedDelivery) => boolean, timeoutMs = 15_000) {
        const until = Date.now() + timeoutMs;
        for (;;) {
          const found = deliveries.filter(filter);
          if (found.length >= count || Date.now() > until) return found;
          await new Promise((r) => setTimeout(r, 25));
        }
      },
      async waitForReplied(platform: PlatformName, eventId: string, timeoutMs = 15_000) {
        const until = Date.now() + timeoutMs;
        const key = { pk: eventKey(platform, eventId) };
        for (;;) {
          const out = await localAws.clients.doc.send(
            new GetCommand({ TableName: localAws.tables.events, Key: key, ConsistentRead: true }),
          );
          if (out.Item?.status === 'replied') return;
          if (Date.now() > until) throw new Error(`event ${key.pk} not replied within ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 25));
        }
      },
      async stop() {
        await localAws.stop();
        await modelServer?.close();
        await platformServer?.close();
      },
    }) as Rig;
  } catch (err) {
    await aws?.stop();
    await modelServer?.close();
    await platformServer?.close();
    throw err;
  }
}

/** An SQS record as the event-source mapping would deliver it, for direct batch tests (the shared factory's). */
export function recordOf(event: QueuedEvent, messageId: string, receiveCount = 1): SQSRecord {
  return sqsRecordOf(event, { messageId, receiveCount });
}

/** A chat id unique to one test, so deliveries and contexts never mix across tests. */
export function uniqueChat(label: string): string {
  return `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}
