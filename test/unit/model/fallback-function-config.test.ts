import { FALLBACK_FUNCTION_ENV as E, loadFallbackFunctionConfig } from '#config/fallback-function-config';
import { FALLBACK_ENDPOINT_NAME } from '#config/pipeline-config';
import { ConfigError } from '#core/errors';

const URI = 's3://groupgate-models-123/fallback/qwen2.5-0.5b-instruct-q4_k_m.gguf';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadFallbackFunctionConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadFallbackFunctionConfig', () => {
  it('reads the S3 weights and applies the defaults', () => {
    expect(loadFallbackFunctionConfig({ [E.weightsS3Uri]: URI })).toEqual({
      weights: {
        kind: 's3',
        uri: URI,
        bucket: 'groupgate-models-123',
        key: 'fallback/qwen2.5-0.5b-instruct-q4_k_m.gguf',
      },
      weightsDir: '/tmp',
      contextSize: 2048,
      maxTokens: 512,
      endpointName: FALLBACK_ENDPOINT_NAME,
    });
  });

  it('takes a local file instead of S3, and every setting', () => {
    expect(
      loadFallbackFunctionConfig({
        [E.weightsPath]: '/opt/models/tiny.gguf',
        [E.weightsDir]: '/mnt/weights',
        [E.contextSize]: '4096',
        [E.maxTokens]: '128',
        [E.endpointName]: 'other-fallback',
      }),
    ).toEqual({
      weights: { kind: 'file', path: '/opt/models/tiny.gguf' },
      weightsDir: '/mnt/weights',
      contextSize: 4096,
      maxTokens: 128,
      endpointName: 'other-fallback',
    });
  });

  it('names the missing weights, and treats an empty variable as unset', () => {
    expect(problemsOf({ [E.weightsS3Uri]: '  ', [E.weightsPath]: '' })).toEqual([
      `${E.weightsS3Uri}: required (s3://<bucket>/<key>.gguf) unless ${E.weightsPath} names a local file`,
    ]);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf({
      [E.weightsS3Uri]: 'https://bucket.s3.amazonaws.com/model.gguf',
      [E.weightsDir]: 'tmp',
      [E.contextSize]: '2k',
      [E.maxTokens]: '0',
      [E.endpointName]: 'no/slashes',
    });
    expect(problems).toEqual([
      `${E.weightsS3Uri}: must be s3://<bucket>/<key>.gguf`,
      `${E.weightsDir}: must be an absolute path`,
      expect.stringMatching(new RegExp(`^${E.contextSize}: `)),
      expect.stringMatching(new RegExp(`^${E.maxTokens}: `)),
      `${E.endpointName}: must be a SageMaker-style endpoint name`,
    ]);
  });

  it.each([
    ['s3://bucket/model.bin', 'not a GGUF'],
    ['s3://b/model.gguf', 'bucket name too short'],
    ['s3://bucket/', 'no key'],
    ['s3://Bucket_Name/model.gguf', 'not an S3 bucket name'],
    ['s3://BucketName/model.gguf', 'S3 bucket names are lower-case'],
  ])('refuses %s (%s)', (uri) => {
    expect(problemsOf({ [E.weightsS3Uri]: uri })).toEqual([`${E.weightsS3Uri}: must be s3://<bucket>/<key>.gguf`]);
  });

  it('refuses both weights sources at once', () => {
    expect(problemsOf({ [E.weightsS3Uri]: URI, [E.weightsPath]: '/opt/m.gguf' })).toEqual([
      `${E.weightsPath}: set together with ${E.weightsS3Uri}; set only one, so it is clear which model runs`,
    ]);
  });

  it('refuses an answer budget that fills the context', () => {
    expect(problemsOf({ [E.weightsS3Uri]: URI, [E.contextSize]: '512', [E.maxTokens]: '512' })).toEqual([
      `${E.maxTokens}: 512 leaves no room for the prompt in ${E.contextSize}=512`,
    ]);
  });
});
