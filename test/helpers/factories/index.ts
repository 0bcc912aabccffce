/**
 * Shared test builders: queue messages and SQS records per platform, `/v1/chat` requests, a scripted model, a
 * recording chat platform, and the functions' configs. Each builds a valid default and takes overrides, so a test
 * states only what it is about.
 */
export { type ChatApiEventOptions, chatApiEvent, MEMBER_CONTEXT } from './chat-api-event';
export { chatApiConfig, pipelineConfig, TEST_TABLES_ENV, workerConfig } from './config';
export {
  type FakeModel,
  type FakeModelOptions,
  fakeModel,
  type ModelCall,
  type ModelReply,
  type ModelResponder,
  type ModelStep,
  modelError,
  modelReply,
  TEST_MODEL_BILLING,
  TEST_MODEL_ID,
} from './model';
export { type FakePlatform, type FakePlatformOptions, fakePlatform, type SendResponder } from './platform';
export { FACTORY_NOW, incomingMessage, type QueuedEventOverrides, queuedEvent } from './queued-event';
export { type SqsRecordOptions, sqsEventOf, sqsRecordOf } from './sqs-record';
