import type { ModelBilling } from '#core/cost/model-billing';
import { ModelError } from '#core/errors';
import type { ChatRequest } from '#model/chat-completions';
import type { CircuitState } from '#model/circuit-breaker';
import { DEFAULT_FALLBACK_POLICY, withFallback } from '#model/compose-models';
import type { ModelResult } from '#model/model-client';
import { fakeModel } from '../../helpers/factories';

/** `withFallback` over two scripted clients that record the calls they get. */

const REQUEST: ChatRequest = { messages: [{ role: 'user', content: '几点开会？' }], maxTokens: 32, temperature: 0.3 };
const DEADLINE = Date.now() + 600_000;
const PRIMARY_BILLING: ModelBilling = { kind: 'sagemaker', instanceType: 'ml.g4dn.xlarge' };
const FALLBACK_BILLING: ModelBilling = { kind: 'free' };

/** What a scripted call does: answer with this text, stream these deltas then answer, or throw. */
type Script = { answer: string; deltas?: readonly string[] } | { fail: unknown; deltas?: readonly string[] };

function fakeClient(id: string, billing: ModelBilling, script: Script, circuit: CircuitState = 'closed') {
  const client = fakeModel({
    id,
    billing,
    circuit,
    ...(script.deltas ? { deltas: script.deltas } : {}),
    ...('fail' in script
      ? {
          respond: () => {
            throw script.fail;
          },
        }
      : { answer: script.answer }),
  });
  return { client, calls: client.calls };
}

const primaryFailing = (fail: unknown, deltas?: readonly string[]) =>
  fakeClient('qwen-7b-int8', PRIMARY_BILLING, { fail, ...(deltas ? { deltas } : {}) });
const fallbackAnswering = (deltas?: readonly string[]) =>
  fakeClient('cpu-fallback', FALLBACK_BILLING, { answer: '下午三点。', ...(deltas ? { deltas } : {}) });

const reasonOf = async (p: Promise<unknown>): Promise<ModelError['reason']> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ModelError)) throw new Error(`expected a ModelError, got ${String(err)}`);
  return err.reason;
};

describe('withFallback', () => {
  it.each(['circuit_open', 'throttled', 'server_error'] as const)(
    'falls back when the primary fails with %s, and the result names the fallback as the answering model',
    async (reason) => {
      const primary = primaryFailing(new ModelError('primary down', reason));
      const fallback = fallbackAnswering();
      const model = withFallback(primary.client, fallback.client, DEFAULT_FALLBACK_POLICY);
      const result = await model.invoke(REQUEST, { deadline: DEADLINE });
      expect(result).toMatchObject({ content: '下午三点。', modelId: 'cpu-fallback', billing: FALLBACK_BILLING });
      expect(fallback.calls).toEqual([{ request: REQUEST, options: { deadline: DEADLINE }, stream: false }]);
      expect(primary.calls).toHaveLength(1);
    },
  );

  it.each(['client_error', 'bad_response'] as const)(
    'does not fall back on %s: the primary error is thrown and the fallback never asked',
    async (reason) => {
      const primary = primaryFailing(new ModelError('rejected', reason));
      const fallback = fallbackAnswering();
      const model = withFallback(primary.client, fallback.client, DEFAULT_FALLBACK_POLICY);
      expect(await reasonOf(model.invoke(REQUEST, { deadline: DEADLINE }))).toBe(reason);
      expect(fallback.calls).toEqual([]);
    },
  );

  it("answers from the primary when it answers, reporting the primary's id and billing (control)", async () => {
    const primary = fakeClient('qwen-7b-int8', PRIMARY_BILLING, { answer: '三点。' });
    const fallback = fallbackAnswering();
    const model = withFallback(primary.client, fallback.client, DEFAULT_FALLBACK_POLICY);
    const result = await model.invoke(REQUEST, { deadline: DEADLINE });
    expect(result).toMatchObject({ content: '三点。', modelId: 'qwen-7b-int8', billing: PRIMARY_BILLING });
    expect(fallback.calls).toEqual([]);
  });

  it('never falls back on a non-model error (a defect), which surfaces as itself', async () => {
    const defect = new TypeError('boom');
    const fallback = fallbackAnswering();
    const model = withFallback(primaryFailing(defect).client, fallback.client, DEFAULT_FALLBACK_POLICY);
    await expect(model.invoke(REQUEST, { deadline: DEADLINE })).rejects.toBe(defect);
    expect(fallback.calls).toEqual([]);
  });

  it("throws the primary's error when the fallback fails too, but a fallback defect as itself", async () => {
    const primaryError = new ModelError('circuit open', 'circuit_open');
    const failingFallback = fakeClient('cpu-fallback', FALLBACK_BILLING, {
      fail: new ModelError('busy', 'throttled'),
    });
    const model = withFallback(primaryFailing(primaryError).client, failingFallback.client, DEFAULT_FALLBACK_POLICY);
    await expect(model.invoke(REQUEST, { deadline: DEADLINE })).rejects.toBe(primaryError);

    const defect = new TypeError('fallback bug');
    const buggy = fakeClient('cpu-fallback', FALLBACK_BILLING, { fail: defect });
    const withBug = withFallback(primaryFailing(primaryError).client, buggy.client, DEFAULT_FALLBACK_POLICY);
    await expect(withBug.invoke(REQUEST, { deadline: DEADLINE })).rejects.toBe(defect);
  });

  it("keeps `reserveMs` of the caller's deadline back from the primary for the fallback", async () => {
    const primary = primaryFailing(new ModelError('slow', 'timeout'));
    const fallback = fallbackAnswering();
    const policy = {
      fallBackOn: new Set([...DEFAULT_FALLBACK_POLICY.fallBackOn, 'timeout' as const]),
      reserveMs: 4_000,
    };
    const result = await withFallback(primary.client, fallback.client, policy).invoke(REQUEST, { deadline: DEADLINE });
    expect(result.modelId).toBe('cpu-fallback');
    expect(primary.calls[0]?.options.deadline).toBe(DEADLINE - 4_000);
    expect(fallback.calls[0]?.options.deadline).toBe(DEADLINE);
  });

  it('asks a reserve function with the time the caller has left, per call', async () => {
    const primary = primaryFailing(new ModelError('slow', 'timeout'));
    const fallback = fallbackAnswering();
    const asked: number[] = [];
    const policy = {
      fallBackOn: new Set([...DEFAULT_FALLBACK_POLICY.fallBackOn, 'timeout' as const]),
      reserveMs: (remainingMs: number) => {
        asked.push(remainingMs);
        return Math.floor(remainingMs / 2);
      },
    };
    const now = DEADLINE - 3_000;
    await withFallback(primary.client, fallback.client, policy, () => now).invoke(REQUEST, { deadline: DEADLINE });
    expect(asked).toEqual([3_000]);
    expect(primary.calls[0]?.options.deadline).toBe(DEADLINE - 1_500);
    expect(fallback.calls[0]?.options.deadline).toBe(DEADLINE);
  });

  it('does not hand a timeout to the fallback by default: the primary used the whole deadline', async () => {
    const fallback = fallbackAnswering();
    const model = withFallback(
      primaryFailing(new ModelError('slow', 'timeout')).client,
      fallback.client,
      DEFAULT_FALLBACK_POLICY,
    );
    expect(await reasonOf(model.invoke(REQUEST, { deadline: DEADLINE }))).toBe('timeout');
    expect(fallback.calls).toEqual([]);
  });

  it('never asks the fallback once the deadline has passed; the primary error is thrown', async () => {
    const fallback = fallbackAnswering();
    const primary = primaryFailing(new ModelError('busy', 'throttled'));
    const model = withFallback(primary.client, fallback.client, DEFAULT_FALLBACK_POLICY, () => DEADLINE);
    expect(await reasonOf(model.invoke(REQUEST, { deadline: DEADLINE }))).toBe('throttled');
    expect(fallback.calls).toEqual([]);
  });

  it('follows a narrower policy', async () => {
    const policy = { fallBackOn: new Set(['circuit_open'] as const) };
    const fallback = fallbackAnswering();
    const throttled = withFallback(primaryFailing(new ModelError('busy', 'throttled')).client, fallback.client, policy);
    expect(await reasonOf(throttled.invoke(REQUEST, { deadline: DEADLINE }))).toBe('throttled');
    const open = withFallback(primaryFailing(new ModelError('open', 'circuit_open')).client, fallback.client, policy);
    expect((await open.invoke(REQUEST, { deadline: DEADLINE })).modelId).toBe('cpu-fallback');
  });

  it("describes itself as the primary: id, billing and the primary's circuit", () => {
    const primary = fakeClient('qwen-7b-int8', PRIMARY_BILLING, { answer: 'x' }, 'open');
    const model = withFallback(primary.client, fallbackAnswering().client, DEFAULT_FALLBACK_POLICY);
    expect(model.id).toBe('qwen-7b-int8');
    expect(model.billing).toEqual(PRIMARY_BILLING);
    expect(model.circuitState()).toBe('open');
  });
});

describe('withFallback streaming', () => {
  it("falls back when the primary failed before any delta, and the fallback's deltas reach the caller", async () => {
    const primary = primaryFailing(new ModelError('open', 'circuit_open'));
    const model = withFallback(primary.client, fallbackAnswering(['下午', '三点。']).client, DEFAULT_FALLBACK_POLICY);
    const deltas: string[] = [];
    const result: ModelResult = await model.invokeStream(REQUEST, {
      deadline: DEADLINE,
      onDelta: (d) => deltas.push(d),
    });
    expect(deltas).toEqual(['下午', '三点。']);
    expect(result).toMatchObject({ modelId: 'cpu-fallback', billing: FALLBACK_BILLING });
  });

  it('never falls back once the primary delivered a delta: the member has seen part of its answer', async () => {
    const primary = primaryFailing(new ModelError('stream broke', 'server_error'), ['下午']);
    const fallback = fallbackAnswering(['三点。']);
    const model = withFallback(primary.client, fallback.client, DEFAULT_FALLBACK_POLICY);
    const deltas: string[] = [];
    const stream = model.invokeStream(REQUEST, { deadline: DEADLINE, onDelta: (d) => deltas.push(d) });
    expect(await reasonOf(stream)).toBe('server_error');
    expect(deltas).toEqual(['下午']);
    expect(fallback.calls).toEqual([]);
  });
});
