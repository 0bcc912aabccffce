import { Duration } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface ChatQueueProps {
  /** The worker's timeout; the visibility timeout is six times it, as AWS advises for Lambda event sources. */
  readonly workerTimeout: Duration;
  /** Receives before a message is moved to the DLQ. */
  readonly maxReceiveCount: number;
}

/**
 * The FIFO queue between webhook and worker, and its FIFO dead-letter queue. Message group = conversation key, so
 * one member's turns stay ordered while different conversations run in parallel (high-throughput FIFO mode).
 * Both queues are encrypted with a customer managed key and refuse non-TLS requests.
 */
export class ChatQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly key: Key;

  constructor(scope: Construct, id: string, props: ChatQueueProps) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      enableKeyRotation: true,
      description: 'Encrypts the GroupGate chat event queue and its dead-letter queue',
    });
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      fifo: true,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Queue', {
      fifo: true,
      contentBasedDeduplication: false,
      deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      dataKeyReuse: Duration.minutes(5),
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.workerTimeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });
  }
}
