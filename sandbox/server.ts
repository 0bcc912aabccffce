import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, ScheduledEvent, SQSEvent } from 'aws-lambda';
import { ENV } from '#config/env-names';
import { voiceConfigFrom } from '#config/voice-config';
import type { RunningConnector } from '#connector/connector';
import { queuedEventSchema } from '#core/queue-message';
import { DEFAULT_CONTEXT_SIZE } from '#local-model/engine';
import { isPlatformName, MAX_MESSAGE_ATTACHMENTS, PLATFORMS, type PlatformName } from '#platforms/types';
import { lambdaContext, type ProxyHandler, toProxyEvent } from './api-gateway';
import { joinAnswers, QuestionLog, readAudit } from './conversation-log';
import { sandboxCredentials } from './defaults';
import { DeliveryFeed, deliveryView, serveDeliveryStream } from './delivery-feed';
import { FALLBACK_MODEL_ENV, primaryModelIdFromEnv } from './fallback-model';
import {
  createCrashCheckpoint,
  createSendFaultPicker,
  emptyFaultStats,
  faultConfigFromEnv,
  PromptLog,
  sandboxTimingFromEnv,
  seededRandom,
  startModelFaultProxy,
} from './faults';
import { handlerEnv } from './handler-env';
import { createQueues, type LocalAws, startLocalAws } from './local-aws/index';
import { createSocketEmulators, longConnectionPlatformsFromEnv, startSandboxConnector } from './long-connection';
import { createModelControl, type ModelControl, type ModelsView } from './model-control';
import { type FallbackSource, type StartedModel, startModels } from './model-endpoints';
import { startModelSwitch } from './model-switch';
import { patchDelivery } from './platform-emulator/delivery-log';
import { createDingTalkEmulator } from './platform-emulator/dingtalk';
import { createFeishuEmulator } from './platform-emulator/feishu';
import type { LongConnectionEmulator } from './platform-emulator/long-connection-emulator';
import { createSlackEmulator } from './platform-emulator/slack';
import type {
  EmulatedApiResponse,
  EmulatedDelivery,
  EmulatedFile,
  EmulatedRequest,
  EmulatorContext,
  PlatformEmulator,
} from './platform-emulator/types';
import { createWeComEmulator } from './platform-emulator/wecom';
import { WECOM_AIBOT_PATH } from './platform-emulator/wecom-aibot';
import { createRestApi, type RestApi } from './rest-api';
import { SANDBOX_SKILLS_ENV, startSandboxSkills } from './skills/sandbox-skills';
import { missingVoiceTools, VOICE_PACKAGES } from './voice-tools';

/**
 * The sandbox (ARCHITECTURE §4.2): the real Lambda handlers behind a local API Gateway, fed by the platform
 * emulator, with dynalite, fauxqs and a local model server standing in for AWS. Everything binds 127.0.0.1.
 */
export interface SandboxOptions {
  /** @default 3000; 0 picks a free port. */
  readonly port?: number;
  /** An external SageMaker-compatible server; skips the local model. */
  readonly modelEndpointUrl?: string;
  /** Starts the model server; returns its URL. Injected so the HTTP core stays free of node-llama-cpp. */
  readonly startModel?: () => Promise<StartedModel>;
  /**
   * The backup model the worker falls back to when the primary cannot answer (issue 16): an external server's URL or
   * a start function, and the id its answers are recorded under. The handlers get it as `FALLBACK_MODEL_ENDPOINT_URL`
   * and `FALLBACK_MODEL_ID`. @default none
   */
  readonly fallback?: FallbackSource;
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
  /** Answers of GET /_sandbox/info about the model. */
  readonly modelInfo?: { name: string; demo: boolean; hint: string };
  readonly webAssets?: ReadonlyMap<string, { contentType: string; body: Buffer }>;
}

export interface RunningSandbox {
  readonly url: string;
  readonly port: number;
  readonly aws: LocalAws;
  readonly deliveries: readonly EmulatedDelivery[];
  /** The two models and the primary's switch, as `GET /_sandbox/model` shows them. */
  models(): ModelsView;
  /** Start-up warnings (an external model endpoint that does not answer), already logged. */
  readonly warnings: readonly string[];
  /**
   * The platforms in long-connection mode (`SANDBOX_LONG_CONNECTION`), their emulated sockets and the in-process
   * connector holding them; no platforms and no connector in webhook mode.
   */
  readonly longConnection: {
    readonly emulators: Partial<Record<PlatformName, LongConnectionEmulator>>;
    readonly connector: RunningConnector | undefined;
  };
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;
/**
 * The window the pipeline assumes for the generated demo model. Its engine has the default 2,048-token context, but its
 * small vocabulary spells most words byte by byte: up to 4 tokens where the prompt estimator counts one (ASCII at a
 * quarter token per character). With 512 reply tokens reserved, a 1,000-token window leaves 488 estimated tokens of
 * prompt, at most about 1,950 real ones, plus the demo's answers, which stop at 48 tokens: within 2,048. A larger
 * window let a grounded prompt overflow the context, and the member got the apology.
 */
const DEMO_CONTEXT_WINDOW = 1000;
/** Past this an oversize request is cut off rather than read to its end. */
const MAX_DRAINED_BYTES = 4 * MAX_BODY_BYTES;
const MEMBERS = ['alice', 'bob', 'carol', 'dave'];
const GROUPS = ['eng-team', 'sales', 'support'];

export async function startSandbox(options: SandboxOptions = {}): Promise<RunningSandbox> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const env = options.env ?? process.env;
  const emulators: Record<PlatformName, PlatformEmulator> = {
    feishu: createFeishuEmulator(),
    slack: createSlackEmulator(),
    dingtalk: createDingTalkEmulator(),
    wecom: createWeComEmulator(),
  };
  const deliveries: EmulatedDelivery[] = [];
  // Reliability knobs (sandbox/faults.ts): all off and production-like unless their variables are set.
  const faults = faultConfigFromEnv(env);
  const timing = sandboxTimingFromEnv(env);
  // Platforms reached over their long connection instead of the webhook (issue 18): emulated sockets, and a connector
  // started once the handlers' environment is set.
  const longConnectionPlatforms = longConnectionPlatformsFromEnv(env);
  const faultStats = emptyFaultStats();
  const prompts = new PromptLog();
  const sendFault =
    faults && faults.sendRate > 0
      ? createSendFaultPicker(faults.sendRate, seededRandom(faults.seed), faultStats)
      : undefined;
  const credentials = sandboxCredentials(env);
  const socketEmulators: Partial<Record<PlatformName, LongConnectionEmulator>> = createSocketEmulators(
    longConnectionPlatforms,
    credentials,
    timing.platformClockScale,
    () => emulatorContext('wecom'),
  );
  let connector: RunningConnector | undefined;
  const handlers: { webhook?: ProxyHandler; worker?: (e: SQSEvent, c: Context) => Promise<unknown> } = {};
  let ready = false;
  let baseUrl = '';
  // POST /v1/chat: API key, usage plan, JWT authorizer and chat-api handler, played by sandbox/rest-api.ts.
  let restApi: RestApi | undefined;
  // GET /_sandbox/model, POST /_sandbox/model/primary: the models and the primary's switch (sandbox/model-control.ts).
  let modelControl: ModelControl | undefined;

  const deliveryFeed = new DeliveryFeed();
  const questions = new QuestionLog();
  const emulatorContext = (platform: PlatformName): EmulatorContext => ({
    apiBaseUrl: `${baseUrl}/_emulator/${platform}`,
    credentials,
    now: Date.now,
    clockScale: timing.platformClockScale,
    record: (d) => {
      const delivery: EmulatedDelivery = { ...d, at: new Date().toISOString() };
      deliveries.push(delivery);
      deliveryFeed.publish(delivery);
    },
    update: (p, messageId, patch) => {
      const changed = patchDelivery(deliveries, p, messageId, patch);
      if (changed) deliveryFeed.publish(changed);
      return changed !== undefined;
    },
    postWebhook: (request) => postToWebhook(request),
    ...(sendFault ? { fault: sendFault } : {}),
  });

  /** Sends an emulated platform request to our own webhook route over HTTP, as the platform calls API Gateway. */
  async function postToWebhook(request: EmulatedRequest): Promise<EmulatedApiResponse> {
    const qs = new URLSearchParams(request.query).toString();
    const delivered = await fetch(`${baseUrl}${request.path}${qs ? `?${qs}` : ''}`, {
      method: request.method,
      headers: request.headers,
      ...(request.method === 'POST' ? { body: new Uint8Array(request.body) } : {}),
    });
    return {
      statusCode: delivered.status,
      headers: Object.fromEntries(delivered.headers),
      body: await delivered.text(),
    };
  }

  let aws: LocalAws | undefined;
  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      log(`sandbox: request failed: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'sandbox_error', message: 'See the sandbox log.' } });
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    const body = await readBody(req);
    if (body === undefined)
      return sendJson(res, 413, { error: { code: 'payload_too_large', message: 'Body over 10 MB.' } });

    if (path === '/_sandbox/health') return sendJson(res, ready ? 200 : 503, { ready });
    if (req.method === 'POST' && path === '/v1/chat') {
      if (!ready || !restApi)
        return sendJson(res, 503, { error: { code: 'starting', message: 'Sandbox is starting.' } });
      return restApi.handle(req, body, res);
    }
    const webhook = /^\/webhook\/([^/]+)$/.exec(path);
    if (webhook) {
      const platform = decodePathPart(webhook[1] ?? '');
      if (platform === undefined)
        return sendJson(res, 400, { error: { code: 'invalid_path', message: 'Malformed percent-encoding.' } });
      // API Gateway has one resource per platform with only its methods (lib/constructs/ingress.ts): POST, plus
      // GET for WeCom's URL check. Any other method never reaches the Lambda, and API Gateway answers 403.
      if (req.method !== 'POST' && !(req.method === 'GET' && platform === 'wecom'))
        return sendJson(res, 403, { message: 'Missing Authentication Token' });
      if (!ready || !handlers.webhook)
        return sendJson(res, 503, { error: { code: 'starting', message: 'Sandbox is starting.' } });
      const event = toProxyEvent(req, body, {
        resource: '/webhook/{platform}',
        pathParameters: { platform },
      });
      const result = await handlers.webhook(event, lambdaContext('groupgate-webhook', 10_000));
      res.writeHead(result.statusCode, result.headers as Record<string, string>);
      res.end(result.body);
      // The platform reads the webhook's answer, whoever built the request (the page, a test's raw bytes): WeCom
      // starts polling a stream the answer opens. Emulators ignore answers that are not theirs to act on.
      if (isPlatformName(platform)) {
        emulators[platform].onWebhookResponse?.(
          {
            method: req.method === 'GET' ? 'GET' : 'POST',
            path,
            query: Object.fromEntries(url.searchParams),
            headers: lowerHeaders(req),
            body,
            eventId: '',
          },
          {
            statusCode: result.statusCode,
            headers: Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k, String(v)])),
            body: result.body,
          },
          emulatorContext(platform),
        );
      }
      return;
    }
    const emulated = /^\/_emulator\/([^/]+)(\/.*)$/.exec(path);
    if (emulated && isPlatformName(emulated[1] ?? '')) {
      const platform = emulated[1] as PlatformName;
      const apiRequest = {
        method: req.method ?? 'GET',
        path: emulated[2] ?? '/',
        query: Object.fromEntries(url.searchParams),
        headers: lowerHeaders(req),
        body,
      };
      // A long-connection emulator answers its discovery call; everything else is the platform's HTTP API.
      const result =
        socketEmulators[platform]?.handleApi(apiRequest) ??
        (await emulators[platform].handleApi(apiRequest, emulatorContext(platform)));
      res.writeHead(result.statusCode, result.headers as Record<string, string>);
      return void res.end(result.bytes ?? result.body);
    }
    if (req.method === 'POST' && path === '/_sandbox/events') return postEvent(body, res);
    if (path === '/_sandbox/connections') return connectionsRoute(req.method ?? 'GET', body, res);
    if (req.method === 'GET' && path === '/_sandbox/messages') {
      const platform = url.searchParams.get('platform');
      const chat = url.searchParams.get('chat');
      // Delivered replies: a streamed reply is listed once it is finished (or failed), when its text, ledger row and
      // cost are final, as for one-shot replies. `inProgress=1` adds replies still being written (the page's
      // polling fallback); `GET /_sandbox/stream` shows them grow.
      const inProgress = url.searchParams.get('inProgress') === '1';
      const list = deliveries.filter(
        (d) =>
          (!platform || d.platform === platform) &&
          (!chat || d.chatId === chat) &&
          (inProgress || d.stream !== 'streaming'),
      );
      return sendJson(res, 200, list.map(deliveryView));
    }
    if (req.method === 'GET' && path === '/_sandbox/conversation') {
      // The members' messages posted through POST /_sandbox/events, with their answers' audit facts (the page).
      const platform = url.searchParams.get('platform');
      const chat = url.searchParams.get('chat');
      const audit = aws ? await readAudit(aws.clients.doc, aws.tables.audit, platform, chat) : [];
      const maskModelInput = process.env[ENV.maskModelInput] !== 'false';
      return sendJson(res, 200, { questions: joinAnswers(questions.list(platform, chat), audit, maskModelInput) });
    }
    if (req.method === 'GET' && path === '/_sandbox/stream') {
      return serveDeliveryStream(res, deliveryFeed, {
        platform: url.searchParams.get('platform'),
        chat: url.searchParams.get('chat'),
      });
    }
    if (req.method === 'GET' && path === '/_sandbox/dlq') {
      return sendJson(res, 200, { depth: await dlqDepth(), events: await dlqEvents() });
    }
    if (req.method === 'GET' && path === '/_sandbox/faults')
      return sendJson(res, 200, { config: faults ?? null, stats: faultStats, prompts: prompts.calls });
    if (req.method === 'GET' && path === '/_sandbox/ledger')
      return sendJson(res, 200, await ledgerRows(url.searchParams));
    if (path === '/_sandbox/model' || path.startsWith('/_sandbox/model/')) {
      if (!modelControl) return sendJson(res, 503, { error: { code: 'starting', message: 'Sandbox is starting.' } });
      const answer = modelControl.route(req.method ?? 'GET', path, body);
      if (answer) return sendJson(res, answer.status, answer.body);
    }
    if (req.method === 'GET' && path === '/_sandbox/info') {
      return sendJson(res, 200, {
        model: options.modelInfo ?? null,
        platforms: PLATFORMS,
        members: MEMBERS,
        groups: GROUPS,
        voice: recorderLimits(),
      });
    }
    const asset = options.webAssets?.get(path === '/index.html' ? '/' : path);
    if (req.method === 'GET' && asset) {
      res.writeHead(200, { 'content-type': asset.contentType, 'cache-control': 'no-cache' });
      return void res.end(asset.body);
    }
    return sendJson(res, 404, { error: { code: 'not_found', message: `No route for ${req.method} ${path}` } });
  }

  async function postEvent(body: Buffer, res: ServerResponse): Promise<void> {
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return sendJson(res, 400, { error: { code: 'invalid_request', message: 'Body must be JSON.' } });
    }
    const { platform, chatId, userId, text, mentionBot, threadId, eventId } = input;
    const files = sharedFilesOf(input.files);
    const problems = [
      typeof files === 'string' ? files : '',
      typeof platform === 'string' && isPlatformName(platform) ? '' : `platform must be one of ${PLATFORMS.join(', ')}`,
      typeof chatId === 'string' && chatId.length > 0 ? '' : 'chatId must be a non-empty string',
      typeof userId === 'string' && userId.length > 0 ? '' : 'userId must be a non-empty string',
      typeof text === 'string' ? '' : 'text must be a string',
      mentionBot === undefined || typeof mentionBot === 'boolean' ? '' : 'mentionBot must be a boolean',
      threadId === undefined || typeof threadId === 'string' ? '' : 'threadId must be a string',
    ].filter(Boolean);
    if (problems.length > 0)
      return sendJson(res, 400, { error: { code: 'invalid_request', message: problems.join('; ') } });
    const p = platform as PlatformName;
    const request = emulators[p].buildMessageEvent(
      {
        chatId: chatId as string,
        userId: userId as string,
        text: text as string,
        mentionBot: mentionBot as boolean | undefined,
        ...(typeof threadId === 'string' ? { threadId } : {}),
        ...(typeof eventId === 'string' ? { eventId } : {}),
        ...(Array.isArray(files) && files.length > 0 ? { files } : {}),
      },
      emulatorContext(p),
    );
    // Delivered over HTTP to our own webhook route, exactly as the platform would call the API Gateway URL.
    // The webhook route hands the answer to the emulator (WeCom's stream polling), as for any caller. In
    // long-connection mode the same body goes over the platform's socket instead, and its ack stands for the 200.
    const postedAt = new Date().toISOString();
    const socket = socketEmulators[p];
    const delivered = socket ? await pushOverSocket(socket, request.body) : await postToWebhook(request);
    questions.record({
      platform: p,
      chatId: chatId as string,
      userId: userId as string,
      text: text as string,
      mentionBot: mentionBot !== false,
      ...(typeof threadId === 'string' ? { threadId } : {}),
      eventId: request.eventId,
      ...(request.messageId ? { messageId: request.messageId } : {}),
      webhookStatus: delivered.statusCode,
      at: postedAt,
      ackedAt: new Date().toISOString(),
    });
    return sendJson(res, 200, {
      eventId: request.eventId,
      webhookStatus: delivered.statusCode,
      ...(request.messageId ? { messageId: request.messageId } : {}),
      ...(socket ? { transport: 'socket' } : {}),
    });
  }

  /**
   * Pushes a webhook body over the platform's emulated socket (Slack's Events API body is its `events_api` payload;
   * DingTalk's robot callback body its CALLBACK `data`). Answers 200 once the connector acknowledged it, as the
   * webhook's 200 would say; 504 when no ack came within 10 s (no connector connected, or the enqueue failing).
   */
  async function pushOverSocket(socket: LongConnectionEmulator, body: Buffer): Promise<{ statusCode: number }> {
    const payload = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const delivery = socket.deliver(payload);
    return { statusCode: (await socket.waitForAck(delivery.deliveryId, 10_000)) ? 200 : 504 };
  }

  /**
   * `GET /_sandbox/connections`: each platform's transport, the connector's health snapshot (as its `/healthz`
   * answers) and the emulated sockets' counters. `POST {"action":"drop"|"disconnect","platform"?}`: cut every socket
   * abruptly, or announce a server disconnect (Slack `warning`, DingTalk SYSTEM `disconnect`), to watch the connector
   * reconnect.
   */
  async function connectionsRoute(method: string, body: Buffer, res: ServerResponse): Promise<void> {
    if (method === 'GET') {
      return sendJson(res, 200, {
        transports: Object.fromEntries(PLATFORMS.map((p) => [p, socketEmulators[p] ? 'socket' : 'webhook'])),
        connector: connector ? { healthUrl: connector.healthUrl ?? null, ...connector.health() } : null,
        emulators: Object.fromEntries(Object.entries(socketEmulators).map(([p, e]) => [p, e.stats()])),
      });
    }
    if (method !== 'POST') return sendJson(res, 405, { error: { code: 'method_not_allowed', message: 'GET or POST' } });
    let input: { action?: unknown; platform?: unknown };
    try {
      input = JSON.parse(body.toString('utf8') || '{}') as typeof input;
    } catch {
      return sendJson(res, 400, { error: { code: 'invalid_request', message: 'Body must be JSON.' } });
    }
    const targets = Object.entries(socketEmulators).filter(
      ([p]) => input.platform === undefined || p === input.platform,
    );
    if ((input.action !== 'drop' && input.action !== 'disconnect') || targets.length === 0) {
      return sendJson(res, 400, {
        error: {
          code: 'invalid_request',
          message: 'action must be drop or disconnect, platform (optional) one in long-connection mode',
        },
      });
    }
    const sockets = targets.reduce(
      (n, [, e]) => n + (input.action === 'drop' ? e.dropAll() : e.requestDisconnect()),
      0,
    );
    return sendJson(res, 200, { action: input.action, sockets });
  }

  /** Messages sitting in the dead-letter queue: events that exhausted their receives (alarmed on in AWS). */
  async function dlqDepth(): Promise<number> {
    if (!aws) return 0;
    const { Attributes = {} } = await aws.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: aws.queues.dlqUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return Object.values(Attributes).reduce((n, v) => n + Number(v), 0);
  }

  /**
   * `platform#eventId` of each dead-lettered message, read without consuming it: every message is received (hidden
   * while the rest are read) and then made visible again, so a test can tell which events ended in the DLQ.
   */
  async function dlqEvents(): Promise<string[]> {
    if (!aws) return [];
    const { sqs } = aws.clients;
    const QueueUrl = aws.queues.dlqUrl;
    const received: { key: string; receiptHandle: string }[] = [];
    for (let round = 0; round < 100; round++) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30 }),
      );
      if (Messages.length === 0) break;
      for (const m of Messages) received.push({ key: eventKeyOf(m.Body ?? ''), receiptHandle: m.ReceiptHandle ?? '' });
    }
    for (let i = 0; i < received.length; i += 10) {
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl,
          Entries: received
            .slice(i, i + 10)
            .map((m, j) => ({ Id: String(j), ReceiptHandle: m.receiptHandle, VisibilityTimeout: 0 })),
        }),
      );
    }
    return received.map((m) => m.key);
  }

  async function ledgerRows(params: URLSearchParams): Promise<unknown[]> {
    if (!aws) return [];
    const platform = params.get('platform');
    const chat = params.get('chat');
    const rows: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await aws.clients.doc.send(
        new ScanCommand({ TableName: aws.tables.ledger, ExclusiveStartKey: start }),
      );
      rows.push(...((out.Items ?? []) as Record<string, unknown>[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return rows
      .filter((r) => (!platform || r.platform === platform) && (!chat || r.chatId === chat))
      .sort((a, b) => String(a.at).localeCompare(String(b.at)));
  }

  // WebSocket upgrades: the long-connection emulators' sockets; anything else is refused.
  server.on('upgrade', (req, socket, head) => {
    if (Object.values(socketEmulators).some((e) => e.handleUpgrade(req, socket, head))) return;
    socket.destroy();
  });

  const port = await listen(server, options.port ?? 3000);
  baseUrl = `http://127.0.0.1:${port}`;
  log(`sandbox: API Gateway stand-in on ${baseUrl}`);

  const stops: (() => Promise<void>)[] = [
    () => {
      // Open event streams (GET /_sandbox/stream) end first, or server.close would wait on them.
      deliveryFeed.close();
      return new Promise<void>((r) => server.close(() => r()));
    },
    async () => {
      await Promise.all(Object.values(socketEmulators).map((e) => e.close()));
    },
  ];
  const warnings: string[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    // DynamoDB deletes expired items lazily and every reader checks expiresAt, so the sweep is housekeeping: once a
    // minute keeps its table scans out of the request path's tail latency.
    aws = await startLocalAws({ ttlSweepIntervalMs: 60_000 });
    stops.push(() => aws?.stop() ?? Promise.resolve());
    log(`sandbox: DynamoDB (dynalite) on ${aws.endpoints.dynamo}, SQS (fauxqs) on ${aws.endpoints.sqs}`);

    const primarySource = options.modelEndpointUrl
      ? { endpointUrl: options.modelEndpointUrl }
      : options.startModel
        ? { start: options.startModel }
        : undefined;
    if (!primarySource)
      throw new Error(`No model: set ${ENV.modelEndpointUrl} or let the sandbox start its local model.`);
    const models = await startModels(primarySource, options.fallback);
    stops.push(() => models.close());
    warnings.push(...models.warnings);
    log(`sandbox: model endpoint (SageMaker contract) at ${models.primary.url}`);
    if (models.fallback) {
      log(
        `sandbox: backup model ${models.fallback.modelId} (SageMaker contract) at ${models.fallback.url}` +
          ` (${models.fallback.source}); the worker falls back to it when the primary cannot answer`,
      );
    }
    let modelUrl = models.primary.url;
    if (faults) {
      const proxy = await startModelFaultProxy({
        target: modelUrl,
        rate: faults.modelRate,
        random: seededRandom(faults.seed + 1),
        stats: faultStats,
        onRequest: (b) => prompts.record(b),
      });
      stops.push(() => proxy.close());
      modelUrl = proxy.url;
      log(`sandbox: FAULT INJECTION on: ${JSON.stringify(faults)}; model calls go through ${modelUrl}`);
    }
    // The handlers call the primary through its switch, so POST /_sandbox/model/primary can take it down.
    const primarySwitch = await startModelSwitch({ target: modelUrl });
    stops.push(() => primarySwitch.close());
    log(`sandbox: primary model switch at ${primarySwitch.url} (POST /_sandbox/model/primary {"state":"down"|"up"})`);
    for (const warning of models.warnings) log(`sandbox: ${warning}`);

    const skills = await startSandboxSkills(process.env[SANDBOX_SKILLS_ENV]);
    stops.push(() => skills.stop());
    log(`sandbox: skills: ${skills.description}`);
    const asr = process.env[ENV.voiceAsr] ?? 'local';
    const missingVoice = asr === 'local' ? missingVoiceTools() : [];
    log(
      asr !== 'local'
        ? `sandbox: voice: ${ENV.voiceAsr}=${asr}`
        : missingVoice.length === 0
          ? 'sandbox: voice: voice messages are transcribed on this machine (pocketsphinx, English)'
          : `sandbox: voice: ${missingVoice.join(', ')} not installed; voice messages are answered with what to install (apt-get install ${VOICE_PACKAGES})`,
    );

    // Variables of an earlier sandbox in this process must not leak into one without a backup model or skills.
    for (const name of [
      FALLBACK_MODEL_ENV.endpointUrl,
      FALLBACK_MODEL_ENV.modelId,
      ENV.skills,
      ENV.wecomRelayQueueUrl,
      ENV.wecomAibotWsUrl,
    ])
      delete process.env[name];
    if (socketEmulators.wecom) {
      // WeCom over its socket: the worker's replies go through the relay queue to the connector, which sends them on
      // the emulated AI-bot socket.
      const relay = await createQueues(aws.clients.sqs, {
        name: 'groupgate-wecom-relay',
        maxReceiveCount: 5,
        visibilityTimeoutSeconds: 30,
      });
      process.env[ENV.wecomRelayQueueUrl] = relay.queueUrl;
      process.env[ENV.wecomAibotWsUrl] = `${baseUrl.replace(/^http/, 'ws')}${WECOM_AIBOT_PATH}`;
    }
    const fallback = models.fallback ? { url: models.fallback.url, modelId: models.fallback.modelId } : undefined;
    Object.assign(process.env, handlerEnv(aws, baseUrl, primarySwitch.url, credentials, process.env, fallback), {
      ...(skills.config === undefined ? {} : { [ENV.skills]: skills.config }),
      // The local engine's window, so a grounded or long prompt is built to fit it (an operator's value wins; an
      // external server's window is the operator's to give).
      ...(options.modelEndpointUrl || process.env[ENV.modelContextWindow]
        ? {}
        : { [ENV.modelContextWindow]: String(options.modelInfo?.demo ? DEMO_CONTEXT_WINDOW : DEFAULT_CONTEXT_SIZE) }),
    });
    modelControl = createModelControl({
      switch: primarySwitch,
      primary: { ...models.primary, modelId: primaryModelIdFromEnv(process.env) },
      ...(models.fallback ? { fallback: models.fallback } : {}),
      log,
    });
    // Imported after the environment is set: the handlers read it once, at their cold start.
    const webhookModule = await import('#handlers/webhook');
    const workerModule = await import('#handlers/worker');
    handlers.webhook = webhookModule.handler as unknown as ProxyHandler;
    const crash =
      faults && faults.crashRate > 0
        ? createCrashCheckpoint(faults.crashRate, seededRandom(faults.seed + 1), faultStats)
        : undefined;
    handlers.worker = (crash
      ? workerModule.createDefaultWorkerHandler(process.env, { checkpoint: crash })
      : workerModule.handler) as unknown as (e: SQSEvent, c: Context) => Promise<unknown>;
    restApi = await createRestApi({ env, log });
    if (longConnectionPlatforms.length > 0) {
      const started = await startSandboxConnector(
        longConnectionPlatforms,
        process.env,
        await webhookModule.createDefaultIngestDeps(process.env),
      );
      connector = started;
      stops.push(() => started.stop());
      log(
        `sandbox: long-connection mode for ${longConnectionPlatforms.join(', ')}: events go over emulated sockets to ` +
          `the in-process connector (health ${started.healthUrl}); GET /_sandbox/connections shows them`,
      );
    }

    const worker = handlers.worker;
    const { startSqsPoller } = await import('./local-aws/index');
    const poller = await startSqsPoller({
      sqs: aws.clients.sqs,
      queueUrl: aws.queues.queueUrl,
      batchSize: 10,
      visibilityTimeoutSeconds: timing.visibilityTimeoutSeconds,
      concurrency: timing.workerConcurrency,
      handler: async (event) =>
        (await worker(event, lambdaContext('groupgate-worker', timing.workerTimeoutMs) as unknown as Context)) as never,
    });
    stops.push(() => poller.stop());
    stops.push(await startStreamSweeper(timing.sweepIntervalMs, log));
    ready = true;
  } catch (err) {
    await stop();
    throw err;
  }
  const control = modelControl;
  return {
    url: baseUrl,
    port,
    aws,
    deliveries,
    models: () => control.view(),
    warnings,
    longConnection: { emulators: socketEmulators, connector },
    stop,
  };
}

/** Lambda timeout of the stream sweeper, as the CDK stack sets it. */
const SWEEPER_TIMEOUT_MS = 40_000;

/**
 * Plays the EventBridge schedule of the stream sweeper: its real handler every `intervalMs`, one run at a time (a run
 * still going when the next is due makes that one skip). Returns its stop, which waits for a run in progress.
 */
async function startStreamSweeper(intervalMs: number, log: (line: string) => void): Promise<() => Promise<void>> {
  const { handler } = await import('#handlers/stream-sweeper');
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = handler(
      scheduledEvent(),
      lambdaContext('groupgate-stream-sweeper', SWEEPER_TIMEOUT_MS) as unknown as Context,
    )
      .then((report) => {
        if (report.due > 0) log(`sandbox: stream sweep ${JSON.stringify(report)}`);
      })
      .catch((err: unknown) => log(`sandbox: stream sweep failed: ${(err as Error).message}`))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/** What EventBridge passes a scheduled target (the sweeper reads none of it). */
function scheduledEvent(): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:000000000000:rule/groupgate-stream-sweeper'],
    detail: {},
  };
}

/** decodeURIComponent that answers undefined for malformed escapes (`%`, `%E0%A4%A`) instead of throwing. */
function decodePathPart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') out[k.toLowerCase()] = v;
  return out;
}

/**
 * The body, or undefined when it is over `MAX_BODY_BYTES`. An oversize body is still read to its end (without keeping
 * it), up to `MAX_DRAINED_BYTES`, so the caller gets its 413 as API Gateway answers one: leaving the loop early would
 * reset the connection while the client is still sending, and it would see a dropped connection instead.
 */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_DRAINED_BYTES) break;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks);
}

/** Most files one posted message shares, as the adapters carry at most this many. */
const MAX_POSTED_FILES = MAX_MESSAGE_ATTACHMENTS;

/**
 * `files` of `POST /_sandbox/events`: `[{ "name": "sales.csv", "contentBase64": "…" }]` → the files the emulator
 * shares with the message; a string names what is wrong.
 */
function sharedFilesOf(value: unknown): EmulatedFile[] | string {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_POSTED_FILES) {
    return `files must be a list of at most ${MAX_POSTED_FILES} {name, contentBase64}`;
  }
  const files: EmulatedFile[] = [];
  for (const item of value) {
    const record = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {};
    const { name, contentBase64 } = record;
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200) {
      return 'each file needs a name of 1–200 characters';
    }
    if (typeof contentBase64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(contentBase64)) {
      return `file ${name}: contentBase64 must be base64`;
    }
    files.push({ name: name.trim(), bytes: Buffer.from(contentBase64, 'base64') });
  }
  return files;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(value));
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`Port ${port} is busy. Stop the other process or choose another port: PORT=3001 npm start`)
          : err,
      );
    });
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** `platform#eventId` of a queued event's body, or `unparsed` for a body that is not one (a poison message). */
function eventKeyOf(body: string): string {
  try {
    const { message } = queuedEventSchema.parse(JSON.parse(body));
    return `${message.platform}#${message.eventId}`;
  } catch {
    return 'unparsed';
  }
}

/**
 * What the page's recorder needs: the longest voice message the worker transcribes (`VOICE_MAX_SECONDS`). Null when
 * the voice variables are invalid: the worker names the problem on the first message, and the page keeps its default.
 */
function recorderLimits(): { maxSeconds: number } | null {
  try {
    return { maxSeconds: voiceConfigFrom(process.env).maxSeconds };
  } catch {
    return null;
  }
}
