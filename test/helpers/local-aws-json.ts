import { PLATFORMS } from '#platforms/types';
import { AWS_ENV } from '#shared/aws-env';
import { type AwsJsonClient, type AwsJsonService, createAwsJsonClient } from '#shared/aws-json-client';
import { credentialEnv, SANDBOX_CREDENTIALS } from '../../sandbox/defaults';
import { LOCAL_CREDENTIALS } from '../../sandbox/local-aws/clients';

/** The hand-signed client (the webhook's) pointed at a local stand-in, with the stand-ins' placeholder credentials. */
export function localJsonClient(service: AwsJsonService, endpoint: string, region = 'us-east-1'): AwsJsonClient {
  return createAwsJsonClient({ service, region, endpoint: new URL(endpoint), credentials: LOCAL_CREDENTIALS });
}

/**
 * The AWS part of a handler's environment that points its clients at dynalite and fauxqs, as the sandbox sets it
 * (`sandbox/handler-env.ts`): pass it with the config to `createDefaultIngestDeps` to run the production clients.
 */
export function localAwsEnv(aws: {
  readonly region: string;
  readonly endpoints: { readonly dynamo: string; readonly sqs: string };
}): Record<string, string> {
  return {
    [AWS_ENV.region]: aws.region,
    [AWS_ENV.accessKeyId]: LOCAL_CREDENTIALS.accessKeyId,
    [AWS_ENV.secretAccessKey]: LOCAL_CREDENTIALS.secretAccessKey,
    [`${AWS_ENV.endpointUrl}_DYNAMODB`]: aws.endpoints.dynamo,
    [`${AWS_ENV.endpointUrl}_SQS`]: aws.endpoints.sqs,
  };
}

/**
 * The webhook's whole environment against local stand-ins: every platform enabled with the sandbox's credentials, its
 * clients on dynalite and fauxqs (`localAwsEnv`), and a reply-handle origin nothing listens on.
 */
export function localWebhookEnv(aws: {
  readonly region: string;
  readonly endpoints: { readonly dynamo: string; readonly sqs: string };
  readonly queues: { readonly queueUrl: string };
  readonly tables: { readonly events: string };
}): Record<string, string> {
  return {
    ...credentialEnv(SANDBOX_CREDENTIALS),
    ...localAwsEnv(aws),
    ENABLED_PLATFORMS: PLATFORMS.join(','),
    QUEUE_URL: aws.queues.queueUrl,
    EVENTS_TABLE: aws.tables.events,
    REPLY_HANDLE_ORIGINS: 'http://127.0.0.1:9',
  };
}
