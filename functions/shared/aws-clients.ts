import { awsJsonClientFromEnv, DYNAMODB } from './aws-json-client';
import type { AwsCredentials } from './aws-sigv4';
import { type CallWrapper, createJsonDocumentClient, type DocumentClient } from './json-document-client';

/**
 * The functions' DynamoDB client, created once per cold start: lib-dynamodb's commands over the hand-signed JSON
 * client (`json-document-client.ts`). Region, endpoint and credentials come from the AWS-defined environment
 * variables (`aws-env.ts`), so the sandbox points it at dynalite with `AWS_ENDPOINT_URL_DYNAMODB` and the code makes
 * exactly the calls it makes in AWS. Tests pass explicit values.
 */
export interface AwsClients {
  readonly doc: DocumentClient;
}

export interface AwsClientOptions {
  readonly region?: string;
  readonly dynamoEndpoint?: string;
  /** Static credentials instead of the environment's. */
  readonly credentials?: AwsCredentials;
  /** Wraps every DynamoDB call: the traced functions pass `traced` (`tracer.ts`), which the webhook must not load. */
  readonly wrapCalls?: CallWrapper;
}

/**
 * One try's cut-off for the functions' DynamoDB calls. Not the webhook's 2 s: a conditional write whose response is
 * merely slow would be retried and fail on its own committed write (a claim or `sending` fence refused by itself, the
 * answer never sent). The SDK this client replaced had no cut-off at all; 30 s only ends a socket that is truly hung,
 * well inside the functions' timeouts.
 */
export const DYNAMODB_ATTEMPT_TIMEOUT_MS = 30_000;

export function createAwsClients(
  options: AwsClientOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): AwsClients {
  const dynamodb = awsJsonClientFromEnv(DYNAMODB, env, {
    attemptTimeoutMs: DYNAMODB_ATTEMPT_TIMEOUT_MS,
    ...(options.region ? { region: options.region } : {}),
    ...(options.dynamoEndpoint ? { endpoint: new URL(options.dynamoEndpoint) } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  return { doc: createJsonDocumentClient(dynamodb, options.wrapCalls) };
}
