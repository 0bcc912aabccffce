#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError } from '#core/errors';
import { readAppConfig } from '../lib/config';
import { GroupGateStack } from '../lib/groupgate-stack';

const app = new App();
try {
  const config = readAppConfig(app.node);
  // Environment-agnostic on purpose: synth works offline on a fresh clone; region-specific values are CFN tokens.
  new GroupGateStack(app, 'GroupGate', {
    config,
    description: 'GroupGate: a private LLM in group chats (Feishu/Lark, DingTalk, WeCom, Slack)',
  });
  // Unacknowledged findings fail the synth; acknowledgements sit next to their resources.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}
