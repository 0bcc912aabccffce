/**
 * The skill stage of the answering pipeline: an ordered chain of handlers that see a message before the model does,
 * like Slack bolt's listener/middleware chain. Each skill either answers the message itself (a `SkillReply`: no
 * safety filter, context, cache or model call follows) or passes it on by returning what `next()` resolved to.
 * The chain ends in the caller's terminal handler — for `runPipeline`, the model answer path (empty-question check,
 * input safety, context, FAQ cache, model, output safety).
 *
 * Plugging in a skill (e.g. a document search or a data lookup):
 * 1. Write a module here exporting a `Skill` (or a factory taking the narrow functions it needs, like `costSkill`
 *    takes its usage query). It matches on `ctx.commandForm` (exact commands) or `ctx.text`, and calls `next()` for
 *    everything it does not own. Give it only the capabilities it needs: a new store access is a new factory
 *    argument bound by the composition, not a wider `SkillContext`.
 * 2. If its replies are not plain command replies, add its own `SkillSource` so audit, metrics and the ledger can
 *    tell them apart (`PipelineOutcome['source']` includes every `SkillSource`).
 * 3. Add it to the list `composePipeline().ports()` builds (functions/composition/pipeline-composition.ts). Order is
 *    precedence: the first skill that answers wins; built-in commands come first so they cannot be shadowed.
 * A skill's reply skips input moderation, so a skill that echoes member text or calls a model must filter it itself.
 */

/** How a skill's reply came about, recorded as the outcome's `source`. A new kind of skill adds its own. */
export type SkillSource = 'command';

export interface SkillReply {
  /** The text posted to the chat (or returned by `/v1/chat`). */
  readonly reply: string;
  readonly source: SkillSource;
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
}

export interface Skill {
  /** Short stable name, for logs and tests. */
  readonly name: string;
  /**
   * Answers the message, or returns what `next()` resolved to, unchanged (the rest of the chain's answer, opaque
   * to the skill). `next` is called at most once.
   */
  handle<T>(ctx: SkillContext, next: () => Promise<T>): Promise<SkillReply | T>;
}

/** Who answered: a skill (by name) or the chain's terminal handler. */
export type SkillChainResult<T> =
  | { readonly kind: 'skill'; readonly skill: string; readonly reply: SkillReply }
  | { readonly kind: 'final'; readonly value: T };

/** The chain's result on its way back up; a class so it cannot be mistaken for a skill's own reply. */
class Settled<T> {
  constructor(readonly result: SkillChainResult<T>) {}
}

/** Runs `skills` in order; `final` runs only when every skill passed the message on. */
export async function runSkills<T>(
  skills: readonly Skill[],
  ctx: SkillContext,
  final: () => Promise<T>,
): Promise<SkillChainResult<T>> {
  const dispatch = async (index: number): Promise<Settled<T>> => {
    const skill = skills[index];
    if (skill === undefined) return new Settled<T>({ kind: 'final', value: await final() });
    const handled = await skill.handle(ctx, () => dispatch(index + 1));
    return handled instanceof Settled ? handled : new Settled<T>({ kind: 'skill', skill: skill.name, reply: handled });
  };
  return (await dispatch(0)).result;
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
