import type { ReplyImage } from '#core/reply-image';

/**
 * The skill stage of the answering pipeline: an ordered chain of handlers that see a message before the model does,
 * like Slack bolt's listener/middleware chain. Each skill does one of three things with a message:
 * - **answers** it (returns a `SkillReply`): no context, cache or model call follows;
 * - **grounds** it: passes it on with passages (`next(passages)`) that the model receives as cited, delimited
 *   reference data (never as instructions), and that the reply lists as its sources;
 * - **declines** it: passes it on unchanged (`next()`), returning what `next` resolved to.
 * The chain ends in the caller's terminal handler — for `runPipeline`, the model answer path (empty-question check,
 * input safety, context, FAQ cache, model, output safety) — with every passage the skills added, in chain order.
 *
 * Plugging in a skill (e.g. a document search or a data lookup):
 * 1. Write a module here exporting a `Skill` (or a factory taking the narrow functions it needs, like `costSkill`
 *    takes its usage query). It matches on `ctx.commandForm` (exact commands) or `ctx.text`, and calls `next()` for
 *    everything it does not own. Give it only the capabilities it needs: a new store access is a new factory
 *    argument bound by the composition, not a wider `SkillContext`. Third-party skills need no module: they are
 *    Lambda functions named in the `SKILLS` configuration (`remote-skill.ts`, docs/SKILLS.md).
 * 2. If its replies are not plain command replies, give them their own `SkillSource` so audit, metrics and the
 *    ledger can tell them apart (`PipelineOutcome['source']` includes every `SkillSource`).
 * 3. Add it to the list `composePipeline().ports()` builds (functions/composition/pipeline-composition.ts). Order is
 *    precedence: the first skill that answers wins; built-in commands come first so they cannot be shadowed.
 * A `command` reply is the deployment's own text and skips every filter; a `skill` reply (a third party's) goes
 * through output moderation and PII masking like a model answer (`runPipeline`).
 */

/**
 * How a skill's reply came about, recorded as the outcome's `source`: `command`, a built-in command's own text;
 * `skill`, a third-party skill's answer (filtered like model output). A new kind of skill adds its own.
 */
export type SkillSource = 'command' | 'skill';

/**
 * A passage a skill grounds the answer in. The model receives it as delimited, numbered reference data; the reply
 * lists it as a source (title, section, link). Its text passes input moderation and PII masking before the model
 * sees it, as the question does.
 */
export interface GroundingPassage {
  readonly text: string;
  /** The document's title, shown in the reply's source list. */
  readonly title: string;
  /** The part of the document (heading, page), shown after the title. */
  readonly section?: string;
  /** A link members can open; only `https:` links are shown. */
  readonly url?: string;
  /** The skill that supplied it, for logs and audit. */
  readonly skill: string;
}

/** Where a message was asked, for skills that act per group; never the platform's own user id. */
export interface SkillOrigin {
  /** A chat platform, or `api` for `/v1/chat`. */
  readonly platform: string;
  readonly chatId: string;
  /**
   * A stable reference to the member (a SHA-256 of platform, tenant and user: `memberRefOf`), so a third party can
   * tell members apart without being sent the platform's user id. Pseudonymous, not anonymous: a skill that already
   * knows a member's ids can recompute it.
   */
  readonly memberRef: string;
}

/** A file the member shared with the message, downloaded. */
export interface SharedFile {
  readonly name: string;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
}

/**
 * The files shared with a message, downloaded from the platform on the first `fetch` (then kept for the turn), so a
 * turn no skill needs them for downloads nothing. A download that fails is not thrown: the member is told why.
 */
export interface SharedFiles {
  /** How many files the message names. */
  readonly count: number;
  fetch(): Promise<
    | { readonly ok: true; readonly files: readonly SharedFile[] }
    /** `message` is written for the member: what went wrong with which file, and what to do. */
    | { readonly ok: false; readonly message: string; readonly reason: string }
  >;
}

export interface SkillReply {
  /** The text posted to the chat (or returned by `/v1/chat`). */
  readonly reply: string;
  readonly source: SkillSource;
  /**
   * What audit and context keep of the question instead of its text, for a command whose arguments are personal
   * (`/profile set role …`). Default: the text.
   */
  readonly recordedQuestion?: string;
  /** Images posted after the text where the platform can (a chart); the text must be complete without them. */
  readonly images?: readonly ReplyImage[];
}

/** What a skill sees of one message. Deliberately narrow: a skill gets capabilities, not the pipeline's ports. */
export interface SkillContext {
  /** The message after invisible-character stripping and trimming: the text every later stage sees. */
  readonly text: string;
  /** `text` as commands are matched: NFKC (`／reset`), lower case, trimmed (see `commandForm`). */
  readonly commandForm: string;
  /** The conversation the message belongs to (its context scope). */
  readonly conversationKey: string;
  /** Clears this conversation's stored context. */
  readonly clearContext: () => Promise<void>;
  /**
   * The text as it may leave the deployment, exactly as the model would receive it: through input moderation
   * (lexicon terms masked) and PII-masked unless input masking is off. Undefined when input
   * moderation blocks the message: then nothing of it may leave, and a skill that calls out must pass it on.
   * What a third-party skill is sent instead of `text`.
   */
  readonly outboundText: () => Promise<string | undefined>;
  /** Where it was asked; absent where the caller names no member. */
  readonly origin?: SkillOrigin;
  /** Files the member shared with the message; absent when there are none (or the caller has no platform). */
  readonly files?: SharedFiles;
  /** Absolute ms by which the turn must be answered; a skill that calls out stops well before it. */
  readonly deadline: number;
}

export interface Skill {
  /** Short stable name, for logs and tests. */
  readonly name: string;
  /**
   * Answers the message, or returns what `next()` resolved to, unchanged (the rest of the chain's answer, opaque
   * to the skill). `next` is called at most once; passages given to it ground the answer.
   */
  handle<T>(ctx: SkillContext, next: (grounding?: readonly GroundingPassage[]) => Promise<T>): Promise<SkillReply | T>;
}

/** Who answered: a skill (by name) or the chain's terminal handler. */
export type SkillChainResult<T> =
  | { readonly kind: 'skill'; readonly skill: string; readonly reply: SkillReply }
  | { readonly kind: 'final'; readonly value: T };

/** The chain's result on its way back up; a class so it cannot be mistaken for a skill's own reply. */
class Settled<T> {
  constructor(readonly result: SkillChainResult<T>) {}
}

/**
 * Runs `skills` in order; `final` runs only when every skill passed the message on, with the passages they added
 * (in chain order).
 */
export async function runSkills<T>(
  skills: readonly Skill[],
  ctx: SkillContext,
  final: (grounding: readonly GroundingPassage[]) => Promise<T>,
): Promise<SkillChainResult<T>> {
  const dispatch = async (index: number, grounding: readonly GroundingPassage[]): Promise<Settled<T>> => {
    const skill = skills[index];
    if (skill === undefined) return new Settled<T>({ kind: 'final', value: await final(grounding) });
    const handled = await skill.handle(ctx, (added) =>
      dispatch(index + 1, added ? [...grounding, ...added] : grounding),
    );
    return handled instanceof Settled ? handled : new Settled<T>({ kind: 'skill', skill: skill.name, reply: handled });
  };
  return (await dispatch(0, [])).result;
}

/** A skill that answers exactly the given commands (in `commandForm`) and passes everything else on. */
export function commandSkill(
  name: string,
  commands: readonly string[],
  answer: (ctx: SkillContext) => Promise<string>,
): Skill {
  const recognised = new Set(commands);
  return {
    name,
    async handle(ctx, next) {
      if (!recognised.has(ctx.commandForm)) return next();
      return { reply: await answer(ctx), source: 'command' };
    },
  };
}
