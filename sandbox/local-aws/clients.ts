import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { DYNAMODB_ATTEMPT_TIMEOUT_MS } from '#shared/aws-clients';
import { createAwsJsonClient, DYNAMODB } from '#shared/aws-json-client';
import { createJsonDocumentClient, type DocumentClient } from '#shared/json-document-client';

export interface AwsClientsOptions {
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  /** @default 'us-east-1' */
  readonly region?: string;
}

export interface AwsClients {
  readonly dynamo: DynamoDBClient;
  /** The functions' own document client (hand-signed, `functions/shared/json-document-client.ts`). */
  readonly doc: DocumentClient;
  readonly sqs: SQSClient;
  /** Closes the clients' keep-alive sockets so the local servers can stop promptly. */
  destroy(): void;
}

/** The stand-ins accept any credentials; these make it obvious in a log that no AWS account is involved. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/**
 * Every setting the SDK would otherwise look up in the environment or in ~/.aws/{config,credentials} is given
 * explicitly (the SDK only loads a setting that is left undefined), so a developer's real AWS profile can neither
 * leak into the sandbox nor redirect it.
 */
function localClientConfig(endpoint: string, region: string): SQSClientConfig & DynamoDBClientConfig {
  return {
    endpoint,
    region,
    credentials: LOCAL_CREDENTIALS,
    defaultsMode: 'standard',
    retryMode: 'standard',
    maxAttempts: 3,
    useFipsEndpoint: false,
    useDualstackEndpoint: false,
    authSchemePreference: ['sigv4'],
    userAgentAppId: 'groupgate-sandbox',
    requestHandler: { connectionTimeout: 2000 },
  };
}

export function createAwsClients(options: AwsClientsOptions): AwsClients {
  const region = options.region ?? 'us-east-1';
  const dynamo = new DynamoDBClient({
    ...localClientConfig(options.dynamoEndpoint, region),
    accountIdEndpointMode: 'disabled',
    endpointDiscoveryEnabled: false,
  });
  const sqs = new SQSClient(localClientConfig(options.sqsEndpoint, region));
  const dynamodbJson = createAwsJsonClient({
    service: DYNAMODB,
    region,
    endpoint: new URL(options.dynamoEndpoint),
    credentials: LOCAL_CREDENTIALS,
    attemptTimeoutMs: DYNAMODB_ATTEMPT_TIMEOUT_MS,
  });
  const doc = createJsonDocumentClient(dynamodbJson);
  return {
    dynamo,
    doc,
    sqs,
    destroy() {
      dynamodbJson.destroy();
      dynamo.destroy();
      sqs.destroy();
    },
  };
}
