import type { FinishReason } from '#model/chat-completions';
import type { ModelSource } from './cost/ledger-row';
import type { ModelBilling } from './cost/model-billing';
import { ModelError } from './errors';
import type { PipelineMessages } from './pipeline-messages';
import type { ProfileShaping } from './profile/profile';
import type { ReplyImage } from './reply-image';
import { commandForm, stripInvisible } from './safety/sanitise-input';
import type { StreamGuard } from './safety/stream-guard';
import {
  type GroundingPassage,
  runSkills,
  type SharedFiles,
  type Skill,
  type SkillOrigin,
  type SkillSource,
} from './skills/skill';

export { DEFAULT_MESSAGES, type PipelineMessages } from './pipeline-messages';

/**
 * The answering pipeline shared by the worker (chat platforms) and `/v1/chat`: invisible characters stripped →
 * skills (the ordered `ports.skills` chain, e.g. `/reset`, `/cost`, third-party skills: answered without a model
 * call, or passages added; see skills/skill.ts) → the model answer path, the chain's terminal handler: empty-question
 * check → input safety and PII masking (question, REST `context`, skills' passages) → context → prompt (the turn's
 * system prompt, numbered sources) → FAQ cache (not for grounded answers) → model → output safety → output PII
 * masking → the sources listed under the answer. A third-party skill's own answer passes output safety and PII
 * masking too. It decides the reply; delivering it and
 * persisting the turn are the caller's job, because the worker must record the delivery atomically with the turn.
 *
 * The FAQ cache serves an answer only for the same model input: the key is computed from the text the model sees
 * (after stripping and masking), the system prompt, the effective reply-token ceiling and the model id, and only
 * whole, clean answers are stored (natural end, under the token ceiling, output filter `allow`, no PII in the
 * answer, not the apology).
 * Keys carry the primary model's id, and only the primary's answers are stored: a fallback model's answer is
 * never served from the cache. A fallback's answer (a `modelId` other than `ports.primaryModelId`) is marked for the
 * member with `messages.answeredByFallback` and for the ledger and metrics with `modelSource: 'fallback'`.
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
  /**
   * The system prompt for this turn (a group's override); the deployment's default when absent. Part of the FAQ
   * cache key, so groups with different prompts never share entries.
   */
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
  /** Files shared with the message, for skills that accept files (never sent to the model). */
  readonly files?: SharedFiles;
  /**
   * Streaming: called with the answer so far each time more of it is safe to show (screened and PII-masked by the
   * stream guard, `ports.streamGuard`). Never called for answers that are not model output (skills, cache, refusals).
   */
  readonly onVisibleText?: (safeTextSoFar: string) => void;
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
  /** The model that answered (a fallback answers under its own id). */
  readonly modelId: string;
  /** How the answering model is paid for; the ledger prices the call from it (`sagemakerUsageOf`, `lambdaUsageOf`). */
  readonly billing: ModelBilling;
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
   * The FAQ cache key of `question` (exactly as the model receives it) answered by model `modelId` with at most
   * `maxTokens` reply tokens, or undefined when the question must not be cached. `systemPrompt` is the turn's
   * (undefined: the deployment's default), resolved exactly as `buildMessages` resolves it.
   */
  readonly cacheKey: (
    question: string,
    maxTokens: number,
    modelId: string,
    systemPrompt: string | undefined,
    /** The member profile's system-prompt block the prompt includes (`ProfileShaping.block`), if any. */
    profile?: string,
  ) => string | undefined;
  /** The id of the model `invokeModel` asks first; cache lookups are keyed by it. */
  readonly primaryModelId: string;
  readonly cacheGet: (key: string) => Promise<string | undefined>;
  readonly moderateInput: (text: string) => Promise<SafetyVerdict>;
  readonly moderateOutput: (text: string) => Promise<SafetyVerdict>;
  readonly maskPii: (text: string) => { readonly text: string; readonly found: number };
  readonly buildMessages: (input: {
    readonly systemPrompt?: string;
    readonly turns: readonly Turn[];
    readonly question: string;
    readonly sources?: readonly { readonly title: string; readonly section?: string; readonly text: string }[];
    readonly extraContext?: string;
    readonly maxTokens?: number;
    /** The member profile's block, appended to the system prompt when the budget leaves room for it. */
    readonly profile?: string;
  }) => {
    readonly messages: readonly { role: 'system' | 'user' | 'assistant'; content: string }[];
    readonly maxTokens: number;
    /** Whether `profile` made it into the prompt (absent: there was none). */
    readonly profileIncluded?: boolean;
    /** How many of `sources`, from the first, made it into the prompt (`buildPrompt`'s `sourcesIncluded`). */
    readonly sourcesIncluded: number;
  };
  /** Streams (and calls `onDelta` with each piece of content) when `onDelta` is given. Throws `ModelError`. */
  readonly invokeModel: (
    messages: readonly { role: 'system' | 'user' | 'assistant'; content: string }[],
    maxTokens: number,
    deadline: number,
    onDelta?: (text: string) => void,
  ) => Promise<ModelAnswer>;
  /**
   * A fresh guard per streamed answer (`safety/stream-guard.ts`), masking PII as the final reply will (`maskPii`);
   * without it nothing is shown before the end.
   */
  readonly streamGuard?: (options: { readonly maskPii: boolean }) => StreamGuard;
  /**
   * The asking member's profile as it shapes the prompt (`#core/profile/profile`), read alongside the context; absent
   * or undefined: no profile. Must not reject: a question is never lost to its profile (the composition falls back to
   * the group's default when the member's profile cannot be read).
   */
  readonly profile?: () => Promise<ProfileShaping | undefined>;
  /** Handlers that may answer before the model path, in precedence order (skills/skill.ts). */
  readonly skills: readonly Skill[];
  /** Where the message was asked, as skills see it; absent where the caller names no member. */
  readonly origin?: SkillOrigin;
  readonly messages: PipelineMessages;
}

/** An answer to cache: `key` is computed with `modelId`, the model that answered. */
export interface CacheEntry {
  readonly key: string;
  readonly answer: string;
  readonly modelId: string;
}

export type PipelineOutcome<H = unknown> = {
  readonly reply: string;
  /**
   * How the reply came about, for audit, metrics and the ledger. `voice_note`: a voice message the worker could not
   * turn into text (`composition/voice-step.ts`); the reply says why.
   */
  readonly source: SkillSource | 'model' | 'cache' | 'blocked_input' | 'fallback' | 'empty' | 'voice_note';
  readonly outputFilter: FilterDecision;
  readonly inputFilter: FilterDecision;
  readonly model?: ModelAnswer;
  /** With `model`: whether the primary answered, or the fallback while the primary could not. */
  readonly modelSource?: ModelSource;
  /** The masked question as stored in context and audit. */
  readonly storedQuestion: string;
  /** Set when the turn should be appended to the context. */
  readonly saveTurn?: { readonly context: LoadedContext<H>; readonly user: string; readonly assistant: string };
  /** Set when the answer should be cached. */
  readonly cachePut?: CacheEntry;
  /** PII found in the question and the REST `context`. */
  readonly piiFound: number;
  /** PII found in the answer (model or cache): masked in the reply unless the group opted out; always in context. */
  readonly outputPiiFound?: number;
  readonly modelError?: ModelError;
  /** The passages the answer was grounded in and lists as its sources (after screening and the prompt budget). */
  readonly sources?: readonly GroundingPassage[];
  /** The skill that answered, when one did (`source` `command` or `skill`): for audit and logs. */
  readonly skill?: string;
  /** What of the member's profile shaped the answer (`ProfileShaping.label`: fields and sources, no free text). */
  readonly profile?: string;
  /**
   * Images posted after the reply's text (a skill's chart), alt text screened like the answer. Only with a skill's
   * answer the output filter let through; never cached, never stored in context.
   */
  readonly images?: readonly ReplyImage[];
};

/** Feeds streamed deltas through the guard and shows what it lets through; `shown` is the last text shown. */
function showSafely(guard: StreamGuard, show: (text: string) => void) {
  let raw = '';
  let shown: string | undefined;
  return {
    onDelta: (delta: string) => {
      raw += delta;
      const next = guard.push(raw);
      if (next === undefined) return;
      shown = next;
      show(next);
    },
    shown: () => shown,
    blocked: () => guard.blocked,
    raw: () => raw,
  };
}

/** The stricter of two filter decisions (block > mask > allow). */
function stricter(a: FilterDecision, b: FilterDecision | undefined): FilterDecision {
  if (a === 'block' || b === 'block') return 'block';
  return a === 'mask' || b === 'mask' ? 'mask' : 'allow';
}

/** The filter fields of an outcome no filter changed. */
const base = { inputFilter: 'allow', outputFilter: 'allow', piiFound: 0 } as const;

export async function runPipeline<H>(input: TurnInput, ports: PipelinePorts<H>): Promise<PipelineOutcome<H>> {
  // Stripped once, here: every later stage (skills, safety, PII, context, cache key, model, audit) sees this text.
  const text = stripInvisible(input.text).trim();
  // Screened at most once per turn: by the first of a skill that calls out, a third party's answer, the model path.
  let screening: Promise<ScreenedQuestion> | undefined;
  const screened = () => {
    screening ??= screenQuestion(input, text, ports);
    return screening;
  };
  const skillContext = {
    text,
    commandForm: commandForm(text),
    conversationKey: input.conversationKey,
    clearContext: () => ports.clearContext(input.conversationKey),
    outboundText: async () => {
      const question = await screened();
      return question.inputFilter === 'block' ? undefined : question.question;
    },
    deadline: input.deadline,
    ...(ports.origin ? { origin: ports.origin } : {}),
    ...(input.files ? { files: input.files } : {}),
  };
  const handled = await runSkills(ports.skills, skillContext, (grounding) =>
    answerWithModel(input, text, ports, grounding, screened),
  );
  if (handled.kind === 'final') return handled.value;
  const { reply, source, images } = handled.reply;
  if (source === 'command') {
    const storedQuestion = handled.reply.recordedQuestion ?? text;
    return { ...base, reply, source, storedQuestion, skill: handled.skill };
  }
  const answer = await screenSkillAnswer(input, await screened(), reply, source, ports);
  const shown = answer.outputFilter === 'block' || !images ? [] : await screenImages(images, input, ports);
  return { ...answer, skill: handled.skill, ...(shown.length > 0 ? { images: shown } : {}) };
}

/**
 * A skill's images as they may be posted: each alt text (shown to members as a title or caption) through output
 * moderation and PII masking like the answer; an image whose alt text moderation blocks is left out.
 */
async function screenImages<H>(
  images: readonly ReplyImage[],
  input: TurnInput,
  ports: PipelinePorts<H>,
): Promise<ReplyImage[]> {
  const screened = await Promise.all(
    images.map(async (image): Promise<ReplyImage | undefined> => {
      const verdict = await ports.moderateOutput(image.alt);
      if (verdict.decision === 'block' || verdict.text.trim() === '') return undefined;
      const alt = input.maskModelOutput === false ? verdict.text : ports.maskPii(verdict.text).text;
      return { ...image, alt };
    }),
  );
  return screened.filter((image): image is ReplyImage => image !== undefined);
}

/**
 * A third party's answer, filtered as a model answer is: output moderation (a blocked answer becomes the refusal),
 * then PII masking unless the group opted out. The question is recorded as the model path records it (moderated and
 * masked, with its filter decision and PII count).
 */
async function screenSkillAnswer<H>(
  input: TurnInput,
  question: ScreenedQuestion,
  answer: string,
  source: SkillSource,
  ports: PipelinePorts<H>,
): Promise<PipelineOutcome<H>> {
  const output = await ports.moderateOutput(answer);
  const shown = output.text.trim().length > 0 ? output.text : ports.messages.modelUnavailable;
  const masked = ports.maskPii(shown);
  return {
    ...base,
    inputFilter: question.inputFilter,
    piiFound: question.piiFound,
    outputFilter: output.decision,
    outputPiiFound: masked.found,
    reply: input.maskModelOutput === false ? shown : masked.text,
    source,
    storedQuestion: question.storedQuestion,
  };
}

/** The question (and REST reference text) after input moderation and PII masking, as the model path uses it. */
interface ScreenedQuestion {
  readonly inputFilter: FilterDecision;
  readonly piiFound: number;
  /** The masked question, as stored in context and audit. */
  readonly storedQuestion: string;
  /** The question as the model receives it: masked unless the group opted out of input masking. */
  readonly question: string;
  /** The REST reference text as the model receives it; undefined when there is none. */
  readonly reference: string | undefined;
}

/** The ports that decide a question's FAQ cache key; none of them does I/O in the worker's composition. */
export type FaqKeyPorts = Pick<
  PipelinePorts,
  'moderateInput' | 'maskPii' | 'buildMessages' | 'cacheKey' | 'primaryModelId'
>;

/** What a turn's FAQ cache key depends on. */
export type FaqKeyInput = Pick<TurnInput, 'text' | 'extraContext' | 'maxTokens' | 'systemPrompt' | 'maskModelInput'> & {
  /** The profile block the prompt would carry (the worker prefetches with the group default's). */
  readonly profileBlock?: string;
};

async function screenQuestion(
  input: FaqKeyInput,
  text: string,
  ports: Pick<PipelinePorts, 'moderateInput' | 'maskPii'>,
): Promise<ScreenedQuestion> {
  const rawContext = input.extraContext === undefined ? undefined : stripInvisible(input.extraContext);
  // A blank reference text is no reference text (the prompt builder drops it too), so it does not block caching.
  const extraContext = rawContext?.trim() ? rawContext : undefined;
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
  const maskInput = input.maskModelInput !== false;
  return {
    inputFilter,
    piiFound: masked.found + (maskedContext?.found ?? 0),
    storedQuestion: masked.text,
    question: maskInput ? masked.text : moderatedQuestion,
    reference: maskInput ? maskedContext?.text : moderatedContext,
  };
}

/**
 * The FAQ cache key of a screened question asked on an empty context, or undefined when it is not looked up.
 * With history or reference text the same words can mean something else, and a question that named a person's phone
 * or ID is personal even once masked (the key is computed from the masked text, so the port cannot tell). The key is
 * taken from what the model receives: the question as sent, the effective reply-token ceiling and the model.
 */
function lookupKey(
  input: FaqKeyInput,
  screened: ScreenedQuestion,
  maxTokens: number,
  ports: FaqKeyPorts,
  grounded = false,
  profile?: string,
): string | undefined {
  // A grounded answer depends on what the skills retrieved this time, which the key does not capture.
  if (grounded || screened.reference !== undefined || screened.piiFound > 0) return undefined;
  return ports.cacheKey(screened.question, maxTokens, ports.primaryModelId, input.systemPrompt, profile || undefined);
}

/**
 * The FAQ cache key `runPipeline` looks up for `input` when its conversation has no history; undefined when it would
 * look up none (empty, blocked or personal question, reference text). Lets a caller read the entry before it knows
 * the history (the worker reads it with the context, alongside its claim); the pipeline then looks the same key up
 * only if the history is empty, and skills answering first make the read unused. Runs the input moderation port.
 */
export async function faqCacheKey(input: FaqKeyInput, ports: FaqKeyPorts): Promise<string | undefined> {
  const text = stripInvisible(input.text).trim();
  if (text.length === 0) return undefined;
  const screened = await screenQuestion(input, text, ports);
  if (screened.inputFilter === 'block') return undefined;
  const { maxTokens, profileIncluded } = ports.buildMessages({
    systemPrompt: input.systemPrompt,
    turns: [],
    question: screened.question,
    extraContext: screened.reference,
    maxTokens: input.maxTokens,
    ...(input.profileBlock ? { profile: input.profileBlock } : {}),
  });
  return lookupKey(input, screened, maxTokens, ports, false, profileIncluded ? input.profileBlock : undefined);
}

/**
 * Skills' passages as the model may see them, like the REST reference text: input moderation (a passage it would
 * block is left out, the question is not refused for it; masked terms stay masked), then PII masking unless the
 * group opted out of input masking.
 */
async function screenPassages(
  passages: readonly GroundingPassage[],
  maskInput: boolean,
  ports: Pick<PipelinePorts, 'moderateInput' | 'maskPii'>,
): Promise<GroundingPassage[]> {
  /** One text of a passage through moderation and masking; undefined when moderation blocks it. */
  const screen = async (text: string): Promise<string | undefined> => {
    const verdict = await ports.moderateInput(text);
    if (verdict.decision === 'block') return undefined;
    const moderated = verdict.decision === 'mask' ? verdict.text : text;
    return maskInput ? ports.maskPii(moderated).text : moderated;
  };
  const screened = await Promise.all(
    passages.map(async (passage): Promise<GroundingPassage | undefined> => {
      // The title and section reach the model and the member too (the source list), so they pass the same filters.
      const [text, title, section] = await Promise.all([
        screen(passage.text),
        screen(passage.title),
        passage.section === undefined ? undefined : screen(passage.section),
      ]);
      if (text === undefined || title === undefined) return undefined;
      const { section: _unscreened, ...rest } = passage;
      return { ...rest, text, title, ...(section ? { section } : {}) };
    }),
  );
  return screened.filter((passage): passage is GroundingPassage => passage !== undefined);
}

/**
 * A title or section as plain text in the reply: brackets and angle brackets become look-alikes, so a skill cannot
 * make a markdown link, a platform mention (`<!channel>`) or a forged `[n]` entry out of it.
 */
function plainLabel(text: string): string {
  return text.replace(/[[\]<>]/g, (c) => LOOKALIKE[c] ?? c);
}
// Brackets are enough to break a markdown link (`[text](url)`); parentheses stay, for titles such as `Guide (PDF)`.
const LOOKALIKE: Readonly<Record<string, string>> = { '[': '［', ']': '］', '<': '‹', '>': '›' };

/**
 * The list of sources under a grounded answer: number, title — section, and the link when it is `https:`. When the
 * answer cites sources by number (`[2]`, as the prompt asks), only those are listed, under their numbers, so a source
 * the model found irrelevant is not presented as one; an answer that cites none lists every source it was given.
 */
function sourceList(heading: string, sources: readonly GroundingPassage[], answer: string): string {
  const cited = new Set(
    [...answer.matchAll(/\[(\d{1,2})\]/g)].map((m) => Number(m[1])).filter((n) => n >= 1 && n <= sources.length),
  );
  const lines = sources.flatMap((source, i) => {
    if (cited.size > 0 && !cited.has(i + 1)) return [];
    const name = plainLabel(source.section ? `${source.title} — ${source.section}` : source.title);
    const link = source.url?.startsWith('https://') ? ` ${source.url}` : '';
    return [`[${i + 1}] ${name}${link}`];
  });
  return `${heading}\n${lines.join('\n')}`;
}

/** The chain's terminal handler: the question, if any, through safety, context, FAQ cache and the model. */
async function answerWithModel<H>(
  input: TurnInput,
  text: string,
  ports: PipelinePorts<H>,
  grounding: readonly GroundingPassage[],
  /** The turn's one screening of the question, shared with the skills that already asked for it. */
  screen: () => Promise<ScreenedQuestion>,
): Promise<PipelineOutcome<H>> {
  if (text.length === 0) return { ...base, reply: ports.messages.emptyQuestion, source: 'empty', storedQuestion: '' };
  const screened = await screen();
  const { inputFilter, piiFound, storedQuestion, question, reference } = screened;
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
  const maskOutput = input.maskModelOutput !== false;
  const [context, passages, profile] = await Promise.all([
    ports.loadContext(input.conversationKey),
    grounding.length === 0 ? [] : screenPassages(grounding, input.maskModelInput !== false, ports),
    ports.profile?.(),
  ]);

  const prompt = ports.buildMessages({
    systemPrompt: input.systemPrompt,
    turns: context.turns,
    question,
    ...(passages.length > 0 ? { sources: passages } : {}),
    extraContext: reference,
    maxTokens: input.maxTokens,
    ...(profile?.block ? { profile: profile.block } : {}),
  });
  const sources = passages.slice(0, prompt.sourcesIncluded);
  const grounded = sources.length > 0;
  // The profile's block is part of the key (answers in another language or length are other answers); a member
  // whose profile changes nothing shares the group's entries.
  const shaped = prompt.profileIncluded === true && profile?.block ? profile : undefined;
  const cacheKey =
    context.turns.length === 0
      ? lookupKey(input, screened, prompt.maxTokens, ports, grounded, shaped?.block)
      : undefined;
  const shapedBy = shaped?.label ? { profile: shaped.label } : {};
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
        ...shapedBy,
      };
    }
  }

  const stream =
    input.onVisibleText && ports.streamGuard
      ? showSafely(ports.streamGuard({ maskPii: maskOutput }), input.onVisibleText)
      : undefined;
  let model: ModelAnswer;
  try {
    model = await ports.invokeModel(prompt.messages, prompt.maxTokens, input.deadline, stream?.onDelta);
  } catch (err) {
    if (!(err instanceof ModelError)) throw err;
    if (stream?.blocked()) {
      // The part streamed so far completed a blocked term: the whole reply is the refusal, whatever was shown.
      const refusal = await ports.moderateOutput(stream.raw());
      return {
        ...base,
        inputFilter,
        outputFilter: 'block',
        piiFound,
        reply: refusal.text.trim() ? refusal.text : ports.messages.modelUnavailable,
        source: 'fallback',
        storedQuestion,
        modelError: err,
      };
    }
    // Once part of the answer is on screen it stays there, marked as cut off; otherwise the usual apology.
    const shown = stream?.shown();
    return {
      ...base,
      inputFilter,
      piiFound,
      reply: shown ? `${shown}\n\n${ports.messages.streamInterrupted}` : ports.messages.modelUnavailable,
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
  // Only the primary's answers are stored, under the key just looked up: a fallback model's answer serves this
  // member while the primary is down, and is not what the FAQ cache should hand out once it is back.
  const modelSource: ModelSource = model.modelId === ports.primaryModelId ? 'primary' : 'fallback';
  const storable =
    answered && whole && output.decision === 'allow' && outputMasked.found === 0 && modelSource === 'primary';
  const cachePut = cacheKey && storable ? { key: cacheKey, answer: reply, modelId: model.modelId } : undefined;
  // The note goes on the fallback's own words only (not on the apology or a refusal), after them, so a streamed
  // reply's snapshots stay a prefix of it; the context keeps the answer without it, as the model wrote it.
  // The sources go under the model's own words only (not under the apology or a refusal), after them, so a streamed
  // reply's snapshots stay a prefix of it; the context keeps the answer without them.
  const ownWords = answered && output.decision !== 'block';
  const cited =
    ownWords && grounded ? `${reply}\n\n${sourceList(ports.messages.sourcesHeading, sources, reply)}` : reply;
  const noted = modelSource === 'fallback' && ownWords ? `${cited}\n\n${ports.messages.answeredByFallback}` : cited;
  return {
    ...base,
    inputFilter,
    outputFilter: output.decision,
    piiFound,
    outputPiiFound: outputMasked.found,
    reply: noted,
    source: 'model',
    model,
    modelSource,
    storedQuestion,
    saveTurn: { context, user: storedQuestion, assistant: outputMasked.text },
    ...(cachePut ? { cachePut } : {}),
    ...(grounded ? { sources } : {}),
    ...shapedBy,
  };
}
