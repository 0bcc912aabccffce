import { createBoltLambda } from './bolt-app';

/**
 * Entry of the minimal Bolt-on-Lambda bundle the cold-start comparison builds with the same esbuild settings as
 * GroupGate's functions. Placeholder credentials (a real app would read them from its environment).
 */
export const { handler } = createBoltLambda({
  signingSecret: process.env.SLACK_SIGNING_SECRET ?? 'bench-signing-secret',
  botToken: process.env.SLACK_BOT_TOKEN ?? 'xoxb-bench-token',
  botUserId: process.env.SLACK_BOT_USER_ID ?? 'UBENCHBOT',
});
