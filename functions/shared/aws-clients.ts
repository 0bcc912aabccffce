import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsCredentials } from './aws-sigv4';

/**
 * AWS clients, created once per cold start. Endpoints come from the SDK's own resolution, so the sandbox points
 * them at its local stand-ins with the standard `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS` variables and
 * the code makes exactly the calls it makes in AWS. Tests pass explicit endpoints.
 */
export interface AwsClients {
  readonly dynamo: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
}

export interface AwsClientOptions {
  readonly region?: string;
  readonly dynamoEndpoint?: string;
  readonly sqsEndpoint?: string;
  /** Static credentials instead of the SDK's default provider chain. */
  readonly credentials?: AwsCredentials;
}

export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const credentials = options.credentials ? { credentials: options.credentials } : {};
  const dynamo = new DynamoDBClient({
    region,
    ...credentials,
    ...(options.dynamoEndpoint ? { endpoint: options.dynamoEndpoint } : {}),
  });
  const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  // The queue URL's host is not used as the endpoint, so AWS_ENDPOINT_URL_SQS (the sandbox) wins over it.
  const sqs = new SQSClient({
    region,
    useQueueUrlAsEndpoint: false,
    ...credentials,
    ...(options.sqsEndpoint ? { endpoint: options.sqsEndpoint } : {}),
  });
  return { dynamo, doc, sqs };
}
