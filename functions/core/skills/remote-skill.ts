import type { RemoteSkillConfig } from '#config/skills-config';
import type { ReplyImage } from '#core/reply-image';
import { commandForm } from '#core/safety/sanitise-input';
import type { CircuitBreaker } from '#model/circuit-breaker';
import { parseSkillResponse, SKILL_PROTOCOL_VERSION, type SkillFile, type SkillRequest } from './remote-protocol';
import type { GroundingPassage, Skill, SkillContext } from './skill';

/**
 * A third-party skill: a function outside this code base (a Lambda function; in the sandbox and tests an HTTP
 * endpoint) asked over protocol v1 (`remote-protocol.ts`) about the messages it matches.
 *
 * Contract of `handle`:
 * - a message it does not match passes on at once (`next()`), with no call and no report;
 * - a message input moderation blocks is never sent (`skipped`, `blocked`), and passes on;
 * - a skill configured with `acceptsFiles` gets the files shared with the message (`files`); when one cannot be
 *   downloaded the turn's reply is a `command` reply saying why (`skipped`, `file_unavailable`): the member asked
 *   about that file, and an answer without it would be about something else;
 * - otherwise the skill is called with the time left before the turn's deadline (less a safety margin), at most its
 *   configured `timeoutMs`; too little time left and it is not called (`skipped`, `no_time`);
 * - `answer` is the turn's reply (`source: 'skill'`, filtered like model output by the pipeline), with the images that
 *   passed the protocol's checks (a bad image is dropped and reported, never the answer); `ground` passes the
 *   message on with the skill's passages; `decline` and every failure pass it on unchanged — a skill can never lose
 *   the member's question, and its failures never throw out of `handle`;
 * - `next` is called at most once, and outside the code that catches the skill's failures: whatever the rest of the
 *   chain throws propagates unchanged (it is not mistaken for, or reported as, this skill's failure);
 * - every call is reported once (`report`), with its outcome and latency.
 */

/** Why a call failed, as an invoker reports it (`SkillInvokeError.reason`). */
export type SkillInvokeFailure =
  | 'timeout'
  | 'function_error'
  | 'throttled'
  | 'not_found'
  | 'access_denied'
  | 'transport'
  | 'too_large'
  | 'invalid_json';

/** The one error an invoker rejects with. Its message is for logs: no request or response content. */
export class SkillInvokeError extends Error {
  constructor(
    readonly reason: SkillInvokeFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SkillInvokeError';
  }
}

/**
 * Sends one request to the skill `request.skill` and resolves with its decoded JSON response, within `timeoutMs`;
 * rejects with a `SkillInvokeError`. The transport (Lambda, HTTP) is the invoker's business.
 */
export type SkillInvoker = (request: SkillRequest, timeoutMs: number) => Promise<unknown>;

/**
 * Why a call failed (`failed`): the invoker's reasons, the response's, or `unexpected` (an invoker broke its
 * contract); or why it was not made (`skipped`): `no_time` before the deadline, `blocked` by input moderation,
 * `circuit_open`, or `file_unavailable` (a shared file the skill accepts could not be downloaded: the member is told).
 */
export type SkillCallReason =
  | SkillInvokeFailure
  | 'version_mismatch'
  | 'invalid_response'
  | 'unexpected'
  | 'no_time'
  | 'blocked'
  | 'circuit_open'
  | 'file_unavailable';

/** One call's outcome, for logs and metrics. Never carries the message or the skill's text. */
export interface SkillCallReport {
  readonly skill: string;
  readonly action: 'answer' | 'ground' | 'decline' | 'skipped' | 'failed';
  /** With `skipped` and `failed`. */
  readonly reason?: SkillCallReason;
  /** With `failed`: what went wrong (an error name, a schema path); with `file_unavailable`: why; for logs. */
  readonly detail?: string;
  readonly latencyMs: number;
  /** With `ground`: how many passages the skill gave. */
  readonly passages?: number;
  /** With `answer`: how many images it carried that will be posted. */
  readonly images?: number;
  /** With `answer`: the images dropped and why (`images[1]: not_png`); the answer itself went out. */
  readonly droppedImages?: readonly string[];
}

export interface RemoteSkillDeps {
  readonly invoke: SkillInvoker;
  /** Epoch ms, the clock of `SkillContext.deadline`. */
  readonly now: () => number;
  readonly newRequestId: () => string;
  /** Receives every call's outcome; a report that throws is ignored (it must not cost the member the answer). */
  readonly report: (call: SkillCallReport) => void;
  /**
   * This skill's circuit breaker: after repeated failures the skill is not called for a cool-down (reported as
   * `skipped`, `circuit_open`), so a skill that hangs does not add its timeout to every member's wait. Absent: none.
   */
  readonly breaker?: CircuitBreaker;
}

/** Time kept back from the turn's deadline for what follows the skill (the model, the reply). */
export const SKILL_DEADLINE_SAFETY_MS = 1000;
/** How much of a message a skill's `pattern` is tested on. */
export const MAX_PATTERN_INPUT_CHARS = 2000;
/** Below this budget a call is not worth making. */
export const MIN_SKILL_CALL_MS = 100;
/**
 * How long past its budget a call is awaited before it is abandoned as timed out. Invokers honour the budget
 * themselves; this only bounds one that does not (a hung credential lookup, a bug), still inside the safety margin.
 */
const INVOKER_GRACE_MS = 250;
const MAX_DETAIL_CHARS = 300;

/** What the skill said about a message, or what its failure amounts to: `pass` is `next()` without passages. */
type Outcome =
  | { readonly kind: 'answer'; readonly reply: string; readonly images?: readonly ReplyImage[] }
  | { readonly kind: 'ground'; readonly passages: readonly GroundingPassage[] }
  | { readonly kind: 'pass' };

const PASS: Outcome = { kind: 'pass' };

export function remoteSkill(config: RemoteSkillConfig, deps: RemoteSkillDeps): Skill {
  const match = matcher(config);

  const report = (call: Omit<SkillCallReport, 'skill'>): void => {
    try {
      deps.report({ skill: config.name, ...call });
    } catch {
      // Telemetry only; see RemoteSkillDeps.report.
    }
  };

  /**
   * Calls the skill and reads its answer. Never throws: a failure is reported and becomes `pass`. Every outcome
   * reports to the breaker: any answer the protocol allows (a decline included) is a success, every failure a failure.
   */
  async function consult(request: SkillRequest, timeoutMs: number): Promise<Outcome> {
    const started = deps.now();
    const failed = (reason: SkillCallReason, detail: string): Outcome => {
      deps.breaker?.onFailure(started);
      report({ action: 'failed', reason, detail: clip(detail), latencyMs: deps.now() - started });
      return PASS;
    };
    try {
      const raw = await bounded(deps.invoke(request, timeoutMs), timeoutMs + INVOKER_GRACE_MS);
      const parsed = parseSkillResponse(raw);
      if (!parsed.ok) return failed(parsed.reason, parsed.detail);
      deps.breaker?.onSuccess();
      const latencyMs = deps.now() - started;
      const response = parsed.response;
      switch (response.action) {
        case 'answer': {
          const images = parsed.images ?? [];
          const dropped = parsed.droppedImages ?? [];
          report({
            action: 'answer',
            latencyMs,
            ...(images.length > 0 ? { images: images.length } : {}),
            ...(dropped.length > 0 ? { droppedImages: dropped } : {}),
          });
          return { kind: 'answer', reply: response.reply, ...(images.length > 0 ? { images } : {}) };
        }
        case 'ground':
          report({ action: 'ground', latencyMs, passages: response.passages.length });
          return { kind: 'ground', passages: response.passages.map((p) => ({ ...p, skill: config.name })) };
        case 'decline':
          report({ action: 'decline', latencyMs });
          return PASS;
      }
    } catch (error) {
      if (error instanceof SkillInvokeError) return failed(error.reason, error.message);
      return failed('unexpected', error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
  }

  return {
    name: config.name,
    async handle(ctx, next) {
      // An empty mention is the model path's to answer (its hint), not a question for a skill.
      if (ctx.text === '') return next();
      const matched = match(ctx);
      if (matched === undefined) return next();
      // Outside `consult`: a failure here is the deployment's (moderation, masking), not the skill's, and propagates
      // like any other pipeline error.
      const text = await ctx.outboundText();
      if (text === undefined) {
        // Input moderation blocked the message: nothing of it may leave the deployment.
        report({ action: 'skipped', reason: 'blocked', latencyMs: 0 });
        return next();
      }
      // Before the time left is measured: the skill gets what is left after the download.
      let files: readonly SkillFile[] | undefined;
      if (config.acceptsFiles === true && ctx.files !== undefined && ctx.files.count > 0) {
        const fetched = await ctx.files.fetch();
        if (!fetched.ok) {
          report({ action: 'skipped', reason: 'file_unavailable', detail: fetched.reason, latencyMs: 0 });
          return { reply: fetched.message, source: 'command' };
        }
        files = fetched.files.map((file) => ({
          name: file.name,
          mediaType: file.mediaType,
          data: Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength).toString('base64'),
        }));
      }
      const timeoutMs = Math.floor(Math.min(config.timeoutMs, ctx.deadline - deps.now() - SKILL_DEADLINE_SAFETY_MS));
      if (timeoutMs < MIN_SKILL_CALL_MS) {
        report({ action: 'skipped', reason: 'no_time', latencyMs: 0 });
        return next();
      }
      // Last, so a skipped call never takes the breaker's one half-open probe.
      if (deps.breaker && !deps.breaker.tryAcquire()) {
        report({ action: 'skipped', reason: 'circuit_open', latencyMs: 0 });
        return next();
      }
      const request = buildRequest(config.name, text, ctx, matched, deps.newRequestId(), timeoutMs, files);
      const outcome = await consult(request, timeoutMs);
      if (outcome.kind === 'answer') {
        return { reply: outcome.reply, source: 'skill', ...(outcome.images ? { images: outcome.images } : {}) };
      }
      return outcome.kind === 'ground' ? next(outcome.passages) : next();
    },
  };
}

/** A message the skill matched; `command` is set when it matched by `commands`. */
interface Matched {
  readonly command?: string;
}

/**
 * The skill's matching rule. `commands`: the first word of `commandForm` is one of them, compared in the same form
 * (`commandForm` applied to the configured words, so `/Define` configured matches `／define` typed). `pattern`: the
 * regular expression (case-insensitive, Unicode) finds a match in the text. Both set: both must hold. Neither: every
 * message matches.
 */
function matcher(config: RemoteSkillConfig): (ctx: SkillContext) => Matched | undefined {
  const commands = config.commands === undefined ? undefined : new Set(config.commands.map(commandForm));
  // No `g` or `y` flag: `test` keeps no state between messages.
  const pattern = config.pattern === undefined ? undefined : new RegExp(config.pattern, 'iu');
  return (ctx) => {
    let command: string | undefined;
    if (commands !== undefined) {
      command = firstWord(ctx.commandForm);
      if (!commands.has(command)) return undefined;
    }
    // Tested on a bounded prefix: a pattern's cost grows with the text it runs on.
    if (pattern !== undefined && !pattern.test(ctx.text.slice(0, MAX_PATTERN_INPUT_CHARS))) return undefined;
    return command === undefined ? {} : { command };
  };
}

function firstWord(text: string): string {
  return text.trim().split(/\s/u, 1)[0] ?? '';
}

/**
 * The request for one call. `text` (from `outboundText()`, the text as it may leave the deployment) is also where
 * `args` come from, so a command's arguments are masked like the rest of the message.
 */
function buildRequest(
  skill: string,
  text: string,
  ctx: SkillContext,
  matched: Matched,
  requestId: string,
  deadlineMs: number,
  files: readonly SkillFile[] | undefined,
): SkillRequest {
  return {
    version: SKILL_PROTOCOL_VERSION,
    skill,
    requestId,
    text,
    ...(matched.command === undefined ? {} : { command: matched.command, args: afterFirstWord(text) }),
    ...(ctx.origin === undefined
      ? {}
      : { origin: { platform: ctx.origin.platform, chatId: ctx.origin.chatId, memberRef: ctx.origin.memberRef } }),
    ...(files === undefined || files.length === 0 ? {} : { files }),
    deadlineMs,
  };
}

function afterFirstWord(text: string): string {
  return text.trim().replace(/^\S+/u, '').trim();
}

/** `call`, or a `timeout` failure if it has not settled after `ms`. The timer never keeps the process alive. */
function bounded<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new SkillInvokeError('timeout', `no answer within ${ms} ms (the invoker ignored its timeout)`)),
      ms,
    );
    timer.unref?.();
  });
  return Promise.race([call, expiry]).finally(() => clearTimeout(timer));
}

function clip(text: string): string {
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS - 1)}…` : text;
}
