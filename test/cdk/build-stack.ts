import { App } from 'aws-cdk-lib';
import { type AppConfigInput, parseAppConfig } from '../../lib/config';
import { GroupGateStack } from '../../lib/groupgate-stack';

export const EXAMPLE_MODEL_URI = 's3://example-model-bucket/models/qwen2.5-7b-instruct-int8/';

/**
 * A bare GroupGate stack for Template assertions. Bundling is skipped (`aws:cdk:bundling-stacks: []`): these tests
 * check the template, and `cdk synth` is what proves the handlers bundle.
 */
export function buildStack(overrides: Partial<AppConfigInput> = {}, app = new App({ context: noBundling })) {
  const config = parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, ...overrides });
  return { app, config, stack: new GroupGateStack(app, 'GroupGate', { config }) };
}

export const noBundling = { 'aws:cdk:bundling-stacks': [] };
