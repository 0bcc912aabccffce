import { DEFAULT_MESSAGES, type ModelAnswer, type PipelinePorts, runPipeline } from '#core/answer-pipeline';
import { ModelError } from '#core/errors';
import { compileLexicon, DEFAULT_BLOCK_TEXT } from '#core/safety/content-filter';
import { moderate } from '#core/safety/moderation';
import { createPiiMasker } from '#core/safety/pii';
import { streamGuardFactory } from '#core/safety/stream-guard';

/**
 * The streamed answer path of `runPipeline` with the real lexicon filter, PII masker and stream guard: what the
 * member sees while the model writes is always a prefix of the final reply, never a blocked term, never raw PII.
 */
const lexicon = compileLexicon([
  { term: 'forbiddenword', level: 3, category: 'test' },
  { term: '机密项目', level: 3, category: 'test' },
  { term: 'secretword', level: 2, category: 'test' },
]);
const masker = createPiiMasker();
const maskPii = (text: string) => {
  const masked = masker(text);
  return { text: masked.text, found: masked.findings.reduce((n, f) => n + f.count, 0) };
};
const guards = streamGuardFactory({ lexicon, maskPii });

/**
 * A model that streams `answer` in `pieces` deltas and optionally fails after `failAfter` of them; `answeredBy` other
 * than the primary `m` is a fallback model's answer.
 */
function ports(answer: string, pieces: readonly string[], failAfter?: number, answeredBy = 'm'): PipelinePorts<string> {
  const verdict = async (text: string) => {
    const r = await moderate(text, { lexicon });
    return { decision: r.decision, text: r.text, maxLevel: r.maxLevel };
  };
  return {
    loadContext: async () => ({ turns: [], handle: 'v1' }),
    clearContext: async () => undefined,
    cacheKey: () => undefined,
    primaryModelId: 'm',
    cacheGet: async () => undefined,
    moderateInput: verdict,
    moderateOutput: verdict,
    maskPii,
    streamGuard: () => guards(),
    buildMessages: ({ question }) => ({
      messages: [{ role: 'user', content: question }],
      maxTokens: 256,
      sourcesIncluded: 0,
    }),
    invokeModel: async (_messages, _maxTokens, _deadline, onDelta): Promise<ModelAnswer> => {
      pieces.forEach((piece, i) => {
        if (failAfter !== undefined && i === failAfter) throw new ModelError('stream broken', 'server_error');
        onDelta?.(piece);
      });
      return {
        content: answer,
        finishReason: 'stop',
        promptTokens: 5,
        completionTokens: pieces.length,
        latencyMs: 10,
        modelId: answeredBy,
        billing: { kind: 'free' },
      };
    },
    skills: [],
    messages: DEFAULT_MESSAGES,
  };
}

/** Splits `text` into deltas at the given cut positions. */
const splitAt = (text: string, cuts: readonly number[]) => {
  const points = [0, ...cuts.filter((c) => c > 0 && c < text.length).sort((a, b) => a - b), text.length];
  return points.slice(1).map((end, i) => text.slice(points[i], end));
};

async function stream(answer: string, pieces: readonly string[], failAfter?: number, answeredBy?: string) {
  const shown: string[] = [];
  const outcome = await runPipeline(
    { conversationKey: 'k', text: 'question', deadline: Date.now() + 10_000, onVisibleText: (t) => shown.push(t) },
    ports(answer, pieces, failAfter, answeredBy),
  );
  return { shown, outcome };
}

describe('runPipeline, streamed', () => {
  it('shows a clean answer while it is written; every snapshot is a prefix of the final reply', async () => {
    const answer =
      'Deploys run on Fridays at 14:00. Ask the release channel before you start, and keep the runbook open.';
    const { shown, outcome } = await stream(answer, answer.match(/\S+\s*/g) ?? []);
    expect(outcome.reply).toBe(answer);
    expect(shown.length).toBeGreaterThan(3);
    for (const snapshot of shown) expect(answer.startsWith(snapshot)).toBe(true);
    for (let i = 1; i < shown.length; i++) expect((shown[i] ?? '').length).toBeGreaterThan((shown[i - 1] ?? '').length);
  });

  it("a fallback's streamed answer gets the backup-model note at the end; every snapshot is a prefix of the reply", async () => {
    const answer = 'Deploys run on Fridays at 14:00. Ask the release channel before you start.';
    const { shown, outcome } = await stream(answer, answer.match(/\S+\s*/g) ?? [], undefined, 'cpu-fallback');
    expect(outcome.reply).toBe(`${answer}\n\n${DEFAULT_MESSAGES.answeredByFallback}`);
    expect(shown.length).toBeGreaterThan(3);
    for (const snapshot of shown) expect(outcome.reply.startsWith(snapshot)).toBe(true);
    for (const snapshot of shown) expect(snapshot).not.toContain(DEFAULT_MESSAGES.answeredByFallback);
  });

  it.each([
    [
      'a Latin term',
      'The plan mentions the forbiddenword and then goes on for a good while longer than the term.',
      'forbiddenword',
    ],
    ['a CJK term', '下周的安排涉及机密项目的内容,之后还有很长一段与之无关的说明文字要继续写下去。', '机密项目'],
  ])('%s split at every position is never shown, and the reply becomes the refusal', async (_label, answer, term) => {
    for (let cut = 1; cut < answer.length; cut++) {
      const { shown, outcome } = await stream(answer, splitAt(answer, [cut, cut + 1, cut + 3]));
      for (const snapshot of shown) expect(snapshot.includes(term)).toBe(false);
      expect(outcome.reply).toBe(DEFAULT_BLOCK_TEXT.zh);
    }
  });

  it('a phone number arriving one digit per delta is never shown unmasked', async () => {
    const answer =
      'Call the on-call engineer at 13800138000 if the deploy fails, then write it up in the incident log.';
    const { shown, outcome } = await stream(answer, [...answer]);
    for (const snapshot of shown) expect(snapshot).not.toMatch(/1380013|0013800|38000/);
    expect(outcome.reply).not.toContain('13800138000');
    expect(shown.at(-1) && outcome.reply.startsWith(shown.at(-1) ?? '')).toBe(true);
  });

  it('a model that stops mid-answer keeps what was shown and adds the cut-off note', async () => {
    const answer =
      'First step: open the console. Second step: run the deploy. Third step: watch the dashboard for errors.';
    const pieces = answer.match(/\S+\s*/g) ?? [];
    const { shown, outcome } = await stream(answer, pieces, 12);
    expect(shown.length).toBeGreaterThan(0);
    expect(outcome.source).toBe('fallback');
    expect(outcome.reply).toBe(`${shown.at(-1)}\n\n${DEFAULT_MESSAGES.streamInterrupted}`);
    expect(outcome.modelError?.reason).toBe('server_error');
  });

  it('a stream that completed a blocked term and then broke ends as the refusal, not the shown text', async () => {
    const answer = 'The plan is long and detailed, and it names the forbiddenword before the model stops.';
    const pieces = answer.match(/\S+\s*/g) ?? [];
    const { shown, outcome } = await stream(answer, pieces, pieces.length - 2);
    expect(shown.length).toBeGreaterThan(0);
    expect(outcome.reply).toBe(DEFAULT_BLOCK_TEXT.zh);
    expect(outcome.outputFilter).toBe('block');
  });

  it('a model that fails before anything was shown gets the usual apology', async () => {
    const { shown, outcome } = await stream('never', ['never'], 0);
    expect(shown).toEqual([]);
    expect(outcome.reply).toBe(DEFAULT_MESSAGES.modelUnavailable);
  });
});
