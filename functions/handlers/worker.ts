// Placeholder entry so the CDK app can bundle; replaced by the real handler in its own change.
export const handler = async (): Promise<never> => {
  throw new Error('worker handler not implemented yet');
};
