import { createSageMakerClient } from '#model/sagemaker-client';
import { createInstantEngine, instantTokens } from '../../../sandbox/model/instant-engine';
import { startModelServer } from '../../../sandbox/model/model-server';

/** The model server's stream pacing (MODEL_STREAM_PACE_MS), observed through the real SDK client. */
const QUESTION = 'one two three four five six';
const PACE_MS = 40;

describe('model server stream pacing', () => {
  it('spaces streamed deltas by the pace and keeps the content, while plain invocations are not slowed', async () => {
    const server = await startModelServer({ engine: createInstantEngine(), streamPaceMs: PACE_MS });
    try {
      const client = createSageMakerClient({
        endpointName: 'groupgate-llm',
        endpointUrl: server.url,
        region: 'us-east-1',
        modelId: 'instant',
        instanceType: 'ml.g4dn.xlarge',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        retry: { maxAttempts: 1 },
      });
      const request = { messages: [{ role: 'user' as const, content: QUESTION }], maxTokens: 50, temperature: 0 };
      const arrivals: number[] = [];
      const asked = Date.now();
      const result = await client.invokeStream(request, {
        deadline: Date.now() + 10_000,
        onDelta: () => arrivals.push(Date.now()),
      });
      const tokens = instantTokens(`echo: ${QUESTION}`);
      expect(result.content).toBe(`echo: ${QUESTION}`);
      expect(arrivals).toHaveLength(tokens.length);
      // The server waits the pace between deltas, so the last cannot arrive sooner than that many paces after the ask.
      // Measured from the ask, not from the first arrival: a first delta the client reads late (a busy machine) would
      // shorten first-to-last without the server having sent any faster. Timers may fire up to a few ms early.
      expect(arrivals.at(-1)! - asked).toBeGreaterThanOrEqual((tokens.length - 1) * PACE_MS - 10);

      const started = Date.now();
      await client.invoke(request, { deadline: Date.now() + 10_000 });
      expect(Date.now() - started).toBeLessThan((tokens.length - 1) * PACE_MS);
    } finally {
      await server.close();
    }
  });

  it.each([-1, 1.5, Number.NaN])('refuses streamPaceMs %p', async (streamPaceMs) => {
    await expect(startModelServer({ engine: createInstantEngine(), streamPaceMs })).rejects.toThrow(RangeError);
  });
});
