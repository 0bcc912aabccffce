import { ModelError } from './errors';

/**
 * The answering pipeline shared by the worker (chat platforms) and `/v1/chat`: commands (`/reset`, `/cost`; no model
 * call) → input safety → context → FAQ cache → PII masking → prompt → model → output safety. It decides the reply;
 * delivering it and persisting the turn are the caller's job, because the worker must record the delivery atomically
 * with the turn.
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
  /** Optional reference text supplied with a REST call (`context` field); never treated as instructions. */
  readonly extraContext?: string;
  readonly maxTokens?: number;
  /** Per-group system prompt override. */
  readonly systemPrompt?: string;
  /** Mask PII in what is sent to the model (default true; operators can turn it off per group). */
  readonly maskModelInput?: boolean;
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
  readonly cacheKey: (question: string) => string | undefined;
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
  readonly piiFound: number;
  readonly modelError?: ModelError;
};

export async function runPipeline<H>(input: TurnInput, ports: PipelinePorts<H>): Promise<PipelineOutcome<H>> {
  const text = input.text.trim();
  const base = { inputFilter: 'allow', outputFilter: 'allow', piiFound: 0 } as const;
  if (RESET_COMMANDS.has(text.toLowerCase())) {
    await ports.clearContext(input.conversationKey);
    return { ...base, reply: ports.messages.contextCleared, source: 'command', storedQuestion: text };
  }
  if (ports.usage && COST_COMMANDS.has(text.toLowerCase())) {
    return { ...base, reply: await ports.usage(), source: 'command', storedQuestion: text };
  }
  if (text.length === 0) return { ...base, reply: ports.messages.emptyQuestion, source: 'empty', storedQuestion: '' };

  const inputVerdict = await ports.moderateInput(text);
  // A masked lexicon term in the question is masked for everyone downstream (model, context, audit), like PII.
  const masked = ports.maskPii(inputVerdict.decision === 'mask' ? inputVerdict.text : text);
  const storedQuestion = masked.text;
  if (inputVerdict.decision === 'block') {
    return {
      ...base,
      inputFilter: 'block',
      piiFound: masked.found,
      reply: ports.messages.inputBlocked,
      source: 'blocked_input',
      storedQuestion,
    };
  }
  const question =
    input.maskModelInput === false ? (inputVerdict.decision === 'mask' ? inputVerdict.text : text) : storedQuestion;
  const context = await ports.loadContext(input.conversationKey);

  // Only context-free questions without a per-call reference text or PII are answered from the FAQ cache: with
  // history or reference text the same words can mean something else, and a question that named a person's phone
  // or ID is personal even once masked (the key is computed from the masked text, so the port cannot tell).
  const cacheable = context.turns.length === 0 && !input.extraContext && masked.found === 0;
  const cacheKey = cacheable ? ports.cacheKey(question) : undefined;
  if (cacheKey) {
    const cached = await ports.cacheGet(cacheKey);
    if (cached !== undefined) {
      return {
        ...base,
        inputFilter: inputVerdict.decision,
        piiFound: masked.found,
        reply: cached,
        source: 'cache',
        storedQuestion,
        saveTurn: { context, user: storedQuestion, assistant: cached },
      };
    }
  }

  const prompt = ports.buildMessages({
    systemPrompt: input.systemPrompt,
    turns: context.turns,
    question,
    extraContext: input.extraContext,
    maxTokens: input.maxTokens,
  });
  let model: ModelAnswer;
  try {
    model = await ports.invokeModel(prompt.messages, prompt.maxTokens, input.deadline);
  } catch (err) {
    if (!(err instanceof ModelError)) throw err;
    return {
      ...base,
      inputFilter: inputVerdict.decision,
      piiFound: masked.found,
      reply: ports.messages.modelUnavailable,
      source: 'fallback',
      storedQuestion,
      modelError: err,
    };
  }

  const output = await ports.moderateOutput(model.content);
  const reply = output.text.trim().length > 0 ? output.text : ports.messages.modelUnavailable;
  return {
    ...base,
    inputFilter: inputVerdict.decision,
    outputFilter: output.decision,
    piiFound: masked.found,
    reply,
    source: 'model',
    model,
    storedQuestion,
    saveTurn: { context, user: storedQuestion, assistant: reply },
    ...(cacheKey && output.decision === 'allow' ? { cachePut: { key: cacheKey, answer: reply } } : {}),
  };
}
