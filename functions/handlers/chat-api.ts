// Placeholder entry so the CDK app can bundle; replaced by the real handler in its own change.
export const handler = async (): Promise<never> => {
  throw new Error('chat-api handler not implemented yet');
};
