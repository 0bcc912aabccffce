import { PurgeQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { IngestDeps } from '#core/ingest';
import { createDefaultIngestDeps, createWebhookHandler } from '#handlers/webhook';
import type { PlatformName } from '#platforms/types';
import { type LocalAws, startLocalAws } from '../../../sandbox/local-aws/index';
import { createDingTalkEmulator } from '../../../sandbox/platform-emulator/dingtalk';
import { createFeishuEmulator } from '../../../sandbox/platform-emulator/feishu';
import { createSlackEmulator } from '../../../sandbox/platform-emulator/slack';
import type { PlatformEmulator } from '../../../sandbox/platform-emulator/types';
import { createWeComEmulator } from '../../../sandbox/platform-emulator/wecom';
import { localWebhookEnv } from '../../helpers/local-aws-json';

/**
 * The webhook's integration rig: the real webhook handler with its production dependencies (the hand-signed DynamoDB
 * and SQS calls included) pointed at dynalite and fauxqs, and the four platform emulators to build signed events.
 */
export const EMULATORS: Record<PlatformName, PlatformEmulator> = {
  feishu: createFeishuEmulator(),
  slack: createSlackEmulator(),
  dingtalk: createDingTalkEmulator(),
  wecom: createWeComEmulator(),
};

export interface QueuedMessage {
  readonly body: string;
  readonly groupId: string | undefined;
  readonly dedupId: string | undefined;
}

export interface WebhookRig {
  readonly aws: LocalAws;
  /** The handler's dependencies (for variants built with `createWebhookHandler`). */
  readonly deps: IngestDeps;
  readonly handle: ReturnType<typeof createWebhookHandler>;
  purgeQueue(): Promise<void>;
  /** Every message on the queue (each left invisible, so the next call only sees new ones). */
  drainQueue(): Promise<QueuedMessage[]>;
}

export async function startWebhookRig(queueName: string): Promise<WebhookRig> {
  const aws = await startLocalAws({ queue: { name: queueName, visibilityTimeoutSeconds: 30, maxReceiveCount: 3 } });
  const deps: IngestDeps = await createDefaultIngestDeps(localWebhookEnv(aws));
  return {
    aws,
    deps,
    handle: createWebhookHandler(async () => deps),
    async purgeQueue() {
      await aws.clients.sqs.send(new PurgeQueueCommand({ QueueUrl: aws.queues.queueUrl }));
    },
    async drainQueue() {
      const out: QueuedMessage[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await aws.clients.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: aws.queues.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            MessageSystemAttributeNames: ['All'],
            VisibilityTimeout: 60,
          }),
        );
        const batch = res.Messages ?? [];
        if (batch.length === 0) break;
        for (const m of batch) {
          out.push({
            body: m.Body ?? '',
            groupId: m.Attributes?.MessageGroupId,
            dedupId: m.Attributes?.MessageDeduplicationId,
          });
        }
      }
      return out;
    },
  };
}
