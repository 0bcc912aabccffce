import type { FinishReason } from '#model/chat-completions';
import { ModelError } from './errors';
import { commandForm, stripInvisible } from './safety/sanitise-input';

/**
 * The answering pipeline shared by the worker (chat platforms) and `/v1/chat`: invisible characters stripped →
 * commands (`/reset`, `/cost`; no model call) → input safety and PII masking (question and REST `context`) → context
 * → prompt → FAQ cache → model → output safety → output PII masking. It decides the reply; delivering it and
 * persisting the turn are the caller's job, because the worker must record the delivery atomically with the turn.
 *
 * The FAQ cache serves an answer only for the same model input: the key is computed from the text the model sees
 * (after stripping and masking) and the effective reply-token ceiling, and only whole, clean answers are stored
 * (natural end, under the token ceiling, output filter `allow`, no PII in the answer, not the apology).
 *
 * Every dependency is a narrow port so this module tests without AWS and the callers compose real stores.
 */

export interface Turn {
  readonly role: 'user' | 'assistant';
  readonly content: string;
}

export interface TurnInput {
  readonly conversationKey: string;
  /** The question, after trigger rules. */
  readonly text: string;
  /**
   * Optional reference text supplied with a REST call (`context` field); never treated as instructions. It goes
   * through the same stripping, input moderation and PII masking as the question, and is never stored.
   */
  readonly extraContext?: string;
  readonly maxTokens?: number;
  /** Per-group system prompt override. */
  readonly systemPrompt?: string;
  /** Mask PII in what is sent to the model (default true; operators can turn it off per group). */
  readonly maskModelInput?: boolean;
  /**
   * Mask PII the model writes before the reply is posted (default true; a group can opt out). Context and audit
   * hold the masked reply either way.
   */
  readonly maskModelOutput?: boolean;
  /** Absolute ms by which the model call must finish. */
  readonly deadline: number;
}

export type FilterDecision = 'allow' | 'mask' | 'block';

export interface SafetyVerdict {
  readonly decision: FilterDecision;
  readonly text: string;
  readonly maxLevel: number;
}

export interface ModelAnswer {
  readonly content: string;
  /** Only `stop` is a whole answer; a `length` answer was cut at the token ceiling. */
  readonly finishReason: FinishReason;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly latencyMs: number;
  readonly timeToFirstTokenMs?: number;
  readonly modelId: string;
}

export interface LoadedContext<H = unknown> {
  readonly turns: readonly Turn[];
  /** Opaque handle the caller passes back to save (e.g. the version for optimistic locking). */
  readonly handle: H;
}

export interface PipelinePorts<H = unknown> {
  readonly loadContext: (key: string) => Promise<LoadedContext<H>>;
  readonly clearContext: (key: string) => Promise<void>;
  /**
   * The FAQ cache key of `question` (exactly as the model receives it) answered with at most `maxTokens` reply
   * tokens, or undefined when the question must not be cached.
   */
  readonly cacheKey: (question: string, maxTokens: number) => string | undefined;
  readonly cacheGet: (key: string) => Promise<string | undefined>;
  readonly moderateInput: (text: string) => Promise<SafetyVerdict>;
  readonly moderateOutput: (text: string) => Promise<SafetyVerdict>;
  readonly maskPii: (text: string) => { readonly text: string; readonly found: number };
  readonly buildMessages: (input: {
    readonly systemPrompt?: string;
    readonly turns: readonly Turn[];
    readonly question: string;
    readonly extraContext?: string;
    readonly maxTokens?: number;
  }) => {
    readonly messages: readonly { role: 'system' | 'user' | 'assistant'; content: string }[];
    readonly maxTokens: number;
  };
  readonly invokeModel: (
    messages: readonly { role: 'system' | 'user' | 'assistant'; content: string }[],
    maxTokens: number,
    deadline: number,
  ) => Promise<ModelAnswer>;
  /**
   * The `/cost` command's reply: the asking member's and their group's usage this month. Absent where the caller
   * cannot name the member; `/cost` is then an ordinary question.
   */
  readonly usage?: () => Promise<string>;
  readonly messages: PipelineMessages;
}

/** Fixed texts members see; configurable per deployment (language, tone). */
export interface PipelineMessages {
  readonly contextCleared: string;
  readonly inputBlocked: string;
  readonly modelUnavailable: string;
  readonly emptyQuestion: string;
}

export const DEFAULT_MESSAGES: PipelineMessages = {
  contextCleared: '已清除本会话的上下文。Context cleared — the next question starts fresh.',
  inputBlocked: '内容包含敏感信息,请重新表述。Your message contains restricted content; please rephrase.',
  modelUnavailable:
    '抱歉,模型暂时无法回答,请稍后再试。Sorry, the model cannot answer right now — please try again shortly.',
  emptyQuestion: '请在 @ 我之后输入问题。Please type a question after mentioning me.',
};

/** Recognised in `commandForm`: after invisible-character stripping, NFKC (`／reset`), lower case and trimming. */
const RESET_COMMANDS = new Set(['/reset', '#清除记忆', '/清除记忆']);
const COST_COMMANDS = new Set(['/cost', '#费用', '/费用']);

export type PipelineOutcome<H = unknown> = {
  readonly reply: string;
  /** How the reply came about, for audit, metrics and the ledger. */
  readonly source: 'model' | 'cache' | 'command' | 'blocked_input' | 'fallback' | 'empty';
  readonly outputFilter: FilterDecision;
  readonly inputFilter: FilterDecision;
  readonly model?: ModelAnswer;
  /** The masked question as stored in context and audit. */
  readonly storedQuestion: string;
  /** Set when the turn should be appended to the context. */
  readonly saveTurn?: { readonly context: LoadedContext<H>; readonly user: string; readonly assistant: string };
  /** Set when the answer should be cached under this key. */
  readonly cachePut?: { readonly key: string; readonly answer: string };
  /** PII found in the question and the REST `context`. */
  readonly piiFound: number;
  /** PII found in the answer (model or cache): masked in the reply unless the group opted out; always in context. */
  readonly outputPiiFound?: number;
  readonly modelError?: ModelError;
};

/** The stricter of two filter decisions (block > mask > allow). */
function stricter(a: FilterDecision, b: FilterDecision | undefined): FilterDecision {
  if (a === 'block' || b === 'block') return 'block';
  return a === 'mask' || b === 'mask' ? 'mask' : 'allow';
}

export async function runPipeline<H>(input: TurnInput, ports: PipelinePorts<H>): Promise<PipelineOutcome<H>> {
  // Stripped once, here: every later stage (commands, safety, PII, context, cache key, model, audit) sees this text.
  const text = stripInvisible(input.text).trim();
  const rawContext = input.extraContext === undefined ? undefined : stripInvisible(input.extraContext);
  // A blank reference text is no reference text (the prompt builder drops it too), so it does not block caching.
  const extraContext = rawContext?.trim() ? rawContext : undefined;
  const base = { inputFilter: 'allow', outputFilter: 'allow', piiFound: 0 } as const;
  const command = commandForm(text);
  if (RESET_COMMANDS.has(command)) {
    await ports.clearContext(input.conversationKey);
    return { ...base, reply: ports.messages.contextCleared, source: 'command', storedQuestion: text };
  }
  if (ports.usage && COST_COMMANDS.has(command)) {
    return { ...base, reply: await ports.usage(), source: 'command', storedQuestion: text };
  }
  if (text.length === 0) return { ...base, reply: ports.messages.emptyQuestion, source: 'empty', storedQuestion: '' };

  // The REST `context` reaches the model like the question, so it passes the same filters.
  const [questionVerdict, contextVerdict] = await Promise.all([
    ports.moderateInput(text),
    extraContext === undefined ? undefined : ports.moderateInput(extraContext),
  ]);
  const inputFilter = stricter(questionVerdict.decision, contextVerdict?.decision);
  // A masked lexicon term is masked for everyone downstream (model, context, audit), like PII.
  const moderatedQuestion = questionVerdict.decision === 'mask' ? questionVerdict.text : text;
  const moderatedContext = contextVerdict?.decision === 'mask' ? contextVerdict.text : extraContext;
  const masked = ports.maskPii(moderatedQuestion);
  const maskedContext = moderatedContext === undefined ? undefined : ports.maskPii(moderatedContext);
  const piiFound = masked.found + (maskedContext?.found ?? 0);
  const storedQuestion = masked.text;
  if (inputFilter === 'block') {
    return {
      ...base,
      inputFilter,
      piiFound,
      reply: ports.messages.inputBlocked,
      source: 'blocked_input',
      storedQuestion,
    };
  }
  const maskInput = input.maskModelInput !== false;
  const question = maskInput ? storedQuestion : moderatedQuestion;
  const reference = maskInput ? maskedContext?.text : moderatedContext;
  const maskOutput = input.maskModelOutput !== false;
  const context = await ports.loadContext(input.conversationKey);

  const prompt = ports.buildMessages({
    systemPrompt: input.systemPrompt,
    turns: context.turns,
    question,
    extraContext: reference,
    maxTokens: input.maxTokens,
  });
  // Only context-free questions without a per-call reference text or PII are answered from the FAQ cache: with
  // history or reference text the same words can mean something else, and a question that named a person's phone
  // or ID is personal even once masked (the key is computed from the masked text, so the port cannot tell). The
  // key is taken from what the model receives: the question as sent and the effective reply-token ceiling.
  const cacheable = context.turns.length === 0 && reference === undefined && piiFound === 0;
  const cacheKey = cacheable ? ports.cacheKey(question, prompt.maxTokens) : undefined;
  if (cacheKey) {
    const cached = await ports.cacheGet(cacheKey);
    if (cached !== undefined) {
      // Entries are stored only without PII; masking again guards against an entry written by an older version.
      const stored = ports.maskPii(cached);
      return {
        ...base,
        inputFilter,
        piiFound,
        outputPiiFound: stored.found,
        reply: maskOutput ? stored.text : cached,
        source: 'cache',
        storedQuestion,
        saveTurn: { context, user: storedQuestion, assistant: stored.text },
      };
    }
  }

  let model: ModelAnswer;
  try {
    model = await ports.invokeModel(prompt.messages, prompt.maxTokens, input.deadline);
  } catch (err) {
    if (!(err instanceof ModelError)) throw err;
    return {
      ...base,
      inputFilter,
      piiFound,
      reply: ports.messages.modelUnavailable,
      source: 'fallback',
      storedQuestion,
      modelError: err,
    };
  }

  const output = await ports.moderateOutput(model.content);
  // An answer the output filter emptied (or an empty answer) is replaced by the apology, which is never cached.
  const answered = output.text.trim().length > 0;
  const outputMasked = answered ? ports.maskPii(output.text) : { text: ports.messages.modelUnavailable, found: 0 };
  const reply = answered && !maskOutput ? output.text : outputMasked.text;
  // Whole: the model ended on its own. A `length` stop, or a reply that used the whole token budget (a server that
  // does not report `length`), is a truncated answer — never served to anyone else.
  const whole = model.finishReason === 'stop' && model.completionTokens < prompt.maxTokens;
  const cachePut =
    cacheKey && answered && whole && output.decision === 'allow' && outputMasked.found === 0
      ? { key: cacheKey, answer: reply }
      : undefined;
  return {
    ...base,
    inputFilter,
    outputFilter: output.decision,
    piiFound,
    outputPiiFound: outputMasked.found,
    reply,
    source: 'model',
    model,
    storedQuestion,
    saveTurn: { context, user: storedQuestion, assistant: outputMasked.text },
    ...(cachePut ? { cachePut } : {}),
  };
}
