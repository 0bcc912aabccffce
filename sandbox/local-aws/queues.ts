import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ConfigError } from '#core/errors';

export interface CreateQueuesOptions {
  /** Base name; `.fifo` is appended (and `-dlq.fifo` for the dead-letter queue). */
  readonly name: string;
  /** Receives after which SQS moves a message to the DLQ (AWS allows 1–1000). */
  readonly maxReceiveCount: number;
  /** Seconds a received message stays invisible (AWS allows 0–43200). */
  readonly visibilityTimeoutSeconds: number;
  /** The pipeline sets MessageDeduplicationId = platform event id, so content-based dedup is off. @default false */
  readonly contentBasedDeduplication?: boolean;
}

export interface FifoQueuePair {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

/** The longest retention SQS allows, so a dead letter outlives its source message (as AWS requires). */
const DLQ_RETENTION_SECONDS = '1209600';

/**
 * Creates the work FIFO queue and its FIFO dead-letter queue, linked by a RedrivePolicy. fauxqs implements the
 * redrive itself: the receive after the `maxReceiveCount`-th moves the message to the DLQ instead of returning it.
 * Idempotent for the same options, like SQS CreateQueue.
 */
export async function createQueues(sqs: SQSClient, options: CreateQueuesOptions): Promise<FifoQueuePair> {
  validate(options);
  const base = options.name.replace(/\.fifo$/, '');
  const contentBased = String(options.contentBasedDeduplication ?? false);

  const dlqUrl = await createQueue(sqs, `${base}-dlq.fifo`, {
    FifoQueue: 'true',
    ContentBasedDeduplication: contentBased,
    MessageRetentionPeriod: DLQ_RETENTION_SECONDS,
  });
  const dlqArn = await queueArnOf(sqs, dlqUrl);
  const queueUrl = await createQueue(sqs, `${base}.fifo`, {
    FifoQueue: 'true',
    ContentBasedDeduplication: contentBased,
    VisibilityTimeout: String(options.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount }),
  });
  return { queueUrl, queueArn: await queueArnOf(sqs, queueUrl), dlqUrl, dlqArn };
}

export async function queueArnOf(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`GetQueueAttributes returned no QueueArn for ${queueUrl}`);
  return arn;
}

async function createQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (!QueueUrl) throw new Error(`CreateQueue returned no QueueUrl for ${name}`);
  return QueueUrl;
}

function validate(options: CreateQueuesOptions): void {
  const problems: string[] = [];
  // 80 characters is the SQS limit for the full name; `-dlq.fifo` is the longer suffix.
  if (!/^[A-Za-z0-9_-]{1,71}$/.test(options.name.replace(/\.fifo$/, ''))) {
    problems.push(`queue name "${options.name}" must be 1–71 letters, digits, "-" or "_" (before ".fifo")`);
  }
  if (!Number.isInteger(options.maxReceiveCount) || options.maxReceiveCount < 1 || options.maxReceiveCount > 1000) {
    problems.push(`maxReceiveCount must be an integer in 1–1000, got ${options.maxReceiveCount}`);
  }
  const visibility = options.visibilityTimeoutSeconds;
  if (!Number.isInteger(visibility) || visibility < 0 || visibility > 43_200) {
    problems.push(`visibilityTimeoutSeconds must be an integer in 0–43200, got ${visibility}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
