import {
  type InvokeEndpointCommand,
  type InvokeEndpointCommandOutput,
  ModelError,
  ModelNotReadyException,
  ServiceUnavailable,
  ValidationError,
} from '@aws-sdk/client-sagemaker-runtime';
import { ConfigError } from '#core/errors';
import { EmbeddingError } from '#knowledge/embeddings/embedder';
import { createSageMakerEmbedder, type SageMakerEmbedderOptions } from '#knowledge/embeddings/sagemaker-embedder';

/**
 * `createSageMakerEmbedder` with a fake runtime client (no network): `send` records each command and answers with the
 * next scripted reply: a JSON body, raw text, an SDK exception (the SDK's own classes), or a hang until aborted.
 */
type Reply = { json: unknown } | { text: string } | { error: Error } | 'hang';

interface Sent {
  readonly endpointName: string | undefined;
  readonly contentType: string | undefined;
  readonly body: { inputs: string[] };
}

const DIMS = 3;
const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

/** The request body as text; the embedder sends bytes (`ArrayBuffer.isView`: realm-independent under jest). */
function textOf(body: InvokeEndpointCommand['input']['Body']): string {
  if (typeof body === 'string') return body;
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  throw new Error('the embedder sent a body that is neither text nor bytes');
}

function fakeClient(script: Reply[]) {
  const sent: Sent[] = [];
  const client: SageMakerEmbedderOptions['client'] = {
    async send(command: InvokeEndpointCommand, options?: { abortSignal?: AbortSignal }) {
      const body = command.input.Body;
      sent.push({
        endpointName: command.input.EndpointName,
        contentType: command.input.ContentType,
        body: JSON.parse(textOf(body)) as { inputs: string[] },
      });
      const reply = script.shift() ?? { error: new Error('unscripted') };
      if (reply === 'hang') {
        return new Promise<InvokeEndpointCommandOutput>((_, reject) => {
          options?.abortSignal?.addEventListener('abort', () =>
            reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' })),
          );
        });
      }
      if ('error' in reply) throw reply.error;
      const text = 'json' in reply ? JSON.stringify(reply.json) : reply.text;
      const bytes = new TextEncoder().encode(text);
      return { ...meta(200), Body: Object.assign(bytes, { transformToString: () => text }) };
    },
  };
  return { client, sent };
}

const embedderWith = (script: Reply[], extra: Partial<SageMakerEmbedderOptions> = {}) => {
  const { client, sent } = fakeClient(script);
  const embedder = createSageMakerEmbedder({
    endpointName: 'tei-bge-m3',
    model: 'bge-m3',
    dimensions: DIMS,
    client,
    ...extra,
  });
  return { embedder, sent };
};

const failureOf = async (promise: Promise<unknown>): Promise<EmbeddingError> => {
  try {
    await promise;
  } catch (err) {
    if (err instanceof EmbeddingError) return err;
    throw err;
  }
  throw new Error('expected an EmbeddingError');
};

describe('createSageMakerEmbedder', () => {
  it('sends {"inputs": [...]} as JSON to the endpoint and reads a number[][] answer (TEI)', async () => {
    const { embedder, sent } = embedderWith([
      {
        json: [
          [3, 4, 0],
          [0, 0, 2],
        ],
      },
    ]);
    expect(embedder.model).toBe('bge-m3');
    expect(embedder.dimensions).toBe(DIMS);
    const vectors = await embedder.embed(['first', 'second'], 'document');
    expect(sent).toEqual([
      { endpointName: 'tei-bge-m3', contentType: 'application/json', body: { inputs: ['first', 'second'] } },
    ]);
    expect(vectors.map((v) => Array.from(v))).toEqual([
      [expect.closeTo(0.6, 6), expect.closeTo(0.8, 6), 0],
      [0, 0, 1],
    ]);
  });

  it('reads an {"embeddings": number[][]} answer', async () => {
    const { embedder } = embedderWith([{ json: { embeddings: [[0, 5, 0]] } }]);
    const [vector] = await embedder.embed(['x'], 'query');
    expect(Array.from(vector ?? [])).toEqual([0, 1, 0]);
  });

  it('batches by maxBatch (32 by default), in order, with query/document prefixes and the maxChars cut', async () => {
    const texts = Array.from({ length: 70 }, (_, i) => `text ${i}`);
    const answer = (n: number): Reply => ({ json: Array.from({ length: n }, () => [1, 0, 0]) });
    const { embedder, sent } = embedderWith([answer(32), answer(32), answer(6), answer(1)], {
      queryPrefix: 'query: ',
      documentPrefix: 'passage: ',
      maxChars: 14,
    });
    expect(await embedder.embed(texts, 'document')).toHaveLength(70);
    expect(sent.map((s) => s.body.inputs.length)).toEqual([32, 32, 6]);
    expect(sent.flatMap((s) => s.body.inputs)).toEqual(texts.map((t) => `passage: ${t}`.slice(0, 14)));
    await embedder.embed(['deploy'], 'query');
    expect(sent[3]?.body.inputs).toEqual(['query: deploy']);
  });

  it.each([
    ['a count that differs', { json: [[1, 0, 0]] }, 'bad_response', /1 embeddings for 2 inputs/],
    [
      'another length',
      {
        json: [
          [1, 0, 0, 0],
          [0, 1, 0, 0],
        ],
      },
      'dimensions',
      /4 dimensions/,
    ],
    ['token-level features', { json: [[[1, 0, 0]], [[0, 1, 0]]] }, 'bad_response', /token-level/],
    ['a body that is not JSON', { text: 'Internal Server Error' }, 'bad_response', /not JSON/],
    ['another shape', { json: { vectors: [] } }, 'bad_response', /off contract/],
  ] as const)('refuses %s', async (_, reply, code, message) => {
    const { embedder } = embedderWith([reply]);
    const error = await failureOf(embedder.embed(['a', 'b'], 'document'));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('refuses an empty answer', async () => {
    const { embedder } = embedderWith([{ text: '' }]);
    expect((await failureOf(embedder.embed(['a'], 'document'))).code).toBe('bad_response');
  });

  const containerError = (
    OriginalStatusCode: number,
    message = `Received error (${OriginalStatusCode}) from primary`,
  ) => new ModelError({ message, OriginalStatusCode, ...meta(424) });
  it.each([
    { label: 'the container’s 5xx (ModelError)', code: 'unavailable', error: containerError(500) },
    { label: 'the container’s 413 (ModelError)', code: 'too_long', error: containerError(413) },
    {
      label: 'a too-long message in a client ModelError',
      code: 'too_long',
      error: containerError(400, 'Input validation error: `inputs` must have less than 512 tokens. Given: 900'),
    },
    { label: 'the container’s other 4xx (ModelError)', code: 'rejected', error: containerError(400) },
    { label: 'the container’s 429 (ModelError)', code: 'throttled', error: containerError(429) },
    {
      label: 'ThrottlingException',
      code: 'throttled',
      error: Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', ...meta(400) }),
    },
    {
      label: 'ModelNotReadyException',
      code: 'throttled',
      error: new ModelNotReadyException({ message: 'not ready', ...meta(429) }),
    },
    {
      label: 'ServiceUnavailable',
      code: 'unavailable',
      error: new ServiceUnavailable({ message: 'unavailable', ...meta(503) }),
    },
    {
      label: 'ValidationError',
      code: 'rejected',
      error: new ValidationError({ message: 'Endpoint tei-bge-m3 not found', ...meta(400) }),
    },
    {
      label: 'a network failure',
      code: 'unavailable',
      error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    },
  ])('maps $label to $code', async ({ error, code }) => {
    const { embedder, sent } = embedderWith([{ error }]);
    const failure = await failureOf(embedder.embed(['a'], 'document'));
    expect(failure.code).toBe(code);
    expect(failure.message).toContain('Embedding endpoint tei-bge-m3');
    expect(failure.cause).toBe(error);
    expect(sent).toHaveLength(1);
  });

  it('is timeout when the endpoint does not answer within timeoutMs', async () => {
    const { embedder } = embedderWith(['hang'], { timeoutMs: 100 });
    const error = await failureOf(embedder.embed(['a'], 'document'));
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/within 100 ms/);
  });

  it('is timeout (aborted by the caller) when the caller’s signal aborts', async () => {
    const { embedder, sent } = embedderWith(['hang']);
    const controller = new AbortController();
    const pending = embedder.embed(['a'], 'query', { signal: controller.signal });
    while (sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    const error = await failureOf(pending);
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/aborted by the caller/);
  });

  it('makes no call for no texts', async () => {
    const { embedder, sent } = embedderWith([]);
    await expect(embedder.embed([], 'document')).resolves.toEqual([]);
    expect(sent).toHaveLength(0);
  });

  it('refuses a bad configuration at construction', () => {
    const { client } = fakeClient([]);
    const build = () => createSageMakerEmbedder({ endpointName: '', model: 'm', dimensions: 0, client, maxBatch: 0 });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/endpointName[\s\S]*dimensions[\s\S]*maxBatch/);
  });
});
