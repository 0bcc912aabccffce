import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { RunningConnector } from '#connector/connector';
import type { ConnectorLogger } from '#connector/connector-logger';
import { runConnector } from '#connector/connector-process';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../../../sandbox/defaults';
import { LOCAL_CREDENTIALS } from '../../../sandbox/local-aws/clients';
import { type LocalAws, startLocalAws } from '../../../sandbox/local-aws/index';
import { dingtalkMessageBody } from '../../../sandbox/platform-emulator/dingtalk';
import {
  createDingTalkStreamEmulator,
  type DingTalkStreamEmulator,
} from '../../../sandbox/platform-emulator/dingtalk-stream';
import type { LongConnectionEmulator } from '../../../sandbox/platform-emulator/long-connection-emulator';
import { slackMessagePayload } from '../../../sandbox/platform-emulator/slack';
import { createSlackSocketEmulator } from '../../../sandbox/platform-emulator/slack-socket';
import { testEmulatorContext } from '../../helpers/emulated';
import {
  recordingLogger,
  type SocketEmulatorServer,
  startSocketEmulatorServer,
  until,
} from '../../helpers/socket-emulator-server';

/**
 * The connector process as its container runs it (`functions/connector/main.ts` → `runConnector`), against local
 * stand-ins: dynalite and fauxqs for the events table and the FIFO queue, the socket emulators for Slack and
 * DingTalk, and a container-credentials endpoint in place of the ECS agent (no static AWS keys in the environment, as
 * in a task). Start, admit one event per platform onto the queue, answer /healthz, then stop on SIGTERM and exit 0.
 */
let aws: LocalAws;
let slack: LongConnectionEmulator;
let dingtalk: DingTalkStreamEmulator;
let sockets: SocketEmulatorServer;
let credentialServer: Server;
let credentialFetches = 0;

beforeAll(async () => {
  aws = await startLocalAws({ queue: { name: 'connector-main', visibilityTimeoutSeconds: 30, maxReceiveCount: 3 } });
  slack = createSlackSocketEmulator({ appToken: SANDBOX_CREDENTIALS.slack.appToken ?? '', ackTimeoutMs: 2_000 });
  dingtalk = createDingTalkStreamEmulator({
    clientId: SANDBOX_CREDENTIALS.dingtalk.appKey,
    clientSecret: SANDBOX_CREDENTIALS.dingtalk.appSecret,
  });
  sockets = await startSocketEmulatorServer([slack, dingtalk]);
  credentialServer = createServer((_req, res) => {
    credentialFetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        AccessKeyId: LOCAL_CREDENTIALS.accessKeyId,
        SecretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
        Token: 'task-role-session',
        Expiration: new Date(Date.now() + 3_600_000).toISOString(),
      }),
    );
  });
  await new Promise<void>((resolve) => credentialServer.listen(0, '127.0.0.1', resolve));
}, 60_000);

afterAll(async () => {
  await sockets?.close();
  await new Promise((resolve) => credentialServer?.close(resolve));
  await aws?.stop();
});

function taskEnv(): Record<string, string> {
  return {
    ...credentialEnv(SANDBOX_CREDENTIALS),
    ENABLED_PLATFORMS: 'slack,dingtalk',
    LONG_CONNECTION_PLATFORMS: 'slack,dingtalk',
    QUEUE_URL: aws.queues.queueUrl,
    EVENTS_TABLE: aws.tables.events,
    HEALTH_PORT: '0',
    SLACK_API_BASE_URL: sockets.apiBase('slack'),
    DINGTALK_API_BASE_URL: sockets.apiBase('dingtalk'),
    AWS_REGION: aws.region,
    AWS_ENDPOINT_URL_DYNAMODB: aws.endpoints.dynamo,
    AWS_ENDPOINT_URL_SQS: aws.endpoints.sqs,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(credentialServer.address() as AddressInfo).port}/creds`,
  };
}

it('starts from its environment, enqueues what the sockets deliver, and drains on SIGTERM', async () => {
  const { lines, logger } = recordingLogger();
  const signals = new EventEmitter();
  const exits: number[] = [];
  const connector: RunningConnector | undefined = await runConnector(taskEnv(), signals, (code) => exits.push(code), {
    logger: logger as ConnectorLogger,
    healthHost: '127.0.0.1',
    connections: { backoff: { baseMs: 50, capMs: 200, stableMs: 60_000 } },
  });
  if (!connector) throw new Error(`did not start: ${JSON.stringify(lines.filter((l) => l.level === 'error'))}`);
  expect(exits).toEqual([]);
  await until('both connected', () => connector.health().connections.every((c) => c.state === 'connected'));

  const health = await fetch(connector.healthUrl ?? '');
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ healthy: true });

  const slackCtx = testEmulatorContext(sockets.apiBase('slack')).ctx;
  const dingtalkCtx = testEmulatorContext(sockets.apiBase('dingtalk')).ctx;
  const slackEvent = slackMessagePayload({ chatId: 'C-main', userId: 'alice', text: 'VPN address?' }, slackCtx);
  const dingtalkEvent = dingtalkMessageBody({ chatId: 'cid-main', userId: 'bob', text: 'VPN address?' }, dingtalkCtx);
  slack.deliver(slackEvent);
  dingtalk.deliver(dingtalkEvent);
  await until('both acknowledged', () => slack.stats().acked + dingtalk.stats().acked === 2);

  const received = await aws.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: aws.queues.queueUrl,
      MaxNumberOfMessages: 10,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  const dedupIds = (received.Messages ?? []).map((m) => m.Attributes?.MessageDeduplicationId ?? '');
  expect(dedupIds.sort()).toEqual([`dingtalk#${dingtalkEvent.msgId}`, `slack#${slackEvent.event_id}`]);
  // Signed with the task role's credentials from the container endpoint, fetched once and cached.
  expect(credentialFetches).toBe(1);

  signals.emit('SIGTERM');
  await until('exited', () => exits.length > 0);
  expect(exits).toEqual([0]);
  expect(slack.stats().openSockets + dingtalk.stats().openSockets).toBe(0);
  await expect(fetch(connector.healthUrl ?? '')).rejects.toThrow();
  expect(lines.map((l) => l.message)).toEqual(
    expect.arrayContaining(['connector: stop signal received', 'connector stopped']),
  );
}, 60_000);
