import { createLarkLambda } from './lark-app';

/**
 * Entry of the minimal Feishu-SDK-on-Lambda bundle the cold-start comparison builds with GroupGate's esbuild
 * settings. Placeholder credentials (a real app would read them from its environment).
 */
export const { handler } = createLarkLambda({
  encryptKey: process.env.FEISHU_ENCRYPT_KEY ?? 'bench-encrypt-key',
  verificationToken: process.env.FEISHU_VERIFICATION_TOKEN ?? 'bench-verification-token',
});
